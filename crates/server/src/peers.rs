//! Peers over HTTP: verification of signed node-to-node calls (RFC 9421), and
//! `/api/v1/peers` for administrators.

use crate::problem::Problem;
use crate::{AppState, Caller};
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use detente_auth::{PrincipalKind, Role};
use detente_federation::Signed;
use detente_node::peers::Peer;
use detente_storage::PeerRow;
use serde::Deserialize;
use serde_json::{json, Value};

/// Set by the server, never by clients, once a peer's signature verified.
pub const PEER_HEADER: &str = "x-detente-peer";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Verifies signed calls (those with `Signature-Input`); an unknown key, bad
/// signature, stale or replayed call gets 401 and reaches no handler.
pub async fn verify_signature(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    req.headers_mut().remove(PEER_HEADER);
    if !req.headers().contains_key("signature-input") {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let limit = state.node.config().limits.max_body_bytes;
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body is larger than the node accepts",
        )
        .into_response();
    };
    let authority = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or(parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or("")
        .to_ascii_lowercase();
    let local = parts.extensions.get::<crate::LocalAddr>().map(|a| a.0);
    if !names_this_node(&state, local, &authority) {
        return refused(format!(
            "the call is signed for {authority:?}, which is not this node \
             (a call signed for another node cannot be replayed here)"
        ));
    }
    let query = parts
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let signed = Signed {
        method: parts.method.as_str(),
        authority: &authority,
        path: parts.uri.path(),
        query: &query,
        body: &bytes,
    };
    let node = state.node.clone();
    let lookup = move |origin: &str| node.peer(origin).ok().flatten().map(|p| p.key);
    let now = now();
    let verified = detente_federation::verify_unconsumed(&parts.headers, &signed, lookup, now);
    match consume_nonce(&state, verified, now).await {
        Ok(key) => {
            let origin = HeaderValue::from_str(key.name()).expect("origins are header-safe");
            parts.headers.insert(PEER_HEADER, origin);
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(Refusal::Signature(e)) => refused(e.to_string()),
        Err(Refusal::Store(e)) => Problem::from(e).into_response(),
    }
}

enum Refusal {
    Signature(detente_federation::SigError),
    Store(detente_storage::StorageError),
}

/// The key of a verified call once its nonce is consumed, by this replica
/// or (where replicas share the store) by any.
async fn consume_nonce(
    state: &AppState,
    verified: Result<detente_federation::Verified, detente_federation::SigError>,
    now: u64,
) -> Result<detente_domain::VerifierKey, Refusal> {
    let v = verified.map_err(Refusal::Signature)?;
    match state.guards.first_use(&v.nonce, now, v.expires).await {
        Ok(true) => Ok(v.key),
        Ok(false) => Err(Refusal::Signature(detente_federation::SigError::Replayed)),
        Err(e) => Err(Refusal::Store(e)),
    }
}

fn refused(why: String) -> Response {
    let mut r = Problem::new(
        StatusCode::UNAUTHORIZED,
        format!("peer signature refused: {why}"),
    )
    .into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Signature"),
    );
    r
}

/// Whether `authority` is one of this node's own: a configured public URL's,
/// or else the address the connection came in on (`localhost` too on
/// loopback). Signatures cover the authority, so this binds every signed
/// call to the node it was meant for, whatever other nodes trust its signer.
fn names_this_node(state: &AppState, local: Option<std::net::SocketAddr>, authority: &str) -> bool {
    if !state.authorities.is_empty() {
        return state.authorities.iter().any(|a| a == authority);
    }
    let Some(local) = local else {
        return false;
    };
    authority == local.to_string()
        || (local.ip().is_loopback() && authority == format!("localhost:{}", local.port()))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/peers", get(list).post(add))
        .route("/api/v1/peers/{origin}", get(show).delete(remove))
        .route("/federation/v1/whoami", get(whoami))
}

fn require_user(caller: &Caller, admin: bool) -> Result<(), Problem> {
    let p = caller.require()?;
    let allowed = matches!(p.kind, PrincipalKind::User) && (!admin || p.role == Role::Admin);
    if !allowed {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            format!("{} may not do this", p.name),
        ));
    }
    Ok(())
}

fn to_json(p: &PeerRow) -> Value {
    json!({ "origin": p.origin, "url": p.url, "key": p.key, "country": p.country, "added": p.added })
}

async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, Problem> {
    require_user(&caller, false)?;
    let peers = state.node.store().peers()?;
    Ok(Json(
        json!({ "peers": peers.iter().map(to_json).collect::<Vec<_>>() }),
    ))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(origin): Path<String>,
) -> Result<Json<Value>, Problem> {
    require_user(&caller, false)?;
    let p = state
        .node
        .store()
        .peer(&origin)?
        .ok_or_else(|| Problem::not_found(format!("no peer {origin}")))?;
    Ok(Json(to_json(&p)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPeer {
    origin: String,
    url: String,
    key: String,
    country: String,
}

async fn add(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<NewPeer>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, Problem> {
    require_user(&caller, true)?;
    let Json(n) = body.map_err(|e| Problem::bad_request(e.body_text()))?;
    let peer = Peer::parse(&n.origin, &n.url, &n.key, &n.country)
        .map_err(|e| Problem::bad_request(e.to_string()))?;
    if peer.origin.as_str() == state.node.config().origin {
        return Err(Problem::bad_request("a node cannot be its own peer"));
    }
    if !state.node.add_peer(&peer).await? {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            format!("{} is already a peer", peer.origin),
        ));
    }
    if let Some(w) = &state.witness {
        w.add_log(crate::compose::peer_log(
            peer.origin.as_str(),
            &peer.key.to_string(),
        )?);
    }
    let row = state
        .node
        .store()
        .peer(peer.origin.as_str())?
        .ok_or_else(|| Problem::not_found("peer vanished"))?;
    Ok((StatusCode::CREATED, Json(to_json(&row))).into_response())
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(origin): Path<String>,
) -> Result<StatusCode, Problem> {
    require_user(&caller, true)?;
    match state.node.remove_peer(&origin).await? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(Problem::not_found(format!("no peer {origin}"))),
    }
}

/// Lets a peer check that its signed calls are accepted.
async fn whoami(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, Problem> {
    match caller.principal().map(|p| &p.kind) {
        Some(PrincipalKind::Peer { origin }) => Ok(Json(
            json!({ "peer": origin, "node": state.node.config().origin }),
        )),
        _ => Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            "sign the call with a configured peer's key",
        )),
    }
}
