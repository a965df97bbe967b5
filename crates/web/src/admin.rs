//! The admin screens: users and roles, bearer tokens, everyone's sessions,
//! the node's public keys and the gate profile it applies. Admins only: any
//! other role gets the 403 page, on every page and every form. Each change
//! is a POST with the session's CSRF token; bad input comes back beside its
//! field with nothing changed.

use crate::pages::{
    bad_token, choices, fail, forbidden, internal, render, waiting, Choice, Fail, Nav,
};
use crate::{redirect, Viewer, Web};
use askama::Template;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::{request::Parts, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use detente_auth::{AuthError, Role};
use detente_gate::policy::{ProfileSummary, RuleSummary};
use serde::Deserialize;
use std::sync::Arc;

type W = State<Arc<Web>>;

const ROLES: [&str; 4] = ["officer", "reviewer", "auditor", "admin"];
/// Length over composition rules (NIST SP 800-63B): long passphrases are
/// both stronger and easier to remember than short mixed ones.
const MIN_PASSWORD_CHARS: usize = 12;
/// argon2 hashes whatever it gets; a bound keeps one form from costing more.
const MAX_PASSWORD_BYTES: usize = 1024;
const MAX_LABEL_CHARS: usize = 100;
/// Sessions the admin list shows (newest first).
const SESSION_LIST: usize = 500;

/// A signed-in admin. Other roles are refused here, before any form is read.
pub struct Admin(pub Viewer);

impl FromRequestParts<Arc<Web>> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, web: &Arc<Web>) -> Result<Self, Response> {
        let v = Viewer::from_request_parts(parts, web).await?;
        if v.role != Role::Admin {
            return Err(forbidden("the admin screens are for admins only"));
        }
        Ok(Admin(v))
    }
}

fn nav(web: &Web, v: &Viewer) -> Result<Nav, Fail> {
    let w = waiting(web, v)?;
    Ok(Nav::new(v, "admin", &w))
}

fn unix(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

// ---- users ----

pub struct UserLine {
    name: String,
    role: String,
    created: String,
    roles: Vec<Choice>,
    role_error: String,
    remove_error: String,
}

/// The add-user form as submitted, with its errors.
#[derive(Default)]
pub struct AddUser {
    name: String,
    role: String,
    name_error: String,
    role_error: String,
    password_error: String,
}

impl AddUser {
    fn failed(&self) -> bool {
        !(self.name_error.is_empty()
            && self.role_error.is_empty()
            && self.password_error.is_empty())
    }
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    nav: Nav,
    tab: &'static str,
    users: Vec<UserLine>,
    add: AddUser,
    add_roles: Vec<Choice>,
    error: String,
}

/// Where a form's error goes: beside one user's role or removal, or atop.
enum At {
    Role(String),
    Remove(String),
    Top,
}

fn users_page(
    web: &Web,
    v: &Viewer,
    add: AddUser,
    error: Option<(At, String)>,
    status: StatusCode,
) -> Response {
    let nav = match nav(web, v) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    let list = match web.users.list_users() {
        Ok(l) => l,
        Err(e) => return internal(e),
    };
    let (at, message) = error.unwrap_or((At::Top, String::new()));
    let mut top = String::new();
    let users = list
        .into_iter()
        .map(|u| {
            let mine = |n: &String| *n == u.name;
            UserLine {
                roles: choices(ROLES.iter().copied(), u.role.as_str()),
                role_error: matches!(&at, At::Role(n) if mine(n))
                    .then(|| message.clone())
                    .unwrap_or_default(),
                remove_error: matches!(&at, At::Remove(n) if mine(n))
                    .then(|| message.clone())
                    .unwrap_or_default(),
                role: u.role.to_string(),
                created: crate::views::short(Some(&u.created)),
                name: u.name,
            }
        })
        .collect();
    if matches!(at, At::Top) {
        top = message;
    }
    let page = UsersPage {
        nav,
        tab: "users",
        users,
        add_roles: choices(ROLES.iter().copied(), &add.role),
        add,
        error: top,
    };
    render(&page, status)
}

pub async fn users(State(web): W, Admin(v): Admin) -> Response {
    let add = AddUser {
        role: "officer".into(),
        ..AddUser::default()
    };
    users_page(&web, &v, add, None, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct AddUserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

/// Why a new password is refused, if it is.
fn weak_password(name: &str, password: &str) -> Option<String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Some(format!(
            "Use at least {MIN_PASSWORD_CHARS} characters; a few words make a good one."
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Some(format!("Use at most {MAX_PASSWORD_BYTES} bytes."));
    }
    let lower = password.to_lowercase();
    if !name.is_empty() && lower.contains(&name.to_lowercase()) {
        return Some("The password must not contain the user name.".into());
    }
    let mut chars = password.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) {
        return Some("The password must not repeat one character.".into());
    }
    None
}

fn check_new_user(web: &Web, f: &AddUserForm) -> Result<AddUser, Fail> {
    let mut add = AddUser {
        name: f.name.trim().to_string(),
        role: f.role.clone(),
        ..AddUser::default()
    };
    if add.name.is_empty() {
        add.name_error = "Enter a user name.".into();
    } else if web.users.find_user(&add.name).map_err(fail)?.is_some() {
        add.name_error = format!("A user named {} exists already.", add.name);
    }
    if f.role.parse::<Role>().is_err() {
        add.role_error = "Choose one of officer, reviewer, auditor or admin.".into();
    }
    if let Some(e) = weak_password(&add.name, &f.password) {
        add.password_error = e;
    }
    Ok(add)
}

pub async fn add_user(State(web): W, Admin(v): Admin, Form(f): Form<AddUserForm>) -> Response {
    if !v.csrf_ok(&f.csrf) {
        return bad_token();
    }
    let mut add = match check_new_user(&web, &f) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    if add.failed() {
        return users_page(&web, &v, add, None, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let Ok(role) = f.role.parse::<Role>() else {
        return internal("role checked above");
    };
    // argon2 is slow on purpose: off the async workers.
    let (users, name, password) = (web.users.clone(), add.name.clone(), f.password);
    let done = tokio::task::spawn_blocking(move || users.add_user(&name, role, &password))
        .await
        .unwrap_or_else(|e| Err(AuthError::Hash(e.to_string())));
    match done {
        Ok(()) => {
            tracing::warn!(admin = %v.name, user = %add.name, %role, "user added");
            redirect("/ui/admin")
        }
        Err(e @ (AuthError::UserExists(_) | AuthError::InvalidName(_))) => {
            add.name_error = e.to_string();
            users_page(&web, &v, add, None, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => internal(e),
    }
}

#[derive(Deserialize)]
pub struct UserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
}

/// The page again with an error at `at`; nothing was changed.
fn user_refused(web: &Web, v: &Viewer, at: At, e: &AuthError) -> Response {
    let (status, text) = match e {
        AuthError::LastAdmin(_) => (
            StatusCode::CONFLICT,
            "This is the last admin: make another user admin first.".to_string(),
        ),
        AuthError::NoSuchUser(n) => (StatusCode::NOT_FOUND, format!("There is no user {n}.")),
        AuthError::UnknownRole(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choose one of officer, reviewer, auditor or admin.".to_string(),
        ),
        other => return internal(other),
    };
    let at = match (at, e) {
        (_, AuthError::NoSuchUser(_)) => At::Top,
        (at, _) => at,
    };
    let add = AddUser {
        role: "officer".into(),
        ..AddUser::default()
    };
    users_page(web, v, add, Some((at, text)), status)
}

pub async fn set_role(State(web): W, Admin(v): Admin, Form(f): Form<UserForm>) -> Response {
    if !v.csrf_ok(&f.csrf) {
        return bad_token();
    }
    let at = At::Role(f.name.clone());
    let role = match f.role.parse::<Role>() {
        Ok(r) => r,
        Err(e) => return user_refused(&web, &v, at, &e.into()),
    };
    if let Err(e) = web.users.set_role(&f.name, role) {
        return user_refused(&web, &v, at, &e);
    }
    tracing::warn!(admin = %v.name, user = %f.name, %role, "role changed");
    match f.name == v.name && role != Role::Admin {
        true => redirect("/ui/"),
        false => redirect("/ui/admin"),
    }
}

pub async fn remove_user(State(web): W, Admin(v): Admin, Form(f): Form<UserForm>) -> Response {
    if !v.csrf_ok(&f.csrf) {
        return bad_token();
    }
    if let Err(e) = web.users.remove_user_keeping_an_admin(&f.name) {
        return user_refused(&web, &v, At::Remove(f.name.clone()), &e);
    }
    if let Err(e) = web.sessions.end_user(&f.name) {
        return internal(e);
    }
    tracing::warn!(admin = %v.name, user = %f.name, "user removed");
    match f.name == v.name {
        true => redirect("/ui/login"),
        false => redirect("/ui/admin"),
    }
}

// ---- tokens ----

pub struct TokenLine {
    /// The start of the digest: enough to tell tokens apart.
    id: String,
    digest: String,
    owner: String,
    label: String,
    created: String,
}

/// A token just issued: its secret is on this one page and nowhere else.
pub struct Issued {
    secret: String,
    owner: String,
    label: String,
}

#[derive(Default)]
pub struct NewToken {
    owner: String,
    label: String,
    owner_error: String,
    label_error: String,
}

#[derive(Template)]
#[template(path = "admin_tokens.html")]
struct TokensPage {
    nav: Nav,
    tab: &'static str,
    tokens: Vec<TokenLine>,
    owners: Vec<Choice>,
    new: NewToken,
    issued: Option<Issued>,
    error: String,
}

fn tokens_page(
    web: &Web,
    v: &Viewer,
    new: NewToken,
    issued: Option<Issued>,
    error: String,
    status: StatusCode,
) -> Response {
    let nav = match nav(web, v) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    let (users, tokens) = match (web.users.list_users(), web.users.list_tokens()) {
        (Ok(u), Ok(t)) => (u, t),
        (Err(e), _) | (_, Err(e)) => return internal(e),
    };
    let tokens = tokens
        .into_iter()
        .map(|t| TokenLine {
            id: t.digest.chars().take(12).collect(),
            digest: t.digest,
            owner: t.owner,
            label: t.label,
            created: crate::views::short(Some(&t.created)),
        })
        .collect();
    let page = TokensPage {
        nav,
        tab: "tokens",
        tokens,
        owners: choices(users.into_iter().map(|u| u.name), &new.owner),
        new,
        issued,
        error,
    };
    render(&page, status)
}

pub async fn tokens(State(web): W, Admin(v): Admin) -> Response {
    tokens_page(
        &web,
        &v,
        NewToken::default(),
        None,
        String::new(),
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    digest: String,
}

fn check_new_token(web: &Web, f: &TokenForm) -> Result<NewToken, Fail> {
    let mut new = NewToken {
        owner: f.owner.clone(),
        label: f.label.trim().to_string(),
        ..NewToken::default()
    };
    if web.users.find_user(&f.owner).map_err(fail)?.is_none() {
        new.owner_error = "Choose a user of this node.".into();
    }
    let n = new.label.chars().count();
    if n == 0 {
        new.label_error = "Say what the token is for, e.g. the client that uses it.".into();
    } else if n > MAX_LABEL_CHARS || new.label.chars().any(char::is_control) {
        new.label_error = format!("Use at most {MAX_LABEL_CHARS} characters, without line breaks.");
    }
    Ok(new)
}

pub async fn create_token(State(web): W, Admin(v): Admin, Form(f): Form<TokenForm>) -> Response {
    if !v.csrf_ok(&f.csrf) {
        return bad_token();
    }
    let new = match check_new_token(&web, &f) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    if !new.owner_error.is_empty() || !new.label_error.is_empty() {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return tokens_page(&web, &v, new, None, String::new(), status);
    }
    let secret = match web.users.issue_named_token(&new.owner, &new.label) {
        Ok(s) => s,
        Err(e) => return internal(e),
    };
    tracing::warn!(admin = %v.name, owner = %new.owner, label = %new.label, "token issued");
    let issued = Issued {
        secret,
        owner: new.owner,
        label: new.label,
    };
    let blank = NewToken::default();
    tokens_page(
        &web,
        &v,
        blank,
        Some(issued),
        String::new(),
        StatusCode::CREATED,
    )
}

pub async fn revoke_token(State(web): W, Admin(v): Admin, Form(f): Form<TokenForm>) -> Response {
    if !v.csrf_ok(&f.csrf) {
        return bad_token();
    }
    match web.users.revoke_token(&f.digest) {
        Ok(true) => {
            tracing::warn!(admin = %v.name, token = %f.digest, "token revoked");
            redirect("/ui/admin/tokens")
        }
        Ok(false) => {
            let e = "No such token: it may have been revoked already.".to_string();
            let new = NewToken::default();
            tokens_page(&web, &v, new, None, e, StatusCode::NOT_FOUND)
        }
        Err(e) => internal(e),
    }
}

// ---- sessions ----

pub struct SessionLine {
    handle: String,
    user: String,
    current: bool,
    created: String,
    last_seen: String,
    agent: String,
}

#[derive(Template)]
#[template(path = "admin_sessions.html")]
struct SessionsPage {
    nav: Nav,
    tab: &'static str,
    sessions: Vec<SessionLine>,
    users: Vec<Choice>,
    user_error: String,
    error: String,
    truncated: bool,
}

fn sessions_page(
    web: &Web,
    v: &Viewer,
    (user, user_error): (String, String),
    error: String,
    status: StatusCode,
) -> Response {
    let nav = match nav(web, v) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    let (list, users) = match (
        web.sessions.list_all(SESSION_LIST + 1),
        web.users.list_users(),
    ) {
        (Ok(l), Ok(u)) => (l, u),
        (Err(e), _) => return internal(e),
        (_, Err(e)) => return internal(e),
    };
    let truncated = list.len() > SESSION_LIST;
    let sessions = list
        .into_iter()
        .take(SESSION_LIST)
        .map(|s| SessionLine {
            current: s.handle == v.session.handle,
            created: unix(s.created),
            last_seen: unix(s.last_seen),
            user: s.user,
            agent: s.agent,
            handle: s.handle,
        })
        .collect();
    let page = SessionsPage {
        nav,
        tab: "sessions",
        sessions,
        users: choices(users.into_iter().map(|u| u.name), &user),
        user_error,
        error,
        truncated,
    };
    render(&page, status)
}

pub async fn sessions(State(web): W, Admin(v): Admin) -> Response {
    let none = (String::new(), String::new());
    sessions_page(&web, &v, none, String::new(), StatusCode::OK)
}

#[derive(Deserialize)]
pub struct SessionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    handle: String,
    #[serde(default)]
    user: String,
}

pub async fn end_session(State(web): W, Admin(v): Admin, Form(f): Form<SessionForm>) -> Response {
    if !v.csrf_ok(&f.csrf) {
        return bad_token();
    }
    match web.sessions.revoke_any(&f.handle) {
        Ok(true) if f.handle == v.session.handle => redirect("/ui/login"),
        Ok(true) => redirect("/ui/admin/sessions"),
        Ok(false) => {
            let e = "No such session: it has ended already.".to_string();
            let none = (String::new(), String::new());
            sessions_page(&web, &v, none, e, StatusCode::NOT_FOUND)
        }
        Err(e) => internal(e),
    }
}

pub async fn end_user_sessions(
    State(web): W,
    Admin(v): Admin,
    Form(f): Form<SessionForm>,
) -> Response {
    if !v.csrf_ok(&f.csrf) {
        return bad_token();
    }
    match web.users.find_user(&f.user) {
        Ok(Some(_)) => {}
        Ok(None) => {
            let err = (f.user, "Choose a user of this node.".to_string());
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return sessions_page(&web, &v, err, String::new(), status);
        }
        Err(e) => return internal(e),
    }
    match web.sessions.end_user(&f.user) {
        Ok(n) => tracing::warn!(admin = %v.name, user = %f.user, sessions = n, "sessions ended"),
        Err(e) => return internal(e),
    }
    match f.user == v.name {
        true => redirect("/ui/login"),
        false => redirect("/ui/admin/sessions"),
    }
}

// ---- node keys and gate profile ----

pub struct Recipient {
    peer: String,
    country: String,
    rule: RuleSummary,
}

#[derive(Template)]
#[template(path = "admin_node.html")]
struct NodePage {
    nav: Nav,
    tab: &'static str,
    origin: String,
    country: String,
    public_urls: Vec<String>,
    verifier: String,
    configured: String,
    profile: ProfileSummary,
    recipients: Vec<Recipient>,
    /// The country looked up with the form, and what applies to it.
    asked: String,
    asked_rule: Option<RuleSummary>,
    asked_error: String,
    /// The section tabs' error line (nothing fails on this page).
    error: String,
}

#[derive(Deserialize, Default)]
pub struct NodeQuery {
    #[serde(default)]
    country: String,
}

pub async fn node(State(web): W, Admin(v): Admin, Query(q): Query<NodeQuery>) -> Response {
    let nav = match nav(&web, &v) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    let profile = web.exchange.outbound().profile();
    let peers = match web.node.store().peers() {
        Ok(p) => p,
        Err(e) => return internal(e),
    };
    let recipients = peers
        .into_iter()
        .map(|p| Recipient {
            rule: profile.regime_for(&p.country),
            peer: p.origin,
            country: p.country,
        })
        .collect();
    let config = web.node.config();
    let (mut asked_rule, mut asked_error, mut status) = (None, String::new(), StatusCode::OK);
    let asked = q.country.trim().to_string();
    if !asked.is_empty() {
        match detente_gate::policy::country(&asked) {
            Ok(c) => asked_rule = Some(profile.regime_for(&c)),
            Err(_) => {
                asked_error = "Enter a two-letter ISO 3166-1 code, e.g. FR.".into();
                status = StatusCode::UNPROCESSABLE_ENTITY;
            }
        }
    }
    let page = NodePage {
        nav,
        tab: "node",
        origin: config.origin.clone(),
        country: config.country.clone().unwrap_or_default(),
        public_urls: config.public_urls.clone(),
        verifier: web.node.verifier().to_string(),
        configured: config.gate.profile.clone(),
        profile: profile.summary(),
        recipients,
        asked,
        asked_rule,
        asked_error,
        error: String::new(),
    };
    render(&page, status)
}

#[cfg(test)]
mod tests {
    use super::weak_password;

    #[test]
    fn weak_passwords_are_named() {
        assert!(weak_password("ann", "short").is_some());
        assert!(weak_password("ann", "aaaaaaaaaaaaaaaa").is_some());
        assert!(weak_password("annabelle", "xxAnnabelle-2026").is_some());
        assert!(weak_password("ann", &"long enough ".repeat(200)).is_some());
        assert!(weak_password("ann", "correct horse battery").is_none());
    }
}
