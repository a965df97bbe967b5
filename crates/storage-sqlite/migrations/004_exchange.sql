-- Cooperation requests. `requests` is a summary kept for listing and reports;
-- the truth is `request_events` (each row one envelope of this node's log).
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
    updated_at      TEXT NOT NULL
);
CREATE INDEX requests_by_peer ON requests (peer, submitted_at);

CREATE TABLE request_events (
    request_id TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    event_id   TEXT NOT NULL,
    actor      TEXT NOT NULL,
    kind       TEXT NOT NULL,
    at         TEXT NOT NULL,
    log_index  INTEGER NOT NULL,
    envelope   BLOB NOT NULL,
    -- tlog-proof of this envelope in the counterpart's log, once it has it
    receipt    TEXT,
    PRIMARY KEY (request_id, seq)
);
CREATE UNIQUE INDEX request_events_by_event ON request_events (event_id);

-- Envelopes to deliver; kept after delivery as the record of every attempt.
CREATE TABLE outbox (
    digest       BLOB PRIMARY KEY,
    peer         TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    envelope     BLOB NOT NULL,
    created      TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt TEXT NOT NULL,
    last_error   TEXT,
    delivered_at TEXT
);
CREATE INDEX outbox_due ON outbox (delivered_at, next_attempt);

-- Envelopes received, so a redelivery is answered with the same receipt.
CREATE TABLE inbox (
    digest    BLOB PRIMARY KEY,
    peer      TEXT NOT NULL,
    log_index INTEGER NOT NULL,
    response  TEXT NOT NULL
);
