//! Routes of the log read API (C2SP tlog-tiles plus JSON proofs), health and
//! metrics.

use crate::problem::Problem;
use crate::AppState;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use detente_log::tiles::TilePath;
use serde_json::json;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use tower_http::compression::CompressionLayer;

pub fn router(state: AppState) -> Router {
    let log = Router::new()
        .route("/log/checkpoint", get(checkpoint))
        .route("/log/checkpoint/cosigned", get(cosigned_checkpoint))
        .route("/log/tile/{*path}", get(tile))
        // C2SP tlog-tiles: entry bundles SHOULD be served compressed to clients
        // that accept it. Hash tiles are random bytes that gzip cannot shrink.
        .route(
            "/log/tile/entries/{*path}",
            get(entry_bundle).layer(CompressionLayer::new()),
        )
        .route("/log/proof/inclusion", get(inclusion))
        .route("/log/proof/consistency", get(consistency))
        .route_layer(middleware::from_fn_with_state(state.clone(), log_access));
    Router::new()
        .merge(log)
        .merge(crate::holds::router())
        .merge(crate::peers::router())
        .merge(crate::peer_status::router())
        .merge(crate::report_view::router())
        .merge(crate::exchange::router())
        .merge(crate::openapi::router())
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(|| async { Problem::not_found("no such resource") })
        .with_state(state)
}

/// Enforces `log.public = false`: only local users and peers may read the log.
async fn log_access(
    State(state): State<AppState>,
    caller: crate::Caller,
    req: Request,
    next: Next,
) -> Response {
    if state.node.config().log.public {
        return next.run(req).await;
    }
    if let Err(problem) = caller.require() {
        if problem.status != StatusCode::UNAUTHORIZED.as_u16() {
            return problem.into_response();
        }
        let mut r = Problem::new(
            StatusCode::UNAUTHORIZED,
            "this node's log is readable only by its users and peers",
        )
        .into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer, Basic realm=\"detente\""),
        );
        return r;
    }
    next.run(req).await
}

async fn checkpoint(State(state): State<AppState>) -> Response {
    let note = state.node.published().note.clone();
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        note,
    )
        .into_response()
}

/// The largest checkpoint with witness cosignatures, all of them appended.
async fn cosigned_checkpoint(State(state): State<AppState>) -> Result<Response, Problem> {
    let note = state
        .node
        .cosigned_checkpoint()?
        .ok_or_else(|| Problem::not_found("no checkpoint has been cosigned yet"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        note,
    )
        .into_response())
}

async fn tile(
    State(state): State<AppState>,
    Path(path): Path<String>,
) -> Result<Response, Problem> {
    let t = TilePath::parse(&path).map_err(|e| Problem::bad_request(e.to_string()))?;
    let node = state.node.clone();
    let bytes = tokio::task::spawn_blocking(move || node.tile(&t))
        .await
        .map_err(|_| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "tile read failed"))??
        .ok_or_else(|| Problem::not_found(format!("tile/{path} is beyond the current tree")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            // A tile's bytes never change once it exists, partial or full.
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        bytes,
    )
        .into_response())
}

/// An entry bundle: a tile under `tile/entries/`, compressed by the route's layer.
async fn entry_bundle(
    state: State<AppState>,
    Path(path): Path<String>,
) -> Result<Response, Problem> {
    tile(state, Path(format!("entries/{path}"))).await
}

/// Parses a required non-negative decimal query parameter.
fn param(q: &HashMap<String, String>, name: &str) -> Result<u64, Problem> {
    let v = q
        .get(name)
        .ok_or_else(|| Problem::bad_request(format!("missing query parameter {name}")))?;
    v.parse::<u64>()
        .ok()
        .filter(|_| v.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| Problem::bad_request(format!("{name}={v:?} is not a non-negative integer")))
}

fn b64_list(hashes: &[[u8; 32]]) -> Vec<String> {
    hashes.iter().map(|h| B64.encode(h)).collect()
}

async fn inclusion(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, Problem> {
    let index = param(&q, "index")?;
    let size = match q.contains_key("size") {
        true => param(&q, "size")?,
        false => state.node.published().size,
    };
    if index >= size {
        return Err(Problem::bad_request(format!(
            "index {index} is not below size {size}"
        )));
    }
    let hashes = state.node.inclusion_proof(index, size)?;
    let leaf = state.node.leaf_hash(index)?;
    Ok(Json(json!({
        "index": index,
        "size": size,
        "leaf_hash": B64.encode(leaf),
        "hashes": b64_list(&hashes),
    })))
}

async fn consistency(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, Problem> {
    let (from, to) = (param(&q, "from")?, param(&q, "to")?);
    // RFC 9162 2.1.4 defines PROOF(m, D[n]) only for 0 < m <= n: nothing can be
    // proven about the empty tree, so a verifier (Go's sumdb/tlog among them)
    // refuses such a proof; answering one would suggest otherwise.
    if from == 0 {
        return Err(Problem::bad_request(
            "from=0: a consistency proof is defined only from a non-empty tree (RFC 9162 2.1.4)",
        ));
    }
    if from > to {
        return Err(Problem::bad_request(format!(
            "from={from} is larger than to={to}"
        )));
    }
    let hashes = state.node.consistency_proof(from, to)?;
    Ok(Json(
        json!({ "from": from, "to": to, "hashes": b64_list(&hashes) }),
    ))
}

async fn healthz(State(state): State<AppState>) -> Response {
    let p = state.node.published();
    let node = state.node.clone();
    let reachable = tokio::task::spawn_blocking(move || node.store().ping()).await;
    if let Ok(Err(e)) = reachable {
        return Problem::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response();
    }
    match state.node.failure() {
        None => {
            Json(json!({"status": "ok", "origin": state.node.config().origin, "tree_size": p.size}))
                .into_response()
        }
        Some(why) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("log sequencer stopped: {why}"),
        )
        .into_response(),
    }
}

/// Prometheus text exposition. Written out directly rather than through a
/// registry crate: a handful of counters, and no process-global state, so several
/// nodes can run in one test process.
async fn metrics(State(state): State<AppState>) -> Response {
    let m = state.node.metrics();
    let p = state.node.published();
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    metric(
        "detente_log_tree_size",
        "gauge",
        "Entries in the transparency log.",
        p.size,
    );
    metric(
        "detente_log_appends_total",
        "counter",
        "Entries appended since start.",
        m.appends.load(Ordering::Relaxed),
    );
    metric(
        "detente_log_batches_total",
        "counter",
        "Batches committed since start.",
        m.batches.load(Ordering::Relaxed),
    );
    metric(
        "detente_log_batch_micros_total",
        "counter",
        "Time spent committing batches, microseconds.",
        m.batch_micros.load(Ordering::Relaxed),
    );
    metric(
        "detente_witness_conflicts_total",
        "counter",
        "Peer checkpoints refused since start as inconsistent with one the peer signed before (alert on any).",
        m.witness_conflicts.load(Ordering::Relaxed),
    );
    metric(
        "detente_log_tree_rebuilt_leaves",
        "gauge",
        "Leaves whose tree hashes were recomputed from the database at start (0 after a clean stop).",
        m.tree_rebuilt_leaves.load(Ordering::Relaxed),
    );
    if let Ok((pending, refused)) = state.node.store().outbox_counts() {
        metric(
            "detente_outbox_pending",
            "gauge",
            "Envelopes signed and logged but not yet receipted by the peer.",
            pending,
        );
        metric(
            "detente_outbox_refused",
            "gauge",
            "Envelopes a peer refused for good (not retried).",
            refused,
        );
    }
    let h = &state.http;
    let _ = writeln!(
        out,
        "# HELP detente_http_responses_total HTTP responses by status class.\n# TYPE detente_http_responses_total counter\n\
         detente_http_responses_total{{class=\"2xx_3xx\"}} {}\n\
         detente_http_responses_total{{class=\"4xx\"}} {}\n\
         detente_http_responses_total{{class=\"5xx\"}} {}",
        h.ok.load(Ordering::Relaxed),
        h.client_errors.load(Ordering::Relaxed),
        h.server_errors.load(Ordering::Relaxed)
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
