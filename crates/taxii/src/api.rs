//! The TAXII 2.1 HTTP interface.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use detente_auth::{AuthError, Principal, PrincipalKind, Role};
use detente_stix::{Reader, Tlp};
use serde_json::{json, Value};

use crate::cursor::Cursor;
use crate::params::{self, Filters};
use crate::store::{Collection, NewObject, ObjectQuery, ObjectRow, Stored, VersionSel};
use crate::{format_timestamp, OutboundDecision, Taxii, TaxiiError};

pub(crate) const TAXII_MEDIA: &str = "application/taxii+json;version=2.1";
const STIX_MEDIA: &str = "application/stix+json;version=2.1";
/// The one API root's path.
pub const API_ROOT: &str = "/taxii2/api/";

/// The TAXII routes, all under `/taxii2/`. No global fallback is set so the
/// node can merge this router with its own.
pub fn router(state: Arc<Taxii>) -> Router {
    const C: &str = "/taxii2/api/collections/{cid}";
    Router::new()
        .route("/taxii2/", get(discovery))
        .route(API_ROOT, get(api_root))
        .route("/taxii2/api/status/{id}/", get(status))
        .route("/taxii2/api/collections/", get(collections))
        .route(&format!("{C}/"), get(collection))
        .route(&format!("{C}/manifest/"), get(manifest))
        .route(&format!("{C}/objects/"), get(get_objects).post(add_objects))
        .route(
            &format!("{C}/objects/{{oid}}/"),
            get(get_object).delete(delete_object),
        )
        .route(&format!("{C}/objects/{{oid}}/versions/"), get(versions))
        .route("/taxii2/{*rest}", any(not_found))
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// A TAXII error message resource.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    title: &'static str,
    description: String,
    /// Seconds for `Retry-After` (429, 503).
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, title: &'static str, description: impl Into<String>) -> Self {
        ApiError {
            status,
            title,
            description: description.into(),
            retry_after: None,
        }
    }

    fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs.max(1));
        self
    }

    fn bad_request(description: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "Bad request", description)
    }

    fn not_found(description: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "Not found", description)
    }

    fn forbidden(description: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "Forbidden", description)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "title": self.title,
            "description": self.description,
            "http_status": self.status.as_u16().to_string(),
        });
        let mut response = taxii_response(self.status, body.to_string());
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"detente\", charset=\"UTF-8\""),
            );
        }
        response
    }
}

impl From<TaxiiError> for ApiError {
    fn from(e: TaxiiError) -> Self {
        match e {
            TaxiiError::NotFound(m) => ApiError::not_found(m),
            TaxiiError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "Conflict", m),
            other => {
                tracing::error!(error = %other, "TAXII request failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal error",
                    "the server could not complete the request",
                )
            }
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError::bad_request(format!("malformed query string: {e}"))
    }
}

type ApiResult = Result<Response, ApiError>;

fn taxii_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(TAXII_MEDIA))],
        body,
    )
        .into_response()
}

/// Runs blocking store work off the async executor.
async fn blocking<T: Send + 'static, E: Into<TaxiiError> + Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::from(TaxiiError::Internal(e.to_string())))?
        .map_err(|e| ApiError::from(e.into()))
}

/// The authenticated caller. Extraction also enforces the Accept header, so
/// every TAXII endpoint gets 401 and 406 the same way.
pub(crate) struct Ctx {
    principal: Principal,
}

impl FromRequestParts<Arc<Taxii>> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<Taxii>) -> Result<Ctx, ApiError> {
        let principal = authenticate(state, parts).await?;
        if !accepts_taxii(&parts.headers) {
            return Err(ApiError::new(
                StatusCode::NOT_ACCEPTABLE,
                "Not acceptable",
                format!("this server answers with {TAXII_MEDIA}"),
            ));
        }
        Ok(Ctx { principal })
    }
}

/// The caller: as the node's server found it before routing (see
/// [`detente_auth::Authenticated`]), else checked here off the async workers.
async fn authenticate(state: &Arc<Taxii>, parts: &Parts) -> Result<Principal, ApiError> {
    let found = parts
        .extensions
        .get::<detente_auth::Authenticated>()
        .cloned();
    let result = match found {
        Some(a) => a.0,
        None => {
            let users = state.users.clone();
            let headers = parts.headers.clone();
            let client = parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip());
            let checked =
                tokio::task::spawn_blocking(move || match users.start(&headers, client) {
                    detente_auth::Step::Done(r) => r,
                    detente_auth::Step::Password(c) => users.finish(c).map(Some),
                });
            Arc::new(
                checked
                    .await
                    .map_err(|e| ApiError::from(TaxiiError::Internal(e.to_string())))?,
            )
        }
    };
    let unauthorized = |d: &str| ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized", d);
    match result.as_ref() {
        Ok(Some(p)) => Ok(p.clone()),
        Ok(None) => Err(unauthorized("authentication required")),
        Err(AuthError::Throttled(secs)) => Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests",
            "too many failed logins from this address; retry later",
        )
        .retry_after(*secs)),
        Err(AuthError::Busy) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service unavailable",
            "too many password checks waiting; retry shortly",
        )
        .retry_after(1)),
        Err(AuthError::Storage(e)) => Err(TaxiiError::Internal(e.to_string()).into()),
        Err(e) => Err(unauthorized(&e.to_string())),
    }
}

fn media_parts(range: &str) -> (String, Option<String>) {
    let mut parts = range.split(';').map(str::trim);
    let essence = parts.next().unwrap_or("").to_ascii_lowercase();
    let version = parts
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("version"))
        .map(|(_, v)| v.trim().trim_matches('"').to_string());
    (essence, version)
}

fn accepts_taxii(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::ACCEPT) else {
        return true;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    value.split(',').any(|range| {
        let (essence, version) = media_parts(range);
        match essence.as_str() {
            "application/taxii+json" => version.is_none_or(|v| v == "2.1"),
            "application/*" | "*/*" => true,
            _ => false,
        }
    })
}

fn is_taxii_content(headers: &HeaderMap) -> bool {
    let Some(Ok(value)) = headers.get(header::CONTENT_TYPE).map(|v| v.to_str()) else {
        return false;
    };
    let (essence, version) = media_parts(value);
    essence == "application/taxii+json" && version.is_none_or(|v| v == "2.1")
}

fn reader(p: &Principal) -> Reader<'_> {
    match &p.kind {
        PrincipalKind::User => Reader::LocalUser { name: &p.name },
        PrincipalKind::Peer { origin } => Reader::Peer { origin },
    }
}

/// TLP codes (see `Tlp::code`) the principal may read in this collection.
fn tlp_codes(p: &Principal, c: &Collection) -> Vec<i64> {
    [
        Tlp::Clear,
        Tlp::Green,
        Tlp::Amber,
        Tlp::AmberStrict,
        Tlp::Red,
    ]
    .into_iter()
    .filter(|t| t.may_read(reader(p), &c.red_recipients))
    .map(Tlp::code)
    .collect()
}

/// A collection the principal can neither read nor write does not exist for
/// them (404), so collection ids do not leak.
async fn visible_collection(
    t: &Arc<Taxii>,
    ctx: &Ctx,
    cid: String,
) -> Result<Collection, ApiError> {
    let store = t.store.clone();
    let found = blocking(move || store.collection(&cid)).await?;
    match found {
        Some(c) if c.can_read(&ctx.principal.name) || c.can_write(&ctx.principal.name) => Ok(c),
        _ => Err(ApiError::not_found("no such collection")),
    }
}

async fn readable_collection(
    t: &Arc<Taxii>,
    ctx: &Ctx,
    cid: String,
) -> Result<Collection, ApiError> {
    let c = visible_collection(t, ctx, cid).await?;
    if !c.can_read(&ctx.principal.name) {
        return Err(ApiError::forbidden("no read access to this collection"));
    }
    Ok(c)
}

fn base_url(t: &Taxii, headers: &HeaderMap) -> String {
    if let Some(base) = &t.config.public_base_url {
        return base.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

async fn discovery(State(t): State<Arc<Taxii>>, _ctx: Ctx, headers: HeaderMap) -> ApiResult {
    let root = format!("{}{API_ROOT}", base_url(&t, &headers));
    let mut body = json!({
        "title": t.config.title,
        "default": root,
        "api_roots": [root],
    });
    if let Some(d) = &t.config.description {
        body["description"] = json!(d);
    }
    if let Some(c) = &t.config.contact {
        body["contact"] = json!(c);
    }
    Ok(taxii_response(StatusCode::OK, body.to_string()))
}

async fn api_root(State(t): State<Arc<Taxii>>, _ctx: Ctx) -> ApiResult {
    let mut body = json!({
        "title": t.config.title,
        "versions": [TAXII_MEDIA],
        "max_content_length": t.config.max_content_length,
    });
    if let Some(d) = &t.config.description {
        body["description"] = json!(d);
    }
    Ok(taxii_response(StatusCode::OK, body.to_string()))
}

async fn status(State(t): State<Arc<Taxii>>, ctx: Ctx, Path(id): Path<String>) -> ApiResult {
    let store = t.store.clone();
    let found = blocking(move || store.taxii_status(&id)).await?;
    match found {
        Some((body, owner)) if owner == ctx.principal.name || ctx.principal.role == Role::Admin => {
            Ok(taxii_response(StatusCode::OK, body))
        }
        _ => Err(ApiError::not_found("no such status resource")),
    }
}

fn collection_json(c: &Collection, principal: &str) -> Value {
    let mut v = json!({
        "id": c.id,
        "title": c.title,
        "can_read": c.can_read(principal),
        "can_write": c.can_write(principal),
        "media_types": [STIX_MEDIA],
    });
    if let Some(d) = &c.description {
        v["description"] = json!(d);
    }
    if let Some(a) = &c.alias {
        v["alias"] = json!(a);
    }
    v
}

async fn collections(State(t): State<Arc<Taxii>>, ctx: Ctx) -> ApiResult {
    let store = t.store.clone();
    let all = blocking(move || store.collections()).await?;
    let name = &ctx.principal.name;
    let visible: Vec<Value> = all
        .iter()
        .filter(|c| c.can_read(name) || c.can_write(name))
        .map(|c| collection_json(c, name))
        .collect();
    let body = if visible.is_empty() {
        json!({})
    } else {
        json!({ "collections": visible })
    };
    Ok(taxii_response(StatusCode::OK, body.to_string()))
}

async fn collection(State(t): State<Arc<Taxii>>, ctx: Ctx, Path(cid): Path<String>) -> ApiResult {
    let c = visible_collection(&t, &ctx, cid).await?;
    let body = collection_json(&c, &ctx.principal.name);
    Ok(taxii_response(StatusCode::OK, body.to_string()))
}

/// What a listing endpoint is and what it may filter on.
struct ListingKind {
    name: &'static str,
    allowed: &'static [&'static str],
    default_version: VersionSel,
    with_body: bool,
}

const OBJECTS: ListingKind = ListingKind {
    name: "objects",
    allowed: params::OBJECTS,
    default_version: VersionSel::Last,
    with_body: true,
};
const MANIFEST: ListingKind = ListingKind {
    name: "manifest",
    allowed: params::OBJECTS,
    default_version: VersionSel::Last,
    with_body: false,
};
const OBJECT: ListingKind = ListingKind {
    name: "object",
    allowed: params::OBJECT,
    default_version: VersionSel::Last,
    with_body: true,
};
const VERSIONS: ListingKind = ListingKind {
    name: "versions",
    allowed: params::VERSIONS,
    default_version: VersionSel::All,
    with_body: false,
};

/// One page of a listing, with what is needed to continue it.
struct Listed {
    rows: Vec<ObjectRow>,
    next: Option<String>,
}

/// Resolves parameters (and the `next` cursor, which must belong to this
/// listing and carry the same filters) into a query and runs it.
async fn list(
    t: &Arc<Taxii>,
    ctx: &Ctx,
    kind: &ListingKind,
    c: &Collection,
    object_id: Option<String>,
    raw: Vec<(String, String)>,
) -> Result<Listed, ApiError> {
    let listing = params::split(raw, kind.allowed).map_err(ApiError::bad_request)?;
    let (filter_params, after) = match &listing.next {
        None => (listing.filters.clone(), 0),
        Some(token) => {
            let cur = Cursor::decode(token, &t.cursor_key)
                .filter(|cur| {
                    cur.kind == kind.name && cur.collection == c.id && cur.object_id == object_id
                })
                .ok_or_else(|| ApiError::bad_request("invalid next parameter"))?;
            if !listing.filters.is_empty() && listing.filters != cur.filters {
                return Err(ApiError::bad_request(
                    "filters differ from those of the listing that next continues",
                ));
            }
            (cur.filters, cur.seq)
        }
    };
    let filters = params::parse_filters(&filter_params, kind.default_version.clone())
        .map_err(ApiError::bad_request)?;
    let limit = listing
        .limit
        .unwrap_or(t.config.default_limit)
        .min(t.config.max_limit);
    let query = build_query(
        c,
        &ctx.principal,
        object_id.clone(),
        &filters,
        after,
        limit,
        kind,
    );
    let store = t.store.clone();
    let page = blocking(move || store.query_objects(&query)).await?;
    let next = match (page.more, page.rows.last()) {
        (true, Some(last)) => Some(
            Cursor {
                kind: kind.name.to_string(),
                collection: c.id.clone(),
                object_id,
                seq: last.seq,
                filters: filter_params,
            }
            .encode(&t.cursor_key),
        ),
        _ => None,
    };
    Ok(Listed {
        rows: page.rows,
        next,
    })
}

fn build_query(
    c: &Collection,
    p: &Principal,
    object_id: Option<String>,
    f: &Filters,
    after: i64,
    limit: usize,
    kind: &ListingKind,
) -> ObjectQuery {
    ObjectQuery {
        collection: c.id.clone(),
        object_id,
        after_seq: after.max(f.added_after_us.unwrap_or(0)),
        ids: f.ids.clone(),
        types: f.types.clone(),
        versions: f.versions.clone(),
        spec_versions: f.spec_versions.clone(),
        tlp: tlp_codes(p, c),
        limit,
        // Peers' listings pass the gate, which needs the objects themselves.
        with_body: kind.with_body || p.kind != PrincipalKind::User,
    }
}

fn date_headers(mut response: Response, rows: &[ObjectRow]) -> Response {
    if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
        let h = response.headers_mut();
        for (name, seq) in [
            ("x-taxii-date-added-first", first.seq),
            ("x-taxii-date-added-last", last.seq),
        ] {
            if let Ok(v) = HeaderValue::from_str(&format_timestamp(seq)) {
                h.insert(name, v);
            }
        }
    }
    response
}

/// `{"more", "next", <key>: [...]}` with the items spliced in as JSON text, so
/// stored objects are served without being parsed again.
fn listing_body(more: bool, next: Option<&str>, key: &str, items: &[String]) -> String {
    let mut out = String::with_capacity(64 + items.iter().map(String::len).sum::<usize>());
    out.push_str(if more {
        "{\"more\":true"
    } else {
        "{\"more\":false"
    });
    if let Some(n) = next {
        out.push_str(",\"next\":");
        out.push_str(&Value::from(n).to_string());
    }
    if !items.is_empty() {
        out.push_str(",\"");
        out.push_str(key);
        out.push_str("\":[");
        out.push_str(&items.join(","));
        out.push(']');
    }
    out.push('}');
    out
}

/// Object bodies for the envelope; for peers each passes the outbound filter.
fn served_objects(t: &Taxii, p: &Principal, rows: &[ObjectRow]) -> Vec<String> {
    let bodies = rows.iter().filter_map(|r| r.body.clone());
    if p.kind == PrincipalKind::User {
        return bodies.collect();
    }
    bodies
        .filter_map(|body| {
            let value: Value = serde_json::from_str(&body).ok()?;
            match t.outbound.check(p, &value) {
                OutboundDecision::Allow => Some(body),
                OutboundDecision::Replace(v) => Some(v.to_string()),
                OutboundDecision::Withhold { reason } => {
                    tracing::info!(peer = %p.name, reason = %reason, "object withheld from peer");
                    None
                }
            }
        })
        .collect()
}

/// For peers, manifest and version listings leave out what the gate
/// withholds, so they do not reveal ids of objects the peer may not receive.
fn rows_for(t: &Taxii, p: &Principal, rows: Vec<ObjectRow>) -> Vec<ObjectRow> {
    if p.kind == PrincipalKind::User {
        return rows;
    }
    rows.into_iter()
        .filter(|r| {
            let value = r
                .body
                .as_deref()
                .and_then(|b| serde_json::from_str::<Value>(b).ok());
            value.is_some_and(|v| {
                !matches!(t.outbound.check(p, &v), OutboundDecision::Withhold { .. })
            })
        })
        .collect()
}

type RawParams = Result<Query<Vec<(String, String)>>, QueryRejection>;

async fn get_objects(
    State(t): State<Arc<Taxii>>,
    ctx: Ctx,
    Path(cid): Path<String>,
    params: RawParams,
) -> ApiResult {
    let Query(raw) = params?;
    let c = readable_collection(&t, &ctx, cid).await?;
    let listed = list(&t, &ctx, &OBJECTS, &c, None, raw).await?;
    envelope_response(&t, &ctx, listed)
}

fn envelope_response(t: &Taxii, ctx: &Ctx, listed: Listed) -> ApiResult {
    let objects = served_objects(t, &ctx.principal, &listed.rows);
    let body = listing_body(
        listed.next.is_some(),
        listed.next.as_deref(),
        "objects",
        &objects,
    );
    Ok(date_headers(
        taxii_response(StatusCode::OK, body),
        &listed.rows,
    ))
}

async fn manifest(
    State(t): State<Arc<Taxii>>,
    ctx: Ctx,
    Path(cid): Path<String>,
    params: RawParams,
) -> ApiResult {
    let Query(raw) = params?;
    let c = readable_collection(&t, &ctx, cid).await?;
    let listed = list(&t, &ctx, &MANIFEST, &c, None, raw).await?;
    let rows = rows_for(&t, &ctx.principal, listed.rows);
    let records: Vec<String> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "date_added": format_timestamp(r.seq),
                "version": r.version,
                "media_type": STIX_MEDIA,
            })
            .to_string()
        })
        .collect();
    let body = listing_body(
        listed.next.is_some(),
        listed.next.as_deref(),
        "objects",
        &records,
    );
    Ok(date_headers(taxii_response(StatusCode::OK, body), &rows))
}

/// 404 unless some version of the object is visible to the principal.
async fn require_object(
    t: &Arc<Taxii>,
    ctx: &Ctx,
    c: &Collection,
    oid: &str,
) -> Result<(), ApiError> {
    let store = t.store.clone();
    let (cid, oid2, codes) = (c.id.clone(), oid.to_string(), tlp_codes(&ctx.principal, c));
    if blocking(move || store.object_exists(&cid, &oid2, &codes)).await? {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "no object {oid} in this collection"
        )))
    }
}

async fn get_object(
    State(t): State<Arc<Taxii>>,
    ctx: Ctx,
    Path((cid, oid)): Path<(String, String)>,
    params: RawParams,
) -> ApiResult {
    let Query(raw) = params?;
    let c = readable_collection(&t, &ctx, cid).await?;
    require_object(&t, &ctx, &c, &oid).await?;
    let listed = list(&t, &ctx, &OBJECT, &c, Some(oid), raw).await?;
    envelope_response(&t, &ctx, listed)
}

async fn versions(
    State(t): State<Arc<Taxii>>,
    ctx: Ctx,
    Path((cid, oid)): Path<(String, String)>,
    params: RawParams,
) -> ApiResult {
    let Query(raw) = params?;
    let c = readable_collection(&t, &ctx, cid).await?;
    require_object(&t, &ctx, &c, &oid).await?;
    let listed = list(&t, &ctx, &VERSIONS, &c, Some(oid), raw).await?;
    let rows = rows_for(&t, &ctx.principal, listed.rows);
    let versions: Vec<String> = rows
        .iter()
        .map(|r| Value::from(r.version.as_str()).to_string())
        .collect();
    let body = listing_body(
        listed.next.is_some(),
        listed.next.as_deref(),
        "versions",
        &versions,
    );
    Ok(date_headers(taxii_response(StatusCode::OK, body), &rows))
}

async fn delete_object(
    State(t): State<Arc<Taxii>>,
    ctx: Ctx,
    Path((cid, oid)): Path<(String, String)>,
    params: RawParams,
) -> ApiResult {
    let Query(raw) = params?;
    let c = readable_collection(&t, &ctx, cid).await?;
    if !c.can_write(&ctx.principal.name) {
        return Err(ApiError::forbidden("no write access to this collection"));
    }
    require_object(&t, &ctx, &c, &oid).await?;
    let listing = params::split(raw, params::DELETE).map_err(ApiError::bad_request)?;
    let filters =
        params::parse_filters(&listing.filters, VersionSel::All).map_err(ApiError::bad_request)?;
    let query = build_query(
        &c,
        &ctx.principal,
        Some(oid),
        &filters,
        0,
        0, // deletes are not paged
        &VERSIONS,
    );
    let store = t.store.clone();
    blocking(move || store.delete_objects(&query)).await?;
    Ok(taxii_response(StatusCode::OK, String::new()))
}

pub(crate) fn status_of(
    status_id: &str,
    request_us: i64,
    stored: &[crate::store::Stored],
    failures: &[Value],
) -> String {
    status_json(status_id, request_us, stored, failures)
}

async fn add_objects(
    State(t): State<Arc<Taxii>>,
    ctx: Ctx,
    Path(cid): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let c = visible_collection(&t, &ctx, cid).await?;
    if !c.can_write(&ctx.principal.name) {
        return Err(ApiError::forbidden("no write access to this collection"));
    }
    if !is_taxii_content(&headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported media type",
            format!("send {TAXII_MEDIA}"),
        ));
    }
    let bytes = read_body(&t, &headers, body).await?;
    let objects = parse_envelope(&bytes)?;
    let (valid, failures) = prepare(objects);
    let status_id = uuid::Uuid::new_v4().to_string();
    let (store, owner, cid) = (t.store.clone(), ctx.principal.name.clone(), c.id.clone());
    if t.prune_due() {
        let t = t.clone();
        blocking(move || t.prune_statuses()).await?;
    }
    let status_body = blocking(move || {
        let sid = status_id.clone();
        let stored = store.ingest(&cid, &valid, &sid, &owner, &mut |stored, request_us| {
            status_json(&status_id, request_us, stored, &failures)
        });
        crate::ingested(stored, &cid)
    })
    .await?;
    Ok(taxii_response(StatusCode::ACCEPTED, status_body))
}

async fn read_body(t: &Taxii, headers: &HeaderMap, body: Body) -> Result<Vec<u8>, ApiError> {
    let max = t.config.max_content_length;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request too large",
            format!("the body exceeds max_content_length ({max} bytes)"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    match axum::body::to_bytes(body, max).await {
        Ok(b) => Ok(b.to_vec()),
        Err(e) if is_length_limit(&e) => Err(too_large()),
        Err(e) => Err(ApiError::bad_request(format!("cannot read body: {e}"))),
    }
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// Malformed envelopes are refused whole: nothing of them is stored.
fn parse_envelope(bytes: &[u8]) -> Result<Vec<Value>, ApiError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("body is not JSON: {e}")))?;
    let unprocessable = |d: &str| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Unprocessable envelope",
            d,
        )
    };
    let Value::Object(mut map) = value else {
        return Err(unprocessable("body must be a TAXII envelope object"));
    };
    match map.remove("objects") {
        Some(Value::Array(objects)) if !objects.is_empty() => Ok(objects),
        Some(Value::Array(_)) => Err(unprocessable("envelope has no objects")),
        Some(_) => Err(unprocessable("envelope 'objects' must be a list")),
        None => Err(unprocessable("envelope lacks 'objects'")),
    }
}

/// Splits an envelope into storable objects and failure entries (status
/// details) for the invalid ones.
pub(crate) fn prepare(objects: Vec<Value>) -> (Vec<NewObject>, Vec<Value>) {
    let mut valid = Vec::with_capacity(objects.len());
    let mut failures = Vec::new();
    for object in objects {
        match detente_stix::validate(&object) {
            Ok(()) => valid.push(new_object(&object)),
            Err(e) => failures.push(json!({
                "id": object.get("id").and_then(Value::as_str).unwrap_or(""),
                "version": detente_stix::version_of(&object).unwrap_or(""),
                "message": e.to_string(),
            })),
        }
    }
    (valid, failures)
}

fn new_object(object: &Value) -> NewObject {
    let str_of = |k: &str| object.get(k).and_then(Value::as_str).unwrap_or("");
    let version = detente_stix::version_of(object).map(String::from);
    let version_us = version
        .as_deref()
        .and_then(detente_stix::parse_timestamp)
        .map(|t| t.timestamp_micros());
    NewObject {
        id: str_of("id").to_string(),
        object_type: str_of("type").to_string(),
        spec_version: object
            .get("spec_version")
            .and_then(Value::as_str)
            .unwrap_or("2.1")
            .to_string(),
        version_us,
        version: version_us.and(version),
        tlp: detente_stix::tlp_of(object).code(),
        body: object.to_string(),
        cites: cited_requests(object),
    }
}

/// The requests an object cites: its `detente-request` external references.
fn cited_requests(object: &Value) -> Vec<String> {
    let refs = object["external_references"]
        .as_array()
        .into_iter()
        .flatten();
    refs.filter(|r| r["source_name"] == crate::store::REQUEST_SOURCE)
        .filter_map(|r| r["external_id"].as_str().map(String::from))
        .collect()
}

fn status_json(id: &str, request_us: i64, stored: &[Stored], failures: &[Value]) -> String {
    let successes: Vec<Value> = stored
        .iter()
        .map(|s| json!({ "id": s.id, "version": s.version }))
        .collect();
    let mut v = json!({
        "id": id,
        "status": "complete",
        "request_timestamp": format_timestamp(request_us),
        "total_count": successes.len() + failures.len(),
        "success_count": successes.len(),
        "failure_count": failures.len(),
        "pending_count": 0,
    });
    if !successes.is_empty() {
        v["successes"] = Value::Array(successes);
    }
    if !failures.is_empty() {
        v["failures"] = Value::Array(failures.to_vec());
    }
    v.to_string()
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such TAXII resource")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed",
        "this resource does not support the method",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn accept_negotiation() {
        assert!(accepts_taxii(&HeaderMap::new()));
        for ok in [
            "application/taxii+json;version=2.1",
            "application/taxii+json",
            "application/json, application/taxii+json; version=2.1",
            "*/*",
        ] {
            assert!(accepts_taxii(&headers(header::ACCEPT, ok)), "{ok}");
        }
        for bad in [
            "application/json",
            "application/taxii+json;version=2.0",
            "application/stix+json;version=2.1",
        ] {
            assert!(!accepts_taxii(&headers(header::ACCEPT, bad)), "{bad}");
        }
    }

    #[test]
    fn content_type_check() {
        assert!(is_taxii_content(&headers(
            header::CONTENT_TYPE,
            TAXII_MEDIA
        )));
        assert!(is_taxii_content(&headers(
            header::CONTENT_TYPE,
            "application/taxii+json"
        )));
        assert!(!is_taxii_content(&headers(
            header::CONTENT_TYPE,
            "application/json"
        )));
        assert!(!is_taxii_content(&HeaderMap::new()));
    }

    #[test]
    fn listing_body_shapes() {
        assert_eq!(
            listing_body(false, None, "objects", &[]),
            r#"{"more":false}"#
        );
        let items = vec!["{}".to_string(), "1".to_string()];
        assert_eq!(
            listing_body(true, Some("abc"), "objects", &items),
            r#"{"more":true,"next":"abc","objects":[{},1]}"#
        );
    }

    #[test]
    fn status_counts_add_up() {
        let stored = vec![Stored {
            id: "a".into(),
            version: "v".into(),
            inserted: true,
        }];
        let failures = vec![json!({"id": "b", "version": "", "message": "m"})];
        let v: Value = serde_json::from_str(&status_json("s", 0, &stored, &failures)).unwrap();
        assert_eq!(v["total_count"], 2);
        assert_eq!(v["success_count"], 1);
        assert_eq!(v["failure_count"], 1);
        assert_eq!(v["pending_count"], 0);
        assert_eq!(v["successes"][0]["id"], "a");
    }

    struct WithholdMalware;

    impl crate::OutboundFilter for WithholdMalware {
        fn check(&self, _: &Principal, object: &Value) -> OutboundDecision {
            match object["type"].as_str() {
                Some("malware") => OutboundDecision::Withhold {
                    reason: "test".into(),
                },
                Some("identity") => OutboundDecision::Replace(json!({"redacted": true})),
                _ => OutboundDecision::Allow,
            }
        }
    }

    fn principal(kind: PrincipalKind) -> Principal {
        Principal {
            name: "cert.example.org".into(),
            role: Role::Officer,
            kind,
        }
    }

    #[test]
    fn outbound_filter_applies_to_peers_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            detente_storage_sqlite::SqliteStore::open(&dir.path().join("detente.db")).unwrap(),
        );
        let users = Arc::new(detente_auth::Users::new(store.clone()));
        let taxii = Taxii::with_store(store, users, crate::TaxiiConfig::default())
            .unwrap()
            .with_outbound_filter(Arc::new(WithholdMalware));
        let row = |body: &str| ObjectRow {
            seq: 1,
            id: String::new(),
            version: String::new(),
            body: Some(body.to_string()),
        };
        let rows = vec![
            row(r#"{"type":"malware"}"#),
            row(r#"{"type":"identity"}"#),
            row(r#"{"type":"indicator"}"#),
        ];
        let peer = principal(PrincipalKind::Peer {
            origin: "cert.example.org".into(),
        });
        assert_eq!(
            served_objects(&taxii, &peer, &rows),
            vec![r#"{"redacted":true}"#, r#"{"type":"indicator"}"#]
        );
        assert_eq!(
            served_objects(&taxii, &principal(PrincipalKind::User), &rows).len(),
            3
        );
        let listed: Vec<String> = rows_for(&taxii, &peer, rows.clone())
            .into_iter()
            .filter_map(|r| r.body)
            .collect();
        assert_eq!(
            listed,
            vec![r#"{"type":"identity"}"#, r#"{"type":"indicator"}"#]
        );
        assert_eq!(
            rows_for(&taxii, &principal(PrincipalKind::User), rows).len(),
            3
        );
    }

    #[test]
    fn amber_strict_never_reaches_peers() {
        let c = Collection {
            id: "c".into(),
            title: "t".into(),
            description: None,
            alias: None,
            read: vec!["*".into()],
            write: vec![],
            red_recipients: vec!["cert.example.org".into()],
        };
        let peer = principal(PrincipalKind::Peer {
            origin: "cert.example.org".into(),
        });
        let codes = tlp_codes(&peer, &c);
        assert!(!codes.contains(&Tlp::AmberStrict.code()));
        assert!(codes.contains(&Tlp::Red.code()));
        assert!(tlp_codes(&principal(PrincipalKind::User), &c).contains(&Tlp::AmberStrict.code()));
    }
}
