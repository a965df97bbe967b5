//! A running node: identity, store, tree and sequencer, and the read operations
//! the HTTP layer serves.

use crate::datadir::{self, CHECKPOINT_FILE, CONFIG_FILE};
use crate::sequencer::{Job, Worker};
use crate::{Config, NodeError};
use detente_domain::{leaf_for, sha256, Envelope, NodeKey, Origin, SignedEnvelope, VerifierKey};
use detente_log::merkle::{self, hash_leaf, CompactRange};
use detente_log::proof_file::ProofFile;
use detente_log::tiles::{TileKind, TilePath, TILE_HEIGHT, TILE_WIDTH};
use detente_log::{Checkpoint, Hash, HashReader};
use detente_storage::{CheckpointRow, EntryRow, Integration, LogStore, Store, StoredTree, Topic};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

pub use crate::sequencer::Appended;

/// The latest signed checkpoint, as served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    pub size: u64,
    pub root: Hash,
    pub note: String,
}

/// Counters exported at `/metrics`.
#[derive(Default)]
pub struct Metrics {
    pub appends: AtomicU64,
    pub batches: AtomicU64,
    pub batch_micros: AtomicU64,
    /// Checkpoints from peers inconsistent with ones they signed before.
    pub witness_conflicts: AtomicU64,
    /// Leaves whose tree hashes were recomputed from the database when the node
    /// opened (0 after a clean stop).
    pub tree_rebuilt_leaves: AtomicU64,
}

impl Metrics {
    pub(crate) fn record_batch(&self, entries: u64, took: Duration) {
        self.appends.fetch_add(entries, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.batch_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }
}

/// State shared between the node and its sequencer thread.
pub(crate) struct Shared {
    published: RwLock<Arc<Published>>,
    failed: RwLock<Option<String>>,
    pub metrics: Metrics,
}

impl Shared {
    pub(crate) fn published(&self) -> Arc<Published> {
        self.published.read().expect("lock").clone()
    }

    pub(crate) fn publish(&self, p: Arc<Published>) {
        *self.published.write().expect("lock") = p;
    }

    pub(crate) fn set_failed(&self, why: String) {
        *self.failed.write().expect("lock") = Some(why);
    }
}

pub struct Node {
    dir: PathBuf,
    config: Config,
    origin: Origin,
    key: Arc<NodeKey>,
    store: Arc<dyn Store>,
    shared: Arc<Shared>,
    tx: RwLock<Option<mpsc::Sender<Job>>>,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Peers by origin, read once and dropped on every change; where replicas
    /// share the database, also re-read after a second (see `peers.rs`).
    pub(crate) peer_cache: RwLock<Option<PeerCache>>,
    /// Set once when `detente serve` starts notifying (see [`crate::notify`]).
    pub(crate) notifier: std::sync::OnceLock<Arc<crate::notify::Notifier>>,
    /// Held while the node may append, on a database only this process
    /// appends to; released on drop.
    _lock: Option<std::fs::File>,
}

type Loaded = (Config, Arc<NodeKey>, Arc<dyn Store>);

/// When the peers were read, and the peers by origin.
pub(crate) type PeerCache = (
    std::time::Instant,
    Arc<std::collections::HashMap<String, crate::peers::Peer>>,
);

fn load(dir: &Path) -> Result<Loaded, NodeError> {
    if !datadir::is_initialised(dir) {
        return Err(NodeError::Config(format!(
            "{} is not a detente data directory (run detente init first)",
            dir.display()
        )));
    }
    let config = Config::load(&dir.join(CONFIG_FILE))?;
    let origin = config.origin()?;
    let key = Arc::new(datadir::load_key(dir, &origin)?);
    let store = open_store(&config, dir)?;
    Ok((config, key, store))
}

/// One appending process per data directory: two sequencers would fork the log.
fn lock_dir(dir: &Path) -> Result<std::fs::File, NodeError> {
    let path = dir.join("lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| NodeError::io(&path, e))?;
    f.try_lock()
        .map_err(|_| NodeError::InUse(dir.display().to_string()))?;
    Ok(f)
}

/// The first entry of every log states who the node is.
fn genesis_envelope(config: &Config, key: &NodeKey) -> Result<SignedEnvelope, NodeError> {
    let payload = serde_json::json!({
        "origin": config.origin,
        "country": config.country,
        "verifier_key": key.verifier().to_string(),
    });
    Ok(Envelope::new("node.genesis", config.origin()?, payload)?.sign(key)?)
}

/// Opens the store named by the config's database URL.
pub(crate) fn open_store(config: &Config, dir: &Path) -> Result<Arc<dyn Store>, NodeError> {
    Ok(crate::backend::open(&config.database_url(dir))?)
}

impl Node {
    /// Opens an initialised data directory for writing: takes the directory lock
    /// (one writer per log), checks that the store is exactly what this node
    /// signed, repairs the tree files, and starts the sequencer.
    pub fn open(dir: &Path) -> Result<Arc<Node>, NodeError> {
        let (config, key, store) = load(dir)?;
        // On a database that replicas share, the row locks serialise appends;
        // on an embedded one, the directory lock keeps a second process out.
        let lock = if store.shared() {
            None
        } else {
            Some(lock_dir(dir)?)
        };
        let (published, edge, rebuilt) = check_integrity(dir, &key, store.as_ref())?;
        let log_store: Arc<dyn LogStore> = store.clone();
        let genesis = published.size == 0;
        let metrics = Metrics::default();
        metrics
            .tree_rebuilt_leaves
            .store(rebuilt, Ordering::Relaxed);
        let shared = Arc::new(Shared {
            published: RwLock::new(Arc::new(published)),
            failed: RwLock::new(None),
            metrics,
        });
        let (tx, rx) = mpsc::channel(1024);
        let mut worker = Worker {
            key: key.clone(),
            store: log_store.clone(),
            edge,
            shared: shared.clone(),
            checkpoint_file: dir.join(CHECKPOINT_FILE),
        };
        if genesis {
            // Committed before the sequencer starts, so open() never blocks on it.
            worker.append_first(genesis_envelope(&config, &key)?)?;
        }
        let handle = std::thread::Builder::new()
            .name("log-sequencer".into())
            .spawn(move || worker.run(rx))
            .map_err(|e| NodeError::io(dir, e))?;
        if log_store.shared() {
            follow(log_store, key.clone(), Arc::downgrade(&shared));
        }
        let node = Arc::new(Node {
            dir: dir.to_path_buf(),
            origin: config.origin()?,
            config,
            key,
            store,
            shared,
            tx: RwLock::new(Some(tx)),
            peer_cache: RwLock::new(None),
            notifier: Default::default(),
            worker: Mutex::new(Some(handle)),
            _lock: lock,
        });
        Ok(node)
    }

    /// Opens a data directory for offline tools: fully checked and repaired when no
    /// other process holds it, read-only beside a running `detente serve` (which
    /// keeps the tree files current).
    pub fn open_for_reading(dir: &Path) -> Result<Arc<Node>, NodeError> {
        match Node::open(dir) {
            Err(NodeError::InUse(_)) => Node::open_read_only(dir),
            other => other,
        }
    }

    /// Opens a data directory for reading only (offline tools), alongside a
    /// running `detente serve` if there is one. Nothing is repaired or appended.
    pub fn open_read_only(dir: &Path) -> Result<Arc<Node>, NodeError> {
        let (config, key, store) = load(dir)?;
        let row = store
            .latest_checkpoint()?
            .ok_or_else(|| NodeError::Integrity("the log has no checkpoint yet".into()))?;
        let (cp, _) = Checkpoint::open(&row.note, &[key.verifier()])
            .map_err(|e| NodeError::Integrity(format!("latest checkpoint: {e}")))?;
        let published = Published {
            size: cp.size,
            root: cp.root,
            note: row.note,
        };
        Ok(Arc::new(Node {
            dir: dir.to_path_buf(),
            origin: config.origin()?,
            config,
            key,
            store,
            shared: Arc::new(Shared {
                published: RwLock::new(Arc::new(published)),
                failed: RwLock::new(None),
                metrics: Metrics::default(),
            }),
            tx: RwLock::new(None),
            peer_cache: RwLock::new(None),
            notifier: Default::default(),
            worker: Mutex::new(None),
            _lock: None,
        }))
    }

    /// The log's Merkle tree, as the store keeps it.
    fn tree(&self) -> StoredTree<'_> {
        StoredTree(self.store.as_ref())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn key(&self) -> &NodeKey {
        &self.key
    }

    /// The signing key, shared (the witness cosigns with it).
    pub fn key_arc(&self) -> Arc<NodeKey> {
        self.key.clone()
    }

    pub fn verifier(&self) -> VerifierKey {
        self.key.verifier()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// Why the node stopped accepting appends, if it did.
    pub fn failure(&self) -> Option<String> {
        self.shared.failed.read().expect("lock").clone()
    }

    pub fn published(&self) -> Arc<Published> {
        self.shared.published()
    }

    /// Signs a new envelope of this node.
    pub fn sign(&self, kind: &str, payload: Value) -> Result<SignedEnvelope, NodeError> {
        Ok(Envelope::new(kind, self.origin.clone(), payload)?.sign(&self.key)?)
    }

    /// Signs an envelope dated `at` (the exchange's clock, which tests and the
    /// demo simulate; in production it is the system clock).
    pub fn sign_at(
        &self,
        kind: &str,
        payload: Value,
        at: detente_domain::time::Timestamp,
    ) -> Result<SignedEnvelope, NodeError> {
        let mut env = Envelope::new(kind, self.origin.clone(), payload)?;
        env.time = at;
        Ok(env.sign(&self.key)?)
    }

    fn sender(&self) -> Result<mpsc::Sender<Job>, NodeError> {
        self.tx
            .read()
            .expect("lock")
            .clone()
            .ok_or(NodeError::Closed)
    }

    /// Appends envelopes; resolves once they are durable and checkpointed.
    pub async fn append(&self, envelopes: Vec<SignedEnvelope>) -> Result<Appended, NodeError> {
        let (reply, rx) = oneshot::channel();
        self.sender()?
            .send(Job { envelopes, reply })
            .await
            .map_err(|_| NodeError::Closed)?;
        rx.await.map_err(|_| NodeError::Closed)?
    }

    /// Appends an exchange envelope unless the log already holds it (logged
    /// just before a crash, then delivered again); returns its index and a
    /// checkpoint that covers it. The look-up here only saves a batch: the
    /// sequencer itself never logs an exchange envelope twice.
    pub async fn append_once(
        &self,
        env: SignedEnvelope,
    ) -> Result<(u64, Arc<Published>), NodeError> {
        if let Some(index) = self.store.exchange_entry(env.digest())? {
            return Ok((index, self.published()));
        }
        let appended = self.append(vec![env]).await?;
        Ok((appended.first_index, appended.checkpoint))
    }

    /// Queues envelopes from a non-async thread; the receiver resolves like
    /// [`Node::append`]. Lets callers keep several batches in flight.
    pub fn submit_blocking(
        &self,
        envelopes: Vec<SignedEnvelope>,
    ) -> Result<oneshot::Receiver<Result<Appended, NodeError>>, NodeError> {
        let (reply, rx) = oneshot::channel();
        self.sender()?
            .blocking_send(Job { envelopes, reply })
            .map_err(|_| NodeError::Closed)?;
        Ok(rx)
    }

    /// Signs and queues one envelope without waiting for it to be durable, for
    /// callers that cannot wait (synchronous hooks inside request handlers).
    pub fn record_detached(&self, kind: &str, payload: Value) -> Result<(), NodeError> {
        let env = self.sign(kind, payload)?;
        let (reply, _rx) = oneshot::channel();
        self.sender()?
            .try_send(Job {
                envelopes: vec![env],
                reply,
            })
            .map_err(|_| NodeError::Append("the log queue is full".into()))
    }

    /// Signs and appends one envelope.
    pub async fn record(
        &self,
        kind: &str,
        payload: Value,
    ) -> Result<(SignedEnvelope, Appended), NodeError> {
        let env = self.sign(kind, payload)?;
        let appended = self.append(vec![env.clone()]).await?;
        Ok((env, appended))
    }

    fn check_size(&self, size: u64) -> Result<(), NodeError> {
        let current = self.published().size;
        if size > current {
            return Err(NodeError::Log(detente_log::LogError::OutOfRange(format!(
                "tree size {size} (the log has {current} entries)"
            ))));
        }
        Ok(())
    }

    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, NodeError> {
        self.check_size(size)?;
        Ok(merkle::inclusion_proof(&self.tree(), index, size)?)
    }

    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<Hash>, NodeError> {
        self.check_size(to)?;
        Ok(merkle::consistency_proof(&self.tree(), from, to)?)
    }

    /// The root of the tree at any size up to the current one.
    pub fn root_at(&self, size: u64) -> Result<Hash, NodeError> {
        self.check_size(size)?;
        Ok(merkle::root(&self.tree(), size)?)
    }

    pub fn leaf_hash(&self, index: u64) -> Result<Hash, NodeError> {
        self.check_size(index + 1)?;
        Ok(self.tree().node(0, index)?)
    }

    /// A tile's bytes, or `None` if the tree is not that large yet.
    pub fn tile(&self, t: &TilePath) -> Result<Option<Vec<u8>>, NodeError> {
        let size = self.published().size;
        let start = t.index * TILE_WIDTH;
        let width = u64::from(t.width);
        match t.kind {
            TileKind::Hashes(level) => {
                let tree_level = u32::from(level) * u32::from(TILE_HEIGHT);
                let available = if tree_level >= 64 {
                    0
                } else {
                    size >> tree_level
                };
                if start.saturating_add(width) > available {
                    return Ok(None);
                }
                Ok(Some(self.store.tree_nodes(
                    tree_level as u8,
                    start,
                    width,
                )?))
            }
            TileKind::Entries => {
                if start.saturating_add(width) > size {
                    return Ok(None);
                }
                let digests = self.store.digests(start, start + width)?;
                let mut out = Vec::with_capacity(digests.len() * 35);
                for d in &digests {
                    out.extend_from_slice(&33u16.to_be_bytes());
                    out.extend_from_slice(&leaf_for(d));
                }
                Ok(Some(out))
            }
        }
    }

    /// A C2SP tlog-proof of entry `index` against the latest published
    /// checkpoint, carrying the witnesses' cosignatures so they travel with
    /// the proof to whoever checks it; `None` past the end of the log.
    pub fn proof_file(&self, index: u64) -> Result<Option<ProofFile>, NodeError> {
        let published = self.published();
        let Some(entry) = self.entry(index)? else {
            return Ok(None);
        };
        let checkpoint = self
            .checkpoint_with_cosignatures(published.size)?
            .unwrap_or_else(|| published.note.clone());
        Ok(Some(ProofFile {
            extra: Some(leaf_for(&entry.digest).to_vec()),
            index,
            proof: self.inclusion_proof(index, published.size)?,
            checkpoint,
        }))
    }

    pub fn entry(&self, index: u64) -> Result<Option<EntryRow>, NodeError> {
        if index >= self.published().size {
            return Ok(None);
        }
        Ok(self.store.entry(index)?)
    }

    /// Stops the sequencer after it has committed everything queued.
    pub fn shutdown(&self) {
        self.tx.write().expect("lock").take();
        if let Some(h) = self.worker.lock().expect("lock").take() {
            let _ = h.join();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Refuses a store that differs from what this node signed: truncated, rolled back
/// to an older copy, extended outside the log, or with altered entries. Returns the
/// latest checkpoint, the tree's right edge and how many leaves the tree files
/// had to be repaired for.
fn check_integrity(
    dir: &Path,
    key: &NodeKey,
    store: &dyn LogStore,
) -> Result<(Published, CompactRange, u64), NodeError> {
    let bad = |why: String| Err(NodeError::Integrity(why));
    let verifier = [key.verifier()];
    let (count, latest) = store.head()?;
    let file = read_checkpoint_file(dir, &verifier)?;
    let Some(row) = latest else {
        if count > 0 || file.is_some() {
            return bad("the database has lost its checkpoints (emptied or replaced)".into());
        }
        return genesis(key, store).map(|(p, e)| (p, e, 0));
    };
    let (cp, _) = Checkpoint::open(&row.note, &verifier)
        .map_err(|e| NodeError::Integrity(format!("latest checkpoint in the database: {e}")))?;
    if cp.size != count {
        return bad(format!(
            "the database has {count} entries but its latest signed checkpoint covers {} \
             (truncated, or written to outside the log)",
            cp.size
        ));
    }
    if let Some(f) = &file {
        if f.size > cp.size {
            return bad(format!(
                "the database stops at {} entries but this node already published a checkpoint \
                 of size {} (truncated or restored from an old copy)",
                cp.size, f.size
            ));
        }
    }
    let from = store.repair_tree(cp.size, &cp.root)?;
    let tree = StoredTree(store);
    let edge = CompactRange::load(&tree, cp.size)?;
    if edge.root() != cp.root {
        return bad("the stored entries do not hash to the latest signed checkpoint".into());
    }
    if let Some(f) = file {
        if merkle::root(&tree, f.size)? != f.root {
            return bad(format!(
                "the log is not consistent with the published checkpoint of size {}",
                f.size
            ));
        }
    }
    spot_check(store, cp.size)?;
    let published = Published {
        size: cp.size,
        root: cp.root,
        note: row.note,
    };
    Ok((published, edge, cp.size - from))
}

/// Publishes the store's latest checkpoint if it is ahead of the one served
/// (another replica appended), after checking it is this node's.
pub(crate) fn refresh_published(
    store: &dyn LogStore,
    key: &NodeKey,
    shared: &Shared,
) -> Result<Arc<Published>, NodeError> {
    let current = shared.published();
    let Some(row) = store.latest_checkpoint()? else {
        return Ok(current);
    };
    let (cp, _) = Checkpoint::open(&row.note, &[key.verifier()])
        .map_err(|e| NodeError::Integrity(format!("latest checkpoint in the database: {e}")))?;
    if cp.size <= current.size {
        return Ok(current);
    }
    let published = Arc::new(Published {
        size: cp.size,
        root: cp.root,
        note: row.note,
    });
    shared.publish(published.clone());
    Ok(published)
}

/// How often a replica looks for checkpoints that other replicas committed.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);
/// The same where the store wakes the replica at each checkpoint committed
/// ([`LogStore::subscribe`]): polling only covers lost wakeups.
const FOLLOW_WOKEN_EVERY: Duration = Duration::from_secs(1);
/// Under load replicas commit hundreds of checkpoints a second: the wakeups
/// that come within this long of one another make one read.
const FOLLOW_GATHER: Duration = Duration::from_millis(50);

/// Keeps a replica's served checkpoint current with what the others commit,
/// until the node is dropped.
fn follow(store: Arc<dyn LogStore>, key: Arc<NodeKey>, shared: std::sync::Weak<Shared>) {
    let mut wakeups = store.subscribe(Topic::Log).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "no wakeups for new checkpoints; polling");
        None
    });
    let spawned = std::thread::Builder::new()
        .name("log-follower".into())
        .spawn(move || loop {
            match wakeups.as_mut() {
                Some(w) => {
                    if w.wait_timeout(FOLLOW_WOKEN_EVERY) {
                        std::thread::sleep(FOLLOW_GATHER);
                    }
                }
                None => std::thread::sleep(FOLLOW_EVERY),
            }
            let Some(shared) = shared.upgrade() else {
                return;
            };
            if let Err(e) = refresh_published(store.as_ref(), &key, &shared) {
                tracing::warn!(error = %e, "reading the latest checkpoint");
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "starting the log follower");
    }
}

fn read_checkpoint_file(
    dir: &Path,
    verifier: &[VerifierKey],
) -> Result<Option<Checkpoint>, NodeError> {
    let path = dir.join(CHECKPOINT_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(NodeError::io(&path, e)),
    };
    let (cp, _) = Checkpoint::open(&text, verifier)
        .map_err(|e| NodeError::Integrity(format!("{}: {e}", path.display())))?;
    Ok(Some(cp))
}

/// Stores the empty tree's checkpoint for a new node (unless a replica did
/// first).
fn genesis(key: &NodeKey, store: &dyn LogStore) -> Result<(Published, CompactRange), NodeError> {
    let edge = CompactRange::default();
    let cp = Checkpoint {
        origin: key.name().to_string(),
        size: 0,
        root: edge.root(),
        extensions: vec![],
    };
    let note = cp.sign(key)?;
    store.integrate(&mut |size| {
        let fresh = size == 0 && store.latest_checkpoint()?.is_none();
        Ok(fresh.then(|| Integration {
            entries: vec![],
            nodes: Default::default(),
            checkpoint: CheckpointRow {
                size: 0,
                note: note.clone(),
            },
        }))
    })?;
    Ok((
        Published {
            size: 0,
            root: cp.root,
            note,
        },
        edge,
    ))
}

/// Recomputes the leaves of the newest entries and of a spread of older ones from
/// their envelope bytes. A full audit is `detente log verify`.
fn spot_check(store: &dyn LogStore, size: u64) -> Result<(), NodeError> {
    let tree = StoredTree(store);
    let tail = size.saturating_sub(256);
    let step = (size / 256).max(1);
    let samples = (0..size).step_by(step as usize).take(256).chain(tail..size);
    for i in samples {
        let Some(e) = store.entry(i)? else {
            return Err(NodeError::Integrity(format!("entry {i} is missing")));
        };
        let digest = sha256(&e.envelope);
        if digest != e.digest || tree.node(0, i)? != hash_leaf(&leaf_for(&digest)) {
            return Err(NodeError::Integrity(format!(
                "entry {i} was altered after it was logged"
            )));
        }
    }
    Ok(())
}
