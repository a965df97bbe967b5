//! detente's HTTP server. [`run`] takes a bound listener and a shutdown future, so
//! tests start real nodes on port 0 and stop them cleanly.
//!
//! Error policy: handlers return [`Problem`]; every error a client sees — from a
//! handler, an extractor, the router (404/405) or a middleware (413, 408, 429) — is
//! RFC 9457 `application/problem+json`, except under `/taxii2/`, where the TAXII
//! 2.1 error format applies.

mod caller;
mod compose;
mod exchange;
mod holds;
mod middleware;
mod openapi;
mod peer_status;
mod peers;
mod problem;
mod report_view;
mod routes;
mod serve;
mod shared_limit;
pub mod tls;

pub use caller::{Caller, PasswordChecks};
pub use compose::{node_app, node_app_parts, node_app_with_clock, GateFilter, NodeAuth};
pub use peers::PEER_HEADER;
pub use problem::Problem;
pub use serve::{serve, ConnLimits, LocalAddr};

use axum::Router;
use detente_auth::Authenticator;
use detente_node::outbound::Outbound;
use detente_node::Node;
use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Counters of HTTP responses, by status class.
#[derive(Default)]
pub struct HttpMetrics {
    pub ok: AtomicU64,
    pub client_errors: AtomicU64,
    pub server_errors: AtomicU64,
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub node: Arc<Node>,
    pub http: Arc<HttpMetrics>,
    /// Recognises the node's users (and peers); without it only public
    /// resources are served.
    pub auth: Option<Arc<dyn Authenticator>>,
    /// The transfer gate, for reviewers resolving held payloads.
    pub outbound: Option<Arc<Outbound>>,
    /// Cooperation requests, when the node runs them.
    pub exchange: Option<Arc<detente_node::exchange::Exchange>>,
    /// This node as a witness of its peers' logs.
    pub witness: Option<Arc<detente_witness::Witness>>,
    /// Dropping the last clone stops the delivery worker.
    pub stop_delivery: Option<Arc<tokio::sync::watch::Sender<bool>>>,
    /// Nonces of signed peer calls (against replays) and the rate limit
    /// replicas share.
    pub guards: Arc<detente_node::guards::Guards>,
    /// The authorities of `public_urls` (lower case); empty: the address a
    /// connection came in on.
    pub authorities: Arc<Vec<String>>,
    /// Password checks off the async workers, bounded.
    pub password_checks: Arc<PasswordChecks>,
}

impl AppState {
    pub fn new(node: Arc<Node>) -> Self {
        AppState {
            http: Arc::default(),
            auth: None,
            outbound: None,
            exchange: None,
            witness: None,
            stop_delivery: None,
            guards: Arc::new(detente_node::guards::Guards::new(node.store())),
            authorities: Arc::new(node.config().public_authorities().unwrap_or_default()),
            password_checks: Arc::new(PasswordChecks::new(
                node.config().limits.password_checks,
                node.config().limits.password_queue,
            )),
            node,
        }
    }
}

/// The whole application. `extra` routes (TAXII) are merged in and get the same
/// rate limits, timeouts and tracing; they enforce their own body limit, which
/// TAXII reports in its own error format.
pub fn app(state: AppState, extra: Option<Router>) -> Router {
    let limit = state.node.config().limits.max_body_bytes;
    let mut router =
        routes::router(state.clone()).layer(tower_http::limit::RequestBodyLimitLayer::new(limit));
    if let Some(extra) = extra {
        router = router.merge(extra);
    }
    middleware::wrap(router, state)
}

/// Serves `app` over HTTPS on `listener` until `shutdown` resolves, with the
/// default connection limits (see [`serve`] for configured ones).
pub async fn run_tls(
    listener: TcpListener,
    tls: std::sync::Arc<tokio_rustls::rustls::ServerConfig>,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve(listener, Some(tls), app, ConnLimits::default(), shutdown).await
}

/// Serves `app` on `listener` until `shutdown` resolves, with the default
/// connection limits (see [`serve`] for configured ones).
pub async fn run(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve(listener, None, app, ConnLimits::default(), shutdown).await
}
