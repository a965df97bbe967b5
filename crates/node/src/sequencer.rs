//! The sequencer: the one writer of the log. It takes signed envelopes from any
//! number of callers, commits them in batches (one transaction, one fsync and one
//! checkpoint signature per batch), and answers each caller only once its entries
//! are durable and covered by a signed checkpoint — so the caller can fetch its
//! inclusion proof at once.

use crate::datadir::replace_file;
use crate::node::{Published, Shared};
use crate::tree::{PendingNodes, TreeFiles};
use crate::NodeError;
use detente_domain::{NodeKey, SignedEnvelope};
use detente_log::merkle::{hash_leaf, CompactRange};
use detente_log::Checkpoint;
use detente_storage::{CheckpointRow, EntryRow, LogStore};
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
    pub tree: Arc<TreeFiles>,
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

    /// Commits envelopes synchronously, before the worker thread runs.
    pub fn append_now(&mut self, envelopes: Vec<SignedEnvelope>) -> Result<(), NodeError> {
        let (reply, mut rx) = oneshot::channel();
        self.commit(vec![Job { envelopes, reply }])?;
        rx.try_recv().map_err(|_| NodeError::Closed)?.map(|_| ())
    }

    /// Commits one batch and answers its callers. Returns an error only when the
    /// node can no longer append safely.
    fn commit(&mut self, jobs: Vec<Job>) -> Result<(), NodeError> {
        let started = Instant::now();
        let before = self.edge.clone();
        let mut rows = Vec::with_capacity(jobs.iter().map(|j| j.envelopes.len()).sum());
        let mut pending = PendingNodes::default();
        let done = self
            .stage(&jobs, &mut rows, &mut pending)
            .and_then(|spans| Ok((spans, self.persist(&rows, &pending)?)));
        let (spans, published) = match done {
            Ok(d) => d,
            Err(e) => {
                // Nothing was acknowledged: roll the edge back and tell the callers.
                self.edge = before;
                let msg = e.to_string();
                for job in jobs {
                    let _ = job.reply.send(Err(NodeError::Append(msg.clone())));
                }
                return match e {
                    NodeError::Storage(_) => Ok(()),
                    other => Err(other),
                };
            }
        };
        self.shared
            .metrics
            .record_batch(rows.len() as u64, started.elapsed());
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

    /// Extends the edge with the batch's new entries and returns each job's
    /// indices; an exchange envelope already logged is not appended again.
    fn stage(
        &mut self,
        jobs: &[Job],
        rows: &mut Vec<EntryRow>,
        pending: &mut PendingNodes,
    ) -> Result<Vec<Vec<u64>>, NodeError> {
        let mut spans = Vec::with_capacity(jobs.len());
        let mut batch_exchange = HashMap::new();
        for job in jobs {
            let mut indices = Vec::with_capacity(job.envelopes.len());
            for env in &job.envelopes {
                if let Some(index) = self.logged_before(env, &batch_exchange)? {
                    indices.push(index);
                    continue;
                }
                let index = self.edge.size();
                indices.push(index);
                if is_exchange(env.kind()) {
                    batch_exchange.insert(*env.digest(), index);
                }
                self.edge
                    .append(hash_leaf(&env.leaf()), |n| pending.push(n));
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

    /// Where the log already holds an exchange envelope, committed or earlier
    /// in this batch. The sequencer is the log's one writer and commits each
    /// batch before it reads the next, so this check cannot race an append:
    /// an envelope submitted again (a redelivery while the first delivery's
    /// append was still queued, a caller that gave up waiting) is never logged
    /// twice. Other kinds may legitimately repeat bytes and are not looked up.
    fn logged_before(
        &self,
        env: &SignedEnvelope,
        batch: &HashMap<detente_log::Hash, u64>,
    ) -> Result<Option<u64>, NodeError> {
        if !is_exchange(env.kind()) {
            return Ok(None);
        }
        if let Some(&index) = batch.get(env.digest()) {
            return Ok(Some(index));
        }
        Ok(self.store.exchange_entry(env.digest())?)
    }

    fn persist(
        &mut self,
        rows: &[EntryRow],
        pending: &PendingNodes,
    ) -> Result<Arc<Published>, NodeError> {
        if rows.is_empty() {
            // Everything was logged before: the latest checkpoint covers it.
            return Ok(self.shared.published());
        }
        let cp = Checkpoint {
            origin: self.key.name().to_string(),
            size: self.edge.size(),
            root: self.edge.root(),
            extensions: vec![],
        };
        let note = cp.sign(&self.key)?;
        self.store.append(
            rows,
            &CheckpointRow {
                size: cp.size,
                note: note.clone(),
            },
        )?;
        // Durable from here on. The tree files and the checkpoint copy are derived
        // and repaired at start if the process dies before they are written.
        self.tree.write(pending)?;
        replace_file(&self.checkpoint_file, note.as_bytes())?;
        let published = Arc::new(Published {
            size: cp.size,
            root: cp.root,
            note,
        });
        self.shared.publish(published.clone());
        Ok(published)
    }
}

/// Request events (`request.*`, as the store's exchange index has them): the
/// entries the exchange looks up by digest.
pub(crate) fn is_exchange(kind: &str) -> bool {
    kind.starts_with("request.")
}
