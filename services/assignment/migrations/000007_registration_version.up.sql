-- The registration's version as intake last published it
-- (CaseCorrected.version): the first part of the case's etag, which intake
-- owns and checks; assignment shows it so a case has one etag everywhere.
-- ADD COLUMN with a constant default rewrites no rows.
ALTER TABLE cases ADD COLUMN registration_version bigint NOT NULL DEFAULT 1;
