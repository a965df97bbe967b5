//! Notifications in the interface: the signed-in user's list with read and
//! unread, its count in the navigation (refreshed by htmx), and the settings
//! of what the user receives and where. An admin may edit anyone's settings.

use crate::pages::{bad_token, fail, forbidden, internal, redirect_to, render, waiting, Nav};
use crate::{Viewer, Web};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use detente_auth::Role;
use detente_node::notify::{settings as rules, Item, Kind, Notifier, Settings};
use serde::Deserialize;
use std::sync::Arc;

type W = State<Arc<Web>>;

/// Notifications a page lists (the newest).
const LISTED: u32 = 200;

/// Why a page cannot be shown (small, unlike a `Response`).
enum No {
    Forbidden(&'static str),
    NotFound(&'static str),
    Internal,
}

impl IntoResponse for No {
    fn into_response(self) -> Response {
        match self {
            No::Forbidden(m) => forbidden(m),
            No::NotFound(m) => crate::pages::not_found(m),
            No::Internal => crate::pages::Fail::Internal.into_response(),
        }
    }
}

fn oops(e: impl std::fmt::Display) -> No {
    tracing::error!(error = %e, "notifications");
    No::Internal
}

fn notifier(web: &Web) -> Result<&Arc<Notifier>, No> {
    web.node
        .notifier()
        .ok_or_else(|| oops("this node runs no notifier"))
}

/// Unread notifications of `user`, for the navigation badge.
pub(crate) fn unread(web: &Web, user: &str) -> u64 {
    match web
        .node
        .notifier()
        .map(|n| n.db().unread_notifications(user))
    {
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            tracing::error!(error = %e, "unread notifications");
            0
        }
        None => 0,
    }
}

fn now(web: &Web) -> String {
    detente_domain::time::format(&web.exchange.now())
}

pub struct Line {
    id: i64,
    kind: &'static str,
    title: String,
    link: String,
    created: String,
    read: bool,
}

impl From<Item> for Line {
    fn from(i: Item) -> Line {
        let created = detente_domain::time::parse(&i.created)
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or(i.created);
        Line {
            id: i.id,
            kind: i.kind.label(),
            title: i.title,
            link: i.link,
            created,
            read: i.read,
        }
    }
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct ListPage {
    nav: Nav,
    lines: Vec<Line>,
    unread: usize,
}

pub async fn list(State(web): W, v: Viewer) -> Response {
    let w = match waiting(&web, &v) {
        Ok(w) => w,
        Err(r) => return r.into_response(),
    };
    let n = match notifier(&web) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    let lines: Vec<Line> = match n.db().notifications(&v.name, LISTED) {
        Ok(items) => items.into_iter().map(Line::from).collect(),
        Err(e) => return fail(e).into_response(),
    };
    let page = ListPage {
        nav: Nav::new(&v, "notifications", &w),
        unread: lines.iter().filter(|l| !l.read).count(),
        lines,
    };
    render(&page, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct ReadForm {
    #[serde(default)]
    csrf: String,
    /// Absent: all of them.
    #[serde(default)]
    id: Option<i64>,
}

/// Marks one of the viewer's notifications read, or all.
pub async fn mark_read(State(web): W, v: Viewer, Form(f): Form<ReadForm>) -> Response {
    if !v.csrf_ok(&f.csrf) {
        return bad_token();
    }
    let n = match notifier(&web) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    match n.db().mark_notifications_read(&v.name, f.id, &now(&web)) {
        Ok(_) => redirect_to("/ui/notifications"),
        Err(e) => internal(e),
    }
}

#[derive(Template)]
#[template(path = "notify_badge.html")]
struct Badge {
    count: String,
}

pub(crate) fn badge_text(n: u64) -> String {
    match n {
        0 => String::new(),
        n if n > 99 => "99+".into(),
        n => n.to_string(),
    }
}

/// The unread count alone, for htmx; nothing without a session.
pub async fn badge(State(web): W, v: Result<Viewer, Response>) -> Response {
    let Ok(v) = v else {
        return StatusCode::NO_CONTENT.into_response();
    };
    let count = badge_text(unread(&web, &v.name));
    render(&Badge { count }, StatusCode::OK)
}

// ---- settings ----

pub struct KindBox {
    name: &'static str,
    label: &'static str,
    checked: bool,
}

#[derive(Default)]
struct Errors {
    email: String,
    webhook: String,
    secret: String,
}

#[derive(Template)]
#[template(path = "notify_settings.html")]
struct SettingsPage {
    nav: Nav,
    user: String,
    /// Everyone, for an admin to choose whose settings to edit.
    users: Vec<String>,
    kinds: Vec<KindBox>,
    email: String,
    webhook: String,
    has_secret: bool,
    has_smtp: bool,
    errors: Errors,
    saved: bool,
}

#[derive(Deserialize)]
pub struct WhoQuery {
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    saved: Option<String>,
}

/// Whose settings the viewer may see: their own, and an admin anyone's.
fn target(web: &Web, v: &Viewer, user: Option<&str>) -> Result<(String, String), No> {
    let user = user.filter(|u| !u.is_empty()).unwrap_or(&v.name);
    if user != v.name && v.role != Role::Admin {
        return Err(No::Forbidden(
            "only an admin may see another user's settings",
        ));
    }
    match web.users.find_user(user) {
        Ok(Some(u)) => Ok((u.name, u.role.as_str().to_string())),
        Ok(None) => Err(No::NotFound("no such user")),
        Err(e) => Err(oops(e)),
    }
}

fn page(web: &Web, v: &Viewer, user: String, s: &Settings) -> Result<SettingsPage, No> {
    let w = waiting(web, v).map_err(|_| No::Internal)?;
    let n = notifier(web)?;
    let users = match v.role {
        Role::Admin => web
            .users
            .list_users()
            .map_err(oops)?
            .into_iter()
            .map(|u| u.name)
            .collect(),
        _ => Vec::new(),
    };
    Ok(SettingsPage {
        nav: Nav::new(v, "notifications", &w),
        user,
        users,
        kinds: Kind::ALL
            .into_iter()
            .map(|k| KindBox {
                name: k.as_str(),
                label: k.label(),
                checked: s.wants(k),
            })
            .collect(),
        email: s.email.clone().unwrap_or_default(),
        webhook: s.webhook.clone().unwrap_or_default(),
        has_secret: s.webhook_secret.is_some(),
        has_smtp: n.has_smtp(),
        errors: Errors::default(),
        saved: false,
    })
}

pub async fn settings_form(State(web): W, v: Viewer, Query(q): Query<WhoQuery>) -> Response {
    let (user, role) = match target(&web, &v, q.user.as_deref()) {
        Ok(t) => t,
        Err(r) => return r.into_response(),
    };
    let s = match notifier(&web).map(|n| n.settings(&user, &role)) {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return internal(e),
        Err(r) => return r.into_response(),
    };
    match page(&web, &v, user, &s) {
        Ok(mut p) => {
            p.saved = q.saved.is_some();
            render(&p, StatusCode::OK)
        }
        Err(r) => r.into_response(),
    }
}

/// The posted form; checkboxes repeat `kind`, so it is read as pairs.
struct Posted {
    csrf: String,
    user: String,
    kinds: Vec<Kind>,
    email: String,
    webhook: String,
    secret: String,
    forget_secret: bool,
}

impl Posted {
    fn from_pairs(pairs: Vec<(String, String)>) -> Posted {
        let mut p = Posted {
            csrf: String::new(),
            user: String::new(),
            kinds: Vec::new(),
            email: String::new(),
            webhook: String::new(),
            secret: String::new(),
            forget_secret: false,
        };
        for (k, v) in pairs {
            match k.as_str() {
                "csrf" => p.csrf = v,
                "user" => p.user = v,
                "kind" => p.kinds.extend(Kind::parse(&v)),
                "email" => p.email = v.trim().to_string(),
                "webhook" => p.webhook = v.trim().to_string(),
                "webhook_secret" => p.secret = v,
                "forget_secret" => p.forget_secret = true,
                _ => {}
            }
        }
        p
    }
}

/// The settings the form asks for, or the errors beside its fields.
fn check(p: &Posted, old: &Settings, has_smtp: bool, admin: bool) -> Result<Settings, Errors> {
    let mut e = Errors::default();
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    if let Some(m) = some(&p.email) {
        if let Err(w) = rules::check_email(&m) {
            e.email = w;
        } else if !has_smtp {
            e.email = "this node sends no e-mail: config.toml has no [smtp]".into();
        }
    }
    let secret = match (some(&p.secret), p.forget_secret) {
        (Some(s), _) => match rules::check_secret(&s) {
            Ok(()) => Some(s),
            Err(w) => {
                e.secret = w;
                None
            }
        },
        (None, true) => None,
        (None, false) => old.webhook_secret.clone(),
    };
    // A webhook makes this node call an address of the user's choosing, which
    // may be inside the node's own network: only an admin decides where.
    if !admin && some(&p.webhook) != old.webhook {
        e.webhook =
            "only an admin may set or change a webhook: it makes this node call that address"
                .into();
    } else if let Some(w) = some(&p.webhook) {
        if let Err(why) = rules::check_webhook(&w) {
            e.webhook = why;
        } else if secret.is_none() && e.secret.is_empty() {
            e.secret = "a webhook needs a secret to sign its calls".into();
        }
    }
    if !(e.email.is_empty() && e.webhook.is_empty() && e.secret.is_empty()) {
        return Err(e);
    }
    let mut kinds = p.kinds.clone();
    kinds.sort();
    kinds.dedup();
    Ok(Settings {
        kinds,
        email: some(&p.email),
        webhook: some(&p.webhook),
        webhook_secret: secret,
    })
}

pub async fn save_settings(
    State(web): W,
    v: Viewer,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let p = Posted::from_pairs(pairs);
    if !v.csrf_ok(&p.csrf) {
        return bad_token();
    }
    let (user, role) = match target(&web, &v, Some(&p.user)) {
        Ok(t) => t,
        Err(r) => return r.into_response(),
    };
    let n = match notifier(&web) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    let old = match n.settings(&user, &role) {
        Ok(s) => s,
        Err(e) => return internal(e),
    };
    match check(&p, &old, n.has_smtp(), v.role == detente_auth::Role::Admin) {
        Ok(s) => match n.db().save_notify_settings(&user, &s, &now(&web)) {
            Ok(()) => {
                tracing::info!(by = %v.name, user = %user, "notification settings saved");
                let q = serde_urlencoded::to_string([("user", user.as_str()), ("saved", "1")])
                    .unwrap_or_default();
                redirect_to(&format!("/ui/notifications/settings?{q}"))
            }
            Err(e) => internal(e),
        },
        Err(errors) => {
            let shown = Settings {
                kinds: p.kinds.clone(),
                email: Some(p.email.clone()),
                webhook: Some(p.webhook.clone()),
                webhook_secret: old.webhook_secret.clone(),
            };
            match page(&web, &v, user, &shown) {
                Ok(mut page) => {
                    page.errors = errors;
                    render(&page, StatusCode::UNPROCESSABLE_ENTITY)
                }
                Err(r) => r.into_response(),
            }
        }
    }
}
