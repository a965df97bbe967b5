-- Replay caches, rate limits and login throttles shared by the replicas
-- (the SQLite driver's migration 019). Short-lived, advisory rows: written
-- with synchronous_commit off (see src/guard.rs). Times are seconds, or
-- microseconds for token buckets, since the epoch.

-- Nonces (and any other once-only keys) by scope, until they expire.
CREATE TABLE guard_nonces (
    scope   TEXT NOT NULL,
    key     TEXT NOT NULL,
    expires BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX guard_nonces_expiry ON guard_nonces (scope, expires);
-- Keys held per scope (expired ones included until swept), for the
-- capacity bound without counting the table.
CREATE TABLE guard_nonce_counts (
    scope TEXT PRIMARY KEY,
    live  BIGINT NOT NULL
);

-- Failed logins per key in a fixed window ending at `ends`.
CREATE TABLE guard_failures (
    key      TEXT PRIMARY KEY,
    ends     BIGINT NOT NULL,
    failures BIGINT NOT NULL
);
CREATE INDEX guard_failures_ends ON guard_failures (ends);

-- GCRA: each key's theoretical arrival time, and whether its last request
-- was allowed (what the upsert tells its caller).
CREATE TABLE guard_tokens (
    key     TEXT PRIMARY KEY,
    tat     BIGINT NOT NULL,
    allowed BOOLEAN NOT NULL
);
CREATE INDEX guard_tokens_tat ON guard_tokens (tat);
