-- A clock paused (a re-review hearing, whose time does not count): the jobs
-- leave it alone until it resumes, longer by the days it was paused.
ALTER TABLE clocks ADD COLUMN paused_at timestamptz;
