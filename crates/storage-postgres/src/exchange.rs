//! Cooperation requests: summaries, events, outbox and inbox; witnesses'
//! cosignatures; attachments and their citations.

use crate::sql::Db;
use crate::{hash, text, text_opt, wait, PgStore};
use detente_storage::{
    AttachmentStore, CitationRow, CosignatureStore, EventRow, ExchangeStore, ExchangeWrite, Hash,
    OutboxRow, PeerDeliveries, RequestFilter, RequestOrder, RequestRow, StorageError, StoredText,
    SummaryRow, WriteDone,
};
use tokio_postgres::Row;

pub(crate) const REQUEST_COLUMNS: &str =
    "id, direction, peer, type, urgency, tlp, reference, status, submitted_at, \
    acknowledge_by, answer_by, acknowledged_at, closed_at, updated_at, delivered_at, decline_ground";
pub(crate) const EVENT_COLUMNS: &str =
    "request_id, seq, event_id, actor, kind, at, log_index, envelope, receipt";
pub(crate) const OUTBOX_COLUMNS: &str = "digest, peer, request_id, envelope, created, attempts, \
    next_attempt, last_error, delivered_at, refused_at";
const CITATION_COLUMNS: &str = "sha256, event_id, request_id, peer, by_peer, size, media_type";
const SUMMARY_COLUMNS: &str = "direction, peer, status, submitted_at, acknowledge_by, answer_by, \
    acknowledged_at, closed_at, delivered_at, decline_ground";

fn request_row(r: &Row) -> Result<RequestRow, StorageError> {
    Ok(RequestRow {
        id: r.get(0),
        direction: text(r, 1)?,
        peer: r.get(2),
        kind: text(r, 3)?,
        urgency: text(r, 4)?,
        tlp: text(r, 5)?,
        reference: r.get(6),
        status: text(r, 7)?,
        submitted_at: r.get(8),
        acknowledge_by: r.get(9),
        answer_by: r.get(10),
        acknowledged_at: r.get(11),
        closed_at: r.get(12),
        updated_at: r.get(13),
        delivered_at: r.get(14),
        decline_ground: text_opt(r, 15)?,
    })
}

fn event_row(r: &Row) -> EventRow {
    EventRow {
        request_id: r.get(0),
        seq: r.get::<_, i64>(1) as u64,
        event_id: r.get(2),
        actor: r.get(3),
        kind: r.get(4),
        at: r.get(5),
        log_index: r.get::<_, i64>(6) as u64,
        envelope: r.get(7),
        receipt: r.get(8),
    }
}

fn outbox_row(r: &Row) -> Result<OutboxRow, StorageError> {
    Ok(OutboxRow {
        digest: hash(r.get(0))?,
        peer: r.get(1),
        request_id: r.get(2),
        envelope: r.get(3),
        created: r.get(4),
        attempts: r.get::<_, i64>(5) as u64,
        next_attempt: r.get(6),
        last_error: r.get(7),
        delivered_at: r.get(8),
        refused_at: r.get(9),
    })
}

fn citation_row(r: &Row) -> CitationRow {
    CitationRow {
        sha256: r.get(0),
        event_id: r.get(1),
        request_id: r.get(2),
        peer: r.get(3),
        by_peer: r.get(4),
        size: r.get::<_, i64>(5) as u64,
        media_type: r.get(6),
    }
}

fn summary_row(r: &Row) -> Result<SummaryRow, StorageError> {
    Ok(SummaryRow {
        direction: text(r, 0)?,
        peer: r.get(1),
        status: text(r, 2)?,
        submitted_at: r.get(3),
        acknowledge_by: r.get(4),
        answer_by: r.get(5),
        acknowledged_at: r.get(6),
        closed_at: r.get(7),
        delivered_at: r.get(8),
        decline_ground: text_opt(r, 9)?,
    })
}

impl PgStore {
    /// Applies writes in their own transaction, synchronously.
    fn apply_now(&self, writes: &[ExchangeWrite]) -> Result<(), StorageError> {
        let mut c = self.pool.get()?;
        let tx = wait(c.transaction())?;
        for w in writes {
            wait(crate::writes::apply(&tx, w))?;
        }
        wait(tx.commit())
    }

    fn outbox_rows(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<OutboxRow>, StorageError> {
        let c = self.pool.get()?;
        wait(c.query(sql, params))?.iter().map(outbox_row).collect()
    }

    fn visit_summaries(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        visit: &mut dyn FnMut(SummaryRow) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        let c = self.pool.get()?;
        for r in wait(c.query(sql, params))? {
            visit(summary_row(&r)?)?;
        }
        Ok(())
    }
}

/// The text filter of a listing: a substring of the reference or the facts,
/// case-blind and literal (`%`, `_` and `\` are escaped). Three characters or
/// more use the trigram indexes; shorter text, which trigrams cannot index,
/// is matched against the reference alone, as on SQLite.
fn text_filter(text: Option<&str>) -> (Option<String>, &'static str) {
    let pattern = |t: &str| {
        let t = t
            .replace('\\', r"\\")
            .replace('%', r"\%")
            .replace('_', r"\_");
        format!("%{t}%")
    };
    match text {
        None => (None, "$6::text IS NULL"),
        Some(t) if t.chars().count() >= 3 => (
            Some(pattern(t)),
            "(reference ILIKE $6 ESCAPE '\\' OR facts ILIKE $6 ESCAPE '\\')",
        ),
        Some(t) => (Some(pattern(t)), "reference ILIKE $6 ESCAPE '\\'"),
    }
}

impl ExchangeStore for PgStore {
    fn write(&self, writes: Vec<ExchangeWrite>) -> WriteDone {
        self.group.submit(writes)
    }

    fn record_event(&self, q: &RequestRow, e: &EventRow) -> Result<(), StorageError> {
        self.apply_now(&[ExchangeWrite::RecordEvent(
            Box::new(q.clone()),
            Box::new(e.clone()),
        )])
    }

    fn request(&self, id: &str) -> Result<Option<RequestRow>, StorageError> {
        let c = self.pool.get()?;
        let sql = format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE id = $1");
        wait(c.query_opt(&sql, &[&id]))?
            .map(|r| request_row(&r))
            .transpose()
    }

    fn requests(&self, f: &RequestFilter) -> Result<Vec<RequestRow>, StorageError> {
        let (key, dir, cmp) = match f.order {
            RequestOrder::Submitted => ("submitted_at", "ASC", ">"),
            RequestOrder::Newest => ("submitted_at", "DESC", "<"),
            RequestOrder::Deadline => ("answer_by", "ASC", ">"),
        };
        let (text, text_clause) = text_filter(f.text.as_deref());
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM requests WHERE ($1::text IS NULL OR peer = $1) \
             AND ($2::text IS NULL OR direction = $2) AND ($3::text IS NULL OR status = $3) \
             AND ($4::text IS NULL OR submitted_at >= $4) AND ($5::text IS NULL OR type = $5) \
             AND {text_clause} AND (NOT $7 OR closed_at IS NULL) \
             AND ($8::text IS NULL OR (closed_at IS NULL AND answer_by < $8)) \
             AND ($9::text IS NULL OR ({key}, id) {cmp} ($9, $10::text)) \
             ORDER BY {key} {dir}, id {dir} LIMIT $11"
        );
        let limit = f.limit.map_or(i64::MAX, |l| l.min(i64::MAX as u64) as i64);
        let (after_key, after_id) = f.after.clone().unzip();
        let c = self.pool.get()?;
        let rows = wait(c.query(
            &sql,
            &[
                &f.peer,
                &f.direction.map(StoredText::as_text),
                &f.status.map(StoredText::as_text),
                &f.since,
                &f.kind.map(StoredText::as_text),
                &text,
                &f.open,
                &f.overdue_at,
                &after_key,
                &after_id,
                &limit,
            ],
        ))?;
        rows.iter().map(request_row).collect()
    }

    fn scan_summaries(
        &self,
        visit: &mut dyn FnMut(SummaryRow) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        let sql = format!("SELECT {SUMMARY_COLUMNS} FROM requests");
        self.visit_summaries(&sql, &[], visit)
    }

    fn scan_peer_summaries(
        &self,
        peer: &str,
        since: &str,
        visit: &mut dyn FnMut(SummaryRow) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM requests WHERE peer = $1 AND submitted_at >= $2"
        );
        self.visit_summaries(&sql, &[&peer, &since], visit)
    }

    fn events(&self, request_id: &str) -> Result<Vec<EventRow>, StorageError> {
        let c = self.pool.get()?;
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM request_events WHERE request_id = $1 ORDER BY seq"
        );
        Ok(wait(c.query(&sql, &[&request_id]))?
            .iter()
            .map(event_row)
            .collect())
    }

    fn scan_events(
        &self,
        visit: &mut dyn FnMut(EventRow) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        let c = self.pool.get()?;
        let sql = format!("SELECT {EVENT_COLUMNS} FROM request_events ORDER BY request_id, seq");
        for r in wait(c.query(&sql, &[]))? {
            visit(event_row(&r))?;
        }
        Ok(())
    }

    fn event_by_id(&self, event_id: &str) -> Result<Option<EventRow>, StorageError> {
        let c = self.pool.get()?;
        let sql = format!("SELECT {EVENT_COLUMNS} FROM request_events WHERE event_id = $1");
        Ok(wait(c.query_opt(&sql, &[&event_id]))?.map(|r| event_row(&r)))
    }

    fn set_receipt(&self, event_id: &str, receipt: &str) -> Result<(), StorageError> {
        self.apply_now(&[ExchangeWrite::SetReceipt {
            event_id: event_id.into(),
            receipt: receipt.into(),
        }])
    }

    fn outbox_add(&self, o: &OutboxRow) -> Result<(), StorageError> {
        self.apply_now(&[ExchangeWrite::OutboxAdd(o.clone())])
    }

    fn outbox_due(&self, now: &str, limit: u64) -> Result<Vec<OutboxRow>, StorageError> {
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox AS o \
             WHERE delivered_at IS NULL AND refused_at IS NULL AND next_attempt <= $1 \
             AND NOT EXISTS (SELECT 1 FROM outbox AS e WHERE e.request_id = o.request_id \
                             AND e.created < o.created AND e.delivered_at IS NULL) \
             ORDER BY created LIMIT $2"
        );
        self.outbox_rows(&sql, &[&now, &(limit.min(i64::MAX as u64) as i64)])
    }

    fn outbox_claim(
        &self,
        now: &str,
        lease_until: &str,
        limit: u64,
    ) -> Result<Vec<OutboxRow>, StorageError> {
        // Rows another replica is claiming at this moment are skipped, not
        // waited for; the lease is the row's next attempt.
        let sql = format!(
            "WITH due AS (SELECT digest FROM outbox AS o \
               WHERE delivered_at IS NULL AND refused_at IS NULL AND next_attempt <= $1 \
               AND NOT EXISTS (SELECT 1 FROM outbox AS e WHERE e.request_id = o.request_id \
                               AND e.created < o.created AND e.delivered_at IS NULL) \
               ORDER BY created LIMIT $3 FOR UPDATE SKIP LOCKED) \
             UPDATE outbox SET next_attempt = $2 FROM due WHERE outbox.digest = due.digest \
             RETURNING {}",
            OUTBOX_COLUMNS
                .split(", ")
                .map(|c| format!("outbox.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut rows = self.outbox_rows(
            &sql,
            &[&now, &lease_until, &(limit.min(i64::MAX as u64) as i64)],
        )?;
        rows.sort_by(|a, b| a.created.cmp(&b.created));
        Ok(rows)
    }

    fn outbox_counts(&self) -> Result<(u64, u64), StorageError> {
        let c = self.pool.get()?;
        let r = wait(c.query_one(
            "SELECT count(*) FILTER (WHERE delivered_at IS NULL AND refused_at IS NULL), \
             count(*) FILTER (WHERE refused_at IS NOT NULL) FROM outbox",
            &[],
        ))?;
        Ok((r.get::<_, i64>(0) as u64, r.get::<_, i64>(1) as u64))
    }

    fn outbox_failed(&self, digest: &Hash, next: &str, error: &str) -> Result<(), StorageError> {
        self.apply_now(&[ExchangeWrite::OutboxFailed {
            digest: *digest,
            next_attempt: next.into(),
            error: error.into(),
        }])
    }

    fn outbox_delivered(&self, digest: &Hash, at: &str) -> Result<(), StorageError> {
        self.apply_now(&[ExchangeWrite::OutboxDelivered {
            digest: *digest,
            at: at.into(),
        }])
    }

    fn outbox(&self, request_id: &str) -> Result<Vec<OutboxRow>, StorageError> {
        let sql =
            format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE request_id = $1 ORDER BY created");
        self.outbox_rows(&sql, &[&request_id])
    }

    fn outbox_troubled(&self, limit: u64) -> Result<Vec<OutboxRow>, StorageError> {
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE delivered_at IS NULL \
             AND (refused_at IS NOT NULL OR last_error IS NOT NULL) ORDER BY created DESC LIMIT $1"
        );
        self.outbox_rows(&sql, &[&(limit.min(i64::MAX as u64) as i64)])
    }

    fn peer_deliveries(&self) -> Result<Vec<PeerDeliveries>, StorageError> {
        let c = self.pool.get()?;
        let rows = wait(c.query(
            "WITH counts AS (SELECT peer, \
                 count(*) FILTER (WHERE delivered_at IS NULL AND refused_at IS NULL) AS queued, \
                 count(*) FILTER (WHERE refused_at IS NOT NULL) AS refused \
               FROM outbox GROUP BY peer) \
             SELECT coalesce(d.peer, n.peer), d.delivered_at, d.error, d.error_at, \
                 coalesce(n.queued, 0), coalesce(n.refused, 0) \
             FROM peer_deliveries d FULL JOIN counts n ON n.peer = d.peer ORDER BY 1",
            &[],
        ))?;
        Ok(rows
            .iter()
            .map(|r| PeerDeliveries {
                peer: r.get(0),
                delivered_at: r.get(1),
                error: r.get(2),
                error_at: r.get(3),
                queued: r.get::<_, i64>(4) as u64,
                refused: r.get::<_, i64>(5) as u64,
            })
            .collect())
    }

    fn inbox_get(&self, digest: &Hash) -> Result<Option<String>, StorageError> {
        let c = self.pool.get()?;
        let row = wait(c.query_opt(
            "SELECT response FROM inbox WHERE digest = $1",
            &[&&digest[..]],
        ))?;
        Ok(row.map(|r| r.get(0)))
    }

    fn inbox_put(
        &self,
        digest: &Hash,
        peer: &str,
        log_index: u64,
        response: &str,
    ) -> Result<(), StorageError> {
        self.apply_now(&[ExchangeWrite::InboxPut {
            digest: *digest,
            peer: peer.into(),
            log_index,
            response: response.into(),
        }])
    }
}

impl CosignatureStore for PgStore {
    fn add_cosignature(
        &self,
        witness: &str,
        size: u64,
        line: &str,
        timestamp: u64,
    ) -> Result<(), StorageError> {
        let c = self.pool.get()?;
        wait(c.execute(
            "INSERT INTO cosignatures (witness, size, line, timestamp) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
            &[&witness, &(size as i64), &line, &(timestamp as i64)],
        ))
        .map(drop)
    }

    fn cosignatures(&self, size: u64) -> Result<Vec<String>, StorageError> {
        let c = self.pool.get()?;
        let rows = wait(c.query(
            "SELECT line FROM cosignatures WHERE size = $1 ORDER BY witness",
            &[&(size as i64)],
        ))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn last_cosigned(&self, witness: &str) -> Result<Option<u64>, StorageError> {
        Ok(self.last_cosignature(witness)?.map(|(size, _)| size))
    }

    fn last_cosignature(&self, witness: &str) -> Result<Option<(u64, u64)>, StorageError> {
        let c = self.pool.get()?;
        let row = wait(c.query_opt(
            "SELECT size, timestamp FROM cosignatures WHERE witness = $1 ORDER BY size DESC LIMIT 1",
            &[&witness],
        ))?;
        Ok(row.map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, i64>(1) as u64)))
    }

    fn latest_cosigned_size(&self) -> Result<Option<u64>, StorageError> {
        let c = self.pool.get()?;
        let v: Option<i64> = wait(c.query_one("SELECT max(size) FROM cosignatures", &[]))?.get(0);
        Ok(v.map(|v| v as u64))
    }

    fn cosigned_sizes(&self) -> Result<Vec<u64>, StorageError> {
        let c = self.pool.get()?;
        let rows = wait(c.query("SELECT DISTINCT size FROM cosignatures ORDER BY size", &[]))?;
        Ok(rows.iter().map(|r| r.get::<_, i64>(0) as u64).collect())
    }

    fn checkpoint_at(&self, size: u64) -> Result<Option<String>, StorageError> {
        let c = self.pool.get()?;
        let row = wait(c.query_opt(
            "SELECT note FROM checkpoints WHERE size = $1",
            &[&(size as i64)],
        ))?;
        Ok(row.map(|r| r.get(0)))
    }
}

impl AttachmentStore for PgStore {
    fn put_attachment(
        &self,
        sha256: &str,
        media_type: &str,
        content: &[u8],
        at: &str,
    ) -> Result<(), StorageError> {
        let c = self.pool.get()?;
        wait(c.execute(
            "INSERT INTO attachments (sha256, media_type, size, content, created) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            &[&sha256, &media_type, &(content.len() as i64), &content, &at],
        ))
        .map(drop)
    }

    fn attachment(&self, sha256: &str) -> Result<Option<(String, Vec<u8>)>, StorageError> {
        let c = self.pool.get()?;
        let row = wait(c.query_opt(
            "SELECT media_type, content FROM attachments WHERE sha256 = $1",
            &[&sha256],
        ))?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    fn citation(
        &self,
        sha256: &str,
        peer: &str,
        by_peer: bool,
    ) -> Result<Option<CitationRow>, StorageError> {
        let c = self.pool.get()?;
        let sql = format!(
            "SELECT {CITATION_COLUMNS} FROM citations WHERE sha256 = $1 AND peer = $2 AND by_peer = $3 LIMIT 1"
        );
        Ok(wait(c.query_opt(&sql, &[&sha256, &peer, &by_peer]))?.map(|r| citation_row(&r)))
    }

    fn citations(&self, sha256: &str) -> Result<Vec<CitationRow>, StorageError> {
        let c = self.pool.get()?;
        let sql = format!("SELECT {CITATION_COLUMNS} FROM citations WHERE sha256 = $1");
        Ok(wait(c.query(&sql, &[&sha256]))?
            .iter()
            .map(citation_row)
            .collect())
    }
}
