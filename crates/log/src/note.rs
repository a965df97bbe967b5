//! C2SP signed-note v1: a UTF-8 text ending in a newline, a blank line, then one
//! line per signature: `— <name> <base64(key id || signature)>`.

use crate::LogError;
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use detente_domain::{NodeKey, VerifierKey};

const DASH: &str = "\u{2014} ";
/// Notes with more signatures are refused; C2SP asks verifiers to accept 16.
pub const MAX_SIGNATURES: usize = 100;

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_id: [u8; 4],
    pub sig: Vec<u8>,
}

impl NoteSignature {
    pub fn line(&self) -> String {
        let mut raw = self.key_id.to_vec();
        raw.extend_from_slice(&self.sig);
        format!("{DASH}{} {}\n", self.name, B64.encode(raw))
    }
}

/// A parsed signed note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub text: String,
    pub sigs: Vec<NoteSignature>,
}

fn check_text(text: &str) -> Result<(), LogError> {
    if !text.ends_with('\n') {
        return Err(LogError::malformed("note", "text must end with a newline"));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(LogError::malformed("note", "text has control characters"));
    }
    Ok(())
}

/// Signs `text` with `key` and returns the whole note.
pub fn sign(text: &str, key: &NodeKey) -> Result<String, LogError> {
    check_text(text)?;
    let sig = NoteSignature {
        name: key.name().to_string(),
        key_id: key.key_id(),
        sig: key.sign(text.as_bytes()).to_vec(),
    };
    Ok(format!("{text}\n{}", sig.line()))
}

/// Parses a note without checking signatures.
pub fn parse(msg: &str) -> Result<Note, LogError> {
    let split = msg
        .rfind("\n\n")
        .ok_or_else(|| LogError::malformed("note", "no blank line before signatures"))?;
    let text = &msg[..split + 1];
    check_text(text)?;
    let block = &msg[split + 2..];
    if !block.ends_with('\n') {
        return Err(LogError::malformed(
            "note",
            "signature block must end with a newline",
        ));
    }
    let sigs = block[..block.len() - 1]
        .split('\n')
        .map(parse_sig_line)
        .collect::<Result<Vec<_>, _>>()?;
    if sigs.len() > MAX_SIGNATURES {
        return Err(LogError::malformed("note", "too many signatures"));
    }
    Ok(Note {
        text: text.to_string(),
        sigs,
    })
}

fn parse_sig_line(line: &str) -> Result<NoteSignature, LogError> {
    let bad = |why: &str| LogError::malformed("note signature", why.to_string());
    let rest = line
        .strip_prefix(DASH)
        .ok_or_else(|| bad("line must start with an em dash"))?;
    let (name, b64) = rest
        .split_once(' ')
        .ok_or_else(|| bad("missing signature"))?;
    if name.is_empty() || name.contains('+') || b64.contains(' ') {
        return Err(bad("invalid key name"));
    }
    let raw = B64.decode(b64).map_err(|_| bad("not base64"))?;
    if raw.len() < 5 {
        return Err(bad("too short"));
    }
    Ok(NoteSignature {
        name: name.to_string(),
        key_id: raw[..4].try_into().expect("length checked"),
        sig: raw[4..].to_vec(),
    })
}

/// Parses `msg` and checks it against `verifiers`: signatures by unknown keys are
/// ignored, a signature by a known key that fails is an error, and at least one
/// known key must have signed. Returns the note and the verifiers that signed.
pub fn open<'a>(
    msg: &str,
    verifiers: &'a [VerifierKey],
) -> Result<(Note, Vec<&'a VerifierKey>), LogError> {
    let note = parse(msg)?;
    let mut signed = Vec::new();
    for s in &note.sigs {
        let Some(v) = verifiers
            .iter()
            .find(|v| v.name() == s.name && v.key_id() == s.key_id)
        else {
            continue;
        };
        if !v.verify(note.text.as_bytes(), &s.sig) {
            return Err(LogError::BadSignature(s.name.clone()));
        }
        if !signed.contains(&v) {
            signed.push(v);
        }
    }
    if signed.is_empty() {
        return Err(LogError::UntrustedNote);
    }
    Ok((note, signed))
}
