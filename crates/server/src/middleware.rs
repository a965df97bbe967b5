//! The layers every route gets: panic catching, tracing, RFC 9457 errors for
//! responses that middleware or the router produced, per-client rate limits,
//! timeouts and request body limits.

use crate::problem::{Problem, PROBLEM_JSON};
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::GovernorLayer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub fn wrap(router: Router, state: AppState) -> Router {
    let limits = state.node.config().limits.clone();
    let governor = GovernorConfigBuilder::default()
        .per_nanosecond(1_000_000_000 / limits.requests_per_second.max(1))
        .burst_size(limits.burst)
        .error_handler(|e| {
            let retry = match &e {
                tower_governor::GovernorError::TooManyRequests { wait_time, .. } => *wait_time,
                _ => 1,
            };
            let mut r = Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate limit exceeded; slow down",
            )
            .into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, retry.max(1).into());
            r
        })
        .finish()
        .expect("rate limit is positive");
    let governor = Arc::new(governor);
    spawn_limiter_cleanup(governor.limiter().clone());
    router
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::caller::authenticate,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::peers::verify_signature,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(limits.request_timeout_secs),
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::shared_limit::limit,
        ))
        .layer(GovernorLayer { config: governor })
        .layer(middleware::from_fn_with_state(state, problems_and_metrics))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(|_| {
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; see the node's log",
            )
            .into_response()
        }))
}

/// Keeps the per-client rate-limit table from growing without bound.
fn spawn_limiter_cleanup<K, M>(
    limiter: Arc<
        governor::RateLimiter<
            K,
            governor::state::keyed::DashMapStateStore<K>,
            governor::clock::QuantaClock,
            M,
        >,
    >,
) where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    M: governor::middleware::RateLimitingMiddleware<governor::clock::QuantaInstant>
        + Send
        + Sync
        + 'static,
{
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        handle.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                limiter.retain_recent();
            }
        });
    }
}

/// Turns bare error responses (router 404/405, 413, 408) into problem+json and
/// counts responses. TAXII paths keep their own error format.
async fn problems_and_metrics(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // TAXII and tlog-witness define their own error bodies (a witness's 409
    // carries the tree size), and the web interface answers browsers with
    // HTML pages, so they are passed through untouched.
    let path = req.uri().path();
    let own_format = path.starts_with("/taxii2")
        || path.starts_with("/witness/")
        || path == "/"
        || path == "/ui"
        || path.starts_with("/ui/");
    let res = next.run(req).await;
    let status = res.status();
    let counter = match status.as_u16() {
        500.. => &state.http.server_errors,
        400.. => &state.http.client_errors,
        _ => &state.http.ok,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    let is_problem = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes().starts_with(PROBLEM_JSON.as_bytes())
            || v.as_bytes().starts_with(b"application/taxii+json")
    });
    if !status.is_client_error() && !status.is_server_error() || is_problem || own_format {
        return res;
    }
    let detail = match status {
        StatusCode::NOT_FOUND => "no such resource".to_string(),
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed on this resource".to_string(),
        StatusCode::PAYLOAD_TOO_LARGE => "request body is larger than the node accepts".to_string(),
        StatusCode::REQUEST_TIMEOUT => "request took too long".to_string(),
        _ => body_text(res).await,
    };
    Problem::new(status, detail).into_response()
}

async fn body_text(res: Response) -> String {
    let bytes = axum::body::to_bytes(res.into_body(), 4096)
        .await
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).trim().to_string()
}
