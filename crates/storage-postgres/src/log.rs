//! The transparency log's entries and checkpoints.

use crate::sql::Db;
use crate::tree::write_nodes_async;
use crate::{hash, wait, PgStore};
use detente_storage::{
    CheckpointRow, EntryRow, Hash, Integration, LogStore, StorageError, Topic, Wakeups,
};
use tokio_postgres::Row;

const ENTRY_COLUMNS: &str = "idx, digest, kind, time, envelope";

fn entry_row(r: &Row) -> Result<EntryRow, StorageError> {
    Ok(EntryRow {
        index: r.get::<_, i64>(0) as u64,
        digest: hash(r.get(1))?,
        kind: r.get(2),
        time: r.get(3),
        envelope: r.get(4),
    })
}

/// One statement for a whole batch: the rows travel as five arrays, so a
/// batch of hundreds costs one round trip.
const INSERT_ENTRIES: &str = "INSERT INTO entries (idx, digest, kind, time, envelope) \
     SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::text[], $4::text[], $5::bytea[])";

pub(crate) async fn insert_entries(
    c: &impl crate::sql::Db,
    entries: &[EntryRow],
) -> Result<u64, tokio_postgres::Error> {
    let idx: Vec<i64> = entries.iter().map(|e| e.index as i64).collect();
    let digest: Vec<&[u8]> = entries.iter().map(|e| &e.digest[..]).collect();
    let kind: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    let time: Vec<&str> = entries.iter().map(|e| e.time.as_str()).collect();
    let envelope: Vec<&[u8]> = entries.iter().map(|e| e.envelope.as_slice()).collect();
    c.execute(INSERT_ENTRIES, &[&idx, &digest, &kind, &time, &envelope])
        .await
}

impl PgStore {
    /// Inserts rows with no log machinery at all. Only for the benchmark that
    /// measures what storing the rows costs by itself.
    pub fn insert_rows_raw(&self, entries: &[EntryRow]) -> Result<(), StorageError> {
        let c = self.pool.get()?;
        wait(insert_entries(&c, entries)).map(drop)
    }
}

impl LogStore for PgStore {
    fn entry_count(&self) -> Result<u64, StorageError> {
        let c = self.pool.get()?;
        let max: Option<i64> = wait(c.query_one("SELECT max(idx) FROM entries", &[]))?.get(0);
        Ok(max.map_or(0, |m| m as u64 + 1))
    }

    fn integrate(
        &self,
        build: &mut dyn FnMut(u64) -> Result<Option<Integration>, StorageError>,
    ) -> Result<Option<Integration>, StorageError> {
        let mut c = self.pool.get()?;
        let tx = wait(c.transaction())?;
        // The head lock: whichever replica holds it sequences, integrates and
        // signs, on the size every earlier commit left.
        let size = wait(tx.query_one("SELECT size FROM log_head FOR UPDATE", &[]))?.get::<_, i64>(0)
            as u64;
        let Some(batch) = build(size)? else {
            return Ok(None);
        };
        batch.check(size)?;
        let end = batch.checkpoint.size;
        // All four sent at once (they touch different tables, so their order
        // does not matter), answered in one round trip.
        let end = end as i64;
        let (_, tree, _, _) = wait(async {
            futures::try_join!(
                insert_entries(&tx, &batch.entries),
                write_nodes_async(&tx, &batch.nodes),
                async {
                    let sql = "INSERT INTO checkpoints (size, note) VALUES ($1, $2)";
                    tx.execute(sql, &[&end, &batch.checkpoint.note]).await
                },
                // The NOTIFY rides on the head's update and reaches the other
                // replicas only if this commits.
                async {
                    let sql = "WITH head AS (UPDATE log_head SET size = $1 RETURNING size) \
                               SELECT pg_notify('detente_log', size::text) FROM head";
                    tx.execute(sql, &[&end]).await
                },
            )
        })?;
        tree?;
        wait(tx.commit())?;
        Ok(Some(batch))
    }

    fn head(&self) -> Result<(u64, Option<CheckpointRow>), StorageError> {
        let c = self.pool.get()?;
        let r = wait(c.query_one(
            "SELECT (SELECT max(idx) FROM entries), c.size, c.note FROM \
             (SELECT 1) AS one LEFT JOIN LATERAL \
             (SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1) AS c ON TRUE",
            &[],
        ))?;
        let count = r.get::<_, Option<i64>>(0).map_or(0, |m| m as u64 + 1);
        let cp = r.get::<_, Option<i64>>(1).map(|size| CheckpointRow {
            size: size as u64,
            note: r.get(2),
        });
        Ok((count, cp))
    }

    fn shared(&self) -> bool {
        true
    }

    fn subscribe(&self, topic: Topic) -> Result<Option<Wakeups>, StorageError> {
        self.wakeups(topic)
    }

    fn lead(&self) -> Result<bool, StorageError> {
        self.leads()
    }

    fn try_lock_shared(&self, key: u32) -> Result<detente_storage::SharedLock, StorageError> {
        self.try_lock(key)
    }

    fn unlock_shared(&self, key: u32, epoch: u64) -> Result<(), StorageError> {
        self.unlock(key, epoch)
    }

    fn tree_nodes(&self, level: u8, index: u64, count: u64) -> Result<Vec<u8>, StorageError> {
        self.read_nodes(level, index, count)
    }

    fn repair_tree(&self, size: u64, root: &Hash) -> Result<u64, StorageError> {
        self.repair(size, root)
    }

    fn digests(&self, start: u64, end: u64) -> Result<Vec<Hash>, StorageError> {
        let c = self.pool.get()?;
        let rows = wait(c.query(
            "SELECT digest FROM entries WHERE idx >= $1 AND idx < $2 ORDER BY idx",
            &[&(start as i64), &(end.min(i64::MAX as u64) as i64)],
        ))?;
        rows.into_iter().map(|r| hash(r.get(0))).collect()
    }

    fn entry(&self, index: u64) -> Result<Option<EntryRow>, StorageError> {
        let c = self.pool.get()?;
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE idx = $1");
        wait(c.query_opt(&sql, &[&(index as i64)]))?
            .as_ref()
            .map(entry_row)
            .transpose()
    }

    fn exchange_entry(&self, digest: &Hash) -> Result<Option<u64>, StorageError> {
        let c = self.pool.get()?;
        // Served by the partial index `entries_exchange_digest`.
        let row = wait(c.query_opt(
            "SELECT idx FROM entries WHERE digest = $1 AND kind LIKE 'request.%' LIMIT 1",
            &[&&digest[..]],
        ))?;
        Ok(row.map(|r| r.get::<_, i64>(0) as u64))
    }

    fn exchange_entries(
        &self,
        digests: &[Hash],
    ) -> Result<std::collections::HashMap<Hash, u64>, StorageError> {
        if digests.is_empty() {
            return Ok(Default::default());
        }
        let c = self.pool.get()?;
        let digests: Vec<&[u8]> = digests.iter().map(|d| &d[..]).collect();
        let rows = wait(c.query(
            "SELECT digest, min(idx) FROM entries WHERE digest = ANY($1) AND kind LIKE 'request.%' \
             GROUP BY digest",
            &[&digests],
        ))?;
        rows.into_iter()
            .map(|r| Ok((crate::hash(r.get(0))?, r.get::<_, i64>(1) as u64)))
            .collect()
    }

    fn repeated_exchange_entries(&self, limit: u64) -> Result<Vec<(Hash, Vec<u64>)>, StorageError> {
        let c = self.pool.get()?;
        let rows = wait(c.query(
            "SELECT digest, array_agg(idx ORDER BY idx) FROM entries WHERE kind LIKE 'request.%' \
             GROUP BY digest HAVING count(*) > 1 LIMIT $1",
            &[&(limit.min(i64::MAX as u64) as i64)],
        ))?;
        rows.into_iter()
            .map(|r| {
                let at: Vec<i64> = r.get(1);
                Ok((hash(r.get(0))?, at.into_iter().map(|i| i as u64).collect()))
            })
            .collect()
    }

    fn scan_entries(
        &self,
        start: u64,
        visit: &mut dyn FnMut(EntryRow) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        // Pages by index, so an audit of millions of entries holds one page.
        const PAGE: i64 = 2048;
        let c = self.pool.get()?;
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM entries WHERE idx >= $1 ORDER BY idx LIMIT {PAGE}"
        );
        let mut from = start as i64;
        loop {
            let rows = wait(c.query(&sql, &[&from]))?;
            let n = rows.len() as i64;
            for r in &rows {
                let e = entry_row(r)?;
                from = e.index as i64 + 1;
                visit(e)?;
            }
            if n < PAGE {
                return Ok(());
            }
        }
    }

    fn latest_checkpoint(&self) -> Result<Option<CheckpointRow>, StorageError> {
        let c = self.pool.get()?;
        let row = wait(c.query_opt(
            "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1",
            &[],
        ))?;
        Ok(row.map(|r| CheckpointRow {
            size: r.get::<_, i64>(0) as u64,
            note: r.get(1),
        }))
    }

    fn scan_checkpoints(
        &self,
        visit: &mut dyn FnMut(CheckpointRow) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        let c = self.pool.get()?;
        for r in wait(c.query("SELECT size, note FROM checkpoints ORDER BY size", &[]))? {
            visit(CheckpointRow {
                size: r.get::<_, i64>(0) as u64,
                note: r.get(1),
            })?;
        }
        Ok(())
    }
}
