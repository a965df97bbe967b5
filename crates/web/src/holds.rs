//! The review queue: held transfers, decided by a reviewer who is not the
//! officer who asked (four eyes), with the password asked again to approve.

use crate::pages::*;
use crate::redirect;
use crate::signin::verify_password;
use crate::views::HoldView;
use crate::{Viewer, Web};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use detente_auth::AuthError;
use detente_storage::HoldStatus;
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct HoldsQuery {
    #[serde(default)]
    status: String,
}

pub struct HoldItem {
    h: HoldView,
    /// The viewer may decide it: a reviewer, not the officer who asked.
    reviewable: bool,
    error: FormError,
    reason: String,
}

#[derive(Template)]
#[template(path = "holds.html")]
struct HoldsPage {
    nav: Nav,
    status: String,
    items: Vec<HoldItem>,
    more: usize,
}

fn holds_page(
    web: &Web,
    v: &Viewer,
    status: &str,
    failed: Option<(&str, FormError, String)>,
) -> Result<(HoldsPage, StatusCode), Fail> {
    let (filter, code) = match status {
        "" => (Some(HoldStatus::Held), StatusCode::OK),
        "all" => (None, StatusCode::OK),
        s => match HoldStatus::parse(s) {
            Some(s) => (Some(s), StatusCode::OK),
            None => (Some(HoldStatus::Held), StatusCode::UNPROCESSABLE_ENTITY),
        },
    };
    let mut rows = web.node.store().holds(filter).map_err(fail)?;
    if !v.can_review() {
        rows.retain(|h| h.requested_by.as_deref() == Some(v.name.as_str()));
    }
    rows.reverse();
    let more = rows.len().saturating_sub(PAGE as usize);
    rows.truncate(PAGE as usize);
    let mut failed = failed;
    let items = rows
        .iter()
        .map(|h| {
            let (error, reason) = match &failed {
                Some((id, _, _)) if *id == h.id => {
                    let (_, e, r) = failed.take().unwrap_or_default();
                    (e, r)
                }
                _ => (FormError::default(), String::new()),
            };
            HoldItem {
                reviewable: v.can_review()
                    && h.status == HoldStatus::Held
                    && h.requested_by.as_deref() != Some(v.name.as_str()),
                h: HoldView::new(&detente_node::views::HoldView::new(h)),
                error,
                reason,
            }
        })
        .collect();
    let w = waiting(web, v)?;
    let page = HoldsPage {
        nav: Nav::new(v, "holds", &w),
        status: filter.map_or("all", HoldStatus::as_str).into(),
        items,
        more,
    };
    Ok((page, code))
}

pub async fn holds(State(web): W, v: Viewer, Query(q): Query<HoldsQuery>) -> Response {
    match holds_page(&web, &v, &q.status, None) {
        Ok((p, code)) => render(&p, code),
        Err(r) => r.into_response(),
    }
}

#[derive(Deserialize)]
pub struct ReviewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    password: String,
}

/// Checks a review form; the password is asked again for an approval.
async fn check_review(web: &Web, v: &Viewer, f: &ReviewForm) -> Result<bool, FormError> {
    let err = |field: &str, message: &str| FormError {
        action: f.decision.clone(),
        field: field.into(),
        message: message.into(),
    };
    let approve = match f.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(err("decision", "Choose approve or reject.")),
    };
    if f.reason.trim().is_empty() {
        return Err(err("reason", "Give a reason; it is recorded in the log."));
    }
    if approve {
        if f.password.is_empty() {
            return Err(err("password", "Enter your password to approve."));
        }
        match verify_password(web, &v.name, &f.password).await {
            Ok(_) => {}
            Err(AuthError::Throttled(_)) => {
                return Err(err("password", "Too many failed attempts; wait a minute."))
            }
            Err(_) => return Err(err("password", "The password is wrong.")),
        }
    }
    Ok(approve)
}

pub async fn review(
    State(web): W,
    v: Viewer,
    Path(id): Path<String>,
    Form(f): Form<ReviewForm>,
) -> Response {
    if !v.csrf_ok(&f.csrf) {
        return bad_token();
    }
    if !v.can_review() {
        return forbidden("only reviewers and admins decide held transfers");
    }
    let outcome = match check_review(&web, &v, &f).await {
        Ok(approve) => web
            .exchange
            .resolve_hold(&id, approve, &v.name, f.reason.trim())
            .await
            .map_err(|e| (exchange_status(&e), e.to_string())),
        Err(e) => {
            return review_failed(&web, &v, &id, e, f.reason, StatusCode::UNPROCESSABLE_ENTITY)
        }
    };
    let message = match outcome {
        Ok(Some((_, None))) => return redirect("/ui/holds"),
        Ok(Some((_, Some(why)))) => {
            format!("Approved, but the release failed: {why}")
        }
        Ok(None) => "This transfer is unknown or was already decided.".into(),
        Err((_, m)) => m,
    };
    let e = FormError {
        action: f.decision.clone(),
        field: "decision".into(),
        message,
    };
    review_failed(&web, &v, &id, e, f.reason, StatusCode::CONFLICT)
}

fn review_failed(
    web: &Web,
    v: &Viewer,
    id: &str,
    e: FormError,
    reason: String,
    code: StatusCode,
) -> Response {
    match holds_page(web, v, "all", Some((id, e, reason))) {
        Ok((p, _)) => render(&p, code),
        Err(r) => r.into_response(),
    }
}

// ---- sessions ----
