-- Who is responsible for each case, its state, and its answer. Cases
-- arrive from intake's CaseRegistered events.
CREATE TABLE cases (
  case_number      text PRIMARY KEY,
  county           text NOT NULL,
  township         text NOT NULL,
  case_class       smallint NOT NULL,
  registered_by    text NOT NULL,
  state            smallint NOT NULL CHECK (state BETWEEN 1 AND 3),
  holder_office    text NOT NULL,
  involved_offices text[] NOT NULL,
  version          bigint NOT NULL DEFAULT 1,
  answer_outcome   smallint CHECK (answer_outcome BETWEEN 1 AND 3),
  answer_text      text,
  answer_office    text,
  answer_time      timestamptz,
  create_time      timestamptz NOT NULL DEFAULT now(),
  update_time      timestamptz NOT NULL DEFAULT now(),
  -- An answered case carries its answer.
  CHECK (state <> 3 OR (answer_outcome IS NOT NULL AND answer_text IS NOT NULL))
);
CREATE INDEX cases_queue ON cases (holder_office, update_time, case_number);

-- Every move of every case, append-only.
CREATE TABLE case_history (
  case_number  text NOT NULL REFERENCES cases,
  sequence     bigint NOT NULL CHECK (sequence > 0),
  action       smallint NOT NULL,
  time         timestamptz NOT NULL DEFAULT now(),
  actor_office text NOT NULL,
  actor_role   text NOT NULL,
  from_state   smallint NOT NULL,
  to_state     smallint NOT NULL,
  from_office  text NOT NULL,
  to_office    text NOT NULL,
  note         text NOT NULL DEFAULT '',
  request_id   text NOT NULL DEFAULT '',
  PRIMARY KEY (case_number, sequence)
);
