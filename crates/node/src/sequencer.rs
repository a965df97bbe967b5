//! The sequencer: the one writer of the log. It takes signed envelopes from any
//! number of callers, commits them in batches (one transaction, one fsync and one
//! checkpoint signature per batch), and answers each caller only once its entries
//! are durable and covered by a signed checkpoint — so the caller can fetch its
//! inclusion proof at once.
//!
//! Where replicas share the database, each replica's sequencer integrates
//! its own batches, under the head row's lock ([`LogStore::integrate`]): that
//! lock alone keeps the log linear and makes a second checkpoint for one size
//! impossible. No replica waits for another to acknowledge its callers, and
//! none is elected for it; the replica that leads (`LogStore::lead`) only
//! does the duties one replica does for all, such as cosigning.

use crate::datadir::replace_file;
use crate::node::{Published, Shared};
use crate::NodeError;
use detente_domain::{NodeKey, SignedEnvelope};
use detente_log::merkle::{hash_leaf, CompactRange};
use detente_log::Checkpoint;
use detente_storage::{
    CheckpointRow, EntryRow, Integration, LogStore, StorageError, StoredTree, TreeNodes,
};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// Upper bound on entries per batch, so one batch's memory and latency stay small.
pub const MAX_BATCH: usize = 16_384;

/// Where a caller's envelopes landed.
#[derive(Clone, Debug)]
pub struct Appended {
    pub first_index: u64,
    pub count: u64,
    /// Each envelope's index, in the caller's order. An exchange envelope the
    /// log already held keeps the index it was logged at (see [`is_exchange`]).
    pub indices: Vec<u64>,
    /// The checkpoint signed for the batch that holds them.
    pub checkpoint: Arc<Published>,
}

pub(crate) struct Job {
    pub envelopes: Vec<SignedEnvelope>,
    pub reply: oneshot::Sender<Result<Appended, NodeError>>,
}

pub(crate) struct Worker {
    pub key: Arc<NodeKey>,
    pub store: Arc<dyn LogStore>,
    /// The tree's right edge as this process last committed it; reloaded when
    /// another replica has appended since.
    pub edge: CompactRange,
    pub shared: Arc<Shared>,
    pub checkpoint_file: PathBuf,
}

impl Worker {
    /// Runs until every sender is dropped.
    pub fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        while let Some(first) = rx.blocking_recv() {
            let mut jobs = vec![first];
            let mut n = jobs[0].envelopes.len();
            while n < MAX_BATCH {
                match rx.try_recv() {
                    Ok(j) => {
                        n += j.envelopes.len();
                        jobs.push(j);
                    }
                    Err(_) => break,
                }
            }
            if let Err(e) = self.commit(jobs) {
                tracing::error!(error = %e, "log sequencer stopped");
                self.shared.set_failed(e.to_string());
                return;
            }
        }
    }

    /// Commits a new log's first entry synchronously, before the worker
    /// thread runs, unless a replica already has.
    pub fn append_first(&mut self, envelope: SignedEnvelope) -> Result<(), NodeError> {
        let (reply, mut rx) = oneshot::channel();
        let job = Job {
            envelopes: vec![envelope],
            reply,
        };
        let store = self.store.clone();
        let mut spans = Vec::new();
        let started = Instant::now();
        let done = store.integrate(&mut |size| match size {
            0 => self.build(size, std::slice::from_ref(&job), &mut spans),
            _ => Ok(None),
        })?;
        match done {
            Some(batch) => {
                self.shared
                    .metrics
                    .record_batch(batch.entries.len() as u64, started.elapsed());
                drop(self.publish(batch)?)
            }
            None => drop(crate::node::refresh_published(
                store.as_ref(),
                &self.key,
                &self.shared,
            )?),
        }
        drop(job);
        let _ = rx.try_recv();
        Ok(())
    }

    /// Commits one batch and answers its callers. Returns an error only when the
    /// node can no longer append safely.
    fn commit(&mut self, jobs: Vec<Job>) -> Result<(), NodeError> {
        let started = Instant::now();
        let before = self.edge.clone();
        let mut spans = Vec::new();
        let store = self.store.clone();
        let done = store.integrate(&mut |size| {
            spans.clear();
            self.build(size, &jobs, &mut spans)
        });
        let mut appended = 0;
        let published = match done {
            Ok(Some(batch)) => {
                appended = batch.entries.len() as u64;
                self.publish(batch)?
            }
            Ok(None) => self.covering(&spans)?,
            Err(e) => {
                // Nothing was acknowledged: roll the edge back and tell the callers.
                self.edge = before;
                let msg = e.to_string();
                for job in jobs {
                    let err = match &e {
                        StorageError::Full(m) => NodeError::Storage(StorageError::Full(m.clone())),
                        _ => NodeError::Append(msg.clone()),
                    };
                    let _ = job.reply.send(Err(err));
                }
                return match e {
                    StorageError::Integrity(_) => Err(e.into()),
                    _ => Ok(()),
                };
            }
        };
        self.shared
            .metrics
            .record_batch(appended, started.elapsed());
        for (job, indices) in jobs.into_iter().zip(spans) {
            let _ = job.reply.send(Ok(Appended {
                first_index: indices.first().copied().unwrap_or(published.size),
                count: indices.len() as u64,
                indices,
                checkpoint: published.clone(),
            }));
        }
        Ok(())
    }

    /// Under the head lock, at the committed `size`: stages the jobs' entries
    /// and signs the checkpoint over them; `None` when all were logged before.
    fn build(
        &mut self,
        size: u64,
        jobs: &[Job],
        spans: &mut Vec<Vec<u64>>,
    ) -> Result<Option<Integration>, StorageError> {
        if size != self.edge.size() {
            self.edge = CompactRange::load(&StoredTree(self.store.as_ref()), size)
                .map_err(|e| StorageError::Integrity(format!("loading the tree's edge: {e}")))?;
        }
        let mut entries = Vec::with_capacity(jobs.iter().map(|j| j.envelopes.len()).sum());
        let mut nodes = TreeNodes::default();
        *spans = self.stage(jobs, &mut entries, &mut nodes)?;
        if entries.is_empty() {
            return Ok(None);
        }
        let cp = Checkpoint {
            origin: self.key.name().to_string(),
            size: self.edge.size(),
            root: self.edge.root(),
            extensions: vec![],
        };
        let note = cp
            .sign(&self.key)
            .map_err(|e| StorageError::Integrity(format!("signing the checkpoint: {e}")))?;
        Ok(Some(Integration {
            entries,
            nodes,
            checkpoint: CheckpointRow {
                size: cp.size,
                note,
            },
        }))
    }

    /// Extends the edge with the batch's new entries and returns each job's
    /// indices; an exchange envelope already logged is not appended again.
    fn stage(
        &mut self,
        jobs: &[Job],
        rows: &mut Vec<EntryRow>,
        nodes: &mut TreeNodes,
    ) -> Result<Vec<Vec<u64>>, StorageError> {
        let mut spans = Vec::with_capacity(jobs.len());
        let digests: Vec<_> = jobs
            .iter()
            .flat_map(|j| &j.envelopes)
            .filter(|e| is_exchange(e.kind()))
            .map(|e| *e.digest())
            .collect();
        let logged = self.store.exchange_entries(&digests)?;
        let mut batch_exchange = HashMap::new();
        for job in jobs {
            let mut indices = Vec::with_capacity(job.envelopes.len());
            for env in &job.envelopes {
                if let Some(index) = logged_before(env, &logged, &batch_exchange) {
                    indices.push(index);
                    continue;
                }
                let index = self.edge.size();
                indices.push(index);
                if is_exchange(env.kind()) {
                    batch_exchange.insert(*env.digest(), index);
                }
                self.edge.append(hash_leaf(&env.leaf()), |n| nodes.push(n));
                rows.push(EntryRow {
                    index,
                    digest: *env.digest(),
                    kind: env.kind().to_string(),
                    time: env.time().to_string(),
                    envelope: env.bytes().to_vec(),
                });
            }
            spans.push(indices);
        }
        Ok(spans)
    }

    /// Serves a committed batch's checkpoint.
    fn publish(&mut self, batch: Integration) -> Result<Arc<Published>, NodeError> {
        // Durable from here on. The checkpoint copy is derived and only ever
        // compared with the database at start; if it lags (a full disk), that
        // check is weaker, never wrong, and the next publish replaces it.
        if let Err(e) = replace_file(&self.checkpoint_file, batch.checkpoint.note.as_bytes()) {
            tracing::warn!(error = %e, "checkpoint copy not updated");
        }
        let published = Arc::new(Published {
            size: batch.checkpoint.size,
            root: self.edge.root(),
            note: batch.checkpoint.note,
        });
        self.shared.publish(published.clone());
        Ok(published)
    }

    /// A checkpoint that covers entries logged before (possibly by another
    /// replica, after this process last published).
    fn covering(&mut self, spans: &[Vec<u64>]) -> Result<Arc<Published>, NodeError> {
        let current = self.shared.published();
        let needed = spans.iter().flatten().map(|i| i + 1).max().unwrap_or(0);
        if needed <= current.size {
            return Ok(current);
        }
        crate::node::refresh_published(self.store.as_ref(), &self.key, &self.shared)
    }
}

/// Where the log already holds an exchange envelope, committed (`logged`,
/// looked up under the head lock, after every earlier batch of every replica
/// committed, so it cannot race an append) or earlier in this batch: an
/// envelope submitted again (a redelivery while the first delivery's append
/// was still queued, a caller that gave up waiting) is never logged twice.
/// Other kinds may legitimately repeat bytes and are not looked up.
fn logged_before(
    env: &SignedEnvelope,
    logged: &HashMap<detente_log::Hash, u64>,
    batch: &HashMap<detente_log::Hash, u64>,
) -> Option<u64> {
    if !is_exchange(env.kind()) {
        return None;
    }
    logged
        .get(env.digest())
        .or_else(|| batch.get(env.digest()))
        .copied()
}

/// Request events (`request.*`, as the store's exchange index has them): the
/// entries the exchange looks up by digest.
pub(crate) fn is_exchange(kind: &str) -> bool {
    kind.starts_with("request.")
}
