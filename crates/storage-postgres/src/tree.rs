//! The Merkle tree in the database: hashes of complete subtrees in chunks of
//! [`CHUNK`] per level, written in the same transaction as the entries they
//! cover, so any replica that sees a checkpoint also sees its tree.

use crate::sql::Db;
use crate::{wait, PgStore};
use detente_log::merkle::CompactRange;
use detente_storage::tree::extend_from_digests;
use detente_storage::{Hash, StorageError, TreeNodes};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Hashes per chunk row.
pub(crate) const CHUNK: u64 = 256;

/// Chunks kept in memory (8 KiB each at most): 32 MiB.
const CACHED_CHUNKS: usize = 4096;

/// Chunks as last read. A stored hash never changes, so a cached chunk stays
/// right; it is only read again when a caller needs hashes beyond its end.
#[derive(Default)]
pub(crate) struct ChunkCache(Mutex<HashMap<ChunkKey, Arc<[u8]>>>);

/// A chunk's level and index.
type ChunkKey = (i16, i64);

impl ChunkCache {
    fn get(&self, key: ChunkKey) -> Option<Arc<[u8]>> {
        self.0.lock().ok()?.get(&key).cloned()
    }

    fn put(&self, key: ChunkKey, chunk: Arc<[u8]>) {
        if let Ok(mut m) = self.0.lock() {
            if m.len() >= CACHED_CHUNKS {
                m.clear();
            }
            m.insert(key, chunk);
        }
    }
}

/// Splits a batch's nodes at chunk boundaries: pieces that start a chunk are
/// inserted, pieces that continue one are appended to it.
pub(crate) fn write_nodes(c: &impl Db, nodes: &TreeNodes) -> Result<(), StorageError> {
    wait(write_nodes_async(c, nodes))?
}

/// [`write_nodes`] as one future, whose statements are sent at its first
/// poll (both at once), so the caller can pipeline it with others.
pub(crate) async fn write_nodes_async(
    c: &impl Db,
    nodes: &TreeNodes,
) -> Result<Result<(), StorageError>, tokio_postgres::Error> {
    let (mut new, mut grow) = (Pieces::default(), Pieces::default());
    for (level, first, hashes) in nodes.iter() {
        let mut at = first;
        let mut rest = hashes;
        while !rest.is_empty() {
            let off = at % CHUNK;
            let take = ((CHUNK - off) as usize * 32).min(rest.len());
            let target = if off == 0 { &mut new } else { &mut grow };
            target.push(level, at / CHUNK, off, &rest[..take]);
            at += take as u64 / 32;
            rest = &rest[take..];
        }
    }
    let inserted = async {
        if new.level.is_empty() {
            return Ok(0);
        }
        c.execute(
            "INSERT INTO tree_chunks (level, idx, hashes) \
             SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])",
            &[&new.level, &new.idx, &new.hashes],
        )
        .await
    };
    // Appends only where the chunk ends exactly where the piece starts.
    let grown = async {
        if grow.level.is_empty() {
            return Ok(0);
        }
        c.execute(
            "UPDATE tree_chunks t SET hashes = t.hashes || u.piece \
             FROM unnest($1::smallint[], $2::bigint[], $3::int[], $4::bytea[]) AS u(level, idx, off, piece) \
             WHERE t.level = u.level AND t.idx = u.idx AND length(t.hashes) = u.off * 32",
            &[&grow.level, &grow.idx, &grow.off, &grow.hashes],
        )
        .await
    };
    let (_, n) = futures::try_join!(inserted, grown)?;
    if n as usize != grow.level.len() {
        return Ok(Err(StorageError::Integrity(
            "the stored tree does not end where this batch starts".into(),
        )));
    }
    Ok(Ok(()))
}

#[derive(Default)]
struct Pieces<'a> {
    level: Vec<i16>,
    idx: Vec<i64>,
    off: Vec<i32>,
    hashes: Vec<&'a [u8]>,
}

impl<'a> Pieces<'a> {
    fn push(&mut self, level: u8, idx: u64, off: u64, hashes: &'a [u8]) {
        self.level.push(level as i16);
        self.idx.push(idx as i64);
        self.off.push(off as i32);
        self.hashes.push(hashes);
    }
}

impl PgStore {
    pub(crate) fn read_nodes(
        &self,
        level: u8,
        index: u64,
        count: u64,
    ) -> Result<Vec<u8>, StorageError> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let (lo, hi) = ((index / CHUNK) as i64, ((index + count - 1) / CHUNK) as i64);
        let level16 = level as i16;
        let end = index + count;
        // Bytes needed from chunk `i`: up to the chunk's end or the range's.
        let needed = |i: i64| ((end - i as u64 * CHUNK).min(CHUNK) * 32) as usize;
        let mut chunks: Vec<Option<Arc<[u8]>>> = (lo..=hi)
            .map(|i| {
                self.chunks
                    .get((level16, i))
                    .filter(|c| c.len() >= needed(i))
            })
            .collect();
        if chunks.iter().any(Option::is_none) {
            let c = self.pool.get()?;
            let rows = wait(c.query(
                "SELECT idx, hashes FROM tree_chunks WHERE level = $1 AND idx BETWEEN $2 AND $3",
                &[&level16, &lo, &hi],
            ))?;
            for r in rows {
                let (i, bytes): (i64, Vec<u8>) = (r.get(0), r.get(1));
                let chunk: Arc<[u8]> = bytes.into();
                self.chunks.put((level16, i), chunk.clone());
                chunks[(i - lo) as usize] = Some(chunk);
            }
        }
        let mut out = Vec::with_capacity(count as usize * 32);
        let mut at = index;
        while at < end {
            let chunk = chunks[(at / CHUNK) as usize - lo as usize].as_ref();
            let off = (at % CHUNK) as usize * 32;
            let take = ((CHUNK - at % CHUNK).min(end - at)) as usize * 32;
            match chunk.and_then(|c| c.get(off..off + take)) {
                Some(bytes) => out.extend_from_slice(bytes),
                None => {
                    return Err(StorageError::Integrity(format!(
                        "tree level {level} node {at} is not stored"
                    )))
                }
            }
            at += take as u64 / 32;
        }
        Ok(out)
    }

    /// Leaves the stored tree covers: level 0's length.
    fn stored_leaves(&self) -> Result<u64, StorageError> {
        let c = self.pool.get()?;
        let row = wait(c.query_opt(
            "SELECT idx, length(hashes) FROM tree_chunks WHERE level = 0 ORDER BY idx DESC LIMIT 1",
            &[],
        ))?;
        Ok(row.map_or(0, |r| {
            r.get::<_, i64>(0) as u64 * CHUNK + r.get::<_, i32>(1) as u64 / 32
        }))
    }

    /// The tree is written with its entries, so only a copy imported without
    /// one (`detente migrate`) needs building; a tree ahead of its entries,
    /// which no commit can produce, is refused.
    pub(crate) fn repair(&self, size: u64, _root: &Hash) -> Result<u64, StorageError> {
        let have = self.stored_leaves()?;
        if have == size {
            return Ok(size);
        }
        if have > size {
            return Err(StorageError::Integrity(format!(
                "the stored tree has {have} leaves but the log {size} entries"
            )));
        }
        let mut c = self.pool.get()?;
        let tx = wait(c.transaction())?;
        wait(tx.execute("SELECT size FROM log_head FOR UPDATE", &[]))?;
        wait(tx.execute("DELETE FROM tree_chunks", &[]))?;
        extend_from_digests(self, CompactRange::default(), size, &mut |nodes| {
            write_nodes(&tx, nodes)
        })?;
        wait(tx.execute("UPDATE log_head SET size = $1", &[&(size as i64)]))?;
        wait(tx.commit())?;
        tracing::info!(leaves = size, "built the tree from the entries");
        Ok(0)
    }
}
