//! RFC 9457 problem details.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use detente_node::NodeError;
use serde::Serialize;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Seconds for `Retry-After` (429, 503).
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    /// A problem with the generic `about:blank` type, titled by its status.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// Tells the client when to try again.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs.max(1));
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut r = (status, body).into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(secs) = self.retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, secs.into());
        }
        r
    }
}

/// The one place node errors become HTTP statuses. Internal details are logged,
/// not sent.
impl From<NodeError> for Problem {
    fn from(e: NodeError) -> Self {
        match e {
            NodeError::Log(detente_log::LogError::OutOfRange(what)) => {
                Problem::bad_request(format!("{what} is out of range"))
            }
            NodeError::Closed | NodeError::Append(_) => {
                tracing::error!(error = %e, "append unavailable");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the log is not accepting appends",
                )
            }
            NodeError::Storage(detente_storage::StorageError::Full(why)) => {
                tracing::error!(error = %why, "storage full");
                Problem::new(
                    StatusCode::INSUFFICIENT_STORAGE,
                    "the node's storage is full: nothing was recorded; retry once space is freed",
                )
            }
            NodeError::FourEyes(why) => Problem::new(StatusCode::FORBIDDEN, why),
            NodeError::Gate(why) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("transfer gate: {why}"),
            ),
            other => {
                tracing::error!(error = %other, "internal error");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; see the node's log",
                )
            }
        }
    }
}

impl From<detente_storage::StorageError> for Problem {
    fn from(e: detente_storage::StorageError) -> Self {
        Problem::from(NodeError::Storage(e))
    }
}
