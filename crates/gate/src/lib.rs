//! Transfer gate: scans outgoing payloads for sensitive personal data, judges
//! them against a jurisdiction profile and produces redacted copies.
//!
//! Entry points:
//! - [`check_payload`]: scan in-memory parts and decide for one transfer;
//!   [`policy::commit`] afterwards records the volumes once the payload left.
//! - [`Scanner`]: streaming scan of files/readers with a [`Sink`] for
//!   findings; [`policy::evaluate`] on the summed [`Volume`].
//! - [`redact`]: masked or pseudonymised copies.
//! - [`cli`]: the `scan`, `gate check` and `bench scan` subcommands.

pub mod cli;
pub mod columns;
pub mod context;
pub mod entity;
pub mod error;
pub mod gen;
pub mod norm;
mod office;
mod par;
pub mod policy;
pub mod quality;
pub mod read;
pub mod records;
pub mod redact;
pub mod scan;
mod sheet;
pub mod text;
pub mod validate;
mod xml;

pub use entity::{Category, EntityType, Finding};
pub use error::GateError;
pub use policy::{
    commit, evaluate, Action, Decision, MemoryLedger, Profile, Transfer, Volume, VolumeLedger,
};
pub use scan::{FileSummary, Format, Scanner, Sink, Unreadable};

/// A decision together with the per-part scan summaries it rests on.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Assessment {
    #[serde(flatten)]
    pub decision: Decision,
    pub files: Vec<FileSummary>,
}

/// Scans every part of a payload (name, bytes; containers and documents are
/// opened by [`read`], the name's extension selects CSV/TSV/JSON parsing,
/// else the content decides) and judges the whole payload for `transfer`.
/// What the reader could not read holds the payload for review (see
/// [`policy::evaluate`]): the gate never lets through what it could not read.
pub fn check_payload(
    profile: &Profile,
    transfer: &Transfer,
    parts: &[(&str, &[u8])],
    ledger: &dyn VolumeLedger,
) -> Result<Assessment, GateError> {
    let scanner = Scanner::default();
    let files = parts
        .iter()
        .map(|(name, bytes)| scanner.scan_bytes(name, bytes, None, &mut scan::NullSink))
        .collect::<Result<Vec<_>, _>>()?;
    let decision = evaluate(profile, transfer, &Volume::from_summaries(&files), ledger)?;
    Ok(Assessment { decision, files })
}
