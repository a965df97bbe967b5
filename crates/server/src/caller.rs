//! Who is calling, found once per request before any handler runs. Password
//! checks (argon2, slow on purpose) run on the blocking pool, a few at a time
//! (`[limits] password_checks`), with a bounded queue behind them, so a flood
//! of guesses neither stalls the async workers (health checks, peers, bulk
//! TAXII) nor piles up work without end. The outcome travels in the request's
//! extensions ([`detente_auth::Authenticated`]); handlers and TAXII read it.

use crate::problem::Problem;
use crate::AppState;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use detente_auth::{AuthError, Authenticated, Authenticator, PasswordCheck, Principal, Step};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Password checks running and waiting.
pub struct PasswordChecks {
    running: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
}

impl PasswordChecks {
    /// `parallel` at once (0: half the cores, at least one), `queue` waiting.
    pub fn new(parallel: usize, queue: usize) -> Self {
        let parallel = match parallel {
            0 => std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
            n => n,
        };
        PasswordChecks {
            running: Arc::new(Semaphore::new(parallel)),
            waiting: AtomicUsize::new(0),
            max_waiting: queue,
        }
    }

    /// Runs `check` when a slot is free; `Busy` at once if the queue is full.
    /// Once started, a check runs to the end holding its slot even if the
    /// client goes away, so abandoned requests cannot exceed the bound.
    async fn run(
        &self,
        auth: Arc<dyn Authenticator>,
        check: PasswordCheck,
    ) -> Result<Principal, AuthError> {
        let permit = match self.running.clone().try_acquire_owned() {
            Ok(free) => free,
            Err(_) => {
                let _waiting = Waiting::enter(&self.waiting, self.max_waiting)?;
                self.running
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| AuthError::Busy)?
            }
        };
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            auth.finish(check)
        })
        .await
        .map_err(|e| AuthError::Hash(e.to_string()))?
    }
}

/// One place in the queue; leaving it (or being cancelled) frees it.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicUsize, max: usize) -> Result<Self, AuthError> {
        if count.fetch_add(1, Ordering::AcqRel) >= max {
            count.fetch_sub(1, Ordering::AcqRel);
            return Err(AuthError::Busy);
        }
        Ok(Waiting(count))
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Authenticates the request (after `verify_signature` marked peers) and
/// passes the outcome on; refusing is left to the routes that need a caller.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let outcome = match &state.auth {
        None => Ok(None),
        Some(auth) => {
            let client = req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| crate::serve::client_key(c.0.ip()));
            match auth.start(req.headers(), client) {
                Step::Done(r) => r,
                Step::Password(check) => state
                    .password_checks
                    .run(auth.clone(), check)
                    .await
                    .map(Some),
            }
        }
    };
    req.extensions_mut()
        .insert(Authenticated(Arc::new(outcome)));
    next.run(req).await
}

/// The caller as [`authenticate`] found it.
pub struct Caller(Arc<Result<Option<Principal>, AuthError>>);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Caller, Self::Rejection> {
        Ok(Caller(
            parts
                .extensions
                .get::<Authenticated>()
                .map_or_else(|| Arc::new(Ok(None)), |a| a.0.clone()),
        ))
    }
}

impl Caller {
    /// The caller, if it presented valid credentials.
    pub fn principal(&self) -> Option<&Principal> {
        self.0.as_ref().as_ref().ok()?.as_ref()
    }

    /// The caller, or the answer for its absence: 401, or 429 (throttled)
    /// and 503 (password checks saturated) with `Retry-After`.
    pub fn require(&self) -> Result<&Principal, Problem> {
        match self.0.as_ref() {
            Ok(Some(p)) => Ok(p),
            Err(AuthError::Throttled(secs)) => Err(Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too many failed logins from this address; retry later",
            )
            .retry_after(*secs)),
            Err(AuthError::Busy) => Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many password checks waiting; retry shortly",
            )
            .retry_after(1)),
            _ => Err(Problem::new(
                StatusCode::UNAUTHORIZED,
                "credentials required (Basic or Bearer)",
            )),
        }
    }
}
