//! Ed25519 keys in the C2SP signed-note encodings, so that keys printed by detente
//! work unchanged with other signed-note tools (Go's `x/mod/sumdb/note`,
//! transparency-dev, witnesses).

use crate::DomainError;
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::fmt;

/// The signed-note algorithm byte for Ed25519.
pub const ALG_ED25519: u8 = 0x01;

/// C2SP key id: the first four bytes of SHA-256(name || "\n" || alg || pubkey).
/// Cosignatures use the same rule with another algorithm byte.
pub fn key_id(name: &str, alg: u8, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', alg]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

fn check_name(name: &str) -> Result<(), DomainError> {
    let bad = name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace);
    if bad {
        return Err(DomainError::Key(format!("invalid key name {name:?}")));
    }
    Ok(())
}

/// A node's signing key, named after its origin.
pub struct NodeKey {
    name: String,
    signing: SigningKey,
}

impl NodeKey {
    /// Creates a fresh key from the operating system's random source.
    pub fn generate(name: &str) -> Result<Self, DomainError> {
        check_name(name)?;
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).map_err(|e| DomainError::Key(e.to_string()))?;
        Ok(Self::from_seed(name, seed))
    }

    fn from_seed(name: &str, seed: [u8; 32]) -> Self {
        NodeKey {
            name: name.to_string(),
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// Parses `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let rest = s
            .trim_end()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| DomainError::Key("not a PRIVATE+KEY+ signer key".into()))?;
        let (name, id, raw) = split_key(rest)?;
        let seed: [u8; 32] = raw
            .try_into()
            .map_err(|_| DomainError::Key("private key must be 32 bytes".into()))?;
        let key = Self::from_seed(name, seed);
        if key.key_id() != id {
            return Err(DomainError::Key("key id does not match the key".into()));
        }
        Ok(key)
    }

    /// The private key in Go note's `PRIVATE+KEY+` form. Write it only to 0600 files.
    pub fn to_private_string(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.signing.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex::encode(self.key_id()),
            B64.encode(raw)
        )
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> [u8; 4] {
        key_id(&self.name, ALG_ED25519, self.public().as_bytes())
    }

    pub fn public(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            id: self.key_id(),
            key: self.public(),
        }
    }

    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.signing.sign(msg).to_bytes()
    }
}

impl fmt::Debug for NodeKey {
    /// Never prints the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeKey({})", self.verifier())
    }
}

fn split_key(s: &str) -> Result<(&str, [u8; 4], Vec<u8>), DomainError> {
    let mut parts = s.splitn(3, '+');
    let (Some(name), Some(id), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(DomainError::Key(
            "expected <name>+<hex key id>+<base64 key>".into(),
        ));
    };
    check_name(name)?;
    let id: [u8; 4] = hex::decode(id)
        .ok()
        .filter(|_| id.len() == 8)
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| DomainError::Key("key id must be 8 hex digits".into()))?;
    let raw = B64
        .decode(data)
        .map_err(|_| DomainError::Key("key is not valid base64".into()))?;
    match raw.split_first() {
        Some((&ALG_ED25519, rest)) => Ok((name, id, rest.to_vec())),
        _ => Err(DomainError::Key(
            "only Ed25519 (algorithm 0x01) keys are supported".into(),
        )),
    }
}

/// A signed-note verifier key: `<name>+<8 hex key id>+<base64(0x01 || pubkey)>`.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: [u8; 4],
    key: VerifyingKey,
}

impl VerifierKey {
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let (name, id, raw) = split_key(s.trim())?;
        let bytes: [u8; 32] = raw
            .try_into()
            .map_err(|_| DomainError::Key("public key must be 32 bytes".into()))?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| DomainError::Key("not a valid Ed25519 public key".into()))?;
        if key_id(name, ALG_ED25519, &bytes) != id {
            return Err(DomainError::Key("key id does not match the key".into()));
        }
        Ok(VerifierKey {
            name: name.to_string(),
            id,
            key,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> [u8; 4] {
        self.id
    }

    pub fn public_bytes(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// Strict verification (rejects non-canonical and small-order encodings).
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = Signature::from_slice(sig) else {
            return false;
        };
        self.key.verify_strict(msg, &sig).is_ok()
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{}+{}",
            self.name,
            hex::encode(self.id),
            B64.encode(raw)
        )
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({self})")
    }
}

impl std::str::FromStr for VerifierKey {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VerifierKey::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // From tlog-vectors.json (Go sumdb note test keys).
    const SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

    #[test]
    fn private_key_vector_yields_public_vector() {
        let k = NodeKey::parse(SKEY).unwrap();
        assert_eq!(k.verifier().to_string(), VKEY);
        assert_eq!(k.to_private_string(), SKEY);
    }

    #[test]
    fn verifier_round_trips_and_checks_id() {
        assert_eq!(VerifierKey::parse(VKEY).unwrap().to_string(), VKEY);
        let wrong_id = VKEY.replace("c74f20a3", "c74f20a4");
        assert!(VerifierKey::parse(&wrong_id).is_err());
        let renamed = VKEY.replace("PeterNeumann", "Peter");
        assert!(VerifierKey::parse(&renamed).is_err());
        assert!(VerifierKey::parse("a+b").is_err());
        assert!(VerifierKey::parse("a b+c74f20a3+ARpc").is_err());
    }

    #[test]
    fn signatures_verify_only_for_the_signed_message() {
        let k = NodeKey::generate("cert.example.org").unwrap();
        let sig = k.sign(b"hello");
        let v = k.verifier();
        assert!(v.verify(b"hello", &sig));
        assert!(!v.verify(b"hellO", &sig));
        assert!(!v.verify(b"hello", &sig[..63]));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let k = NodeKey::parse(SKEY).unwrap();
        assert!(!format!("{k:?}").contains("AYEKFALV"));
    }
}
