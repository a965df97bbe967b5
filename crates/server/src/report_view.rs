//! `/api/v1/report/series`: the reciprocity report of one peer and period with
//! the series its charts draw, the same [`ReciprocityView`] the web
//! interface's reciprocity page renders.

use crate::problem::Problem;
use crate::{AppState, Caller};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use detente_auth::PrincipalKind;
use detente_domain::Origin;
use detente_node::report::{parse_date, summaries};
use detente_requests::Period;
use detente_web::reciprocity::ReciprocityView;
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/report/series", get(series))
}

async fn series(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<ReciprocityView>, Problem> {
    let p = caller.require()?;
    if !matches!(p.kind, PrincipalKind::User) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            format!("{} may not do this", p.name),
        ));
    }
    let ex = state.exchange.as_ref().ok_or_else(|| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "cooperation requests are not running on this node",
        )
    })?;
    let peer = q
        .get("peer")
        .ok_or_else(|| Problem::bad_request("missing query parameter peer"))?;
    let peer = Origin::parse(peer).map_err(|e| Problem::bad_request(e.to_string()))?;
    let date = |k: &str| {
        q.get(k)
            .map(|s| parse_date(s).map_err(Problem::bad_request))
            .transpose()
    };
    let period = Period {
        since: date("since")?.unwrap_or(chrono::DateTime::UNIX_EPOCH),
        until: date("until")?,
    };
    if period.until.is_some_and(|u| u <= period.since) {
        return Err(Problem::bad_request("until must come after since"));
    }
    let all = summaries(ex.node(), Some(peer.as_str()), Some(period.since))?;
    Ok(Json(ReciprocityView::build(&all, &peer, period, ex.now())))
}
