//! The browser interface of a node, served under `/ui/` by `detente serve`.
//!
//! Pages are rendered on the server from compiled, auto-escaped askama
//! templates; every action is a `<form method=post>`, so the interface works
//! without JavaScript. htmx (vendored, `static/htmx.min.js`) only refreshes the
//! navigation badges. No inline script or style: the CSP allows `'self'` only.
//!
//! Security: sessions live in the node's database (see [`session`]); state
//! never changes on GET; every POST must come from this origin
//! (`Sec-Fetch-Site`, else `Origin`) and carry the session's CSRF token.

mod admin;
mod bulk;
mod charts;
mod compose;
mod extension;
mod holds;
mod intel;
mod notifications;
mod pages;
mod peers;
pub mod reciprocity;
mod request;
mod requests;
pub mod session;
mod signin;
mod views;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use detente_auth::{Role, Users};
use detente_node::exchange::Exchange;
use detente_node::Node;
use session::{Lifetimes, Session, Sessions};
use std::sync::Arc;

/// Where the interface is mounted.
pub const MOUNT: &str = "/ui";

/// The session cookie. `__Host-` binds it to this host and path `/`; browsers
/// accept such a cookie only with `Secure`, which they honour over TLS and on
/// `localhost`, so the interface is never served with a cookie in clear text.
pub const COOKIE: &str = "__Host-detente-session";

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
    connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Forms are small; anything larger is refused before it is parsed.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// Compose carries files: as many as a request may cite, each within the
/// attachment limit (the reader refuses a file above it before reading on).
const MAX_UPLOAD_BYTES: usize = 4 * 10 * 1024 * 1024;

/// What the pages need of the node.
pub struct Web {
    pub node: Arc<Node>,
    pub exchange: Arc<Exchange>,
    pub users: Arc<Users>,
    pub sessions: Sessions,
    /// Served over TLS: adds HSTS.
    pub tls: bool,
    pub lifetimes: Lifetimes,
    /// The node's TAXII server, for the threat-intelligence screen; set once
    /// by the server that owns it ([`Web::set_taxii`]).
    pub taxii: std::sync::OnceLock<Arc<detente_taxii::Taxii>>,
    /// What this node's witness cosigned of each peer's log (the peers page).
    pub witness: Arc<dyn detente_witness::WitnessStore>,
}

impl Web {
    /// The interface of `node`, its sessions in the node's store.
    pub fn open(
        node: Arc<Node>,
        exchange: Arc<Exchange>,
        users: Arc<Users>,
        tls: bool,
        lifetimes: Lifetimes,
        clock: session::Clock,
    ) -> Result<Arc<Web>, session::SessionError> {
        let sessions = Sessions::new(node.store().clone(), lifetimes, clock);
        let witness = node.store().clone();
        Ok(Arc::new(Web {
            witness,
            node,
            exchange,
            users,
            sessions,
            tls,
            lifetimes,
            taxii: std::sync::OnceLock::new(),
        }))
    }

    /// Shows this TAXII server on the threat-intelligence screen.
    pub fn set_taxii(&self, taxii: Arc<detente_taxii::Taxii>) {
        let _ = self.taxii.set(taxii);
    }
}

/// The interface's routes, with its own security layers; merge it into the
/// node's router.
pub fn router(web: Arc<Web>) -> Router {
    Router::new()
        .route("/", get(|| async { redirect("/ui/") }))
        .route("/ui", get(|| async { redirect("/ui/") }))
        .route("/ui/", get(pages::home))
        .route("/ui/login", get(signin::login_form).post(signin::login))
        .route("/ui/logout", post(signin::logout))
        .route("/ui/badges", get(pages::badges))
        .route("/ui/requests", get(requests::requests))
        .route("/ui/requests/bulk", post(bulk::bulk))
        .route("/ui/requests/{id}/proof/{seq}", get(request::proof))
        .route("/ui/requests/{id}/receipt/{seq}", get(request::receipt))
        .route(
            "/ui/requests/{id}/attachments/{sha256}",
            get(request::attachment),
        )
        .route(
            "/ui/requests/{id}",
            get(request::request).post(request::act_on_request),
        )
        .route(
            "/ui/compose",
            get(compose::compose_form)
                .post(compose::compose)
                .layer(axum::extract::DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .route("/ui/holds", get(holds::holds))
        .route("/ui/holds/{id}", post(holds::review))
        .route("/ui/sessions", get(signin::sessions))
        .route("/ui/sessions/revoke", post(signin::revoke))
        .route("/ui/sessions/end-all", post(signin::end_all))
        .route("/ui/intel", get(intel::intel))
        .route("/ui/intel/{id}", get(intel::collection))
        .route("/ui/admin", get(admin::users))
        .route("/ui/admin/users", post(admin::add_user))
        .route("/ui/admin/users/role", post(admin::set_role))
        .route("/ui/admin/users/remove", post(admin::remove_user))
        .route(
            "/ui/admin/tokens",
            get(admin::tokens).post(admin::create_token),
        )
        .route("/ui/admin/tokens/revoke", post(admin::revoke_token))
        .route("/ui/admin/sessions", get(admin::sessions))
        .route("/ui/admin/sessions/end", post(admin::end_session))
        .route(
            "/ui/admin/sessions/end-user",
            post(admin::end_user_sessions),
        )
        .route("/ui/admin/node", get(admin::node))
        .route("/ui/notifications", get(notifications::list))
        .route("/ui/notifications/read", post(notifications::mark_read))
        .route("/ui/notifications/badge", get(notifications::badge))
        .route(
            "/ui/notifications/settings",
            get(notifications::settings_form).post(notifications::save_settings),
        )
        .route("/ui/peers", get(peers::page))
        .route("/ui/peers/test", post(peers::test))
        .route("/ui/reciprocity", get(reciprocity::page))
        .route("/ui/reciprocity/evidence", post(reciprocity::evidence))
        .route("/ui/static/{file}", get(static_file))
        // Not a fallback: the node's router has its own (problem+json).
        .route(
            "/ui/{*rest}",
            get(|| async { pages::not_found("no such page") }),
        )
        .layer(axum::extract::DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(middleware::from_fn_with_state(web.clone(), guard))
        .with_state(web)
}

/// Refuses cross-site state changes and sets the security headers on every
/// response of the interface.
async fn guard(State(web): State<Arc<Web>>, req: Request, next: Next) -> Response {
    let changes_state = !matches!(*req.method(), Method::GET | Method::HEAD);
    let is_static = req.uri().path().starts_with("/ui/static/");
    let mut res = if changes_state && !same_origin(req.headers()) {
        pages::forbidden("cross-site request refused")
    } else {
        next.run(req).await
    };
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    let cache = if is_static {
        "public, max-age=3600"
    } else {
        "no-store"
    };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if web.tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    res
}

/// A browser says where a request comes from: `Sec-Fetch-Site` when it sends
/// one, else `Origin`, which must name this host. A client sending neither is
/// not a browser acting for another site; the form token still applies.
fn same_origin(h: &HeaderMap) -> bool {
    if let Some(site) = h.get("sec-fetch-site") {
        return site == "same-origin";
    }
    let Some(origin) = h.get(header::ORIGIN) else {
        return true;
    };
    let host = h.get(header::HOST).and_then(|v| v.to_str().ok());
    let authority = origin.to_str().ok().and_then(|o| {
        o.strip_prefix("https://")
            .or_else(|| o.strip_prefix("http://"))
    });
    matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
}

async fn static_file(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let (body, kind): (&'static [u8], &str) = match file.as_str() {
        "htmx.min.js" => (
            include_bytes!("../static/htmx.min.js"),
            "text/javascript; charset=utf-8",
        ),
        "local.js" => (
            include_bytes!("../static/local.js"),
            "text/javascript; charset=utf-8",
        ),
        "app.css" => (
            include_bytes!("../static/app.css"),
            "text/css; charset=utf-8",
        ),
        "favicon.svg" => (include_bytes!("../static/favicon.svg"), "image/svg+xml"),
        _ => return pages::not_found("no such file"),
    };
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}

fn redirect(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
}

/// The signed-in user of a request, with the session it came with.
pub struct Viewer {
    pub name: String,
    pub role: Role,
    pub session: Session,
}

impl Viewer {
    /// Officers and admins act on requests; reviewers and auditors read.
    pub fn can_act(&self) -> bool {
        matches!(self.role, Role::Officer | Role::Admin)
    }

    pub fn can_review(&self) -> bool {
        matches!(self.role, Role::Reviewer | Role::Admin)
    }

    /// The form token matches this session's (compared in constant time).
    pub fn csrf_ok(&self, token: &str) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(token.as_bytes().ct_eq(self.session.csrf.as_bytes()))
    }
}

/// The session cookie's value, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

impl FromRequestParts<Arc<Web>> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, web: &Arc<Web>) -> Result<Self, Response> {
        let to_login = || redirect("/ui/login");
        let secret = session_cookie(&parts.headers).ok_or_else(to_login)?;
        let session = web
            .sessions
            .lookup(&secret)
            .map_err(pages::internal)?
            .ok_or_else(to_login)?;
        let Some(user) = web
            .users
            .find_user(&session.user)
            .map_err(pages::internal)?
        else {
            // The user was removed: the session goes with it.
            web.sessions.end(&secret).map_err(pages::internal)?;
            return Err(to_login());
        };
        Ok(Viewer {
            name: user.name,
            role: user.role,
            session,
        })
    }
}
