//! Envelopes: the unit of record. Every state change of a node is one envelope,
//! canonical JSON (RFC 8785) signed by the acting node, so that anyone holding the
//! node's verifier key can check it and everyone hashes the same bytes.

use crate::time::{self, Timestamp};
use crate::{sha256, DomainError, Hash, NodeKey, Origin, VerifierKey};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use serde_json::{Map, Value};

/// First byte of every log leaf: the commitment format. A leaf is
/// `LEAF_VERSION || SHA-256(signed envelope bytes)`, never the content, because
/// requests are confidential while the log is public.
pub const LEAF_VERSION: u8 = 0x01;

/// Signatures cover this prefix plus the canonical envelope without `sig`, so an
/// envelope signature can never be confused with a signed note or cosignature.
const SIGNING_CONTEXT: &[u8] = b"detente-envelope/v1\n";

/// An unsigned envelope.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    pub kind: String,
    pub origin: Origin,
    pub time: Timestamp,
    pub payload: Value,
}

impl Envelope {
    pub fn new(kind: &str, origin: Origin, payload: Value) -> Result<Self, DomainError> {
        check_kind(kind)?;
        Ok(Envelope {
            kind: kind.to_string(),
            origin,
            time: time::now(),
            payload,
        })
    }

    fn to_object(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("v".into(), Value::from(1));
        m.insert("type".into(), Value::from(self.kind.clone()));
        m.insert("origin".into(), Value::from(self.origin.as_str()));
        m.insert("time".into(), Value::from(time::format(&self.time)));
        m.insert("payload".into(), self.payload.clone());
        m
    }

    /// Signs with `key`, which must be the key of `self.origin`.
    pub fn sign(&self, key: &NodeKey) -> Result<SignedEnvelope, DomainError> {
        if key.name() != self.origin.as_str() {
            return Err(DomainError::Envelope(format!(
                "origin {} cannot be signed by key {}",
                self.origin,
                key.name()
            )));
        }
        let unsigned = canonical(&Value::Object(self.to_object()))?;
        let sig = key.sign(&signing_input(&unsigned));
        let bytes = insert_sig(&unsigned, &self.kind, &time::format(&self.time), &sig)?;
        Ok(SignedEnvelope::from_trusted(bytes, self))
    }
}

fn check_kind(kind: &str) -> Result<(), DomainError> {
    let ok = !kind.is_empty()
        && kind.len() <= 64
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
    if !ok {
        return Err(DomainError::Envelope(format!(
            "type {kind:?} must be 1-64 of a-z 0-9 _ ."
        )));
    }
    Ok(())
}

/// Adds `"sig"` to canonical unsigned bytes without canonicalising the payload a
/// second time: in RFC 8785 key order `sig` sits between `payload` and `time`, and
/// the fields after it are ours, so the tail is known exactly.
fn insert_sig(
    unsigned: &[u8],
    kind: &str,
    time: &str,
    sig: &[u8; 64],
) -> Result<Vec<u8>, DomainError> {
    let tail = format!(",\"time\":\"{time}\",\"type\":\"{kind}\",\"v\":1}}");
    let head = unsigned
        .strip_suffix(tail.as_bytes())
        .ok_or_else(|| DomainError::Envelope("unexpected canonical form".into()))?;
    let mut out = Vec::with_capacity(unsigned.len() + 100);
    out.extend_from_slice(head);
    out.extend_from_slice(b",\"sig\":\"");
    out.extend_from_slice(B64.encode(sig).as_bytes());
    out.push(b'"');
    out.extend_from_slice(tail.as_bytes());
    Ok(out)
}

fn canonical(v: &Value) -> Result<Vec<u8>, DomainError> {
    serde_json_canonicalizer::to_vec(v).map_err(|e| DomainError::Envelope(e.to_string()))
}

fn signing_input(unsigned: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNING_CONTEXT.len() + unsigned.len());
    m.extend_from_slice(SIGNING_CONTEXT);
    m.extend_from_slice(unsigned);
    m
}

/// A signed envelope: its exact canonical bytes, their digest, and the two fields
/// storage indexes (type and time), kept so they need not be parsed again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedEnvelope {
    bytes: Vec<u8>,
    digest: Hash,
    kind: String,
    time: String,
}

impl SignedEnvelope {
    fn from_trusted(bytes: Vec<u8>, env: &Envelope) -> Self {
        let digest = sha256(&bytes);
        SignedEnvelope {
            bytes,
            digest,
            kind: env.kind.clone(),
            time: time::format(&env.time),
        }
    }

    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The envelope's time, RFC 3339 with microseconds.
    pub fn time(&self) -> &str {
        &self.time
    }

    /// Checks that `bytes` are a canonical envelope signed by `key` and returns it.
    pub fn verify(bytes: &[u8], key: &VerifierKey) -> Result<(Self, Envelope), DomainError> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| DomainError::Envelope(format!("not JSON: {e}")))?;
        let Value::Object(mut obj) = value else {
            return Err(DomainError::Envelope("not a JSON object".into()));
        };
        let sig: [u8; 64] = obj
            .remove("sig")
            .and_then(|s| s.as_str().and_then(|s| B64.decode(s).ok()))
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| DomainError::Envelope("missing or malformed sig".into()))?;
        let env = parse_fields(&obj)?;
        if !obj.contains_key("payload") {
            return Err(DomainError::Envelope("unexpected fields".into()));
        }
        if env.origin.as_str() != key.name() {
            return Err(DomainError::Envelope(format!(
                "envelope from {} checked against key {}",
                env.origin,
                key.name()
            )));
        }
        // The bytes must be exactly the canonical form: the canonical unsigned
        // object with `sig` put back where RFC 8785 orders it. One
        // canonicalisation instead of two (of the envelope, then of it without
        // `sig`) is a third of what verifying an envelope costs.
        // (`time` was checked to be RFC 3339, `type` to be of [a-z0-9_.]:
        // neither needs escaping.)
        let time = obj["time"].as_str().unwrap_or_default().to_string();
        let unsigned = canonical(&Value::Object(obj))?;
        if insert_sig(&unsigned, &env.kind, &time, &sig)
            .ok()
            .as_deref()
            != Some(bytes)
        {
            return Err(DomainError::Envelope(
                "not in RFC 8785 canonical form".into(),
            ));
        }
        if !key.verify(&signing_input(&unsigned), &sig) {
            return Err(DomainError::Signature);
        }
        Ok((Self::from_trusted(bytes.to_vec(), &env), env))
    }

    /// Reads an envelope this node signed and stored itself, without checking
    /// its signature again. Never for bytes that came from outside the node.
    pub fn read_own(bytes: &[u8]) -> Result<(Self, Envelope), DomainError> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| DomainError::Envelope(format!("not JSON: {e}")))?;
        let Value::Object(mut obj) = value else {
            return Err(DomainError::Envelope("not a JSON object".into()));
        };
        obj.remove("sig");
        let env = parse_fields(&obj)?;
        Ok((Self::from_trusted(bytes.to_vec(), &env), env))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// SHA-256 of the signed bytes; also the envelope's id.
    pub fn digest(&self) -> &Hash {
        &self.digest
    }

    /// The log leaf committing to this envelope.
    pub fn leaf(&self) -> [u8; 33] {
        leaf_for(&self.digest)
    }
}

/// The 33-byte log leaf for an envelope digest.
pub fn leaf_for(digest: &Hash) -> [u8; 33] {
    let mut leaf = [0u8; 33];
    leaf[0] = LEAF_VERSION;
    leaf[1..].copy_from_slice(digest);
    leaf
}

fn parse_fields(obj: &Map<String, Value>) -> Result<Envelope, DomainError> {
    let field = |k: &str| {
        obj.get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| DomainError::Envelope(format!("missing string field {k:?}")))
    };
    if obj.get("v") != Some(&Value::from(1)) {
        return Err(DomainError::Envelope(
            "unsupported version (want v=1)".into(),
        ));
    }
    if obj.len() != 5 {
        return Err(DomainError::Envelope("unexpected fields".into()));
    }
    let kind = field("type")?;
    check_kind(kind)?;
    let time = time::parse(field("time")?)
        .ok_or_else(|| DomainError::Envelope("time is not RFC 3339".into()))?;
    Ok(Envelope {
        kind: kind.to_string(),
        origin: Origin::parse(field("origin")?)?,
        time,
        payload: obj.get("payload").cloned().unwrap_or(Value::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> NodeKey {
        NodeKey::generate("cert-a.example").unwrap()
    }

    fn env(payload: Value) -> Envelope {
        Envelope::new(
            "request.submitted",
            Origin::parse("cert-a.example").unwrap(),
            payload,
        )
        .unwrap()
    }

    #[test]
    fn signed_envelope_verifies_and_round_trips() {
        let k = key();
        let e = env(json!({"b": 1, "a": "x", "z": [3, "é"]}));
        let s = e.sign(&k).unwrap();
        let (again, parsed) = SignedEnvelope::verify(s.bytes(), &k.verifier()).unwrap();
        assert_eq!(again, s);
        assert_eq!(parsed.kind, "request.submitted");
        assert_eq!(parsed.payload, e.payload);
        assert_eq!(s.leaf()[0], LEAF_VERSION);
        assert_eq!(&s.leaf()[1..], &sha256(s.bytes()));
    }

    #[test]
    fn bytes_are_rfc8785_canonical() {
        let s = env(json!({"b": 1.0, "a": 1e21})).sign(&key()).unwrap();
        let text = std::str::from_utf8(s.bytes()).unwrap();
        assert!(
            text.starts_with("{\"origin\":\"cert-a.example\",\"payload\":{\"a\":1e+21,\"b\":1}")
        );
    }

    #[test]
    fn spliced_signature_equals_full_canonicalisation() {
        let s = env(json!({"z": {"b": [1, 2.5, "\u{1F600}"], "a": null}, "sig": "inner"}))
            .sign(&key())
            .unwrap();
        let v: Value = serde_json::from_slice(s.bytes()).unwrap();
        assert_eq!(canonical(&v).unwrap(), s.bytes());
    }

    #[test]
    fn any_change_is_rejected() {
        let k = key();
        let s = env(json!({"n": 1})).sign(&k).unwrap();
        let tampered = String::from_utf8(s.bytes().to_vec())
            .unwrap()
            .replace("\"n\":1", "\"n\":2");
        assert_eq!(
            SignedEnvelope::verify(tampered.as_bytes(), &k.verifier()),
            Err(DomainError::Signature)
        );
        let other = NodeKey::generate("cert-a.example").unwrap();
        assert!(SignedEnvelope::verify(s.bytes(), &other.verifier()).is_err());
        let spaced = String::from_utf8(s.bytes().to_vec())
            .unwrap()
            .replacen(',', ", ", 1);
        assert!(SignedEnvelope::verify(spaced.as_bytes(), &k.verifier()).is_err());
    }

    /// Verification rebuilds the signed bytes from the canonical unsigned
    /// object, so anything that is not byte for byte that form must fail,
    /// even when it is the same JSON value.
    #[test]
    fn only_the_exact_canonical_bytes_verify() {
        let k = key();
        let tricky = json!({"note": ",\"sig\":\"x\",\"time\":\"2021-01-01T00:00:00Z\",\"type\":\"a\",\"v\":1}"});
        let s = env(tricky).sign(&k).unwrap();
        assert!(SignedEnvelope::verify(s.bytes(), &k.verifier()).is_ok());
        let v: Value = serde_json::from_slice(s.bytes()).unwrap();
        let mut reordered = serde_json::to_string(&v["sig"]).unwrap();
        reordered = format!(
            "{{\"sig\":{reordered},{}",
            &std::str::from_utf8(s.bytes()).unwrap()[1..]
        )
        .replacen(
            &format!(",\"sig\":{}", serde_json::to_string(&v["sig"]).unwrap()),
            "",
            1,
        );
        assert!(serde_json::from_str::<Value>(&reordered).unwrap() == v);
        assert!(SignedEnvelope::verify(reordered.as_bytes(), &k.verifier()).is_err());
        let mut renamed = v.as_object().unwrap().clone();
        let payload = renamed.remove("payload").unwrap();
        renamed.insert("payloads".into(), payload);
        let renamed = canonical(&Value::Object(renamed)).unwrap();
        assert!(SignedEnvelope::verify(&renamed, &k.verifier()).is_err());
    }

    #[test]
    fn wrong_signer_or_bad_type_is_refused() {
        let other = NodeKey::generate("cert-b.example").unwrap();
        assert!(env(json!(null)).sign(&other).is_err());
        let o = Origin::parse("cert-a.example").unwrap();
        assert!(Envelope::new("Bad Type", o, json!(null)).is_err());
    }
}
