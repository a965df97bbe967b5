//! Which replica leads the log's background duties (`LogStore::lead`): the
//! one holding a session advisory lock on a dedicated connection. PostgreSQL
//! releases the lock when that connection drops, so when the leader dies
//! another replica takes over at its next call. Where session locks are
//! unavailable (the call fails, e.g. behind a proxy that pools by
//! transaction), a lease row stands in: taken by an atomic update when it
//! has expired or is the caller's own, renewed at each call.
//!
//! An optimisation only, never what makes the log correct: two replicas may
//! both believe they lead for a moment (a lease outlived by a slow holder).
//! Appends, integration and signing are serialised by the head row's lock
//! (`LogStore::integrate`), whoever leads.

use crate::sql::Db;
use crate::{wait, PgStore};
use detente_storage::StorageError;
use std::sync::Mutex;
use tokio_postgres::Client;

/// Key of the advisory lock ("dt-lead" in ASCII), apart from the migrations'.
const LEAD_KEY: i64 = 0x0064_742d_6c65_6164;

/// How long a lease lasts unless renewed, in microseconds.
const LEASE_US: i64 = 10_000_000;

/// The database's clock in microseconds since the epoch, so replicas whose
/// clocks disagree still agree on when a lease ends.
const NOW_US: &str = "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint";

pub(crate) struct Lead {
    /// This store's name in the lease row.
    me: String,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The connection that holds (or tries for) the session lock.
    session: Option<Client>,
    held: bool,
    /// Session locks failed once: lease from then on.
    by_lease: bool,
}

impl Default for Lead {
    fn default() -> Lead {
        Lead {
            me: uuid::Uuid::new_v4().to_string(),
            state: Mutex::default(),
        }
    }
}

impl PgStore {
    /// See `LogStore::lead`.
    pub(crate) fn leads(&self) -> Result<bool, StorageError> {
        let mut st = self
            .lead
            .state
            .lock()
            .map_err(|_| StorageError::Database("lead lock poisoned".into()))?;
        if !st.by_lease {
            match self.session_lock(&mut st) {
                Err(e @ StorageError::Unavailable(_)) => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, "no session advisory locks; replicas elect a leader by lease");
                    *st = State {
                        by_lease: true,
                        ..State::default()
                    };
                }
                held => return held,
            }
        }
        self.lease()
    }

    fn session_lock(&self, st: &mut State) -> Result<bool, StorageError> {
        if st.session.as_ref().is_some_and(Client::is_closed) {
            st.session = None;
            st.held = false;
        }
        if st.held {
            return Ok(true);
        }
        let c = match &st.session {
            Some(c) => c,
            None => st.session.insert(self.pool.connect()?),
        };
        st.held = wait(c.query_one("SELECT pg_try_advisory_lock($1)", &[&LEAD_KEY]))?.get(0);
        Ok(st.held)
    }

    fn lease(&self) -> Result<bool, StorageError> {
        let c = self.pool.get()?;
        let taken = wait(c.execute(
            &format!(
                "UPDATE lead_lease SET holder = $1, expires = {NOW_US} + $2 \
                 WHERE expires < {NOW_US} OR holder = $1"
            ),
            &[&self.lead.me, &LEASE_US],
        ))?;
        Ok(taken == 1)
    }
}

#[cfg(test)]
mod tests {
    use crate::sql::Db;
    use crate::{scratch_database, test_server, PgStore};

    fn two(test: &str) -> Option<(PgStore, PgStore)> {
        let url = scratch_database(&test_server(test)?).unwrap();
        Some((
            PgStore::open_url(&url).unwrap(),
            PgStore::open_url(&url).unwrap(),
        ))
    }

    #[test]
    fn the_lock_holder_leads_until_its_connection_is_gone() {
        let Some((a, b)) = two("the_lock_holder_leads_until_its_connection_is_gone") else {
            return;
        };
        assert!(a.leads().unwrap());
        assert!(!b.leads().unwrap(), "one leader");
        assert!(a.leads().unwrap(), "still the leader");
        drop(a);
        let took_over = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            b.leads().unwrap()
        });
        assert!(took_over, "the lock went with the leader's connection");
    }

    #[test]
    fn a_lease_row_stands_in_for_session_locks() {
        let Some((a, b)) = two("a_lease_row_stands_in_for_session_locks") else {
            return;
        };
        for s in [&a, &b] {
            s.lead.state.lock().unwrap().by_lease = true;
        }
        assert!(a.leads().unwrap());
        assert!(!b.leads().unwrap(), "one leader");
        assert!(a.leads().unwrap(), "renewed by its holder");
        let c = a.pool.get().unwrap();
        crate::wait(c.execute("UPDATE lead_lease SET expires = 0", &[])).unwrap();
        assert!(b.leads().unwrap(), "an expired lease is taken over");
        assert!(!a.leads().unwrap(), "and is no longer the old holder's");
    }
}
