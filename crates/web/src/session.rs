//! Browser sessions, kept in the node's store ([`SessionStore`]), so that
//! every process serving the node sees a sign-out or revocation at once. The
//! cookie carries 256 random bits; only their SHA-256 is stored, so a copy of
//! the database yields no usable session. Each session has its own CSRF
//! token, which every form carries.

use base64::Engine;
use detente_storage::{Live, SessionRow, SessionStore, StorageError};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("session store: {0}")]
    Storage(#[from] StorageError),
    #[error("random number generator failed: {0}")]
    Random(String),
    #[error("{0}")]
    Node(#[from] detente_node::NodeError),
}

/// Seconds since the Unix epoch; injectable so tests can move time.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(|| chrono::Utc::now().timestamp())
}

/// How long sessions live.
#[derive(Clone, Copy, Debug)]
pub struct Lifetimes {
    /// Ended after this long without a request.
    pub idle: Duration,
    /// Ended this long after sign-in, however active.
    pub absolute: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes {
            idle: Duration::from_secs(30 * 60),
            absolute: Duration::from_secs(12 * 3600),
        }
    }
}

/// A live session, as the pages see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// Hex SHA-256 of the secret id: names the session in lists and revocations.
    pub handle: String,
    pub user: String,
    pub csrf: String,
    pub created: i64,
    pub last_seen: i64,
    pub agent: String,
}

/// Requests within this many seconds of the last recorded one do not write.
const TOUCH_EVERY: i64 = 30;

pub struct Sessions {
    store: Arc<dyn SessionStore>,
    clock: Clock,
    life: Lifetimes,
}

impl Sessions {
    /// Sessions in `store`, normally the node's own.
    pub fn new(store: Arc<dyn SessionStore>, life: Lifetimes, clock: Clock) -> Sessions {
        Sessions { store, clock, life }
    }

    /// Starts a session for `user`; returns the cookie value (shown once) and
    /// the session.
    pub fn create(&self, user: &str, agent: &str) -> Result<(String, Session), SessionError> {
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random()?);
        let now = (self.clock)();
        let row = SessionRow {
            digest: digest(&secret),
            user: user.into(),
            csrf: hex::encode(random()?),
            created: now,
            last_seen: now,
            agent: agent.chars().take(200).collect(),
        };
        self.store.insert_session(&row)?;
        Ok((secret, session(row)))
    }

    /// The live session for a cookie value; an expired one is ended here.
    pub fn lookup(&self, secret: &str) -> Result<Option<Session>, SessionError> {
        let digest = digest(secret);
        let now = (self.clock)();
        let Some(row) = self.store.live_session(&digest, self.live(now))? else {
            return Ok(None);
        };
        if now - row.last_seen >= TOUCH_EVERY {
            self.store.touch_session(&digest, now)?;
        }
        Ok(Some(Session {
            last_seen: now,
            ..session(row)
        }))
    }

    /// What is alive at `now`.
    fn live(&self, now: i64) -> Live {
        Live {
            seen_after: now - self.life.idle.as_secs() as i64,
            created_after: now - self.life.absolute.as_secs() as i64,
        }
    }

    /// Ends the session a cookie value names (sign-out, rotation).
    pub fn end(&self, secret: &str) -> Result<(), SessionError> {
        self.store.delete_session(&digest(secret), None)?;
        Ok(())
    }

    /// `user`'s live sessions, newest first.
    pub fn list(&self, user: &str) -> Result<Vec<Session>, SessionError> {
        self.listed(Some(user), u64::MAX)
    }

    /// Ends one of `user`'s sessions by handle; false if there was none.
    pub fn revoke(&self, user: &str, handle: &str) -> Result<bool, SessionError> {
        self.revoke_handle(handle, Some(user))
    }

    /// Every user's live sessions, newest first, at most `limit` (for the
    /// admin screen).
    pub fn list_all(&self, limit: usize) -> Result<Vec<Session>, SessionError> {
        self.listed(None, limit as u64)
    }

    /// Ends any user's session by handle (an admin's action); false if none.
    pub fn revoke_any(&self, handle: &str) -> Result<bool, SessionError> {
        self.revoke_handle(handle, None)
    }

    /// Ends every session of one user; returns how many.
    pub fn end_user(&self, user: &str) -> Result<usize, SessionError> {
        Ok(self.store.delete_sessions(Some(user))? as usize)
    }

    /// Ends every session of every user; returns how many.
    pub fn end_all(&self) -> Result<usize, SessionError> {
        Ok(self.store.delete_sessions(None)? as usize)
    }

    fn listed(&self, user: Option<&str>, limit: u64) -> Result<Vec<Session>, SessionError> {
        let live = self.live((self.clock)());
        let rows = self.store.live_sessions(user, live, limit)?;
        Ok(rows.into_iter().map(session).collect())
    }

    fn revoke_handle(&self, handle: &str, user: Option<&str>) -> Result<bool, SessionError> {
        let Some(digest) = hex::decode(handle)
            .ok()
            .and_then(|d| <[u8; 32]>::try_from(d).ok())
        else {
            return Ok(false);
        };
        Ok(self.store.delete_session(&digest, user)?)
    }
}

fn session(r: SessionRow) -> Session {
    Session {
        handle: hex::encode(r.digest),
        user: r.user,
        csrf: r.csrf,
        created: r.created,
        last_seen: r.last_seen,
        agent: r.agent,
    }
}

fn random() -> Result<[u8; 32], SessionError> {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).map_err(|e| SessionError::Random(e.to_string()))?;
    Ok(b)
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};

    type Store = Arc<detente_storage_sqlite::SqliteStore>;

    fn sessions() -> (tempfile::TempDir, Arc<AtomicI64>, Store, Sessions) {
        let dir = tempfile::tempdir().unwrap();
        let t = Arc::new(AtomicI64::new(1_000_000));
        let t2 = t.clone();
        let life = Lifetimes {
            idle: Duration::from_secs(600),
            absolute: Duration::from_secs(3600),
        };
        let store = detente_storage_sqlite::SqliteStore::open(&dir.path().join("d.db"));
        let store = Arc::new(store.unwrap());
        let clock: Clock = Arc::new(move || t2.load(Ordering::SeqCst));
        let s = Sessions::new(store.clone(), life, clock);
        (dir, t, store, s)
    }

    #[test]
    fn only_the_digest_is_stored() {
        let (_d, _t, store, s) = sessions();
        let (secret, sess) = s.create("alice", "ua").unwrap();
        assert_eq!(secret.len(), 43, "256 bits, base64url");
        let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let stored = store.live_sessions(None, s.live(1_000_000), 10).unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].digest, digest);
        assert_eq!(sess.handle, hex::encode(digest));
        assert_eq!(s.lookup(&secret).unwrap().unwrap().user, "alice");
        assert_eq!(sess.csrf.len(), 64);
        assert!(s.lookup("forged").unwrap().is_none());
    }

    #[test]
    fn idle_sessions_expire_and_activity_keeps_them() {
        let (_d, t, _store, s) = sessions();
        let (secret, _) = s.create("alice", "ua").unwrap();
        t.fetch_add(500, Ordering::SeqCst);
        assert!(s.lookup(&secret).unwrap().is_some());
        t.fetch_add(500, Ordering::SeqCst);
        assert!(s.lookup(&secret).unwrap().is_some(), "touched 500 s ago");
        t.fetch_add(600, Ordering::SeqCst);
        assert!(s.lookup(&secret).unwrap().is_none(), "idle for 600 s");
        assert!(s.list("alice").unwrap().is_empty());
    }

    #[test]
    fn sessions_end_at_the_absolute_limit_however_active() {
        let (_d, t, _store, s) = sessions();
        let (secret, _) = s.create("alice", "ua").unwrap();
        for _ in 0..7 {
            t.fetch_add(500, Ordering::SeqCst);
            assert!(s.lookup(&secret).unwrap().is_some());
        }
        t.fetch_add(200, Ordering::SeqCst);
        assert!(s.lookup(&secret).unwrap().is_none(), "3700 s after sign-in");
    }

    #[test]
    fn sessions_are_revoked_by_handle_only_their_owners_or_an_admins() {
        let (_d, _t, _store, s) = sessions();
        let (a, one) = s.create("alice", "laptop").unwrap();
        let (b, two) = s.create("bob", "desk").unwrap();
        assert!(!s.revoke("bob", &one.handle).unwrap(), "not bob's");
        assert!(!s.revoke_any("not hex").unwrap());
        assert!(!s.revoke_any(&one.handle[..62]).unwrap(), "too short");
        assert!(s.revoke("alice", &one.handle).unwrap());
        assert!(s.lookup(&a).unwrap().is_none());
        assert!(s.revoke_any(&two.handle).unwrap());
        assert!(s.lookup(&b).unwrap().is_none());
    }
}
