//! What the pages show, built from the store's rows: typed, and with times and
//! envelope contents already turned into text, so templates only lay out.

use detente_domain::time::{self, Timestamp};
use detente_node::views::{DeliveryView, HoldView as Hold, RequestSummary, TimelineEvent};
use detente_storage::RequestRow;
use serde_json::Value;

/// One line of a request listing.
pub struct RequestLine {
    pub id: String,
    pub direction: String,
    pub peer: String,
    pub kind: String,
    pub reference: String,
    pub status: String,
    pub submitted_at: String,
    pub answer_by: String,
    /// The deadline as stored (RFC 3339), for `<time datetime>`.
    pub answer_by_rfc3339: String,
    pub countdown: String,
    pub overdue: bool,
}

impl RequestLine {
    pub fn new(r: &RequestRow, now: &Timestamp) -> RequestLine {
        RequestLine::of(&RequestSummary::new(r, now), r.closed_at.as_deref(), now)
    }

    /// The shared view, with its times in words; `closed_at` when closed.
    pub fn of(r: &RequestSummary, closed_at: Option<&str>, now: &Timestamp) -> RequestLine {
        let (countdown, overdue) = match closed_at {
            None => countdown(&r.answer_by, now),
            Some(at) => (format!("closed {}", short(Some(at))), false),
        };
        RequestLine {
            id: r.id.clone(),
            direction: r.direction.as_str().to_string(),
            peer: r.peer.clone(),
            kind: r.kind.as_str().to_string(),
            reference: r.reference.clone(),
            status: r.status.to_string(),
            submitted_at: short(Some(&r.submitted_at)),
            answer_by: short(Some(&r.answer_by)),
            answer_by_rfc3339: r.answer_by.clone(),
            countdown,
            overdue: overdue || (closed_at.is_none() && r.overdue),
        }
    }
}

/// `2026-03-01 14:05 UTC` from a stored RFC 3339 time.
pub fn short(t: Option<&str>) -> String {
    match t.and_then(time::parse) {
        Some(t) => t.format("%Y-%m-%d %H:%M UTC").to_string(),
        None => t.unwrap_or("").to_string(),
    }
}

/// "in 2 d 3 h" or "overdue by 5 h 10 min", and whether it is overdue.
pub fn countdown(deadline: &str, now: &Timestamp) -> (String, bool) {
    let Some(d) = time::parse(deadline) else {
        return (String::new(), false);
    };
    let left = d - *now;
    let overdue = left < chrono::TimeDelta::zero();
    let m = left.num_minutes().abs();
    let text = match (m / 1440, m / 60 % 24, m % 60) {
        (0, 0, min) => format!("{min} min"),
        (0, h, min) => format!("{h} h {min} min"),
        (d, h, _) => format!("{d} d {h} h"),
    };
    match overdue {
        true => (format!("overdue by {text}"), true),
        false => (format!("in {text}"), false),
    }
}

/// A label and its text.
pub struct Field {
    pub label: String,
    pub value: String,
}

/// One signed event of a request's timeline.
pub struct TimelineEntry {
    /// Position in the request's timeline (an anchor per event).
    pub seq: u64,
    pub kind: String,
    pub actor: String,
    pub at: String,
    pub log_index: u64,
    pub receipted: bool,
    pub details: Vec<Field>,
    pub attachments: Vec<Attachment>,
}

/// An attachment an event cites, to download from the request's page.
pub struct Attachment {
    pub name: String,
    pub size: u64,
    pub sha256: String,
}

/// The attachments an event's kind (or a submitted request) cites.
pub fn attachment_links(v: &Value) -> Vec<Attachment> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|a| Attachment {
            name: a["name"].as_str().unwrap_or("?").into(),
            size: a["size"].as_u64().unwrap_or(0),
            sha256: a["sha256"].as_str().unwrap_or("").into(),
        })
        .collect()
}

impl TimelineEntry {
    pub fn new(e: &TimelineEvent) -> TimelineEntry {
        let kind = &e.event["kind"];
        let details = [
            "note",
            "text",
            "reason",
            "ground",
            "proposed_answer_by",
            "answer_by",
        ]
        .iter()
        .filter_map(|k| text_of(&kind[*k]).map(|v| field(k, v)))
        .collect();
        let cited = match kind["attachments"].is_array() {
            true => &kind["attachments"],
            false => &kind["request"]["attachments"],
        };
        TimelineEntry {
            seq: e.seq,
            kind: e.kind.clone(),
            actor: e.actor.clone(),
            at: short(Some(&e.at)),
            log_index: e.log_index,
            receipted: e.receipt.is_some(),
            details,
            attachments: attachment_links(cited),
        }
    }
}

fn field(label: &str, value: String) -> Field {
    Field {
        label: label.replace('_', " "),
        value,
    }
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(if *b { "yes" } else { "no" }.into()),
        Value::Array(a) if a.is_empty() => None,
        Value::Array(a) => Some(
            a.iter()
                .map(|x| text_of(x).unwrap_or_default())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        other => Some(other.to_string()),
    }
}

fn attachments(v: &Value) -> Vec<Field> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            let name = a["name"].as_str().unwrap_or("?");
            let size = a["size"].as_u64().unwrap_or(0);
            let sha = a["sha256"].as_str().unwrap_or("");
            field("attachment", format!("{name} ({size} bytes, sha256 {sha})"))
        })
        .collect()
}

/// The fields of a submitted request, in the order an officer reads them.
pub fn request_fields(first: Option<&TimelineEvent>) -> Vec<Field> {
    const ORDER: &[&str] = &[
        "type",
        "incident_class",
        "reference",
        "issuing_authority",
        "legal_basis",
        "offence",
        "facts",
        "data_requested",
        "link_to_offence",
        "urgency",
        "emergency_justification",
        "tlp",
        "custodian",
        "necessity",
        "follow_up_mla",
        "related_requests",
        "recipient",
    ];
    let Some(e) = first else { return Vec::new() };
    let req = &e.event["kind"]["request"];
    let mut out: Vec<Field> = ORDER
        .iter()
        .filter_map(|k| text_of(&req[*k]).map(|v| field(k, v)))
        .collect();
    out.extend(attachments(&req["attachments"]));
    out
}

/// One delivery of an envelope to the peer.
pub struct Delivery {
    pub envelope: String,
    pub attempts: u64,
    pub state: String,
    pub last_error: String,
    pub refused: bool,
    pub request_id: String,
    pub peer: String,
}

impl Delivery {
    pub fn new(o: &DeliveryView) -> Delivery {
        let state = match (&o.delivered_at, &o.refused_at) {
            (Some(at), _) => format!("delivered {}", short(Some(at))),
            (None, Some(at)) => format!("refused {}", short(Some(at))),
            (None, None) => format!("pending, next attempt {}", short(Some(&o.next_attempt))),
        };
        Delivery {
            envelope: o.envelope.chars().take(16).collect(),
            attempts: o.attempts,
            state,
            last_error: o.last_error.clone().unwrap_or_default(),
            refused: o.refused_at.is_some(),
            request_id: o.request_id.clone(),
            peer: o.peer.clone(),
        }
    }
}

/// A payload the gate held, as a reviewer reads it.
pub struct HoldView {
    pub id: String,
    pub recipient: String,
    pub country: String,
    pub subject: String,
    pub status: String,
    pub created: String,
    pub requested_by: String,
    pub resolved: String,
    pub action: String,
    pub profile: String,
    /// Rule and its text: why the gate held it.
    pub reasons: Vec<Field>,
    /// Per category: this payload, the prior volume in the window, the total.
    pub volumes: Vec<Field>,
    /// The request the held event belongs to, and what it is.
    pub request_id: String,
    pub event: String,
    pub reference: String,
}

impl HoldView {
    pub fn new(h: &Hold) -> HoldView {
        let d = &h.decision;
        let reasons = d["reasons"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| Field {
                label: r["rule"].as_str().unwrap_or("").into(),
                value: r["text"].as_str().unwrap_or("").into(),
            })
            .collect();
        let volumes = d["counts"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(cat, v)| Field {
                label: cat.replace('_', " "),
                value: volume_text(v),
            })
            .collect();
        let ev = &h.payload["event"];
        let resolved = match (&h.resolved_by, &h.reason) {
            (Some(by), reason) => {
                format!("{} by {by}: {}", h.status, reason.as_deref().unwrap_or(""))
            }
            _ => String::new(),
        };
        HoldView {
            id: h.id.clone(),
            recipient: h.recipient.clone(),
            country: h.country.clone(),
            subject: h.subject.clone(),
            status: h.status.to_string(),
            created: short(Some(&h.created)),
            requested_by: h.requested_by.clone().unwrap_or_default(),
            resolved,
            action: d["decision"].as_str().unwrap_or("").into(),
            profile: d["profile"].as_str().unwrap_or("").into(),
            reasons,
            volumes,
            request_id: ev["request_id"].as_str().unwrap_or("").into(),
            event: ev["kind"]["type"].as_str().unwrap_or("").replace('_', " "),
            reference: ev["kind"]["request"]["reference"]
                .as_str()
                .unwrap_or("")
                .into(),
        }
    }
}

fn volume_text(v: &Value) -> String {
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    let unit = v["unit"].as_str().unwrap_or("");
    let mut s = format!(
        "{} {unit} now, {} before in the window, {} in total",
        n("current"),
        n("prior"),
        n("total")
    );
    if let Some(t) = v["bulk_if_more_than"].as_u64() {
        s.push_str(&format!(" (bulk above {t})"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use detente_storage::HoldRow;

    #[test]
    fn countdown_reads_both_ways() {
        let now = time::parse("2026-01-01T00:00:00Z").unwrap();
        assert_eq!(
            countdown("2026-01-03T05:30:00Z", &now),
            ("in 2 d 5 h".into(), false)
        );
        assert_eq!(
            countdown("2025-12-31T22:50:00Z", &now),
            ("overdue by 1 h 10 min".into(), true)
        );
        assert_eq!(countdown("2026-01-01T00:09:00Z", &now).0, "in 9 min");
    }

    #[test]
    fn hold_view_reads_the_gate_decision_and_the_held_event() {
        let h = HoldRow {
            id: "h1".into(),
            recipient: "b.example".into(),
            country: "CN".into(),
            subject: "request-event:ab".into(),
            decision: r#"{"decision":"hold","profile":"us-dsp","destination":"CN",
                "reasons":[{"rule":"28 CFR 202.401","text":"bulk"}],
                "counts":{"personal_identifiers":{"current":120,"prior":5,"total":125,"unit":"persons","bulk_if_more_than":100}}}"#.into(),
            status: detente_storage::HoldStatus::Held,
            created: "2026-01-01T00:00:00.000000Z".into(),
            resolved_by: None,
            reason: None,
            requested_by: Some("olivia".into()),
            payload: Some(r#"{"event":{"id":"e","request_id":"r1","kind":{"type":"answered","note":"x"}}}"#.into()),
            released_at: None,
        };
        let v = HoldView::new(&Hold::new(&h));
        assert_eq!(v.reasons[0].label, "28 CFR 202.401");
        assert_eq!(
            v.volumes[0].value,
            "120 persons now, 5 before in the window, 125 in total (bulk above 100)"
        );
        assert_eq!(
            (v.request_id.as_str(), v.event.as_str()),
            ("r1", "answered")
        );
        assert_eq!(v.action, "hold");
    }
}
