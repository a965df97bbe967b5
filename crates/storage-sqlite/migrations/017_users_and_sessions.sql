-- Users, bearer tokens and browser sessions join the one migration list
-- (issue 12). Data directories from before kept them in tables the auth and
-- web crates migrated themselves (bookkeeping in `auth_schema` and
-- `web_schema`); IF NOT EXISTS adopts those tables as they are, since their
-- final schema is exactly this one (an `auth_tokens` without `label`, from
-- the first auth schema, is given it by migrate.rs before this runs). The
-- bookkeeping tables are dropped: `user_version` now speaks for these tables,
-- and a build old enough to read them refuses this schema anyway.

CREATE TABLE IF NOT EXISTS auth_users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created TEXT NOT NULL
);
-- Only the SHA-256 of a token is kept.
CREATE TABLE IF NOT EXISTS auth_tokens (
    digest BLOB PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES auth_users(name) ON DELETE CASCADE,
    created TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS auth_tokens_user ON auth_tokens(user_name);

-- Only the SHA-256 of a session cookie's secret is kept; times are seconds
-- since the epoch.
CREATE TABLE IF NOT EXISTS web_sessions (
    digest    BLOB PRIMARY KEY,
    user_name TEXT NOT NULL,
    csrf      TEXT NOT NULL,
    created   INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    agent     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS web_sessions_user ON web_sessions (user_name);

DROP TABLE IF EXISTS auth_schema;
DROP TABLE IF EXISTS web_schema;
