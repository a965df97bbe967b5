//! C2SP tlog-witness v1 for detente: peers cosign each other's checkpoints, which
//! rules out split views of a node's log and gives third-party timestamps.
//!
//! Witness side: [`Witness`] keeps, per followed log, the latest checkpoint it
//! cosigned ([`WitnessStore`], part of the node's store) and serves
//! `POST <prefix>/add-checkpoint` ([`router`]). Log side: [`submit`] asks a peer's
//! witness for a cosignature and [`merge_cosignatures`] attaches it.

mod client;
mod error;
mod http;
mod store;
mod witness;

pub use client::{merge_cosignatures, submit, Cosignature, SubmitOutcome};
pub use error::WitnessError;
pub use http::{router, router_with_prefix, status_of, MAX_BODY, SIZE_CONTENT_TYPE};
pub use store::{Conflict, ConflictKind, Cosigned, WitnessStore};
pub use witness::{AddCheckpoint, LogConfig, Witness, MAX_PROOF_LINES};
