//! Browser sessions of the web interface (`web_sessions`, migration 002).

use crate::sql::Db;
use crate::{hash, wait, PgStore};
use detente_storage::{Hash, Live, SessionRow, SessionStore, StorageError};
use tokio_postgres::Row;

const COLUMNS: &str = "digest, user_name, csrf, created, last_seen, agent";

fn session_row(r: &Row) -> Result<SessionRow, StorageError> {
    Ok(SessionRow {
        digest: hash(r.get(0))?,
        user: r.get(1),
        csrf: r.get(2),
        created: r.get(3),
        last_seen: r.get(4),
        agent: r.get(5),
    })
}

impl SessionStore for PgStore {
    fn insert_session(&self, s: &SessionRow) -> Result<(), StorageError> {
        let c = self.pool.get()?;
        wait(c.execute(
            &format!("INSERT INTO web_sessions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"),
            &[
                &&s.digest[..],
                &s.user,
                &s.csrf,
                &s.created,
                &s.last_seen,
                &s.agent,
            ],
        ))
        .map(drop)
    }

    fn live_session(&self, digest: &Hash, live: Live) -> Result<Option<SessionRow>, StorageError> {
        let c = self.pool.get()?;
        let found = wait(c.query_opt(
            &format!("SELECT {COLUMNS} FROM web_sessions WHERE digest = $1"),
            &[&&digest[..]],
        ))?
        .as_ref()
        .map(session_row)
        .transpose()?;
        match found {
            Some(s) if live.admits(&s) => Ok(Some(s)),
            // Deleted only if still dead as the row now stands: another
            // replica may have touched it since it was read.
            Some(_) => wait(c.execute(
                "DELETE FROM web_sessions WHERE digest = $1 \
                 AND NOT (last_seen > $2 AND created > $3)",
                &[&&digest[..], &live.seen_after, &live.created_after],
            ))
            .map(|_| None),
            None => Ok(None),
        }
    }

    fn touch_session(&self, digest: &Hash, last_seen: i64) -> Result<(), StorageError> {
        // One statement: the row lock makes a later, concurrent touch
        // re-check `last_seen < $2` against the value this one wrote.
        let c = self.pool.get()?;
        wait(c.execute(
            "UPDATE web_sessions SET last_seen = $2 WHERE digest = $1 AND last_seen < $2",
            &[&&digest[..], &last_seen],
        ))
        .map(drop)
    }

    fn delete_session(&self, digest: &Hash, user: Option<&str>) -> Result<bool, StorageError> {
        let c = self.pool.get()?;
        let n = wait(c.execute(
            "DELETE FROM web_sessions WHERE digest = $1 AND ($2::text IS NULL OR user_name = $2)",
            &[&&digest[..], &user],
        ))?;
        Ok(n > 0)
    }

    fn live_sessions(
        &self,
        user: Option<&str>,
        live: Live,
        limit: u64,
    ) -> Result<Vec<SessionRow>, StorageError> {
        let c = self.pool.get()?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        wait(c.query(
            &format!(
                "SELECT {COLUMNS} FROM web_sessions \
                 WHERE ($1::text IS NULL OR user_name = $1) AND last_seen > $2 AND created > $3 \
                 ORDER BY created DESC, seq DESC LIMIT $4"
            ),
            &[&user, &live.seen_after, &live.created_after, &limit],
        ))?
        .iter()
        .map(session_row)
        .collect()
    }

    fn delete_sessions(&self, user: Option<&str>) -> Result<u64, StorageError> {
        let c = self.pool.get()?;
        wait(c.execute(
            "DELETE FROM web_sessions WHERE $1::text IS NULL OR user_name = $1",
            &[&user],
        ))
    }
}
