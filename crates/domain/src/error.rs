use thiserror::Error;

/// Why a domain value was refused. Messages are shown to users as they are.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DomainError {
    #[error("invalid origin {0:?}: {1}")]
    Origin(String, &'static str),
    #[error("invalid country code {0:?}: expected an ISO 3166-1 alpha-2 code such as DE or US")]
    Country(String),
    #[error("invalid key: {0}")]
    Key(String),
    #[error("invalid envelope: {0}")]
    Envelope(String),
    #[error("bad envelope signature")]
    Signature,
}
