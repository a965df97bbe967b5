-- The node's tables on PostgreSQL: the same rows as the SQLite driver's
-- migrations 001-016, written at once for a new database.

CREATE TABLE entries (
    idx      BIGINT PRIMARY KEY,
    digest   BYTEA NOT NULL,
    kind     TEXT NOT NULL,
    time     TEXT NOT NULL,
    envelope BYTEA NOT NULL
);
CREATE INDEX entries_exchange_digest ON entries (digest) WHERE kind LIKE 'request.%';

CREATE TABLE checkpoints (
    size BIGINT PRIMARY KEY,
    note TEXT NOT NULL
);

-- The log's head: the one row every replica locks (FOR UPDATE) to sequence,
-- integrate and sign a batch, so batches are serialised by the database,
-- not by trusting one process.
CREATE TABLE log_head (
    one  BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    size BIGINT NOT NULL
);
INSERT INTO log_head (size) VALUES (0);

-- The Merkle tree: hashes of complete subtrees, level by level, in chunks of
-- 256 consecutive hashes (8 KiB). A full chunk never changes, so replicas
-- cache it; the last chunk of a level grows with each batch.
CREATE TABLE tree_chunks (
    level  SMALLINT NOT NULL,
    idx    BIGINT NOT NULL,
    hashes BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE gate_volumes (
    recipient TEXT NOT NULL,
    category  TEXT NOT NULL,
    count     BIGINT NOT NULL,
    at        TEXT NOT NULL
);
CREATE INDEX gate_volumes_by_pair ON gate_volumes (recipient, category, at);

CREATE TABLE gate_holds (
    id           TEXT PRIMARY KEY,
    recipient    TEXT NOT NULL,
    country      TEXT NOT NULL,
    subject      TEXT NOT NULL,
    decision     TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('held', 'approved', 'rejected')),
    created      TEXT NOT NULL,
    resolved_by  TEXT,
    reason       TEXT,
    requested_by TEXT,
    payload      TEXT,
    released_at  TEXT,
    UNIQUE (recipient, subject)
);

CREATE TABLE gate_decisions (
    recipient TEXT NOT NULL,
    subject   TEXT NOT NULL,
    action    TEXT NOT NULL CHECK (action IN ('allow', 'redact', 'block')),
    at        TEXT NOT NULL,
    PRIMARY KEY (recipient, subject)
);

CREATE TABLE peers (
    origin  TEXT PRIMARY KEY,
    url     TEXT NOT NULL,
    key     TEXT NOT NULL,
    country TEXT NOT NULL,
    added   TEXT NOT NULL
);

CREATE TABLE requests (
    id              TEXT PRIMARY KEY,
    direction       TEXT NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    peer            TEXT NOT NULL,
    type            TEXT NOT NULL,
    urgency         TEXT NOT NULL,
    tlp             TEXT NOT NULL,
    reference       TEXT NOT NULL,
    status          TEXT NOT NULL,
    submitted_at    TEXT NOT NULL,
    acknowledge_by  TEXT NOT NULL,
    answer_by       TEXT NOT NULL,
    acknowledged_at TEXT,
    closed_at       TEXT,
    updated_at      TEXT NOT NULL,
    delivered_at    TEXT,
    decline_ground  TEXT,
    -- the submitted request's facts, for the text filter (SQLite keeps them
    -- in an FTS5 table; here a trigram index serves ILIKE)
    facts           TEXT
);
CREATE INDEX requests_by_peer ON requests (peer, submitted_at);
CREATE INDEX requests_by_submitted ON requests (submitted_at, id);
CREATE INDEX requests_by_answer_by ON requests (answer_by, id);
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX requests_reference_trgm ON requests USING gin (reference gin_trgm_ops);
CREATE INDEX requests_facts_trgm ON requests USING gin (facts gin_trgm_ops);

CREATE TABLE request_events (
    request_id TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    event_id   TEXT NOT NULL UNIQUE,
    actor      TEXT NOT NULL,
    kind       TEXT NOT NULL,
    at         TEXT NOT NULL,
    log_index  BIGINT NOT NULL,
    envelope   BYTEA NOT NULL,
    receipt    TEXT,
    PRIMARY KEY (request_id, seq)
);

CREATE TABLE outbox (
    digest       BYTEA PRIMARY KEY,
    peer         TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    envelope     BYTEA NOT NULL,
    created      TEXT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    next_attempt TEXT NOT NULL,
    last_error   TEXT,
    delivered_at TEXT,
    refused_at   TEXT
);
CREATE INDEX outbox_by_request ON outbox (request_id, created);
CREATE INDEX outbox_pending ON outbox (created) WHERE delivered_at IS NULL AND refused_at IS NULL;
CREATE INDEX outbox_refused ON outbox (refused_at) WHERE refused_at IS NOT NULL;

CREATE TABLE inbox (
    digest    BYTEA PRIMARY KEY,
    peer      TEXT NOT NULL,
    log_index BIGINT NOT NULL,
    response  TEXT NOT NULL
);

CREATE TABLE cosignatures (
    witness   TEXT NOT NULL,
    size      BIGINT NOT NULL,
    line      TEXT NOT NULL,
    timestamp BIGINT NOT NULL,
    PRIMARY KEY (witness, size)
);
CREATE INDEX cosignatures_by_size ON cosignatures (size);

CREATE TABLE attachments (
    sha256     TEXT PRIMARY KEY,
    media_type TEXT NOT NULL,
    size       BIGINT NOT NULL,
    content    BYTEA NOT NULL,
    created    TEXT NOT NULL
);

CREATE TABLE citations (
    sha256     TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    request_id TEXT NOT NULL,
    peer       TEXT NOT NULL,
    by_peer    BOOLEAN NOT NULL,
    size       BIGINT NOT NULL,
    media_type TEXT NOT NULL,
    PRIMARY KEY (sha256, event_id)
);
CREATE INDEX citations_by_peer ON citations (sha256, peer, by_peer);

CREATE TABLE peer_deliveries (
    peer         TEXT PRIMARY KEY,
    delivered_at TEXT,
    error        TEXT,
    error_at     TEXT
);

CREATE TABLE notifications (
    id        BIGSERIAL PRIMARY KEY,
    user_name TEXT NOT NULL,
    kind      TEXT NOT NULL,
    key       TEXT NOT NULL,
    title     TEXT NOT NULL,
    link      TEXT NOT NULL,
    created   TEXT NOT NULL,
    read_at   TEXT,
    UNIQUE (user_name, key)
);
CREATE INDEX notifications_by_user ON notifications (user_name, id);
CREATE INDEX notifications_unread ON notifications (user_name) WHERE read_at IS NULL;

CREATE TABLE notify_outbox (
    id           BIGSERIAL PRIMARY KEY,
    notification BIGINT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    channel      TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
    target       TEXT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    next_attempt TEXT NOT NULL,
    last_error   TEXT,
    sent_at      TEXT,
    failed_at    TEXT
);
CREATE INDEX notify_outbox_due ON notify_outbox (next_attempt) WHERE sent_at IS NULL AND failed_at IS NULL;

CREATE TABLE notify_settings (
    user_name      TEXT PRIMARY KEY,
    kinds          TEXT NOT NULL,
    email          TEXT,
    webhook        TEXT,
    webhook_secret TEXT,
    updated        TEXT NOT NULL
);
