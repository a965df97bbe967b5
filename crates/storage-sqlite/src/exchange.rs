//! SQLite side of cooperation requests: summaries, events, outbox and inbox.

use crate::{db_err, row_err, text, text_opt, Cached, SqliteStore};
use detente_storage::{
    AttachmentStore, CitationRow, CosignatureStore, EventRow, ExchangeStore, ExchangeWrite, Hash,
    OutboxRow, PeerDeliveries, RequestFilter, RequestOrder, RequestRow, StorageError, StoredText,
    SummaryRow, WriteDone,
};
use rusqlite::{params, Connection, OptionalExtension, Row};

const REQUEST_COLUMNS: &str =
    "id, direction, peer, type, urgency, tlp, reference, status, submitted_at, \
    acknowledge_by, answer_by, acknowledged_at, closed_at, updated_at, delivered_at, decline_ground";
const EVENT_COLUMNS: &str =
    "request_id, seq, event_id, actor, kind, at, log_index, envelope, receipt";
const OUTBOX_COLUMNS: &str =
    "digest, peer, request_id, envelope, created, attempts, next_attempt, last_error, delivered_at, refused_at";

fn request_row(r: &Row) -> rusqlite::Result<RequestRow> {
    Ok(RequestRow {
        id: r.get(0)?,
        direction: text(r, 1)?,
        peer: r.get(2)?,
        kind: text(r, 3)?,
        urgency: text(r, 4)?,
        tlp: text(r, 5)?,
        reference: r.get(6)?,
        status: text(r, 7)?,
        submitted_at: r.get(8)?,
        acknowledge_by: r.get(9)?,
        answer_by: r.get(10)?,
        acknowledged_at: r.get(11)?,
        closed_at: r.get(12)?,
        updated_at: r.get(13)?,
        delivered_at: r.get(14)?,
        decline_ground: text_opt(r, 15)?,
    })
}

fn event_row(r: &Row) -> rusqlite::Result<EventRow> {
    Ok(EventRow {
        request_id: r.get(0)?,
        seq: r.get::<_, i64>(1)? as u64,
        event_id: r.get(2)?,
        actor: r.get(3)?,
        kind: r.get(4)?,
        at: r.get(5)?,
        log_index: r.get::<_, i64>(6)? as u64,
        envelope: r.get(7)?,
        receipt: r.get(8)?,
    })
}

const CITATION_COLUMNS: &str = "sha256, event_id, request_id, peer, by_peer, size, media_type";

fn citation_row(r: &Row) -> rusqlite::Result<CitationRow> {
    Ok(CitationRow {
        sha256: r.get(0)?,
        event_id: r.get(1)?,
        request_id: r.get(2)?,
        peer: r.get(3)?,
        by_peer: r.get(4)?,
        size: r.get::<_, i64>(5)? as u64,
        media_type: r.get(6)?,
    })
}

fn outbox_row(r: &Row) -> rusqlite::Result<OutboxRow> {
    let digest: Vec<u8> = r.get(0)?;
    Ok(OutboxRow {
        digest: digest.try_into().unwrap_or([0; 32]),
        peer: r.get(1)?,
        request_id: r.get(2)?,
        envelope: r.get(3)?,
        created: r.get(4)?,
        attempts: r.get::<_, i64>(5)? as u64,
        next_attempt: r.get(6)?,
        last_error: r.get(7)?,
        delivered_at: r.get(8)?,
        refused_at: r.get(9)?,
    })
}

/// Runs one write on a connection inside the caller's transaction.
pub(crate) fn apply(c: &Connection, w: &ExchangeWrite) -> Result<(), StorageError> {
    match w {
        ExchangeWrite::RecordEvent(q, e) => {
            c.run(
                &format!(
                    "INSERT INTO requests ({REQUEST_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) \
                     ON CONFLICT (id) DO UPDATE SET status = excluded.status, answer_by = excluded.answer_by, \
                     acknowledged_at = excluded.acknowledged_at, closed_at = excluded.closed_at, updated_at = excluded.updated_at, \
                     delivered_at = excluded.delivered_at, decline_ground = excluded.decline_ground"
                ),
                params![
                    q.id, q.direction.as_text(), q.peer, q.kind.as_text(), q.urgency.as_text(), q.tlp.as_text(),
                    q.reference, q.status.as_text(), q.submitted_at, q.acknowledge_by, q.answer_by, q.acknowledged_at,
                    q.closed_at, q.updated_at, q.delivered_at, q.decline_ground.map(StoredText::as_text)
                ],
            )
            .map_err(db_err)?;
            c.run(
                &format!("INSERT INTO request_events ({EVENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
                params![
                    e.request_id, e.seq as i64, e.event_id, e.actor, e.kind, e.at, e.log_index as i64, e.envelope,
                    e.receipt
                ],
            )
            .map_err(db_err)?;
        }
        ExchangeWrite::OutboxAdd(o) => {
            c.run(
                &format!("INSERT INTO outbox ({OUTBOX_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, NULL, NULL, NULL) ON CONFLICT DO NOTHING"),
                params![&o.digest[..], o.peer, o.request_id, o.envelope, o.created, o.next_attempt],
            )
            .map_err(db_err)?;
        }
        ExchangeWrite::OutboxDelivered { digest, at } => {
            c.run(
                "UPDATE outbox SET attempts = attempts + 1, delivered_at = ?2, last_error = NULL WHERE digest = ?1",
                params![&digest[..], at],
            )
            .map_err(db_err)?;
        }
        ExchangeWrite::OutboxFailed {
            digest,
            next_attempt,
            error,
        } => {
            c.run(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt = ?2, last_error = ?3 WHERE digest = ?1",
                params![&digest[..], next_attempt, error],
            )
            .map_err(db_err)?;
        }
        ExchangeWrite::OutboxDueNow { peer, at } => {
            c.run(
                "UPDATE outbox SET next_attempt = ?2 WHERE peer = ?1 AND delivered_at IS NULL \
                 AND refused_at IS NULL AND next_attempt > ?2",
                params![peer, at],
            )
            .map_err(db_err)?;
        }
        ExchangeWrite::Cite(r) => {
            c.run(
                "INSERT INTO citations (sha256, event_id, request_id, peer, by_peer, size, media_type) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
                params![r.sha256, r.event_id, r.request_id, r.peer, r.by_peer, r.size as i64, r.media_type],
            )
            .map_err(db_err)?;
        }
        ExchangeWrite::OutboxRefused { digest, at, error } => {
            c.run(
                "UPDATE outbox SET attempts = attempts + 1, refused_at = ?2, last_error = ?3 WHERE digest = ?1",
                params![&digest[..], at, error],
            )
            .map_err(db_err)?;
        }
        ExchangeWrite::SetReceipt { event_id, receipt } => {
            c.run(
                "UPDATE request_events SET receipt = ?2 WHERE event_id = ?1",
                params![event_id, receipt],
            )
            .map_err(db_err)?;
        }
        ExchangeWrite::InboxPut {
            digest,
            peer,
            log_index,
            response,
        } => {
            c.run(
                "INSERT INTO inbox (digest, peer, log_index, response) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                params![&digest[..], peer, *log_index as i64, response],
            )
            .map_err(db_err)?;
        }
        ExchangeWrite::PeerContact {
            peer,
            at,
            delivered,
            error,
        } => {
            c.run(
                "INSERT INTO peer_deliveries (peer, delivered_at, error, error_at) \
                 VALUES (?1, CASE WHEN ?3 THEN ?2 END, ?4, CASE WHEN ?4 IS NOT NULL THEN ?2 END) \
                 ON CONFLICT (peer) DO UPDATE SET \
                 delivered_at = coalesce(excluded.delivered_at, delivered_at), \
                 error = coalesce(excluded.error, error), error_at = coalesce(excluded.error_at, error_at)",
                params![peer, at, delivered, error],
            )
            .map_err(db_err)?;
        }
    }
    Ok(())
}

const SUMMARY_COLUMNS: &str = "direction, peer, status, submitted_at, acknowledge_by, answer_by, \
    acknowledged_at, closed_at, delivered_at, decline_ground";

fn visit_summaries(
    mut rows: rusqlite::Rows,
    visit: &mut dyn FnMut(SummaryRow) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    while let Some(r) = rows.next().map_err(db_err)? {
        let row = SummaryRow {
            direction: text(r, 0).map_err(row_err)?,
            peer: r.get(1).map_err(db_err)?,
            status: text(r, 2).map_err(row_err)?,
            submitted_at: r.get(3).map_err(db_err)?,
            acknowledge_by: r.get(4).map_err(db_err)?,
            answer_by: r.get(5).map_err(db_err)?,
            acknowledged_at: r.get(6).map_err(db_err)?,
            closed_at: r.get(7).map_err(db_err)?,
            delivered_at: r.get(8).map_err(db_err)?,
            decline_ground: text_opt(r, 9).map_err(row_err)?,
        };
        visit(row)?;
    }
    Ok(())
}

/// `peer -> count` of the outbox rows matching `filter` (a partial index's).
fn outbox_count_by_peer(
    c: &Connection,
    filter: &str,
) -> Result<std::collections::BTreeMap<String, u64>, StorageError> {
    let mut st = c
        .prepare_cached(&format!(
            "SELECT peer, count(*) FROM outbox WHERE {filter} GROUP BY peer"
        ))
        .map_err(db_err)?;
    let rows = st
        .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))
        .map_err(db_err)?;
    rows.collect::<Result<_, _>>().map_err(db_err)
}

pub(crate) fn insert_summaries(c: &Connection, rows: &[RequestRow]) -> Result<(), StorageError> {
    let mut st = c
        .prepare_cached(&format!(
            "INSERT INTO requests ({REQUEST_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
        ))
        .map_err(db_err)?;
    for q in rows {
        st.execute(params![
            q.id,
            q.direction.as_text(),
            q.peer,
            q.kind.as_text(),
            q.urgency.as_text(),
            q.tlp.as_text(),
            q.reference,
            q.status.as_text(),
            q.submitted_at,
            q.acknowledge_by,
            q.answer_by,
            q.acknowledged_at,
            q.closed_at,
            q.updated_at,
            q.delivered_at,
            q.decline_ground.map(StoredText::as_text)
        ])
        .map_err(db_err)?;
    }
    Ok(())
}

impl SqliteStore {
    /// Applies writes in their own transaction, synchronously.
    fn apply_now(&self, writes: &[ExchangeWrite]) -> Result<(), StorageError> {
        let mut w = self.writer.lock().map_err(db_err)?;
        let tx = w.transaction().map_err(db_err)?;
        for x in writes {
            apply(&tx, x)?;
        }
        tx.commit().map_err(db_err)
    }
}

impl ExchangeStore for SqliteStore {
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
        let c = self.reader()?;
        c.row(
            &format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE id = ?1"),
            [id],
            request_row,
        )
        .optional()
        .map_err(row_err)
    }

    fn requests(&self, f: &RequestFilter) -> Result<Vec<RequestRow>, StorageError> {
        let (key, dir, cmp) = match f.order {
            RequestOrder::Submitted => ("submitted_at", "ASC", ">"),
            RequestOrder::Newest => ("submitted_at", "DESC", "<"),
            RequestOrder::Deadline => ("answer_by", "ASC", ">"),
        };
        let (text, text_clause) = text_filter(f.text.as_deref());
        let c = self.reader()?;
        let mut st = c
            .prepare_cached(&format!(
                "SELECT {REQUEST_COLUMNS} FROM requests WHERE (?1 IS NULL OR peer = ?1) \
                 AND (?2 IS NULL OR direction = ?2) AND (?3 IS NULL OR status = ?3) \
                 AND (?4 IS NULL OR submitted_at >= ?4) AND (?5 IS NULL OR type = ?5) \
                 AND {text_clause} \
                 AND (?7 = 0 OR closed_at IS NULL) \
                 AND (?8 IS NULL OR (closed_at IS NULL AND answer_by < ?8)) \
                 AND (?9 IS NULL OR ({key}, id) {cmp} (?9, ?10)) \
                 ORDER BY {key} {dir}, id {dir} LIMIT ?11"
            ))
            .map_err(db_err)?;
        let limit = f.limit.map_or(i64::MAX, |l| l as i64);
        let (after_key, after_id) = f.after.clone().unzip();
        let rows = st
            .query_map(
                params![
                    f.peer,
                    f.direction.map(StoredText::as_text),
                    f.status.map(StoredText::as_text),
                    f.since,
                    f.kind.map(StoredText::as_text),
                    text,
                    f.open,
                    f.overdue_at,
                    after_key,
                    after_id,
                    limit
                ],
                request_row,
            )
            .map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(row_err)
    }

    fn scan_summaries(
        &self,
        visit: &mut dyn FnMut(SummaryRow) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        let c = self.reader()?;
        let mut st = c
            .prepare_cached(&format!("SELECT {SUMMARY_COLUMNS} FROM requests"))
            .map_err(db_err)?;
        let rows = st.query([]).map_err(db_err)?;
        visit_summaries(rows, visit)
    }

    fn scan_peer_summaries(
        &self,
        peer: &str,
        since: &str,
        visit: &mut dyn FnMut(SummaryRow) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        let c = self.reader()?;
        // Served by `requests_by_peer (peer, submitted_at)`.
        let mut st = c
            .prepare_cached(&format!(
                "SELECT {SUMMARY_COLUMNS} FROM requests WHERE peer = ?1 AND submitted_at >= ?2"
            ))
            .map_err(db_err)?;
        let rows = st.query(params![peer, since]).map_err(db_err)?;
        visit_summaries(rows, visit)
    }

    fn events(&self, request_id: &str) -> Result<Vec<EventRow>, StorageError> {
        let c = self.reader()?;
        let mut st = c
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM request_events WHERE request_id = ?1 ORDER BY seq"
            ))
            .map_err(db_err)?;
        let rows = st.query_map([request_id], event_row).map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)
    }

    fn scan_events(
        &self,
        visit: &mut dyn FnMut(EventRow) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        let c = self.reader()?;
        let mut st = c
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM request_events ORDER BY request_id, seq"
            ))
            .map_err(db_err)?;
        let mut rows = st.query([]).map_err(db_err)?;
        while let Some(r) = rows.next().map_err(db_err)? {
            visit(event_row(r).map_err(db_err)?)?;
        }
        Ok(())
    }

    fn event_by_id(&self, event_id: &str) -> Result<Option<EventRow>, StorageError> {
        let c = self.reader()?;
        c.row(
            &format!("SELECT {EVENT_COLUMNS} FROM request_events WHERE event_id = ?1"),
            [event_id],
            event_row,
        )
        .optional()
        .map_err(db_err)
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
        let c = self.reader()?;
        let mut st = c
            .prepare_cached(&format!(
                "SELECT {OUTBOX_COLUMNS} FROM outbox AS o \
                 WHERE delivered_at IS NULL AND refused_at IS NULL AND next_attempt <= ?1 \
                 AND NOT EXISTS (SELECT 1 FROM outbox AS e WHERE e.request_id = o.request_id \
                                 AND e.created < o.created AND e.delivered_at IS NULL) \
                 ORDER BY created LIMIT ?2"
            ))
            .map_err(db_err)?;
        let rows = st
            .query_map(params![now, limit as i64], outbox_row)
            .map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)
    }

    fn outbox_counts(&self) -> Result<(u64, u64), StorageError> {
        let c = self.reader()?;
        let count = |sql: &str| c.row(sql, [], |r| r.get::<_, i64>(0)).map(|n| n as u64);
        let pending =
            count("SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND refused_at IS NULL");
        let refused = count("SELECT count(*) FROM outbox WHERE refused_at IS NOT NULL");
        Ok((pending.map_err(db_err)?, refused.map_err(db_err)?))
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
        let c = self.reader()?;
        let mut st = c
            .prepare_cached(&format!(
                "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE request_id = ?1 ORDER BY created"
            ))
            .map_err(db_err)?;
        let rows = st.query_map([request_id], outbox_row).map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)
    }

    fn outbox_troubled(&self, limit: u64) -> Result<Vec<OutboxRow>, StorageError> {
        let c = self.reader()?;
        let mut st = c
            .prepare_cached(&format!(
                "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE delivered_at IS NULL \
                 AND (refused_at IS NOT NULL OR last_error IS NOT NULL) ORDER BY created DESC LIMIT ?1"
            ))
            .map_err(db_err)?;
        let rows = st
            .query_map([limit.min(i64::MAX as u64) as i64], outbox_row)
            .map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)
    }

    fn peer_deliveries(&self) -> Result<Vec<PeerDeliveries>, StorageError> {
        let c = self.reader()?;
        let queued = outbox_count_by_peer(&c, "delivered_at IS NULL AND refused_at IS NULL")?;
        let refused = outbox_count_by_peer(&c, "refused_at IS NOT NULL")?;
        let mut by_peer: std::collections::BTreeMap<String, PeerDeliveries> = queued
            .keys()
            .chain(refused.keys())
            .map(|p| (p.clone(), PeerDeliveries::default()))
            .collect();
        let mut st = c
            .prepare_cached("SELECT peer, delivered_at, error, error_at FROM peer_deliveries")
            .map_err(db_err)?;
        let rows = st
            .query_map([], |r| {
                Ok(PeerDeliveries {
                    peer: r.get(0)?,
                    delivered_at: r.get(1)?,
                    error: r.get(2)?,
                    error_at: r.get(3)?,
                    ..PeerDeliveries::default()
                })
            })
            .map_err(db_err)?;
        for row in rows {
            let row = row.map_err(db_err)?;
            by_peer.insert(row.peer.clone(), row);
        }
        Ok(by_peer
            .into_iter()
            .map(|(peer, d)| PeerDeliveries {
                queued: queued.get(&peer).copied().unwrap_or(0),
                refused: refused.get(&peer).copied().unwrap_or(0),
                peer,
                ..d
            })
            .collect())
    }

    fn inbox_get(&self, digest: &Hash) -> Result<Option<String>, StorageError> {
        let c = self.reader()?;
        c.row(
            "SELECT response FROM inbox WHERE digest = ?1",
            [&digest[..]],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)
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

impl CosignatureStore for SqliteStore {
    fn add_cosignature(
        &self,
        witness: &str,
        size: u64,
        line: &str,
        timestamp: u64,
    ) -> Result<(), StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        w.run(
            "INSERT INTO cosignatures (witness, size, line, timestamp) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            params![witness, size as i64, line, timestamp as i64],
        )
        .map_err(db_err)?;
        Ok(())
    }

    fn cosignatures(&self, size: u64) -> Result<Vec<String>, StorageError> {
        let c = self.reader()?;
        let mut st = c
            .prepare_cached("SELECT line FROM cosignatures WHERE size = ?1 ORDER BY witness")
            .map_err(db_err)?;
        let rows = st.query_map([size as i64], |r| r.get(0)).map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)
    }

    fn last_cosigned(&self, witness: &str) -> Result<Option<u64>, StorageError> {
        let c = self.reader()?;
        let v: Option<i64> = c
            .row(
                "SELECT max(size) FROM cosignatures WHERE witness = ?1",
                [witness],
                |r| r.get(0),
            )
            .map_err(db_err)?;
        Ok(v.map(|v| v as u64))
    }

    fn last_cosignature(&self, witness: &str) -> Result<Option<(u64, u64)>, StorageError> {
        let c = self.reader()?;
        c.row(
            "SELECT size, timestamp FROM cosignatures WHERE witness = ?1 ORDER BY size DESC LIMIT 1",
            [witness],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
        )
        .optional()
        .map_err(db_err)
    }

    fn latest_cosigned_size(&self) -> Result<Option<u64>, StorageError> {
        let c = self.reader()?;
        let v: Option<i64> = c
            .row("SELECT max(size) FROM cosignatures", [], |r| r.get(0))
            .map_err(db_err)?;
        Ok(v.map(|v| v as u64))
    }

    fn cosigned_sizes(&self) -> Result<Vec<u64>, StorageError> {
        let c = self.reader()?;
        let mut st = c
            .prepare_cached("SELECT DISTINCT size FROM cosignatures ORDER BY size")
            .map_err(db_err)?;
        let rows = st
            .query_map([], |r| r.get::<_, i64>(0).map(|v| v as u64))
            .map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)
    }

    fn checkpoint_at(&self, size: u64) -> Result<Option<String>, StorageError> {
        let c = self.reader()?;
        c.row(
            "SELECT note FROM checkpoints WHERE size = ?1",
            [size as i64],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)
    }
}

impl AttachmentStore for SqliteStore {
    fn put_attachment(
        &self,
        sha256: &str,
        media_type: &str,
        content: &[u8],
        at: &str,
    ) -> Result<(), StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        w.run(
            "INSERT INTO attachments (sha256, media_type, size, content, created) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT DO NOTHING",
            params![sha256, media_type, content.len() as i64, content, at],
        )
        .map_err(db_err)?;
        Ok(())
    }

    fn citation(
        &self,
        sha256: &str,
        peer: &str,
        by_peer: bool,
    ) -> Result<Option<CitationRow>, StorageError> {
        let c = self.reader()?;
        c.row(
            &format!("SELECT {CITATION_COLUMNS} FROM citations WHERE sha256 = ?1 AND peer = ?2 AND by_peer = ?3 LIMIT 1"),
            params![sha256, peer, by_peer],
            citation_row,
        )
        .optional()
        .map_err(db_err)
    }

    fn citations(&self, sha256: &str) -> Result<Vec<CitationRow>, StorageError> {
        let c = self.reader()?;
        let mut st = c
            .prepare_cached(&format!(
                "SELECT {CITATION_COLUMNS} FROM citations WHERE sha256 = ?1"
            ))
            .map_err(db_err)?;
        let rows = st.query_map([sha256], citation_row).map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)
    }

    fn attachment(&self, sha256: &str) -> Result<Option<(String, Vec<u8>)>, StorageError> {
        let c = self.reader()?;
        c.row(
            "SELECT media_type, content FROM attachments WHERE sha256 = ?1",
            [sha256],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db_err)
    }
}

/// The text filter of a listing: a substring of the reference or the facts.
/// Three characters or more are looked up in the trigram index (case-blind);
/// shorter text, which trigrams cannot index, is matched against the
/// reference alone. The user's text is matched literally either way.
fn text_filter(text: Option<&str>) -> (Option<String>, &'static str) {
    match text {
        None => (None, "?6 IS NULL"),
        Some(t) if t.chars().count() >= 3 => (
            Some(format!("\"{}\"", t.replace('"', "\"\""))),
            "rowid IN (SELECT rowid / 2 FROM requests_search WHERE requests_search MATCH ?6)",
        ),
        Some(t) => {
            let t = t
                .replace('\\', r"\\")
                .replace('%', r"\%")
                .replace('_', r"\_");
            (Some(format!("%{t}%")), "reference LIKE ?6 ESCAPE '\\'")
        }
    }
}
