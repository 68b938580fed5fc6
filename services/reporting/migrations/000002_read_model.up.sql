-- The read model of the dashboard. One row per case (its facts, merged from
-- intake's, assignment's and scheduling's feeds in whatever order they
-- arrive), the clocks of the cases, and monthly aggregates that the
-- figures are read from, so a dashboard's cost does not grow with history.
-- The aggregates are exactly the sums of case_contributions (the one
-- definition of every figure): each event subtracts a case's old
-- contribution and adds its new one in the same transaction, and
-- store.RecomputeAggregates rebuilds them from the cases.
DROP TABLE case_facts;

CREATE TABLE cases (
  case_number  text PRIMARY KEY,
  county       text NOT NULL DEFAULT '',
  township     text NOT NULL DEFAULT '',
  month        date,                         -- the China month of receive_time; NULL until intake's registration arrives
  receive_time timestamptz,
  channel      smallint NOT NULL DEFAULT 0,  -- tongban.intake.v1.Channel
  class        smallint NOT NULL DEFAULT 0,  -- tongban.intake.v1.CaseClass
  topic        text NOT NULL DEFAULT '',
  head_count   int NOT NULL DEFAULT 0,
  grp          boolean NOT NULL DEFAULT false,
  repeat       boolean NOT NULL DEFAULT false,
  last_seq     bigint NOT NULL DEFAULT 0,    -- the last history entry applied
  state        smallint NOT NULL DEFAULT 0,  -- tongban.assignment.v1.CaseState
  department   text NOT NULL DEFAULT '',     -- the county department that held it last
  referred_up  boolean NOT NULL DEFAULT false,
  answered     boolean NOT NULL DEFAULT false,
  rating       smallint NOT NULL DEFAULT 0,  -- tongban.assignment.v1.Rating
  reviewed     boolean NOT NULL DEFAULT false,
  re_reviewed  boolean NOT NULL DEFAULT false,
  routing      smallint NOT NULL DEFAULT 0,  -- 0 pending, 1 on time, 2 late
  acceptance   smallint NOT NULL DEFAULT 0,
  handling     smallint NOT NULL DEFAULT 0
);

-- Every figure, once. Column names are the fields of
-- tongban.reporting.v1.Figures; docs/reporting.md explains each.
CREATE VIEW case_contributions AS
SELECT case_number, county, month, township, department, channel, class, topic,
  1::bigint                       AS cases,
  head_count::bigint              AS persons,
  grp::int::bigint                AS group_cases,
  referred_up::int::bigint        AS referred_up,
  repeat::int::bigint             AS repeats,
  answered::int::bigint           AS answered,
  (state IN (12, 13))::int::bigint AS closed,    -- FINAL, CLOSED
  (state = 7)::int::bigint        AS declined,   -- DECLINED
  (rating > 0)::int::bigint       AS evaluated,
  (rating = 1)::int::bigint       AS satisfied,
  (rating = 2)::int::bigint       AS basically_satisfied,
  (rating = 3)::int::bigint       AS unsatisfied,
  reviewed::int::bigint           AS reviews,
  re_reviewed::int::bigint        AS re_reviews,
  (routing = 1)::int::bigint      AS routing_on_time,
  (routing = 2)::int::bigint      AS routing_late,
  (acceptance = 1)::int::bigint   AS acceptance_on_time,
  (acceptance = 2)::int::bigint   AS acceptance_late,
  (handling = 1)::int::bigint     AS handling_on_time,
  (handling = 2)::int::bigint     AS handling_late
FROM cases WHERE month IS NOT NULL;

-- The figures by month, township, channel and class.
CREATE TABLE monthly_figures (
  county text NOT NULL, month date NOT NULL, township text NOT NULL, channel smallint NOT NULL, class smallint NOT NULL,
  cases bigint NOT NULL, persons bigint NOT NULL, group_cases bigint NOT NULL, referred_up bigint NOT NULL,
  repeats bigint NOT NULL, answered bigint NOT NULL, closed bigint NOT NULL, declined bigint NOT NULL,
  evaluated bigint NOT NULL, satisfied bigint NOT NULL, basically_satisfied bigint NOT NULL, unsatisfied bigint NOT NULL,
  reviews bigint NOT NULL, re_reviews bigint NOT NULL, routing_on_time bigint NOT NULL, routing_late bigint NOT NULL,
  acceptance_on_time bigint NOT NULL, acceptance_late bigint NOT NULL, handling_on_time bigint NOT NULL, handling_late bigint NOT NULL,
  PRIMARY KEY (county, month, township, channel, class)
);

-- The figures by month, department and township (cases a department held).
CREATE TABLE monthly_departments (
  county text NOT NULL, month date NOT NULL, department text NOT NULL, township text NOT NULL,
  cases bigint NOT NULL, persons bigint NOT NULL, group_cases bigint NOT NULL, referred_up bigint NOT NULL,
  repeats bigint NOT NULL, answered bigint NOT NULL, closed bigint NOT NULL, declined bigint NOT NULL,
  evaluated bigint NOT NULL, satisfied bigint NOT NULL, basically_satisfied bigint NOT NULL, unsatisfied bigint NOT NULL,
  reviews bigint NOT NULL, re_reviews bigint NOT NULL, routing_on_time bigint NOT NULL, routing_late bigint NOT NULL,
  acceptance_on_time bigint NOT NULL, acceptance_late bigint NOT NULL, handling_on_time bigint NOT NULL, handling_late bigint NOT NULL,
  PRIMARY KEY (county, month, department, township)
);

-- Cases and persons by month, township and topic.
CREATE TABLE monthly_topics (
  county text NOT NULL, month date NOT NULL, township text NOT NULL, topic text NOT NULL,
  cases bigint NOT NULL, persons bigint NOT NULL,
  PRIMARY KEY (county, month, township, topic)
);

-- Leaders' meetings by month.
CREATE TABLE monthly_leaders (
  county text NOT NULL, month date NOT NULL, office text NOT NULL, leader text NOT NULL,
  reception_meetings bigint NOT NULL DEFAULT 0, appointments bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (county, month, office, leader)
);

-- The latest clock of each kind of each case, as scheduling published it.
CREATE TABLE case_clocks (
  case_number    text NOT NULL,
  kind           smallint NOT NULL,          -- tongban.assignment.v1.ClockKind
  county         text NOT NULL,
  township       text NOT NULL DEFAULT '',
  office         text NOT NULL,
  duty           boolean NOT NULL,           -- the office must act (listed when overdue or at risk)
  start_time     timestamptz NOT NULL,
  due_time       timestamptz NOT NULL,
  stop_time      timestamptz,
  overdue        boolean NOT NULL,
  provisional    boolean NOT NULL,
  extension_days int NOT NULL,
  pause_time     timestamptz,
  rule           text NOT NULL,
  PRIMARY KEY (case_number, kind)
);
-- The overdue and at-risk lists: running duty clocks by due time, for the
-- county, a township or an office.
CREATE INDEX case_clocks_running ON case_clocks (county, due_time, case_number, kind) WHERE stop_time IS NULL AND duty AND pause_time IS NULL;
CREATE INDEX case_clocks_running_township ON case_clocks (county, township, due_time, case_number, kind) WHERE stop_time IS NULL AND duty AND pause_time IS NULL;
CREATE INDEX case_clocks_running_office ON case_clocks (county, office, due_time, case_number, kind) WHERE stop_time IS NULL AND duty AND pause_time IS NULL;

-- How fresh the read model is: the occur time of the newest event applied.
CREATE TABLE read_model (
  id    boolean PRIMARY KEY DEFAULT true CHECK (id),
  as_of timestamptz
);
INSERT INTO read_model (as_of) VALUES (NULL);
