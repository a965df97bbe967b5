//! Nonces seen within the accepted time window. Older signatures are refused by
//! their `created` time, so the table never needs to hold more than one window.
//!
//! Nonces are also filed by the second they expire in, so forgetting expired
//! ones takes out whole seconds from the front: each nonce is inserted once and
//! removed once, whatever the table's size, and a call costs O(1) amortised
//! even under a flood (rather than a scan of the whole table per call).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// Upper bound on remembered nonces; beyond it new calls are refused until old
/// ones expire, which bounds memory under a flood.
const MAX_NONCES: usize = 1_000_000;

pub struct ReplayGuard {
    capacity: usize,
    inner: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    /// Nonce -> the second it expires.
    seen: HashMap<String, u64>,
    /// Expiry second -> nonces expiring then. At most one window of seconds
    /// (a few hundred keys), so the ordered map stays tiny.
    by_expiry: BTreeMap<u64, Vec<String>>,
}

impl Default for ReplayGuard {
    fn default() -> Self {
        ReplayGuard::with_capacity(MAX_NONCES)
    }
}

impl ReplayGuard {
    /// A guard remembering at most `capacity` live nonces.
    pub fn with_capacity(capacity: usize) -> Self {
        ReplayGuard {
            capacity,
            inner: Mutex::default(),
        }
    }

    /// Records `nonce` (expiring at `expires`); false if it was already used or
    /// the table is full.
    pub fn first_use(&self, nonce: &str, now: u64, expires: u64) -> bool {
        let mut t = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        t.forget_expired(now);
        if t.seen.contains_key(nonce) || t.seen.len() >= self.capacity {
            return false;
        }
        t.seen.insert(nonce.to_string(), expires);
        t.by_expiry
            .entry(expires)
            .or_default()
            .push(nonce.to_string());
        true
    }

    /// How many nonces are remembered.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .seen
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Table {
    /// Drops every nonce that expired at or before `now`.
    fn forget_expired(&mut self, now: u64) {
        while let Some(entry) = self.by_expiry.first_entry() {
            if *entry.key() > now {
                break;
            }
            for nonce in entry.remove() {
                self.seen.remove(&nonce);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_accepted_once_until_it_expires() {
        let g = ReplayGuard::default();
        assert!(g.first_use("a", 100, 200));
        assert!(!g.first_use("a", 150, 250));
        assert!(!g.first_use("a", 199, 299));
        // Once expired it is forgotten (its signature is stale by then anyway).
        assert!(g.first_use("a", 200, 300));
        assert!(!g.first_use("a", 201, 301));
    }

    #[test]
    fn expired_nonces_are_forgotten_however_small_the_table() {
        let g = ReplayGuard::default();
        for i in 0..1000u64 {
            assert!(g.first_use(&format!("n{i}"), 100, 101 + i % 10));
        }
        assert_eq!(g.len(), 1000);
        assert!(g.first_use("later", 105, 400));
        // Expiring at 101..=105: 5 of every 10.
        assert_eq!(g.len(), 501);
        assert!(g.first_use("much-later", 111, 400));
        assert_eq!(g.len(), 2);
    }

    #[test]
    fn a_full_table_refuses_until_nonces_expire() {
        let g = ReplayGuard::with_capacity(3);
        assert!(g.first_use("a", 10, 20));
        assert!(g.first_use("b", 10, 21));
        assert!(g.first_use("c", 10, 22));
        assert!(!g.first_use("d", 11, 30), "full");
        assert_eq!(g.len(), 3);
        assert!(g.first_use("d", 20, 30), "a expired, room for one");
        assert!(!g.first_use("e", 20, 30));
        assert!(g.first_use("e", 22, 30));
        assert_eq!(g.len(), 2);
    }

    #[test]
    fn a_flood_keeps_only_live_nonces() {
        // Nonces live 301 s; 100 calls per second for 1,000 s: the table
        // never holds more than one lifetime's calls.
        let g = ReplayGuard::default();
        let mut peak = 0;
        for now in 0..1000u64 {
            for i in 0..100u64 {
                assert!(g.first_use(&format!("{now}-{i}"), now, now + 301));
            }
            peak = peak.max(g.len());
        }
        assert_eq!(peak, 301 * 100);
    }
}
