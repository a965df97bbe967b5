use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use crate::{AuthError, Role};

#[derive(Debug, Clone)]
pub struct UserRecord {
    pub name: String,
    pub role: Role,
    pub password_hash: String,
    pub created: String,
}

/// A bearer token as listed: never the secret, only its digest's hex (which
/// names it for revocation) and who holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub digest: String,
    pub owner: String,
    /// What it is for, as given when it was issued (may be empty).
    pub label: String,
    pub created: String,
}

/// The persistence the user database needs, kept narrow so that a PostgreSQL
/// implementation can sit beside the SQLite one.
pub trait AuthStore: Send + Sync {
    fn insert_user(&self, name: &str, role: Role, password_hash: &str) -> Result<(), AuthError>;
    fn update_password(&self, name: &str, password_hash: &str) -> Result<(), AuthError>;
    fn delete_user(&self, name: &str) -> Result<(), AuthError>;
    fn find_user(&self, name: &str) -> Result<Option<UserRecord>, AuthError>;
    fn list_users(&self) -> Result<Vec<UserRecord>, AuthError>;
    fn insert_token(&self, name: &str, label: &str, digest: &[u8; 32]) -> Result<(), AuthError>;
    fn delete_tokens(&self, name: &str) -> Result<usize, AuthError>;
    fn find_token_user(&self, digest: &[u8; 32]) -> Result<Option<UserRecord>, AuthError>;
    /// Every token, by owner then age.
    fn list_tokens(&self) -> Result<Vec<TokenRecord>, AuthError>;
    /// False if no token has this digest.
    fn delete_token(&self, digest: &[u8; 32]) -> Result<bool, AuthError>;
    /// Changes a role, refusing ([`AuthError::LastAdmin`]) to demote the
    /// last admin, in one statement so two admins demoting each other at
    /// once cannot leave none.
    fn update_role(&self, name: &str, role: Role) -> Result<(), AuthError>;
    /// Deletes a user unless it is the last admin (in one statement, as above).
    fn delete_user_keeping_an_admin(&self, name: &str) -> Result<(), AuthError>;
}

/// Ordered schema migrations; the index + 1 is the version recorded in
/// `auth_schema`.
const MIGRATIONS: &[&str] = &[
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

pub struct SqliteAuthStore {
    conn: Mutex<Connection>,
}

impl SqliteAuthStore {
    pub fn open(path: &Path) -> Result<SqliteAuthStore, AuthError> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn)?;
        Ok(SqliteAuthStore {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn migrate(conn: &mut Connection) -> Result<(), AuthError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS auth_schema (version INTEGER NOT NULL)")?;
    let current: i64 = tx
        .query_row("SELECT MAX(version) FROM auth_schema", [], |r| {
            r.get::<_, Option<i64>>(0)
        })?
        .unwrap_or(0);
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO auth_schema (version) VALUES (?1)",
            [i as i64 + 1],
        )?;
    }
    tx.commit()?;
    Ok(())
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn row_to_user(row: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String, String)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn to_record(raw: (String, String, String, String)) -> Result<UserRecord, AuthError> {
    let (name, role, password_hash, created) = raw;
    Ok(UserRecord {
        name,
        role: role.parse()?,
        password_hash,
        created,
    })
}

impl AuthStore for SqliteAuthStore {
    fn insert_user(&self, name: &str, role: Role, password_hash: &str) -> Result<(), AuthError> {
        let result = self.conn().execute(
            "INSERT INTO auth_users (name, role, password_hash, created) VALUES (?1, ?2, ?3, ?4)",
            params![name, role.as_str(), password_hash, now()],
        );
        match result {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(AuthError::UserExists(name.to_string()))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn update_password(&self, name: &str, password_hash: &str) -> Result<(), AuthError> {
        let n = self.conn().execute(
            "UPDATE auth_users SET password_hash = ?2 WHERE name = ?1",
            params![name, password_hash],
        )?;
        if n == 0 {
            return Err(AuthError::NoSuchUser(name.to_string()));
        }
        Ok(())
    }

    fn delete_user(&self, name: &str) -> Result<(), AuthError> {
        let n = self
            .conn()
            .execute("DELETE FROM auth_users WHERE name = ?1", [name])?;
        if n == 0 {
            return Err(AuthError::NoSuchUser(name.to_string()));
        }
        Ok(())
    }

    fn find_user(&self, name: &str) -> Result<Option<UserRecord>, AuthError> {
        self.conn()
            .query_row(
                "SELECT name, role, password_hash, created FROM auth_users WHERE name = ?1",
                [name],
                row_to_user,
            )
            .optional()?
            .map(to_record)
            .transpose()
    }

    fn list_users(&self) -> Result<Vec<UserRecord>, AuthError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT name, role, password_hash, created FROM auth_users ORDER BY name")?;
        let rows = stmt.query_map([], row_to_user)?;
        rows.map(|r| to_record(r?)).collect()
    }

    fn insert_token(&self, name: &str, label: &str, digest: &[u8; 32]) -> Result<(), AuthError> {
        self.conn().execute(
            "INSERT INTO auth_tokens (digest, user_name, created, label) VALUES (?1, ?2, ?3, ?4)",
            params![digest.as_slice(), name, now(), label],
        )?;
        Ok(())
    }

    fn delete_tokens(&self, name: &str) -> Result<usize, AuthError> {
        Ok(self
            .conn()
            .execute("DELETE FROM auth_tokens WHERE user_name = ?1", [name])?)
    }

    fn find_token_user(&self, digest: &[u8; 32]) -> Result<Option<UserRecord>, AuthError> {
        self.conn()
            .query_row(
                "SELECT u.name, u.role, u.password_hash, u.created
                 FROM auth_tokens t JOIN auth_users u ON u.name = t.user_name
                 WHERE t.digest = ?1",
                [digest.as_slice()],
                row_to_user,
            )
            .optional()?
            .map(to_record)
            .transpose()
    }

    fn list_tokens(&self) -> Result<Vec<TokenRecord>, AuthError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT digest, user_name, label, created FROM auth_tokens ORDER BY user_name, created, digest",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(TokenRecord {
                digest: hex::encode(r.get::<_, Vec<u8>>(0)?),
                owner: r.get(1)?,
                label: r.get(2)?,
                created: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn delete_token(&self, digest: &[u8; 32]) -> Result<bool, AuthError> {
        let n = self.conn().execute(
            "DELETE FROM auth_tokens WHERE digest = ?1",
            [digest.as_slice()],
        )?;
        Ok(n > 0)
    }

    fn update_role(&self, name: &str, role: Role) -> Result<(), AuthError> {
        let conn = self.conn();
        let n = conn.execute(
            &format!(
                "UPDATE auth_users SET role = ?2 WHERE name = ?1 AND (?2 = 'admin' OR {KEEPS_AN_ADMIN})"
            ),
            params![name, role.as_str()],
        )?;
        refused_or_missing(&conn, n, name)
    }

    fn delete_user_keeping_an_admin(&self, name: &str) -> Result<(), AuthError> {
        let conn = self.conn();
        let n = conn.execute(
            &format!("DELETE FROM auth_users WHERE name = ?1 AND {KEEPS_AN_ADMIN}"),
            [name],
        )?;
        refused_or_missing(&conn, n, name)
    }
}

/// True of a row whose change still leaves an admin: it is not one, or
/// another one exists.
const KEEPS_AN_ADMIN: &str =
    "(role <> 'admin' OR (SELECT COUNT(*) FROM auth_users WHERE role = 'admin') > 1)";

/// Why a guarded change touched no row.
fn refused_or_missing(conn: &Connection, changed: usize, name: &str) -> Result<(), AuthError> {
    if changed > 0 {
        return Ok(());
    }
    let exists = conn
        .query_row("SELECT 1 FROM auth_users WHERE name = ?1", [name], |_| {
            Ok(())
        })
        .optional()?
        .is_some();
    Err(match exists {
        true => AuthError::LastAdmin(name.to_string()),
        false => AuthError::NoSuchUser(name.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("detente.db");
        SqliteAuthStore::open(&path).unwrap();
        let s = SqliteAuthStore::open(&path).unwrap();
        let v: i64 = s
            .conn()
            .query_row("SELECT MAX(version) FROM auth_schema", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
    }
}
