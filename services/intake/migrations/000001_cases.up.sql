-- Intake's schema. (Squashed before the first release: nothing had been
-- deployed. From here on, migrations are only ever added.)

-- Case numbers: one counter per county and year, so numbers read
-- "330421-2026-000123" and restart each year.
CREATE TABLE case_numbers (
  county     text NOT NULL,
  year       int NOT NULL,
  last_value bigint NOT NULL,
  PRIMARY KEY (county, year)
);

-- Registered petitions.
CREATE TABLE cases (
  case_number      text PRIMARY KEY,
  county           text NOT NULL,
  township         text NOT NULL,
  channel          smallint NOT NULL CHECK (channel BETWEEN 1 AND 5),
  case_class       smallint NOT NULL CHECK (case_class BETWEEN 1 AND 3),
  topic            text NOT NULL DEFAULT '',
  subject          text NOT NULL,
  content          text NOT NULL,
  anonymous        boolean NOT NULL DEFAULT false,
  head_count       int NOT NULL DEFAULT 1 CHECK (head_count BETWEEN 1 AND 100000),
  registered_by    text NOT NULL,
  registered_role  text NOT NULL,
  receive_time     timestamptz NOT NULL,
  create_time      timestamptz NOT NULL DEFAULT now(),
  -- Referrals from outside systems keep that system's id; the pair is unique.
  source_system    text,
  external_id      text,
  -- Projection of assignment's feed: state, holder, and every office that
  -- registered or held the case (they may see it).
  state            smallint NOT NULL DEFAULT 1,
  holder_office    text NOT NULL,
  involved_offices text[] NOT NULL,
  history_seq      bigint NOT NULL DEFAULT 0,
  CONSTRAINT external_pair CHECK ((source_system IS NULL) = (external_id IS NULL))
);
CREATE INDEX cases_county_created ON cases (county, create_time DESC, case_number DESC);
CREATE INDEX cases_involved ON cases USING gin (involved_offices);
CREATE UNIQUE INDEX cases_external ON cases (source_system, external_id) WHERE source_system IS NOT NULL;

-- Petitioners of a case. Identity is sealed at rest (AES-256-GCM, see
-- services/platform/protect) under the key named by key_id, bound to case,
-- ordinal and field; keyed hashes (HMAC-SHA-256) serve lookups.
CREATE TABLE petitioners (
  case_number    text NOT NULL REFERENCES cases,
  ordinal        smallint NOT NULL CHECK (ordinal > 0),
  kind           smallint NOT NULL CHECK (kind BETWEEN 1 AND 2),
  representative boolean NOT NULL DEFAULT false,
  key_id         text NOT NULL,
  name_enc       bytea,
  id_number_enc  bytea,
  phone_enc      bytea,
  id_number_hash bytea,
  phone_hash     bytea,
  PRIMARY KEY (case_number, ordinal)
);
CREATE INDEX petitioners_id_number_hash ON petitioners (id_number_hash) WHERE id_number_hash IS NOT NULL;
CREATE INDEX petitioners_phone_hash ON petitioners (phone_hash) WHERE phone_hash IS NOT NULL;

-- Projection of assignment's history entries (serialized
-- tongban.assignment.v1.HistoryEntry).
CREATE TABLE case_history (
  case_number text NOT NULL REFERENCES cases,
  sequence    bigint NOT NULL,
  entry       bytea NOT NULL,
  PRIMARY KEY (case_number, sequence)
);
