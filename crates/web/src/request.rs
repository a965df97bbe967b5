//! One request: its fields, signed timeline, deliveries, and the actions
//! the viewer may take.

use crate::pages::*;
use crate::redirect;
use crate::views::{self, Delivery, Field, RequestLine, TimelineEntry};
use crate::{Viewer, Web};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use detente_requests::{DeclineGround, EventKind};
use detente_storage::RequestRow;
use serde::Deserialize;

/// What the viewer may do with a request now.
pub struct Actions {
    acknowledge: bool,
    answer: bool,
    withdraw: bool,
    message: bool,
}

impl Actions {
    fn of(row: &RequestRow, v: &Viewer) -> Actions {
        let can = v.can_act();
        let inbound = row.direction == "inbound";
        let st = row.status.as_str();
        Actions {
            acknowledge: can && inbound && st == "delivered",
            answer: can && inbound && matches!(st, "acknowledged" | "partially_answered"),
            withdraw: can && !inbound && row.closed_at.is_none(),
            message: can,
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
}

#[derive(Template)]
#[template(path = "request.html")]
struct RequestPage {
    nav: Nav,
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
    let store = web.node.store();
    let row = store
        .request(id)
        .map_err(fail)?
        .ok_or(Fail::NotFound("no such request"))?;
    let events = store.events(id).map_err(fail)?;
    let outbox = store.outbox(id).map_err(fail)?;
    let w = waiting(web, v)?;
    let now = web.exchange.now();
    let actions = Actions::of(&row, v);
    Ok(RequestPage {
        nav: Nav::new(v, "requests", &w),
        r: RequestLine::new(&row, &now),
        urgency: row.urgency.clone(),
        tlp: row.tlp.clone(),
        acknowledge_by: views::short(Some(&row.acknowledge_by)),
        acknowledged_at: views::short(row.acknowledged_at.as_deref()),
        decline_ground: row.decline_ground.clone().unwrap_or_default(),
        fields: views::request_fields(events.first()),
        timeline: events.iter().map(TimelineEntry::new).collect(),
        deliveries: outbox.iter().map(Delivery::new).collect(),
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
