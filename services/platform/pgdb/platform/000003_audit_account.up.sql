-- Who, by account: the signed-in account that did or read what an entry
-- records ('' for static tokens, the services and jobs). The chain hash
-- covers it when it is set, so entries written before keep their hashes.
ALTER TABLE audit_log ADD COLUMN account text NOT NULL DEFAULT '';
CREATE INDEX audit_log_account ON audit_log (account, seq) WHERE account <> '';
