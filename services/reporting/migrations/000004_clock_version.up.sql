-- The version of each clock (ClockChanged.version): an older state of a
-- clock arriving later never overwrites a newer one.
ALTER TABLE case_clocks ADD COLUMN version bigint NOT NULL DEFAULT 0;
