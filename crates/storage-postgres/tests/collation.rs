//! Names sort byte by byte, as on SQLite, whatever locale the database was
//! created with.

use detente_storage::{AuthStore, Role, UserRecord};
use detente_storage_postgres::{scratch_database, test_server, PgStore};
use tokio_postgres::NoTls;

/// A fresh database whose default collation is ICU's English, under which
/// "Zed" sorts after "bob".
fn english_database(admin: &str) -> String {
    // A name no other test takes: the scratch database's, with a suffix.
    let scratch = scratch_database(admin).unwrap();
    let (root, tail) = scratch.rsplit_once('/').unwrap();
    let (name, query) = tail.split_once('?').unwrap_or((tail, ""));
    let name = format!("{name}_en");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let (c, conn) = tokio_postgres::connect(admin, NoTls).await.unwrap();
        tokio::spawn(conn);
        c.batch_execute(&format!(
            "CREATE DATABASE {name} TEMPLATE template0 \
             LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
        ))
        .await
        .unwrap();
    });
    match query {
        "" => format!("{root}/{name}"),
        q => format!("{root}/{name}?{q}"),
    }
}

#[test]
fn users_and_tokens_are_listed_in_byte_order_under_any_locale() {
    let Some(admin) = test_server("users_and_tokens_are_listed_in_byte_order_under_any_locale")
    else {
        return;
    };
    let s = PgStore::open_url(&english_database(&admin)).unwrap();
    for (i, name) in ["bob", "Zed", "adam"].into_iter().enumerate() {
        s.insert_user(&UserRecord {
            name: name.into(),
            role: Role::Officer,
            password_hash: "$argon2id$x".into(),
            created: "2026-01-01T00:00:00Z".into(),
        })
        .unwrap();
        s.insert_token(name, "", &[i as u8; 32], "2026-01-01T00:00:00Z")
            .unwrap();
    }
    let users: Vec<_> = s
        .list_users()
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(users, ["Zed", "adam", "bob"]);
    let owners: Vec<_> = s
        .list_tokens()
        .unwrap()
        .into_iter()
        .map(|t| t.owner)
        .collect();
    assert_eq!(owners, ["Zed", "adam", "bob"]);
}
