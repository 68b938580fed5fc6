-- A finished case is corrected only by the county petition bureau, with a
-- reason (a petitioner's contact details, a typo); the record keeps it.
ALTER TABLE case_changes ADD COLUMN reason text;
