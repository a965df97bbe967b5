-- The transparency log: signed envelopes in index order, and every checkpoint the
-- node signed. Rows are never updated or deleted.
CREATE TABLE entries (
    idx      INTEGER PRIMARY KEY,
    digest   BLOB NOT NULL,
    kind     TEXT NOT NULL,
    time     TEXT NOT NULL,
    envelope BLOB NOT NULL
);

CREATE TABLE checkpoints (
    size INTEGER PRIMARY KEY,
    note TEXT NOT NULL
);
