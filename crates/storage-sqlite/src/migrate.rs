//! Versioned migrations, tracked in `PRAGMA user_version`. Each runs once, in its
//! own transaction, in order.

use detente_storage::StorageError;
use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/001_log.sql"),
    include_str!("../migrations/002_transfers.sql"),
    include_str!("../migrations/003_peers.sql"),
    include_str!("../migrations/004_exchange.sql"),
    include_str!("../migrations/005_cosignatures.sql"),
    include_str!("../migrations/006_request_summary.sql"),
    include_str!("../migrations/007_attachments.sql"),
    include_str!("../migrations/008_outbox_by_request.sql"),
    include_str!("../migrations/009_citations.sql"),
    include_str!("../migrations/010_outbox_refused.sql"),
    include_str!("../migrations/011_exchange_entries.sql"),
    include_str!("../migrations/012_holds_release.sql"),
    include_str!("../migrations/013_requests_by_time.sql"),
    include_str!("../migrations/014_request_search.sql"),
    include_str!("../migrations/015_notifications.sql"),
    include_str!("../migrations/016_peer_deliveries.sql"),
    include_str!("../migrations/017_users_and_sessions.sql"),
    include_str!("../migrations/018_taxii_witness.sql"),
    include_str!("../migrations/019_guards.sql"),
];

/// The version whose migration adopts the tables the auth and web crates
/// created themselves before 017.
const ADOPTS_OLD_TABLES: usize = 17;

pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub fn run(conn: &mut Connection) -> Result<(), StorageError> {
    run_to(conn, SCHEMA_VERSION)
}

/// Migrates up to `version` (below [`SCHEMA_VERSION`] only in tests that
/// build a database as an older build left it).
pub(crate) fn run_to(conn: &mut Connection, version: i64) -> Result<(), StorageError> {
    let err = |e: rusqlite::Error| StorageError::Database(e.to_string());
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(err)?;
    if current > SCHEMA_VERSION {
        return Err(StorageError::SchemaTooNew {
            found: current,
            known: SCHEMA_VERSION,
        });
    }
    let pending = MIGRATIONS.iter().enumerate().take(version as usize);
    for (i, sql) in pending.skip(current as usize) {
        let tx = conn.transaction().map_err(err)?;
        if i + 1 == ADOPTS_OLD_TABLES {
            label_old_tokens(&tx).map_err(err)?;
        }
        tx.execute_batch(sql).map_err(err)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(err)?;
        tx.commit().map_err(err)?;
    }
    Ok(())
}

/// Gives `auth_tokens` from the first auth schema (before labels) the column
/// the second one added, so that 017 finds the final schema it adopts.
fn label_old_tokens(tx: &rusqlite::Transaction) -> rusqlite::Result<()> {
    let columns: Vec<String> = tx
        .prepare("SELECT name FROM pragma_table_info('auth_tokens')")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if !columns.is_empty() && !columns.iter().any(|c| c == "label") {
        tx.execute_batch("ALTER TABLE auth_tokens ADD COLUMN label TEXT NOT NULL DEFAULT ''")?;
    }
    Ok(())
}
