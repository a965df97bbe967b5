use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Successful Basic verifications, keyed by SHA-256(process key || user || 0 ||
/// password). The random per-process key means a memory dump of the cache is
/// no more useful than an offline dictionary attack against a keyed hash whose
/// key is also in that dump — but it is never persisted and lives only minutes.
/// An entry keeps the stored hash it was verified against: a hit counts only
/// while the user's stored hash is still that one.
pub(crate) struct VerifiedCache {
    key: [u8; 32],
    capacity: usize,
    ttl: Duration,
    entries: HashMap<[u8; 32], Entry>,
}

struct Entry {
    user: String,
    stored_hash: String,
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

    /// The stored hash `password` was verified against, if recently.
    pub(crate) fn lookup(&mut self, user: &str, password: &str) -> Option<String> {
        let d = self.digest(user, password);
        let entry = self.entries.get(&d)?;
        if entry.expires <= Instant::now() {
            self.entries.remove(&d);
            return None;
        }
        Some(entry.stored_hash.clone())
    }

    pub(crate) fn insert(&mut self, user: &str, password: &str, stored_hash: String) {
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
                stored_hash,
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

/// Failure counts in a fixed window per key (a user and client address, or
/// an address), so online guessing costs the attacker the window length per
/// few guesses, and only from the addresses it guesses from.
pub(crate) struct FailureThrottle<K> {
    max_failures: u32,
    window: Duration,
    failures: HashMap<K, (u32, Instant)>,
    /// Size at which expired keys are swept next: twice what a sweep left,
    /// so sweeps cost O(1) amortised per failure even when every key is live.
    sweep_at: usize,
}

/// Keys remembered before the first sweep of expired ones.
const SWEEP_AT: usize = 10_000;

impl<K: Hash + Eq> FailureThrottle<K> {
    pub(crate) fn new(max_failures: u32, window: Duration) -> Self {
        FailureThrottle {
            max_failures,
            window,
            failures: HashMap::new(),
            sweep_at: SWEEP_AT,
        }
    }

    /// Seconds until `key` may try again, if it may not now.
    pub(crate) fn blocked_for(&mut self, key: &K) -> Option<u64> {
        let (count, since) = *self.failures.get(key)?;
        let elapsed = since.elapsed();
        if elapsed >= self.window {
            self.failures.remove(key);
            return None;
        }
        (count >= self.max_failures).then(|| (self.window - elapsed).as_secs().max(1))
    }

    pub(crate) fn record_failure(&mut self, key: K) {
        if self.failures.len() >= self.sweep_at {
            let window = self.window;
            self.failures
                .retain(|_, (_, since)| since.elapsed() < window);
            self.sweep_at = SWEEP_AT.max(2 * self.failures.len());
        }
        let now = Instant::now();
        let window = self.window;
        let entry = self.failures.entry(key).or_insert((0, now));
        if entry.1.elapsed() >= window {
            *entry = (0, now);
        }
        entry.0 += 1;
    }

    pub(crate) fn clear(&mut self, key: &K) {
        self.failures.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_is_bounded_and_exact() {
        let mut c = VerifiedCache::new(2, Duration::from_secs(60));
        c.insert("a", "1", "h1".into());
        c.insert("b", "2", "h2".into());
        c.insert("c", "3", "h3".into());
        assert_eq!(c.len(), 2);
        assert_eq!(c.lookup("c", "3").as_deref(), Some("h3"));
        assert_eq!(c.lookup("c", "4"), None);
        c.forget_user("c");
        assert_eq!(c.lookup("c", "3"), None);
    }

    #[test]
    fn expired_entries_are_not_used() {
        let mut c = VerifiedCache::new(2, Duration::ZERO);
        c.insert("a", "1", "h1".into());
        assert_eq!(c.lookup("a", "1"), None);
    }

    #[test]
    fn throttle_blocks_after_limit_and_clears() {
        let mut t = FailureThrottle::new(2, Duration::from_secs(60));
        t.record_failure("u");
        assert_eq!(t.blocked_for(&"u"), None);
        t.record_failure("u");
        let wait = t.blocked_for(&"u").unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        assert_eq!(t.blocked_for(&"v"), None);
        t.clear(&"u");
        assert_eq!(t.blocked_for(&"u"), None);
    }
}
