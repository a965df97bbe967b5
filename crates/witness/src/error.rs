use thiserror::Error;

/// Why a witness refused a checkpoint, a submission failed, or the store broke.
///
/// One enum serves both sides of the protocol so that the server's refusal reasons
/// and the client's view of them read the same in logs.
#[derive(Debug, Error)]
pub enum WitnessError {
    /// The request body or checkpoint does not follow tlog-witness / signed-note.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// The checkpoint's origin is not a log this witness follows.
    #[error("unknown log origin {0:?}")]
    UnknownOrigin(String),
    /// No signature on the checkpoint verifies with a key trusted for its origin.
    #[error("checkpoint is not signed by a trusted key of {0:?}")]
    Untrusted(String),
    /// The client's old size is larger than the checkpoint's size.
    #[error("old size {old} is larger than the checkpoint size {new}")]
    OldAfterNew { old: u64, new: u64 },
    /// The client's old size is not the size this witness last cosigned.
    #[error("old size does not match the witness's latest cosigned size {stored}")]
    SizeMismatch { stored: u64 },
    /// Same size as the latest cosigned checkpoint but another root: a fork.
    #[error("checkpoint of size {size} has a different root than the one already cosigned")]
    RootMismatch { size: u64 },
    /// The consistency proof does not verify.
    #[error("consistency proof does not verify: {0}")]
    BadProof(String),
    /// The witness configuration is unusable.
    #[error("witness configuration: {0}")]
    Config(String),
    /// The witness state could not be read or written.
    #[error("witness store: {0}")]
    Store(String),
    /// The witness could not be reached or its answer could not be read.
    #[error("witness request failed: {0}")]
    Http(String),
    /// The witness refused the submission with this status and message.
    #[error("witness refused the checkpoint with status {status}: {message}")]
    Rejected { status: u16, message: String },
    /// The witness reports a different root at the very size the client submitted:
    /// the log was forked or the witness misbehaves; both deserve an alarm.
    #[error("witness holds a different checkpoint of size {size}")]
    ForkReported { size: u64 },
    /// The witness answered 200 without a cosignature that verifies with its key.
    #[error("witness returned no valid cosignature: {0}")]
    BadCosignature(String),
}

impl From<detente_storage::StorageError> for WitnessError {
    fn from(e: detente_storage::StorageError) -> Self {
        WitnessError::Store(e.to_string())
    }
}
