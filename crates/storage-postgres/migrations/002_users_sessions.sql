-- Users, tokens and web sessions (the SQLite driver's migration 017).
-- Names and the times listed in order compare byte by byte (COLLATE "C"), as
-- SQLite compares them, whatever locale the database was created with.

CREATE TABLE auth_users (
    name          TEXT COLLATE "C" PRIMARY KEY,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created       TEXT NOT NULL
);
-- The last-admin rule counts these on every demotion or removal.
CREATE INDEX auth_users_admins ON auth_users (name) WHERE role = 'admin';

-- Only the SHA-256 of a token is kept.
CREATE TABLE auth_tokens (
    digest    BYTEA PRIMARY KEY,
    user_name TEXT COLLATE "C" NOT NULL REFERENCES auth_users (name) ON DELETE CASCADE,
    created   TEXT COLLATE "C" NOT NULL,
    label     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX auth_tokens_user ON auth_tokens (user_name);

-- Only the SHA-256 of a session cookie's secret is kept; times are seconds
-- since the epoch. `seq` orders sessions created in the same second, as
-- SQLite's rowid does.
CREATE TABLE web_sessions (
    digest    BYTEA PRIMARY KEY,
    seq       BIGINT GENERATED ALWAYS AS IDENTITY,
    user_name TEXT NOT NULL,
    csrf      TEXT NOT NULL,
    created   BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    agent     TEXT NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_name);
