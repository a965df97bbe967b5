//! SQLite implementation of [`detente_storage::LogStore`], the embedded default:
//! one file in the node's data directory, WAL mode, `synchronous=FULL` so that a
//! committed batch survives power loss, one writer connection and a pool of
//! readers so reads never wait for the sequencer's fsync.

use detente_storage::{
    CheckpointRow, EntryRow, Hash, HoldRow, HoldStatus, Integration, LogStore, PeerRow, PeerStore,
    StorageError, StoredText, TransferStore,
};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{params, types::Type, Connection, OptionalExtension};
use std::path::Path;
use std::sync::Mutex;

mod auth;
mod dump;
mod exchange;
mod group;
mod guard;
mod migrate;
mod notify;
mod session;
mod taxii;
mod tree;
#[cfg(test)]
mod upgrade_test;
#[cfg(test)]
mod upgrade_tests;
mod witness;

pub use migrate::SCHEMA_VERSION;

pub struct SqliteStore {
    pub(crate) writer: std::sync::Arc<Mutex<Connection>>,
    /// The Merkle tree, in files beside the database (see [`tree`]).
    tree: tree::TreeFiles,
    pub(crate) group: group::GroupWriter,
    readers: r2d2::Pool<SqliteConnectionManager>,
}

/// `query_row` and `execute` through the connection's statement cache: the
/// exchange runs the same few statements thousands of times a second, and
/// preparing them anew each time cost a tenth of the federation benchmark.
pub(crate) trait Cached {
    fn row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>;
    fn run<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
}

impl Cached for Connection {
    fn row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    fn run<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }
}

pub(crate) fn db_err(e: impl std::fmt::Display) -> StorageError {
    let what = e.to_string();
    // SQLite's fixed text for SQLITE_FULL (sqlite3ErrStr): the callers pass
    // errors of several types, some borrowing, so the code itself cannot be
    // downcast here.
    if what.contains("database or disk is full") {
        return StorageError::Full(what);
    }
    StorageError::Database(what)
}

/// A TEXT column of a closed vocabulary. An unknown spelling fails the row
/// with the `Integrity` error inside, which [`row_err`] takes back out.
pub(crate) fn text<T: StoredText>(r: &rusqlite::Row, i: usize) -> rusqlite::Result<T> {
    let v = r.get_ref(i)?;
    let s = v
        .as_str()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, v.data_type(), Box::new(e)))?;
    T::from_text(s)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, Type::Text, Box::new(e)))
}

/// [`text`] of a nullable column.
pub(crate) fn text_opt<T: StoredText>(r: &rusqlite::Row, i: usize) -> rusqlite::Result<Option<T>> {
    match r.get_ref(i)? {
        rusqlite::types::ValueRef::Null => Ok(None),
        _ => text(r, i).map(Some),
    }
}

/// [`db_err`] for reads through a row mapper that uses [`text`]: a stored
/// value no variant spells is `Integrity`, not a database failure.
pub(crate) fn row_err(e: rusqlite::Error) -> StorageError {
    if let rusqlite::Error::FromSqlConversionFailure(_, _, inner) = &e {
        if let Some(StorageError::Integrity(m)) = inner.downcast_ref::<StorageError>() {
            return StorageError::Integrity(m.clone());
        }
    }
    db_err(e)
}

/// `wal_autocheckpoint` is 16,384 pages (64 MiB of WAL) rather than SQLite's
/// 1,000: with `synchronous=FULL` every checkpoint fsyncs the database file,
/// and random inserts into the TAXII id index dirty a page per object, so a
/// larger WAL lets repeated writes to one page reach the file once (TAXII
/// ingest ran at half the rate with the default).
const PRAGMAS: &str = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
    PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000; PRAGMA cache_size=-16000; \
    PRAGMA wal_autocheckpoint=16384;";

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it; the
    /// tree files live in `tree/` beside it.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let tree = tree::TreeFiles::open(&path.parent().unwrap_or(Path::new(".")).join("tree"))?;
        let mut writer = Connection::open(path).map_err(db_err)?;
        writer.execute_batch(PRAGMAS).map_err(db_err)?;
        migrate::run(&mut writer)?;
        let manager = SqliteConnectionManager::file(path)
            .with_flags(rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_init(|c| c.execute_batch("PRAGMA busy_timeout=10000; PRAGMA cache_size=-8000;"));
        let readers = r2d2::Pool::builder()
            .max_size(8)
            .min_idle(Some(1))
            .build(manager)
            .map_err(db_err)?;
        let writer = std::sync::Arc::new(Mutex::new(writer));
        Ok(SqliteStore {
            group: group::GroupWriter::start(writer.clone()),
            tree,
            writer,
            readers,
        })
    }

    /// Opens from a `sqlite://PATH` URL.
    pub fn open_url(url: &str) -> Result<Self, StorageError> {
        let path = url
            .strip_prefix("sqlite://")
            .ok_or_else(|| StorageError::UnsupportedUrl(url.to_string()))?;
        Self::open(Path::new(path))
    }

    pub(crate) fn reader(
        &self,
    ) -> Result<r2d2::PooledConnection<SqliteConnectionManager>, StorageError> {
        self.readers.get().map_err(db_err)
    }

    /// Inserts request summaries directly, for the report benchmark only: real
    /// nodes write them with each event.
    pub fn insert_summaries_raw(
        &self,
        rows: &[detente_storage::RequestRow],
    ) -> Result<(), StorageError> {
        let mut w = self.writer.lock().map_err(db_err)?;
        let tx = w.transaction().map_err(db_err)?;
        exchange::insert_summaries(&tx, rows)?;
        tx.commit().map_err(db_err)
    }

    /// Inserts rows with no log machinery at all. Only for the benchmark that
    /// measures what storing the rows costs by itself.
    pub fn insert_rows_raw(&self, entries: &[EntryRow]) -> Result<(), StorageError> {
        let mut w = self.writer.lock().map_err(db_err)?;
        let tx = w.transaction().map_err(db_err)?;
        insert_entries(&tx, entries)?;
        tx.commit().map_err(db_err)
    }
}

fn insert_entries(tx: &rusqlite::Transaction, entries: &[EntryRow]) -> Result<(), StorageError> {
    let mut st = tx
        .prepare_cached(
            "INSERT INTO entries (idx, digest, kind, time, envelope) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(db_err)?;
    for e in entries {
        st.execute(params![
            e.index as i64,
            &e.digest[..],
            e.kind,
            e.time,
            e.envelope
        ])
        .map_err(db_err)?;
    }
    Ok(())
}

fn row_to_entry(r: &rusqlite::Row) -> rusqlite::Result<EntryRow> {
    let digest: Vec<u8> = r.get(1)?;
    Ok(EntryRow {
        index: r.get::<_, i64>(0)? as u64,
        digest: digest.try_into().unwrap_or([0; 32]),
        kind: r.get(2)?,
        time: r.get(3)?,
        envelope: r.get(4)?,
    })
}

/// Served by the partial index `entries_exchange_digest` (migration 011).
const EXCHANGE_ENTRY: &str =
    "SELECT idx FROM entries WHERE digest = ?1 AND kind GLOB 'request.*' LIMIT 1";

/// Walks the same index in digest order (no temporary table).
const REPEATED_EXCHANGE_ENTRIES: &str =
    "SELECT digest, group_concat(idx) FROM entries WHERE kind GLOB 'request.*' \
     GROUP BY digest HAVING count(*) > 1 LIMIT ?1";

impl LogStore for SqliteStore {
    fn entry_count(&self) -> Result<u64, StorageError> {
        let c = self.reader()?;
        let max: Option<i64> = c
            .row("SELECT max(idx) FROM entries", [], |r| r.get(0))
            .map_err(db_err)?;
        Ok(max.map_or(0, |m| m as u64 + 1))
    }

    fn integrate(
        &self,
        build: &mut dyn FnMut(u64) -> Result<Option<Integration>, StorageError>,
    ) -> Result<Option<Integration>, StorageError> {
        // The writer's lock is the head lock: one process owns the file.
        let mut w = self.writer.lock().map_err(db_err)?;
        let max: Option<i64> = w
            .row("SELECT max(idx) FROM entries", [], |r| r.get(0))
            .map_err(db_err)?;
        let Some(batch) = build(max.map_or(0, |m| m as u64 + 1))? else {
            return Ok(None);
        };
        batch.check(max.map_or(0, |m| m as u64 + 1))?;
        let tx = w.transaction().map_err(db_err)?;
        insert_entries(&tx, &batch.entries)?;
        tx.prepare_cached("INSERT INTO checkpoints (size, note) VALUES (?1, ?2)")
            .and_then(|mut st| {
                st.execute(params![batch.checkpoint.size as i64, batch.checkpoint.note])
            })
            .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        // Durable from here on, so the batch is reported committed whatever
        // the files say: they are derived, kept as a backlog written again
        // before any read, and repaired at open.
        if let Err(e) = self.tree.write(&batch.nodes) {
            tracing::warn!(error = %e, "tree files behind the database; written again later");
        }
        Ok(Some(batch))
    }

    fn tree_nodes(&self, level: u8, index: u64, count: u64) -> Result<Vec<u8>, StorageError> {
        self.tree.read_range(level, index, count)
    }

    fn repair_tree(&self, size: u64, root: &Hash) -> Result<u64, StorageError> {
        self.tree.reconcile(self, size, root)
    }

    fn digests(&self, start: u64, end: u64) -> Result<Vec<Hash>, StorageError> {
        let c = self.reader()?;
        let mut st = c
            .prepare_cached("SELECT digest FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx")
            .map_err(db_err)?;
        let rows = st
            .query_map(params![start as i64, end as i64], |r| {
                r.get::<_, Vec<u8>>(0)
            })
            .map_err(db_err)?;
        rows.map(|d| {
            d.map_err(db_err)?
                .try_into()
                .map_err(|_| StorageError::Integrity("digest is not 32 bytes".into()))
        })
        .collect()
    }

    fn entry(&self, index: u64) -> Result<Option<EntryRow>, StorageError> {
        let c = self.reader()?;
        c.row(
            "SELECT idx, digest, kind, time, envelope FROM entries WHERE idx = ?1",
            [index as i64],
            row_to_entry,
        )
        .optional()
        .map_err(db_err)
    }

    fn exchange_entry(&self, digest: &Hash) -> Result<Option<u64>, StorageError> {
        let c = self.reader()?;
        c.row(EXCHANGE_ENTRY, [&digest[..]], |r| r.get::<_, i64>(0))
            .optional()
            .map(|i| i.map(|i| i as u64))
            .map_err(db_err)
    }

    fn repeated_exchange_entries(&self, limit: u64) -> Result<Vec<(Hash, Vec<u64>)>, StorageError> {
        let c = self.reader()?;
        let mut st = c
            .prepare_cached(REPEATED_EXCHANGE_ENTRIES)
            .map_err(db_err)?;
        let rows = st
            .query_map([limit as i64], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(db_err)?;
        rows.map(|row| {
            let (digest, at) = row.map_err(db_err)?;
            let digest = digest
                .try_into()
                .map_err(|_| StorageError::Integrity("digest is not 32 bytes".into()))?;
            let at = at.split(',').filter_map(|i| i.parse().ok()).collect();
            Ok((digest, at))
        })
        .collect()
    }

    fn scan_entries(
        &self,
        start: u64,
        visit: &mut dyn FnMut(EntryRow) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        let c = self.reader()?;
        let mut st = c
            .prepare_cached("SELECT idx, digest, kind, time, envelope FROM entries WHERE idx >= ?1 ORDER BY idx")
            .map_err(db_err)?;
        let mut rows = st.query([start as i64]).map_err(db_err)?;
        while let Some(r) = rows.next().map_err(db_err)? {
            visit(row_to_entry(r).map_err(db_err)?)?;
        }
        Ok(())
    }

    fn latest_checkpoint(&self) -> Result<Option<CheckpointRow>, StorageError> {
        let c = self.reader()?;
        c.row(
            "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1",
            [],
            |r| {
                Ok(CheckpointRow {
                    size: r.get::<_, i64>(0)? as u64,
                    note: r.get(1)?,
                })
            },
        )
        .optional()
        .map_err(db_err)
    }

    fn scan_checkpoints(
        &self,
        visit: &mut dyn FnMut(CheckpointRow) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        let c = self.reader()?;
        let mut st = c
            .prepare_cached("SELECT size, note FROM checkpoints ORDER BY size")
            .map_err(db_err)?;
        let mut rows = st.query([]).map_err(db_err)?;
        while let Some(r) = rows.next().map_err(db_err)? {
            visit(CheckpointRow {
                size: r.get::<_, i64>(0).map_err(db_err)? as u64,
                note: r.get(1).map_err(db_err)?,
            })?;
        }
        Ok(())
    }
}

fn row_to_hold(r: &rusqlite::Row) -> rusqlite::Result<HoldRow> {
    Ok(HoldRow {
        id: r.get(0)?,
        recipient: r.get(1)?,
        country: r.get(2)?,
        subject: r.get(3)?,
        decision: r.get(4)?,
        status: text(r, 5)?,
        created: r.get(6)?,
        resolved_by: r.get(7)?,
        reason: r.get(8)?,
        requested_by: r.get(9)?,
        payload: r.get(10)?,
        released_at: r.get(11)?,
    })
}

const HOLD_COLUMNS: &str =
    "id, recipient, country, subject, decision, status, created, resolved_by, reason, \
     requested_by, payload, released_at";

impl TransferStore for SqliteStore {
    fn record_volume(
        &self,
        recipient: &str,
        category: &str,
        count: u64,
        at: &str,
    ) -> Result<(), StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        w.run(
            "INSERT INTO gate_volumes (recipient, category, count, at) VALUES (?1, ?2, ?3, ?4)",
            params![recipient, category, count as i64, at],
        )
        .map_err(db_err)?;
        Ok(())
    }

    fn prior_volume(
        &self,
        recipient: &str,
        category: &str,
        since: &str,
    ) -> Result<u64, StorageError> {
        let c = self.reader()?;
        let sum: i64 = c
            .row(
                "SELECT coalesce(sum(count), 0) FROM gate_volumes WHERE recipient = ?1 AND category = ?2 AND at >= ?3",
                params![recipient, category, since],
                |r| r.get(0),
            )
            .map_err(db_err)?;
        Ok(sum as u64)
    }

    fn hold(&self, h: &HoldRow) -> Result<HoldRow, StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        w.run(
            "INSERT INTO gate_holds (id, recipient, country, subject, decision, status, created, requested_by, payload) \
             VALUES (?1, ?2, ?3, ?4, ?5, 'held', ?6, ?7, ?8) ON CONFLICT (recipient, subject) DO NOTHING",
            params![
                h.id,
                h.recipient,
                h.country,
                h.subject,
                h.decision,
                h.created,
                h.requested_by,
                h.payload
            ],
        )
        .map_err(db_err)?;
        w.row(
            &format!("SELECT {HOLD_COLUMNS} FROM gate_holds WHERE recipient = ?1 AND subject = ?2"),
            params![h.recipient, h.subject],
            row_to_hold,
        )
        .map_err(row_err)
    }

    fn holds(&self, status: Option<HoldStatus>) -> Result<Vec<HoldRow>, StorageError> {
        let c = self.reader()?;
        let mut st = c
            .prepare_cached(&format!(
                "SELECT {HOLD_COLUMNS} FROM gate_holds WHERE ?1 IS NULL OR status = ?1 ORDER BY created"
            ))
            .map_err(db_err)?;
        let rows = st
            .query_map([status.map(HoldStatus::as_str)], row_to_hold)
            .map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(row_err)
    }

    fn find_hold(&self, recipient: &str, subject: &str) -> Result<Option<HoldRow>, StorageError> {
        let c = self.reader()?;
        c.row(
            &format!("SELECT {HOLD_COLUMNS} FROM gate_holds WHERE recipient = ?1 AND subject = ?2"),
            params![recipient, subject],
            row_to_hold,
        )
        .optional()
        .map_err(row_err)
    }

    fn resolve_hold(
        &self,
        id: &str,
        status: HoldStatus,
        by: &str,
        reason: &str,
    ) -> Result<Option<HoldRow>, StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        let changed = w
            .run(
                "UPDATE gate_holds SET status = ?2, resolved_by = ?3, reason = ?4 WHERE id = ?1 AND status = 'held'",
                params![id, status.as_str(), by, reason],
            )
            .map_err(db_err)?;
        if changed == 0 {
            return Ok(None);
        }
        w.row(
            &format!("SELECT {HOLD_COLUMNS} FROM gate_holds WHERE id = ?1"),
            [id],
            row_to_hold,
        )
        .optional()
        .map_err(row_err)
    }

    fn hold_by_id(&self, id: &str) -> Result<Option<HoldRow>, StorageError> {
        let c = self.reader()?;
        c.row(
            &format!("SELECT {HOLD_COLUMNS} FROM gate_holds WHERE id = ?1"),
            [id],
            row_to_hold,
        )
        .optional()
        .map_err(row_err)
    }

    fn release_hold(&self, id: &str, at: &str) -> Result<bool, StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        let changed = w
            .run(
                "UPDATE gate_holds SET released_at = ?2 WHERE id = ?1 AND status = 'approved' AND released_at IS NULL",
                params![id, at],
            )
            .map_err(db_err)?;
        Ok(changed == 1)
    }

    fn decision(&self, recipient: &str, subject: &str) -> Result<Option<String>, StorageError> {
        let c = self.reader()?;
        c.row(
            "SELECT action FROM gate_decisions WHERE recipient = ?1 AND subject = ?2",
            params![recipient, subject],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)
    }

    fn commit_transfer(
        &self,
        recipient: &str,
        subject: &str,
        decision: Option<&str>,
        volumes: &[(&str, u64)],
        at: &str,
    ) -> Result<(), StorageError> {
        let mut w = self.writer.lock().map_err(db_err)?;
        let tx = w.transaction().map_err(db_err)?;
        for (category, count) in volumes {
            tx.run(
                "INSERT INTO gate_volumes (recipient, category, count, at) VALUES (?1, ?2, ?3, ?4)",
                params![recipient, category, *count as i64, at],
            )
            .map_err(db_err)?;
        }
        if let Some(action) = decision {
            tx.run(
                "INSERT INTO gate_decisions (recipient, subject, action, at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (recipient, subject) DO NOTHING",
                params![recipient, subject, action, at],
            )
            .map_err(db_err)?;
        }
        tx.commit().map_err(db_err)
    }
}

fn row_to_peer(r: &rusqlite::Row) -> rusqlite::Result<PeerRow> {
    Ok(PeerRow {
        origin: r.get(0)?,
        url: r.get(1)?,
        key: r.get(2)?,
        country: r.get(3)?,
        added: r.get(4)?,
    })
}

impl PeerStore for SqliteStore {
    fn add_peer(&self, p: &PeerRow) -> Result<bool, StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        let n = w
            .run(
                "INSERT INTO peers (origin, url, key, country, added) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (origin) DO NOTHING",
                params![p.origin, p.url, p.key, p.country, p.added],
            )
            .map_err(db_err)?;
        Ok(n == 1)
    }

    fn peer(&self, origin: &str) -> Result<Option<PeerRow>, StorageError> {
        let c = self.reader()?;
        c.row(
            "SELECT origin, url, key, country, added FROM peers WHERE origin = ?1",
            [origin],
            row_to_peer,
        )
        .optional()
        .map_err(db_err)
    }

    fn peers(&self) -> Result<Vec<PeerRow>, StorageError> {
        let c = self.reader()?;
        let mut st = c
            .prepare_cached("SELECT origin, url, key, country, added FROM peers ORDER BY origin")
            .map_err(db_err)?;
        let rows = st.query_map([], row_to_peer).map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)
    }

    fn remove_peer(&self, origin: &str) -> Result<bool, StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        Ok(w.run("DELETE FROM peers WHERE origin = ?1", [origin])
            .map_err(db_err)?
            == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_survives_reopen_and_lost_tree_files_are_rebuilt() {
        use detente_storage::conformance::{append, entry};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let root = {
            let s = SqliteStore::open(&path).unwrap();
            append(&s, 300, &entry);
            detente_log::merkle::root(&detente_storage::StoredTree(&s), 300).unwrap()
        };
        // The files are not fsynced: a power loss may take the newest pages.
        let level0 = dir.path().join("tree").join("level-00");
        std::fs::OpenOptions::new()
            .write(true)
            .open(&level0)
            .unwrap()
            .set_len(100 * 32)
            .unwrap();
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.head().unwrap().0, 300);
        assert_eq!(s.repair_tree(300, &root).unwrap(), 100);
        assert_eq!(
            detente_log::merkle::root(&detente_storage::StoredTree(&s), 300).unwrap(),
            root
        );
        assert_eq!(s.entry(1).unwrap().unwrap(), entry(1));
    }

    #[test]
    fn url_scheme_selects_backend() {
        assert!(matches!(
            SqliteStore::open_url("postgres://x").err(),
            Some(StorageError::UnsupportedUrl(_))
        ));
    }

    #[test]
    fn passes_the_conformance_checks() {
        let dir = tempfile::tempdir().unwrap();
        let n = std::sync::atomic::AtomicU32::new(0);
        detente_storage::conformance::run(&|| {
            let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Box::new(SqliteStore::open(&dir.path().join(format!("t{i}.db"))).unwrap())
        });
    }

    #[test]
    fn unknown_stored_values_are_integrity_errors() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        let w = s.writer.clone();
        detente_storage::conformance::unknown_stored_values_are_integrity_errors(&s, &|sql| {
            // As a database written by another program could be.
            let c = w.lock().unwrap();
            c.execute_batch("PRAGMA ignore_check_constraints = ON")
                .unwrap();
            c.execute_batch(sql).unwrap();
            c.execute_batch("PRAGMA ignore_check_constraints = OFF")
                .unwrap();
        });
    }

    #[test]
    fn exchange_lookups_use_their_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        let c = s.reader().unwrap();
        let plan: String = c
            .query_row(
                &format!("EXPLAIN QUERY PLAN {EXCHANGE_ENTRY}"),
                [&[1u8; 32][..]],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("entries_exchange_digest"), "{plan}");
        let plan: Vec<String> = c
            .prepare(&format!("EXPLAIN QUERY PLAN {REPEATED_EXCHANGE_ENTRIES}"))
            .unwrap()
            .query_map([10], |r| r.get(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(plan.iter().all(|p| !p.contains("TEMP B-TREE")), "{plan:?}");
    }
}
