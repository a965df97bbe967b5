//! Where failed passwords are counted: per user and client address, and per
//! client address. One process counts in memory; replicas sharing a store
//! count there ([`Users::with_shared_failures`](crate::Users::with_shared_failures)),
//! so guesses spread over replicas lock out at the same count as on one.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use detente_storage::GuardStore;
use sha2::{Digest, Sha256};

use crate::cache::FailureThrottle;
use crate::AuthError;

pub(crate) struct Throttles {
    user_limit: u32,
    address_limit: u32,
    window: Duration,
    counts: Counts,
}

enum Counts {
    Local {
        /// Keyed by user and client address.
        user: Mutex<FailureThrottle<(String, Option<IpAddr>)>>,
        /// Keyed by client address.
        address: Mutex<FailureThrottle<IpAddr>>,
    },
    Shared(Arc<dyn GuardStore>),
}

impl Throttles {
    pub(crate) fn local(user_limit: u32, address_limit: u32, window: Duration) -> Throttles {
        let (user_limit, address_limit) = (user_limit.max(1), address_limit.max(1));
        Throttles {
            user_limit,
            address_limit,
            window,
            counts: Counts::Local {
                user: Mutex::new(FailureThrottle::new(user_limit, window)),
                address: Mutex::new(FailureThrottle::new(address_limit, window)),
            },
        }
    }

    /// The same limits, counted in `store` (which forgets what is past).
    pub(crate) fn shared(self, store: Arc<dyn GuardStore>) -> Throttles {
        Throttles {
            counts: Counts::Shared(store),
            ..self
        }
    }

    pub(crate) fn with_limits(self, user_limit: u32, address_limit: u32) -> Throttles {
        let fresh = Throttles::local(user_limit, address_limit, self.window);
        match self.counts {
            Counts::Shared(store) => fresh.shared(store),
            Counts::Local { .. } => fresh,
        }
    }

    pub(crate) fn user_limit(&self) -> u32 {
        self.user_limit
    }

    pub(crate) fn address_limit(&self) -> u32 {
        self.address_limit
    }

    /// Seconds to wait, when `name` from `client` may not try now.
    pub(crate) fn blocked_for(
        &self,
        name: &str,
        client: Option<IpAddr>,
    ) -> Result<Option<u64>, AuthError> {
        match &self.counts {
            Counts::Local { user, address } => {
                let by_address = client.and_then(|ip| lock(address).blocked_for(&ip));
                let key = (name.to_string(), client);
                Ok(by_address.or_else(|| lock(user).blocked_for(&key)))
            }
            Counts::Shared(store) => {
                let now = now_s();
                let over = |key: &str, limit: u32| -> Result<Option<u64>, AuthError> {
                    let f = store.failures(key, now)?;
                    Ok((f.count >= u64::from(limit)).then(|| (f.ends_s - now).max(1) as u64))
                };
                if let Some(ip) = client {
                    if let Some(wait) = over(&address_key(ip), self.address_limit)? {
                        return Ok(Some(wait));
                    }
                }
                over(&user_key(name, client), self.user_limit)
            }
        }
    }

    pub(crate) fn record_failure(&self, name: &str, client: Option<IpAddr>) {
        match &self.counts {
            Counts::Local { user, address } => {
                lock(user).record_failure((name.to_string(), client));
                if let Some(ip) = client {
                    lock(address).record_failure(ip);
                }
            }
            Counts::Shared(store) => {
                let (now, window) = (now_s(), self.window.as_secs() as i64);
                let mut keys = vec![user_key(name, client)];
                keys.extend(client.map(address_key));
                for key in keys {
                    if let Err(e) = store.record_failure(&key, now, window) {
                        tracing::warn!("counting a failed login: {e}");
                    }
                }
            }
        }
    }

    /// A success forgives the user's failures from this address.
    pub(crate) fn clear(&self, name: &str, client: Option<IpAddr>) {
        match &self.counts {
            Counts::Local { user, .. } => lock(user).clear(&(name.to_string(), client)),
            Counts::Shared(store) => {
                if let Err(e) = store.clear_failures(&user_key(name, client)) {
                    tracing::warn!("clearing failed logins: {e}");
                }
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The address comes first and has no spaces, so no two pairs share a key;
/// the name (whatever a client sent) is hashed to bound the key's length.
fn user_key(name: &str, client: Option<IpAddr>) -> String {
    let address = client.map_or("-".to_string(), |ip| ip.to_string());
    let name = hex::encode(Sha256::digest(name.as_bytes()));
    format!("login-user {address} {name}")
}

fn address_key(ip: IpAddr) -> String {
    format!("login-address {ip}")
}

fn now_s() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use crate::{AuthError, Role, Users};
    use detente_storage_sqlite::SqliteStore;
    use std::sync::Arc;

    #[test]
    fn shared_failures_add_up_across_authenticators() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("d.db")).unwrap());
        let replica = || {
            Users::new(store.clone())
                .with_user_limit(2)
                .with_shared_failures(Some(store.clone()))
        };
        let (a, b) = (replica(), replica());
        a.add_user("rita", Role::Officer, "right").unwrap();
        for users in [&a, &b] {
            assert!(matches!(
                users.verify_password("rita", "wrong"),
                Err(AuthError::InvalidCredentials)
            ));
        }
        for users in [&a, &b] {
            assert!(matches!(
                users.verify_password("rita", "right"),
                Err(AuthError::Throttled(1..=60))
            ));
        }
        // Limits set after the store still count there.
        let c = Users::new(store.clone())
            .with_shared_failures(Some(store.clone()))
            .with_user_limit(3);
        assert!(c.verify_password("rita", "right").is_ok(), "3 allowed");
    }
}
