-- Figures an office may have: those of the cases it may list. A case's
-- involved parties (policy.MoveParties with the registering office, as
-- intake's lists have them) decide which offices' figures it counts in;
-- monthly_offices holds the figures per office, as monthly_figures holds
-- them per township. And 已化解 (resolved), the numerator of 化解率.
--
-- The read model is emptied and its cursors forgotten: reporting rebuilds
-- it from the feeds' history on start, so every case has its parties.
TRUNCATE cases, case_clocks, running_clock_days, monthly_figures, monthly_departments, monthly_topics, monthly_leaders,
  processed_events, feed_cursors;
UPDATE read_model SET as_of = NULL;

ALTER TABLE cases ADD COLUMN involved text[] NOT NULL DEFAULT '{}';
CREATE INDEX cases_involved ON cases USING gin (involved);

ALTER TABLE monthly_figures ADD COLUMN resolved bigint NOT NULL DEFAULT 0;
ALTER TABLE monthly_departments ADD COLUMN resolved bigint NOT NULL DEFAULT 0;

DROP VIEW case_contributions;
-- Every figure, once. Column names are the fields of
-- tongban.reporting.v1.Figures; docs/reporting.md explains each.
CREATE VIEW case_contributions AS
SELECT case_number, county, month, township, department, channel, class, topic, involved,
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
  (handling = 2)::int::bigint     AS handling_late,
  (state = 13 AND rating <> 3)::int::bigint AS resolved -- CLOSED, not rated UNSATISFIED
FROM cases WHERE month IS NOT NULL;

-- The figures of the cases each office may list, by month, township, the
-- department that held it last, channel and class: an office's report
-- reads its own rows only. Topics are apart (monthly_office_topics): in
-- the key they made an office's year ten times the rows.
CREATE TABLE monthly_offices (
  county text NOT NULL, month date NOT NULL, office text NOT NULL, township text NOT NULL, department text NOT NULL,
  channel smallint NOT NULL, class smallint NOT NULL,
  cases bigint NOT NULL, persons bigint NOT NULL, group_cases bigint NOT NULL, referred_up bigint NOT NULL,
  repeats bigint NOT NULL, answered bigint NOT NULL, closed bigint NOT NULL, declined bigint NOT NULL,
  evaluated bigint NOT NULL, satisfied bigint NOT NULL, basically_satisfied bigint NOT NULL, unsatisfied bigint NOT NULL,
  reviews bigint NOT NULL, re_reviews bigint NOT NULL, routing_on_time bigint NOT NULL, routing_late bigint NOT NULL,
  acceptance_on_time bigint NOT NULL, acceptance_late bigint NOT NULL, handling_on_time bigint NOT NULL, handling_late bigint NOT NULL,
  resolved bigint NOT NULL,
  PRIMARY KEY (county, office, month, township, department, channel, class)
);

-- Cases and persons of the cases each office may list, by month and topic.
CREATE TABLE monthly_office_topics (
  county text NOT NULL, office text NOT NULL, month date NOT NULL, topic text NOT NULL,
  cases bigint NOT NULL, persons bigint NOT NULL,
  PRIMARY KEY (county, office, month, topic)
);
