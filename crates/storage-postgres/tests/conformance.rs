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

#[test]
fn unknown_stored_values_are_integrity_errors() {
    let Some(admin) = test_server("unknown_stored_values_are_integrity_errors") else {
        return;
    };
    let url = scratch_database(&admin).unwrap();
    let store = PgStore::open_url(&url).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = rt.block_on(async {
        let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        // As a database altered by hand could be.
        c.batch_execute(
            "ALTER TABLE requests DROP CONSTRAINT requests_direction_check; \
             ALTER TABLE gate_holds DROP CONSTRAINT gate_holds_status_check",
        )
        .await
        .unwrap();
        c
    });
    detente_storage::conformance::unknown_stored_values_are_integrity_errors(&store, &|sql| {
        rt.block_on(c.batch_execute(sql)).unwrap()
    });
}
