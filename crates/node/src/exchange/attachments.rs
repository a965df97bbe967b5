//! Attachment content between peers. Request events cite attachments by
//! SHA-256; the content stays with the node that cited it until the other side
//! asks. A peer may fetch only what this node cited to it (the transfer gate
//! passed the content with the event); a user's download of content a peer
//! cited is fetched from that peer once, checked against the citation's digest
//! and size, and kept.

use super::{Exchange, ExchangeError};
use detente_domain::time;
use detente_storage::CitationRow;

impl Exchange {
    /// Content this node cited to `peer`.
    pub fn attachment_for_peer(
        &self,
        peer: &str,
        sha256: &str,
    ) -> Result<(String, Vec<u8>), ExchangeError> {
        let not_cited =
            || ExchangeError::NotFound(format!("no attachment {sha256} was cited to {peer}"));
        let store = self.node.store();
        store.citation(sha256, peer, false)?.ok_or_else(not_cited)?;
        store.attachment(sha256)?.ok_or_else(not_cited)
    }

    /// An attachment for this node's users: stored here, or else fetched from
    /// a peer that cited it. `None` when nobody cited or uploaded it.
    pub async fn attachment(
        &self,
        sha256: &str,
    ) -> Result<Option<(String, Vec<u8>)>, ExchangeError> {
        if let Some(found) = self.node.store().attachment(sha256)? {
            return Ok(Some(found));
        }
        let cited: Vec<CitationRow> = self
            .node
            .store()
            .citations(sha256)?
            .into_iter()
            .filter(|c| c.by_peer)
            .collect();
        if cited.is_empty() {
            return Ok(None);
        }
        let mut failures = Vec::new();
        for c in &cited {
            match self.fetch_from(c).await {
                Ok(content) => {
                    let at = time::format(&time::now());
                    self.node
                        .store()
                        .put_attachment(sha256, &c.media_type, &content, &at)?;
                    return Ok(Some((c.media_type.clone(), content)));
                }
                Err(e) => failures.push(format!("{}: {e}", c.peer)),
            }
        }
        Err(ExchangeError::PeerUnavailable(format!(
            "attachment {sha256} is with the peer and could not be fetched ({})",
            failures.join("; ")
        )))
    }

    /// Fetches cited content from the peer that cited it, reading no more than
    /// the cited size.
    async fn fetch_from(&self, c: &CitationRow) -> Result<Vec<u8>, String> {
        let peer = self
            .node
            .peer(&c.peer)
            .map_err(|e| e.to_string())?
            .ok_or("no longer a peer")?;
        let path = format!("/federation/v1/attachments/{}", c.sha256);
        let mut resp = self
            .signed_call(&peer, reqwest::Method::GET, &path, Vec::new())
            .await?;
        let mut content = Vec::with_capacity(c.size.min(1 << 24) as usize);
        while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
            if (content.len() + chunk.len()) as u64 > c.size {
                return Err(format!("more than the cited {} bytes", c.size));
            }
            content.extend_from_slice(&chunk);
        }
        if content.len() as u64 != c.size
            || hex::encode(detente_domain::sha256(&content)) != c.sha256
        {
            return Err("the content does not match its citation".into());
        }
        Ok(content)
    }
}
