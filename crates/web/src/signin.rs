//! Sign-in, sign-out and the user's sessions.

use crate::pages::*;
use crate::{redirect, session_cookie, COOKIE};
use crate::{Viewer, Web};
use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use detente_auth::{AuthError, Principal};
use serde::Deserialize;

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
pub(crate) async fn verify_password(
    web: &Web,
    name: &str,
    password: &str,
) -> Result<Principal, AuthError> {
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
