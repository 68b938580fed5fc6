-- Wrong query codes older than the lockout's window are removed as new ones
-- are recorded (store.RecordProgressFailure), oldest first: the table holds
-- about the window's failures whatever a guesser sends.
CREATE INDEX progress_failures_at ON progress_failures (at);
