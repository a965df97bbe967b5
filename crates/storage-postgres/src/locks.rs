//! Locks that several replicas take on one key, e.g. a request while one of
//! them reads its state, logs its next event and records it: without one,
//! two replicas could each log a step from the same state, and the log would
//! hold two contradictory events of one request, both signed by the node.
//!
//! Session advisory locks on one dedicated connection per process (a
//! transaction lock would not span the append and the group commit, which
//! run on other connections). One process never asks for a key twice at
//! once: its own per-request locks are taken first.

use crate::{wait, PgStore};
use detente_storage::{SharedLock, StorageError};
use std::sync::{Arc, Mutex};
use tokio_postgres::Client;

/// The first half of every key: the other half is the caller's, so these
/// never meet the single-key locks (migrations, the leader).
const NAMESPACE: i32 = 0x6465_7465; // "dete"

#[derive(Default)]
pub(crate) struct Locks {
    session: Mutex<Session>,
}

#[derive(Default)]
struct Session {
    client: Option<Arc<Client>>,
    epoch: u64,
}

impl PgStore {
    /// The lock connection and its epoch, connecting (a new epoch) when
    /// there is none or it closed.
    fn lock_session(&self) -> Result<(Arc<Client>, u64), StorageError> {
        let mut s = self
            .locks
            .session
            .lock()
            .map_err(|_| StorageError::Database("lock session poisoned".into()))?;
        if let Some(c) = s.client.as_ref().filter(|c| !c.is_closed()) {
            return Ok((c.clone(), s.epoch));
        }
        let c = Arc::new(self.pool.connect()?);
        s.epoch += 1;
        s.client = Some(c.clone());
        Ok((c, s.epoch))
    }

    pub(crate) fn try_lock(&self, key: u32) -> Result<SharedLock, StorageError> {
        let (c, epoch) = self.lock_session()?;
        let row = wait(c.query_one(
            "SELECT pg_try_advisory_lock($1, $2)",
            &[&NAMESPACE, &(key as i32)],
        ))?;
        Ok(match row.get(0) {
            true => SharedLock::Held { epoch },
            false => SharedLock::Busy,
        })
    }

    pub(crate) fn unlock(&self, key: u32, epoch: u64) -> Result<(), StorageError> {
        let (c, now) = self.lock_session()?;
        if now != epoch {
            // That session ended, and its locks with it.
            return Ok(());
        }
        wait(c.execute(
            "SELECT pg_advisory_unlock($1, $2)",
            &[&NAMESPACE, &(key as i32)],
        ))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::{scratch_database, test_server, PgStore};
    use detente_storage::{LogStore, SharedLock};

    #[test]
    fn a_key_is_held_by_one_replica_until_released() {
        let Some(server) = test_server("a_key_is_held_by_one_replica_until_released") else {
            return;
        };
        let url = scratch_database(&server).unwrap();
        let (a, b) = (
            PgStore::open_url(&url).unwrap(),
            PgStore::open_url(&url).unwrap(),
        );
        let SharedLock::Held { epoch } = a.try_lock_shared(7).unwrap() else {
            panic!("a free key is taken");
        };
        assert_eq!(b.try_lock_shared(7).unwrap(), SharedLock::Busy, "held by a");
        assert!(
            matches!(b.try_lock_shared(8).unwrap(), SharedLock::Held { .. }),
            "another key"
        );
        a.unlock_shared(7, epoch).unwrap();
        assert!(
            matches!(b.try_lock_shared(7).unwrap(), SharedLock::Held { .. }),
            "released"
        );
    }
}
