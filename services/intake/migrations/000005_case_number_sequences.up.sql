-- Case numbers come from one sequence per county and year
-- (case_seq_{county}_{year}) instead of a locked counter row: a counter row
-- held every registration's lock until its commit, serialising the commits
-- of a whole county. Sequences are gap-tolerant (a rolled-back
-- registration burns its number) and never block.
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT county, year, last_value FROM case_numbers LOOP
    EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %I START %s', 'case_seq_' || r.county || '_' || r.year, r.last_value + 1);
  END LOOP;
END $$;
DROP TABLE case_numbers;
