-- The audit log of a service: who did or read what, when, from where.
-- Append-only (a trigger refuses UPDATE, DELETE and TRUNCATE) and
-- hash-chained: each entry's hash covers its fields and the previous
-- entry's hash, so changing or removing an entry, even by someone who can
-- switch the trigger off, breaks the chain that `tools/auditverify` checks.
-- audit_head holds the last sequence number and hash; appending locks it,
-- which orders the entries.
CREATE TABLE audit_log (
  seq         bigint PRIMARY KEY,
  at          timestamptz NOT NULL,
  office      text NOT NULL,
  role        text NOT NULL,
  action      text NOT NULL,
  case_number text NOT NULL,
  request_id  text NOT NULL,
  peer        text NOT NULL,
  detail      text NOT NULL,
  prev_hash   bytea NOT NULL,
  hash        bytea NOT NULL
);
CREATE INDEX audit_log_case ON audit_log (case_number, seq) WHERE case_number <> '';
CREATE INDEX audit_log_office ON audit_log (office, seq);

CREATE TABLE audit_head (
  id   boolean PRIMARY KEY DEFAULT true CHECK (id),
  seq  bigint NOT NULL,
  hash bytea NOT NULL
);
INSERT INTO audit_head (seq, hash) VALUES (0, '\x'::bytea);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
