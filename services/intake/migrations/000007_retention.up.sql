-- Retention: when a case ended (closed, finally decided after re-review,
-- or declined; the time of that move), and when its petitioners' identity
-- was anonymised once the retention period (INTAKE_RETENTION_DAYS) had
-- passed. The figures (class, topic, township, head count) and the history
-- (who did what) stay.
ALTER TABLE cases ADD COLUMN end_time timestamptz, ADD COLUMN anonymised_time timestamptz;
CREATE INDEX cases_retention ON cases (end_time) WHERE end_time IS NOT NULL AND anonymised_time IS NULL;
