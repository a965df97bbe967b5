//! One request: its fields, signed timeline, deliveries, and the actions
//! the viewer may take.

use crate::extension::{self, proposal, Proposal};
use crate::pages::*;
use crate::redirect;
use crate::views::{self, Delivery, Field, RequestLine, TimelineEntry};
use crate::{Viewer, Web};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use detente_node::exchange::ExchangeError;
use detente_node::views::RequestView;
use detente_requests::{DeclineGround, Direction, EventKind, Status};
use serde::Deserialize;

/// What the viewer may do with a request now.
pub struct Actions {
    acknowledge: bool,
    answer: bool,
    withdraw: bool,
    message: bool,
    /// The counterpart's proposal of a later deadline, to agree to.
    agree: Option<Proposal>,
}

impl Actions {
    fn of(r: &RequestView, v: &Viewer, me: &str) -> Actions {
        let can = v.can_act();
        let inbound = r.summary.direction == Direction::Inbound;
        let st = r.summary.status;
        Actions {
            acknowledge: can && inbound && st == Status::Delivered,
            answer: can
                && inbound
                && matches!(st, Status::Acknowledged | Status::PartiallyAnswered),
            withdraw: can && !inbound && r.closed_at.is_none(),
            message: can,
            agree: proposal(r, me).filter(|_| can),
        }
    }

    fn any(&self) -> bool {
        self.acknowledge || self.answer || self.withdraw || self.message
    }
}

#[derive(Deserialize, Default)]
pub struct ActForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    ground: String,
    #[serde(default)]
    reason: String,
    /// The deadline the officer saw proposed, when agreeing to it.
    #[serde(default)]
    proposed: String,
}

#[derive(Template)]
#[template(path = "request.html")]
struct RequestPage {
    nav: Nav,
    /// The counterpart's IANA time zone, when configured.
    peer_zone: String,
    r: RequestLine,
    urgency: String,
    tlp: String,
    acknowledge_by: String,
    acknowledged_at: String,
    decline_ground: String,
    fields: Vec<Field>,
    timeline: Vec<TimelineEntry>,
    deliveries: Vec<Delivery>,
    actions: Actions,
    any_action: bool,
    grounds: Vec<Choice>,
    draft: ActForm,
    error: FormError,
}

fn request_page(
    web: &Web,
    v: &Viewer,
    id: &str,
    draft: ActForm,
    error: FormError,
) -> Result<RequestPage, Fail> {
    let view = match web.exchange.view(id) {
        Ok(v) => v,
        Err(ExchangeError::NotFound(_)) => return Err(Fail::NotFound("no such request")),
        Err(e) => return Err(fail(e)),
    };
    let w = waiting(web, v)?;
    let now = web.exchange.now();
    let actions = Actions::of(&view, v, &web.node.config().origin.to_string());
    let peer_zone = web
        .node
        .config()
        .peer_time_zones
        .get(&view.summary.peer)
        .cloned()
        .unwrap_or_default();
    Ok(RequestPage {
        nav: Nav::new(v, "requests", &w),
        peer_zone,
        r: RequestLine::of(&view.summary, view.closed_at.as_deref(), &now),
        urgency: view.summary.urgency.as_str().to_string(),
        tlp: view.summary.tlp.as_str().to_string(),
        acknowledge_by: views::short(Some(&view.acknowledge_by)),
        acknowledged_at: views::short(view.acknowledged_at.as_deref()),
        decline_ground: view
            .decline_ground
            .map(|g| g.as_str().to_string())
            .unwrap_or_default(),
        fields: views::request_fields(view.timeline.first()),
        timeline: view.timeline.iter().map(TimelineEntry::new).collect(),
        deliveries: view.deliveries.iter().map(Delivery::new).collect(),
        any_action: actions.any(),
        actions,
        grounds: choices(DeclineGround::ALL.iter().map(|g| g.as_str()), &draft.ground),
        draft,
        error,
    })
}

pub async fn request(State(web): W, v: Viewer, Path(id): Path<String>) -> Response {
    match request_page(&web, &v, &id, ActForm::default(), FormError::default()) {
        Ok(p) => render(&p, StatusCode::OK),
        Err(r) => r.into_response(),
    }
}

fn some_text(s: &str) -> Option<String> {
    opt(s)
}

/// The event a form asks for, or the field that is wrong.
fn event_of(f: &ActForm) -> Result<EventKind, (&'static str, String)> {
    Ok(match f.action.as_str() {
        "acknowledge" => EventKind::Acknowledged {},
        "answer" | "partial-answer" => {
            let note = some_text(&f.note);
            if note.is_none() {
                return Err(("note", "Write the answer.".into()));
            }
            match f.action.as_str() {
                "answer" => EventKind::Answered {
                    note,
                    attachments: vec![],
                },
                _ => EventKind::PartiallyAnswered {
                    note,
                    attachments: vec![],
                },
            }
        }
        "decline" => {
            let ground: DeclineGround = serde_json::from_value(serde_json::json!(f.ground))
                .map_err(|_| ("ground", "Choose a ground for declining.".to_string()))?;
            let text = some_text(&f.text);
            if ground == DeclineGround::Other && text.is_none() {
                return Err(("text", "Explain the ground \"other\".".into()));
            }
            EventKind::Declined { ground, text }
        }
        "withdraw" => EventKind::Withdrawn {
            reason: some_text(&f.reason),
        },
        "message" => EventKind::Message {
            text: some_text(&f.text).ok_or(("text", "Write the message.".to_string()))?,
            attachments: vec![],
            proposed_answer_by: None,
        },
        _ => return Err(("action", "Choose an action.".into())),
    })
}

pub async fn act_on_request(
    State(web): W,
    v: Viewer,
    Path(id): Path<String>,
    Form(f): Form<ActForm>,
) -> Response {
    if !v.csrf_ok(&f.csrf) {
        return bad_token();
    }
    if !v.can_act() {
        return forbidden("your role may read requests but not act on them");
    }
    if f.action == "agree" {
        return agree(&web, &v, &id, f).await;
    }
    let (status, error) = match event_of(&f) {
        Ok(kind) => match web.exchange.act_as(&id, kind, Some(&v.name)).await {
            Ok(_) => return redirect(&format!("/ui/requests/{id}")),
            Err(e) => (
                exchange_status(&e),
                FormError {
                    action: f.action.clone(),
                    field: "action".into(),
                    message: e.to_string(),
                },
            ),
        },
        Err((field, message)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            FormError {
                action: f.action.clone(),
                field: field.into(),
                message,
            },
        ),
    };
    match request_page(&web, &v, &id, f, error) {
        Ok(p) => render(&p, status),
        Err(r) => r.into_response(),
    }
}

async fn agree(web: &Web, v: &Viewer, id: &str, f: ActForm) -> Response {
    match extension::agree(web, id, &f.proposed, &v.name).await {
        Ok(()) => redirect(&format!("/ui/requests/{id}")),
        Err(message) => {
            let error = FormError {
                action: "agree".into(),
                field: "action".into(),
                message,
            };
            match request_page(web, v, id, f, error) {
                Ok(p) => render(&p, StatusCode::CONFLICT),
                Err(r) => r.into_response(),
            }
        }
    }
}

/// The events of request `id`, or the page to answer with.
fn events_of(web: &Web, id: &str) -> Result<Vec<detente_storage::EventRow>, Fail> {
    let store = web.node.store();
    store
        .request(id)
        .map_err(fail)?
        .ok_or(Fail::NotFound("no such request"))?;
    store.events(id).map_err(fail)
}

/// A download: never rendered by the browser in this origin, whatever its
/// content (an attachment from a peer may be HTML).
fn download(name: &str, kind: &'static str, body: Vec<u8>) -> Response {
    let safe: String = name
        .chars()
        .map(|c| match c.is_ascii_alphanumeric() || "-_.".contains(c) {
            true => c,
            false => '_',
        })
        .collect();
    (
        [
            (header::CONTENT_TYPE, kind.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{safe}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// The C2SP tlog-proof of one envelope of the request in this node's log,
/// with the witnesses' cosignatures: checkable offline with the node's key.
pub async fn proof(State(web): W, _v: Viewer, Path((id, seq)): Path<(String, u64)>) -> Response {
    let events = match events_of(&web, &id) {
        Ok(e) => e,
        Err(r) => return r.into_response(),
    };
    let Some(e) = events.iter().find(|e| e.seq == seq) else {
        return not_found("no such event of this request");
    };
    match web.node.proof_file(e.log_index) {
        Ok(Some(p)) => download(
            &format!("{id}-{seq}.tlog-proof"),
            "text/plain; charset=utf-8",
            p.format().into_bytes(),
        ),
        Ok(None) => not_found("the envelope is not yet in a published checkpoint"),
        Err(e) => internal(e),
    }
}

/// The peer's receipt for one envelope: its tlog-proof in the peer's log.
pub async fn receipt(State(web): W, _v: Viewer, Path((id, seq)): Path<(String, u64)>) -> Response {
    let events = match events_of(&web, &id) {
        Ok(e) => e,
        Err(r) => return r.into_response(),
    };
    match events
        .iter()
        .find(|e| e.seq == seq)
        .and_then(|e| e.receipt.clone())
    {
        Some(r) => download(
            &format!("{id}-{seq}.receipt.tlog-proof"),
            "text/plain; charset=utf-8",
            r.into_bytes(),
        ),
        None => not_found("the peer has not receipted this envelope"),
    }
}

/// An attachment cited by one of the request's events, and only then: a
/// digest seen elsewhere does not open content of another exchange.
pub async fn attachment(
    State(web): W,
    _v: Viewer,
    Path((id, sha256)): Path<(String, String)>,
) -> Response {
    let events = match events_of(&web, &id) {
        Ok(e) => e,
        Err(r) => return r.into_response(),
    };
    let cited = events.iter().find_map(|e| {
        let env: serde_json::Value = serde_json::from_slice(&e.envelope).ok()?;
        let kind: EventKind =
            serde_json::from_value(env["payload"]["event"]["kind"].clone()).ok()?;
        kind.attachments()
            .iter()
            .find(|a| a.sha256 == sha256)
            .cloned()
    });
    let Some(a) = cited else {
        return not_found("this request cites no such attachment");
    };
    match web.exchange.attachment(&sha256).await {
        Ok(Some((_, content))) => download(&a.name, "application/octet-stream", content),
        Ok(None) => not_found("the attachment's content is not available"),
        Err(e) => error_page(exchange_status(&e), &e.to_string()),
    }
}
