//! Browser sessions, kept in the node's database (`web_` tables beside the
//! `auth_` ones). The cookie carries 256 random bits; only their SHA-256 is
//! stored, so a copy of the database yields no usable session. Each session
//! has its own CSRF token, which every form carries.

use base64::Engine;
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("session database: {0}")]
    Db(#[from] rusqlite::Error),
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

const MIGRATIONS: &[&str] = &["
    CREATE TABLE web_sessions (
        digest    BLOB PRIMARY KEY,
        user_name TEXT NOT NULL,
        csrf      TEXT NOT NULL,
        created   INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        agent     TEXT NOT NULL
    );
    CREATE INDEX web_sessions_user ON web_sessions (user_name);
"];

/// Requests within this many seconds of the last recorded one do not write.
const TOUCH_EVERY: i64 = 30;

pub struct Sessions {
    conn: Mutex<Connection>,
    clock: Clock,
    life: Lifetimes,
}

impl Sessions {
    pub fn open(db: &Path, life: Lifetimes, clock: Clock) -> Result<Sessions, SessionError> {
        let mut conn = Connection::open(db)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        migrate(&mut conn)?;
        Ok(Sessions {
            conn: Mutex::new(conn),
            clock,
            life,
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a session for `user`; returns the cookie value (shown once) and
    /// the session.
    pub fn create(&self, user: &str, agent: &str) -> Result<(String, Session), SessionError> {
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random()?);
        let csrf = hex::encode(random()?);
        let now = (self.clock)();
        let agent: String = agent.chars().take(200).collect();
        let digest = digest(&secret);
        self.conn().execute(
            "INSERT INTO web_sessions (digest, user_name, csrf, created, last_seen, agent) \
             VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
            params![&digest[..], user, csrf, now, agent],
        )?;
        let s = Session {
            handle: hex::encode(digest),
            user: user.into(),
            csrf,
            created: now,
            last_seen: now,
            agent,
        };
        Ok((secret, s))
    }

    /// The live session for a cookie value; an expired one is ended here.
    pub fn lookup(&self, secret: &str) -> Result<Option<Session>, SessionError> {
        let digest = digest(secret);
        let conn = self.conn();
        let Some(s) = conn
            .query_row(
                "SELECT digest, user_name, csrf, created, last_seen, agent FROM web_sessions WHERE digest = ?1",
                [&digest[..]],
                row,
            )
            .optional()?
        else {
            return Ok(None);
        };
        let now = (self.clock)();
        if !self.alive(&s, now) {
            conn.execute("DELETE FROM web_sessions WHERE digest = ?1", [&digest[..]])?;
            return Ok(None);
        }
        if now - s.last_seen >= TOUCH_EVERY {
            conn.execute(
                "UPDATE web_sessions SET last_seen = ?2 WHERE digest = ?1",
                params![&digest[..], now],
            )?;
        }
        Ok(Some(Session {
            last_seen: now,
            ..s
        }))
    }

    fn alive(&self, s: &Session, now: i64) -> bool {
        now - s.last_seen < self.life.idle.as_secs() as i64
            && now - s.created < self.life.absolute.as_secs() as i64
    }

    /// Ends the session a cookie value names (sign-out, rotation).
    pub fn end(&self, secret: &str) -> Result<(), SessionError> {
        let digest = digest(secret);
        self.conn()
            .execute("DELETE FROM web_sessions WHERE digest = ?1", [&digest[..]])?;
        Ok(())
    }

    /// `user`'s live sessions, newest first.
    pub fn list(&self, user: &str) -> Result<Vec<Session>, SessionError> {
        let now = (self.clock)();
        let conn = self.conn();
        let mut st = conn.prepare_cached(
            "SELECT digest, user_name, csrf, created, last_seen, agent FROM web_sessions \
             WHERE user_name = ?1 ORDER BY created DESC, rowid DESC",
        )?;
        let rows = st.query_map([user], row)?;
        let all: Vec<Session> = rows.collect::<Result<_, _>>()?;
        Ok(all.into_iter().filter(|s| self.alive(s, now)).collect())
    }

    /// Ends one of `user`'s sessions by handle; false if there was none.
    pub fn revoke(&self, user: &str, handle: &str) -> Result<bool, SessionError> {
        let Ok(digest) = hex::decode(handle) else {
            return Ok(false);
        };
        let n = self.conn().execute(
            "DELETE FROM web_sessions WHERE digest = ?1 AND user_name = ?2",
            params![digest, user],
        )?;
        Ok(n > 0)
    }

    /// Every user's live sessions, newest first, at most `limit` (for the
    /// admin screen).
    pub fn list_all(&self, limit: usize) -> Result<Vec<Session>, SessionError> {
        let now = (self.clock)();
        let conn = self.conn();
        let mut st = conn.prepare_cached(
            "SELECT digest, user_name, csrf, created, last_seen, agent FROM web_sessions \
             ORDER BY created DESC, rowid DESC",
        )?;
        let mut out = Vec::new();
        for s in st.query_map([], row)? {
            let s = s?;
            if self.alive(&s, now) {
                out.push(s);
            }
            if out.len() == limit {
                break;
            }
        }
        Ok(out)
    }

    /// Ends any user's session by handle (an admin's action); false if none.
    pub fn revoke_any(&self, handle: &str) -> Result<bool, SessionError> {
        let Ok(digest) = hex::decode(handle) else {
            return Ok(false);
        };
        let n = self
            .conn()
            .execute("DELETE FROM web_sessions WHERE digest = ?1", [digest])?;
        Ok(n > 0)
    }

    /// Ends every session of one user; returns how many.
    pub fn end_user(&self, user: &str) -> Result<usize, SessionError> {
        Ok(self
            .conn()
            .execute("DELETE FROM web_sessions WHERE user_name = ?1", [user])?)
    }

    /// Ends every session of every user; returns how many.
    pub fn end_all(&self) -> Result<usize, SessionError> {
        Ok(self.conn().execute("DELETE FROM web_sessions", [])?)
    }
}

fn row(r: &rusqlite::Row) -> rusqlite::Result<Session> {
    let digest: Vec<u8> = r.get(0)?;
    Ok(Session {
        handle: hex::encode(digest),
        user: r.get(1)?,
        csrf: r.get(2)?,
        created: r.get(3)?,
        last_seen: r.get(4)?,
        agent: r.get(5)?,
    })
}

fn random() -> Result<[u8; 32], SessionError> {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).map_err(|e| SessionError::Random(e.to_string()))?;
    Ok(b)
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn migrate(conn: &mut Connection) -> Result<(), SessionError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS web_schema (version INTEGER NOT NULL)")?;
    let current: i64 = tx
        .query_row("SELECT MAX(version) FROM web_schema", [], |r| {
            r.get::<_, Option<i64>>(0)
        })?
        .unwrap_or(0);
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO web_schema (version) VALUES (?1)",
            [i as i64 + 1],
        )?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};

    fn sessions() -> (tempfile::TempDir, Arc<AtomicI64>, Sessions) {
        let dir = tempfile::tempdir().unwrap();
        let t = Arc::new(AtomicI64::new(1_000_000));
        let t2 = t.clone();
        let life = Lifetimes {
            idle: Duration::from_secs(600),
            absolute: Duration::from_secs(3600),
        };
        let s = Sessions::open(
            &dir.path().join("d.db"),
            life,
            Arc::new(move || t2.load(Ordering::SeqCst)),
        )
        .unwrap();
        (dir, t, s)
    }

    #[test]
    fn only_the_digest_is_stored() {
        let (_d, _t, s) = sessions();
        let (secret, sess) = s.create("alice", "ua").unwrap();
        assert_eq!(secret.len(), 43, "256 bits, base64url");
        let stored: Vec<u8> = s
            .conn()
            .query_row("SELECT digest FROM web_sessions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, Sha256::digest(secret.as_bytes()).to_vec());
        assert_eq!(s.lookup(&secret).unwrap().unwrap().user, "alice");
        assert_eq!(sess.csrf.len(), 64);
        assert!(s.lookup("forged").unwrap().is_none());
    }

    #[test]
    fn idle_sessions_expire_and_activity_keeps_them() {
        let (_d, t, s) = sessions();
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
        let (_d, t, s) = sessions();
        let (secret, _) = s.create("alice", "ua").unwrap();
        for _ in 0..7 {
            t.fetch_add(500, Ordering::SeqCst);
            assert!(s.lookup(&secret).unwrap().is_some());
        }
        t.fetch_add(200, Ordering::SeqCst);
        assert!(s.lookup(&secret).unwrap().is_none(), "3700 s after sign-in");
    }

    #[test]
    fn revoke_is_per_user_and_end_all_ends_everyone() {
        let (_d, _t, s) = sessions();
        let (a1, one) = s.create("alice", "laptop").unwrap();
        let (a2, _) = s.create("alice", "phone").unwrap();
        let (b, _) = s.create("bob", "desk").unwrap();
        assert_eq!(s.list("alice").unwrap().len(), 2);
        assert!(!s.revoke("bob", &one.handle).unwrap(), "not bob's");
        assert!(s.revoke("alice", &one.handle).unwrap());
        assert!(s.lookup(&a1).unwrap().is_none());
        assert!(s.lookup(&a2).unwrap().is_some());
        s.end(&a2).unwrap();
        assert!(s.lookup(&a2).unwrap().is_none());
        assert_eq!(s.end_all().unwrap(), 1);
        assert!(s.lookup(&b).unwrap().is_none());
    }

    #[test]
    fn an_admin_sees_and_ends_anyones_sessions() {
        let (_d, _t, s) = sessions();
        let (a, one) = s.create("alice", "laptop").unwrap();
        let (b1, _) = s.create("bob", "desk").unwrap();
        let (b2, _) = s.create("bob", "phone").unwrap();
        assert_eq!(s.list_all(10).unwrap().len(), 3);
        assert_eq!(s.list_all(2).unwrap().len(), 2);
        assert!(s.revoke_any(&one.handle).unwrap());
        assert!(!s.revoke_any("not hex").unwrap());
        assert!(s.lookup(&a).unwrap().is_none());
        assert_eq!(s.end_user("bob").unwrap(), 2);
        assert!(s.lookup(&b1).unwrap().is_none() && s.lookup(&b2).unwrap().is_none());
    }
}
