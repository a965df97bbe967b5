//! C2SP tlog-checkpoint v1: origin, tree size and root hash, as a signed note whose
//! key name is the origin.

use crate::{merkle::Hash, note, LogError};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use detente_domain::{NodeKey, VerifierKey};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// Optional extension lines, without their newlines.
    pub extensions: Vec<String>,
}

/// The body text of a checkpoint; the hash need not be 32 bytes here, which is what
/// the format's public marshalling vectors exercise.
pub fn format_body(origin: &str, size: u64, hash: &[u8], extensions: &[String]) -> String {
    let mut s = format!("{origin}\n{size}\n{}\n", B64.encode(hash));
    for e in extensions {
        s.push_str(e);
        s.push('\n');
    }
    s
}

impl Checkpoint {
    pub fn body(&self) -> String {
        format_body(&self.origin, self.size, &self.root, &self.extensions)
    }

    /// Signs the checkpoint as a note with `key`, whose name must be the origin.
    pub fn sign(&self, key: &NodeKey) -> Result<String, LogError> {
        if key.name() != self.origin {
            return Err(LogError::malformed(
                "checkpoint",
                "key name must equal the origin",
            ));
        }
        note::sign(&self.body(), key)
    }

    /// Parses a checkpoint body.
    pub fn parse_body(text: &str) -> Result<Self, LogError> {
        let bad = |why: &str| LogError::malformed("checkpoint", why.to_string());
        let lines: Vec<&str> = text
            .strip_suffix('\n')
            .ok_or_else(|| bad("must end with a newline"))?
            .split('\n')
            .collect();
        if lines.len() < 3 {
            return Err(bad("needs origin, size and root lines"));
        }
        if lines[0].is_empty() {
            return Err(bad("empty origin"));
        }
        let size_ok = !lines[1].is_empty()
            && lines[1].bytes().all(|b| b.is_ascii_digit())
            && (lines[1] == "0" || !lines[1].starts_with('0'));
        let size = lines[1]
            .parse::<u64>()
            .ok()
            .filter(|_| size_ok)
            .ok_or_else(|| bad("size must be a decimal without leading zeros"))?;
        let root: Hash = B64
            .decode(lines[2])
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| bad("root must be a base64 SHA-256 hash"))?;
        if lines[3..].iter().any(|l| l.is_empty()) {
            return Err(bad("empty extension line"));
        }
        Ok(Checkpoint {
            origin: lines[0].to_string(),
            size,
            root,
            extensions: lines[3..].iter().map(|s| s.to_string()).collect(),
        })
    }

    /// Opens a signed checkpoint: some key named after the origin in `verifiers`
    /// must have signed it.
    pub fn open(msg: &str, verifiers: &[VerifierKey]) -> Result<(Self, note::Note), LogError> {
        let (n, signers) = note::open(msg, verifiers)?;
        let cp = Checkpoint::parse_body(&n.text)?;
        if !signers.iter().any(|v| v.name() == cp.origin) {
            return Err(LogError::malformed(
                "checkpoint",
                format!("not signed by the log's own key ({})", cp.origin),
            ));
        }
        Ok((cp, n))
    }
}
