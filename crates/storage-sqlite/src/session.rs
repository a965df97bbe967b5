//! SQLite side of browser sessions (`web_sessions`, migration 017).

use crate::auth::write_err;
use crate::{db_err, Cached, SqliteStore};
use detente_storage::{Hash, Live, SessionRow, SessionStore, StorageError};
use rusqlite::{params, OptionalExtension, Row};

const COLUMNS: &str = "digest, user_name, csrf, created, last_seen, agent";

fn session_row(r: &Row) -> rusqlite::Result<SessionRow> {
    let digest: Vec<u8> = r.get(0)?;
    Ok(SessionRow {
        digest: digest.try_into().unwrap_or([0; 32]),
        user: r.get(1)?,
        csrf: r.get(2)?,
        created: r.get(3)?,
        last_seen: r.get(4)?,
        agent: r.get(5)?,
    })
}

impl SessionStore for SqliteStore {
    fn insert_session(&self, s: &SessionRow) -> Result<(), StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        w.run(
            &format!("INSERT INTO web_sessions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
            params![
                &s.digest[..],
                s.user,
                s.csrf,
                s.created,
                s.last_seen,
                s.agent
            ],
        )
        .map_err(write_err)?;
        Ok(())
    }

    fn live_session(&self, digest: &Hash, live: Live) -> Result<Option<SessionRow>, StorageError> {
        let found = {
            let c = self.reader()?;
            c.row(
                &format!("SELECT {COLUMNS} FROM web_sessions WHERE digest = ?1"),
                [&digest[..]],
                session_row,
            )
            .optional()
            .map_err(db_err)?
        };
        match found {
            Some(s) if live.admits(&s) => Ok(Some(s)),
            Some(_) => self.delete_session(digest, None).map(|_| None),
            None => Ok(None),
        }
    }

    fn touch_session(&self, digest: &Hash, last_seen: i64) -> Result<(), StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        w.run(
            "UPDATE web_sessions SET last_seen = ?2 WHERE digest = ?1 AND last_seen < ?2",
            params![&digest[..], last_seen],
        )
        .map_err(db_err)?;
        Ok(())
    }

    fn delete_session(&self, digest: &Hash, user: Option<&str>) -> Result<bool, StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        let n = w
            .run(
                "DELETE FROM web_sessions WHERE digest = ?1 AND (?2 IS NULL OR user_name = ?2)",
                params![&digest[..], user],
            )
            .map_err(db_err)?;
        Ok(n > 0)
    }

    fn live_sessions(
        &self,
        user: Option<&str>,
        live: Live,
        limit: u64,
    ) -> Result<Vec<SessionRow>, StorageError> {
        let c = self.reader()?;
        let mut st = c
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM web_sessions \
                 WHERE (?1 IS NULL OR user_name = ?1) AND last_seen > ?2 AND created > ?3 \
                 ORDER BY created DESC, rowid DESC LIMIT ?4"
            ))
            .map_err(db_err)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = st
            .query_map(
                params![user, live.seen_after, live.created_after, limit],
                session_row,
            )
            .map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)
    }

    fn delete_sessions(&self, user: Option<&str>) -> Result<u64, StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        let n = w
            .run(
                "DELETE FROM web_sessions WHERE ?1 IS NULL OR user_name = ?1",
                [user],
            )
            .map_err(db_err)?;
        Ok(n as u64)
    }
}
