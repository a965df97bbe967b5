//! A data directory from before migration 017: the auth and web crates had
//! created their tables themselves (DDL and bookkeeping copied here from
//! their old `migrate` functions), beside schema 16 of this crate, whose 015
//! made the notification tables. Opening it must adopt every row.

use crate::{migrate, SqliteStore, SCHEMA_VERSION};
use detente_storage::notify::{Channel, Kind};
use detente_storage::{AuthStore, Live, NotificationStore, Role, SessionStore};
use rusqlite::{params, Connection};
use std::path::Path;

/// The old `detente-auth` migrations, in order.
const OLD_AUTH: &[&str] = &[
    "
    CREATE TABLE auth_users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created TEXT NOT NULL
    );
    CREATE TABLE auth_tokens (
        digest BLOB PRIMARY KEY,
        user_name TEXT NOT NULL REFERENCES auth_users(name) ON DELETE CASCADE,
        created TEXT NOT NULL
    );
    CREATE INDEX auth_tokens_user ON auth_tokens(user_name);
",
    "
    ALTER TABLE auth_tokens ADD COLUMN label TEXT NOT NULL DEFAULT '';
",
];

/// The old `detente-web` migration.
const OLD_WEB: &str = "
    CREATE TABLE web_sessions (
        digest    BLOB PRIMARY KEY,
        user_name TEXT NOT NULL,
        csrf      TEXT NOT NULL,
        created   INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        agent     TEXT NOT NULL
    );
    CREATE INDEX web_sessions_user ON web_sessions (user_name);
";

/// What an older build left: schema 16, and `auth_versions` of the auth
/// crate's migrations with their bookkeeping, one row in each table.
fn old_database(path: &Path, auth_versions: usize) {
    let mut c = Connection::open(path).unwrap();
    c.pragma_update(None, "journal_mode", "WAL").unwrap();
    migrate::run_to(&mut c, 16).unwrap();
    c.execute_batch("CREATE TABLE auth_schema (version INTEGER NOT NULL)")
        .unwrap();
    for (i, sql) in OLD_AUTH.iter().take(auth_versions).enumerate() {
        c.execute_batch(sql).unwrap();
        c.execute("INSERT INTO auth_schema (version) VALUES (?1)", [i + 1])
            .unwrap();
    }
    c.execute_batch("CREATE TABLE web_schema (version INTEGER NOT NULL)")
        .unwrap();
    c.execute_batch(OLD_WEB).unwrap();
    c.execute("INSERT INTO web_schema (version) VALUES (1)", [])
        .unwrap();
    c.execute(
        "INSERT INTO auth_users (name, role, password_hash, created) VALUES (?1, ?2, ?3, ?4)",
        params!["rita", "reviewer", "$argon2id$old", "2025-06-01T00:00:00Z"],
    )
    .unwrap();
    c.execute(
        "INSERT INTO auth_tokens (digest, user_name, created) VALUES (?1, ?2, ?3)",
        params![&[7u8; 32][..], "rita", "2025-06-02T00:00:00Z"],
    )
    .unwrap();
    c.execute(
        "INSERT INTO web_sessions (digest, user_name, csrf, created, last_seen, agent) \
         VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
        params![&[9u8; 32][..], "rita", "c5rf", 1_000_000, "Firefox"],
    )
    .unwrap();
    c.execute(
        "INSERT OR IGNORE INTO notifications (user_name, kind, key, title, link, created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            "rita",
            "transfer.held",
            "transfer.held:h1",
            "Transfer held for review",
            "/ui/holds",
            "2025-06-03T00:00:00Z"
        ],
    )
    .unwrap();
    c.execute(
        "INSERT INTO notify_outbox (notification, channel, target, next_attempt)
         VALUES (?1, ?2, ?3, ?4)",
        params![1, "email", "rita@b.example", "2025-06-03T00:00:00Z"],
    )
    .unwrap();
}

fn columns(path: &Path, table: &str) -> Vec<(String, String, bool, Option<String>, bool)> {
    let c = Connection::open(path).unwrap();
    let mut st = c
        .prepare("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?1)")
        .unwrap();
    st.query_map([table], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn tables(path: &Path) -> Vec<String> {
    let c = Connection::open(path).unwrap();
    let mut st = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn an_old_data_directory_keeps_its_users_tokens_sessions_and_notifications() {
    let dir = tempfile::tempdir().unwrap();
    for auth_versions in [2, 1] {
        let path = dir.path().join(format!("old{auth_versions}.db"));
        old_database(&path, auth_versions);
        let s = SqliteStore::open(&path).unwrap();

        let rita = s.find_user("rita").unwrap().unwrap();
        assert_eq!(
            (rita.role, rita.password_hash.as_str()),
            (Role::Reviewer, "$argon2id$old")
        );
        assert_eq!(s.find_token_user(&[7; 32]).unwrap().unwrap().name, "rita");
        let tokens = s.list_tokens().unwrap();
        assert_eq!((tokens.len(), tokens[0].label.as_str()), (1, ""));
        let live = Live {
            seen_after: 999_000,
            created_after: 999_000,
        };
        let session = s.live_session(&[9; 32], live).unwrap().unwrap();
        assert_eq!(
            (session.user.as_str(), session.csrf.as_str()),
            ("rita", "c5rf")
        );
        let items = s.notifications("rita", 10).unwrap();
        assert_eq!((items.len(), items[0].kind), (1, Kind::TransferHeld));
        let due = s.notify_due("2026-01-01T00:00:00Z", 10).unwrap();
        assert_eq!((due.len(), due[0].channel), (1, Channel::Email));

        // Written after the upgrade: the adopted tables take new rows.
        s.insert_token("rita", "export", &[8; 32], "2026-01-01T00:00:00Z")
            .unwrap();
        assert!(s.delete_user("rita").unwrap());
        assert!(s.list_tokens().unwrap().is_empty(), "tokens still cascade");
        drop(s);

        let version: i64 = Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let left = tables(&path);
        assert!(
            !left.iter().any(|t| t == "auth_schema" || t == "web_schema"),
            "the old bookkeeping is dropped: {left:?}"
        );
    }
}

#[test]
fn adopted_tables_have_the_schema_of_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh.db");
    SqliteStore::open(&fresh).unwrap();
    for auth_versions in [2, 1] {
        let old = dir.path().join(format!("old{auth_versions}.db"));
        old_database(&old, auth_versions);
        SqliteStore::open(&old).unwrap();
        for table in ["auth_users", "auth_tokens", "web_sessions"] {
            assert_eq!(columns(&old, table), columns(&fresh, table), "{table}");
        }
        assert_eq!(tables(&old), tables(&fresh));
    }
}
