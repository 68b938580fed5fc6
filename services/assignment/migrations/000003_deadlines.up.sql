-- The statutory clocks of each case, as scheduling publishes them
-- (ClockChanged): shown on the case, one row per (case, kind), the
-- tongban.assignment.v1.Deadline as protojson.
CREATE TABLE deadlines (
  case_number text NOT NULL REFERENCES cases,
  kind        smallint NOT NULL,
  running     boolean NOT NULL,
  deadline    jsonb NOT NULL,
  PRIMARY KEY (case_number, kind)
);
