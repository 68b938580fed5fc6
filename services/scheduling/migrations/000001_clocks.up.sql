-- The statutory clocks of every case, one row per (case, kind): a clock
-- that restarts (a new holder must decide) overwrites its row; the history
-- of changes is in the outbox (ClockChanged).
CREATE TABLE clocks (
  case_number    text NOT NULL,
  kind           smallint NOT NULL,          -- tongban.assignment.v1.ClockKind
  county         text NOT NULL,
  township       text NOT NULL,
  office         text NOT NULL,              -- the office that must act
  supervised     boolean NOT NULL,           -- a duty (reminders, 督办) or a window
  start_time     timestamptz NOT NULL,
  fixed_due      date,                       -- a due date set by the assigner (交办)
  extension_days int NOT NULL DEFAULT 0,
  due_date       date NOT NULL,              -- the last day, in China
  remind_on      date NOT NULL,              -- the day the reminder is due
  provisional    boolean NOT NULL,
  rule           text NOT NULL,
  stop_time      timestamptz,
  reminded_at    timestamptz,
  overdue_at     timestamptz,
  PRIMARY KEY (case_number, kind)
);
-- The job queries: running, supervised clocks whose day has come.
CREATE INDEX clocks_remind ON clocks (remind_on) WHERE stop_time IS NULL AND supervised AND reminded_at IS NULL;
CREATE INDEX clocks_overdue ON clocks (due_date) WHERE stop_time IS NULL AND supervised AND overdue_at IS NULL;
CREATE INDEX clocks_office ON clocks (office, due_date) WHERE stop_time IS NULL;

-- Reminders to the responsible office before a deadline (a notice record;
-- delivery channels come with the notices of reception days).
CREATE TABLE reminders (
  id          bigserial PRIMARY KEY,
  case_number text NOT NULL,
  kind        smallint NOT NULL,
  office      text NOT NULL,
  due_date    date NOT NULL,
  create_time timestamptz NOT NULL DEFAULT now(),
  UNIQUE (case_number, kind, due_date)
);
CREATE INDEX reminders_office ON reminders (office, create_time);

-- 督办: an overdue clock, raised to the office above the one that must act,
-- until the clock stops.
CREATE TABLE supervisions (
  id           bigserial PRIMARY KEY,
  case_number  text NOT NULL,
  kind         smallint NOT NULL,
  county       text NOT NULL,
  township     text NOT NULL,
  office       text NOT NULL,              -- the office that missed the deadline
  supervisor   text NOT NULL,              -- the office above it
  due_date     date NOT NULL,
  raise_time   timestamptz NOT NULL DEFAULT now(),
  resolve_time timestamptz,
  UNIQUE (case_number, kind, due_date)
);
CREATE INDEX supervisions_open ON supervisions (supervisor, raise_time) WHERE resolve_time IS NULL;

-- Days off the county gives locally (an administrator adds them).
CREATE TABLE local_rest_days (
  day         date PRIMARY KEY,
  name        text NOT NULL,
  added_by    text NOT NULL,
  create_time timestamptz NOT NULL DEFAULT now()
);

-- Who may see each case's clocks: the offices involved in it, projected
-- from assignment's moves (holders and the offices moves address).
CREATE TABLE case_offices (
  case_number text PRIMARY KEY,
  county      text NOT NULL,
  involved    text[] NOT NULL
);
