-- Replay caches, rate limits and login throttles (PostgreSQL's migration
-- 005). A single process keeps them in memory; these tables serve stores
-- that others share, and keep both drivers to one set of rules. Times are
-- seconds, or microseconds for token buckets, since the epoch.

CREATE TABLE guard_nonces (
    scope   TEXT NOT NULL,
    key     TEXT NOT NULL,
    expires INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX guard_nonces_expiry ON guard_nonces (scope, expires);
CREATE TABLE guard_nonce_counts (
    scope TEXT PRIMARY KEY,
    live  INTEGER NOT NULL
);

CREATE TABLE guard_failures (
    key      TEXT PRIMARY KEY,
    ends     INTEGER NOT NULL,
    failures INTEGER NOT NULL
);
CREATE INDEX guard_failures_ends ON guard_failures (ends);

CREATE TABLE guard_tokens (
    key     TEXT PRIMARY KEY,
    tat     INTEGER NOT NULL,
    allowed INTEGER NOT NULL
);
CREATE INDEX guard_tokens_tat ON guard_tokens (tat);
