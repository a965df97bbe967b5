//! The log's Merkle tree as the drivers store it. Each driver owns its tree
//! (SQLite: files beside the database, repaired from it after a crash;
//! PostgreSQL: 256-hash chunks in the database, committed with the entries),
//! and the node reads it through [`LogStore::tree_nodes`], so any replica
//! serves proofs and tiles.

use crate::{CheckpointRow, EntryRow, Hash, LogStore, StorageError};
use detente_log::merkle::{hash_leaf, CompactRange, NewNode};
use detente_log::{HashReader, LogError};

/// Hashes of complete subtrees that one batch adds, by level: each level's
/// first index and its hashes, 32 bytes each, consecutive.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TreeNodes {
    pub levels: Vec<(u64, Vec<u8>)>,
}

impl TreeNodes {
    pub fn push(&mut self, n: NewNode) {
        let l = n.level as usize;
        while self.levels.len() <= l {
            self.levels.push((u64::MAX, Vec::new()));
        }
        let (first, buf) = &mut self.levels[l];
        if *first == u64::MAX {
            *first = n.index;
        }
        buf.extend_from_slice(&n.hash);
    }

    /// Each non-empty level as `(level, first index, hashes)`.
    pub fn iter(&self) -> impl Iterator<Item = (u8, u64, &[u8])> {
        self.levels
            .iter()
            .enumerate()
            .filter(|(_, (_, b))| !b.is_empty())
            .map(|(l, (first, b))| (l as u8, *first, b.as_slice()))
    }
}

/// What one sequencing round appends, built under the log's head lock.
#[derive(Clone, Debug)]
pub struct Integration {
    pub entries: Vec<EntryRow>,
    pub nodes: TreeNodes,
    pub checkpoint: CheckpointRow,
}

impl Integration {
    /// Refuses a batch that does not append exactly at `size`, the size the
    /// log had when it was built: its entries at `size..` in order, its
    /// checkpoint covering them.
    pub fn check(&self, size: u64) -> Result<(), StorageError> {
        let end = size + self.entries.len() as u64;
        let in_order = self.entries.iter().zip(size..).all(|(e, i)| e.index == i);
        if in_order && self.checkpoint.size == end {
            return Ok(());
        }
        Err(StorageError::Integrity(format!(
            "a batch built for size {size} does not append there"
        )))
    }
}

/// The leaf hash of an entry with this envelope digest (RFC 9162 over
/// `0x01 || digest`).
pub fn leaf_hash(digest: &Hash) -> Hash {
    hash_leaf(&detente_domain::leaf_for(digest))
}

/// The stored tree as the Merkle functions read it.
pub struct StoredTree<'a>(pub &'a dyn LogStore);

impl HashReader for StoredTree<'_> {
    fn node(&self, level: u8, index: u64) -> Result<Hash, LogError> {
        let h = self
            .0
            .tree_nodes(level, index, 1)
            .map_err(|e| LogError::Storage(e.to_string()))?;
        h.try_into()
            .map_err(|_| LogError::OutOfRange(format!("tree level {level} node {index}")))
    }
}

/// Computes the tree nodes of entries `from..size` from their stored digests,
/// handing them to `write` a chunk of entries at a time (for repairs and
/// imports). `edge` is the tree of the first `from` entries.
pub fn extend_from_digests(
    store: &dyn LogStore,
    mut edge: CompactRange,
    size: u64,
    write: &mut dyn FnMut(&TreeNodes) -> Result<(), StorageError>,
) -> Result<CompactRange, StorageError> {
    const CHUNK: u64 = 65_536;
    while edge.size() < size {
        let (at, end) = (edge.size(), (edge.size() + CHUNK).min(size));
        let mut nodes = TreeNodes::default();
        for d in store.digests(at, end)? {
            edge.append(leaf_hash(&d), |n| nodes.push(n));
        }
        if edge.size() != end {
            return Err(StorageError::Integrity(format!(
                "entries {at}..{end} are not all in the database"
            )));
        }
        write(&nodes)?;
    }
    Ok(edge)
}
