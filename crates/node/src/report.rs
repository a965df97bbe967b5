//! Reciprocity reports: per peer and direction, how many requests were sent,
//! delivered, acknowledged, answered, declined, withdrawn, pending or overdue, and
//! how fast — computed from the request events in this node's log.

use crate::exchange::{parse_envelope, parse_recorded, Parsed};
use crate::{Node, NodeError};
use detente_domain::{time, Origin, VerifierKey};
use detente_requests::{
    reciprocity_report, report_from_summaries, Direction, Parties, PartyError, Period,
    ReciprocityReport, ReportItem, Summary, Timeline,
};
use detente_storage::SummaryRow;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

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
/// node that signed it (an offline verifier's trusted keys).
pub fn items_from_envelopes<'a>(
    me: &str,
    envelopes: impl Iterator<Item = (String, &'a [u8])>,
    key_of: &dyn Fn(&str) -> Option<VerifierKey>,
) -> Result<Vec<ReportItem>, String> {
    items_from(me, envelopes, &|bytes: &[u8]| {
        let origin = serde_json::from_slice::<Value>(bytes)
            .ok()
            .and_then(|v| v["origin"].as_str().map(str::to_string))
            .ok_or("envelope without origin")?;
        let key = key_of(&origin).ok_or_else(|| format!("no trusted key for {origin}"))?;
        parse_envelope(bytes, &key).map_err(|e| e.to_string())
    })
}

/// Builds report items from envelopes this node recorded (and checked when it
/// did), so a node's claimed report rests on exactly the envelopes it lists.
pub fn items_from_recorded<'a>(
    me: &str,
    envelopes: impl Iterator<Item = (String, &'a [u8])>,
) -> Result<Vec<ReportItem>, String> {
    items_from(me, envelopes, &|bytes: &[u8]| {
        parse_recorded(bytes).map_err(|e| e.to_string())
    })
}

/// Groups envelopes (in log order) into one timeline per request. A request's
/// parties are fixed by its submission, which must come first; every later
/// envelope must be signed by the party whose role its event belongs to, or the
/// whole set is rejected, naming the envelope.
fn items_from<'a>(
    me: &str,
    envelopes: impl Iterator<Item = (String, &'a [u8])>,
    parse: &dyn Fn(&[u8]) -> Result<Parsed, String>,
) -> Result<Vec<ReportItem>, String> {
    let mut by_request: BTreeMap<String, (Parties, Timeline)> = BTreeMap::new();
    for (request_id, bytes) in envelopes {
        let p = parse(bytes).map_err(|e| format!("request {request_id}: {e}"))?;
        let named = |e: PartyError| {
            format!(
                "envelope {} ({} by {}): {e}",
                hex::encode(p.envelope.digest()),
                p.envelope_kind(),
                p.origin
            )
        };
        let entry = match by_request.entry(request_id.clone()) {
            std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::btree_map::Entry::Vacant(v) => {
                let parties = p.submission_parties().map_err(named)?;
                if parties.requester != me && parties.recipient != me {
                    return Err(format!("request {request_id} does not involve {me}"));
                }
                v.insert((parties, Timeline::default()))
            }
        };
        let timed = p.timed(&entry.0).map_err(named)?;
        entry.1.events.push(timed);
    }
    by_request
        .into_values()
        .map(|(parties, timeline)| {
            let (direction, peer) = if parties.requester == me {
                (Direction::Outbound, parties.recipient)
            } else {
                (Direction::Inbound, parties.requester)
            };
            let peer = Origin::parse(&peer).map_err(|e| e.to_string())?;
            Ok(ReportItem {
                direction,
                peer,
                timeline,
            })
        })
        .collect()
}

/// The JSON of a set of reports.
fn to_json(me: &str, reports: Vec<ReciprocityReport>, now: time::Timestamp) -> Value {
    let reports: Vec<Value> = reports
        .iter()
        .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
        .collect();
    json!({ "node": me, "generated_at": time::format(&now), "reports": reports })
}

fn period(since: Option<time::Timestamp>) -> Period {
    Period {
        since: since.unwrap_or(chrono::DateTime::UNIX_EPOCH),
        until: None,
    }
}

/// The peers to report on: all those seen, or the one asked for.
fn peers<'a>(all: impl Iterator<Item = &'a Origin>, only: Option<&str>) -> Vec<Origin> {
    let set: BTreeSet<&Origin> = all
        .filter(|p| only.is_none_or(|o| o == p.as_str()))
        .collect();
    set.into_iter().cloned().collect()
}

/// Reports recomputed from timelines (what an offline verifier does), as JSON.
pub fn reports_json(
    me: &str,
    items: &[ReportItem],
    peer: Option<&str>,
    since: Option<time::Timestamp>,
    now: time::Timestamp,
) -> Value {
    let reports = peers(items.iter().map(|i| &i.peer), peer)
        .iter()
        .map(|p| reciprocity_report(items, p, period(since), now))
        .collect();
    to_json(me, reports, now)
}

/// Parses the fixed form detente stores (`2021-05-07T10:00:00.123456Z`) without
/// the general RFC 3339 parser, which dominates a report over millions of rows.
fn fast_time(s: &str) -> Option<time::Timestamp> {
    let b = s.as_bytes();
    let fixed = b.len() == 27 && b[4] == b'-' && b[10] == b'T' && b[19] == b'.' && b[26] == b'Z';
    if !fixed {
        return time::parse(s);
    }
    let n = |r: std::ops::Range<usize>| -> Option<u32> { s.get(r)?.parse().ok() };
    let date = chrono::NaiveDate::from_ymd_opt(n(0..4)? as i32, n(5..7)?, n(8..10)?)?;
    let t = date.and_hms_micro_opt(n(11..13)?, n(14..16)?, n(17..19)?, n(20..26)?)?;
    Some(t.and_utc())
}

/// One stored summary row as the report's input; `peers` caches parsed origins.
fn summary(r: &SummaryRow, peers: &mut BTreeMap<String, Origin>) -> Option<Summary> {
    let t = fast_time;
    let peer = match peers.get(&r.peer) {
        Some(p) => p.clone(),
        None => {
            let p = Origin::parse(&r.peer).ok()?;
            peers.insert(r.peer.clone(), p.clone());
            p
        }
    };
    Some(Summary {
        direction: r.direction,
        peer,
        status: r.status,
        submitted_at: t(&r.submitted_at)?,
        acknowledge_by: t(&r.acknowledge_by)?,
        answer_by: t(&r.answer_by)?,
        delivered: r.delivered_at.is_some(),
        acknowledged_at: r.acknowledged_at.as_deref().and_then(t),
        closed_at: r.closed_at.as_deref().and_then(t),
        decline_ground: r.decline_ground,
    })
}

/// The stored summaries of the requests with `peer` (any peer: `None`)
/// submitted since `since`, as reports read them; charts of a report are
/// drawn from the same ones. One peer's are read through an index.
pub fn summaries(
    node: &Node,
    peer: Option<&str>,
    since: Option<time::Timestamp>,
) -> Result<Vec<Summary>, NodeError> {
    let mut origins = BTreeMap::new();
    let mut out = Vec::new();
    let mut visit = |r: SummaryRow| {
        let s = summary(&r, &mut origins).ok_or_else(|| {
            detente_storage::StorageError::Integrity(format!(
                "a request from {} has an unreadable summary",
                r.peer
            ))
        })?;
        if since.is_none_or(|t| s.submitted_at >= t) {
            out.push(s);
        }
        Ok(())
    };
    match peer {
        Some(p) => {
            let from = time::format(&since.unwrap_or(chrono::DateTime::UNIX_EPOCH));
            node.store().scan_peer_summaries(p, &from, &mut visit)?
        }
        None => node.store().scan_summaries(&mut visit)?,
    }
    Ok(out)
}

/// The report of this node, from its per-request summaries (one row per
/// request, kept with every event), so it stays fast at millions of requests.
pub fn build(
    node: &Node,
    peer: Option<&str>,
    since: Option<time::Timestamp>,
    now: time::Timestamp,
) -> Result<Value, NodeError> {
    let mut by_peer: BTreeMap<Origin, Vec<Summary>> = BTreeMap::new();
    for s in summaries(node, peer, since)? {
        by_peer.entry(s.peer.clone()).or_default().push(s);
    }
    let reports = by_peer
        .iter()
        .map(|(p, summaries)| report_from_summaries(summaries, p, period(since), now))
        .collect();
    Ok(to_json(&node.config().origin, reports, now))
}
