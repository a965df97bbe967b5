//! Cooperation requests over HTTP: `/api/v1/requests` for the node's users, and
//! `/federation/v1/envelopes` and `/federation/v1/batch`, where peers deliver
//! signed envelopes.

use crate::problem::Problem;
use crate::{AppState, Caller};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use detente_auth::{Principal, PrincipalKind, Role};
use detente_domain::Origin;
use detente_node::exchange::{Exchange, ExchangeError};
use detente_requests::{EventKind, NewRequest, PartyError, Status};
use detente_storage::{Direction, RequestFilter, StoredText};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/requests", get(list).post(create))
        .route("/api/v1/requests/{id}", get(show))
        .route("/api/v1/requests/{id}/{action}", post(act))
        .route("/api/v1/attachments", post(upload))
        .route("/api/v1/attachments/{sha256}", get(download))
        .route("/api/v1/report", get(report))
        .route("/api/v1/report/evidence", post(evidence))
        .route("/federation/v1/envelopes", post(deliver))
        .route("/federation/v1/batch", post(deliver_batch))
        .route("/federation/v1/attachments/{sha256}", get(peer_download))
}

impl From<ExchangeError> for Problem {
    fn from(e: ExchangeError) -> Self {
        match e {
            ExchangeError::NotFound(m) => Problem::not_found(m),
            ExchangeError::Invalid(m) => Problem::new(StatusCode::UNPROCESSABLE_ENTITY, m),
            ExchangeError::Conflict(t) => Problem::new(StatusCode::CONFLICT, t.to_string()),
            ExchangeError::Refused(m) => Problem::new(StatusCode::FORBIDDEN, m),
            // A party signing the other party's event is a lifecycle refusal
            // (409, never retried); naming other parties, or not being one, 403.
            ExchangeError::Party(p @ PartyError::WrongRole { .. }) => {
                Problem::new(StatusCode::CONFLICT, p.to_string())
            }
            ExchangeError::Party(p) => Problem::new(StatusCode::FORBIDDEN, p.to_string()),
            ExchangeError::PeerUnavailable(m) => Problem::new(StatusCode::BAD_GATEWAY, m),
            e @ ExchangeError::Gate { .. } => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
            }
            ExchangeError::Node(n) => Problem::from(n),
        }
    }
}

fn exchange(state: &AppState) -> Result<&Arc<Exchange>, Problem> {
    state.exchange.as_ref().ok_or_else(|| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "cooperation requests are not running on this node",
        )
    })
}

/// A local user; officers and admins may act, auditors and reviewers only read.
fn user(caller: &Caller, act: bool) -> Result<Principal, Problem> {
    let p = caller.require()?.clone();
    let ok = matches!(p.kind, PrincipalKind::User)
        && (!act || matches!(p.role, Role::Officer | Role::Admin));
    if !ok {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            format!("{} may not do this", p.name),
        ));
    }
    Ok(p)
}

fn json_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, Problem> {
    serde_json::from_slice(body)
        .map_err(|e| Problem::bad_request(format!("invalid JSON body: {e}")))
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, Problem> {
    let officer = user(&caller, true)?;
    let request: NewRequest = json_body(&body)?;
    let view = exchange(&state)?
        .submit_as(request, Some(&officer.name))
        .await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    user(&caller, false)?;
    Ok(Json(exchange(&state)?.show(&id)?))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, Problem> {
    user(&caller, false)?;
    let unknown: Vec<&String> = q
        .keys()
        .filter(|k| !["peer", "direction", "status", "since", "limit"].contains(&k.as_str()))
        .collect();
    if !unknown.is_empty() {
        return Err(Problem::bad_request(format!(
            "unknown query parameter(s): {unknown:?}"
        )));
    }
    let limit = match q.get("limit") {
        Some(l) => Some(
            l.parse::<u64>()
                .map_err(|_| Problem::bad_request(format!("limit={l:?} is not a number")))?,
        ),
        None => None,
    };
    let direction = match q.get("direction") {
        Some(d) => Some(
            Direction::from_text(d)
                .map_err(|_| Problem::bad_request("direction must be outbound or inbound"))?,
        ),
        None => None,
    };
    let status = match q.get("status") {
        Some(st) => Some(Status::from_text(st).map_err(|_| {
            Problem::bad_request(format!(
                "status={st:?} is not a request state (submitted, delivered, acknowledged, partially_answered, answered, declined, withdrawn)"
            ))
        })?),
        None => None,
    };
    if let Some(p) = q.get("peer") {
        Origin::parse(p).map_err(|e| Problem::bad_request(format!("peer: {e}")))?;
    }
    let filter = RequestFilter {
        peer: q.get("peer").cloned(),
        direction,
        status,
        // Normalised, as `submitted_at` is compared with it as text.
        since: since_param(&q)?.map(|t| detente_domain::time::format(&t)),
        limit,
        ..RequestFilter::default()
    };
    Ok(Json(
        json!({ "requests": exchange(&state)?.list(&filter)? }),
    ))
}

/// `acknowledge`, `answer`, `partial-answer`, `decline`, `withdraw`, `messages`,
/// `extend`: each body is the event's fields.
async fn act(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, Problem> {
    let officer = user(&caller, true)?;
    let tag = match action.as_str() {
        "acknowledge" => "acknowledged",
        "answer" => "answered",
        "partial-answer" => "partially_answered",
        "decline" => "declined",
        "withdraw" => "withdrawn",
        "messages" => "message",
        "extend" => "deadline_extended",
        other => {
            return Err(Problem::not_found(format!(
                "no action {other:?} on a request"
            )))
        }
    };
    let mut fields: Value = if body.is_empty() {
        json!({})
    } else {
        json_body(&body)?
    };
    let Some(obj) = fields.as_object_mut() else {
        return Err(Problem::bad_request("the body must be a JSON object"));
    };
    obj.insert("type".into(), json!(tag));
    let kind: EventKind = serde_json::from_value(fields)
        .map_err(|e| Problem::bad_request(format!("invalid {action}: {e}")))?;
    Ok(Json(
        exchange(&state)?
            .act_as(&id, kind, Some(&officer.name))
            .await?,
    ))
}

/// Stores an attachment; requests then cite it by the returned SHA-256.
async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    user(&caller, true)?;
    if body.is_empty() {
        return Err(Problem::bad_request("an attachment cannot be empty"));
    }
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let sha256 = hex::encode(detente_domain::sha256(&body));
    let now = detente_domain::time::format(&detente_domain::time::now());
    state
        .node
        .store()
        .put_attachment(&sha256, &media_type, &body, &now)?;
    let v = json!({ "sha256": sha256, "size": body.len(), "media_type": media_type });
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path(sha256): Path<String>,
) -> Result<Response, Problem> {
    user(&caller, false)?;
    check_digest(&sha256)?;
    let (media_type, content) = exchange(&state)?
        .attachment(&sha256)
        .await?
        .ok_or_else(|| Problem::not_found(format!("no attachment {sha256}")))?;
    Ok(stored_content(&sha256, media_type, content))
}

/// A peer fetches content this node cited to it.
async fn peer_download(
    State(state): State<AppState>,
    caller: Caller,
    Path(sha256): Path<String>,
) -> Result<Response, Problem> {
    let origin = calling_peer(&caller)?;
    check_digest(&sha256)?;
    let (media_type, content) = exchange(&state)?.attachment_for_peer(&origin, &sha256)?;
    Ok(stored_content(&sha256, media_type, content))
}

/// Uploaded content as a download: the media type it was uploaded with, but
/// never rendered or sniffed by a browser (it came from another party).
fn stored_content(sha256: &str, media_type: String, content: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, media_type),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{sha256}\""),
            ),
        ],
        content,
    )
        .into_response()
}

fn check_digest(sha256: &str) -> Result<(), Problem> {
    let ok = sha256.len() == 64
        && sha256
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !ok {
        return Err(Problem::bad_request(format!(
            "{sha256:?} is not a SHA-256 digest (64 lowercase hex digits)"
        )));
    }
    Ok(())
}

/// The optional `since` of report queries.
fn since_param(
    q: &HashMap<String, String>,
) -> Result<Option<detente_domain::time::Timestamp>, Problem> {
    q.get("since")
        .map(|s| detente_node::report::parse_date(s).map_err(Problem::bad_request))
        .transpose()
}

async fn report(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, Problem> {
    user(&caller, false)?;
    let ex = exchange(&state)?;
    let since = since_param(&q)?;
    let r = detente_node::report::build(
        ex.node(),
        q.get("peer").map(String::as_str),
        since,
        ex.now(),
    )?;
    Ok(Json(r))
}

/// Issues the report into the log and returns the evidence bundle.
async fn evidence(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, Problem> {
    user(&caller, false)?;
    let ex = exchange(&state)?;
    let since = since_param(&q)?;
    let b = detente_node::evidence::bundle(
        ex.node(),
        q.get("peer").map(String::as_str),
        since,
        ex.now(),
    )
    .await?;
    Ok(Json(b))
}

/// The peer a node-to-node call was signed by (checked by the middleware).
fn calling_peer(caller: &Caller) -> Result<String, Problem> {
    match caller.principal().map(|p| &p.kind) {
        Some(PrincipalKind::Peer { origin }) => Ok(origin.clone()),
        _ => Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            "envelopes must be signed by a configured peer (RFC 9421)",
        )),
    }
}

/// A peer delivers an envelope; the answer is the receipt.
async fn deliver(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, Problem> {
    let origin = calling_peer(&caller)?;
    let ex = exchange(&state)?;
    ex.peer_reachable(&origin).await;
    let response = ex.receive(&origin, &body).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], response).into_response())
}

/// Most envelopes one batch may carry.
const MAX_BATCH: usize = 256;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch {
    /// Base64 of each signed envelope's bytes.
    envelopes: Vec<String>,
}

/// A peer delivers several envelopes in one call. Each is handled as if
/// delivered alone, and the answer holds, in order, each one's receipt or
/// `{"problem": ...}`; nothing of a refused envelope is stored.
async fn deliver_batch(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<Value>, Problem> {
    use base64::{engine::general_purpose::STANDARD as B64, Engine};
    let origin = calling_peer(&caller)?;
    let batch: Batch = serde_json::from_slice(&body)
        .map_err(|e| Problem::bad_request(format!("not a batch of envelopes: {e}")))?;
    if batch.envelopes.is_empty() || batch.envelopes.len() > MAX_BATCH {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "a batch holds 1 to {MAX_BATCH} envelopes, not {}",
                batch.envelopes.len()
            ),
        ));
    }
    let envelopes = batch
        .envelopes
        .iter()
        .enumerate()
        .map(|(i, b)| {
            B64.decode(b)
                .map_err(|e| Problem::bad_request(format!("envelope {i} is not base64: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let ex = exchange(&state)?;
    ex.peer_reachable(&origin).await;
    let results = ex
        .receive_batch(&origin, &envelopes)
        .await
        .into_iter()
        .map(|r| match r {
            Ok(receipt) => serde_json::from_str(&receipt).unwrap_or(Value::Null),
            Err(e) => json!({ "problem": Problem::from(e) }),
        })
        .collect::<Vec<_>>();
    Ok(Json(json!({ "results": results })))
}
