use thiserror::Error;

/// Why a proof, note or log file was refused, or a read failed.
#[derive(Debug, Error)]
pub enum LogError {
    #[error("proof does not verify: {0}")]
    BadProof(&'static str),
    #[error("malformed {what}: {why}")]
    Malformed { what: &'static str, why: String },
    #[error("no trusted key signed this note")]
    UntrustedNote,
    #[error("signature by {0} does not verify")]
    BadSignature(String),
    #[error("{0} is out of range")]
    OutOfRange(String),
    #[error("storage: {0}")]
    Storage(String),
}

impl LogError {
    pub(crate) fn malformed(what: &'static str, why: impl Into<String>) -> Self {
        LogError::Malformed {
            what,
            why: why.into(),
        }
    }
}
