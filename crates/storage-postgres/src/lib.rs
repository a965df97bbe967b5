//! PostgreSQL implementation of the `detente_storage` traits, for a node that
//! runs on a database its operators already back up and replicate.
//!
//! Durability is PostgreSQL's: a call returns after its transaction commits
//! (`synchronous_commit` as the server has it, `on` by default). Every
//! connection comes from one fixed pool ([`pool`]); the exchange's writes are
//! group-committed on a thread of their own, as on SQLite.

use detente_storage::StorageError;
use tokio_postgres::error::SqlState;

mod auth;
mod dump;
mod exchange;
mod group;
mod guard;
mod lead;
mod locks;
mod log;
mod migrate;
mod notify;
mod pool;
mod scratch;
mod session;
mod sql;
mod taxii;
mod transfer;
mod tree;
mod wake;
mod witness;
mod writes;

pub use scratch::{
    scratch_database, test_database, test_server, TEST_BACKEND_VAR, TEST_SERVER_VAR,
};

pub use migrate::SCHEMA_VERSION;

/// Connections per store: enough for the API's readers and the sequencer,
/// few enough that several replicas fit PostgreSQL's default 100.
const POOL_SIZE: usize = 12;

pub struct PgStore {
    pub(crate) pool: std::sync::Arc<pool::Pool>,
    pub(crate) chunks: tree::ChunkCache,
    pub(crate) group: group::GroupWriter,
    /// The LISTEN connection, opened at the first subscription.
    pub(crate) listener: std::sync::OnceLock<wake::Listener>,
    pub(crate) lead: lead::Lead,
    pub(crate) locks: locks::Locks,
}

impl PgStore {
    /// Connects to `postgres://...` (any libpq connection URL), checks the
    /// schema version and migrates a database that is behind.
    pub fn open_url(url: &str) -> Result<PgStore, StorageError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(StorageError::UnsupportedUrl(url.to_string()));
        }
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StorageError::Database(format!("bad PostgreSQL URL: {e}")))?;
        let pool = std::sync::Arc::new(pool::Pool::new(config, POOL_SIZE)?);
        migrate::run(pool.get()?.client_mut())?;
        Ok(PgStore {
            group: group::GroupWriter::start(pool.clone()),
            chunks: Default::default(),
            listener: Default::default(),
            lead: Default::default(),
            locks: Default::default(),
            pool,
        })
    }
}

/// One line saying what went wrong, with PostgreSQL's own message and code
/// where the server sent one.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

pub(crate) fn db_err(e: tokio_postgres::Error) -> StorageError {
    if e.is_closed() || e.as_db_error().is_none() && e.code().is_none() {
        return StorageError::Unavailable(describe(&e));
    }
    match e.code() {
        Some(c) if *c == SqlState::UNIQUE_VIOLATION => StorageError::Conflict(describe(&e)),
        Some(c) if *c == SqlState::DISK_FULL => StorageError::Full(describe(&e)),
        Some(c)
            if *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
                || *c == SqlState::CRASH_SHUTDOWN =>
        {
            StorageError::Unavailable(describe(&e))
        }
        _ => StorageError::Database(describe(&e)),
    }
}

/// Runs a client future to completion on the calling thread.
///
/// Called from tokio workers too, where a round trip holds the worker. Not
/// `block_in_place`: measured under load, it had tokio start a replacement
/// worker for nearly every call in flight (hundreds of threads, a gigabyte
/// of per-thread heaps, the CPU spent in the kernel) for no gain.
pub(crate) fn wait<T>(
    f: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, StorageError> {
    futures_executor::block_on(f).map_err(db_err)
}

/// A TEXT column of a closed vocabulary; `Integrity` if no variant spells
/// what is stored.
pub(crate) fn text<T: detente_storage::StoredText>(
    r: &tokio_postgres::Row,
    i: usize,
) -> Result<T, StorageError> {
    T::from_text(r.get::<_, &str>(i))
}

/// [`text`] of a nullable column.
pub(crate) fn text_opt<T: detente_storage::StoredText>(
    r: &tokio_postgres::Row,
    i: usize,
) -> Result<Option<T>, StorageError> {
    detente_storage::from_text_opt(r.get::<_, Option<&str>>(i))
}

pub(crate) fn hash(v: Vec<u8>) -> Result<detente_storage::Hash, StorageError> {
    v.try_into()
        .map_err(|_| StorageError::Integrity("digest is not 32 bytes".into()))
}
