//! The log side of tlog-witness: ask a peer's witness to cosign our checkpoint,
//! and attach the cosignatures to it.

use crate::http::{MAX_BODY, SIZE_CONTENT_TYPE};
use crate::witness::{AddCheckpoint, MAX_PROOF_LINES};
use crate::WitnessError;
use detente_domain::VerifierKey;
use detente_log::note::{self, NoteSignature, MAX_SIGNATURES};
use detente_log::{cosignature, Hash};

/// A verified cosignature from a witness.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosignature {
    /// The signature line, newline included, ready to append to the note.
    pub line: String,
    pub signature: NoteSignature,
    /// The witness's timestamp (seconds since the epoch).
    pub timestamp: u64,
}

/// What a witness answered to a well-formed submission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubmitOutcome {
    Cosigned(Cosignature),
    /// The witness last cosigned a checkpoint of this size, not `old_size`:
    /// resubmit with this old size and a consistency proof from it.
    WitnessSize(u64),
}

fn http_err(e: reqwest::Error) -> WitnessError {
    WitnessError::Http(e.to_string())
}

async fn read_limited(mut resp: reqwest::Response) -> Result<Vec<u8>, WitnessError> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(http_err)? {
        if out.len() + chunk.len() > MAX_BODY {
            return Err(WitnessError::Http("response is too large".into()));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Submits `signed_checkpoint` to the witness whose submission prefix is
/// `witness_url` (e.g. `https://peer.example/witness`), claiming the witness last
/// cosigned size `old_size`, with `proof` the consistency proof from that size.
///
/// Only a cosignature that verifies with `witness_key` over this checkpoint's body
/// is returned; lines by other keys are ignored, as the spec requires.
pub async fn submit(
    client: &reqwest::Client,
    witness_url: &str,
    old_size: u64,
    proof: &[Hash],
    signed_checkpoint: &str,
    witness_key: &VerifierKey,
) -> Result<SubmitOutcome, WitnessError> {
    if proof.len() > MAX_PROOF_LINES {
        return Err(WitnessError::Malformed(
            "more than 63 consistency proof hashes".into(),
        ));
    }
    let submitted =
        note::parse(signed_checkpoint).map_err(|e| WitnessError::Malformed(e.to_string()))?;
    let body = AddCheckpoint {
        old_size,
        proof: proof.to_vec(),
        checkpoint: signed_checkpoint.to_string(),
    }
    .to_body();
    let url = format!("{}/add-checkpoint", witness_url.trim_end_matches('/'));
    let resp = client
        .post(&url)
        .body(body)
        .send()
        .await
        .map_err(http_err)?;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = read_limited(resp).await?;
    let text = String::from_utf8_lossy(&bytes);
    match status {
        200 => {
            let sig = cosignature_from(&submitted.text, &text, witness_key)?;
            Ok(SubmitOutcome::Cosigned(sig))
        }
        409 if content_type.as_deref() == Some(SIZE_CONTENT_TYPE) => {
            let size = text
                .strip_suffix('\n')
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| WitnessError::Http(format!("bad 409 body {text:?}")))?;
            if size == old_size {
                // The witness agrees on the size but still refuses: it holds
                // another root for it.
                return Err(WitnessError::ForkReported { size });
            }
            Ok(SubmitOutcome::WitnessSize(size))
        }
        _ => Err(WitnessError::Rejected {
            status,
            message: text
                .chars()
                .take(512)
                .collect::<String>()
                .trim_end()
                .to_string(),
        }),
    }
}

/// Picks the first line of a 200 response that verifies with `witness_key`.
fn cosignature_from(
    body_text: &str,
    response: &str,
    witness_key: &VerifierKey,
) -> Result<Cosignature, WitnessError> {
    // The spec suggests reading the response as signature lines of the checkpoint
    // note; parsing it under the body also checks the line syntax.
    let combined = note::parse(&format!("{body_text}\n{response}"))
        .map_err(|e| WitnessError::BadCosignature(e.to_string()))?;
    if combined.text != body_text {
        return Err(WitnessError::BadCosignature(
            "response is not a list of signature lines".into(),
        ));
    }
    combined
        .sigs
        .into_iter()
        .find_map(|s| {
            cosignature::verify(witness_key, body_text, &s).map(|timestamp| Cosignature {
                line: s.line(),
                signature: s,
                timestamp,
            })
        })
        .ok_or_else(|| WitnessError::BadCosignature(format!("no line verifies with {witness_key}")))
}

/// Appends cosignatures to a signed checkpoint note. A note carries one signature
/// per key, so a cosignature whose key (name and key id) already signed the note is
/// skipped; the note's existing signatures are kept as they are.
pub fn merge_cosignatures(
    signed_checkpoint: &str,
    cosignatures: &[NoteSignature],
) -> Result<String, WitnessError> {
    let mut n =
        note::parse(signed_checkpoint).map_err(|e| WitnessError::Malformed(e.to_string()))?;
    for c in cosignatures {
        if !n
            .sigs
            .iter()
            .any(|s| s.name == c.name && s.key_id == c.key_id)
        {
            n.sigs.push(c.clone());
        }
    }
    if n.sigs.len() > MAX_SIGNATURES {
        return Err(WitnessError::Malformed("too many signatures".into()));
    }
    let mut out = n.text;
    out.push('\n');
    for s in &n.sigs {
        out.push_str(&s.line());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use detente_domain::NodeKey;
    use detente_log::{cosignature::cosign, Checkpoint};

    #[test]
    fn merged_note_opens_with_the_log_key_and_every_cosignature_verifies() {
        let log = NodeKey::generate("log.example").unwrap();
        let cp = Checkpoint {
            origin: "log.example".into(),
            size: 3,
            root: [5; 32],
            extensions: vec![],
        };
        let signed = cp.sign(&log).unwrap();
        let (w1, w2) = (
            NodeKey::generate("w1.example").unwrap(),
            NodeKey::generate("w2.example").unwrap(),
        );
        let body = cp.body();
        let c1 = cosign(&w1, &body, 10);
        let c2 = cosign(&w2, &body, 11);
        let once = merge_cosignatures(&signed, std::slice::from_ref(&c1)).unwrap();
        let merged =
            merge_cosignatures(&once, &[c1.clone(), c2.clone(), cosign(&w1, &body, 12)]).unwrap();
        let (opened, n) = Checkpoint::open(&merged, &[log.verifier()]).unwrap();
        assert_eq!(opened, cp);
        assert_eq!(n.sigs.len(), 3);
        assert_eq!(
            cosignature::verify(&w1.verifier(), &n.text, &n.sigs[1]),
            Some(10)
        );
        assert_eq!(
            cosignature::verify(&w2.verifier(), &n.text, &n.sigs[2]),
            Some(11)
        );
        assert!(merge_cosignatures("no blank line\n", &[c1]).is_err());
    }

    #[test]
    fn response_lines_by_other_keys_are_ignored() {
        let w = NodeKey::generate("w.example").unwrap();
        let other = NodeKey::generate("w.example").unwrap();
        let body = "log.example\n3\nBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU=\n";
        let good = cosign(&w, body, 7);
        let bad = cosign(&other, body, 8);
        let resp = format!("{}{}", bad.line(), good.line());
        let got = cosignature_from(body, &resp, &w.verifier()).unwrap();
        assert_eq!(got.signature, good);
        assert_eq!(got.timestamp, 7);
        assert!(cosignature_from(body, &bad.line(), &w.verifier()).is_err());
        assert!(cosignature_from(body, "", &w.verifier()).is_err());
        let smuggled = format!("\n{}", good.line());
        assert!(cosignature_from(body, &smuggled, &w.verifier()).is_err());
    }
}
