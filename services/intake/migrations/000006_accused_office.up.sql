-- For an accusation (检举控告): the accused unit, when it is an office of the
-- county. Assignment never routes the case to it.
ALTER TABLE cases ADD COLUMN accused_office text;
