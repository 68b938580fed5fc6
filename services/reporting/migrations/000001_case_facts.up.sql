-- The read model: one row per case, the facts the figures count. Fed by
-- assignment's CaseMoved events (which include the registration), so it can
-- be rebuilt by resetting feed_cursors and processed_events.
CREATE TABLE case_facts (
  case_number   text PRIMARY KEY,
  county        text NOT NULL,
  township      text NOT NULL,
  registered_at timestamptz,
  referred_up   boolean NOT NULL DEFAULT false,
  transferred   boolean NOT NULL DEFAULT false,
  answered_at   timestamptz
);
CREATE INDEX case_facts_county_township ON case_facts (county, township);
