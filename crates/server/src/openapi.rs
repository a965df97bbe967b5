//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of the node's user,
//! peer and log API, written by hand in `openapi.json` beside this file. Public:
//! it describes the interface, not the node's data. `tests/api/openapi.rs` checks it
//! against the router.

use crate::AppState;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

/// The document, byte for byte as served.
pub const DOCUMENT: &str = include_str!("openapi.json");

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/openapi.json", get(document))
}

async fn document() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        DOCUMENT,
    )
}
