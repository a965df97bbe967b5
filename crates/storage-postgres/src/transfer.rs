//! The transfer gate's volumes, holds and first decisions, and the peers.

use crate::sql::Db;
use crate::{text, wait, PgStore};
use detente_storage::{HoldRow, HoldStatus, PeerRow, PeerStore, StorageError, TransferStore};
use tokio_postgres::Row;

const HOLD_COLUMNS: &str =
    "id, recipient, country, subject, decision, status, created, resolved_by, reason, \
     requested_by, payload, released_at";

fn hold_row(r: &Row) -> Result<HoldRow, StorageError> {
    Ok(HoldRow {
        id: r.get(0),
        recipient: r.get(1),
        country: r.get(2),
        subject: r.get(3),
        decision: r.get(4),
        status: text(r, 5)?,
        created: r.get(6),
        resolved_by: r.get(7),
        reason: r.get(8),
        requested_by: r.get(9),
        payload: r.get(10),
        released_at: r.get(11),
    })
}

const INSERT_VOLUME: &str =
    "INSERT INTO gate_volumes (recipient, category, count, at) VALUES ($1, $2, $3, $4)";

impl TransferStore for PgStore {
    fn record_volume(
        &self,
        recipient: &str,
        category: &str,
        count: u64,
        at: &str,
    ) -> Result<(), StorageError> {
        let c = self.pool.get()?;
        wait(c.execute(
            INSERT_VOLUME,
            &[&recipient, &category, &(count as i64), &at],
        ))
        .map(drop)
    }

    fn prior_volume(
        &self,
        recipient: &str,
        category: &str,
        since: &str,
    ) -> Result<u64, StorageError> {
        let c = self.pool.get()?;
        let sum: i64 = wait(c.query_one(
            "SELECT coalesce(sum(count), 0)::bigint FROM gate_volumes \
             WHERE recipient = $1 AND category = $2 AND at >= $3",
            &[&recipient, &category, &since],
        ))?
        .get(0);
        Ok(sum as u64)
    }

    fn hold(&self, h: &HoldRow) -> Result<HoldRow, StorageError> {
        let c = self.pool.get()?;
        wait(c.execute(
            "INSERT INTO gate_holds (id, recipient, country, subject, decision, status, created, \
             requested_by, payload) VALUES ($1, $2, $3, $4, $5, 'held', $6, $7, $8) \
             ON CONFLICT (recipient, subject) DO NOTHING",
            &[
                &h.id,
                &h.recipient,
                &h.country,
                &h.subject,
                &h.decision,
                &h.created,
                &h.requested_by,
                &h.payload,
            ],
        ))?;
        let sql =
            format!("SELECT {HOLD_COLUMNS} FROM gate_holds WHERE recipient = $1 AND subject = $2");
        hold_row(&wait(c.query_one(&sql, &[&h.recipient, &h.subject]))?)
    }

    fn holds(&self, status: Option<HoldStatus>) -> Result<Vec<HoldRow>, StorageError> {
        let c = self.pool.get()?;
        let sql = format!(
            "SELECT {HOLD_COLUMNS} FROM gate_holds WHERE $1::text IS NULL OR status = $1 ORDER BY created"
        );
        wait(c.query(&sql, &[&status.map(HoldStatus::as_str)]))?
            .iter()
            .map(hold_row)
            .collect()
    }

    fn find_hold(&self, recipient: &str, subject: &str) -> Result<Option<HoldRow>, StorageError> {
        let c = self.pool.get()?;
        let sql =
            format!("SELECT {HOLD_COLUMNS} FROM gate_holds WHERE recipient = $1 AND subject = $2");
        wait(c.query_opt(&sql, &[&recipient, &subject]))?
            .map(|r| hold_row(&r))
            .transpose()
    }

    fn resolve_hold(
        &self,
        id: &str,
        status: HoldStatus,
        by: &str,
        reason: &str,
    ) -> Result<Option<HoldRow>, StorageError> {
        let c = self.pool.get()?;
        // One statement: of two reviewers resolving at once, one wins.
        let sql = format!(
            "UPDATE gate_holds SET status = $2, resolved_by = $3, reason = $4 \
             WHERE id = $1 AND status = 'held' RETURNING {HOLD_COLUMNS}"
        );
        wait(c.query_opt(&sql, &[&id, &status.as_str(), &by, &reason]))?
            .map(|r| hold_row(&r))
            .transpose()
    }

    fn hold_by_id(&self, id: &str) -> Result<Option<HoldRow>, StorageError> {
        let c = self.pool.get()?;
        let sql = format!("SELECT {HOLD_COLUMNS} FROM gate_holds WHERE id = $1");
        wait(c.query_opt(&sql, &[&id]))?
            .map(|r| hold_row(&r))
            .transpose()
    }

    fn release_hold(&self, id: &str, at: &str) -> Result<bool, StorageError> {
        let c = self.pool.get()?;
        let n = wait(c.execute(
            "UPDATE gate_holds SET released_at = $2 \
             WHERE id = $1 AND status = 'approved' AND released_at IS NULL",
            &[&id, &at],
        ))?;
        Ok(n == 1)
    }

    fn decision(&self, recipient: &str, subject: &str) -> Result<Option<String>, StorageError> {
        let c = self.pool.get()?;
        let row = wait(c.query_opt(
            "SELECT action FROM gate_decisions WHERE recipient = $1 AND subject = $2",
            &[&recipient, &subject],
        ))?;
        Ok(row.map(|r| r.get(0)))
    }

    fn commit_transfer(
        &self,
        recipient: &str,
        subject: &str,
        decision: Option<&str>,
        volumes: &[(&str, u64)],
        at: &str,
    ) -> Result<(), StorageError> {
        let mut c = self.pool.get()?;
        let tx = wait(c.transaction())?;
        for (category, count) in volumes {
            wait(tx.execute(
                INSERT_VOLUME,
                &[&recipient, category, &(*count as i64), &at],
            ))?;
        }
        if let Some(action) = decision {
            wait(tx.execute(
                "INSERT INTO gate_decisions (recipient, subject, action, at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (recipient, subject) DO NOTHING",
                &[&recipient, &subject, &action, &at],
            ))?;
        }
        wait(tx.commit())
    }
}

const PEER_COLUMNS: &str = "origin, url, key, country, added";

fn peer_row(r: &Row) -> PeerRow {
    PeerRow {
        origin: r.get(0),
        url: r.get(1),
        key: r.get(2),
        country: r.get(3),
        added: r.get(4),
    }
}

impl PeerStore for PgStore {
    fn add_peer(&self, p: &PeerRow) -> Result<bool, StorageError> {
        let c = self.pool.get()?;
        let n = wait(c.execute(
            "INSERT INTO peers (origin, url, key, country, added) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (origin) DO NOTHING",
            &[&p.origin, &p.url, &p.key, &p.country, &p.added],
        ))?;
        Ok(n == 1)
    }

    fn peer(&self, origin: &str) -> Result<Option<PeerRow>, StorageError> {
        let c = self.pool.get()?;
        let sql = format!("SELECT {PEER_COLUMNS} FROM peers WHERE origin = $1");
        Ok(wait(c.query_opt(&sql, &[&origin]))?.map(|r| peer_row(&r)))
    }

    fn peers(&self) -> Result<Vec<PeerRow>, StorageError> {
        let c = self.pool.get()?;
        let sql = format!("SELECT {PEER_COLUMNS} FROM peers ORDER BY origin");
        Ok(wait(c.query(&sql, &[]))?.iter().map(peer_row).collect())
    }

    fn remove_peer(&self, origin: &str) -> Result<bool, StorageError> {
        let c = self.pool.get()?;
        Ok(wait(c.execute("DELETE FROM peers WHERE origin = $1", &[&origin]))? == 1)
    }
}
