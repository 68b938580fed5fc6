-- Reception rosters (领导接待日), the applications for them, the notices
-- they send, and leaders' appointments (约访).
CREATE TABLE reception_rosters (
  id            bigserial PRIMARY KEY,
  title         text NOT NULL,
  leader        text NOT NULL,
  leader_title  text NOT NULL,
  office        text NOT NULL,
  place         text NOT NULL,
  monthly       boolean NOT NULL,
  weekday       smallint NOT NULL CHECK (weekday BETWEEN 1 AND 7),
  week_of_month smallint NOT NULL DEFAULT 0,
  start_date    date NOT NULL,
  end_date      date NOT NULL,
  slots         int NOT NULL CHECK (slots > 0),
  create_time   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE reception_applications (
  id             bigserial PRIMARY KEY,
  roster_id      bigint NOT NULL REFERENCES reception_rosters,
  scheduled_date date NOT NULL,
  held_date      date NOT NULL,
  case_number    text NOT NULL,
  office         text NOT NULL,            -- the office that applied on the petitioner's behalf
  status         smallint NOT NULL,
  decision       text NOT NULL DEFAULT '',
  meeting_record text NOT NULL DEFAULT '',
  create_time    timestamptz NOT NULL DEFAULT now(),
  update_time    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reception_applications_reception ON reception_applications (roster_id, scheduled_date);

-- Written notices: a record whatever channel delivers it.
CREATE TABLE notices (
  id             bigserial PRIMARY KEY,
  kind           smallint NOT NULL,
  application_id bigint NOT NULL REFERENCES reception_applications,
  case_number    text NOT NULL,
  office         text NOT NULL,            -- the hosting office
  text           text NOT NULL,
  due_time       timestamptz NOT NULL,
  send_time      timestamptz,
  channel        text NOT NULL DEFAULT '',
  UNIQUE (application_id, kind)
);
CREATE INDEX notices_due ON notices (due_time) WHERE send_time IS NULL;

CREATE TABLE appointments (
  id           bigserial PRIMARY KEY,
  leader       text NOT NULL,
  leader_title text NOT NULL,
  case_number  text NOT NULL,
  start_time   timestamptz NOT NULL,
  place        text NOT NULL,
  office       text NOT NULL,
  create_time  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX appointments_time ON appointments (start_time);
