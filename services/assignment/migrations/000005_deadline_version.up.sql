-- The version of the clock a deadline row shows (ClockChanged.version): an
-- older state of the clock arriving later never overwrites a newer one.
ALTER TABLE deadlines ADD COLUMN version bigint NOT NULL DEFAULT 0;
