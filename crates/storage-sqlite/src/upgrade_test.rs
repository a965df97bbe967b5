//! Data directories from before migration 018 hold TAXII and witness tables
//! that the taxii and witness crates created themselves; opening them with
//! this store must adopt those tables and their rows.

use crate::SqliteStore;
use detente_storage::taxii::{ObjectQuery, TaxiiStore, VersionSel};
use detente_storage::witness::{ConflictKind, WitnessStore};
use rusqlite::Connection;
use std::path::Path;

/// `detente-taxii`'s first schema step, as it ran it.
const OLD_TAXII_1: &str = "
    CREATE TABLE taxii_meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
    CREATE TABLE taxii_collections (
        pk INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL,
        description TEXT,
        alias TEXT UNIQUE,
        read_acl TEXT NOT NULL,
        write_acl TEXT NOT NULL,
        red_recipients TEXT NOT NULL
    );
    CREATE TABLE taxii_objects (
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
    CREATE INDEX taxii_objects_seq ON taxii_objects(coll, seq);
    CREATE UNIQUE INDEX taxii_objects_id ON taxii_objects(coll, obj_id, version_us);
    CREATE TABLE taxii_status (
        id TEXT PRIMARY KEY,
        created_us INTEGER NOT NULL,
        owner TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX taxii_status_created ON taxii_status(created_us);
";

/// Its second step: counts and citations, filled from the objects there.
const OLD_TAXII_2: &str = "
    CREATE TABLE taxii_counts (
        coll INTEGER PRIMARY KEY REFERENCES taxii_collections(pk) ON DELETE CASCADE,
        objects INTEGER NOT NULL,
        versions INTEGER NOT NULL
    );
    INSERT INTO taxii_counts (coll, objects, versions)
        SELECT c.pk,
            (SELECT COUNT(DISTINCT obj_id) FROM taxii_objects WHERE coll = c.pk),
            (SELECT COUNT(*) FROM taxii_objects WHERE coll = c.pk)
        FROM taxii_collections c;
    CREATE TRIGGER taxii_counts_collection AFTER INSERT ON taxii_collections BEGIN
        INSERT INTO taxii_counts (coll, objects, versions) VALUES (new.pk, 0, 0);
    END;
    CREATE TRIGGER taxii_counts_delete AFTER DELETE ON taxii_objects BEGIN
        UPDATE taxii_counts SET versions = versions - 1,
            objects = objects - (NOT EXISTS (SELECT 1 FROM taxii_objects
                WHERE coll = old.coll AND obj_id = old.obj_id))
        WHERE coll = old.coll;
    END;
    CREATE TABLE taxii_cites (
        coll INTEGER NOT NULL,
        request_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        obj_id TEXT NOT NULL,
        PRIMARY KEY (coll, request_id, seq)
    ) WITHOUT ROWID;
    CREATE INDEX taxii_cites_seq ON taxii_cites(seq);
    INSERT OR IGNORE INTO taxii_cites (coll, request_id, seq, obj_id)
        SELECT o.coll, json_extract(r.value, '$.external_id'), o.seq, o.obj_id
        FROM taxii_objects o, json_each(o.body, '$.external_references') r
        WHERE o.body LIKE '%detente-request%'
        AND json_extract(r.value, '$.source_name') = 'detente-request'
        AND json_type(r.value, '$.external_id') = 'text';
    CREATE TRIGGER taxii_cites_delete AFTER DELETE ON taxii_objects BEGIN
        DELETE FROM taxii_cites WHERE seq = old.seq;
    END;
";

/// `detente-witness`'s tables, which it created on every open.
const OLD_WITNESS: &str = "
    CREATE TABLE IF NOT EXISTS witness_checkpoints (
        origin      TEXT PRIMARY KEY,
        size        INTEGER NOT NULL CHECK (size >= 0),
        root        BLOB NOT NULL CHECK (length(root) = 32),
        note        TEXT NOT NULL,
        cosigned_at INTEGER NOT NULL
    );
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
";

/// A collection, one object citing request `r1` in two versions, a status,
/// the cursor key, a witnessed checkpoint and a conflict, as the old code
/// wrote them. `steps` is how far the old TAXII schema had got.
fn old_database(path: &Path, steps: u32) {
    let c = Connection::open(path).unwrap();
    c.execute_batch("CREATE TABLE taxii_schema (version INTEGER NOT NULL);")
        .unwrap();
    c.execute_batch(OLD_TAXII_1).unwrap();
    c.execute_batch("INSERT INTO taxii_schema (version) VALUES (1);")
        .unwrap();
    let body = r#"{"id":"indicator--1","external_references":[{"source_name":"detente-request","external_id":"r1"}]}"#;
    c.execute_batch(&format!(
        "INSERT INTO taxii_collections (pk, id, title, description, alias, read_acl, write_acl, red_recipients)
             VALUES (1, 'c1', 'feed', NULL, 'feed', '[\"*\"]', '[\"alice\"]', '[]');
         INSERT INTO taxii_objects VALUES
             (100, 1, 'indicator--1', 'indicator', '2.1', 10, 'v10', 1, 0, '{body}'),
             (200, 1, 'indicator--1', 'indicator', '2.1', 20, 'v20', 1, 1, '{body}');
         INSERT INTO taxii_meta VALUES ('last_seq', 200), ('cursor_key', zeroblob(32));
         INSERT INTO taxii_status VALUES ('s1', 150, 'alice', '{{}}');"
    ))
    .unwrap();
    if steps >= 2 {
        c.execute_batch(OLD_TAXII_2).unwrap();
        c.execute_batch("INSERT INTO taxii_schema (version) VALUES (2);")
            .unwrap();
    }
    c.execute_batch(OLD_WITNESS).unwrap();
    c.execute_batch(
        "INSERT INTO witness_checkpoints VALUES ('log.example', 7, zeroblob(32), 'note 7', 1700000000);
         INSERT INTO witness_conflicts (origin, kind, cosigned_note, submitted_note, old_size, proof, detected_at)
             VALUES ('log.example', 'fork', 'a', 'b', 0, '', 1700000001);",
    )
    .unwrap();
}

/// Every table, index and trigger with its columns: what a fresh database
/// and an upgraded one must agree on.
fn schema(path: &Path) -> Vec<String> {
    let c = Connection::open(path).unwrap();
    let names: Vec<(String, String)> = c
        .prepare(
            "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut out = Vec::new();
    for (kind, name) in names {
        let info = if kind == "index" {
            "index_xinfo"
        } else {
            "table_xinfo"
        };
        let columns: Vec<String> = c
            .prepare(&format!("SELECT * FROM pragma_{info}('{name}')"))
            .unwrap()
            .query_map([], |r| {
                let n = r.as_ref().column_count();
                let cells: Vec<String> = (0..n)
                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                    .collect();
                Ok(cells.join(" "))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        out.push(format!("{kind} {name}: {}", columns.join("; ")));
    }
    out
}

fn reads_the_old_rows(steps: u32) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("detente.db");
    old_database(&path, steps);
    let s = SqliteStore::open(&path).unwrap();
    let feed = s.collection("feed").unwrap().unwrap();
    assert_eq!(
        (feed.id.as_str(), feed.write.as_slice()),
        ("c1", &["alice".to_string()][..])
    );
    let q = ObjectQuery {
        collection: "c1".into(),
        object_id: None,
        after_seq: 0,
        ids: vec![],
        types: vec![],
        versions: vec![VersionSel::Last],
        spec_versions: vec![],
        tlp: vec![1],
        limit: 10,
        with_body: false,
    };
    let rows = s.query_objects(&q).unwrap().rows;
    assert_eq!(
        (rows.len(), rows[0].seq, rows[0].version.as_str()),
        (1, 200, "v20")
    );
    let counts = s.object_counts("c1").unwrap();
    assert_eq!(
        (counts.objects, counts.versions),
        (1, 2),
        "old schema step {steps}"
    );
    let cited = s.citing_requests("c1", "", 10).unwrap();
    assert_eq!(cited.len(), 1, "old schema step {steps}");
    assert_eq!((cited[0].request_id.as_str(), cited[0].objects), ("r1", 1));
    assert_eq!(s.taxii_status("s1").unwrap().unwrap().1, "alice");
    assert_eq!(
        s.cursor_key([9; 32]).unwrap(),
        [0; 32],
        "the old key stands"
    );
    assert_eq!(s.witnessed("log.example").unwrap().unwrap().size, 7);
    let conflicts = s.witness_conflicts().unwrap();
    assert_eq!(
        (conflicts.len(), conflicts[0].kind),
        (1, ConflictKind::Fork)
    );
    drop(s);
    let fresh = dir.path().join("fresh.db");
    drop(SqliteStore::open(&fresh).unwrap());
    assert_eq!(schema(&path), schema(&fresh), "old schema step {steps}");
}

#[test]
fn a_database_from_the_old_taxii_and_witness_code_is_adopted() {
    reads_the_old_rows(2);
}

/// Before the old code's second step, counts and citations were never
/// filled: the migration fills them from the objects.
#[test]
fn a_database_from_before_the_taxii_counts_gets_them() {
    reads_the_old_rows(1);
}
