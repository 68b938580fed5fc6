-- Accounts: people who sign in with a password and systems that call with
-- API keys, each acting for one office in one role. Owned by the gateway,
-- which checks credentials and signs the access tokens the services verify.
CREATE TABLE accounts (
  username           text PRIMARY KEY,
  kind               smallint NOT NULL CHECK (kind IN (1, 2)),  -- tongban.accounts.v1.AccountKind
  office             text NOT NULL,
  role               text NOT NULL,
  display_name       text NOT NULL DEFAULT '',
  password_hash      text,              -- argon2id, PHC string; NULL for a system
  disabled           boolean NOT NULL DEFAULT false,
  tokens_valid_after timestamptz NOT NULL DEFAULT '-infinity',  -- tokens issued before are revoked
  create_time        timestamptz NOT NULL DEFAULT now()
);

-- API keys of system accounts: only a hash of the secret is kept.
CREATE TABLE api_keys (
  id          text PRIMARY KEY,
  username    text NOT NULL REFERENCES accounts,
  secret_hash bytea NOT NULL,
  create_time timestamptz NOT NULL DEFAULT now(),
  revoke_time timestamptz
);

-- Failed sign-ins per username, for throttling.
CREATE TABLE login_failures (
  username      text PRIMARY KEY,
  failures      int NOT NULL,
  first_failure timestamptz NOT NULL,
  locked_until  timestamptz
);
