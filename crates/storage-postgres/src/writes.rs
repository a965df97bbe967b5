//! The exchange's writes, as the group writer commits them.
//!
//! Every statement here is prepared on a connection before a group is sent
//! (`prepare`), and each write issues its statements on its first poll, so a
//! group's writes can be sent to the server at once, in order, and answered
//! in one round trip (tokio-postgres pipelines concurrent queries on one
//! connection).

use crate::exchange::{EVENT_COLUMNS, OUTBOX_COLUMNS, REQUEST_COLUMNS};
use crate::sql::Db;
use detente_storage::{ExchangeWrite, StoredText};
use std::sync::LazyLock;
use tokio_postgres::types::ToSql;

static RECORD_REQUEST: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO requests ({REQUEST_COLUMNS}, facts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
         $9, $10, $11, $12, $13, $14, $15, $16, $17) \
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, answer_by = excluded.answer_by, \
         acknowledged_at = excluded.acknowledged_at, closed_at = excluded.closed_at, \
         updated_at = excluded.updated_at, delivered_at = excluded.delivered_at, \
         decline_ground = excluded.decline_ground, facts = coalesce(requests.facts, excluded.facts)"
    )
});
static RECORD_EVENT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO request_events ({EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    )
});
/// The NOTIFY (sent on commit, dropped with a rolled-back savepoint) wakes
/// the other replicas' outbox workers.
static OUTBOX_ADD: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH added AS (INSERT INTO outbox ({OUTBOX_COLUMNS}) \
           VALUES ($1, $2, $3, $4, $5, 0, $6, NULL, NULL, NULL) \
           ON CONFLICT DO NOTHING RETURNING 1) \
         SELECT pg_notify('detente_outbox', '') FROM added"
    )
});
const OUTBOX_DELIVERED: &str =
    "UPDATE outbox SET attempts = attempts + 1, delivered_at = $2, last_error = NULL \
    WHERE digest = $1";
const OUTBOX_FAILED: &str =
    "UPDATE outbox SET attempts = attempts + 1, next_attempt = $2, last_error = $3 \
    WHERE digest = $1";
const OUTBOX_DUE_NOW: &str =
    "UPDATE outbox SET next_attempt = $2 WHERE peer = $1 AND delivered_at IS NULL \
    AND refused_at IS NULL AND next_attempt > $2";
const CITE: &str =
    "INSERT INTO citations (sha256, event_id, request_id, peer, by_peer, size, media_type) \
    VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING";
const OUTBOX_REFUSED: &str =
    "UPDATE outbox SET attempts = attempts + 1, refused_at = $2, last_error = $3 \
    WHERE digest = $1";
const SET_RECEIPT: &str = "UPDATE request_events SET receipt = $2 WHERE event_id = $1";
const INBOX_PUT: &str =
    "INSERT INTO inbox (digest, peer, log_index, response) VALUES ($1, $2, $3, $4) \
    ON CONFLICT DO NOTHING";
const PEER_CONTACT: &str = "INSERT INTO peer_deliveries (peer, delivered_at, error, error_at) \
    VALUES ($1, CASE WHEN $3 THEN $2 END, $4::text, CASE WHEN $4::text IS NOT NULL THEN $2 END) \
    ON CONFLICT (peer) DO UPDATE SET \
    delivered_at = coalesce(excluded.delivered_at, peer_deliveries.delivered_at), \
    error = coalesce(excluded.error, peer_deliveries.error), \
    error_at = coalesce(excluded.error_at, peer_deliveries.error_at)";

/// Prepares every statement `apply` issues; a round trip only for those the
/// connection has not prepared before.
pub(crate) async fn prepare(c: &impl Db) -> Result<(), tokio_postgres::Error> {
    for sql in [&RECORD_REQUEST, &RECORD_EVENT, &OUTBOX_ADD] {
        c.prepare(sql).await?;
    }
    for sql in [
        OUTBOX_DELIVERED,
        OUTBOX_FAILED,
        OUTBOX_DUE_NOW,
        CITE,
        OUTBOX_REFUSED,
        SET_RECEIPT,
        INBOX_PUT,
        PEER_CONTACT,
    ] {
        c.prepare(sql).await?;
    }
    Ok(())
}

/// The facts of a submitted request, which the text filter searches.
fn facts(envelope: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(envelope).ok()?;
    v.pointer("/payload/event/kind/request/facts")?
        .as_str()
        .map(str::to_string)
}

/// Runs one write inside the caller's transaction.
pub(crate) async fn apply(c: &impl Db, w: &ExchangeWrite) -> Result<(), tokio_postgres::Error> {
    match w {
        ExchangeWrite::RecordEvent(q, e) => {
            let facts = (e.seq == 0).then(|| facts(&e.envelope)).flatten();
            let seq = e.seq as i64;
            let log_index = e.log_index as i64;
            let decline_ground = q.decline_ground.map(StoredText::as_text);
            // Both sent at once, in order (see `prepare`).
            let request_params: [&(dyn ToSql + Sync); 17] = [
                &q.id,
                &q.direction.as_text(),
                &q.peer,
                &q.kind.as_text(),
                &q.urgency.as_text(),
                &q.tlp.as_text(),
                &q.reference,
                &q.status.as_text(),
                &q.submitted_at,
                &q.acknowledge_by,
                &q.answer_by,
                &q.acknowledged_at,
                &q.closed_at,
                &q.updated_at,
                &q.delivered_at,
                &decline_ground,
                &facts,
            ];
            let request = c.execute(&RECORD_REQUEST, &request_params);
            let event_params: [&(dyn ToSql + Sync); 9] = [
                &e.request_id,
                &seq,
                &e.event_id,
                &e.actor,
                &e.kind,
                &e.at,
                &log_index,
                &e.envelope,
                &e.receipt,
            ];
            let event = c.execute(&RECORD_EVENT, &event_params);
            futures::try_join!(request, event)?;
        }
        ExchangeWrite::OutboxAdd(o) => {
            c.execute(
                &OUTBOX_ADD,
                &[
                    &&o.digest[..],
                    &o.peer,
                    &o.request_id,
                    &o.envelope,
                    &o.created,
                    &o.next_attempt,
                ],
            )
            .await?;
        }
        ExchangeWrite::OutboxDelivered { digest, at } => {
            c.execute(OUTBOX_DELIVERED, &[&&digest[..], at]).await?;
        }
        ExchangeWrite::OutboxFailed {
            digest,
            next_attempt,
            error,
        } => {
            c.execute(OUTBOX_FAILED, &[&&digest[..], next_attempt, error])
                .await?;
        }
        ExchangeWrite::OutboxDueNow { peer, at } => {
            c.execute(OUTBOX_DUE_NOW, &[peer, at]).await?;
        }
        ExchangeWrite::Cite(r) => {
            c.execute(
                CITE,
                &[
                    &r.sha256,
                    &r.event_id,
                    &r.request_id,
                    &r.peer,
                    &r.by_peer,
                    &(r.size as i64),
                    &r.media_type,
                ],
            )
            .await?;
        }
        ExchangeWrite::OutboxRefused { digest, at, error } => {
            c.execute(OUTBOX_REFUSED, &[&&digest[..], at, error])
                .await?;
        }
        ExchangeWrite::SetReceipt { event_id, receipt } => {
            c.execute(SET_RECEIPT, &[event_id, receipt]).await?;
        }
        ExchangeWrite::InboxPut {
            digest,
            peer,
            log_index,
            response,
        } => {
            c.execute(
                INBOX_PUT,
                &[&&digest[..], peer, &(*log_index as i64), response],
            )
            .await?;
        }
        ExchangeWrite::PeerContact {
            peer,
            at,
            delivered,
            error,
        } => {
            c.execute(PEER_CONTACT, &[peer, at, delivered, error])
                .await?;
        }
    }
    Ok(())
}
