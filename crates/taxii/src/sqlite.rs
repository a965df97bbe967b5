//! SQLite implementation of [`TaxiiStore`].
//!
//! Schema choices, for paging at a million objects per collection:
//! - `seq` is the row id *and* the `date_added` timestamp in microseconds. The
//!   single writer hands out strictly increasing values (never below the clock,
//!   never reused, even after deletes, thanks to `taxii_meta.last_seq`), so
//!   ascending `date_added`, `added_after` and cursors are all a range scan on
//!   the index `(coll, seq)`; `coll` is the collection's integer key, which
//!   keeps index entries small.
//! - `(coll, obj_id, version_us)` is unique: it deduplicates unchanged
//!   resubmissions, serves `match[id]` and the object endpoints, and answers
//!   "is this the first/last version" with one index probe.
//! - Writes go through one connection behind a mutex, one immediate
//!   transaction per envelope; reads use a small pool of further connections
//!   (WAL lets them proceed during writes).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{params, params_from_iter, Connection, OptionalExtension, ToSql};

use crate::store::{
    Citing, Collection, NewObject, ObjectCounts, ObjectQuery, ObjectRow, Page, Stored, TaxiiStore,
    VersionSel, REQUEST_SOURCE,
};
use crate::{format_timestamp, now_us, TaxiiError};

const MIGRATIONS: &[&str] = &[
    "
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
",
    COUNTS_AND_CITATIONS,
];

/// Object counts and request citations kept beside the objects, so the web
/// interface reads them in one probe rather than scanning a million rows
/// (counting a million index entries takes ~100 ms, reading the citations
/// out of the JSON bodies over a second). `ingest` adds
/// to them in Rust, once per envelope for the counts and only for a body
/// that names `detente-request` for the citations, since a trigger per
/// stored row would slow bulk ingest; deletions, rare, go through triggers.
/// Existing rows are counted once here.
const COUNTS_AND_CITATIONS: &str = "
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

const IDLE_READERS: usize = 8;

pub struct SqliteTaxiiStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

fn open_connection(path: &Path) -> Result<Connection, TaxiiError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // The id index takes random inserts; keeping it cached matters more
    // than memory at a million objects.
    conn.pragma_update(None, "cache_size", -131_072)?;
    conn.pragma_update(None, "mmap_size", 1_073_741_824)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// The writer checkpoints the WAL less often than SQLite's default (1,000
/// pages): random inserts into the id index dirty a page per object, and a
/// larger WAL lets repeated writes to one page reach the database file once.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 16_384;

fn migrate(conn: &mut Connection) -> Result<(), TaxiiError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS taxii_schema (version INTEGER NOT NULL)")?;
    let current: i64 = tx
        .query_row("SELECT MAX(version) FROM taxii_schema", [], |r| {
            r.get::<_, Option<i64>>(0)
        })?
        .unwrap_or(0);
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO taxii_schema (version) VALUES (?1)",
            [i as i64 + 1],
        )?;
    }
    tx.commit()?;
    Ok(())
}

impl SqliteTaxiiStore {
    /// Opens the node database at `path`, creating the `taxii_` tables.
    pub fn open(path: &Path) -> Result<SqliteTaxiiStore, TaxiiError> {
        let mut writer = open_connection(path)?;
        writer.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
        migrate(&mut writer)?;
        Ok(SqliteTaxiiStore {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
        })
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, TaxiiError>,
    ) -> Result<T, TaxiiError> {
        let pooled = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match pooled {
            Some(c) => c,
            None => open_connection(&self.path)?,
        };
        let result = f(&conn);
        let mut idle = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}

fn acl_to_text(list: &[String]) -> String {
    serde_json::to_string(list).expect("string list serializes")
}

fn acl_from_text(text: &str) -> rusqlite::Result<Vec<String>> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn row_to_collection(r: &rusqlite::Row<'_>) -> rusqlite::Result<Collection> {
    Ok(Collection {
        id: r.get(0)?,
        title: r.get(1)?,
        description: r.get(2)?,
        alias: r.get(3)?,
        read: acl_from_text(&r.get::<_, String>(4)?)?,
        write: acl_from_text(&r.get::<_, String>(5)?)?,
        red_recipients: acl_from_text(&r.get::<_, String>(6)?)?,
    })
}

const COLLECTION_COLUMNS: &str =
    "id, title, description, alias, read_acl, write_acl, red_recipients";

/// Builds the WHERE clause and parameters shared by reads and deletes.
struct Sql {
    clause: String,
    params: Vec<Box<dyn ToSql>>,
}

impl Sql {
    fn push(&mut self, fragment: &str, value: Box<dyn ToSql>) {
        self.clause.push_str(fragment);
        self.params.push(value);
        let n = self.params.len();
        self.clause.push_str(&format!("?{n}"));
    }

    fn push_in(&mut self, column: &str, values: &[String]) {
        self.clause.push_str(&format!(" AND {column} IN ("));
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.clause.push(',');
            }
            self.params.push(Box::new(v.clone()));
            self.clause.push_str(&format!("?{}", self.params.len()));
        }
        self.clause.push(')');
    }
}

fn where_clause(q: &ObjectQuery) -> Sql {
    let mut sql = Sql {
        clause: String::new(),
        params: Vec::new(),
    };
    sql.push(
        "o.coll = (SELECT pk FROM taxii_collections WHERE id = ",
        Box::new(q.collection.clone()),
    );
    sql.clause.push(')');
    sql.push(" AND o.seq > ", Box::new(q.after_seq));
    if let Some(id) = &q.object_id {
        sql.push(" AND o.obj_id = ", Box::new(id.clone()));
    }
    if !q.ids.is_empty() {
        sql.push_in("o.obj_id", &q.ids);
    }
    if !q.types.is_empty() {
        sql.push_in("o.obj_type", &q.types);
    }
    if !q.spec_versions.is_empty() {
        sql.push_in("o.spec_version", &q.spec_versions);
    }
    let tlp: Vec<String> = q.tlp.iter().map(i64::to_string).collect();
    sql.clause
        .push_str(&format!(" AND o.tlp IN ({})", tlp.join(",")));
    version_clause(&mut sql, &q.versions);
    sql
}

/// `last`/`first` compare against every stored version of the object, so a
/// newer version added while a client pages supersedes the one it saw.
fn version_clause(sql: &mut Sql, versions: &[VersionSel]) {
    if versions.is_empty() || versions.contains(&VersionSel::All) {
        return;
    }
    let alternatives: Vec<String> = versions
        .iter()
        .map(|v| match v {
            VersionSel::Last => "o.latest = 1".to_string(),
            VersionSel::First => "NOT EXISTS (SELECT 1 FROM taxii_objects n WHERE n.coll = o.coll AND n.obj_id = o.obj_id AND n.version_us < o.version_us)".to_string(),
            VersionSel::At(us) => format!("o.version_us = {us}"),
            VersionSel::All => unreachable!("handled above"),
        })
        .collect();
    sql.clause
        .push_str(&format!(" AND ({})", alternatives.join(" OR ")));
}

/// Lookups by id must walk the id index; left alone, the planner may prefer
/// the seq index for the ORDER BY and scan the whole collection.
fn index_hint(q: &ObjectQuery) -> &'static str {
    if q.object_id.is_some() || !q.ids.is_empty() {
        "INDEXED BY taxii_objects_id"
    } else {
        "INDEXED BY taxii_objects_seq"
    }
}

/// Stores one object version. `latest` marks the newest version of each
/// object so that the default listing (`match[version]=last`) is a plain
/// column test rather than an index probe per row.
fn insert_object(
    tx: &rusqlite::Transaction<'_>,
    collection: i64,
    object: &NewObject,
    seq: i64,
    tally: &mut ObjectCounts,
) -> Result<Stored, TaxiiError> {
    let current: Option<(i64, String)> = tx
        .prepare_cached(
            "SELECT version_us, version FROM taxii_objects
             WHERE coll = ?1 AND obj_id = ?2 ORDER BY version_us DESC LIMIT 1",
        )?
        .query_row(params![collection, object.id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let (version_us, version) = match (object.version_us, &object.version, &current) {
        (Some(us), Some(v), _) => (us, v.clone()),
        // Versionless (SCO): one version, dated by its first submission.
        (_, _, Some((_, existing))) => {
            return Ok(Stored {
                id: object.id.clone(),
                version: existing.clone(),
                inserted: false,
            })
        }
        _ => (seq, format_timestamp(seq)),
    };
    let latest = current.as_ref().is_none_or(|(cur, _)| version_us > *cur);
    let n = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO taxii_objects
             (seq, coll, obj_id, obj_type, spec_version, version_us, version, tlp, latest, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            seq,
            collection,
            object.id,
            object.object_type,
            object.spec_version,
            version_us,
            version,
            object.tlp,
            latest,
            object.body
        ])?;
    if n == 1 {
        tally.versions += 1;
        tally.objects += u64::from(current.is_none());
        if object.body.contains(REQUEST_SOURCE) {
            record_citations(tx, collection, object, seq)?;
        }
    }
    if let (1, true, Some((previous, _))) = (n, latest, &current) {
        tx.prepare_cached(
            "UPDATE taxii_objects SET latest = 0 WHERE coll = ?1 AND obj_id = ?2 AND version_us = ?3",
        )?
        .execute(params![collection, object.id, previous])?;
    }
    Ok(Stored {
        id: object.id.clone(),
        version,
        inserted: n == 1,
    })
}

/// Notes the requests an object version cites (its `detente-request`
/// external references).
fn record_citations(
    tx: &rusqlite::Transaction<'_>,
    collection: i64,
    object: &NewObject,
    seq: i64,
) -> Result<(), TaxiiError> {
    let Ok(body) = serde_json::from_str::<serde_json::Value>(&object.body) else {
        return Ok(());
    };
    let refs = body["external_references"].as_array().into_iter().flatten();
    for r in refs.filter(|r| r["source_name"] == REQUEST_SOURCE) {
        if let Some(request) = r["external_id"].as_str() {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO taxii_cites (coll, request_id, seq, obj_id)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![collection, request, seq, object.id])?;
        }
    }
    Ok(())
}

/// After versions of an object were deleted, its newest remaining version
/// becomes the latest.
fn mark_latest(
    tx: &rusqlite::Transaction<'_>,
    collection: &str,
    obj_id: &str,
) -> Result<(), TaxiiError> {
    tx.prepare_cached(
        "UPDATE taxii_objects SET latest = 1 WHERE seq = (
             SELECT seq FROM taxii_objects
             WHERE coll = (SELECT pk FROM taxii_collections WHERE id = ?1) AND obj_id = ?2
             ORDER BY version_us DESC LIMIT 1)",
    )?
    .execute(params![collection, obj_id])?;
    Ok(())
}

fn last_seq(tx: &rusqlite::Transaction<'_>) -> Result<i64, TaxiiError> {
    let v: Option<i64> = tx
        .prepare_cached("SELECT value FROM taxii_meta WHERE key = 'last_seq'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(v.unwrap_or(0))
}

impl TaxiiStore for SqliteTaxiiStore {
    fn create_collection(&self, c: &Collection) -> Result<(), TaxiiError> {
        let result = self.writer().execute(
            &format!("INSERT INTO taxii_collections ({COLLECTION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
            params![
                c.id,
                c.title,
                c.description,
                c.alias,
                acl_to_text(&c.read),
                acl_to_text(&c.write),
                acl_to_text(&c.red_recipients)
            ],
        );
        match result {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(TaxiiError::Conflict(format!(
                    "a collection with id {} or alias {:?} exists",
                    c.id, c.alias
                )))
            }
            other => other.map(drop).map_err(Into::into),
        }
    }

    fn remove_collection(&self, id: &str) -> Result<(), TaxiiError> {
        let n = self
            .writer()
            .execute("DELETE FROM taxii_collections WHERE id = ?1", [id])?;
        if n == 0 {
            return Err(TaxiiError::NotFound(format!("no collection {id}")));
        }
        Ok(())
    }

    fn collections(&self) -> Result<Vec<Collection>, TaxiiError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLLECTION_COLUMNS} FROM taxii_collections ORDER BY title, id"
            ))?;
            let rows = stmt.query_map([], row_to_collection)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn collection(&self, id_or_alias: &str) -> Result<Option<Collection>, TaxiiError> {
        self.with_reader(|conn| {
            Ok(conn
                .prepare_cached(&format!(
                    "SELECT {COLLECTION_COLUMNS} FROM taxii_collections WHERE id = ?1 OR alias = ?1"
                ))?
                .query_row([id_or_alias], row_to_collection)
                .optional()?)
        })
    }

    fn ingest(
        &self,
        collection: &str,
        objects: &[NewObject],
        status_id: &str,
        owner: &str,
        status: &mut dyn FnMut(&[Stored], i64) -> String,
    ) -> Result<String, TaxiiError> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let coll: i64 = tx
            .prepare_cached("SELECT pk FROM taxii_collections WHERE id = ?1")?
            .query_row([collection], |r| r.get(0))
            .optional()?
            .ok_or_else(|| TaxiiError::NotFound(format!("no collection {collection}")))?;
        let request_us = now_us();
        let mut seq = last_seq(&tx)?.max(request_us - 1);
        let mut results = Vec::with_capacity(objects.len());
        let mut tally = ObjectCounts::default();
        for object in objects {
            seq += 1;
            results.push(insert_object(&tx, coll, object, seq, &mut tally)?);
        }
        tx.prepare_cached(
            "UPDATE taxii_counts SET objects = objects + ?2, versions = versions + ?3
             WHERE coll = ?1",
        )?
        .execute(params![coll, tally.objects as i64, tally.versions as i64])?;
        tx.prepare_cached(
            "INSERT INTO taxii_meta (key, value) VALUES ('last_seq', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        )?
        .execute([seq])?;
        let body = status(&results, request_us);
        tx.prepare_cached(
            "INSERT INTO taxii_status (id, created_us, owner, body) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![status_id, request_us, owner, body])?;
        tx.commit()?;
        Ok(body)
    }

    fn query(&self, q: &ObjectQuery) -> Result<Page, TaxiiError> {
        let sql = where_clause(q);
        let body_col = if q.with_body { "o.body" } else { "NULL" };
        let text = format!(
            "SELECT o.seq, o.obj_id, o.version, {body_col} FROM taxii_objects o {}
             WHERE {} ORDER BY o.seq LIMIT {}",
            index_hint(q),
            sql.clause,
            q.limit + 1
        );
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&text)?;
            let rows = stmt.query_map(params_from_iter(sql.params.iter()), |r| {
                Ok(ObjectRow {
                    seq: r.get(0)?,
                    id: r.get(1)?,
                    version: r.get(2)?,
                    body: r.get(3)?,
                })
            })?;
            let mut rows = rows.collect::<Result<Vec<_>, _>>()?;
            let more = rows.len() > q.limit;
            rows.truncate(q.limit);
            Ok(Page { rows, more })
        })
    }

    fn object_exists(&self, collection: &str, id: &str, tlp: &[i64]) -> Result<bool, TaxiiError> {
        let codes: Vec<String> = tlp.iter().map(i64::to_string).collect();
        let text = format!(
            "SELECT 1 FROM taxii_objects INDEXED BY taxii_objects_id
             WHERE coll = (SELECT pk FROM taxii_collections WHERE id = ?1)
             AND obj_id = ?2 AND tlp IN ({}) LIMIT 1",
            codes.join(",")
        );
        self.with_reader(|conn| {
            Ok(conn
                .prepare_cached(&text)?
                .query_row(params![collection, id], |_| Ok(()))
                .optional()?
                .is_some())
        })
    }

    fn delete(&self, q: &ObjectQuery) -> Result<usize, TaxiiError> {
        // Select first, then delete by seq: "last"/"first" must be judged on
        // the state before any row of this request goes.
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let sql = where_clause(q);
        let doomed: Vec<(i64, String)> = {
            let mut stmt = tx.prepare(&format!(
                "SELECT o.seq, o.obj_id FROM taxii_objects o {} WHERE {}",
                index_hint(q),
                sql.clause
            ))?;
            let rows = stmt.query_map(params_from_iter(sql.params.iter()), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        for (seq, _) in &doomed {
            tx.prepare_cached("DELETE FROM taxii_objects WHERE seq = ?1")?
                .execute([seq])?;
        }
        let touched: std::collections::BTreeSet<&str> =
            doomed.iter().map(|(_, id)| id.as_str()).collect();
        for obj_id in touched {
            mark_latest(&tx, &q.collection, obj_id)?;
        }
        tx.commit()?;
        Ok(doomed.len())
    }

    fn status(&self, id: &str) -> Result<Option<(String, String)>, TaxiiError> {
        self.with_reader(|conn| {
            Ok(conn
                .prepare_cached("SELECT body, owner FROM taxii_status WHERE id = ?1")?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?)
        })
    }

    fn prune_statuses(&self, older_than_us: i64) -> Result<usize, TaxiiError> {
        Ok(self.writer().execute(
            "DELETE FROM taxii_status WHERE created_us < ?1",
            [older_than_us],
        )?)
    }

    fn cursor_key(&self) -> Result<[u8; 32], TaxiiError> {
        let conn = self.writer();
        let existing: Option<Vec<u8>> = conn
            .query_row(
                "SELECT value FROM taxii_meta WHERE key = 'cursor_key'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(key) = existing.and_then(|k| <[u8; 32]>::try_from(k).ok()) {
            return Ok(key);
        }
        let mut key = [0u8; 32];
        getrandom::getrandom(&mut key).map_err(|e| TaxiiError::Internal(e.to_string()))?;
        conn.execute(
            "INSERT OR REPLACE INTO taxii_meta (key, value) VALUES ('cursor_key', ?1)",
            [key.as_slice()],
        )?;
        Ok(key)
    }

    fn counts(&self, collection: &str) -> Result<ObjectCounts, TaxiiError> {
        self.with_reader(|conn| {
            let n: Option<(i64, i64)> = conn
                .prepare_cached(
                    "SELECT n.objects, n.versions FROM taxii_counts n
                     JOIN taxii_collections c ON c.pk = n.coll WHERE c.id = ?1",
                )?
                .query_row([collection], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let (objects, versions) = n.unwrap_or_default();
            Ok(ObjectCounts {
                objects: objects as u64,
                versions: versions as u64,
            })
        })
    }

    fn citing_requests(
        &self,
        collection: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<Citing>, TaxiiError> {
        self.with_reader(|conn| {
            let mut st = conn.prepare_cached(
                "SELECT request_id, COUNT(DISTINCT obj_id) FROM taxii_cites
                 WHERE coll = (SELECT pk FROM taxii_collections WHERE id = ?1)
                 AND request_id > ?2
                 GROUP BY request_id ORDER BY request_id LIMIT ?3",
            )?;
            let rows = st.query_map(params![collection, after, limit as i64], |r| {
                Ok(Citing {
                    request_id: r.get(0)?,
                    objects: r.get::<_, i64>(1)? as u64,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collection(id: &str, alias: Option<&str>) -> Collection {
        Collection {
            id: id.into(),
            title: "t".into(),
            description: None,
            alias: alias.map(String::from),
            read: vec!["*".into()],
            write: vec!["*".into()],
            red_recipients: vec![],
        }
    }

    fn object(id: &str, version_us: Option<i64>) -> NewObject {
        NewObject {
            id: id.into(),
            object_type: "indicator".into(),
            spec_version: "2.1".into(),
            version_us,
            version: version_us.map(|v| v.to_string()),
            tlp: 1,
            body: "{}".into(),
        }
    }

    fn open() -> (tempfile::TempDir, SqliteTaxiiStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteTaxiiStore::open(&dir.path().join("detente.db")).unwrap();
        (dir, store)
    }

    #[test]
    fn duplicate_ids_and_aliases_conflict() {
        let (_d, s) = open();
        s.create_collection(&collection("a", Some("x"))).unwrap();
        assert!(matches!(
            s.create_collection(&collection("a", None)),
            Err(TaxiiError::Conflict(_))
        ));
        assert!(matches!(
            s.create_collection(&collection("b", Some("x"))),
            Err(TaxiiError::Conflict(_))
        ));
        assert_eq!(s.collection("x").unwrap().unwrap().id, "a");
    }

    #[test]
    fn ingest_into_missing_collection_fails_and_stores_nothing() {
        let (_d, s) = open();
        let r = s.ingest(
            "nope",
            &[object("indicator--1", Some(1))],
            "s1",
            "u",
            &mut |_, _| "{}".into(),
        );
        assert!(matches!(r, Err(TaxiiError::NotFound(_))));
        assert_eq!(s.status("s1").unwrap(), None);
    }

    #[test]
    fn sequence_is_strictly_increasing_and_never_reused() {
        let (_d, s) = open();
        s.create_collection(&collection("a", None)).unwrap();
        let all = |n: usize| {
            let objs: Vec<NewObject> = (0..n)
                .map(|i| object(&format!("indicator--{i}"), Some(i as i64 + 1)))
                .collect();
            s.ingest("a", &objs, &format!("s{n}"), "u", &mut |_, _| "{}".into())
                .unwrap();
        };
        all(3);
        let q = ObjectQuery {
            collection: "a".into(),
            object_id: None,
            after_seq: 0,
            ids: vec![],
            types: vec![],
            versions: vec![VersionSel::All],
            spec_versions: vec![],
            tlp: vec![1],
            limit: 100,
            with_body: false,
        };
        let first = s.query(&q).unwrap().rows;
        let max = first.last().unwrap().seq;
        let mut del = q.clone();
        del.object_id = Some("indicator--2".into());
        assert_eq!(s.delete(&del).unwrap(), 1);
        all(5);
        let rows = s
            .query(&ObjectQuery {
                after_seq: max,
                ..q.clone()
            })
            .unwrap()
            .rows;
        // indicator--0 and --1 are unchanged resubmissions; --2 was deleted and
        // comes back; --3 and --4 are new.
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, vec!["indicator--2", "indicator--3", "indicator--4"]);
        let seqs: Vec<i64> = s.query(&q).unwrap().rows.iter().map(|r| r.seq).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn statuses_are_pruned_by_age() {
        let (_d, s) = open();
        s.create_collection(&collection("a", None)).unwrap();
        s.ingest("a", &[], "s1", "u", &mut |_, _| "{}".into())
            .unwrap();
        assert_eq!(s.prune_statuses(0).unwrap(), 0);
        assert!(s.status("s1").unwrap().is_some());
        assert_eq!(s.prune_statuses(now_us() + 1).unwrap(), 1);
        assert!(s.status("s1").unwrap().is_none());
    }

    #[test]
    fn cursor_key_is_stable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("detente.db");
        let k1 = SqliteTaxiiStore::open(&path).unwrap().cursor_key().unwrap();
        let k2 = SqliteTaxiiStore::open(&path).unwrap().cursor_key().unwrap();
        assert_eq!(k1, k2);
    }

    #[test]
    fn counts_and_citations_page_by_request_id() {
        let (_d, s) = open();
        s.create_collection(&collection("a", None)).unwrap();
        s.create_collection(&collection("b", None)).unwrap();
        let cite = |ids: &[&str]| {
            let refs: Vec<_> = ids
                .iter()
                .map(|r| serde_json::json!({ "source_name": REQUEST_SOURCE, "external_id": r }))
                .chain([serde_json::json!({ "source_name": "other", "external_id": "zzz" })])
                .collect();
            serde_json::json!({ "external_references": refs }).to_string()
        };
        let objs = vec![
            NewObject {
                body: cite(&["r2", "r1"]),
                ..object("indicator--1", Some(1))
            },
            NewObject {
                body: cite(&["r2"]),
                ..object("indicator--1", Some(2))
            },
            NewObject {
                body: cite(&["r2", "r3"]),
                ..object("indicator--2", Some(1))
            },
            object("indicator--3", Some(1)),
        ];
        s.ingest("a", &objs, "s1", "u", &mut |_, _| "{}".into())
            .unwrap();
        let c = s.counts("a").unwrap();
        assert_eq!((c.objects, c.versions), (3, 4));
        assert_eq!(s.counts("b").unwrap(), ObjectCounts::default());
        let page = |after: &str| -> Vec<(String, u64)> {
            s.citing_requests("a", after, 2)
                .unwrap()
                .into_iter()
                .map(|c| (c.request_id, c.objects))
                .collect()
        };
        assert_eq!(page(""), [("r1".into(), 1), ("r2".into(), 2)]);
        assert_eq!(page("r2"), [("r3".to_string(), 1)]);
        assert!(s.citing_requests("b", "", 10).unwrap().is_empty());
        // Deleting versions takes them out of both.
        let q = ObjectQuery {
            collection: "a".into(),
            object_id: Some("indicator--2".into()),
            after_seq: 0,
            ids: vec![],
            types: vec![],
            versions: vec![VersionSel::All],
            spec_versions: vec![],
            tlp: vec![1],
            limit: 10,
            with_body: false,
        };
        assert_eq!(s.delete(&q).unwrap(), 1);
        let c = s.counts("a").unwrap();
        assert_eq!((c.objects, c.versions), (2, 3));
        assert_eq!(page("r2"), []);
        assert_eq!(page(""), [("r1".into(), 1), ("r2".into(), 1)]);
        s.remove_collection("a").unwrap();
        assert_eq!(s.counts("a").unwrap(), ObjectCounts::default());
    }
}
