//! This node's log, witnessed by its peers (C2SP tlog-witness): after the log
//! grows, its latest checkpoint is sent to every peer's witness with a
//! consistency proof from the size that peer last cosigned. The cosignatures
//! are kept: their timestamps are third-party evidence of when entries existed,
//! and a peer refusing a checkpoint as inconsistent is a loud alarm.

use crate::{Node, NodeError};
use detente_storage::PeerRow;
use detente_witness::{submit, SubmitOutcome};
use std::sync::Arc;
use std::time::Duration;

/// Has each peer cosign the latest checkpoint; returns how many cosigned.
pub async fn cosign_round(node: &Node, http: &reqwest::Client) -> Result<usize, NodeError> {
    let published = node.published();
    let mut cosigned = 0;
    for peer in node.store().peers()? {
        let last = node.store().last_cosigned(&peer.origin)?.unwrap_or(0);
        if last >= published.size {
            continue;
        }
        match ask(node, http, &peer, last, &published.note, published.size).await {
            Ok(true) => cosigned += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(witness = %peer.origin, error = %e, "checkpoint not cosigned"),
        }
    }
    Ok(cosigned)
}

async fn ask(
    node: &Node,
    http: &reqwest::Client,
    peer: &PeerRow,
    old: u64,
    note: &str,
    size: u64,
) -> Result<bool, String> {
    let key = detente_domain::VerifierKey::parse(&peer.key).map_err(|e| e.to_string())?;
    let url = format!("{}/witness", peer.url);
    let mut old = old;
    for _ in 0..2 {
        let proof = node
            .consistency_proof(old, size)
            .map_err(|e| e.to_string())?;
        match submit(http, &url, old, &proof, note, &key)
            .await
            .map_err(|e| e.to_string())?
        {
            SubmitOutcome::Cosigned(c) => {
                node.store()
                    .add_cosignature(&peer.origin, size, &c.line, c.timestamp)
                    .map_err(|e| e.to_string())?;
                return Ok(true);
            }
            // The witness knows another size of our log: prove from there.
            SubmitOutcome::WitnessSize(n) if n <= size => old = n,
            SubmitOutcome::WitnessSize(n) => {
                return Err(format!(
                    "witness has size {n}, beyond our {size}: it saw a fork of this log"
                ))
            }
        }
    }
    Ok(false)
}

/// Runs cosigning rounds until `stop` changes.
pub async fn run(node: Arc<Node>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let http = match node.peer_client(Duration::from_secs(10)) {
        Ok(h) => h,
        Err(e) => return tracing::error!(error = %e, "no cosigning: cannot reach peers"),
    };
    loop {
        // Replicas sharing the log cosign through one of them: several
        // asking at once would each show the witness a size the other has
        // already moved past (refused, and reported as a fork).
        let leads = node.store().lead().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not tell which replica leads");
            false
        });
        if leads {
            if let Err(e) = cosign_round(&node, &http).await {
                tracing::error!(error = %e, "cosigning round failed");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
    }
}

impl Node {
    /// The largest checkpoint that witnesses cosigned, with their cosignature
    /// lines appended (a C2SP note with several signatures).
    pub fn cosigned_checkpoint(&self) -> Result<Option<String>, NodeError> {
        let Some(size) = self.store().latest_cosigned_size()? else {
            return Ok(None);
        };
        self.checkpoint_with_cosignatures(size)
    }

    /// The checkpoint of `size` with every cosignature it got.
    pub fn checkpoint_with_cosignatures(&self, size: u64) -> Result<Option<String>, NodeError> {
        let Some(mut note) = self.store().checkpoint_at(size)? else {
            return Ok(None);
        };
        for line in self.store().cosignatures(size)? {
            note.push_str(&line);
            if !line.ends_with('\n') {
                note.push('\n');
            }
        }
        Ok(Some(note))
    }
}
