-- Attachments of requests and answers, content-addressed by SHA-256.
CREATE TABLE attachments (
    sha256     TEXT PRIMARY KEY,
    media_type TEXT NOT NULL,
    size       INTEGER NOT NULL,
    content    BLOB NOT NULL,
    created    TEXT NOT NULL
);
