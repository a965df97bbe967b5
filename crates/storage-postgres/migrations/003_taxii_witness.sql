-- TAXII collections, objects and statuses; the witness's state (the SQLite
-- driver's migration 018).

CREATE TABLE taxii_collections (
    pk             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    -- "C": listed in byte order, as SQLite sorts them.
    title          TEXT COLLATE "C" NOT NULL,
    description    TEXT,
    alias          TEXT UNIQUE,
    read_acl       TEXT NOT NULL,
    write_acl      TEXT NOT NULL,
    red_recipients TEXT NOT NULL
);

-- The position counter: the one row every ingest (and delete) locks FOR
-- UPDATE before it assigns positions, held until it commits. Replicas thus
-- commit objects in position order, so a reader's cursor never passes a
-- position that a transaction still in flight could fill.
CREATE TABLE taxii_seq (
    one      BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    last_seq BIGINT NOT NULL
);
INSERT INTO taxii_seq (last_seq) VALUES (0);

-- The secret of the pagination cursors: the first one stored stands.
CREATE TABLE taxii_cursor_key (
    one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    key BYTEA NOT NULL CHECK (length(key) = 32)
);

-- `seq` is both the row's position and its date_added in microseconds.
CREATE TABLE taxii_objects (
    seq          BIGINT PRIMARY KEY,
    coll         BIGINT NOT NULL REFERENCES taxii_collections (pk) ON DELETE CASCADE,
    obj_id       TEXT NOT NULL,
    obj_type     TEXT NOT NULL,
    spec_version TEXT NOT NULL,
    version_us   BIGINT NOT NULL,
    version      TEXT NOT NULL,
    tlp          BIGINT NOT NULL,
    latest       BOOLEAN NOT NULL,
    body         TEXT NOT NULL
);
CREATE INDEX taxii_objects_seq ON taxii_objects (coll, seq);
CREATE UNIQUE INDEX taxii_objects_id ON taxii_objects (coll, obj_id, version_us);

CREATE TABLE taxii_status (
    id         TEXT PRIMARY KEY,
    created_us BIGINT NOT NULL,
    owner      TEXT NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX taxii_status_created ON taxii_status (created_us);

-- Counts and citations kept beside the objects, so the web interface reads
-- them in one probe rather than scanning a million rows.
CREATE TABLE taxii_counts (
    coll     BIGINT PRIMARY KEY REFERENCES taxii_collections (pk) ON DELETE CASCADE,
    objects  BIGINT NOT NULL,
    versions BIGINT NOT NULL
);
CREATE TABLE taxii_cites (
    coll       BIGINT NOT NULL,
    request_id TEXT COLLATE "C" NOT NULL,
    seq        BIGINT NOT NULL REFERENCES taxii_objects (seq) ON DELETE CASCADE,
    obj_id     TEXT NOT NULL,
    PRIMARY KEY (coll, request_id, seq)
);
CREATE INDEX taxii_cites_seq ON taxii_cites (seq);

-- Per log the witness follows, the latest checkpoint it cosigned.
CREATE TABLE witness_checkpoints (
    origin      TEXT PRIMARY KEY,
    size        BIGINT NOT NULL CHECK (size >= 0),
    root        BYTEA NOT NULL CHECK (length(root) = 32),
    note        TEXT NOT NULL,
    cosigned_at BIGINT NOT NULL
);
-- Evidence of logs that showed two views, each piece kept once: `evidence`
-- is a SHA-256 of origin, kind and both notes, since notes sent by a log can
-- be longer than a btree entry may be.
CREATE TABLE witness_conflicts (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    evidence       BYTEA NOT NULL UNIQUE CHECK (length(evidence) = 32),
    origin         TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('fork', 'inconsistent')),
    cosigned_note  TEXT NOT NULL,
    submitted_note TEXT NOT NULL,
    old_size       BIGINT NOT NULL,
    -- The proof's hashes, 32 bytes each, concatenated.
    proof          BYTEA NOT NULL CHECK (length(proof) % 32 = 0),
    detected_at    BIGINT NOT NULL
);
