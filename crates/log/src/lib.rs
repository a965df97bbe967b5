//! The transparency log's formats and algorithms, exactly as the standards define
//! them so outside tools interoperate: RFC 9162 Merkle trees and proofs
//! ([`merkle`]), C2SP signed notes ([`note`]), checkpoints ([`checkpoint`]),
//! cosignatures ([`cosignature`]), tile paths ([`tiles`]) and tlog-proof files
//! ([`proof_file`]).
//!
//! Storage is abstracted by [`merkle::HashReader`], so the same proof code serves a
//! node's on-disk tree, in-memory test trees and offline verifiers.

pub mod checkpoint;
pub mod cosignature;
mod error;
pub mod merkle;
pub mod note;
pub mod proof_file;
pub mod tiles;

pub use checkpoint::Checkpoint;
pub use error::LogError;
pub use merkle::{Hash, HashReader};
