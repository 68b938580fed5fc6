-- Holiday notices loaded at run time, as scheduling published them
-- (HolidayNoticeImported): the periods assignment enforces use them too.
CREATE TABLE calendar_notices (
  year int PRIMARY KEY,
  text text NOT NULL
);
