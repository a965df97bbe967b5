//! The concepts every other detente crate speaks in: who a node is ([`Origin`],
//! [`Country`], [`NodeKey`]/[`VerifierKey`]) and the unit of record ([`Envelope`]).
//!
//! This crate does no I/O so that its rules can be tested exhaustively and reused by
//! offline verifiers.

mod country;
mod envelope;
mod error;
mod keys;
mod origin;
pub mod time;

pub use country::Country;
pub use envelope::{leaf_for, Envelope, SignedEnvelope, LEAF_VERSION};
pub use error::DomainError;
pub use keys::{key_id, NodeKey, VerifierKey, ALG_ED25519};
pub use origin::Origin;

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Hash {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}
