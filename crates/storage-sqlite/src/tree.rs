//! The Merkle tree on disk: one file per tree level, the hash of node `(L, n)` at
//! byte `32·n` of `tree/level-LL`. Only complete subtrees are stored, so files
//! only grow by appending, a tile is one contiguous read, and a proof is a few
//! dozen positional reads — no rebuild, no cache, flat memory.
//!
//! The files are derived data: the database holds the entries and checkpoints, and
//! [`TreeFiles::reconcile`] repairs the files from it after a crash. That is why
//! they are not fsynced on the append path.

use detente_log::merkle::{hash_children, CompactRange};
use detente_log::{Hash, HashReader, LogError};
use detente_storage::tree::{extend_from_digests, leaf_hash};
use detente_storage::{LogStore, StorageError, TreeNodes};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

const LEVELS: usize = 64;

/// Leaves (a power of two) at the end of the tree whose stored hashes are
/// recomputed and compared at every start; 16,384 leaves cost a few milliseconds.
const CHECKED_TAIL: u64 = 1 << 14;

pub struct TreeFiles {
    dir: PathBuf,
    files: RwLock<Vec<Arc<File>>>,
    /// Nodes of committed batches that could not be written (disk full):
    /// written again, in order, before the next write or read.
    backlog: std::sync::Mutex<Vec<TreeNodes>>,
}

impl TreeFiles {
    pub fn open(dir: &Path) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let t = TreeFiles {
            dir: dir.to_path_buf(),
            files: RwLock::new(Vec::new()),
            backlog: std::sync::Mutex::new(Vec::new()),
        };
        for l in 0..LEVELS {
            if !t.path(l).exists() {
                break;
            }
            t.file(l)?;
        }
        Ok(t)
    }

    fn path(&self, level: usize) -> PathBuf {
        self.dir.join(format!("level-{level:02}"))
    }

    /// The file of `level`, created if needed (levels are created in order).
    fn file(&self, level: usize) -> Result<Arc<File>, StorageError> {
        if let Some(f) = self.files.read().expect("tree lock").get(level) {
            return Ok(f.clone());
        }
        let mut files = self.files.write().expect("tree lock");
        while files.len() <= level {
            let path = self.path(files.len());
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| io(&path, e))?;
            files.push(Arc::new(f));
        }
        Ok(files[level].clone())
    }

    fn count(&self, level: usize) -> Result<u64, StorageError> {
        let f = self.file(level)?;
        let len = f.metadata().map_err(|e| io(&self.path(level), e))?.len();
        Ok(len / 32)
    }

    /// Writes a batch's new nodes at their positions.
    /// A batch that fails is kept and written again first next time: its
    /// entries are already committed, so its nodes must land eventually.
    pub fn write(&self, nodes: &TreeNodes) -> Result<(), StorageError> {
        let mut backlog = self.backlog.lock().expect("tree backlog lock");
        backlog.push(nodes.clone());
        while let Some(first) = backlog.first() {
            self.write_now(first)?;
            backlog.remove(0);
        }
        Ok(())
    }

    /// Writes what earlier writes left behind; an error if it still cannot.
    fn catch_up(&self) -> Result<(), StorageError> {
        let mut backlog = self.backlog.lock().expect("tree backlog lock");
        while let Some(first) = backlog.first() {
            self.write_now(first)?;
            backlog.remove(0);
        }
        Ok(())
    }

    fn write_now(&self, nodes: &TreeNodes) -> Result<(), StorageError> {
        for (level, first, buf) in nodes.iter() {
            let level = level as usize;
            self.file(level)?
                .write_all_at(buf, first * 32)
                .map_err(|e| io(&self.path(level), e))?;
        }
        Ok(())
    }

    /// Reads `count` consecutive hashes of `level` from `index`.
    pub fn read_range(&self, level: u8, index: u64, count: u64) -> Result<Vec<u8>, StorageError> {
        self.catch_up()?;
        let mut buf = vec![0u8; (count * 32) as usize];
        let f = self.file(level as usize)?;
        f.read_exact_at(&mut buf, index * 32)
            .map_err(|e| io(&self.path(level as usize), e))?;
        Ok(buf)
    }

    /// Makes the files describe exactly the first `size` entries of `store`, whose
    /// tree has `root`: extra hashes (written before a commit that failed) are cut,
    /// missing or wrong ones are recomputed from the digests, from the first leaf
    /// they affect on. Returns the first leaf recomputed (`size` if none).
    pub fn reconcile(
        &self,
        store: &dyn LogStore,
        size: u64,
        root: &Hash,
    ) -> Result<u64, StorageError> {
        let complete = self.complete_size(size)?;
        let from = self.first_mismatch(store, complete)?;
        let edge = self.rebuild(store, from, size)?;
        if edge.root() == *root || from == 0 {
            return Ok(from);
        }
        // An edge node older than the checked tail is wrong (a damaged disk, not
        // a crash): only a full rebuild can tell the files from the database.
        tracing::warn!("tree files disagree with the latest checkpoint; rebuilding them all");
        self.rebuild(store, 0, size)?;
        Ok(0)
    }

    /// The largest tree, at most `size` leaves, whose nodes every level's file
    /// holds: level `L` needs `s >> L` hashes for a tree of `s` leaves.
    fn complete_size(&self, size: u64) -> Result<u64, StorageError> {
        let mut complete = size;
        for level in 0..LEVELS {
            if size >> level == 0 {
                break;
            }
            let have = self.count(level)?;
            complete = complete.min(have.saturating_add(1).saturating_mul(1 << level) - 1);
        }
        Ok(complete)
    }

    /// The first leaf, below `size`, from which the files disagree with the
    /// database; `size` if they agree. Only the newest [`CHECKED_TAIL`] leaves and
    /// their parents are compared: the files are not fsynced, so a power loss
    /// can lose or garble the pages written last, not older ones.
    fn first_mismatch(&self, store: &dyn LogStore, size: u64) -> Result<u64, StorageError> {
        let lo = size.saturating_sub(CHECKED_TAIL) & !(CHECKED_TAIL - 1);
        let digests = store.digests(lo, size)?;
        if digests.len() as u64 != size - lo {
            return Err(StorageError::Integrity(format!(
                "entries {lo}..{size} are not all in the database"
            )));
        }
        let expected: Vec<Hash> = digests.iter().map(leaf_hash).collect();
        let mut bad = size;
        for level in 0..LEVELS {
            let (first, end) = (lo >> level, bad >> level);
            if first >= end {
                break;
            }
            let want: Vec<Hash> = match level {
                0 => expected[..(end - first) as usize].to_vec(),
                _ => self.parents(level, first, end)?,
            };
            let stored = self.read_range(level as u8, first, end - first)?;
            if let Some(i) = (0..want.len()).find(|&i| stored[i * 32..][..32] != want[i]) {
                bad = (first + i as u64) << level;
            }
        }
        Ok(bad)
    }

    /// Hashes of nodes `first..end` of `level`, computed from their stored children.
    fn parents(&self, level: usize, first: u64, end: u64) -> Result<Vec<Hash>, StorageError> {
        let children = self.read_range(level as u8 - 1, first * 2, (end - first) * 2)?;
        Ok(children
            .chunks_exact(64)
            .map(|c| hash_children(&c[..32], &c[32..]))
            .collect())
    }

    /// Cuts the files to the tree of `from` leaves and appends entries
    /// `from..size` from the database's digests.
    fn rebuild(
        &self,
        store: &dyn LogStore,
        from: u64,
        size: u64,
    ) -> Result<CompactRange, StorageError> {
        for level in 0..self.files.read().expect("tree lock").len() {
            let path = self.path(level);
            self.file(level)?
                .set_len((from >> level) * 32)
                .map_err(|e| io(&path, e))?;
        }
        let edge =
            CompactRange::load(self, from).map_err(|e| StorageError::Integrity(e.to_string()))?;
        let edge = extend_from_digests(store, edge, size, &mut |nodes| self.write(nodes))?;
        if from < size {
            tracing::info!(from, to = size, "rebuilt tree files from the database");
        }
        Ok(edge)
    }
}

impl HashReader for TreeFiles {
    fn node(&self, level: u8, index: u64) -> Result<Hash, LogError> {
        let files = self.files.read().expect("tree lock");
        let f = files
            .get(level as usize)
            .ok_or_else(|| LogError::OutOfRange(format!("tree level {level}")))?;
        let mut h = [0u8; 32];
        f.read_exact_at(&mut h, index * 32)
            .map_err(|e| LogError::Storage(format!("tree level {level} node {index}: {e}")))?;
        Ok(h)
    }
}

fn io(path: &Path, e: std::io::Error) -> StorageError {
    let what = format!("{}: {e}", path.display());
    match e.kind() {
        std::io::ErrorKind::StorageFull => StorageError::Full(what),
        _ => StorageError::Database(what),
    }
}
