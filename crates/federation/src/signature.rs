//! The one RFC 9421 profile detente uses (label `sig1`, algorithm `ed25519`):
//!
//! ```text
//! Signature-Input: sig1=("@method" "@authority" "@path" "@query" "content-digest");created=1700000000;keyid="cert-a.example";alg="ed25519";nonce="<hex>"
//! Signature: sig1=:<base64 Ed25519 signature over the signature base>:
//! Content-Digest: sha-256=:<base64 SHA-256 of the body>:
//! ```

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use detente_domain::{NodeKey, VerifierKey};
use http::HeaderMap;
use sha2::{Digest, Sha256};
use thiserror::Error;

/// Signatures older or newer than this (seconds) are refused.
pub const MAX_SKEW_SECS: u64 = 300;
const COMPONENTS: &str = r#"("@method" "@authority" "@path" "@query" "content-digest")"#;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SigError {
    #[error("missing {0} header")]
    Missing(&'static str),
    #[error("malformed {0}")]
    Malformed(&'static str),
    #[error("unknown key {0:?}")]
    UnknownKey(String),
    #[error("signature created {0} seconds away from now (allowed: {MAX_SKEW_SECS})")]
    Stale(i64),
    #[error("replayed request (nonce already used)")]
    Replayed,
    #[error("Content-Digest does not match the body")]
    Digest,
    #[error("bad signature")]
    BadSignature,
}

/// `sha-256=:<base64>:` (RFC 9530).
pub fn content_digest(body: &[u8]) -> String {
    format!("sha-256=:{}:", B64.encode(Sha256::digest(body)))
}

/// The request parts a signature covers.
pub struct Signed<'a> {
    pub method: &'a str,
    pub authority: &'a str,
    pub path: &'a str,
    /// `?a=b`, or empty (RFC 9421 gives an absent query as `?`).
    pub query: &'a str,
    pub body: &'a [u8],
}

fn params(created: u64, keyid: &str, nonce: &str) -> String {
    format!(r#"{COMPONENTS};created={created};keyid="{keyid}";alg="ed25519";nonce="{nonce}""#)
}

fn base(req: &Signed, digest: &str, params: &str) -> String {
    let query = if req.query.is_empty() { "?" } else { req.query };
    format!(
        "\"@method\": {}\n\"@authority\": {}\n\"@path\": {}\n\"@query\": {}\n\"content-digest\": {}\n\"@signature-params\": {}",
        req.method.to_ascii_uppercase(),
        req.authority.to_ascii_lowercase(),
        req.path,
        query,
        digest,
        params
    )
}

/// Headers (name, value) that sign `req` with `key` at `now` (Unix seconds).
pub fn sign(key: &NodeKey, req: &Signed, now: u64) -> [(&'static str, String); 3] {
    let mut raw = [0u8; 16];
    getrandom::getrandom(&mut raw).expect("OS random source");
    let digest = content_digest(req.body);
    let p = params(now, key.name(), &hex::encode(raw));
    let sig = key.sign(base(req, &digest, &p).as_bytes());
    [
        ("content-digest", digest),
        ("signature-input", format!("sig1={p}")),
        ("signature", format!("sig1=:{}:", B64.encode(sig))),
    ]
}

struct Input {
    created: u64,
    keyid: String,
    nonce: String,
    params: String,
}

/// Parses exactly the profile [`sign`] writes; anything else is refused.
fn parse_input(value: &str) -> Result<Input, SigError> {
    let bad = SigError::Malformed("Signature-Input");
    let rest = value
        .strip_prefix("sig1=")
        .ok_or(SigError::Malformed("Signature-Input"))?;
    let tail = rest
        .strip_prefix(COMPONENTS)
        .ok_or(SigError::Malformed("Signature-Input"))?;
    let mut fields = tail
        .strip_prefix(";created=")
        .ok_or(SigError::Malformed("Signature-Input"))?
        .splitn(2, ';');
    let created_s = fields
        .next()
        .ok_or(SigError::Malformed("Signature-Input"))?;
    let created: u64 = created_s
        .parse()
        .ok()
        .filter(|_| created_s.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(SigError::Malformed("Signature-Input"))?;
    let rest = fields
        .next()
        .ok_or(SigError::Malformed("Signature-Input"))?;
    let quoted = |s: &str, key: &str| -> Option<(String, String)> {
        let s = s.strip_prefix(key)?.strip_prefix("=\"")?;
        let (v, after) = s.split_once('"')?;
        let ok = !v.is_empty()
            && v.bytes()
                .all(|b| b.is_ascii_graphic() && b != b'\\' && b != b'"');
        ok.then(|| (v.to_string(), after.to_string()))
    };
    let (keyid, r) = quoted(rest, "keyid").ok_or(SigError::Malformed("Signature-Input"))?;
    let (alg, r) = quoted(r.strip_prefix(';').unwrap_or(""), "alg")
        .ok_or(SigError::Malformed("Signature-Input"))?;
    let (nonce, r) = quoted(r.strip_prefix(';').unwrap_or(""), "nonce")
        .ok_or(SigError::Malformed("Signature-Input"))?;
    if alg != "ed25519" || !r.is_empty() || nonce.len() > 64 {
        return Err(bad);
    }
    Ok(Input {
        created,
        params: params(created, &keyid, &nonce),
        keyid,
        nonce,
    })
}

fn header<'a>(h: &'a HeaderMap, name: &'static str) -> Result<&'a str, SigError> {
    h.get(name)
        .ok_or(SigError::Missing(name))?
        .to_str()
        .map_err(|_| SigError::Malformed(name))
}

/// Verifies a signed request; `lookup` finds a peer's key by origin. Returns the
/// key that signed. The nonce is consumed only when everything else holds, so a
/// forged request cannot burn a genuine one's nonce.
pub fn verify(
    headers: &HeaderMap,
    req: &Signed,
    lookup: impl Fn(&str) -> Option<VerifierKey>,
    guard: &crate::ReplayGuard,
    now: u64,
) -> Result<VerifierKey, SigError> {
    let v = verify_unconsumed(headers, req, lookup, now)?;
    if !guard.first_use(&v.nonce, now, v.expires) {
        return Err(SigError::Replayed);
    }
    Ok(v.key)
}

/// A signature that holds, its nonce not yet consumed.
#[derive(Debug)]
pub struct Verified {
    pub key: VerifierKey,
    pub nonce: String,
    /// When the signature goes stale (seconds since the epoch): the nonce
    /// must be remembered until then, and no longer.
    pub expires: u64,
}

/// [`verify`] up to the replay check, for callers whose record of used
/// nonces lives elsewhere (a database that replicas share); they must
/// consume [`Verified::nonce`] and refuse the call if it was used.
pub fn verify_unconsumed(
    headers: &HeaderMap,
    req: &Signed,
    lookup: impl Fn(&str) -> Option<VerifierKey>,
    now: u64,
) -> Result<Verified, SigError> {
    let input = parse_input(header(headers, "signature-input")?)?;
    let sig_b64 = header(headers, "signature")?
        .strip_prefix("sig1=:")
        .and_then(|s| s.strip_suffix(':'))
        .ok_or(SigError::Malformed("Signature"))?;
    let sig = B64
        .decode(sig_b64)
        .map_err(|_| SigError::Malformed("Signature"))?;
    let digest = header(headers, "content-digest")?;
    let key = lookup(&input.keyid).ok_or_else(|| SigError::UnknownKey(input.keyid.clone()))?;
    let skew = now as i64 - input.created as i64;
    if skew.unsigned_abs() > MAX_SKEW_SECS {
        return Err(SigError::Stale(skew));
    }
    if digest != content_digest(req.body) {
        return Err(SigError::Digest);
    }
    if !key.verify(base(req, digest, &input.params).as_bytes(), &sig) {
        return Err(SigError::BadSignature);
    }
    Ok(Verified {
        key,
        expires: input.created + MAX_SKEW_SECS + 1,
        nonce: input.nonce,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReplayGuard;
    use http::HeaderValue;

    const NOW: u64 = 1_780_000_000;

    fn req(body: &[u8]) -> Signed<'_> {
        Signed {
            method: "POST",
            authority: "cert-b.example:8443",
            path: "/federation/v1/envelopes",
            query: "",
            body,
        }
    }

    fn signed(key: &NodeKey, r: &Signed, now: u64) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in sign(key, r, now) {
            h.insert(name, HeaderValue::from_str(&value).unwrap());
        }
        h
    }

    fn setup() -> (NodeKey, impl Fn(&str) -> Option<VerifierKey>) {
        let key = NodeKey::generate("cert-a.example").unwrap();
        let v = key.verifier();
        (key, move |id: &str| (id == v.name()).then(|| v.clone()))
    }

    #[test]
    fn a_signed_request_verifies_once() {
        let (key, lookup) = setup();
        let guard = ReplayGuard::default();
        let h = signed(&key, &req(b"{}"), NOW);
        assert_eq!(
            verify(&h, &req(b"{}"), &lookup, &guard, NOW + 10).unwrap(),
            key.verifier()
        );
        assert_eq!(
            verify(&h, &req(b"{}"), &lookup, &guard, NOW + 11),
            Err(SigError::Replayed)
        );
    }

    #[test]
    fn any_change_is_refused() {
        let (key, lookup) = setup();
        let guard = ReplayGuard::default();
        let h = signed(&key, &req(b"{}"), NOW);
        assert_eq!(
            verify(&h, &req(b"{ }"), &lookup, &guard, NOW),
            Err(SigError::Digest)
        );
        let other_path = Signed {
            path: "/other",
            ..req(b"{}")
        };
        assert_eq!(
            verify(&h, &other_path, &lookup, &guard, NOW),
            Err(SigError::BadSignature)
        );
        let get = Signed {
            method: "GET",
            ..req(b"{}")
        };
        assert_eq!(
            verify(&h, &get, &lookup, &guard, NOW),
            Err(SigError::BadSignature)
        );
        let query = Signed {
            query: "?x=1",
            ..req(b"{}")
        };
        assert_eq!(
            verify(&h, &query, &lookup, &guard, NOW),
            Err(SigError::BadSignature)
        );
        // A forged request does not use up the genuine nonce.
        assert!(verify(&h, &req(b"{}"), &lookup, &guard, NOW).is_ok());
    }

    #[test]
    fn stale_unknown_and_malformed_are_refused() {
        let (key, lookup) = setup();
        let guard = ReplayGuard::default();
        let h = signed(&key, &req(b""), NOW);
        assert!(matches!(
            verify(&h, &req(b""), &lookup, &guard, NOW + 301),
            Err(SigError::Stale(_))
        ));
        assert!(matches!(
            verify(&h, &req(b""), &lookup, &guard, NOW - 301),
            Err(SigError::Stale(_))
        ));
        let stranger = NodeKey::generate("cert-x.example").unwrap();
        let hx = signed(&stranger, &req(b""), NOW);
        assert!(matches!(
            verify(&hx, &req(b""), &lookup, &guard, NOW),
            Err(SigError::UnknownKey(_))
        ));
        // Same name, different key: the signature fails.
        let impostor = NodeKey::generate("cert-a.example").unwrap();
        let hi = signed(&impostor, &req(b""), NOW);
        assert_eq!(
            verify(&hi, &req(b""), &lookup, &guard, NOW),
            Err(SigError::BadSignature)
        );
        for (name, value) in [
            ("signature-input", "sig1=(\"@method\");created=1;keyid=\"cert-a.example\";alg=\"ed25519\";nonce=\"a\""),
            ("signature-input", "sig2=(\"@method\" \"@authority\" \"@path\" \"@query\" \"content-digest\");created=1"),
            ("signature", "sig1=:not base64:"),
            ("signature", "sig1=abc"),
        ] {
            let mut bad = h.clone();
            bad.insert(name, HeaderValue::from_static(value));
            assert!(verify(&bad, &req(b""), &lookup, &guard, NOW).is_err(), "{name}: {value}");
        }
        let mut missing = h.clone();
        missing.remove("content-digest");
        assert_eq!(
            verify(&missing, &req(b""), &lookup, &guard, NOW),
            Err(SigError::Missing("content-digest"))
        );
    }
}
