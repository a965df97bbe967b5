//! The pages: each handler reads what it shows, checks who may act, and renders
//! a template. Forms post back and redirect (303) on success; on bad input the
//! same page comes back with the error beside its field.

pub(crate) use crate::redirect as redirect_to;
use crate::views::{self, Delivery, Field, HoldView, RequestLine, TimelineEntry};
use crate::{redirect, session_cookie, Viewer, Web, COOKIE};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use detente_auth::{AuthError, Principal};
use detente_node::exchange::ExchangeError;
use detente_requests::{DeclineGround, EventKind, RequestType, Status};
use detente_storage::{RequestFilter, RequestOrder, RequestRow};
use serde::Deserialize;
use std::sync::Arc;

type W = State<Arc<Web>>;

/// Rows a listing shows at once.
const PAGE: u64 = 50;
/// Items of each kind "Waiting on me" shows (and counts, shown as `50+`).
const WAITING: u64 = 50;

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

fn error_page(status: StatusCode, message: &str) -> Response {
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
    let by_deadline = |direction: &str| RequestFilter {
        direction: Some(direction.into()),
        open: true,
        order: RequestOrder::Deadline,
        limit: Some(WAITING),
        ..RequestFilter::default()
    };
    let inbound = match v.can_act() {
        true => lines(by_deadline("inbound"))?,
        false => Vec::new(),
    };
    let overdue = lines(RequestFilter {
        overdue_at: Some(now_s),
        ..by_deadline("outbound")
    })?;
    let mut holds = store.holds(Some("held")).map_err(fail)?;
    if !v.can_review() {
        holds.retain(|h| h.requested_by.as_deref() == Some(v.name.as_str()));
    }
    holds.truncate(WAITING as usize);
    let troubled = store.outbox_troubled(WAITING).map_err(fail)?;
    Ok(Waiting {
        inbound,
        overdue,
        holds: holds.iter().map(HoldView::new).collect(),
        troubled: troubled.iter().map(Delivery::new).collect(),
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

// ---- sign-in, sign-out ----

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    name: String,
    name_error: String,
    password_error: String,
}

pub async fn login_form() -> Response {
    render(
        &LoginPage {
            name: String::new(),
            name_error: String::new(),
            password_error: String::new(),
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

/// Checks a password off the async workers: argon2 is slow on purpose.
async fn verify_password(web: &Web, name: &str, password: &str) -> Result<Principal, AuthError> {
    let (users, name, password) = (web.users.clone(), name.to_string(), password.to_string());
    tokio::task::spawn_blocking(move || users.verify_password(&name, &password))
        .await
        .unwrap_or_else(|e| Err(AuthError::Hash(e.to_string())))
}

pub async fn login(State(web): W, headers: HeaderMap, Form(f): Form<LoginForm>) -> Response {
    let mut page = LoginPage {
        name: f.name.trim().to_string(),
        name_error: String::new(),
        password_error: String::new(),
    };
    if page.name.is_empty() {
        page.name_error = "Enter your user name.".into();
    }
    if f.password.is_empty() {
        page.password_error = "Enter your password.".into();
    }
    if !page.name_error.is_empty() || !page.password_error.is_empty() {
        return render(&page, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let user = match verify_password(&web, &page.name, &f.password).await {
        Ok(p) => p,
        Err(AuthError::Throttled(_)) => {
            page.password_error = "Too many failed attempts; wait a minute and retry.".into();
            return render(&page, StatusCode::TOO_MANY_REQUESTS);
        }
        Err(AuthError::InvalidCredentials) => {
            page.password_error = "The user name or the password is wrong.".into();
            return render(&page, StatusCode::UNPROCESSABLE_ENTITY);
        }
        Err(e) => return internal(e),
    };
    // A new id at every sign-in: an id planted before it is worth nothing.
    if let Some(old) = session_cookie(&headers) {
        if let Err(e) = web.sessions.end(&old) {
            return internal(e);
        }
    }
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (secret, _) = match web.sessions.create(&user.name, agent) {
        Ok(s) => s,
        Err(e) => return internal(e),
    };
    let cookie = format!(
        "{COOKIE}={secret}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict; Secure",
        web.lifetimes.absolute.as_secs()
    );
    let mut r = redirect("/ui/");
    set_cookie(&mut r, &cookie);
    r
}

fn set_cookie(r: &mut Response, cookie: &str) {
    if let Ok(v) = cookie.parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn clear_cookie(r: &mut Response) {
    set_cookie(
        r,
        &format!("{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict; Secure"),
    );
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) fn bad_token() -> Response {
    forbidden("the form has expired or did not come from this page; reload and retry")
}

pub async fn logout(
    State(web): W,
    headers: HeaderMap,
    v: Viewer,
    Form(f): Form<CsrfForm>,
) -> Response {
    if !v.csrf_ok(&f.csrf) {
        return bad_token();
    }
    if let Some(secret) = session_cookie(&headers) {
        if let Err(e) = web.sessions.end(&secret) {
            return internal(e);
        }
    }
    let mut r = redirect("/ui/login");
    clear_cookie(&mut r);
    r
}

// ---- requests ----

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    peer: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    direction: String,
    #[serde(default)]
    overdue: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: String,
}

/// Errors beside the filter fields.
#[derive(Default)]
pub struct FilterErrors {
    peer: String,
    kind: String,
    status: String,
    direction: String,
    q: String,
    after: String,
}

impl FilterErrors {
    fn any(&self) -> bool {
        [
            &self.peer,
            &self.kind,
            &self.status,
            &self.direction,
            &self.q,
            &self.after,
        ]
        .iter()
        .any(|e| !e.is_empty())
    }
}

#[derive(Template)]
#[template(path = "requests.html")]
struct RequestsPage {
    nav: Nav,
    f: ListQuery,
    errors: FilterErrors,
    types: Vec<Choice>,
    statuses: Vec<Choice>,
    directions: Vec<Choice>,
    rows: Vec<RequestLine>,
    next: String,
}

fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

const STATUSES: [Status; 7] = [
    Status::Submitted,
    Status::Delivered,
    Status::Acknowledged,
    Status::PartiallyAnswered,
    Status::Answered,
    Status::Declined,
    Status::Withdrawn,
];

fn filter_of(q: &ListQuery, now: &str) -> (RequestFilter, FilterErrors) {
    let mut e = FilterErrors::default();
    if let Some(p) = opt(&q.peer) {
        if let Err(err) = detente_domain::Origin::parse(&p) {
            e.peer = format!("Not a node origin: {err}");
        }
    }
    if opt(&q.kind).is_some_and(|k| !RequestType::ALL.iter().any(|t| t.as_str() == k)) {
        e.kind = "Choose a request type from the list.".into();
    }
    if opt(&q.status).is_some_and(|s| !STATUSES.iter().any(|t| t.as_str() == s)) {
        e.status = "Choose a status from the list.".into();
    }
    if opt(&q.direction).is_some_and(|d| d != "inbound" && d != "outbound") {
        e.direction = "Choose inbound or outbound.".into();
    }
    if q.q.chars().count() > 200 {
        e.q = "Search for at most 200 characters.".into();
    }
    let after = opt(&q.after).and_then(|a| {
        let cursor = a
            .split_once('|')
            .map(|(k, i)| (k.to_string(), i.to_string()));
        if cursor.is_none() {
            e.after = "This page link is damaged; start from the first page.".into();
        }
        cursor
    });
    let f = RequestFilter {
        peer: opt(&q.peer),
        kind: opt(&q.kind),
        status: opt(&q.status),
        direction: opt(&q.direction),
        text: opt(&q.q),
        overdue_at: (!q.overdue.is_empty()).then(|| now.to_string()),
        order: RequestOrder::Newest,
        after,
        limit: Some(PAGE + 1),
        ..RequestFilter::default()
    };
    (f, e)
}

/// The link to the page after `last`, keeping every filter.
fn next_link(q: &ListQuery, last: &RequestRow) -> String {
    let after = format!("{}|{}", RequestOrder::Newest.key(last), last.id);
    let pairs = [
        ("peer", q.peer.as_str()),
        ("type", &q.kind),
        ("status", &q.status),
        ("direction", &q.direction),
        ("overdue", &q.overdue),
        ("q", &q.q),
        ("after", &after),
    ];
    let kept: Vec<_> = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    format!(
        "/ui/requests?{}",
        serde_urlencoded::to_string(kept).unwrap_or_default()
    )
}

pub async fn requests(State(web): W, v: Viewer, Query(q): Query<ListQuery>) -> Response {
    let w = match waiting(&web, &v) {
        Ok(w) => w,
        Err(r) => return r.into_response(),
    };
    let now = web.exchange.now();
    let (filter, errors) = filter_of(&q, &detente_domain::time::format(&now));
    let (mut rows, status) = match errors.any() {
        true => (Vec::new(), StatusCode::UNPROCESSABLE_ENTITY),
        false => match web.node.store().requests(&filter) {
            Ok(rows) => (rows, StatusCode::OK),
            Err(e) => return internal(e),
        },
    };
    let mut next = String::new();
    if rows.len() as u64 > PAGE {
        rows.truncate(PAGE as usize);
        next = rows.last().map(|l| next_link(&q, l)).unwrap_or_default();
    }
    let page = RequestsPage {
        nav: Nav::new(&v, "requests", &w),
        types: choices(RequestType::ALL.iter().map(|t| t.as_str()), &q.kind),
        statuses: choices(STATUSES.iter().map(|s| s.as_str()), &q.status),
        directions: choices(["inbound", "outbound"].into_iter(), &q.direction),
        rows: rows.iter().map(|r| RequestLine::new(r, &now)).collect(),
        f: q,
        errors,
        next,
    };
    render(&page, status)
}

/// What the viewer may do with a request now.
pub struct Actions {
    acknowledge: bool,
    answer: bool,
    withdraw: bool,
    message: bool,
}

impl Actions {
    fn of(row: &RequestRow, v: &Viewer) -> Actions {
        let can = v.can_act();
        let inbound = row.direction == "inbound";
        let st = row.status.as_str();
        Actions {
            acknowledge: can && inbound && st == "delivered",
            answer: can && inbound && matches!(st, "acknowledged" | "partially_answered"),
            withdraw: can && !inbound && row.closed_at.is_none(),
            message: can,
        }
    }

    fn any(&self) -> bool {
        self.acknowledge || self.answer || self.withdraw || self.message
    }
}

#[derive(Deserialize, Default)]
pub struct ActForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    ground: String,
    #[serde(default)]
    reason: String,
}

/// An error beside one field of one action's form.
#[derive(Default)]
pub struct FormError {
    action: String,
    field: String,
    message: String,
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

#[derive(Template)]
#[template(path = "request.html")]
struct RequestPage {
    nav: Nav,
    r: RequestLine,
    urgency: String,
    tlp: String,
    acknowledge_by: String,
    acknowledged_at: String,
    decline_ground: String,
    fields: Vec<Field>,
    timeline: Vec<TimelineEntry>,
    deliveries: Vec<Delivery>,
    actions: Actions,
    any_action: bool,
    grounds: Vec<Choice>,
    draft: ActForm,
    error: FormError,
}

fn request_page(
    web: &Web,
    v: &Viewer,
    id: &str,
    draft: ActForm,
    error: FormError,
) -> Result<RequestPage, Fail> {
    let store = web.node.store();
    let row = store
        .request(id)
        .map_err(fail)?
        .ok_or(Fail::NotFound("no such request"))?;
    let events = store.events(id).map_err(fail)?;
    let outbox = store.outbox(id).map_err(fail)?;
    let w = waiting(web, v)?;
    let now = web.exchange.now();
    let actions = Actions::of(&row, v);
    Ok(RequestPage {
        nav: Nav::new(v, "requests", &w),
        r: RequestLine::new(&row, &now),
        urgency: row.urgency.clone(),
        tlp: row.tlp.clone(),
        acknowledge_by: views::short(Some(&row.acknowledge_by)),
        acknowledged_at: views::short(row.acknowledged_at.as_deref()),
        decline_ground: row.decline_ground.clone().unwrap_or_default(),
        fields: views::request_fields(events.first()),
        timeline: events.iter().map(TimelineEntry::new).collect(),
        deliveries: outbox.iter().map(Delivery::new).collect(),
        any_action: actions.any(),
        actions,
        grounds: choices(DeclineGround::ALL.iter().map(|g| g.as_str()), &draft.ground),
        draft,
        error,
    })
}

pub async fn request(State(web): W, v: Viewer, Path(id): Path<String>) -> Response {
    match request_page(&web, &v, &id, ActForm::default(), FormError::default()) {
        Ok(p) => render(&p, StatusCode::OK),
        Err(r) => r.into_response(),
    }
}

fn some_text(s: &str) -> Option<String> {
    opt(s)
}

/// The event a form asks for, or the field that is wrong.
fn event_of(f: &ActForm) -> Result<EventKind, (&'static str, String)> {
    Ok(match f.action.as_str() {
        "acknowledge" => EventKind::Acknowledged {},
        "answer" | "partial-answer" => {
            let note = some_text(&f.note);
            if note.is_none() {
                return Err(("note", "Write the answer.".into()));
            }
            match f.action.as_str() {
                "answer" => EventKind::Answered {
                    note,
                    attachments: vec![],
                },
                _ => EventKind::PartiallyAnswered {
                    note,
                    attachments: vec![],
                },
            }
        }
        "decline" => {
            let ground: DeclineGround = serde_json::from_value(serde_json::json!(f.ground))
                .map_err(|_| ("ground", "Choose a ground for declining.".to_string()))?;
            let text = some_text(&f.text);
            if ground == DeclineGround::Other && text.is_none() {
                return Err(("text", "Explain the ground \"other\".".into()));
            }
            EventKind::Declined { ground, text }
        }
        "withdraw" => EventKind::Withdrawn {
            reason: some_text(&f.reason),
        },
        "message" => EventKind::Message {
            text: some_text(&f.text).ok_or(("text", "Write the message.".to_string()))?,
            attachments: vec![],
            proposed_answer_by: None,
        },
        _ => return Err(("action", "Choose an action.".into())),
    })
}

fn exchange_status(e: &ExchangeError) -> StatusCode {
    match e {
        ExchangeError::NotFound(_) => StatusCode::NOT_FOUND,
        ExchangeError::Conflict(_) | ExchangeError::Party(_) => StatusCode::CONFLICT,
        ExchangeError::Refused(_) => StatusCode::FORBIDDEN,
        ExchangeError::PeerUnavailable(_) => StatusCode::BAD_GATEWAY,
        ExchangeError::Node(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

pub async fn act_on_request(
    State(web): W,
    v: Viewer,
    Path(id): Path<String>,
    Form(f): Form<ActForm>,
) -> Response {
    if !v.csrf_ok(&f.csrf) {
        return bad_token();
    }
    if !v.can_act() {
        return forbidden("your role may read requests but not act on them");
    }
    let (status, error) = match event_of(&f) {
        Ok(kind) => match web.exchange.act_as(&id, kind, Some(&v.name)).await {
            Ok(_) => return redirect(&format!("/ui/requests/{id}")),
            Err(e) => (
                exchange_status(&e),
                FormError {
                    action: f.action.clone(),
                    field: "action".into(),
                    message: e.to_string(),
                },
            ),
        },
        Err((field, message)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            FormError {
                action: f.action.clone(),
                field: field.into(),
                message,
            },
        ),
    };
    match request_page(&web, &v, &id, f, error) {
        Ok(p) => render(&p, status),
        Err(r) => r.into_response(),
    }
}

// ---- review queue ----

#[derive(Deserialize, Default)]
pub struct HoldsQuery {
    #[serde(default)]
    status: String,
}

pub struct HoldItem {
    h: HoldView,
    /// The viewer may decide it: a reviewer, not the officer who asked.
    reviewable: bool,
    error: FormError,
    reason: String,
}

#[derive(Template)]
#[template(path = "holds.html")]
struct HoldsPage {
    nav: Nav,
    status: String,
    items: Vec<HoldItem>,
    more: usize,
}

fn holds_page(
    web: &Web,
    v: &Viewer,
    status: &str,
    failed: Option<(&str, FormError, String)>,
) -> Result<(HoldsPage, StatusCode), Fail> {
    let (filter, code) = match status {
        "" | "held" => (Some("held"), StatusCode::OK),
        "approved" | "rejected" => (Some(status), StatusCode::OK),
        "all" => (None, StatusCode::OK),
        _ => (Some("held"), StatusCode::UNPROCESSABLE_ENTITY),
    };
    let mut rows = web.node.store().holds(filter).map_err(fail)?;
    if !v.can_review() {
        rows.retain(|h| h.requested_by.as_deref() == Some(v.name.as_str()));
    }
    rows.reverse();
    let more = rows.len().saturating_sub(PAGE as usize);
    rows.truncate(PAGE as usize);
    let mut failed = failed;
    let items = rows
        .iter()
        .map(|h| {
            let (error, reason) = match &failed {
                Some((id, _, _)) if *id == h.id => {
                    let (_, e, r) = failed.take().unwrap_or_default();
                    (e, r)
                }
                _ => (FormError::default(), String::new()),
            };
            HoldItem {
                reviewable: v.can_review()
                    && h.status == "held"
                    && h.requested_by.as_deref() != Some(v.name.as_str()),
                h: HoldView::new(h),
                error,
                reason,
            }
        })
        .collect();
    let w = waiting(web, v)?;
    let page = HoldsPage {
        nav: Nav::new(v, "holds", &w),
        status: filter.unwrap_or("all").into(),
        items,
        more,
    };
    Ok((page, code))
}

pub async fn holds(State(web): W, v: Viewer, Query(q): Query<HoldsQuery>) -> Response {
    match holds_page(&web, &v, &q.status, None) {
        Ok((p, code)) => render(&p, code),
        Err(r) => r.into_response(),
    }
}

#[derive(Deserialize)]
pub struct ReviewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    password: String,
}

/// Checks a review form; the password is asked again for an approval.
async fn check_review(web: &Web, v: &Viewer, f: &ReviewForm) -> Result<bool, FormError> {
    let err = |field: &str, message: &str| FormError {
        action: f.decision.clone(),
        field: field.into(),
        message: message.into(),
    };
    let approve = match f.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(err("decision", "Choose approve or reject.")),
    };
    if f.reason.trim().is_empty() {
        return Err(err("reason", "Give a reason; it is recorded in the log."));
    }
    if approve {
        if f.password.is_empty() {
            return Err(err("password", "Enter your password to approve."));
        }
        match verify_password(web, &v.name, &f.password).await {
            Ok(_) => {}
            Err(AuthError::Throttled(_)) => {
                return Err(err("password", "Too many failed attempts; wait a minute."))
            }
            Err(_) => return Err(err("password", "The password is wrong.")),
        }
    }
    Ok(approve)
}

pub async fn review(
    State(web): W,
    v: Viewer,
    Path(id): Path<String>,
    Form(f): Form<ReviewForm>,
) -> Response {
    if !v.csrf_ok(&f.csrf) {
        return bad_token();
    }
    if !v.can_review() {
        return forbidden("only reviewers and admins decide held transfers");
    }
    let outcome = match check_review(&web, &v, &f).await {
        Ok(approve) => web
            .exchange
            .resolve_hold(&id, approve, &v.name, f.reason.trim())
            .await
            .map_err(|e| (exchange_status(&e), e.to_string())),
        Err(e) => {
            return review_failed(&web, &v, &id, e, f.reason, StatusCode::UNPROCESSABLE_ENTITY)
        }
    };
    let message = match outcome {
        Ok(Some((_, None))) => return redirect("/ui/holds"),
        Ok(Some((_, Some(why)))) => {
            format!("Approved, but the release failed: {why}")
        }
        Ok(None) => "This transfer is unknown or was already decided.".into(),
        Err((_, m)) => m,
    };
    let e = FormError {
        action: f.decision.clone(),
        field: "decision".into(),
        message,
    };
    review_failed(&web, &v, &id, e, f.reason, StatusCode::CONFLICT)
}

fn review_failed(
    web: &Web,
    v: &Viewer,
    id: &str,
    e: FormError,
    reason: String,
    code: StatusCode,
) -> Response {
    match holds_page(web, v, "all", Some((id, e, reason))) {
        Ok((p, _)) => render(&p, code),
        Err(r) => r.into_response(),
    }
}

// ---- sessions ----

pub struct SessionLine {
    handle: String,
    current: bool,
    created: String,
    last_seen: String,
    agent: String,
}

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage {
    nav: Nav,
    sessions: Vec<SessionLine>,
    admin: bool,
    idle_minutes: u64,
    absolute_hours: u64,
}

fn unix(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

pub async fn sessions(State(web): W, v: Viewer) -> Response {
    let w = match waiting(&web, &v) {
        Ok(w) => w,
        Err(r) => return r.into_response(),
    };
    let list = match web.sessions.list(&v.name) {
        Ok(l) => l,
        Err(e) => return internal(e),
    };
    let page = SessionsPage {
        nav: Nav::new(&v, "sessions", &w),
        sessions: list
            .into_iter()
            .map(|s| SessionLine {
                current: s.handle == v.session.handle,
                created: unix(s.created),
                last_seen: unix(s.last_seen),
                agent: s.agent,
                handle: s.handle,
            })
            .collect(),
        admin: v.role == detente_auth::Role::Admin,
        idle_minutes: web.lifetimes.idle.as_secs() / 60,
        absolute_hours: web.lifetimes.absolute.as_secs() / 3600,
    };
    render(&page, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    handle: String,
}

pub async fn revoke(State(web): W, v: Viewer, Form(f): Form<RevokeForm>) -> Response {
    if !v.csrf_ok(&f.csrf) {
        return bad_token();
    }
    if let Err(e) = web.sessions.revoke(&v.name, &f.handle) {
        return internal(e);
    }
    if f.handle == v.session.handle {
        let mut r = redirect("/ui/login");
        clear_cookie(&mut r);
        return r;
    }
    redirect("/ui/sessions")
}

/// An admin ends every session of every user, their own included.
pub async fn end_all(State(web): W, v: Viewer, Form(f): Form<CsrfForm>) -> Response {
    if !v.csrf_ok(&f.csrf) {
        return bad_token();
    }
    if v.role != detente_auth::Role::Admin {
        return forbidden("only an admin may end every session");
    }
    match web.sessions.end_all() {
        Ok(n) => tracing::warn!(admin = %v.name, sessions = n, "all web sessions ended"),
        Err(e) => return internal(e),
    }
    let mut r = redirect("/ui/login");
    clear_cookie(&mut r);
    r
}
