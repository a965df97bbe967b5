//! Replay caches, rate limits and login throttles (`guard_*`, migration 019).
//! The single writer makes each method atomic; a node on SQLite keeps these
//! in memory instead (one process), so this serves stores shared otherwise
//! and holds SQLite to the same rules as PostgreSQL.

use crate::{db_err, Cached, SqliteStore};
use detente_storage::guard::retry_after_us;
use detente_storage::{Failures, GuardStore, StorageError};
use rusqlite::{params, OptionalExtension};

/// Expired rows of other keys each call forgets, at most.
const SWEEP: i64 = 8;

impl GuardStore for SqliteStore {
    fn first_use(
        &self,
        scope: &str,
        key: &str,
        now_s: i64,
        expires_s: i64,
        capacity: u64,
    ) -> Result<bool, StorageError> {
        let mut w = self.writer.lock().map_err(db_err)?;
        let tx = w.transaction().map_err(db_err)?;
        let gone = tx
            .run(
                "DELETE FROM guard_nonces WHERE rowid IN (SELECT rowid FROM guard_nonces \
                 WHERE scope = ?1 AND expires <= ?2 AND key <> ?3 ORDER BY expires LIMIT ?4)",
                params![scope, now_s, key, SWEEP],
            )
            .map_err(db_err)? as i64;
        let held: Option<i64> = tx
            .row(
                "SELECT expires FROM guard_nonces WHERE scope = ?1 AND key = ?2",
                params![scope, key],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
        let live: i64 = tx
            .row(
                "SELECT live FROM guard_nonce_counts WHERE scope = ?1",
                [scope],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?
            .unwrap_or(0)
            - gone;
        let room = live < i64::try_from(capacity).unwrap_or(i64::MAX);
        let (first, added) = match held {
            Some(expires) if expires > now_s => (false, 0),
            Some(_) => (true, 0),
            None => (room, i64::from(room)),
        };
        if first {
            tx.run(
                "INSERT INTO guard_nonces (scope, key, expires) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (scope, key) DO UPDATE SET expires = excluded.expires",
                params![scope, key, expires_s],
            )
            .map_err(db_err)?;
        }
        tx.run(
            "INSERT INTO guard_nonce_counts (scope, live) VALUES (?1, ?2) \
             ON CONFLICT (scope) DO UPDATE SET live = excluded.live",
            params![scope, live + added],
        )
        .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(first)
    }

    fn failures(&self, key: &str, now_s: i64) -> Result<Failures, StorageError> {
        let c = self.reader()?;
        let found = c
            .row(
                "SELECT failures, ends FROM guard_failures WHERE key = ?1 AND ends > ?2",
                params![key, now_s],
                |r| Ok((r.get::<_, i64>(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(db_err)?;
        Ok(
            found.map_or(Failures::default(), |(count, ends_s)| Failures {
                count: count as u64,
                ends_s,
            }),
        )
    }

    fn record_failure(&self, key: &str, now_s: i64, window_s: i64) -> Result<u64, StorageError> {
        let mut w = self.writer.lock().map_err(db_err)?;
        let tx = w.transaction().map_err(db_err)?;
        tx.run(
            "DELETE FROM guard_failures WHERE key IN (SELECT key FROM guard_failures \
             WHERE ends <= ?1 AND key <> ?2 LIMIT ?3)",
            params![now_s, key, SWEEP],
        )
        .map_err(db_err)?;
        let count: i64 = tx
            .row(
                "INSERT INTO guard_failures (key, ends, failures) VALUES (?1, ?2 + ?3, 1) \
                 ON CONFLICT (key) DO UPDATE SET \
                 failures = CASE WHEN ends <= ?2 THEN 1 ELSE failures + 1 END, \
                 ends = CASE WHEN ends <= ?2 THEN excluded.ends ELSE ends END \
                 RETURNING failures",
                params![key, now_s, window_s],
                |r| r.get(0),
            )
            .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(count as u64)
    }

    fn clear_failures(&self, key: &str) -> Result<(), StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        w.run("DELETE FROM guard_failures WHERE key = ?1", [key])
            .map_err(db_err)
            .map(drop)
    }

    fn take_token(
        &self,
        key: &str,
        now_us: i64,
        interval_us: i64,
        burst: u32,
    ) -> Result<Option<u64>, StorageError> {
        let mut w = self.writer.lock().map_err(db_err)?;
        let tx = w.transaction().map_err(db_err)?;
        tx.run(
            "DELETE FROM guard_tokens WHERE key IN (SELECT key FROM guard_tokens \
             WHERE tat <= ?1 AND key <> ?2 LIMIT ?3)",
            params![now_us, key, SWEEP],
        )
        .map_err(db_err)?;
        // GCRA, as on PostgreSQL: allowed if `max(tat, now) + interval` is
        // at most `burst` intervals ahead of now.
        let (allowed, tat): (bool, i64) = tx
            .row(
                "INSERT INTO guard_tokens (key, tat, allowed) VALUES (?1, ?2 + ?3, ?3 <= ?4 * ?3) \
                 ON CONFLICT (key) DO UPDATE SET \
                 allowed = max(tat, ?2) + ?3 - ?2 <= ?4 * ?3, \
                 tat = CASE WHEN max(tat, ?2) + ?3 - ?2 <= ?4 * ?3 \
                 THEN max(tat, ?2) + ?3 ELSE tat END \
                 RETURNING allowed, tat",
                params![key, now_us, interval_us, i64::from(burst.max(1))],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok((!allowed).then(|| retry_after_us(tat, now_us, interval_us, burst)))
    }
}
