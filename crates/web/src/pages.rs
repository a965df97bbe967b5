//! The pages: each handler reads what it shows, checks who may act, and renders
//! a template. Forms post back and redirect (303) on success; on bad input the
//! same page comes back with the error beside its field.

pub(crate) use crate::redirect as redirect_to;
use crate::views::{Delivery, HoldView, RequestLine};
use crate::{Viewer, Web};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use detente_node::exchange::ExchangeError;
use detente_storage::{Direction, HoldStatus, RequestFilter, RequestOrder};
use std::sync::Arc;

pub(crate) type W = State<Arc<Web>>;

/// Rows a listing shows at once.
pub(crate) const PAGE: u64 = 50;
/// Items of each kind "Waiting on me" shows (and counts, shown as `50+`).
pub(crate) const WAITING: u64 = 50;

pub(crate) fn render(t: &impl Template, status: StatusCode) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => internal(e),
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    render(&ErrorPage { title, message }, status)
}

pub fn not_found(message: &str) -> Response {
    error_page(StatusCode::NOT_FOUND, message)
}

pub fn forbidden(message: &str) -> Response {
    error_page(StatusCode::FORBIDDEN, message)
}

pub fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "web interface");
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error; see the node's log",
    )
}

/// Why a page could not be built (small, unlike a `Response`).
pub enum Fail {
    NotFound(&'static str),
    Internal,
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        match self {
            Fail::NotFound(m) => not_found(m),
            Fail::Internal => error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; see the node's log",
            ),
        }
    }
}

pub(crate) fn fail(e: impl std::fmt::Display) -> Fail {
    tracing::error!(error = %e, "web interface");
    Fail::Internal
}

/// The navigation every signed-in page carries.
pub struct Nav {
    pub user: String,
    pub role: String,
    pub csrf: String,
    pub active: &'static str,
    pub badges: Badges,
}

pub struct Badges {
    pub waiting: String,
    pub review: String,
    pub notices: String,
}

fn count(n: usize) -> String {
    match n as u64 {
        0 => String::new(),
        n if n >= WAITING => format!("{WAITING}+"),
        n => n.to_string(),
    }
}

impl Nav {
    pub(crate) fn new(v: &Viewer, active: &'static str, w: &Waiting) -> Nav {
        Nav {
            user: v.name.clone(),
            role: v.role.to_string(),
            csrf: v.session.csrf.clone(),
            active,
            badges: w.badges(),
        }
    }
}

/// What waits on the viewer.
pub(crate) struct Waiting {
    inbound: Vec<RequestLine>,
    overdue: Vec<RequestLine>,
    holds: Vec<HoldView>,
    troubled: Vec<Delivery>,
    unread: u64,
}

impl Waiting {
    fn badges(&self) -> Badges {
        Badges {
            waiting: count(
                self.inbound.len() + self.overdue.len() + self.holds.len() + self.troubled.len(),
            ),
            review: count(self.holds.len()),
            notices: crate::notifications::badge_text(self.unread),
        }
    }
}

pub(crate) fn waiting(web: &Web, v: &Viewer) -> Result<Waiting, Fail> {
    let store = web.node.store();
    let now = web.exchange.now();
    let now_s = detente_domain::time::format(&now);
    let lines = |f: RequestFilter| -> Result<Vec<RequestLine>, Fail> {
        let rows = store.requests(&f).map_err(fail)?;
        Ok(rows.iter().map(|r| RequestLine::new(r, &now)).collect())
    };
    let by_deadline = |direction: Direction| RequestFilter {
        direction: Some(direction),
        open: true,
        order: RequestOrder::Deadline,
        limit: Some(WAITING),
        ..RequestFilter::default()
    };
    let inbound = match v.can_act() {
        true => lines(by_deadline(Direction::Inbound))?,
        false => Vec::new(),
    };
    let overdue = lines(RequestFilter {
        overdue_at: Some(now_s),
        ..by_deadline(Direction::Outbound)
    })?;
    let mut holds = store.holds(Some(HoldStatus::Held)).map_err(fail)?;
    if !v.can_review() {
        holds.retain(|h| h.requested_by.as_deref() == Some(v.name.as_str()));
    }
    holds.truncate(WAITING as usize);
    let troubled = store.outbox_troubled(WAITING).map_err(fail)?;
    Ok(Waiting {
        inbound,
        overdue,
        holds: holds
            .iter()
            .map(|h| HoldView::new(&detente_node::views::HoldView::new(h)))
            .collect(),
        troubled: troubled
            .iter()
            .map(|o| Delivery::new(&detente_node::views::DeliveryView::new(o)))
            .collect(),
        unread: crate::notifications::unread(web, &v.name),
    })
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    nav: Nav,
    can_act: bool,
    can_review: bool,
    inbound: Vec<RequestLine>,
    overdue: Vec<RequestLine>,
    holds: Vec<HoldView>,
    troubled: Vec<Delivery>,
}

pub async fn home(State(web): W, v: Viewer) -> Response {
    let w = match waiting(&web, &v) {
        Ok(w) => w,
        Err(r) => return r.into_response(),
    };
    let page = HomePage {
        nav: Nav::new(&v, "home", &w),
        can_act: v.can_act(),
        can_review: v.can_review(),
        inbound: w.inbound,
        overdue: w.overdue,
        holds: w.holds,
        troubled: w.troubled,
    };
    render(&page, StatusCode::OK)
}

#[derive(Template)]
#[template(path = "badges.html")]
struct BadgesFragment {
    badges: Badges,
}

/// The navigation's counts, for htmx to refresh; nothing without a session.
pub async fn badges(State(web): W, v: Result<Viewer, Response>) -> Response {
    let Ok(v) = v else {
        return StatusCode::NO_CONTENT.into_response();
    };
    match waiting(&web, &v) {
        Ok(w) => render(&BadgesFragment { badges: w.badges() }, StatusCode::OK),
        Err(r) => r.into_response(),
    }
}

/// An error beside one field of one action's form.
#[derive(Default)]
pub struct FormError {
    pub(crate) action: String,
    pub(crate) field: String,
    pub(crate) message: String,
}

impl FormError {
    /// The message for `field` of the form of `action`, or "".
    pub fn on(&self, action: &str, field: &str) -> &str {
        match self.action == action && self.field == field {
            true => &self.message,
            false => "",
        }
    }

    /// The message for `field` whatever the action, or "".
    pub fn at(&self, field: &str) -> &str {
        match self.field == field {
            true => &self.message,
            false => "",
        }
    }
}

/// An option of a `<select>`.
pub struct Choice {
    pub(crate) value: String,
    pub(crate) selected: bool,
}

pub(crate) fn choices<S: Into<String>>(
    values: impl Iterator<Item = S>,
    current: &str,
) -> Vec<Choice> {
    values
        .map(|v| {
            let value = v.into();
            Choice {
                selected: value == current,
                value,
            }
        })
        .collect()
}

/// A trimmed form value, or `None` when blank.
pub(crate) fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

pub(crate) fn bad_token() -> Response {
    forbidden("the form has expired or did not come from this page; reload and retry")
}

/// The status a page answers with when the exchange refuses an action.
pub(crate) fn exchange_status(e: &ExchangeError) -> StatusCode {
    match e {
        ExchangeError::NotFound(_) => StatusCode::NOT_FOUND,
        ExchangeError::Conflict(_) | ExchangeError::Party(_) => StatusCode::CONFLICT,
        ExchangeError::Refused(_) => StatusCode::FORBIDDEN,
        ExchangeError::PeerUnavailable(_) => StatusCode::BAD_GATEWAY,
        ExchangeError::Node(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}
