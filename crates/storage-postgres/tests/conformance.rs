//! The storage conformance checks on PostgreSQL, each on a database of its own.

use detente_storage_postgres::{scratch_database, test_server, PgStore};

#[test]
fn passes_the_conformance_checks() {
    let Some(admin) = test_server("passes_the_conformance_checks") else {
        return;
    };
    detente_storage::conformance::run(&|| {
        let url = scratch_database(&admin).unwrap();
        Box::new(PgStore::open_url(&url).unwrap())
    });
}

#[test]
fn a_newer_schema_is_refused() {
    let Some(admin) = test_server("a_newer_schema_is_refused") else {
        return;
    };
    let url = scratch_database(&admin).unwrap();
    drop(PgStore::open_url(&url).unwrap());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        c.execute("UPDATE detente_schema SET version = version + 1", &[])
            .await
            .unwrap();
    });
    let err = PgStore::open_url(&url)
        .err()
        .expect("a newer schema is refused");
    assert!(
        matches!(err, detente_storage::StorageError::SchemaTooNew { .. }),
        "{err}"
    );
}
