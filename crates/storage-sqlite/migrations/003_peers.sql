-- Peers: other nodes this node exchanges with, configured on both sides; keys are
-- exchanged out of band.
CREATE TABLE peers (
    origin  TEXT PRIMARY KEY,
    url     TEXT NOT NULL,
    key     TEXT NOT NULL,
    country TEXT NOT NULL,
    added   TEXT NOT NULL
);
