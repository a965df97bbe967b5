-- The transfer gate's memory: volumes sent per recipient and category (28 CFR
-- 202.205 aggregates over the preceding 12 months) and payloads held for review.
CREATE TABLE gate_volumes (
    recipient TEXT NOT NULL,
    category  TEXT NOT NULL,
    count     INTEGER NOT NULL,
    at        TEXT NOT NULL
);
CREATE INDEX gate_volumes_by_pair ON gate_volumes (recipient, category, at);

CREATE TABLE gate_holds (
    id          TEXT PRIMARY KEY,
    recipient   TEXT NOT NULL,
    country     TEXT NOT NULL,
    subject     TEXT NOT NULL,
    decision    TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('held', 'approved', 'rejected')),
    created     TEXT NOT NULL,
    resolved_by TEXT,
    reason      TEXT,
    UNIQUE (recipient, subject)
);
