-- Files that came with a petition. The bytes live in the blob store,
-- addressed by their SHA-256; here is what they are and who attached them.
CREATE TABLE attachments (
  case_number       text NOT NULL REFERENCES cases,
  ordinal           int NOT NULL CHECK (ordinal > 0),
  filename          text NOT NULL,
  media_type        text NOT NULL,
  size_bytes        bigint NOT NULL CHECK (size_bytes >= 0),
  sha256            text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  contains_identity boolean NOT NULL DEFAULT false,
  created_by        text NOT NULL,
  create_time       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (case_number, ordinal)
);
