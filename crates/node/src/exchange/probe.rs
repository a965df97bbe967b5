//! The connection test an operator runs against a peer: a signed call, as
//! deliveries make them, that shows whether the peer accepts this node's
//! signature and serves a checkpoint signed with the key configured for it.

use super::Exchange;
use crate::peer_status::ProblemDetail;
use detente_domain::time;
use detente_log::Checkpoint;
use serde::Serialize;

/// What the test found.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ConnectionTest {
    pub peer: String,
    pub url: String,
    pub at: String,
    pub ok: bool,
    pub elapsed_ms: u64,
    /// The size of the peer's log, from its checkpoint, when the test passed.
    pub log_size: Option<u64>,
    pub problem: Option<ProblemDetail>,
}

impl Exchange {
    /// Calls the peer's `/federation/v1/whoami` and `/log/checkpoint`, both
    /// signed: the first shows the peer knows this node, the second that it
    /// answers with the key configured for it. Changes nothing on either node.
    pub async fn test_peer(&self, origin: &str) -> Option<ConnectionTest> {
        let peer = self.node.peer(origin).ok()??;
        let started = std::time::Instant::now();
        let outcome = self.probe(&peer).await;
        let at = time::format(&time::now());
        Some(ConnectionTest {
            peer: peer.origin.to_string(),
            url: peer.url.clone(),
            elapsed_ms: started.elapsed().as_millis() as u64,
            ok: outcome.is_ok(),
            log_size: outcome.as_ref().ok().copied(),
            problem: outcome
                .err()
                .map(|e| ProblemDetail::parse(&e, Some(at.clone()))),
            at,
        })
    }

    async fn probe(&self, peer: &crate::peers::Peer) -> Result<u64, String> {
        let get = reqwest::Method::GET;
        let who: serde_json::Value = self
            .signed_call(peer, get.clone(), "/federation/v1/whoami", Vec::new())
            .await?
            .json()
            .await
            .map_err(|e| format!("whoami: {e}"))?;
        let me = &self.node.config().origin;
        if who["peer"].as_str() != Some(me) || who["node"].as_str() != Some(peer.origin.as_str()) {
            return Err(format!(
                "the peer answered as {who}, not as {} to {me}",
                peer.origin
            ));
        }
        let note = self
            .signed_call(peer, get, "/log/checkpoint", Vec::new())
            .await?
            .text()
            .await
            .map_err(|e| format!("checkpoint: {e}"))?;
        let (cp, _) = Checkpoint::open(&note, std::slice::from_ref(&peer.key))
            .map_err(|e| format!("the peer's checkpoint does not verify: {e}"))?;
        Ok(cp.size)
    }
}
