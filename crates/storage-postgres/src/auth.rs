//! Users and their bearer tokens (`auth_` tables, migration 002).

use crate::sql::Db;
use crate::{db_err, describe, wait, PgStore};
use detente_storage::{AuthStore, Hash, Role, StorageError, TokenRecord, UserRecord};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

const USER_COLUMNS: &str = "name, role, password_hash, created";

/// Key of the advisory lock under which admins are demoted or removed
/// ("admins" in ASCII).
const ADMIN_LOCK: i64 = 0x6164_6d69_6e73;

/// True of a row whose change still leaves an admin: it is not one, or
/// another one exists.
const KEEPS_AN_ADMIN: &str =
    "(role <> 'admin' OR (SELECT count(*) FROM auth_users WHERE role = 'admin') > 1)";

fn user_row(r: &Row) -> Result<UserRecord, StorageError> {
    let role: &str = r.get(1);
    Ok(UserRecord {
        name: r.get(0),
        role: role
            .parse()
            .map_err(|e| StorageError::Integrity(format!("{e}")))?,
        password_hash: r.get(2),
        created: r.get(3),
    })
}

/// A write's error: a broken uniqueness or reference (a token for no user)
/// is the caller's [`StorageError::Conflict`], as on SQLite.
fn write_err(e: tokio_postgres::Error) -> StorageError {
    match e.code() {
        Some(c) if *c == SqlState::FOREIGN_KEY_VIOLATION => StorageError::Conflict(describe(&e)),
        _ => db_err(e),
    }
}

/// Why a guarded change touched no row: the user is missing (false) or the
/// change would leave no admin (a conflict).
fn refused_or_missing(c: &impl Db, changed: u64, name: &str) -> Result<bool, StorageError> {
    if changed > 0 {
        return Ok(true);
    }
    match wait(c.query_opt("SELECT 1 FROM auth_users WHERE name = $1", &[&name]))? {
        Some(_) => Err(StorageError::Conflict(format!("{name} is the last admin"))),
        None => Ok(false),
    }
}

impl PgStore {
    /// Runs `sql`, a change guarded by [`KEEPS_AN_ADMIN`], under
    /// [`ADMIN_LOCK`]. One statement is not enough here, unlike on SQLite's
    /// single writer: two replicas demoting the two last admins at once
    /// would each count two and both succeed. Holding the lock, each
    /// statement counts what the previous holder committed; READ COMMITTED
    /// is asked for because a snapshot taken before the wait (REPEATABLE
    /// READ, if the server defaults to it) would count stale rows.
    fn keeping_an_admin(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        name: &str,
    ) -> Result<bool, StorageError> {
        let mut c = self.pool.get()?;
        let tx = wait(c.read_committed())?;
        wait(tx.execute("SELECT pg_advisory_xact_lock($1)", &[&ADMIN_LOCK]))?;
        let changed = wait(tx.execute(sql, params))?;
        let done = refused_or_missing(&tx, changed, name)?;
        wait(tx.commit())?;
        Ok(done)
    }
}

impl AuthStore for PgStore {
    fn insert_user(&self, u: &UserRecord) -> Result<(), StorageError> {
        let c = self.pool.get()?;
        wait(c.execute(
            "INSERT INTO auth_users (name, role, password_hash, created) VALUES ($1, $2, $3, $4)",
            &[&u.name, &u.role.as_str(), &u.password_hash, &u.created],
        ))
        .map(drop)
    }

    fn update_password(&self, name: &str, password_hash: &str) -> Result<bool, StorageError> {
        let c = self.pool.get()?;
        let n = wait(c.execute(
            "UPDATE auth_users SET password_hash = $2 WHERE name = $1",
            &[&name, &password_hash],
        ))?;
        Ok(n > 0)
    }

    fn delete_user(&self, name: &str) -> Result<bool, StorageError> {
        let c = self.pool.get()?;
        let n = wait(c.execute("DELETE FROM auth_users WHERE name = $1", &[&name]))?;
        Ok(n > 0)
    }

    fn find_user(&self, name: &str) -> Result<Option<UserRecord>, StorageError> {
        let c = self.pool.get()?;
        wait(c.query_opt(
            &format!("SELECT {USER_COLUMNS} FROM auth_users WHERE name = $1"),
            &[&name],
        ))?
        .as_ref()
        .map(user_row)
        .transpose()
    }

    fn list_users(&self) -> Result<Vec<UserRecord>, StorageError> {
        let c = self.pool.get()?;
        wait(c.query(
            &format!("SELECT {USER_COLUMNS} FROM auth_users ORDER BY name"),
            &[],
        ))?
        .iter()
        .map(user_row)
        .collect()
    }

    fn insert_token(
        &self,
        owner: &str,
        label: &str,
        digest: &Hash,
        created: &str,
    ) -> Result<(), StorageError> {
        let c = self.pool.get()?;
        futures_executor::block_on(c.execute(
            "INSERT INTO auth_tokens (digest, user_name, created, label) VALUES ($1, $2, $3, $4)",
            &[&&digest[..], &owner, &created, &label],
        ))
        .map(drop)
        .map_err(write_err)
    }

    fn delete_tokens(&self, owner: &str) -> Result<u64, StorageError> {
        let c = self.pool.get()?;
        wait(c.execute("DELETE FROM auth_tokens WHERE user_name = $1", &[&owner]))
    }

    fn find_token_user(&self, digest: &Hash) -> Result<Option<UserRecord>, StorageError> {
        let c = self.pool.get()?;
        wait(c.query_opt(
            "SELECT u.name, u.role, u.password_hash, u.created \
             FROM auth_tokens t JOIN auth_users u ON u.name = t.user_name WHERE t.digest = $1",
            &[&&digest[..]],
        ))?
        .as_ref()
        .map(user_row)
        .transpose()
    }

    fn list_tokens(&self) -> Result<Vec<TokenRecord>, StorageError> {
        let c = self.pool.get()?;
        let rows = wait(c.query(
            "SELECT digest, user_name, label, created FROM auth_tokens \
             ORDER BY user_name, created, digest",
            &[],
        ))?;
        Ok(rows
            .iter()
            .map(|r| TokenRecord {
                digest: hex::encode(r.get::<_, &[u8]>(0)),
                owner: r.get(1),
                label: r.get(2),
                created: r.get(3),
            })
            .collect())
    }

    fn delete_token(&self, digest: &Hash) -> Result<bool, StorageError> {
        let c = self.pool.get()?;
        let n = wait(c.execute("DELETE FROM auth_tokens WHERE digest = $1", &[&&digest[..]]))?;
        Ok(n > 0)
    }

    fn update_role(&self, name: &str, role: Role) -> Result<bool, StorageError> {
        self.keeping_an_admin(
            &format!(
                "UPDATE auth_users SET role = $2 WHERE name = $1 \
                 AND ($2 = 'admin' OR {KEEPS_AN_ADMIN})"
            ),
            &[&name, &role.as_str()],
            name,
        )
    }

    fn delete_user_keeping_an_admin(&self, name: &str) -> Result<bool, StorageError> {
        self.keeping_an_admin(
            &format!("DELETE FROM auth_users WHERE name = $1 AND {KEEPS_AN_ADMIN}"),
            &[&name],
            name,
        )
    }
}
