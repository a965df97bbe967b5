//! Peers: the other nodes this node exchanges with. Adding or removing one is
//! recorded in the log, so who was trusted, and since when, is on the record.

use crate::{Node, NodeError};
use detente_domain::{time, Country, Origin, VerifierKey};
use detente_storage::PeerRow;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// A validated peer.
#[derive(Clone, Debug)]
pub struct Peer {
    pub origin: Origin,
    pub url: String,
    pub key: VerifierKey,
    pub country: Country,
}

impl Peer {
    pub fn parse(origin: &str, url: &str, key: &str, country: &str) -> Result<Peer, NodeError> {
        let origin = Origin::parse(origin)?;
        let key = VerifierKey::parse(key)?;
        if key.name() != origin.as_str() {
            return Err(NodeError::Config(format!(
                "the key is named {}, but the peer is {origin}: a peer's key must carry its origin",
                key.name()
            )));
        }
        let url = url.trim_end_matches('/');
        let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
        let host_ok = url
            .split("://")
            .nth(1)
            .is_some_and(|h| !h.is_empty() && !h.contains(char::is_whitespace));
        if !scheme_ok || !host_ok {
            return Err(NodeError::Config(format!(
                "peer URL {url:?} must be http(s)://host[:port][/path]"
            )));
        }
        Ok(Peer {
            origin,
            url: url.to_string(),
            key,
            country: Country::parse(country)?,
        })
    }

    pub fn from_row(r: &PeerRow) -> Result<Peer, NodeError> {
        Peer::parse(&r.origin, &r.url, &r.key, &r.country)
    }
}

impl Node {
    /// Adds a peer; false if it was already configured.
    pub async fn add_peer(&self, p: &Peer) -> Result<bool, NodeError> {
        if p.origin.as_str() == self.config().origin {
            return Err(NodeError::Config("a node cannot be its own peer".into()));
        }
        let row = PeerRow {
            origin: p.origin.to_string(),
            url: p.url.clone(),
            key: p.key.to_string(),
            country: p.country.to_string(),
            added: time::format(&time::now()),
        };
        let added = self.store().add_peer(&row)?;
        self.forget_peers();
        if !added {
            return Ok(false);
        }
        self.record(
            "peer.added",
            json!({ "origin": row.origin, "url": row.url, "key": row.key, "country": row.country }),
        )
        .await?;
        Ok(true)
    }

    /// Removes a peer; false if there was none.
    pub async fn remove_peer(&self, origin: &str) -> Result<bool, NodeError> {
        let removed = self.store().remove_peer(origin)?;
        self.forget_peers();
        if !removed {
            return Ok(false);
        }
        self.record("peer.removed", json!({ "origin": origin }))
            .await?;
        Ok(true)
    }

    /// A peer by origin. Every node-to-node call looks its peer up, so the
    /// peers are kept in memory.
    pub fn peer(&self, origin: &str) -> Result<Option<Peer>, NodeError> {
        Ok(self.peers_by_origin()?.get(origin).cloned())
    }

    fn peers_by_origin(&self) -> Result<Arc<HashMap<String, Peer>>, NodeError> {
        // Replicas sharing a database learn of another replica's change
        // within this long; one process drops its copy on every change.
        const REPLICA_TTL: std::time::Duration = std::time::Duration::from_secs(1);
        let fresh = |(at, _): &(std::time::Instant, _)| {
            !self.store().shared() || at.elapsed() < REPLICA_TTL
        };
        if let Some(cached) = self.peer_cache.read().expect("lock").as_ref() {
            if fresh(cached) {
                return Ok(cached.1.clone());
            }
        }
        // Loaded under the write lock, so a change cannot slip in between the
        // read and the caching.
        let mut cache = self.peer_cache.write().expect("lock");
        if let Some(cached) = cache.as_ref() {
            if fresh(cached) {
                return Ok(cached.1.clone());
            }
        }
        let peers: HashMap<String, Peer> = self
            .store()
            .peers()?
            .iter()
            .map(|r| Ok((r.origin.clone(), Peer::from_row(r)?)))
            .collect::<Result<_, NodeError>>()?;
        let peers = Arc::new(peers);
        *cache = Some((std::time::Instant::now(), peers.clone()));
        Ok(peers)
    }

    /// The HTTP client for calls to peers: the web PKI's roots plus the
    /// configured `[federation] ca_file`. Redirects are never followed: a
    /// peer's URL is the one address its calls may go to, so a peer answering
    /// 3xx cannot send this node's signed envelopes, checkpoints or attachment
    /// requests elsewhere (internal addresses included); the call fails instead.
    pub fn peer_client(&self, timeout: std::time::Duration) -> Result<reqwest::Client, NodeError> {
        let mut b = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(no_redirects());
        if let Some(file) = &self.config().federation.ca_file {
            let path = self.dir().join(file);
            let pem = std::fs::read(&path).map_err(|e| NodeError::io(&path, e))?;
            let bad = |why: String| {
                NodeError::Config(format!("federation.ca_file {}: {why}", path.display()))
            };
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| bad(e.to_string()))?;
            if certs.is_empty() {
                return Err(bad("no PEM certificates in it".into()));
            }
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        b.build()
            .map_err(|e| NodeError::Config(format!("http client: {e}")))
    }

    fn forget_peers(&self) {
        *self.peer_cache.write().expect("lock") = None;
    }
}

/// Refuses every redirect, naming where the peer tried to send the call.
fn no_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let why = format!(
            "the peer answered {} redirecting to {}; peer calls do not follow redirects",
            attempt.status(),
            attempt.url()
        );
        attempt.error(why)
    })
}
