-- Wrong query codes per case number (GetCaseProgress): five within 15
-- minutes lock the case's public lookup until they are older.
CREATE TABLE progress_failures (
  case_number text NOT NULL,
  at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX progress_failures_case ON progress_failures (case_number, at);
