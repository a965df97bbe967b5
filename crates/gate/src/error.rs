use std::path::PathBuf;

/// Errors of the gate library. Every variant renders as one line that names
/// the input and the position, because the CLI prints it as is.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}: binary file (NUL byte in the first 8 KiB), not scanned")]
    Binary(String),
    #[error("{name}: malformed {format} at byte {offset}: {detail}")]
    Malformed {
        name: String,
        format: &'static str,
        offset: u64,
        detail: String,
    },
    #[error("{name}: {what} at byte {offset} is longer than {limit} bytes")]
    TooLong {
        name: String,
        what: &'static str,
        offset: u64,
        limit: usize,
    },
    #[error("profile {name}: {detail}")]
    Profile { name: String, detail: String },
    #[error("unknown profile {0:?} (built in: us-dsp, eu-gdpr-ch5, none)")]
    UnknownProfile(String),
    /// The aggregation store failed; the message comes from its implementation.
    #[error("volume ledger: {0}")]
    Ledger(String),
    #[error("invalid country code {0:?}: expected ISO 3166-1 alpha-2")]
    Country(String),
}
