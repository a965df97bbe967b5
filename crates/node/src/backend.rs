//! The one place that names the storage drivers: the database URL's scheme
//! picks the backend (`sqlite://PATH`, the embedded default, or
//! `postgres://...`). Everything else holds an `Arc<dyn Store>`.

use detente_storage::dump::{DumpSource, DumpTarget};
use detente_storage::{EntryRow, LogStore, StorageError, Store};
use std::sync::Arc;

pub fn open(url: &str) -> Result<Arc<dyn Store>, StorageError> {
    if url.starts_with("sqlite://") {
        Ok(Arc::new(detente_storage_sqlite::SqliteStore::open_url(
            url,
        )?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(detente_storage_postgres::PgStore::open_url(url)?))
    } else {
        Err(StorageError::UnsupportedUrl(redact(url)))
    }
}

/// One database seen as a log and as one side of a copy.
pub type Opened<T> = (Arc<dyn LogStore>, Arc<T>);

/// A database to copy a node from (`detente migrate`): SQLite.
pub fn open_source(url: &str) -> Result<Opened<dyn DumpSource>, StorageError> {
    if !url.starts_with("sqlite://") {
        return Err(StorageError::UnsupportedUrl(format!(
            "{}: migrate copies from sqlite:// databases",
            redact(url)
        )));
    }
    let path = url.trim_start_matches("sqlite://");
    if !std::path::Path::new(path).exists() {
        return Err(StorageError::Database(format!("{path}: no such database")));
    }
    let s = Arc::new(detente_storage_sqlite::SqliteStore::open_url(url)?);
    Ok((s.clone(), s))
}

/// A database to copy a node into: PostgreSQL.
pub fn open_target(url: &str) -> Result<Opened<dyn DumpTarget>, StorageError> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(StorageError::UnsupportedUrl(format!(
            "{}: migrate copies into postgres:// databases",
            redact(url)
        )));
    }
    let s = Arc::new(detente_storage_postgres::PgStore::open_url(url)?);
    Ok((s.clone(), s))
}

/// Raw batched inserts of log rows, no tree and no checkpoint: the baseline
/// the log benchmark compares its append path with.
pub type RawInsert = Box<dyn Fn(&[EntryRow]) -> Result<(), StorageError>>;

pub fn raw_insert(url: &str) -> Result<RawInsert, StorageError> {
    if url.starts_with("sqlite://") {
        let s = detente_storage_sqlite::SqliteStore::open_url(url)?;
        Ok(Box::new(move |rows| s.insert_rows_raw(rows)))
    } else {
        let s = detente_storage_postgres::PgStore::open_url(url)?;
        Ok(Box::new(move |rows| s.insert_rows_raw(rows)))
    }
}

/// For benchmarks given a PostgreSQL server: a fresh database on it. A
/// SQLite URL is returned as it is.
pub fn fresh_database(server: &str) -> Result<String, StorageError> {
    if server.starts_with("sqlite://") {
        return Ok(server.to_string());
    }
    detente_storage_postgres::scratch_database(server)
}

/// The URL without a password, for messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((user, host)) if user.contains(':') => {
            let name = user.split(':').next().unwrap_or("");
            format!("{scheme}://{name}:***@{host}")
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn unknown_schemes_are_refused_and_passwords_never_shown() {
        let err = super::open("mysql://root:hunter2@db/x").err().unwrap();
        assert!(err.to_string().contains("mysql://root:***@db/x"), "{err}");
        assert!(!err.to_string().contains("hunter2"));
        assert_eq!(super::redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
