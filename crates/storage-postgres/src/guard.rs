//! Replay caches, rate limits and login throttles shared by the replicas
//! (`guard_*`, migration 005). Each method is one statement, atomic under
//! concurrent replicas through its row locks and `ON CONFLICT`; each also
//! forgets a few expired rows of other keys (`SKIP LOCKED`, so no replica
//! waits for another's sweep), which keeps the tables to what is live.
//!
//! The statement commits with `synchronous_commit = off`: it returns before
//! its WAL reaches the disk, so a crash of the database forgets the last
//! moments of nonces and counters. That is harmless: a signature is refused
//! by its time once it is older than the window its nonce was kept for, and a
//! forgotten failure or token only grants what a few seconds would anyway.

use crate::sql::{Db, Params};
use crate::{wait, PgStore};
use detente_storage::guard::retry_after_us;
use detente_storage::{Failures, GuardStore, StorageError};
use tokio_postgres::Row;

/// Expired rows of other keys each call forgets, at most.
const SWEEP: i64 = 8;

const FIRST_USE: &str = "\
WITH gone AS (
    DELETE FROM guard_nonces WHERE (scope, key) IN (
        SELECT scope, key FROM guard_nonces
        WHERE scope = $1::TEXT AND expires <= $3::BIGINT AND key <> $2::TEXT
        ORDER BY expires LIMIT $6::BIGINT FOR UPDATE SKIP LOCKED)
    RETURNING 1),
room AS (
    SELECT COALESCE((SELECT live FROM guard_nonce_counts WHERE scope = $1), 0)
        - (SELECT count(*) FROM gone) < $5::BIGINT AS ok),
put AS (
    INSERT INTO guard_nonces (scope, key, expires)
    SELECT $1, $2, $4::BIGINT WHERE (SELECT ok FROM room)
    ON CONFLICT (scope, key) DO UPDATE SET expires = EXCLUDED.expires
        WHERE guard_nonces.expires <= $3
    RETURNING (xmax = 0) AS fresh),
counted AS (
    INSERT INTO guard_nonce_counts (scope, live)
    VALUES ($1, (SELECT count(*) FROM put WHERE fresh) - (SELECT count(*) FROM gone))
    ON CONFLICT (scope) DO UPDATE SET live = guard_nonce_counts.live + EXCLUDED.live
    RETURNING 1)
SELECT (SELECT count(*) FROM put), (SELECT count(*) FROM counted)";

const RECORD_FAILURE: &str = "\
WITH gone AS (
    DELETE FROM guard_failures WHERE key IN (
        SELECT key FROM guard_failures WHERE ends <= $2::BIGINT AND key <> $1::TEXT
        LIMIT $4::BIGINT FOR UPDATE SKIP LOCKED))
INSERT INTO guard_failures AS f (key, ends, failures) VALUES ($1, $2 + $3::BIGINT, 1)
ON CONFLICT (key) DO UPDATE SET
    failures = CASE WHEN f.ends <= $2 THEN 1 ELSE f.failures + 1 END,
    ends = CASE WHEN f.ends <= $2 THEN EXCLUDED.ends ELSE f.ends END
RETURNING failures";

/// GCRA: the request is allowed if the new theoretical arrival time,
/// `max(tat, now) + interval`, is at most `burst` intervals ahead of now.
const TAKE_TOKEN: &str = "\
WITH gone AS (
    DELETE FROM guard_tokens WHERE key IN (
        SELECT key FROM guard_tokens WHERE tat <= $2::BIGINT AND key <> $1::TEXT
        LIMIT $5::BIGINT FOR UPDATE SKIP LOCKED))
INSERT INTO guard_tokens AS t (key, tat, allowed)
VALUES ($1, $2 + $3::BIGINT, $3 <= $4::BIGINT * $3)
ON CONFLICT (key) DO UPDATE SET
    allowed = GREATEST(t.tat, $2) + $3 - $2 <= $4 * $3,
    tat = CASE WHEN GREATEST(t.tat, $2) + $3 - $2 <= $4 * $3
        THEN GREATEST(t.tat, $2) + $3 ELSE t.tat END
RETURNING allowed, tat";

impl PgStore {
    /// Runs `sql` alone in a transaction with `synchronous_commit = off`.
    /// Once the statement is prepared (once per connection), the three
    /// messages go out together: one round trip. A failed statement aborts
    /// the transaction, which `COMMIT` then ends.
    fn advisory(&self, sql: &str, params: Params<'_>) -> Result<Row, StorageError> {
        let c = self.pool.get()?;
        let statement = wait(c.prepare(sql))?;
        let client = c.inner();
        let rows = wait(async {
            let (begun, rows, done) = futures::join!(
                client.batch_execute("BEGIN; SET LOCAL synchronous_commit = off"),
                client.query(&statement, params),
                client.batch_execute("COMMIT"),
            );
            begun?;
            let rows = rows?;
            done?;
            Ok(rows)
        })?;
        rows.into_iter()
            .next()
            .ok_or_else(|| StorageError::Database("guard statement returned no row".into()))
    }
}

impl GuardStore for PgStore {
    fn first_use(
        &self,
        scope: &str,
        key: &str,
        now_s: i64,
        expires_s: i64,
        capacity: u64,
    ) -> Result<bool, StorageError> {
        let capacity = i64::try_from(capacity).unwrap_or(i64::MAX);
        let params: Params<'_> = &[&scope, &key, &now_s, &expires_s, &capacity, &SWEEP];
        let row = self.advisory(FIRST_USE, params)?;
        Ok(row.get::<_, i64>(0) == 1)
    }

    fn failures(&self, key: &str, now_s: i64) -> Result<Failures, StorageError> {
        let c = self.pool.get()?;
        let row = wait(c.query_opt(
            "SELECT failures, ends FROM guard_failures WHERE key = $1 AND ends > $2",
            &[&key, &now_s],
        ))?;
        Ok(row.map_or(Failures::default(), |r| Failures {
            count: r.get::<_, i64>(0) as u64,
            ends_s: r.get(1),
        }))
    }

    fn record_failure(&self, key: &str, now_s: i64, window_s: i64) -> Result<u64, StorageError> {
        let row = self.advisory(RECORD_FAILURE, &[&key, &now_s, &window_s, &SWEEP])?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    fn clear_failures(&self, key: &str) -> Result<(), StorageError> {
        let c = self.pool.get()?;
        wait(c.execute("DELETE FROM guard_failures WHERE key = $1", &[&key])).map(drop)
    }

    fn take_token(
        &self,
        key: &str,
        now_us: i64,
        interval_us: i64,
        burst: u32,
    ) -> Result<Option<u64>, StorageError> {
        let burst_i = i64::from(burst.max(1));
        let params: Params<'_> = &[&key, &now_us, &interval_us, &burst_i, &SWEEP];
        let row = self.advisory(TAKE_TOKEN, params)?;
        let (allowed, tat): (bool, i64) = (row.get(0), row.get(1));
        Ok((!allowed).then(|| retry_after_us(tat, now_us, interval_us, burst)))
    }
}
