-- Per peer, the last delivery attempt that went through and the last that
-- failed, with its error: the outbox clears an envelope's error once it is
-- delivered, but an operator needs to see that a peer was failing.
CREATE TABLE peer_deliveries (
    peer         TEXT PRIMARY KEY,
    delivered_at TEXT,
    error        TEXT,
    error_at     TEXT
);
INSERT INTO peer_deliveries (peer, delivered_at)
    SELECT peer, max(delivered_at) FROM outbox WHERE delivered_at IS NOT NULL GROUP BY peer;
