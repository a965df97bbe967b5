//! Read access to the log when it is not public.

use axum::http::HeaderMap;

/// Decides whether a request may read a non-public log (a local user or a peer).
pub trait ReaderAuth: Send + Sync {
    fn allows(&self, headers: &HeaderMap) -> bool;
}

/// Local users (and, through the same authenticator, peers) may read.
impl<T: detente_auth::Authenticator + ?Sized> ReaderAuth for T {
    fn allows(&self, headers: &HeaderMap) -> bool {
        matches!(self.authenticate(headers), Ok(Some(_)))
    }
}
