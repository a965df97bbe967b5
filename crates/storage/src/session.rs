//! Browser sessions of the web interface, kept in the database so that every
//! replica sees a sign-in, a sign-out and a revocation at once. A session is
//! stored under the SHA-256 of its cookie's secret, never the secret.

use crate::{Hash, StorageError};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    /// SHA-256 of the cookie's secret.
    pub digest: Hash,
    pub user: String,
    /// The token every form of this session carries.
    pub csrf: String,
    /// Seconds since the Unix epoch.
    pub created: i64,
    pub last_seen: i64,
    pub agent: String,
}

/// Which sessions are alive: seen after `seen_after` and created after
/// `created_after` (seconds since the epoch). The caller derives both from
/// its clock and lifetimes, so the store needs neither.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Live {
    pub seen_after: i64,
    pub created_after: i64,
}

impl Live {
    pub fn admits(&self, s: &SessionRow) -> bool {
        s.last_seen > self.seen_after && s.created > self.created_after
    }
}

pub trait SessionStore: Send + Sync + 'static {
    /// [`StorageError::Conflict`] if the digest is taken.
    fn insert_session(&self, row: &SessionRow) -> Result<(), StorageError>;
    /// The session with this digest if `live` admits it; one it does not is
    /// deleted here.
    fn live_session(&self, digest: &Hash, live: Live) -> Result<Option<SessionRow>, StorageError>;
    /// Records activity; never moves `last_seen` back.
    fn touch_session(&self, digest: &Hash, last_seen: i64) -> Result<(), StorageError>;
    /// Ends one session, only `user`'s when given; false if there was none.
    fn delete_session(&self, digest: &Hash, user: Option<&str>) -> Result<bool, StorageError>;
    /// Live sessions, of `user` or of everyone, newest first, at most `limit`.
    fn live_sessions(
        &self,
        user: Option<&str>,
        live: Live,
        limit: u64,
    ) -> Result<Vec<SessionRow>, StorageError>;
    /// Ends every session, of `user` or of everyone; how many there were.
    fn delete_sessions(&self, user: Option<&str>) -> Result<u64, StorageError>;
}
