//! Replay caches, rate limits and login throttles kept in the database, so
//! that replicas sharing it enforce them together: a second replica is no
//! way around them. Their state is advisory and short-lived (a nonce lives
//! one signature window, a counter one minute), so drivers may commit it
//! without waiting for the disk. Times are the caller's, so tests control
//! them; every method is one atomic step however many processes call it.

use crate::StorageError;

/// Failed attempts of one key in its current fixed window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Failures {
    /// Failures so far; 0 when no window is open.
    pub count: u64,
    /// When the window closes (seconds since the epoch; 0 when none is open).
    pub ends_s: i64,
}

pub trait GuardStore: Send + Sync + 'static {
    /// Remembers `key` in `scope` until `expires_s`; true if it was not live
    /// at `now_s` (never seen, or seen and expired since). False too while
    /// `capacity` keys of the scope are held: a flood is refused rather than
    /// grow the table, until old keys expire. Expired keys are forgotten a
    /// few at a time by later calls, so no call scans the table.
    fn first_use(
        &self,
        scope: &str,
        key: &str,
        now_s: i64,
        expires_s: i64,
        capacity: u64,
    ) -> Result<bool, StorageError>;

    /// The failures of `key` in its window open at `now_s`.
    fn failures(&self, key: &str, now_s: i64) -> Result<Failures, StorageError>;

    /// Counts one failure of `key`, opening a window of `window_s` seconds
    /// at `now_s` when none is open; returns the count in the window.
    fn record_failure(&self, key: &str, now_s: i64, window_s: i64) -> Result<u64, StorageError>;

    /// Closes `key`'s window (a success forgives earlier failures).
    fn clear_failures(&self, key: &str) -> Result<(), StorageError>;

    /// One request of `key` at `now_us` under a limit of one per
    /// `interval_us` with bursts of `burst` (GCRA over the key's stored
    /// theoretical arrival time: no counters, no timers). `None` if
    /// allowed, else how many microseconds until it would be.
    fn take_token(
        &self,
        key: &str,
        now_us: i64,
        interval_us: i64,
        burst: u32,
    ) -> Result<Option<u64>, StorageError>;
}

/// How long until a refused request would be allowed, given the key's
/// theoretical arrival time `tat` (what [`GuardStore::take_token`] stores).
pub fn retry_after_us(tat: i64, now_us: i64, interval_us: i64, burst: u32) -> u64 {
    let wait = tat + interval_us - now_us - i64::from(burst.max(1)) * interval_us;
    wait.max(1) as u64
}
