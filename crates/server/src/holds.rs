//! `/api/v1/gate/holds`: payloads the transfer gate held, for reviewers.

use crate::problem::Problem;
use crate::{AppState, Caller};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use detente_auth::{Principal, PrincipalKind, Role};
use detente_node::views::HoldView;
use detente_storage::HoldStatus;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/gate/holds", get(list))
        .route("/api/v1/gate/holds/{id}", post(review))
}

/// A local user with one of `roles`, or 401/403.
fn require(caller: &Caller, roles: &[Role]) -> Result<Principal, Problem> {
    let p = caller.require()?.clone();
    if !matches!(p.kind, PrincipalKind::User) || !roles.contains(&p.role) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            format!("{} may not do this", p.name),
        ));
    }
    Ok(p)
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, Problem> {
    // Officers see the holds of their own actions, rejections included.
    let who = require(
        &caller,
        &[Role::Officer, Role::Reviewer, Role::Auditor, Role::Admin],
    )?;
    let status = q.get("status").map(String::as_str).unwrap_or("held");
    let filter = match status {
        "all" => None,
        other => Some(HoldStatus::parse(other).ok_or_else(|| {
            Problem::bad_request(format!(
                "status={other:?}: use held, approved, rejected or all"
            ))
        })?),
    };
    let mut rows = state.node.store().holds(filter)?;
    if who.role == Role::Officer {
        rows.retain(|h| h.requested_by.as_deref() == Some(who.name.as_str()));
    }
    Ok(Json(
        json!({ "holds": rows.iter().map(HoldView::new).collect::<Vec<_>>() }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Review {
    decision: String,
    reason: String,
}

async fn review(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<Review>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, Problem> {
    let reviewer = require(&caller, &[Role::Reviewer, Role::Admin])?;
    let Json(r) = body.map_err(|e| Problem::bad_request(e.body_text()))?;
    let approve = match r.decision.as_str() {
        "approve" => true,
        "reject" => false,
        other => {
            return Err(Problem::bad_request(format!(
                "decision {other:?}: use approve or reject"
            )))
        }
    };
    if r.reason.trim().is_empty() {
        return Err(Problem::bad_request(
            "a reason is required; it is recorded in the log",
        ));
    }
    let unknown = || {
        Problem::new(
            StatusCode::CONFLICT,
            format!("no held payload {id} (unknown or already resolved)"),
        )
    };
    let reason = r.reason.trim();
    if let Some(exchange) = &state.exchange {
        let (held, release_error) = exchange
            .resolve_hold(&id, approve, &reviewer.name, reason)
            .await?
            .ok_or_else(unknown)?;
        let mut v = json!(HoldView::new(&held));
        v["release_error"] = json!(release_error);
        return Ok(Json(v));
    }
    let outbound = state.outbound.as_ref().ok_or_else(|| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the transfer gate is not running",
        )
    })?;
    let held = outbound
        .resolve(&id, approve, &reviewer.name, reason)
        .await?
        .ok_or_else(unknown)?;
    Ok(Json(json!(HoldView::new(&held))))
}
