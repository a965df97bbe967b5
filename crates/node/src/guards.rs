//! The node's replay cache, rate limit and login throttle, wherever they must
//! live. Replicas sharing one database ([`detente_storage::LogStore::shared`])
//! keep them there, or a second replica would be a way around each; a single
//! process (SQLite, whose directory lock keeps others out) keeps them in
//! memory, which is faster. Callers ask this type and never branch on the
//! backend.

use detente_federation::ReplayGuard;
use detente_storage::{GuardStore, StorageError, Store};
use std::sync::Arc;

/// The scope of peers' RFC 9421 nonces in [`GuardStore::first_use`].
const NONCE_SCOPE: &str = "rfc9421";
/// Nonces remembered at most, as [`ReplayGuard`] does in memory: beyond it
/// new calls are refused until old ones expire.
const MAX_NONCES: u64 = 1_000_000;

pub struct Guards {
    /// The store, when replicas share it.
    shared: Option<Arc<dyn Store>>,
    replay: ReplayGuard,
}

impl Guards {
    pub fn new(store: &Arc<dyn Store>) -> Guards {
        Guards {
            shared: store.shared().then(|| store.clone()),
            replay: ReplayGuard::default(),
        }
    }

    /// Consumes the nonce of a verified peer call (remembered until
    /// `expires`, seconds since the epoch); false if it was used already,
    /// by this replica or another, or the cache is full.
    pub async fn first_use(
        &self,
        nonce: &str,
        now: u64,
        expires: u64,
    ) -> Result<bool, StorageError> {
        let Some(store) = &self.shared else {
            return Ok(self.replay.first_use(nonce, now, expires));
        };
        let (store, nonce) = (store.clone(), nonce.to_string());
        blocking(move || store.first_use(NONCE_SCOPE, &nonce, secs(now), secs(expires), MAX_NONCES))
            .await
    }

    /// The replicas' common rate limit for `key` (a client address): `None`
    /// if this request may go on, else microseconds to wait. A single
    /// process has nothing to add to its in-memory limiter, which already
    /// is the whole limit, and always gets `None`.
    pub async fn take_token(
        &self,
        key: String,
        now_us: i64,
        interval_us: i64,
        burst: u32,
    ) -> Result<Option<u64>, StorageError> {
        let Some(store) = &self.shared else {
            return Ok(None);
        };
        let store = store.clone();
        blocking(move || store.take_token(&key, now_us, interval_us, burst)).await
    }

    /// Where failed logins are counted when replicas share them; `None`:
    /// in the authenticator's memory.
    pub fn failures(&self) -> Option<Arc<dyn GuardStore>> {
        self.shared.clone().map(|s| s as Arc<dyn GuardStore>)
    }
}

fn secs(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

/// Runs a store call on the blocking pool: async workers never wait for
/// the database.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
) -> Result<T, StorageError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StorageError::Database(format!("guard check: {e}")))?
}
