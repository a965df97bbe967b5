//! What an operator needs to know about each peer, in one typed view that the
//! web interface and the JSON API both render: how deliveries to it went (the
//! last success, the last error with the peer's problem detail, envelopes
//! queued and refused) and the last cosignature each way (the peer as witness
//! of this node's log, and this node as witness of the peer's).

use crate::{Node, NodeError};
use detente_domain::time;
use detente_witness::{Cosigned, WitnessError};
use serde::Serialize;
use std::collections::BTreeMap;

/// One peer's state, as the interface and `/api/v1/peers/status` show it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct PeerStatus {
    pub origin: String,
    pub url: String,
    pub country: String,
    pub added: String,
    /// Envelopes waiting to be delivered to the peer.
    pub queued: u64,
    /// Envelopes the peer refused for good.
    pub refused: u64,
    pub last_delivered_at: Option<String>,
    pub last_error: Option<ProblemDetail>,
    /// The peer's latest cosignature of this node's checkpoint.
    pub their_cosignature: Option<CosignatureSeen>,
    /// This node's latest cosignature of the peer's checkpoint.
    pub our_cosignature: Option<CosignatureSeen>,
}

/// A failure as the peer explained it: an RFC 9457 problem's status and
/// detail when it sent one, else what the transport said.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ProblemDetail {
    pub at: Option<String>,
    pub status: Option<u16>,
    pub title: Option<String>,
    pub detail: String,
}

/// A cosigned checkpoint: its tree size and when it was cosigned.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CosignatureSeen {
    pub size: u64,
    pub at: String,
}

impl ProblemDetail {
    /// Reads an error as deliveries record it: `422: detail` for a refused
    /// envelope, `401 Unauthorized: {problem json}` for a refused call, or a
    /// transport error's text.
    pub fn parse(error: &str, at: Option<String>) -> ProblemDetail {
        let code: Option<u16> = error
            .get(..3)
            .filter(|h| h.bytes().all(|b| b.is_ascii_digit()))
            .filter(|_| matches!(error.as_bytes().get(3), Some(b' ' | b':')))
            .and_then(|h| h.parse().ok());
        let rest = match code {
            Some(_) => error.split_once(": ").map_or("", |(_, r)| r),
            None => error,
        };
        let json: Option<serde_json::Value> = serde_json::from_str(rest).ok();
        let field = |k: &str| {
            json.as_ref()
                .and_then(|j| j[k].as_str().map(str::to_string))
        };
        ProblemDetail {
            at,
            status: code.or(json
                .as_ref()
                .and_then(|j| j["status"].as_u64().map(|s| s as u16))),
            title: field("title"),
            detail: field("detail").unwrap_or_else(|| rest.to_string()),
        }
    }
}

fn seen(size: u64, secs: u64) -> CosignatureSeen {
    let at = chrono::DateTime::from_timestamp(secs as i64, 0)
        .map(|t| time::format(&t))
        .unwrap_or_default();
    CosignatureSeen { size, at }
}

/// The status of every configured peer, by origin. `witnessed` reads what
/// this node's witness last cosigned of a peer's log.
pub fn peer_statuses(
    node: &Node,
    witnessed: &dyn Fn(&str) -> Result<Option<Cosigned>, WitnessError>,
) -> Result<Vec<PeerStatus>, NodeError> {
    let store = node.store();
    let mut deliveries: BTreeMap<String, _> = store
        .peer_deliveries()?
        .into_iter()
        .map(|d| (d.peer.clone(), d))
        .collect();
    let mut out = Vec::new();
    for p in store.peers()? {
        let d = deliveries.remove(&p.origin).unwrap_or_default();
        let ours = witnessed(&p.origin).map_err(|e| NodeError::Config(format!("witness: {e}")))?;
        out.push(PeerStatus {
            queued: d.queued,
            refused: d.refused,
            last_delivered_at: d.delivered_at,
            last_error: d.error.map(|e| ProblemDetail::parse(&e, d.error_at)),
            their_cosignature: store
                .last_cosignature(&p.origin)?
                .map(|(size, at)| seen(size, at)),
            our_cosignature: ours.map(|c| seen(c.size, c.cosigned_at)),
            origin: p.origin,
            url: p.url,
            country: p.country,
            added: p.added,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::ProblemDetail;

    #[test]
    fn problem_details_are_read_from_each_recorded_form() {
        let p = ProblemDetail::parse("422: invalid transition from answered", None);
        assert_eq!(p.status, Some(422));
        assert_eq!(p.detail, "invalid transition from answered");
        let body = r#"{"type":"about:blank","title":"Unauthorized","status":401,"detail":"peer signature refused: unknown key"}"#;
        let p = ProblemDetail::parse(&format!("401 Unauthorized: {body}"), None);
        assert_eq!(p.status, Some(401));
        assert_eq!(p.title.as_deref(), Some("Unauthorized"));
        assert_eq!(p.detail, "peer signature refused: unknown key");
        let t = "error sending request for url (http://127.0.0.1:9/): connection refused";
        let p = ProblemDetail::parse(t, None);
        assert_eq!((p.status, p.detail.as_str()), (None, t));
        let p = ProblemDetail::parse("503 Service Unavailable: busy", None);
        assert_eq!((p.status, p.detail.as_str()), (Some(503), "busy"));
    }
}
