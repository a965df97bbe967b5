//! The add-checkpoint endpoint.

use crate::{Witness, WitnessError};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use std::sync::Arc;

/// Request bodies above this are refused with 413: 63 proof lines and a
/// checkpoint with a few dozen signatures fit in a few KiB.
pub const MAX_BODY: usize = 64 * 1024;

/// Media type of the 409 body, fixed by tlog-witness.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

const TEXT: &str = "text/plain; charset=utf-8";

/// Mounts `POST /witness/add-checkpoint`.
pub fn router(state: Arc<Witness>) -> Router {
    router_with_prefix(state, "/witness")
}

/// Mounts `POST <prefix>/add-checkpoint`; `prefix` is the submission prefix,
/// without a trailing slash (empty for the root).
pub fn router_with_prefix(state: Arc<Witness>, prefix: &str) -> Router {
    let path = format!("{}/add-checkpoint", prefix.trim_end_matches('/'));
    Router::new()
        .route(&path, post(add_checkpoint))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

async fn add_checkpoint(State(w): State<Arc<Witness>>, body: Bytes) -> Response {
    // Signature checks and the durable SQLite commit block: keep them off the
    // async workers.
    let result = tokio::task::spawn_blocking(move || w.add_checkpoint(&body)).await;
    match result {
        Ok(Ok(sig)) => ([(header::CONTENT_TYPE, TEXT)], sig.line()).into_response(),
        Ok(Err(e)) => error_response(&e),
        Err(e) => {
            tracing::error!(error = %e, "witness task failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, TEXT)],
                "internal error\n",
            )
                .into_response()
        }
    }
}

/// The HTTP status tlog-witness assigns to each refusal.
pub fn status_of(e: &WitnessError) -> StatusCode {
    match e {
        WitnessError::Malformed(_) | WitnessError::OldAfterNew { .. } => StatusCode::BAD_REQUEST,
        WitnessError::UnknownOrigin(_) => StatusCode::NOT_FOUND,
        WitnessError::Untrusted(_) => StatusCode::FORBIDDEN,
        WitnessError::SizeMismatch { .. } | WitnessError::RootMismatch { .. } => {
            StatusCode::CONFLICT
        }
        WitnessError::BadProof(_) => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn error_response(e: &WitnessError) -> Response {
    let status = status_of(e);
    match e {
        // A same-size fork answers with the stored size too: the spec fixes the
        // 409 body only for the size mismatch, and one body shape for every 409
        // lets clients tell the two apart (size == their old size means a fork).
        WitnessError::SizeMismatch { stored: size } | WitnessError::RootMismatch { size } => (
            status,
            [(header::CONTENT_TYPE, SIZE_CONTENT_TYPE)],
            format!("{size}\n"),
        )
            .into_response(),
        _ if status == StatusCode::INTERNAL_SERVER_ERROR => {
            tracing::error!(error = %e, "witness failed");
            (status, [(header::CONTENT_TYPE, TEXT)], "internal error\n").into_response()
        }
        _ => (status, [(header::CONTENT_TYPE, TEXT)], format!("{e}\n")).into_response(),
    }
}
