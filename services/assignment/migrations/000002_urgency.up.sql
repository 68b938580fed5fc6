-- 紧急: every queue lists urgent cases first.
ALTER TABLE cases ADD COLUMN urgent boolean NOT NULL DEFAULT false;
DROP INDEX cases_queue;
CREATE INDEX cases_queue ON cases (holder_office, urgent DESC, update_time, case_number);
