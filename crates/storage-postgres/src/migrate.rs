//! Versioned migrations, tracked in the `detente_schema` table. All pending
//! migrations run in one transaction under an advisory lock, so replicas
//! starting together migrate once and never see half a schema.

use crate::{db_err, wait};
use detente_storage::StorageError;
use tokio_postgres::Client;

const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/001_schema.sql"),
    include_str!("../migrations/002_users_sessions.sql"),
    include_str!("../migrations/003_taxii_witness.sql"),
    include_str!("../migrations/004_replicas.sql"),
    include_str!("../migrations/005_guards.sql"),
];

pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Key of the advisory lock that serialises migrations ("detente" in ASCII).
const MIGRATION_LOCK: i64 = 0x0064_6574_656e_7465;

pub fn run(c: &mut Client) -> Result<(), StorageError> {
    let tx = wait(c.transaction())?;
    wait(tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]))?;
    wait(tx.batch_execute("CREATE TABLE IF NOT EXISTS detente_schema (version BIGINT NOT NULL)"))?;
    let found: i64 =
        wait(tx.query_opt("SELECT version FROM detente_schema", &[]))?.map_or(0, |r| r.get(0));
    if found > SCHEMA_VERSION {
        return Err(StorageError::SchemaTooNew {
            found,
            known: SCHEMA_VERSION,
        });
    }
    for sql in &MIGRATIONS[found as usize..] {
        wait(tx.batch_execute(sql))?;
    }
    wait(tx.execute("DELETE FROM detente_schema", &[]))?;
    wait(tx.execute(
        "INSERT INTO detente_schema (version) VALUES ($1)",
        &[&SCHEMA_VERSION],
    ))?;
    futures_executor::block_on(tx.commit()).map_err(db_err)
}
