//! Users of a node and how requests prove who they are.
//!
//! Passwords are stored as argon2id hashes, bearer tokens as SHA-256 digests
//! only: a copy of the database never yields a usable credential. Because
//! argon2 is slow on purpose, successful Basic verifications are cached for a
//! short time under a keyed digest of the credentials, so that bulk TAXII
//! clients are not throttled by the hash while a stolen cache (memory only)
//! still reveals nothing. Each cache hit is checked against the stored user
//! (an indexed read), so a user removed or given a new password, also by
//! another process such as the CLI, loses access at once.
//!
//! Authentication comes in two steps ([`Authenticator::start`] and
//! [`Authenticator::finish`]) so that a server can run the slow one, argon2,
//! off its async workers with bounded concurrency. Failed passwords are
//! throttled per user and client address, and per client address, so that
//! guessing from one address cannot lock the real user out from another.

mod cache;
mod cli;
mod throttle;

use std::net::IpAddr;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use http::HeaderMap;
use sha2::{Digest, Sha256};

pub use cli::{run_user, UserCommand};
pub use detente_storage::{AuthStore, Role, TokenRecord, UnknownRole, UserRecord};
use detente_storage::{GuardStore, StorageError};

use cache::VerifiedCache;
use throttle::Throttles;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{0}")]
    Storage(#[from] StorageError),
    #[error("user '{0}' already exists")]
    UserExists(String),
    #[error("no such user '{0}'")]
    NoSuchUser(String),
    #[error("unknown role '{0}' (expected officer, reviewer, auditor or admin)")]
    UnknownRole(String),
    #[error("invalid user name '{0}' (use 1-64 characters without ':' or whitespace)")]
    InvalidName(String),
    #[error("'{0}' is the last admin; make another user admin first")]
    LastAdmin(String),
    #[error("password must not be empty")]
    EmptyPassword,
    #[error("malformed Authorization header")]
    MalformedHeader,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("too many failed attempts; retry in {0} s")]
    Throttled(u64),
    #[error("too many password checks waiting; retry shortly")]
    Busy,
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("random number generator failed: {0}")]
    Random(String),
}

impl From<UnknownRole> for AuthError {
    fn from(e: UnknownRole) -> Self {
        AuthError::UnknownRole(e.0)
    }
}

/// Local users and peer nodes differ in what they may see (TLP AMBER+STRICT
/// never leaves the organisation), so the distinction travels with every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    User,
    Peer { origin: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub role: Role,
    pub kind: PrincipalKind,
}

/// Who is calling, from the request headers. [`Users`] recognises local
/// users; the node can wrap it to also recognise peer nodes, and services
/// such as TAXII take any implementation.
pub trait Authenticator: Send + Sync {
    /// `Ok(None)` when the request carries no credentials. Slow for a
    /// password (argon2): call it off the async workers.
    fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Principal>, AuthError>;

    /// The cheap part of authenticating a request from `client`: the
    /// outcome, or the password check still to run with [`Self::finish`].
    /// The default does everything here, so an implementation that checks
    /// passwords must override both, or a server would hash on its async
    /// workers.
    fn start(&self, headers: &HeaderMap, client: Option<IpAddr>) -> Step {
        let _ = client;
        Step::Done(self.authenticate(headers))
    }

    /// Runs a password check [`Self::start`] left (argon2: slow, blocking).
    fn finish(&self, check: PasswordCheck) -> Result<Principal, AuthError> {
        let _ = check;
        Err(AuthError::InvalidCredentials)
    }
}

/// What [`Authenticator::start`] found.
pub enum Step {
    Done(Result<Option<Principal>, AuthError>),
    /// A password to verify: run [`Authenticator::finish`] off the async
    /// workers.
    Password(PasswordCheck),
}

/// A user name and password to verify, and where they came from.
pub struct PasswordCheck {
    name: String,
    password: String,
    client: Option<IpAddr>,
}

/// The outcome of authenticating one request, found once (by the server's
/// middleware, off its async workers) and carried in the request's
/// extensions so that handlers, TAXII's included, never hash a password.
#[derive(Clone)]
pub struct Authenticated(pub Arc<Result<Option<Principal>, AuthError>>);

impl Authenticator for Users {
    fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Principal>, AuthError> {
        Users::authenticate(self, headers)
    }

    fn start(&self, headers: &HeaderMap, client: Option<IpAddr>) -> Step {
        Users::start(self, headers, client)
    }

    fn finish(&self, check: PasswordCheck) -> Result<Principal, AuthError> {
        Users::finish(self, check)
    }
}

/// How long a successful Basic verification is trusted without argon2 (each
/// hit is still checked against the stored user).
const CACHE_TTL: Duration = Duration::from_secs(300);
const CACHE_CAPACITY: usize = 1024;
/// Failures allowed per user and client address within `FAILURE_WINDOW`
/// before further attempts are refused without checking the password.
const MAX_FAILURES: u32 = 5;
/// The same for one client address, whatever the user names.
const MAX_ADDRESS_FAILURES: u32 = 50;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// A hash of the same cost as users' ones, checked for unknown user names so
/// that timing does not tell which names exist.
static DECOY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password("no user has this password").unwrap_or_default());

/// The user database of one node plus the in-memory verification cache.
pub struct Users {
    store: Arc<dyn AuthStore>,
    cache: Mutex<VerifiedCache>,
    throttles: Throttles,
}

impl Users {
    /// The users in `store`, normally the node's own (`Arc<dyn Store>`
    /// upcasts): another process sharing it, such as `detente user`, sees
    /// the same users at once.
    pub fn new(store: Arc<dyn AuthStore>) -> Users {
        Users {
            store,
            cache: Mutex::new(VerifiedCache::new(CACHE_CAPACITY, CACHE_TTL)),
            throttles: Throttles::local(MAX_FAILURES, MAX_ADDRESS_FAILURES, FAILURE_WINDOW),
        }
    }

    /// Counts failed passwords in `store` (when given) rather than in this
    /// process, so that replicas sharing it throttle guesses together.
    pub fn with_shared_failures(mut self, store: Option<Arc<dyn GuardStore>>) -> Users {
        if let Some(store) = store {
            self.throttles = self.throttles.shared(store);
        }
        self
    }

    /// Sets how many failed passwords one client address may send per
    /// minute, whatever the user names (default 50).
    pub fn with_address_limit(mut self, failures: u32) -> Users {
        let user = self.throttles.user_limit();
        self.throttles = self.throttles.with_limits(user, failures);
        self
    }

    /// Failed logins allowed per user and address a minute (default 5).
    pub fn with_user_limit(mut self, failures: u32) -> Users {
        let address = self.throttles.address_limit();
        self.throttles = self.throttles.with_limits(failures, address);
        self
    }

    pub fn add_user(&self, name: &str, role: Role, password: &str) -> Result<(), AuthError> {
        check_name(name)?;
        let user = UserRecord {
            name: name.to_string(),
            role,
            password_hash: hash_password(password)?,
            created: now(),
        };
        match self.store.insert_user(&user) {
            Err(StorageError::Conflict(_)) => Err(AuthError::UserExists(name.to_string())),
            other => Ok(other?),
        }
    }

    pub fn set_password(&self, name: &str, password: &str) -> Result<(), AuthError> {
        let hash = hash_password(password)?;
        found(self.store.update_password(name, &hash)?, name)?;
        self.lock_cache().forget_user(name);
        Ok(())
    }

    pub fn remove_user(&self, name: &str) -> Result<(), AuthError> {
        found(self.store.delete_user(name)?, name)?;
        self.lock_cache().forget_user(name);
        Ok(())
    }

    pub fn list_users(&self) -> Result<Vec<UserRecord>, AuthError> {
        Ok(self.store.list_users()?)
    }

    /// One user, as stored now (a session re-reads it so a removed user or a
    /// changed role takes effect at once).
    pub fn find_user(&self, name: &str) -> Result<Option<UserRecord>, AuthError> {
        Ok(self.store.find_user(name)?)
    }

    /// Issues a new bearer token. The token is returned once and only its
    /// SHA-256 digest is stored.
    pub fn issue_token(&self, name: &str) -> Result<String, AuthError> {
        self.issue_named_token(name, "")
    }

    /// [`Users::issue_token`] with a label saying what the token is for,
    /// shown in token lists in place of the secret.
    pub fn issue_named_token(&self, name: &str, label: &str) -> Result<String, AuthError> {
        self.store
            .find_user(name)?
            .ok_or_else(|| AuthError::NoSuchUser(name.to_string()))?;
        let mut raw = [0u8; 32];
        getrandom::getrandom(&mut raw).map_err(|e| AuthError::Random(e.to_string()))?;
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        self.store
            .insert_token(name, label, &token_digest(&token), &now())?;
        Ok(token)
    }

    /// Every bearer token (digests and owners, never secrets).
    pub fn list_tokens(&self) -> Result<Vec<TokenRecord>, AuthError> {
        Ok(self.store.list_tokens()?)
    }

    /// Revokes the one token whose digest is `digest_hex`; false if none.
    pub fn revoke_token(&self, digest_hex: &str) -> Result<bool, AuthError> {
        let Some(digest) = hex::decode(digest_hex)
            .ok()
            .and_then(|d| <[u8; 32]>::try_from(d).ok())
        else {
            return Ok(false);
        };
        Ok(self.store.delete_token(&digest)?)
    }

    /// Changes `name`'s role; the last admin cannot be demoted.
    pub fn set_role(&self, name: &str, role: Role) -> Result<(), AuthError> {
        keeping_an_admin(self.store.update_role(name, role), name)?;
        self.lock_cache().forget_user(name);
        Ok(())
    }

    /// Removes a user unless it is the last admin (the web interface's
    /// removal; the CLI, run by whoever holds the data directory, may still
    /// remove anyone).
    pub fn remove_user_keeping_an_admin(&self, name: &str) -> Result<(), AuthError> {
        keeping_an_admin(self.store.delete_user_keeping_an_admin(name), name)?;
        self.lock_cache().forget_user(name);
        Ok(())
    }

    /// Revokes every bearer token of `name`; returns how many were revoked.
    pub fn revoke(&self, name: &str) -> Result<usize, AuthError> {
        Ok(self.store.delete_tokens(name)? as usize)
    }

    /// `Ok(None)` when the request carries no credentials (the caller decides
    /// whether anonymous access is acceptable); an error when it carries wrong
    /// or malformed ones. Runs argon2 in the calling thread: servers use
    /// [`Users::start`] and [`Users::finish`].
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Principal>, AuthError> {
        match self.start(headers, None) {
            Step::Done(r) => r,
            Step::Password(check) => self.finish(check).map(Some),
        }
    }

    /// Everything cheap: bearer tokens, cached passwords (checked against the
    /// stored user), throttling; a password that needs argon2 is returned
    /// as a [`PasswordCheck`] for [`Users::finish`].
    pub fn start(&self, headers: &HeaderMap, client: Option<IpAddr>) -> Step {
        let Some(value) = headers.get(http::header::AUTHORIZATION) else {
            return Step::Done(Ok(None));
        };
        let parsed = value
            .to_str()
            .ok()
            .and_then(|v| v.trim().split_once(' '))
            .map(|(scheme, rest)| (scheme.to_ascii_lowercase(), rest.trim()));
        match parsed {
            Some((scheme, token)) if scheme == "bearer" => {
                Step::Done(self.authenticate_bearer(token).map(Some))
            }
            Some((scheme, encoded)) if scheme == "basic" => match decode_basic(encoded) {
                Ok((name, password)) => self.start_password(name, password, client),
                Err(e) => Step::Done(Err(e)),
            },
            _ => Step::Done(Err(AuthError::MalformedHeader)),
        }
    }

    fn start_password(&self, name: String, password: String, client: Option<IpAddr>) -> Step {
        match self.cached(&name, &password) {
            Ok(Some(p)) => return Step::Done(Ok(Some(p))),
            Ok(None) => {}
            Err(e) => return Step::Done(Err(e)),
        }
        match self.throttles.blocked_for(&name, client) {
            Ok(Some(wait)) => return Step::Done(Err(AuthError::Throttled(wait))),
            Ok(None) => {}
            Err(e) => return Step::Done(Err(e)),
        }
        Step::Password(PasswordCheck {
            name,
            password,
            client,
        })
    }

    /// A cached verification, if the stored user still has the password
    /// hash (and takes the role) it had then.
    fn cached(&self, name: &str, password: &str) -> Result<Option<Principal>, AuthError> {
        let Some(hash) = self.lock_cache().lookup(name, password) else {
            return Ok(None);
        };
        match self.store.find_user(name)? {
            Some(user) if user.password_hash == hash => Ok(Some(user_principal(name, user.role))),
            _ => {
                self.lock_cache().forget_user(name);
                Ok(None)
            }
        }
    }

    /// Runs argon2 for a password [`Users::start`] could not settle. Slow and
    /// blocking; an unknown user costs the same as a known one.
    pub fn finish(&self, check: PasswordCheck) -> Result<Principal, AuthError> {
        let PasswordCheck {
            name,
            password,
            client,
        } = check;
        match self.verify_slow(&name, &password)? {
            Some((role, hash)) => {
                self.throttles.clear(&name, client);
                self.lock_cache().insert(&name, &password, hash);
                Ok(user_principal(&name, role))
            }
            None => {
                self.throttles.record_failure(&name, client);
                tracing::info!(user = name, client = ?client, "failed password authentication");
                Err(AuthError::InvalidCredentials)
            }
        }
    }

    /// Verifies a user's password, consulting the cache first.
    pub fn verify_password(&self, name: &str, password: &str) -> Result<Principal, AuthError> {
        match self.start_password(name.to_string(), password.to_string(), None) {
            Step::Done(r) => r.and_then(|p| p.ok_or(AuthError::InvalidCredentials)),
            Step::Password(check) => self.finish(check),
        }
    }

    /// The role and stored hash when `password` is `name`'s.
    fn verify_slow(&self, name: &str, password: &str) -> Result<Option<(Role, String)>, AuthError> {
        let user = self.store.find_user(name)?;
        let stored = user
            .as_ref()
            .map_or(DECOY_HASH.as_str(), |u| &u.password_hash);
        let parsed = PasswordHash::new(stored).map_err(|e| AuthError::Hash(e.to_string()))?;
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(user.filter(|_| ok).map(|u| (u.role, u.password_hash)))
    }

    fn authenticate_bearer(&self, token: &str) -> Result<Principal, AuthError> {
        let user = self
            .store
            .find_token_user(&token_digest(token))?
            .ok_or(AuthError::InvalidCredentials)?;
        Ok(user_principal(&user.name, user.role))
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, VerifiedCache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A change the store made (`true`), or [`AuthError::NoSuchUser`].
fn found(changed: bool, name: &str) -> Result<(), AuthError> {
    match changed {
        true => Ok(()),
        false => Err(AuthError::NoSuchUser(name.to_string())),
    }
}

/// [`found`] for a change refused when it would leave no admin.
fn keeping_an_admin(changed: Result<bool, StorageError>, name: &str) -> Result<(), AuthError> {
    match changed {
        Err(StorageError::Conflict(_)) => Err(AuthError::LastAdmin(name.to_string())),
        other => found(other?, name),
    }
}

/// `user:password` from a Basic credential.
fn decode_basic(encoded: &str) -> Result<(String, String), AuthError> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| AuthError::MalformedHeader)?;
    let text = String::from_utf8(decoded).map_err(|_| AuthError::MalformedHeader)?;
    let (name, password) = text.split_once(':').ok_or(AuthError::MalformedHeader)?;
    Ok((name.to_string(), password.to_string()))
}

fn user_principal(name: &str, role: Role) -> Principal {
    Principal {
        name: name.to_string(),
        role,
        kind: PrincipalKind::User,
    }
}

fn check_name(name: &str) -> Result<(), AuthError> {
    let ok = !name.is_empty()
        && name.chars().count() <= 64
        && !name.contains(':')
        && !name.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(AuthError::InvalidName(name.to_string()))
    }
}

fn hash_password(password: &str) -> Result<String, AuthError> {
    if password.is_empty() {
        return Err(AuthError::EmptyPassword);
    }
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| AuthError::Random(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn open(path: &std::path::Path) -> Users {
        let store = detente_storage_sqlite::SqliteStore::open(path).unwrap();
        Users::new(Arc::new(store))
    }

    fn users() -> (tempfile::TempDir, Users) {
        let dir = tempfile::tempdir().unwrap();
        let users = open(&dir.path().join("detente.db"));
        (dir, users)
    }

    fn basic(user: &str, pw: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let v = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"));
        h.insert(
            "authorization",
            HeaderValue::from_str(&format!("Basic {v}")).unwrap(),
        );
        h
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        h
    }

    #[test]
    fn basic_auth_accepts_right_password_only() {
        let (_d, u) = users();
        u.add_user("alice", Role::Officer, "s3cret").unwrap();
        let p = u.authenticate(&basic("alice", "s3cret")).unwrap().unwrap();
        assert_eq!(p.name, "alice");
        assert_eq!(p.role, Role::Officer);
        assert_eq!(p.kind, PrincipalKind::User);
        // Second time is served from the cache and still correct.
        assert!(u.authenticate(&basic("alice", "s3cret")).unwrap().is_some());
        assert!(matches!(
            u.authenticate(&basic("alice", "wrong")),
            Err(AuthError::InvalidCredentials)
        ));
        assert!(matches!(
            u.authenticate(&basic("mallory", "s3cret")),
            Err(AuthError::InvalidCredentials)
        ));
    }

    #[test]
    fn no_header_is_anonymous() {
        let (_d, u) = users();
        assert!(u.authenticate(&HeaderMap::new()).unwrap().is_none());
    }

    #[test]
    fn malformed_headers_are_rejected() {
        let (_d, u) = users();
        for v in ["Basic !!!", "Basic", "Digest abc", "Basic bm9jb2xvbg=="] {
            let mut h = HeaderMap::new();
            h.insert("authorization", HeaderValue::from_str(v).unwrap());
            assert!(
                matches!(u.authenticate(&h), Err(AuthError::MalformedHeader)),
                "{v}"
            );
        }
    }

    #[test]
    fn password_change_invalidates_cache() {
        let (_d, u) = users();
        u.add_user("bob", Role::Reviewer, "old").unwrap();
        assert!(u.authenticate(&basic("bob", "old")).is_ok());
        u.set_password("bob", "new").unwrap();
        assert!(u.authenticate(&basic("bob", "old")).is_err());
        assert!(u.authenticate(&basic("bob", "new")).is_ok());
    }

    #[test]
    fn removed_user_cannot_log_in() {
        let (_d, u) = users();
        u.add_user("carol", Role::Admin, "pw").unwrap();
        assert!(u.authenticate(&basic("carol", "pw")).is_ok());
        u.remove_user("carol").unwrap();
        assert!(u.authenticate(&basic("carol", "pw")).is_err());
        assert!(matches!(
            u.remove_user("carol"),
            Err(AuthError::NoSuchUser(_))
        ));
    }

    #[test]
    fn tokens_work_until_revoked() {
        let (_d, u) = users();
        u.add_user("dave", Role::Auditor, "pw").unwrap();
        let t = u.issue_token("dave").unwrap();
        assert_eq!(t.len(), 43);
        let p = u.authenticate(&bearer(&t)).unwrap().unwrap();
        assert_eq!((p.name.as_str(), p.role), ("dave", Role::Auditor));
        assert!(u.authenticate(&bearer("not-a-token")).is_err());
        assert_eq!(u.revoke("dave").unwrap(), 1);
        assert!(u.authenticate(&bearer(&t)).is_err());
        assert!(matches!(
            u.issue_token("nobody"),
            Err(AuthError::NoSuchUser(_))
        ));
    }

    #[test]
    fn repeated_failures_are_throttled() {
        let (_d, u) = users();
        u.add_user("erin", Role::Officer, "pw").unwrap();
        for _ in 0..MAX_FAILURES {
            assert!(matches!(
                u.authenticate(&basic("erin", "bad")),
                Err(AuthError::InvalidCredentials)
            ));
        }
        assert!(matches!(
            u.authenticate(&basic("erin", "pw")),
            Err(AuthError::Throttled(1..=60))
        ));
    }

    fn from(u: &Users, h: &HeaderMap, ip: &str) -> Result<Option<Principal>, AuthError> {
        match u.start(h, Some(ip.parse().unwrap())) {
            Step::Done(r) => r,
            Step::Password(c) => u.finish(c).map(Some),
        }
    }

    #[test]
    fn guessing_from_one_address_does_not_lock_out_another() {
        let (_d, u) = users();
        u.add_user("erin", Role::Officer, "pw").unwrap();
        for _ in 0..MAX_FAILURES {
            assert!(from(&u, &basic("erin", "bad"), "192.0.2.66").is_err());
        }
        assert!(matches!(
            from(&u, &basic("erin", "pw"), "192.0.2.66"),
            Err(AuthError::Throttled(_))
        ));
        let p = from(&u, &basic("erin", "pw"), "192.0.2.10")
            .unwrap()
            .unwrap();
        assert_eq!(p.name, "erin");
    }

    #[test]
    fn an_address_guessing_many_names_is_throttled() {
        let (_d, u) = users();
        let u = u.with_address_limit(3);
        u.add_user("erin", Role::Officer, "pw").unwrap();
        for i in 0..3 {
            let r = from(&u, &basic(&format!("nobody{i}"), "x"), "192.0.2.66");
            assert!(matches!(r, Err(AuthError::InvalidCredentials)));
        }
        assert!(matches!(
            from(&u, &basic("someone-else", "x"), "192.0.2.66"),
            Err(AuthError::Throttled(_))
        ));
        // Bearer tokens are not passwords: unaffected.
        let t = u.issue_token("erin").unwrap();
        assert!(from(&u, &bearer(&t), "192.0.2.66").unwrap().is_some());
        assert!(from(&u, &basic("erin", "pw"), "192.0.2.10").is_ok());
    }

    #[test]
    fn unknown_users_take_the_slow_path_like_known_ones() {
        let (_d, u) = users();
        u.add_user("known", Role::Officer, "pw").unwrap();
        for name in ["known", "unknown"] {
            assert!(matches!(
                u.start(&basic(name, "wrong"), None),
                Step::Password(_)
            ));
        }
    }

    #[test]
    fn changes_by_another_process_take_effect_at_once() {
        let (d, u) = users();
        u.add_user("gail", Role::Officer, "old").unwrap();
        u.add_user("hank", Role::Officer, "pw").unwrap();
        assert!(u.authenticate(&basic("gail", "old")).is_ok());
        assert!(u.authenticate(&basic("hank", "pw")).is_ok());
        // As `detente user` would: its own connection to the same file.
        let cli = open(&d.path().join("detente.db"));
        cli.set_password("gail", "new").unwrap();
        cli.remove_user("hank").unwrap();
        assert!(matches!(
            u.authenticate(&basic("gail", "old")),
            Err(AuthError::InvalidCredentials)
        ));
        assert!(u.authenticate(&basic("gail", "new")).is_ok());
        assert!(matches!(
            u.authenticate(&basic("hank", "pw")),
            Err(AuthError::InvalidCredentials)
        ));
    }

    #[test]
    fn rejects_bad_input() {
        let (_d, u) = users();
        assert!(matches!(
            u.add_user("", Role::Officer, "pw"),
            Err(AuthError::InvalidName(_))
        ));
        assert!(matches!(
            u.add_user("a:b", Role::Officer, "pw"),
            Err(AuthError::InvalidName(_))
        ));
        assert!(matches!(
            u.add_user("a", Role::Officer, ""),
            Err(AuthError::EmptyPassword)
        ));
        u.add_user("a", Role::Officer, "pw").unwrap();
        assert!(matches!(
            u.add_user("a", Role::Officer, "pw"),
            Err(AuthError::UserExists(_))
        ));
        assert!("boss".parse::<Role>().is_err());
        assert_eq!("admin".parse::<Role>().unwrap(), Role::Admin);
    }

    #[test]
    fn stored_hash_is_argon2id() {
        let (_d, u) = users();
        u.add_user("f", Role::Officer, "pw").unwrap();
        let rec = u.list_users().unwrap();
        assert_eq!(rec.len(), 1);
        assert!(rec[0].password_hash.starts_with("$argon2id$"));
    }

    #[test]
    fn the_last_admin_can_be_neither_demoted_nor_removed() {
        let (_d, u) = users();
        u.add_user("root", Role::Admin, "pw").unwrap();
        u.add_user("ops", Role::Officer, "pw").unwrap();
        assert!(matches!(
            u.set_role("root", Role::Officer),
            Err(AuthError::LastAdmin(_))
        ));
        assert!(matches!(
            u.remove_user_keeping_an_admin("root"),
            Err(AuthError::LastAdmin(_))
        ));
        assert!(matches!(
            u.set_role("nobody", Role::Admin),
            Err(AuthError::NoSuchUser(_))
        ));
        u.set_role("ops", Role::Admin).unwrap();
        let p = u.authenticate(&basic("ops", "pw")).unwrap().unwrap();
        assert_eq!(p.role, Role::Admin);
        u.set_role("root", Role::Auditor).unwrap();
        assert!(matches!(
            u.remove_user_keeping_an_admin("ops"),
            Err(AuthError::LastAdmin(_))
        ));
        u.remove_user_keeping_an_admin("root").unwrap();
        assert_eq!(u.list_users().unwrap().len(), 1);
    }

    #[test]
    fn tokens_are_listed_without_secrets_and_revoked_one_by_one() {
        let (_d, u) = users();
        u.add_user("dave", Role::Auditor, "pw").unwrap();
        let t1 = u.issue_named_token("dave", "nightly export").unwrap();
        let t2 = u.issue_token("dave").unwrap();
        let list = u.list_tokens().unwrap();
        assert_eq!(list.len(), 2);
        let one = list.iter().find(|t| t.label == "nightly export").unwrap();
        assert_eq!(one.owner, "dave");
        assert_eq!(one.digest, hex::encode(token_digest(&t1)));
        assert!(list
            .iter()
            .all(|t| !t.digest.contains(&t1) && !t.digest.contains(&t2)));
        assert!(!u.revoke_token("00").unwrap());
        assert!(u.revoke_token(&one.digest).unwrap());
        assert!(u.authenticate(&bearer(&t1)).is_err());
        assert!(u.authenticate(&bearer(&t2)).unwrap().is_some());
    }
}
