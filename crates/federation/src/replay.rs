//! Nonces seen within the accepted time window. Older signatures are refused by
//! their `created` time, so the table never needs to hold more than one window.

use std::collections::HashMap;
use std::sync::Mutex;

/// Upper bound on remembered nonces; beyond it new calls are refused until old
/// ones expire, which bounds memory under a flood.
const MAX_NONCES: usize = 1_000_000;

#[derive(Default)]
pub struct ReplayGuard {
    seen: Mutex<HashMap<String, u64>>,
}

impl ReplayGuard {
    /// Records `nonce` (expiring at `expires`); false if it was already used or
    /// the table is full.
    pub fn first_use(&self, nonce: &str, now: u64, expires: u64) -> bool {
        let mut seen = self.seen.lock().expect("replay lock");
        if seen.len() >= MAX_NONCES / 2 {
            seen.retain(|_, &mut exp| exp > now);
        }
        if seen.len() >= MAX_NONCES || seen.get(nonce).is_some_and(|&exp| exp > now) {
            return false;
        }
        seen.insert(nonce.to_string(), expires);
        true
    }
}
