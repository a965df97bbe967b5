//! STIX 2.1 checks applied when objects enter a node, and the TLP rules applied
//! when they leave it.
//!
//! Validation is deliberately structural (the properties the specification marks
//! as required, identifier and timestamp forms, reference forms): it is what a
//! TAXII server must refuse on ingest so that every object it later serves passes
//! a STIX validator. Vocabulary and pattern-grammar checks are left to analysts'
//! tools.

mod pattern;
mod tlp;
mod validate;

pub use pattern::check_pattern;
pub use tlp::{tlp_of, Reader, Tlp};
pub use validate::{parse_timestamp, validate, version_of, ObjectKind};

/// Why an object was refused. The message is shown to TAXII clients in status
/// resources, so it names the property at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StixError {
    #[error("object is not a JSON object")]
    NotAnObject,
    #[error("missing required property '{0}'")]
    Missing(String),
    #[error("property '{property}' is invalid: {reason}")]
    Invalid { property: String, reason: String },
}

impl StixError {
    fn invalid(property: &str, reason: impl Into<String>) -> Self {
        StixError::Invalid {
            property: property.to_string(),
            reason: reason.into(),
        }
    }
}
