-- A clock's version grows with every change of its row. ClockChanged
-- carries it, so a consumer keeps the newest state of a clock whatever
-- order the feed delivers the events of two transactions in (the feed is
-- ordered by transaction id, which is not commit order: the overdue job
-- can take its id after a move that changes the same clock and commit
-- before it).
ALTER TABLE clocks ADD COLUMN version bigint NOT NULL DEFAULT 1;

CREATE FUNCTION bump_clock_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.version := OLD.version + 1;
  RETURN NEW;
END $$;

CREATE TRIGGER clocks_version BEFORE UPDATE ON clocks FOR EACH ROW EXECUTE FUNCTION bump_clock_version();
