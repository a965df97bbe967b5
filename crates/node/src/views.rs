//! What users are shown of requests and holds, defined once: the JSON API
//! serialises these, and the web interface renders them (adding only
//! presentation, such as times in words). Built from the store's rows.

use detente_domain::time;
use detente_storage::{
    DeclineGround, Direction, EventRow, HoldRow, HoldStatus, OutboxRow, RequestRow, RequestType,
    Status, Tlp, Urgency,
};
use serde::Serialize;
use serde_json::Value;

/// A request in a listing.
#[derive(Clone, Debug, Serialize)]
pub struct RequestSummary {
    pub id: String,
    pub direction: Direction,
    pub peer: String,
    #[serde(rename = "type")]
    pub kind: RequestType,
    pub urgency: Urgency,
    /// Serialised in its JSON spelling (`amber_strict`), as stored.
    pub tlp: Tlp,
    pub reference: String,
    pub status: Status,
    pub submitted_at: String,
    pub answer_by: String,
    /// Open and past its answer deadline as of the node's clock.
    pub overdue: bool,
}

impl RequestSummary {
    pub fn new(r: &RequestRow, now: &time::Timestamp) -> RequestSummary {
        let open = r.closed_at.is_none();
        RequestSummary {
            id: r.id.clone(),
            direction: r.direction,
            peer: r.peer.clone(),
            kind: r.kind,
            urgency: r.urgency,
            tlp: r.tlp,
            reference: r.reference.clone(),
            status: r.status,
            submitted_at: r.submitted_at.clone(),
            answer_by: r.answer_by.clone(),
            overdue: open && r.answer_by < time::format(now),
        }
    }
}

/// One request: its state, signed timeline and deliveries.
#[derive(Clone, Debug, Serialize)]
pub struct RequestView {
    #[serde(flatten)]
    pub summary: RequestSummary,
    pub acknowledge_by: String,
    pub acknowledged_at: Option<String>,
    pub closed_at: Option<String>,
    pub decline_ground: Option<DeclineGround>,
    pub timeline: Vec<TimelineEvent>,
    pub deliveries: Vec<DeliveryView>,
}

impl RequestView {
    pub fn new(
        r: &RequestRow,
        events: &[EventRow],
        outbox: &[OutboxRow],
        now: &time::Timestamp,
    ) -> RequestView {
        RequestView {
            summary: RequestSummary::new(r, now),
            acknowledge_by: r.acknowledge_by.clone(),
            acknowledged_at: r.acknowledged_at.clone(),
            closed_at: r.closed_at.clone(),
            decline_ground: r.decline_ground,
            timeline: events.iter().map(TimelineEvent::new).collect(),
            deliveries: outbox.iter().map(DeliveryView::new).collect(),
        }
    }
}

/// One signed event of a request: an envelope in this node's log.
#[derive(Clone, Debug, Serialize)]
pub struct TimelineEvent {
    pub seq: u64,
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub actor: String,
    pub at: String,
    pub log_index: u64,
    /// The peer's tlog-proof of this envelope in its log, once it has it.
    pub receipt: Option<String>,
    /// The event as signed (`payload.event` of the envelope).
    pub event: Value,
}

impl TimelineEvent {
    pub fn new(e: &EventRow) -> TimelineEvent {
        let env: Value = serde_json::from_slice(&e.envelope).unwrap_or(Value::Null);
        TimelineEvent {
            seq: e.seq,
            event_id: e.event_id.clone(),
            kind: e.kind.clone(),
            actor: e.actor.clone(),
            at: e.at.clone(),
            log_index: e.log_index,
            receipt: e.receipt.clone(),
            event: env["payload"]["event"].clone(),
        }
    }
}

/// One envelope this node sent, and its delivery.
#[derive(Clone, Debug, Serialize)]
pub struct DeliveryView {
    /// SHA-256 of the envelope, hex.
    pub envelope: String,
    pub request_id: String,
    pub peer: String,
    pub attempts: u64,
    pub last_error: Option<String>,
    pub delivered_at: Option<String>,
    pub refused_at: Option<String>,
    pub next_attempt: String,
}

impl DeliveryView {
    pub fn new(o: &OutboxRow) -> DeliveryView {
        DeliveryView {
            envelope: hex::encode(o.digest),
            request_id: o.request_id.clone(),
            peer: o.peer.clone(),
            attempts: o.attempts,
            last_error: o.last_error.clone(),
            delivered_at: o.delivered_at.clone(),
            refused_at: o.refused_at.clone(),
            next_attempt: o.next_attempt.clone(),
        }
    }
}

/// A payload the transfer gate held, with the decision that held it.
#[derive(Clone, Debug, Serialize)]
pub struct HoldView {
    pub id: String,
    pub recipient: String,
    pub country: String,
    pub subject: String,
    pub status: HoldStatus,
    pub created: String,
    pub resolved_by: Option<String>,
    pub reason: Option<String>,
    /// The gate's decision: action, profile, reasons (rule and text), counts.
    pub decision: Value,
    pub requested_by: Option<String>,
    pub released_at: Option<String>,
    /// The held event (`{"event": ...}`), for reviewers; not in the API.
    #[serde(skip)]
    pub payload: Value,
}

impl HoldView {
    pub fn new(h: &HoldRow) -> HoldView {
        HoldView {
            id: h.id.clone(),
            recipient: h.recipient.clone(),
            country: h.country.clone(),
            subject: h.subject.clone(),
            status: h.status,
            created: h.created.clone(),
            resolved_by: h.resolved_by.clone(),
            reason: h.reason.clone(),
            decision: serde_json::from_str(&h.decision).unwrap_or(Value::Null),
            requested_by: h.requested_by.clone(),
            released_at: h.released_at.clone(),
            payload: h
                .payload
                .as_deref()
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or(Value::Null),
        }
    }
}
