-- Repeat petitions (重复信访): a case points at the first case of its matter.
ALTER TABLE cases
  ADD COLUMN repeat_of text REFERENCES cases,
  ADD CONSTRAINT repeat_not_self CHECK (repeat_of <> case_number);
CREATE INDEX cases_repeat_of ON cases (repeat_of) WHERE repeat_of IS NOT NULL;
-- Repeat detection looks for the same matter in a window of receive times.
CREATE INDEX cases_matter ON cases (county, township, case_class, receive_time);
