-- The county's directory of offices (tongban.directory.v1), seeded from the
-- directory file and changed by the bureau's administrators. Offices are
-- never deleted: cases and history name them. Every change takes the next
-- revision; the directory's revision is the highest.
CREATE SEQUENCE office_revisions;
CREATE TABLE offices (
  id           text PRIMARY KEY,
  county       text NOT NULL,
  display_name text NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('bureau', 'township', 'department', 'prefecture')),
  duties       text[] NOT NULL DEFAULT '{}',
  closed       boolean NOT NULL DEFAULT false,
  revision     bigint NOT NULL DEFAULT nextval('office_revisions'),
  update_time  timestamptz NOT NULL DEFAULT now()
);
-- At most one bureau and one prefecture bureau per county.
CREATE UNIQUE INDEX offices_one_bureau ON offices (county) WHERE kind = 'bureau';
CREATE UNIQUE INDEX offices_one_prefecture ON offices (county) WHERE kind = 'prefecture';
