use std::collections::HashMap;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::Role;

/// Successful Basic verifications, keyed by SHA-256(process key || user || 0 ||
/// password). The random per-process key means a memory dump of the cache is
/// no more useful than an offline dictionary attack against a keyed hash whose
/// key is also in that dump — but it is never persisted and lives only minutes.
pub(crate) struct VerifiedCache {
    key: [u8; 32],
    capacity: usize,
    ttl: Duration,
    entries: HashMap<[u8; 32], Entry>,
}

struct Entry {
    user: String,
    role: Role,
    expires: Instant,
}

impl VerifiedCache {
    pub(crate) fn new(capacity: usize, ttl: Duration) -> Self {
        let mut key = [0u8; 32];
        // Without randomness the cache is merely less opaque, never wrong:
        // entries still require the exact user and password.
        let _ = getrandom::getrandom(&mut key);
        VerifiedCache {
            key,
            capacity,
            ttl,
            entries: HashMap::new(),
        }
    }

    fn digest(&self, user: &str, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update(user.as_bytes());
        h.update([0u8]);
        h.update(password.as_bytes());
        h.finalize().into()
    }

    pub(crate) fn lookup(&mut self, user: &str, password: &str) -> Option<Role> {
        let d = self.digest(user, password);
        let entry = self.entries.get(&d)?;
        if entry.expires <= Instant::now() {
            self.entries.remove(&d);
            return None;
        }
        Some(entry.role)
    }

    pub(crate) fn insert(&mut self, user: &str, password: &str, role: Role) {
        let now = Instant::now();
        if self.entries.len() >= self.capacity {
            self.entries.retain(|_, e| e.expires > now);
        }
        if self.entries.len() >= self.capacity {
            // Still full of live entries: drop the one closest to expiry.
            if let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.expires)
                .map(|(k, _)| *k)
            {
                self.entries.remove(&oldest);
            }
        }
        let d = self.digest(user, password);
        self.entries.insert(
            d,
            Entry {
                user: user.to_string(),
                role,
                expires: now + self.ttl,
            },
        );
    }

    pub(crate) fn forget_user(&mut self, user: &str) {
        self.entries.retain(|_, e| e.user != user);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Per-user failure counts in a fixed window, so online guessing against one
/// account costs the attacker the window length per few guesses.
pub(crate) struct FailureThrottle {
    max_failures: u32,
    window: Duration,
    failures: HashMap<String, (u32, Instant)>,
}

impl FailureThrottle {
    pub(crate) fn new(max_failures: u32, window: Duration) -> Self {
        FailureThrottle {
            max_failures,
            window,
            failures: HashMap::new(),
        }
    }

    pub(crate) fn is_blocked(&mut self, user: &str) -> bool {
        match self.failures.get(user) {
            Some((_, since)) if since.elapsed() >= self.window => {
                self.failures.remove(user);
                false
            }
            Some((count, _)) => *count >= self.max_failures,
            None => false,
        }
    }

    pub(crate) fn record_failure(&mut self, user: &str) {
        if self.failures.len() > 10_000 {
            let window = self.window;
            self.failures
                .retain(|_, (_, since)| since.elapsed() < window);
        }
        let entry = self
            .failures
            .entry(user.to_string())
            .or_insert((0, Instant::now()));
        entry.0 += 1;
    }

    pub(crate) fn clear(&mut self, user: &str) {
        self.failures.remove(user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_is_bounded_and_exact() {
        let mut c = VerifiedCache::new(2, Duration::from_secs(60));
        c.insert("a", "1", Role::Officer);
        c.insert("b", "2", Role::Admin);
        c.insert("c", "3", Role::Auditor);
        assert_eq!(c.len(), 2);
        assert_eq!(c.lookup("c", "3"), Some(Role::Auditor));
        assert_eq!(c.lookup("c", "4"), None);
        c.forget_user("c");
        assert_eq!(c.lookup("c", "3"), None);
    }

    #[test]
    fn expired_entries_are_not_used() {
        let mut c = VerifiedCache::new(2, Duration::ZERO);
        c.insert("a", "1", Role::Officer);
        assert_eq!(c.lookup("a", "1"), None);
    }

    #[test]
    fn throttle_blocks_after_limit_and_clears() {
        let mut t = FailureThrottle::new(2, Duration::from_secs(60));
        t.record_failure("u");
        assert!(!t.is_blocked("u"));
        t.record_failure("u");
        assert!(t.is_blocked("u"));
        assert!(!t.is_blocked("v"));
        t.clear("u");
        assert!(!t.is_blocked("u"));
    }
}
