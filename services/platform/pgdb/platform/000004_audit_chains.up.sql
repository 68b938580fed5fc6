-- Eight hash chains instead of one. Appending locked the single head until
-- the transaction committed, so every audited transaction of a service
-- (each registration, each move, each read of identity) waited for the one
-- before it to reach the disk: commits could not be grouped, and the head
-- capped registrations near 1 / (commit time). Now a transaction locks one
-- of eight chain heads, picked at random: eight commits can share a flush.
-- `seq` stays the log's order for listing (now from a sequence, so a
-- rolled-back transaction may leave a gap); each chain is contiguous in
-- `chain_seq`. Entries written before this are chain 0, their chain_seq
-- their seq, and verify as they were.
CREATE SEQUENCE audit_seq;
SELECT setval('audit_seq', seq) FROM audit_head WHERE seq > 0;
ALTER TABLE audit_log ADD COLUMN chain smallint NOT NULL DEFAULT 0, ADD COLUMN chain_seq bigint;
CREATE UNIQUE INDEX audit_log_chain ON audit_log (chain, (coalesce(chain_seq, seq)));
CREATE TABLE audit_chains (
  chain smallint PRIMARY KEY,
  seq   bigint NOT NULL, -- the chain's last position
  hash  bytea NOT NULL
);
INSERT INTO audit_chains (chain, seq, hash) SELECT 0, seq, hash FROM audit_head;
INSERT INTO audit_chains (chain, seq, hash) SELECT g, 0, '\x'::bytea FROM generate_series(1, 7) g;
DROP TABLE audit_head;
