//! Agreeing to the counterpart's proposed answer deadline. The lifecycle
//! moves a deadline only with both sides' signed consent: each consent is a
//! message proposing exactly the new deadline. Agreeing is therefore two
//! envelopes of this node: its own proposal of the same time, then the
//! extension citing both messages.

use crate::views::short;
use crate::Web;
use detente_domain::time;
use detente_node::views::RequestView;
use detente_requests::{Direction, EventId, EventKind};

/// The counterpart's standing proposal of a later answer deadline.
pub struct Proposal {
    /// As signed (RFC 3339).
    pub answer_by: String,
    /// The same, for reading.
    pub when: String,
    /// The id of the counterpart's message: its consent.
    pub consent: String,
}

/// The latest proposal the counterpart made that no extension has settled
/// and that would move an open request's deadline later.
pub fn proposal(view: &RequestView, me: &str) -> Option<Proposal> {
    if view.closed_at.is_some() {
        return None;
    }
    let mut standing = None;
    for e in &view.timeline {
        match e.kind.as_str() {
            "deadline_extended" => standing = None,
            "message" if e.actor != me => {
                if let Some(t) = e.event["kind"]["proposed_answer_by"].as_str() {
                    standing = Some((t.to_string(), e.event_id.clone()));
                }
            }
            _ => {}
        }
    }
    let (answer_by, consent) = standing?;
    let later = time::parse(&answer_by)? > time::parse(&view.summary.answer_by)?;
    later.then(|| Proposal {
        when: short(Some(&answer_by)),
        answer_by,
        consent,
    })
}

/// Signs this node's consent and the extension, on behalf of `officer`.
/// `seen` is the deadline the officer agreed to on the page: a proposal
/// changed since is not agreed to blindly.
pub async fn agree(web: &Web, id: &str, seen: &str, officer: &str) -> Result<(), String> {
    let me = web.node.config().origin.to_string();
    let view = web.exchange.view(id).map_err(|e| e.to_string())?;
    let p = proposal(&view, &me).ok_or("there is no proposal to agree to")?;
    if p.answer_by != seen {
        return Err(format!("the proposal is now {}; reload the page", p.when));
    }
    let at = time::parse(&p.answer_by).ok_or("the proposal's time is unreadable")?;
    let own = EventKind::Message {
        text: format!("Agreed: the answer deadline moves to {}.", p.when),
        attachments: vec![],
        proposed_answer_by: Some(at),
    };
    let after = web
        .exchange
        .act_as(id, own, Some(officer))
        .await
        .map_err(|e| e.to_string())?;
    let mine = after["timeline"]
        .as_array()
        .and_then(|t| t.last())
        .and_then(|e| e["event_id"].as_str())
        .ok_or("the consent was not recorded")?;
    let (mine, theirs) = (parse(mine)?, parse(&p.consent)?);
    let (sender_consent, recipient_consent) = match view.summary.direction {
        Direction::Outbound => (mine, theirs),
        Direction::Inbound => (theirs, mine),
    };
    let ext = EventKind::DeadlineExtended {
        answer_by: at,
        sender_consent,
        recipient_consent,
    };
    web.exchange
        .act_as(id, ext, Some(officer))
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn parse(id: &str) -> Result<EventId, String> {
    EventId::parse(id).map_err(|e| e.to_string())
}
