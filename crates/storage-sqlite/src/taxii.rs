//! [`TaxiiStore`] in the node's database (tables of migration 018).
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
//! - Object counts and request citations are kept beside the objects
//!   (`taxii_counts`, `taxii_cites`), so the web interface reads them in one
//!   probe; `ingest` adds to them once per envelope, deletions go through
//!   triggers.

use crate::{db_err, SqliteStore};
use detente_storage::taxii::{
    format_timestamp, Citing, Collection, NewObject, ObjectCounts, ObjectQuery, ObjectRow, Page,
    Stored, TaxiiStore, VersionSel,
};
use detente_storage::StorageError;
use rusqlite::{params, params_from_iter, OptionalExtension, ToSql, Transaction};

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
    sql.clause
        .push_str(&format!(" AND o.tlp IN ({})", codes(&q.tlp)));
    version_clause(&mut sql, &q.versions);
    sql
}

/// TLP codes inlined as integers (they are `i64`, nothing to escape).
fn codes(tlp: &[i64]) -> String {
    let codes: Vec<String> = tlp.iter().map(i64::to_string).collect();
    codes.join(",")
}

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

fn now_us() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
}

/// Stores one object version. `latest` marks the newest version of each
/// object so that the default listing (`match[version]=last`) is a plain
/// column test rather than an index probe per row.
fn insert_object(
    tx: &Transaction<'_>,
    collection: i64,
    object: &NewObject,
    seq: i64,
    tally: &mut ObjectCounts,
) -> rusqlite::Result<Stored> {
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
        for request in &object.cites {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO taxii_cites (coll, request_id, seq, obj_id)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![collection, request, seq, object.id])?;
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

/// After versions of an object were deleted, its newest remaining version
/// becomes the latest.
fn mark_latest(tx: &Transaction<'_>, collection: &str, obj_id: &str) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE taxii_objects SET latest = 1 WHERE seq = (
             SELECT seq FROM taxii_objects
             WHERE coll = (SELECT pk FROM taxii_collections WHERE id = ?1) AND obj_id = ?2
             ORDER BY version_us DESC LIMIT 1)",
    )?
    .execute(params![collection, obj_id])?;
    Ok(())
}

fn last_seq(tx: &Transaction<'_>) -> rusqlite::Result<i64> {
    let v: Option<i64> = tx
        .prepare_cached("SELECT value FROM taxii_meta WHERE key = 'last_seq'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(v.unwrap_or(0))
}

/// The envelope's transaction: objects, counts, sequence and status.
fn ingest_tx(
    tx: &Transaction<'_>,
    collection: &str,
    objects: &[NewObject],
    (status_id, owner): (&str, &str),
    status: &mut dyn FnMut(&[Stored], i64) -> String,
) -> rusqlite::Result<Option<String>> {
    let Some(coll) = tx
        .prepare_cached("SELECT pk FROM taxii_collections WHERE id = ?1")?
        .query_row([collection], |r| r.get::<_, i64>(0))
        .optional()?
    else {
        return Ok(None);
    };
    let request_us = now_us();
    let mut seq = last_seq(tx)?.max(request_us - 1);
    let mut results = Vec::with_capacity(objects.len());
    let mut tally = ObjectCounts::default();
    for object in objects {
        seq += 1;
        results.push(insert_object(tx, coll, object, seq, &mut tally)?);
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
    Ok(Some(body))
}

/// Selects first, then deletes by seq: "last"/"first" must be judged on the
/// state before any row of this request goes.
fn delete_tx(tx: &Transaction<'_>, q: &ObjectQuery) -> rusqlite::Result<usize> {
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
        mark_latest(tx, &q.collection, obj_id)?;
    }
    Ok(doomed.len())
}

fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

impl TaxiiStore for SqliteStore {
    fn create_collection(&self, c: &Collection) -> Result<(), StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        let result = w.execute(
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
            Err(e) if is_constraint(&e) => Err(StorageError::Conflict(format!(
                "a collection with id {} or alias {:?} exists",
                c.id, c.alias
            ))),
            other => other.map(drop).map_err(db_err),
        }
    }

    fn remove_collection(&self, id: &str) -> Result<bool, StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        let n = w
            .execute("DELETE FROM taxii_collections WHERE id = ?1", [id])
            .map_err(db_err)?;
        Ok(n > 0)
    }

    fn collections(&self) -> Result<Vec<Collection>, StorageError> {
        let c = self.reader()?;
        let mut stmt = c
            .prepare_cached(&format!(
                "SELECT {COLLECTION_COLUMNS} FROM taxii_collections ORDER BY title, id"
            ))
            .map_err(db_err)?;
        let rows = stmt.query_map([], row_to_collection).map_err(db_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
    }

    fn collection(&self, id_or_alias: &str) -> Result<Option<Collection>, StorageError> {
        let c = self.reader()?;
        c.prepare_cached(&format!(
            "SELECT {COLLECTION_COLUMNS} FROM taxii_collections WHERE id = ?1 OR alias = ?1"
        ))
        .and_then(|mut st| st.query_row([id_or_alias], row_to_collection).optional())
        .map_err(db_err)
    }

    fn ingest(
        &self,
        collection: &str,
        objects: &[NewObject],
        status_id: &str,
        owner: &str,
        status: &mut dyn FnMut(&[Stored], i64) -> String,
    ) -> Result<Option<String>, StorageError> {
        let mut w = self.writer.lock().map_err(db_err)?;
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db_err)?;
        let body =
            ingest_tx(&tx, collection, objects, (status_id, owner), status).map_err(db_err)?;
        if body.is_some() {
            tx.commit().map_err(db_err)?;
        }
        Ok(body)
    }

    fn query_objects(&self, q: &ObjectQuery) -> Result<Page, StorageError> {
        let sql = where_clause(q);
        let body_col = if q.with_body { "o.body" } else { "NULL" };
        let text = format!(
            "SELECT o.seq, o.obj_id, o.version, {body_col} FROM taxii_objects o {}
             WHERE {} ORDER BY o.seq LIMIT {}",
            index_hint(q),
            sql.clause,
            q.limit + 1
        );
        let c = self.reader()?;
        let mut stmt = c.prepare_cached(&text).map_err(db_err)?;
        let rows = stmt
            .query_map(params_from_iter(sql.params.iter()), |r| {
                Ok(ObjectRow {
                    seq: r.get(0)?,
                    id: r.get(1)?,
                    version: r.get(2)?,
                    body: r.get(3)?,
                })
            })
            .map_err(db_err)?;
        let mut rows = rows.collect::<Result<Vec<_>, _>>().map_err(db_err)?;
        let more = rows.len() > q.limit;
        rows.truncate(q.limit);
        Ok(Page { rows, more })
    }

    fn object_exists(&self, collection: &str, id: &str, tlp: &[i64]) -> Result<bool, StorageError> {
        let text = format!(
            "SELECT 1 FROM taxii_objects INDEXED BY taxii_objects_id
             WHERE coll = (SELECT pk FROM taxii_collections WHERE id = ?1)
             AND obj_id = ?2 AND tlp IN ({}) LIMIT 1",
            codes(tlp)
        );
        let c = self.reader()?;
        c.prepare_cached(&text)
            .and_then(|mut st| st.query_row(params![collection, id], |_| Ok(())).optional())
            .map(|found| found.is_some())
            .map_err(db_err)
    }

    fn delete_objects(&self, q: &ObjectQuery) -> Result<usize, StorageError> {
        let mut w = self.writer.lock().map_err(db_err)?;
        let tx = w
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db_err)?;
        let n = delete_tx(&tx, q).map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(n)
    }

    fn taxii_status(&self, id: &str) -> Result<Option<(String, String)>, StorageError> {
        let c = self.reader()?;
        c.prepare_cached("SELECT body, owner FROM taxii_status WHERE id = ?1")
            .and_then(|mut st| {
                st.query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(db_err)
    }

    fn prune_statuses(&self, older_than_us: i64) -> Result<usize, StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        w.execute(
            "DELETE FROM taxii_status WHERE created_us < ?1",
            [older_than_us],
        )
        .map_err(db_err)
    }

    fn cursor_key(&self, fresh: [u8; 32]) -> Result<[u8; 32], StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        w.execute(
            "INSERT INTO taxii_meta (key, value) VALUES ('cursor_key', ?1)
             ON CONFLICT (key) DO NOTHING",
            [fresh.as_slice()],
        )
        .map_err(db_err)?;
        let key: Vec<u8> = w
            .query_row(
                "SELECT value FROM taxii_meta WHERE key = 'cursor_key'",
                [],
                |r| r.get(0),
            )
            .map_err(db_err)?;
        key.try_into()
            .map_err(|_| StorageError::Integrity("the TAXII cursor key is not 32 bytes".into()))
    }

    fn object_counts(&self, collection: &str) -> Result<ObjectCounts, StorageError> {
        let c = self.reader()?;
        let n: Option<(i64, i64)> = c
            .prepare_cached(
                "SELECT n.objects, n.versions FROM taxii_counts n
                 JOIN taxii_collections c ON c.pk = n.coll WHERE c.id = ?1",
            )
            .and_then(|mut st| {
                st.query_row([collection], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(db_err)?;
        let (objects, versions) = n.unwrap_or_default();
        Ok(ObjectCounts {
            objects: objects as u64,
            versions: versions as u64,
        })
    }

    fn citing_requests(
        &self,
        collection: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<Citing>, StorageError> {
        let c = self.reader()?;
        let mut st = c
            .prepare_cached(
                "SELECT request_id, COUNT(DISTINCT obj_id) FROM taxii_cites
                 WHERE coll = (SELECT pk FROM taxii_collections WHERE id = ?1)
                 AND request_id > ?2
                 GROUP BY request_id ORDER BY request_id LIMIT ?3",
            )
            .map_err(db_err)?;
        let rows = st
            .query_map(params![collection, after, limit as i64], |r| {
                Ok(Citing {
                    request_id: r.get(0)?,
                    objects: r.get::<_, i64>(1)? as u64,
                })
            })
            .map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)
    }
}
