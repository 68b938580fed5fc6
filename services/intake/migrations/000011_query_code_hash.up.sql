-- Query codes are no longer stored: a case's code is a keyed hash of its
-- number under the identity hash key, which the database does not hold
-- (store.QueryCode), so whoever reads the database cannot look a case up
-- as its petitioner. Codes drawn before, already printed on receipts, are
-- kept as keyed hashes; the service computes them at start
-- (store.HashLegacyQueryCodes) and clears the text, as the database
-- cannot.
ALTER TABLE cases ADD COLUMN query_code_hash bytea;
ALTER TABLE cases ALTER COLUMN query_code DROP NOT NULL, ALTER COLUMN query_code DROP DEFAULT;
