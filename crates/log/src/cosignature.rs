//! C2SP tlog-cosignature v1: a witness's timestamped Ed25519 signature over a
//! checkpoint body. The timestamp is the third-party evidence of "when".

use crate::note::NoteSignature;
use detente_domain::{key_id, NodeKey, VerifierKey};

/// Signed-note algorithm byte for cosignature/v1 keys.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

fn message(time: u64, body: &str) -> Vec<u8> {
    format!("cosignature/v1\ntime {time}\n{body}").into_bytes()
}

/// The key id a witness key has when used for cosignatures.
pub fn cosigner_key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    key_id(name, ALG_COSIGNATURE_V1, public)
}

/// Cosigns a checkpoint body at `time` (seconds since the epoch).
pub fn cosign(key: &NodeKey, body: &str, time: u64) -> NoteSignature {
    let mut sig = time.to_be_bytes().to_vec();
    sig.extend_from_slice(&key.sign(&message(time, body)));
    NoteSignature {
        name: key.name().to_string(),
        key_id: cosigner_key_id(key.name(), key.public().as_bytes()),
        sig,
    }
}

/// Checks a cosignature line against a witness key; returns its timestamp.
pub fn verify(witness: &VerifierKey, body: &str, s: &NoteSignature) -> Option<u64> {
    let id = cosigner_key_id(witness.name(), witness.public_bytes());
    if s.name != witness.name() || s.key_id != id || s.sig.len() != 72 {
        return None;
    }
    let time = u64::from_be_bytes(s.sig[..8].try_into().ok()?);
    witness
        .verify(&message(time, body), &s.sig[8..])
        .then_some(time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosignature_verifies_only_for_its_body_and_key() {
        let w = NodeKey::generate("witness.example").unwrap();
        let body = "log.example\n5\nAAAA\n";
        let s = cosign(&w, body, 1_700_000_000);
        assert_eq!(verify(&w.verifier(), body, &s), Some(1_700_000_000));
        assert_eq!(verify(&w.verifier(), "log.example\n6\nAAAA\n", &s), None);
        let mut later = s.clone();
        later.sig[7] ^= 1;
        assert_eq!(verify(&w.verifier(), body, &later), None);
        let other = NodeKey::generate("witness.example").unwrap();
        assert_eq!(verify(&other.verifier(), body, &s), None);
    }
}
