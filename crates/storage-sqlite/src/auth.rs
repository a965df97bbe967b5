//! SQLite side of users and tokens (`auth_` tables, migration 017).

use crate::{db_err, Cached, SqliteStore};
use detente_storage::{AuthStore, Hash, Role, StorageError, TokenRecord, UserRecord};
use rusqlite::{params, Connection, OptionalExtension, Row};

/// A write's error: a broken uniqueness or reference is the caller's
/// [`StorageError::Conflict`], anything else the database's.
pub(crate) fn write_err(e: rusqlite::Error) -> StorageError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => StorageError::Conflict(e.to_string()),
        _ => db_err(e),
    }
}

const USER_COLUMNS: &str = "name, role, password_hash, created";

fn user_row(r: &Row) -> rusqlite::Result<UserRecord> {
    let role: String = r.get(1)?;
    Ok(UserRecord {
        name: r.get(0)?,
        role: role.parse().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e))
        })?,
        password_hash: r.get(2)?,
        created: r.get(3)?,
    })
}

/// True of a row whose change still leaves an admin: it is not one, or
/// another one exists.
const KEEPS_AN_ADMIN: &str =
    "(role <> 'admin' OR (SELECT COUNT(*) FROM auth_users WHERE role = 'admin') > 1)";

/// Why a guarded change touched no row: the user is missing (false) or the
/// change would leave no admin (a conflict).
fn refused_or_missing(c: &Connection, changed: usize, name: &str) -> Result<bool, StorageError> {
    if changed > 0 {
        return Ok(true);
    }
    let exists = c
        .row("SELECT 1 FROM auth_users WHERE name = ?1", [name], |_| {
            Ok(())
        })
        .optional()
        .map_err(db_err)?
        .is_some();
    match exists {
        true => Err(StorageError::Conflict(format!("{name} is the last admin"))),
        false => Ok(false),
    }
}

impl AuthStore for SqliteStore {
    fn insert_user(&self, u: &UserRecord) -> Result<(), StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        w.run(
            "INSERT INTO auth_users (name, role, password_hash, created) VALUES (?1, ?2, ?3, ?4)",
            params![u.name, u.role.as_str(), u.password_hash, u.created],
        )
        .map_err(write_err)?;
        Ok(())
    }

    fn update_password(&self, name: &str, password_hash: &str) -> Result<bool, StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        let n = w
            .run(
                "UPDATE auth_users SET password_hash = ?2 WHERE name = ?1",
                params![name, password_hash],
            )
            .map_err(db_err)?;
        Ok(n > 0)
    }

    fn delete_user(&self, name: &str) -> Result<bool, StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        let n = w
            .run("DELETE FROM auth_users WHERE name = ?1", [name])
            .map_err(db_err)?;
        Ok(n > 0)
    }

    fn find_user(&self, name: &str) -> Result<Option<UserRecord>, StorageError> {
        let c = self.reader()?;
        c.row(
            &format!("SELECT {USER_COLUMNS} FROM auth_users WHERE name = ?1"),
            [name],
            user_row,
        )
        .optional()
        .map_err(db_err)
    }

    fn list_users(&self) -> Result<Vec<UserRecord>, StorageError> {
        let c = self.reader()?;
        let mut st = c
            .prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM auth_users ORDER BY name"
            ))
            .map_err(db_err)?;
        let rows = st.query_map([], user_row).map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)
    }

    fn insert_token(
        &self,
        owner: &str,
        label: &str,
        digest: &Hash,
        created: &str,
    ) -> Result<(), StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        w.run(
            "INSERT INTO auth_tokens (digest, user_name, created, label) VALUES (?1, ?2, ?3, ?4)",
            params![&digest[..], owner, created, label],
        )
        .map_err(write_err)?;
        Ok(())
    }

    fn delete_tokens(&self, owner: &str) -> Result<u64, StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        let n = w
            .run("DELETE FROM auth_tokens WHERE user_name = ?1", [owner])
            .map_err(db_err)?;
        Ok(n as u64)
    }

    fn find_token_user(&self, digest: &Hash) -> Result<Option<UserRecord>, StorageError> {
        let c = self.reader()?;
        c.row(
            "SELECT u.name, u.role, u.password_hash, u.created \
             FROM auth_tokens t JOIN auth_users u ON u.name = t.user_name WHERE t.digest = ?1",
            [&digest[..]],
            user_row,
        )
        .optional()
        .map_err(db_err)
    }

    fn list_tokens(&self) -> Result<Vec<TokenRecord>, StorageError> {
        let c = self.reader()?;
        let mut st = c
            .prepare_cached(
                "SELECT digest, user_name, label, created FROM auth_tokens \
                 ORDER BY user_name, created, digest",
            )
            .map_err(db_err)?;
        let rows = st
            .query_map([], |r| {
                Ok(TokenRecord {
                    digest: hex::encode(r.get::<_, Vec<u8>>(0)?),
                    owner: r.get(1)?,
                    label: r.get(2)?,
                    created: r.get(3)?,
                })
            })
            .map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)
    }

    fn delete_token(&self, digest: &Hash) -> Result<bool, StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        let n = w
            .run("DELETE FROM auth_tokens WHERE digest = ?1", [&digest[..]])
            .map_err(db_err)?;
        Ok(n > 0)
    }

    fn update_role(&self, name: &str, role: Role) -> Result<bool, StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        let n = w
            .run(
                &format!(
                    "UPDATE auth_users SET role = ?2 WHERE name = ?1 AND (?2 = 'admin' OR {KEEPS_AN_ADMIN})"
                ),
                params![name, role.as_str()],
            )
            .map_err(db_err)?;
        refused_or_missing(&w, n, name)
    }

    fn delete_user_keeping_an_admin(&self, name: &str) -> Result<bool, StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        let n = w
            .run(
                &format!("DELETE FROM auth_users WHERE name = ?1 AND {KEEPS_AN_ADMIN}"),
                [name],
            )
            .map_err(db_err)?;
        refused_or_missing(&w, n, name)
    }
}
