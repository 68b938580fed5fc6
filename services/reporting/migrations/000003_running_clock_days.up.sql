-- How many running duty clocks fall due on each day, per township and
-- office, kept by a trigger on case_clocks: the dashboard's overdue and
-- at-risk counts sum a few hundred rows instead of counting every running
-- clock (which grows with the backlog). Due times are the end of a day in
-- China, so a clock is overdue exactly when its due date is before today.
CREATE TABLE running_clock_days (
  county   text NOT NULL,
  due_date date NOT NULL,
  township text NOT NULL,
  office   text NOT NULL,
  clocks   bigint NOT NULL,
  PRIMARY KEY (county, due_date, township, office)
);

CREATE FUNCTION count_running_clock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.stop_time IS NULL AND OLD.duty AND OLD.pause_time IS NULL THEN
    UPDATE running_clock_days SET clocks = clocks - 1
     WHERE county = OLD.county AND due_date = (OLD.due_time AT TIME ZONE 'Asia/Shanghai')::date
       AND township = OLD.township AND office = OLD.office;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.stop_time IS NULL AND NEW.duty AND NEW.pause_time IS NULL THEN
    INSERT INTO running_clock_days AS d (county, due_date, township, office, clocks)
    VALUES (NEW.county, (NEW.due_time AT TIME ZONE 'Asia/Shanghai')::date, NEW.township, NEW.office, 1)
    ON CONFLICT (county, due_date, township, office) DO UPDATE SET clocks = d.clocks + 1;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER case_clocks_count AFTER INSERT OR UPDATE OR DELETE ON case_clocks
  FOR EACH ROW EXECUTE FUNCTION count_running_clock();

INSERT INTO running_clock_days (county, due_date, township, office, clocks)
SELECT county, (due_time AT TIME ZONE 'Asia/Shanghai')::date, township, office, count(*)
FROM case_clocks WHERE stop_time IS NULL AND duty AND pause_time IS NULL GROUP BY 1, 2, 3, 4;
