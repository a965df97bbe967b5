//! The rate limit replicas share: behind each replica's in-memory limiter
//! (a cheap local bound), one database round trip per request where the
//! store is shared, so that spreading calls over replicas gains a client
//! nothing. A single process passes straight through (see
//! [`detente_node::guards::Guards::take_token`]).

use crate::problem::Problem;
use crate::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;

pub async fn limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(client) = req.extensions().get::<ConnectInfo<SocketAddr>>() else {
        return next.run(req).await;
    };
    let key = format!("rate {}", crate::serve::client_key(client.0.ip()));
    let limits = &state.node.config().limits;
    let interval_us = (1_000_000 / limits.requests_per_second.max(1)).max(1) as i64;
    let now_us = chrono::Utc::now().timestamp_micros();
    match state
        .guards
        .take_token(key, now_us, interval_us, limits.burst)
        .await
    {
        Ok(None) => next.run(req).await,
        Ok(Some(wait_us)) => too_many(wait_us.div_ceil(1_000_000)),
        Err(e) => Problem::from(e).into_response(),
    }
}

fn too_many(retry_s: u64) -> Response {
    let mut r = Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate limit exceeded; slow down",
    )
    .into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, retry_s.max(1).into());
    r
}
