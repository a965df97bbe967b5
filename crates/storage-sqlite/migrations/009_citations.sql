-- Which attachments each request event cites, and between whom: a peer may
-- fetch content this node cited to it, and a user's download of content a peer
-- cited is fetched from that peer.
CREATE TABLE citations (
    sha256     TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    request_id TEXT NOT NULL,
    peer       TEXT NOT NULL,
    -- 1 when the peer cited it (the content lives there), 0 when this node did
    by_peer    INTEGER NOT NULL,
    size       INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    PRIMARY KEY (sha256, event_id)
);
CREATE INDEX citations_by_peer ON citations (sha256, peer, by_peer);
