//! Reciprocity reports: per peer and direction, how many requests were sent,
//! delivered, acknowledged, answered, declined, withdrawn, pending or overdue, and
//! how fast — computed from the request events in this node's log.

use crate::exchange::parse_envelope;
use crate::{Node, NodeError};
use detente_domain::{time, Origin, VerifierKey};
use detente_requests::{reciprocity_report, Direction, Period, ReportItem, Timeline};
use detente_storage::EventRow;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// `YYYY-MM-DD` (midnight UTC) or RFC 3339.
pub fn parse_date(s: &str) -> Result<time::Timestamp, String> {
    if let Some(t) = time::parse(s) {
        return Ok(t);
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
        .map_err(|_| format!("{s:?} is not a date (YYYY-MM-DD) or an RFC 3339 time"))
}

/// Builds report items from envelopes: each is checked against the key of the
/// node that signed it, so the same code serves the node and offline verifiers.
pub fn items_from_envelopes<'a>(
    me: &str,
    envelopes: impl Iterator<Item = (String, &'a [u8])>,
    key_of: &dyn Fn(&str) -> Option<VerifierKey>,
) -> Result<Vec<ReportItem>, String> {
    let mut by_request: BTreeMap<String, (Direction, String, Timeline)> = BTreeMap::new();
    for (request_id, bytes) in envelopes {
        let origin = serde_json::from_slice::<Value>(bytes)
            .ok()
            .and_then(|v| v["origin"].as_str().map(str::to_string))
            .ok_or("envelope without origin")?;
        let key = key_of(&origin).ok_or_else(|| format!("no trusted key for {origin}"))?;
        let p = parse_envelope(bytes, &key).map_err(|e| format!("request {request_id}: {e}"))?;
        let (direction, peer) = if p.sender == me {
            (Direction::Outbound, p.recipient.clone())
        } else if p.recipient == me {
            (Direction::Inbound, p.sender.clone())
        } else {
            return Err(format!("request {request_id} does not involve {me}"));
        };
        let entry = by_request
            .entry(request_id)
            .or_insert_with(|| (direction, peer, Timeline::default()));
        entry.2.events.push(p.timed);
    }
    by_request
        .into_values()
        .map(|(direction, peer, timeline)| {
            let peer = Origin::parse(&peer).map_err(|e| e.to_string())?;
            Ok(ReportItem {
                direction,
                peer,
                timeline,
            })
        })
        .collect()
}

/// Reports for every peer in `items` (or one), as JSON.
pub fn reports_json(
    me: &str,
    items: &[ReportItem],
    peer: Option<&str>,
    since: Option<time::Timestamp>,
    now: time::Timestamp,
) -> Value {
    let period = Period {
        since: since.unwrap_or(chrono::DateTime::UNIX_EPOCH),
        until: None,
    };
    let mut peers: Vec<&Origin> = items.iter().map(|i| &i.peer).collect();
    peers.sort();
    peers.dedup();
    let reports: Vec<Value> = peers
        .into_iter()
        .filter(|p| peer.is_none_or(|want| want == p.as_str()))
        .map(|p| {
            serde_json::to_value(reciprocity_report(items, p, period, now)).unwrap_or(Value::Null)
        })
        .collect();
    json!({ "node": me, "generated_at": time::format(&now), "reports": reports })
}

/// The report of this node, from its stored request events.
pub fn build(
    node: &Node,
    peer: Option<&str>,
    since: Option<time::Timestamp>,
    now: time::Timestamp,
) -> Result<Value, NodeError> {
    let me = node.config().origin.clone();
    let mut rows: Vec<EventRow> = Vec::new();
    node.store().scan_events(&mut |e| {
        rows.push(e);
        Ok(())
    })?;
    let key_of = |origin: &str| -> Option<VerifierKey> {
        if origin == me {
            return Some(node.verifier());
        }
        node.peer(origin).ok().flatten().map(|p| p.key)
    };
    let items = items_from_envelopes(
        &me,
        rows.iter()
            .map(|r| (r.request_id.clone(), r.envelope.as_slice())),
        &key_of,
    )
    .map_err(NodeError::Integrity)?;
    Ok(reports_json(&me, &items, peer, since, now))
}
