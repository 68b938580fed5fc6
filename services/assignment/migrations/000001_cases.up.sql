-- Who is responsible for each case, its state, and the documents of its
-- handling. Cases arrive from intake's CaseRegistered events; the states are
-- tongban.assignment.v1.CaseState (docs/lifecycle.md).
CREATE TABLE cases (
  case_number        text PRIMARY KEY,
  county             text NOT NULL,
  township           text NOT NULL,
  case_class         smallint NOT NULL,
  registered_by      text NOT NULL,
  state              smallint NOT NULL CHECK (state BETWEEN 1 AND 13),
  holder_office      text NOT NULL,
  -- The organ a transfer waits on (states 4 TRANSFERRED, 5 RETURN_REQUESTED).
  pending_office     text,
  involved_offices   text[] NOT NULL,
  -- For an accusation: the accused unit, which never receives the case.
  accused_office     text,
  litigation_related boolean NOT NULL DEFAULT false,
  repeat_of          text,
  version            bigint NOT NULL DEFAULT 1,
  transfer_time      timestamptz,
  accept_time        timestamptz,
  answer_time        timestamptz,
  -- The last day to ask for the next instance (review, then re-review).
  next_instance_due  date,
  -- The documents of the case (answer, decline, extension, evaluation,
  -- review, re-review, assignment) as protojson of tongban.assignment.v1.Case
  -- with only those fields set: read whole, never queried inside.
  documents          jsonb NOT NULL DEFAULT '{}',
  create_time        timestamptz NOT NULL DEFAULT now(),
  update_time        timestamptz NOT NULL DEFAULT now(),
  CHECK ((state IN (4, 5)) = (pending_office IS NOT NULL)),
  CHECK (holder_office IS DISTINCT FROM accused_office)
);
CREATE INDEX cases_queue ON cases (holder_office, update_time, case_number);
CREATE INDEX cases_pending ON cases (pending_office) WHERE pending_office IS NOT NULL;

-- Every move of every case, append-only.
CREATE TABLE case_history (
  case_number   text NOT NULL REFERENCES cases,
  sequence      bigint NOT NULL CHECK (sequence > 0),
  action        smallint NOT NULL,
  time          timestamptz NOT NULL DEFAULT now(),
  actor_office  text NOT NULL,
  actor_role    text NOT NULL,
  from_state    smallint NOT NULL,
  to_state      smallint NOT NULL,
  from_office   text NOT NULL,
  to_office     text NOT NULL,
  target_office text NOT NULL DEFAULT '',
  note          text NOT NULL DEFAULT '',
  request_id    text NOT NULL DEFAULT '',
  PRIMARY KEY (case_number, sequence)
);
