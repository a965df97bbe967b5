//! Throwaway databases for tests and benchmarks, created on a server the
//! caller names (an admin URL), so each test starts from an empty schema.

use crate::sql::Db;
use crate::{pool::Pool, wait};
use detente_storage::StorageError;
use std::sync::atomic::{AtomicU32, Ordering};

/// The environment variable naming the PostgreSQL server that tests may use.
pub const TEST_SERVER_VAR: &str = "DETENTE_TEST_POSTGRES";

/// The admin URL tests use, if a server was given; otherwise prints that the
/// PostgreSQL case of `test` is skipped.
pub fn test_server(test: &str) -> Option<String> {
    match std::env::var(TEST_SERVER_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("{test}: skipped on PostgreSQL ({TEST_SERVER_VAR} is not set)");
            None
        }
    }
}

/// The environment variable that runs the node-level test suites on
/// PostgreSQL: `DETENTE_TEST_BACKEND=postgres`.
pub const TEST_BACKEND_VAR: &str = "DETENTE_TEST_BACKEND";

/// For test harnesses that start whole nodes: a fresh database URL when the
/// suite runs on PostgreSQL ([`TEST_BACKEND_VAR`]), `None` on the embedded
/// default. Panics when PostgreSQL was asked for but no server was given, so
/// a misconfigured CI run fails instead of silently testing SQLite.
pub fn test_database() -> Option<String> {
    if std::env::var(TEST_BACKEND_VAR).as_deref() != Ok("postgres") {
        return None;
    }
    let admin = std::env::var(TEST_SERVER_VAR)
        .unwrap_or_else(|_| panic!("{TEST_BACKEND_VAR}=postgres needs {TEST_SERVER_VAR}"));
    Some(scratch_database(&admin).expect("create a scratch database"))
}

/// Creates an empty database on the server `admin` points at and returns
/// its URL.
pub fn scratch_database(admin: &str) -> Result<String, StorageError> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() % 1_000_000_000);
    let name = format!(
        "detente_t{}_{stamp}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let config = admin
        .parse()
        .map_err(|e| StorageError::Database(format!("bad PostgreSQL URL: {e}")))?;
    let pool = Pool::new(config, 1)?;
    wait(
        pool.get()?
            .batch_execute(&format!("CREATE DATABASE {name}")),
    )?;
    Ok(with_database(admin, &name))
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let root = match base[authority..].find('/') {
        Some(i) => &base[..authority + i],
        None => base,
    };
    format!("{root}/{name}{query}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_database_name_is_replaced_and_options_kept() {
        for (url, want) in [
            ("postgres://u@h:5/db", "postgres://u@h:5/x"),
            ("postgres://u@h:5", "postgres://u@h:5/x"),
            (
                "postgres://u@h/db?sslmode=disable",
                "postgres://u@h/x?sslmode=disable",
            ),
        ] {
            assert_eq!(super::with_database(url, "x"), want);
        }
    }
}
