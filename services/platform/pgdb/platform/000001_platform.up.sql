-- Tables every service schema holds: its outbox (the event feed it
-- publishes), the idempotency keys of its mutating calls, and the cursors
-- and processed event ids of the feeds it consumes.

-- Events written in the same transaction as the change they describe. The
-- feed is ordered by (txid, position) and serves only rows whose writing
-- transaction is older than every transaction still running, so a row that
-- commits late can never land behind a cursor a reader has passed (see
-- outbox.Read).
CREATE TABLE outbox (
  position    bigserial PRIMARY KEY,
  txid        xid8 NOT NULL DEFAULT pg_current_xact_id(),
  event_id    uuid NOT NULL UNIQUE,
  case_number text NOT NULL,
  kind        text NOT NULL,
  payload     bytea NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_feed ON outbox (txid, position);

-- Results of mutating calls by request id: a retry gets the stored result.
CREATE TABLE idempotency_keys (
  scope        text NOT NULL,          -- the caller's office
  method       text NOT NULL,
  request_id   text NOT NULL,
  request_hash bytea NOT NULL,
  response     bytea,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, method, request_id)
);

-- Where each consumed feed was read up to, updated in the same transaction
-- as the effects of the events.
CREATE TABLE feed_cursors (
  feed       text PRIMARY KEY,
  cursor     text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Event ids already applied: at-least-once delivery, effectively-once effects.
CREATE TABLE processed_events (
  event_id     uuid PRIMARY KEY,
  feed         text NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now()
);
