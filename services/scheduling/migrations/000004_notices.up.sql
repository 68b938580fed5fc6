-- Holiday notices loaded at run time (next year's, before a new build
-- embeds it): the text as typed, read by calendar.ParseNotice.
CREATE TABLE calendar_notices (
  year        int PRIMARY KEY,
  text        text NOT NULL,
  source      text NOT NULL,
  imported_by text NOT NULL,
  import_time timestamptz NOT NULL DEFAULT now()
);
