//! Bulk actions on the request listing: acknowledge, propose a new deadline,
//! or export the selected requests, with one justification for all of them.
//! Each request still gets its own signed envelope (or its own entry in the
//! export), so the record of one request never depends on another's.

use crate::pages::{bad_token, opt, PAGE};
use crate::requests::{list_page, ListQuery};
use crate::{Viewer, Web};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use detente_requests::EventKind;
use serde_json::json;
use std::sync::Arc;

/// What the bulk form posts: the selected ids (repeated `id` fields, which
/// `serde_urlencoded` cannot read into a list) and the shared fields.
#[derive(Default)]
pub struct BulkForm {
    pub csrf: String,
    pub action: String,
    pub justification: String,
    pub answer_by: String,
    pub ids: Vec<String>,
}

impl BulkForm {
    fn parse(body: &[u8]) -> BulkForm {
        let mut f = BulkForm::default();
        for (k, v) in form_urlencoded::parse(body) {
            match k.as_ref() {
                "csrf" => f.csrf = v.into_owned(),
                "action" => f.action = v.into_owned(),
                "justification" => f.justification = v.into_owned(),
                "answer_by" => f.answer_by = v.into_owned(),
                "id" if !f.ids.contains(&v.to_string()) => f.ids.push(v.into_owned()),
                _ => {}
            }
        }
        f
    }
}

/// What a bulk action did, shown above the listing.
#[derive(Default)]
pub struct BulkOutcome {
    /// The field an error belongs to (`id`, `justification`, `answer_by`,
    /// `action`) and the error; empty when the form was valid.
    pub field: String,
    pub error: String,
    pub done: Vec<String>,
    pub failed: Vec<(String, String)>,
    pub justification: String,
    pub answer_by: String,
    pub action: String,
}

impl BulkOutcome {
    /// The error beside `field`, or "".
    pub fn at(&self, field: &str) -> &str {
        match self.field == field {
            true => &self.error,
            false => "",
        }
    }

    pub fn ran(&self) -> bool {
        !self.done.is_empty() || !self.failed.is_empty()
    }

    fn invalid(f: &BulkForm, field: &str, error: &str) -> BulkOutcome {
        BulkOutcome {
            field: field.into(),
            error: error.into(),
            ..BulkOutcome::keeping(f)
        }
    }

    fn keeping(f: &BulkForm) -> BulkOutcome {
        BulkOutcome {
            justification: f.justification.clone(),
            answer_by: f.answer_by.clone(),
            action: f.action.clone(),
            ..BulkOutcome::default()
        }
    }
}

/// `2026-03-01` (a date input) as the end of that day, UTC.
fn end_of_day(date: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let d = chrono::NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").ok()?;
    Some(d.and_hms_opt(23, 59, 59)?.and_utc())
}

/// The form's error (field, message), before anything is signed.
fn check(f: &BulkForm, v: &Viewer) -> Result<(), (&'static str, &'static str)> {
    let bad = |field, error| Err((field, error));
    if f.ids.is_empty() {
        return bad("id", "Select at least one request.");
    }
    if f.ids.len() as u64 > PAGE {
        return bad("id", "Select at most one page of requests at a time.");
    }
    let acts = matches!(f.action.as_str(), "acknowledge" | "extend");
    if acts && !v.can_act() {
        return bad(
            "action",
            "Your role may read and export requests, not act on them.",
        );
    }
    let needs_reason = matches!(f.action.as_str(), "extend" | "export");
    if needs_reason && opt(&f.justification).is_none() {
        return bad(
            "justification",
            "Give a justification; it goes with each request.",
        );
    }
    if f.action == "extend" && end_of_day(&f.answer_by).is_none() {
        return bad("answer_by", "Give the new answer deadline as a date.");
    }
    if !acts && f.action != "export" {
        return bad(
            "action",
            "Choose acknowledge, propose a deadline or export.",
        );
    }
    Ok(())
}

/// The event one selected request gets.
fn event(f: &BulkForm) -> EventKind {
    match f.action.as_str() {
        "acknowledge" => EventKind::Acknowledged {},
        _ => EventKind::Message {
            text: f.justification.trim().to_string(),
            attachments: vec![],
            proposed_answer_by: end_of_day(&f.answer_by),
        },
    }
}

pub async fn bulk(
    State(web): State<Arc<Web>>,
    v: Viewer,
    Query(q): Query<ListQuery>,
    body: Bytes,
) -> Response {
    let f = BulkForm::parse(&body);
    if !v.csrf_ok(&f.csrf) {
        return bad_token();
    }
    if let Err((field, error)) = check(&f, &v) {
        let outcome = BulkOutcome::invalid(&f, field, error);
        let code = match outcome.field.as_str() {
            "action" if outcome.error.starts_with("Your role") => StatusCode::FORBIDDEN,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        return list_page(&web, &v, q, outcome, code);
    }
    if f.action == "export" {
        return export(&web, &v, &f);
    }
    let mut outcome = BulkOutcome::keeping(&f);
    for id in &f.ids {
        let reference = reference(&web, id);
        match web.exchange.act_as(id, event(&f), Some(&v.name)).await {
            Ok(_) => outcome.done.push(reference),
            Err(e) => outcome.failed.push((reference, e.to_string())),
        }
    }
    tracing::info!(officer = %v.name, action = %f.action, done = outcome.done.len(),
        failed = outcome.failed.len(), "bulk action");
    let code = match outcome.failed.is_empty() {
        true => StatusCode::OK,
        false => StatusCode::CONFLICT,
    };
    list_page(&web, &v, q, outcome, code)
}

fn reference(web: &Web, id: &str) -> String {
    match web.node.store().request(id) {
        Ok(Some(r)) => r.reference,
        _ => id.to_string(),
    }
}

/// The selected requests with their signed timelines, as one JSON document
/// naming who exported them, when and why. Reading changes nothing, but an
/// export leaves the node, so the justification is logged with it.
fn export(web: &Web, v: &Viewer, f: &BulkForm) -> Response {
    let mut requests = Vec::with_capacity(f.ids.len());
    for id in &f.ids {
        match web.exchange.show(id) {
            Ok(r) => requests.push(r),
            Err(_) => {
                let outcome = BulkOutcome {
                    failed: vec![(id.clone(), "no such request".into())],
                    ..BulkOutcome::keeping(f)
                };
                return list_page(web, v, ListQuery::default(), outcome, StatusCode::NOT_FOUND);
            }
        }
    }
    let now = detente_domain::time::format(&web.exchange.now());
    tracing::info!(user = %v.name, requests = requests.len(), justification = %f.justification.trim(),
        "requests exported");
    let doc = json!({
        "node": web.node.key().name(),
        "exported_by": v.name,
        "exported_at": now,
        "justification": f.justification.trim(),
        "requests": requests,
    });
    let name = format!("requests-{}.json", now.replace([':', '.'], "-"));
    (
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        serde_json::to_vec_pretty(&doc).unwrap_or_default(),
    )
        .into_response()
}
