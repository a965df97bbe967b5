//! TAXII 2.1 server for a detente node.
//!
//! One API root (`/taxii2/api/`) whose collections hold STIX 2.1 objects.
//! Clients authenticate with HTTP Basic or bearer tokens (detente-auth);
//! per-collection access lists and TLP markings decide what each principal
//! sees; objects served to peer nodes pass through an [`OutboundFilter`] (the
//! transfer gate).

mod api;
mod bench;
mod cli;
mod cursor;
mod params;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use detente_auth::{Authenticator, Principal};

pub use api::{router, API_ROOT};
pub use bench::{run_bench, BenchArgs, OpenStore};
pub use cli::{run_collection, CollectionCommand};
pub use store::{Collection, TaxiiStore};

use detente_storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum TaxiiError {
    #[error("{0}")]
    Db(StorageError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StorageError> for TaxiiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Conflict(m) => TaxiiError::Conflict(m),
            other => TaxiiError::Db(other),
        }
    }
}

/// What the transfer gate decides for one object about to be served to a peer.
#[derive(Debug, Clone, PartialEq)]
pub enum OutboundDecision {
    Allow,
    /// Serve this (redacted) object instead.
    Replace(serde_json::Value),
    /// Do not serve the object; the reason is logged, not shown to the peer.
    Withhold {
        reason: String,
    },
}

/// Hook for the transfer gate. Called only for peer principals: once per
/// object served (objects and object endpoints), and to leave withheld objects
/// out of manifest and version listings.
pub trait OutboundFilter: Send + Sync {
    fn check(&self, principal: &Principal, object: &serde_json::Value) -> OutboundDecision;
}

/// The default until the gate is plugged in.
pub struct AllowAll;

impl OutboundFilter for AllowAll {
    fn check(&self, _: &Principal, _: &serde_json::Value) -> OutboundDecision {
        OutboundDecision::Allow
    }
}

#[derive(Debug, Clone)]
pub struct TaxiiConfig {
    pub title: String,
    pub description: Option<String>,
    pub contact: Option<String>,
    /// Largest request body accepted (advertised in the API root).
    pub max_content_length: usize,
    /// Page size when the client gives no `limit`.
    pub default_limit: usize,
    /// Upper bound on `limit`.
    pub max_limit: usize,
    /// Status resources older than this are pruned (the standard asks for at
    /// least 24 hours).
    pub status_retention: Duration,
    /// External base URL (e.g. `https://cti.example.org`) used in discovery;
    /// when unset it is derived from the request's Host header.
    pub public_base_url: Option<String>,
}

impl Default for TaxiiConfig {
    fn default() -> Self {
        TaxiiConfig {
            title: "detente TAXII 2.1".into(),
            description: None,
            contact: None,
            max_content_length: 10 * 1024 * 1024,
            default_limit: 100,
            max_limit: 1000,
            status_retention: Duration::from_secs(48 * 3600),
            public_base_url: None,
        }
    }
}

/// Shared state of the TAXII service.
pub struct Taxii {
    store: Arc<dyn TaxiiStore>,
    users: Arc<dyn Authenticator>,
    config: TaxiiConfig,
    outbound: Arc<dyn OutboundFilter>,
    cursor_key: [u8; 32],
    /// POSTs since start; every `PRUNE_EVERY`th prunes old status resources,
    /// which otherwise grow by one per envelope.
    posts: std::sync::atomic::AtomicU64,
}

const PRUNE_EVERY: u64 = 1000;

impl Taxii {
    /// The TAXII server over `store` (usually the node's whole store).
    /// `users` is usually `Arc<detente_auth::Users>`, or the node's wrapper
    /// that also knows peers.
    pub fn with_store(
        store: Arc<dyn TaxiiStore>,
        users: Arc<dyn Authenticator>,
        config: TaxiiConfig,
    ) -> Result<Taxii, TaxiiError> {
        let mut fresh = [0u8; 32];
        getrandom::getrandom(&mut fresh).map_err(|e| TaxiiError::Internal(e.to_string()))?;
        let cursor_key = store.cursor_key(fresh)?;
        let taxii = Taxii {
            store,
            users,
            config,
            outbound: Arc::new(AllowAll),
            cursor_key,
            posts: std::sync::atomic::AtomicU64::new(0),
        };
        taxii.prune_statuses()?;
        Ok(taxii)
    }

    pub(crate) fn prune_statuses(&self) -> Result<usize, TaxiiError> {
        let retention = i64::try_from(self.config.status_retention.as_micros()).unwrap_or(i64::MAX);
        Ok(self
            .store
            .prune_statuses(now_us().saturating_sub(retention))?)
    }

    /// Counts a POST and says whether this one should prune statuses.
    pub(crate) fn prune_due(&self) -> bool {
        let n = self
            .posts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        n > 0 && n.is_multiple_of(PRUNE_EVERY)
    }

    /// Installs the transfer gate.
    pub fn with_outbound_filter(mut self, filter: Arc<dyn OutboundFilter>) -> Taxii {
        self.outbound = filter;
        self
    }

    pub fn store(&self) -> &Arc<dyn TaxiiStore> {
        &self.store
    }

    /// What discovery and the API root advertise.
    pub fn config(&self) -> &TaxiiConfig {
        &self.config
    }

    /// The first collection `principal` may read: where objects meant for that
    /// peer are published.
    pub fn collection_for(&self, principal: &str) -> Result<Option<Collection>, TaxiiError> {
        Ok(self
            .store
            .collections()?
            .into_iter()
            .find(|c| c.can_read(principal)))
    }

    /// Validates and stores `objects` in `collection` as `owner` (the node
    /// itself publishing, e.g. a bundle attached to a cooperation request).
    /// Returns the status resource; invalid objects are failures in it.
    pub fn publish(
        &self,
        collection: &str,
        owner: &str,
        objects: Vec<serde_json::Value>,
    ) -> Result<String, TaxiiError> {
        let (valid, failures) = api::prepare(objects);
        let status_id = uuid::Uuid::new_v4().to_string();
        let sid = status_id.clone();
        let stored = self.store.ingest(
            collection,
            &valid,
            &sid,
            owner,
            &mut |stored, request_us| api::status_of(&status_id, request_us, stored, &failures),
        );
        ingested(stored, collection)
    }
}

/// The status resource of an ingest, or why there is none.
pub(crate) fn ingested(
    stored: Result<Option<String>, StorageError>,
    collection: &str,
) -> Result<String, TaxiiError> {
    stored?.ok_or_else(|| TaxiiError::NotFound(format!("no collection {collection}")))
}

pub(crate) fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

pub(crate) use detente_storage::taxii::format_timestamp;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_microseconds() {
        assert_eq!(format_timestamp(1_000_001), "1970-01-01T00:00:01.000001Z");
    }
}
