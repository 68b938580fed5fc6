-- The query code printed on the receipt (受理凭证): eight characters
-- (0-9, A-F) drawn at registration, which with the case number identify a
-- petitioner's case when they ask about it. Shown to the registering
-- office only.
ALTER TABLE cases ADD COLUMN query_code text NOT NULL
  DEFAULT upper(substr(replace(gen_random_uuid()::text, '-', ''), 1, 8));
