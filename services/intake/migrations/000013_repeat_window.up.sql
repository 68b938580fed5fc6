-- The repeat look-up reads, for each ID number or phone, the petitioner's
-- cases in the window newest first and at most a bounded number of them
-- (store.RepeatsPerHash), so its cost no longer grows with a long-term
-- petitioner's history or a hotline number given for many callers: each
-- petitioner row carries its case's receive time, indexed after the hash.
ALTER TABLE petitioners ADD COLUMN receive_time timestamptz;
UPDATE petitioners p SET receive_time = c.receive_time FROM cases c WHERE c.case_number = p.case_number;
ALTER TABLE petitioners ALTER COLUMN receive_time SET NOT NULL;
CREATE INDEX petitioners_id_number_recent ON petitioners (id_number_hash, receive_time DESC) WHERE id_number_hash IS NOT NULL;
CREATE INDEX petitioners_phone_recent ON petitioners (phone_hash, receive_time DESC) WHERE phone_hash IS NOT NULL;
DROP INDEX petitioners_id_number_hash;
DROP INDEX petitioners_phone_hash;
