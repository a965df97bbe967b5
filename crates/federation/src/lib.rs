//! How detente nodes authenticate to each other. Every node-to-node HTTP call is
//! signed with the sending node's Ed25519 key as an RFC 9421 HTTP message
//! signature over the method, authority, path and RFC 9530 `Content-Digest`, with
//! `created`, `keyid` (the sender's origin) and a random `nonce`. The receiver
//! looks the key up among its configured peers, checks the time window and the
//! nonce, so a stale or replayed call is refused.
//!
//! Written by hand rather than with a general RFC 9421 crate: detente needs one
//! fixed profile, strict parsing of exactly that profile, and the replay checks
//! general crates leave to the caller.

mod replay;
mod signature;

pub use replay::ReplayGuard;
pub use signature::{
    content_digest, sign, verify, verify_unconsumed, SigError, Signed, Verified, MAX_SKEW_SECS,
};
