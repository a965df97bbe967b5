//! `/api/v1/peers/status` and the connection test: the same typed views the
//! web interface's peers page renders ([`PeerStatus`], [`ConnectionTest`]).

use crate::problem::Problem;
use crate::{AppState, Caller};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use detente_auth::{PrincipalKind, Role};
use detente_node::exchange::ConnectionTest;
use detente_node::peer_status::{peer_statuses, PeerStatus};
use serde::Serialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/peers/status", get(status))
        .route("/api/v1/peers/{origin}/test", post(test))
}

#[derive(Serialize)]
struct Statuses {
    peers: Vec<PeerStatus>,
}

/// A local user; `act`: an officer or admin.
fn user(caller: &Caller, act: bool) -> Result<(), Problem> {
    let p = caller.require()?;
    let ok = matches!(p.kind, PrincipalKind::User)
        && (!act || matches!(p.role, Role::Officer | Role::Admin));
    match ok {
        true => Ok(()),
        false => Err(Problem::new(
            StatusCode::FORBIDDEN,
            format!("{} may not do this", p.name),
        )),
    }
}

async fn status(State(state): State<AppState>, caller: Caller) -> Result<Json<Statuses>, Problem> {
    user(&caller, false)?;
    let witness = state.witness.clone();
    let peers = peer_statuses(&state.node, &|origin| match &witness {
        Some(w) => w.latest(origin),
        None => Ok(None),
    })?;
    Ok(Json(Statuses { peers }))
}

/// Makes a signed call to the peer and says how it went; 200 either way,
/// since the test itself ran (its `ok` and `problem` tell the outcome).
async fn test(
    State(state): State<AppState>,
    caller: Caller,
    Path(origin): Path<String>,
) -> Result<Json<ConnectionTest>, Problem> {
    user(&caller, true)?;
    let ex = state.exchange.as_ref().ok_or_else(|| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "cooperation requests are not running on this node",
        )
    })?;
    ex.test_peer(&origin)
        .await
        .map(Json)
        .ok_or_else(|| Problem::not_found(format!("no peer {origin}")))
}
