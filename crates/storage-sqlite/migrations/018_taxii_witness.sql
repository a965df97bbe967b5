-- The TAXII server's and the witness's tables, which the taxii and witness
-- crates used to create themselves. A data directory of that time already has
-- them (the TAXII ones tracked in their own `taxii_schema` table, the witness
-- ones untracked): every statement here adopts what exists, with the same
-- final schema, and creates what does not.

-- Which TAXII steps the old code ran: 1 the tables, 2 the counts and
-- citations, which step 2 filled from the objects stored before it. Read
-- here so that a million-object database is not scanned again, then dropped:
-- from now on the schema version is `user_version`, like every other table.
CREATE TABLE IF NOT EXISTS taxii_schema (version INTEGER NOT NULL);

CREATE TABLE IF NOT EXISTS taxii_meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS taxii_collections (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    description TEXT,
    alias TEXT UNIQUE,
    read_acl TEXT NOT NULL,
    write_acl TEXT NOT NULL,
    red_recipients TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS taxii_objects (
    seq INTEGER PRIMARY KEY,
    coll INTEGER NOT NULL REFERENCES taxii_collections(pk) ON DELETE CASCADE,
    obj_id TEXT NOT NULL,
    obj_type TEXT NOT NULL,
    spec_version TEXT NOT NULL,
    version_us INTEGER NOT NULL,
    version TEXT NOT NULL,
    tlp INTEGER NOT NULL,
    latest INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS taxii_objects_seq ON taxii_objects(coll, seq);
CREATE UNIQUE INDEX IF NOT EXISTS taxii_objects_id ON taxii_objects(coll, obj_id, version_us);
CREATE TABLE IF NOT EXISTS taxii_status (
    id TEXT PRIMARY KEY,
    created_us INTEGER NOT NULL,
    owner TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS taxii_status_created ON taxii_status(created_us);

-- Object counts and request citations kept beside the objects, so the web
-- interface reads them in one probe rather than scanning a million rows.
-- Ingest adds to them once per envelope (a trigger per stored row would slow
-- bulk ingest); deletions, rare, go through triggers.
CREATE TABLE IF NOT EXISTS taxii_counts (
    coll INTEGER PRIMARY KEY REFERENCES taxii_collections(pk) ON DELETE CASCADE,
    objects INTEGER NOT NULL,
    versions INTEGER NOT NULL
);
INSERT OR IGNORE INTO taxii_counts (coll, objects, versions)
    SELECT c.pk,
        (SELECT COUNT(DISTINCT obj_id) FROM taxii_objects WHERE coll = c.pk),
        (SELECT COUNT(*) FROM taxii_objects WHERE coll = c.pk)
    FROM taxii_collections c
    WHERE (SELECT coalesce(max(version), 0) FROM taxii_schema) < 2;
CREATE TRIGGER IF NOT EXISTS taxii_counts_collection AFTER INSERT ON taxii_collections BEGIN
    INSERT INTO taxii_counts (coll, objects, versions) VALUES (new.pk, 0, 0);
END;
CREATE TRIGGER IF NOT EXISTS taxii_counts_delete AFTER DELETE ON taxii_objects BEGIN
    UPDATE taxii_counts SET versions = versions - 1,
        objects = objects - (NOT EXISTS (SELECT 1 FROM taxii_objects
            WHERE coll = old.coll AND obj_id = old.obj_id))
    WHERE coll = old.coll;
END;
CREATE TABLE IF NOT EXISTS taxii_cites (
    coll INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    obj_id TEXT NOT NULL,
    PRIMARY KEY (coll, request_id, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS taxii_cites_seq ON taxii_cites(seq);
INSERT OR IGNORE INTO taxii_cites (coll, request_id, seq, obj_id)
    SELECT o.coll, json_extract(r.value, '$.external_id'), o.seq, o.obj_id
    FROM taxii_objects o, json_each(o.body, '$.external_references') r
    WHERE (SELECT coalesce(max(version), 0) FROM taxii_schema) < 2
    AND o.body LIKE '%detente-request%'
    AND json_extract(r.value, '$.source_name') = 'detente-request'
    AND json_type(r.value, '$.external_id') = 'text';
CREATE TRIGGER IF NOT EXISTS taxii_cites_delete AFTER DELETE ON taxii_objects BEGIN
    DELETE FROM taxii_cites WHERE seq = old.seq;
END;

DROP TABLE taxii_schema;

-- Per log the witness follows, the latest checkpoint it cosigned.
CREATE TABLE IF NOT EXISTS witness_checkpoints (
    origin      TEXT PRIMARY KEY,
    size        INTEGER NOT NULL CHECK (size >= 0),
    root        BLOB NOT NULL CHECK (length(root) = 32),
    note        TEXT NOT NULL,
    cosigned_at INTEGER NOT NULL
);
-- Evidence of logs that showed two views, each piece kept once.
CREATE TABLE IF NOT EXISTS witness_conflicts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    origin         TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('fork', 'inconsistent')),
    cosigned_note  TEXT NOT NULL,
    submitted_note TEXT NOT NULL,
    old_size       INTEGER NOT NULL,
    proof          TEXT NOT NULL,
    detected_at    INTEGER NOT NULL,
    UNIQUE (origin, kind, cosigned_note, submitted_note)
);
