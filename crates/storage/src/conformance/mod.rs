//! Checks every backend must pass, written once against the traits and run by
//! each driver crate's tests on a fresh, empty store (`checks()`), so SQLite and
//! PostgreSQL cannot drift apart in what they promise the node.

use crate::*;

mod auth;
mod exchange;
mod guard;
mod log;
mod notify;
mod session;
mod taxii;
mod text;
mod transfer;
mod witness;

pub use log::{append, entry};
pub use text::unknown_stored_values_are_integrity_errors;

/// One named check; it gets a fresh, empty store.
pub type Check = (&'static str, fn(&dyn Store));

/// Every check, in a stable order.
pub fn checks() -> Vec<Check> {
    [
        log::CHECKS,
        transfer::CHECKS,
        exchange::CHECKS,
        auth::CHECKS,
        session::CHECKS,
        notify::CHECKS,
        taxii::CHECKS,
        witness::CHECKS,
        guard::CHECKS,
    ]
    .concat()
}

/// Runs every check, each on a store from `fresh`, and panics naming the
/// checks that failed.
pub fn run(fresh: &dyn Fn() -> Box<dyn Store>) {
    let mut failed = Vec::new();
    for (name, check) in checks() {
        let store = fresh();
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(store.as_ref()))).is_err()
        {
            failed.push(name);
        }
    }
    assert!(failed.is_empty(), "conformance checks failed: {failed:?}");
}

/// A log entry with index `i` whose digest is `[i; 32]`.
pub(crate) fn row(i: u64) -> EntryRow {
    EntryRow {
        index: i,
        digest: [i as u8; 32],
        kind: "test".into(),
        time: "2026-01-01T00:00:00.000000Z".into(),
        envelope: vec![b'{', b'}'],
    }
}
