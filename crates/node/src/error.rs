use thiserror::Error;

/// Errors of a node. Messages are written for the operator who has to act on them.
#[derive(Debug, Error)]
pub enum NodeError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Domain(#[from] detente_domain::DomainError),
    #[error(transparent)]
    Log(#[from] detente_log::LogError),
    #[error(transparent)]
    Storage(#[from] detente_storage::StorageError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// The store does not match what this node signed; the node must not start.
    #[error("integrity check failed: {0}")]
    Integrity(String),
    #[error("{0} is in use by another detente process")]
    InUse(String),
    #[error("transfer gate: {0}")]
    Gate(String),
    /// A reviewer tried to approve or reject their own held transfer.
    #[error("{0}")]
    FourEyes(String),
    #[error("append failed: {0}")]
    Append(String),
    #[error("the log sequencer has stopped")]
    Closed,
}

impl NodeError {
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        NodeError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
