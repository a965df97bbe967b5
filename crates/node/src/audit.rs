//! `detente log verify`: audits a node's own store end to end, streaming, without
//! trusting anything derived: every envelope signature and digest, every leaf,
//! every stored checkpoint's signature and root, and the stored tree.
//!
//! The log also holds envelopes its peers signed (the inbound copies of request
//! events). Their keys come from the log itself: the node's own `peer.added`
//! entries, in order, so an envelope verifies only against a key the node had
//! recorded before it.

use crate::datadir::CHECKPOINT_FILE;
use crate::{Config, NodeError};
use detente_domain::{leaf_for, sha256, SignedEnvelope, VerifierKey};
use detente_log::merkle::{hash_leaf, CompactRange};
use detente_log::{Checkpoint, HashReader};
use detente_storage::{CheckpointRow, StoredTree};
use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, Default)]
pub struct AuditReport {
    pub entries: u64,
    pub checkpoints: u64,
    pub problems: Vec<String>,
}

impl AuditReport {
    fn problem(&mut self, p: String) {
        if self.problems.len() < 100 {
            self.problems.push(p);
        }
    }
}

pub fn audit(dir: &Path) -> Result<AuditReport, NodeError> {
    let config = Config::load(&dir.join(crate::datadir::CONFIG_FILE))?;
    let origin = config.origin()?;
    let key = crate::datadir::load_key(dir, &origin)?.verifier();
    let store = crate::backend::open(&config.database_url(dir))?;
    let mut checkpoints = Vec::new();
    detente_storage::LogStore::scan_checkpoints(store.as_ref(), &mut |c| {
        checkpoints.push(c);
        Ok(())
    })?;
    let mut report = AuditReport::default();
    let mut edge = CompactRange::default();
    let mut next_cp = checkpoints.iter().peekable();
    check_checkpoints_at(&mut report, &key, &edge, &mut next_cp);
    let mut signers = Signers::new(key.clone());
    detente_storage::LogStore::scan_entries(store.as_ref(), 0, &mut |e| {
        if e.index != edge.size() {
            report.problem(format!("entry {} is missing", edge.size()));
        }
        check_entry(&mut report, &mut signers, &StoredTree(store.as_ref()), &e);
        edge.append(hash_leaf(&leaf_for(&sha256(&e.envelope))), |_| {});
        report.entries += 1;
        check_checkpoints_at(&mut report, &key, &edge, &mut next_cp);
        Ok(())
    })?;
    for c in next_cp {
        report.problem(format!(
            "checkpoint of size {} is beyond the {} stored entries",
            c.size,
            edge.size()
        ));
    }
    for (digest, at) in detente_storage::LogStore::repeated_exchange_entries(store.as_ref(), 100)? {
        report.problem(format!(
            "envelope {} is logged {} times, at {at:?}",
            hex::encode(digest),
            at.len()
        ));
    }
    report.checkpoints = checkpoints.len() as u64;
    check_published(&mut report, dir, &key, &edge, checkpoints.last());
    Ok(report)
}

/// The keys entries may be signed with, as the log itself has recorded them.
struct Signers {
    own: VerifierKey,
    peers: HashMap<String, VerifierKey>,
}

impl Signers {
    fn new(own: VerifierKey) -> Self {
        Signers {
            own,
            peers: HashMap::new(),
        }
    }

    fn key_for(&self, origin: &str) -> Option<&VerifierKey> {
        if origin == self.own.name() {
            Some(&self.own)
        } else {
            self.peers.get(origin)
        }
    }

    /// Follows the node's own `peer.added` / `peer.removed` entries.
    fn follow(&mut self, env: &detente_domain::Envelope) {
        let origin = env.payload["origin"].as_str().unwrap_or_default();
        match env.kind.as_str() {
            "peer.added" => {
                let key = env.payload["key"].as_str().map(VerifierKey::parse);
                if let Some(Ok(k)) = key {
                    self.peers.insert(origin.to_string(), k);
                }
            }
            "peer.removed" => {
                self.peers.remove(origin);
            }
            _ => {}
        }
    }
}

/// The signer's origin, read without parsing: canonical JSON puts `origin`
/// first.
fn signer(envelope: &[u8]) -> Option<&str> {
    let rest = envelope.strip_prefix(b"{\"origin\":\"")?;
    let end = rest.iter().position(|&b| b == b'"')?;
    std::str::from_utf8(&rest[..end]).ok()
}

fn check_entry(
    report: &mut AuditReport,
    signers: &mut Signers,
    tree: &StoredTree,
    e: &detente_storage::EntryRow,
) {
    let digest = sha256(&e.envelope);
    if digest != e.digest {
        report.problem(format!(
            "entry {}: stored digest does not match the envelope",
            e.index
        ));
    }
    let origin = signer(&e.envelope).unwrap_or_default();
    match signers.key_for(origin) {
        None => report.problem(format!(
            "entry {}: signed by {origin:?}, which was not a peer of this node then",
            e.index
        )),
        Some(key) => match SignedEnvelope::verify(&e.envelope, key) {
            Ok((_, env)) if key == &signers.own => signers.follow(&env),
            Ok(_) => {}
            Err(err) => report.problem(format!("entry {}: {err}", e.index)),
        },
    }
    // Tree files may lag the database after a crash (they are repaired at start);
    // a leaf that is there must match.
    match tree.node(0, e.index) {
        Ok(h) if h != hash_leaf(&leaf_for(&digest)) => {
            report.problem(format!("entry {}: stored tree leaf differs", e.index))
        }
        _ => {}
    }
}

fn check_checkpoints_at<'a>(
    report: &mut AuditReport,
    key: &VerifierKey,
    edge: &CompactRange,
    next: &mut std::iter::Peekable<impl Iterator<Item = &'a CheckpointRow>>,
) {
    while let Some(c) = next.next_if(|c| c.size == edge.size()) {
        match Checkpoint::open(&c.note, std::slice::from_ref(key)) {
            Ok((cp, _)) if cp.size == c.size && cp.root == edge.root() => {}
            Ok(_) => report.problem(format!(
                "checkpoint of size {}: root differs from the entries",
                c.size
            )),
            Err(e) => report.problem(format!("checkpoint of size {}: {e}", c.size)),
        }
    }
}

fn check_published(
    report: &mut AuditReport,
    dir: &Path,
    key: &VerifierKey,
    edge: &CompactRange,
    latest: Option<&CheckpointRow>,
) {
    match latest {
        Some(c) if c.size == edge.size() => {}
        Some(c) => report.problem(format!(
            "latest checkpoint covers {} entries but {} are stored",
            c.size,
            edge.size()
        )),
        None => report.problem("no checkpoint stored".into()),
    }
    let Ok(text) = std::fs::read_to_string(dir.join(CHECKPOINT_FILE)) else {
        return;
    };
    match Checkpoint::open(&text, std::slice::from_ref(key)) {
        Ok((cp, _)) if cp.size > edge.size() => report.problem(format!(
            "the node published a checkpoint of size {} but only {} entries are stored",
            cp.size,
            edge.size()
        )),
        Ok(_) => {}
        Err(e) => report.problem(format!("checkpoint file: {e}")),
    }
}
