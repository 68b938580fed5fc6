-- Corrections of a registration: a version for etags, the time of the last
-- correction, and an append-only record of who corrected which fields.
ALTER TABLE cases
  ADD COLUMN version     bigint NOT NULL DEFAULT 1,
  ADD COLUMN update_time timestamptz;
UPDATE cases SET update_time = create_time;
ALTER TABLE cases ALTER COLUMN update_time SET NOT NULL, ALTER COLUMN update_time SET DEFAULT now();

CREATE TABLE case_changes (
  case_number  text NOT NULL REFERENCES cases,
  version      bigint NOT NULL,
  time         timestamptz NOT NULL DEFAULT now(),
  actor_office text NOT NULL,
  actor_role   text NOT NULL,
  fields       text[] NOT NULL,
  request_id   text NOT NULL DEFAULT '',
  PRIMARY KEY (case_number, version)
);

-- Lists ordered by receive time.
CREATE INDEX cases_county_received ON cases (county, receive_time DESC, case_number DESC);
