//! C2SP tlog-proof v1 files: an offline-verifiable proof that an entry is in a log.
//!
//! detente puts the 33-byte leaf (version byte and envelope digest) in the `extra`
//! line, so a third party can check inclusion without seeing the confidential
//! envelope; the leaf is authenticated by the proof itself, not trusted as given.

use crate::checkpoint::Checkpoint;
use crate::merkle::{hash_leaf, verify_inclusion, Hash};
use crate::note::Note;
use crate::LogError;
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use detente_domain::VerifierKey;

const HEADER: &str = "c2sp.org/tlog-proof@v1";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofFile {
    pub extra: Option<Vec<u8>>,
    pub index: u64,
    pub proof: Vec<Hash>,
    /// The signed (possibly cosigned) checkpoint, verbatim.
    pub checkpoint: String,
}

impl ProofFile {
    pub fn format(&self) -> String {
        let mut s = format!("{HEADER}\n");
        if let Some(extra) = &self.extra {
            s.push_str(&format!("extra {}\n", B64.encode(extra)));
        }
        s.push_str(&format!("index {}\n", self.index));
        for h in &self.proof {
            s.push_str(&B64.encode(h));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint);
        s
    }

    pub fn parse(text: &str) -> Result<Self, LogError> {
        let bad = |why: &str| LogError::malformed("tlog-proof", why.to_string());
        let (head, checkpoint) = text
            .split_once("\n\n")
            .ok_or_else(|| bad("no blank line"))?;
        let mut lines = head.split('\n');
        if lines.next() != Some(HEADER) {
            return Err(bad("first line must be c2sp.org/tlog-proof@v1"));
        }
        let mut line = lines.next().ok_or_else(|| bad("missing index"))?;
        let mut extra = None;
        if let Some(b) = line.strip_prefix("extra ") {
            extra = Some(B64.decode(b).map_err(|_| bad("extra is not base64"))?);
            line = lines.next().ok_or_else(|| bad("missing index"))?;
        }
        let idx = line
            .strip_prefix("index ")
            .ok_or_else(|| bad("missing index line"))?;
        let canonical = !idx.is_empty()
            && idx.bytes().all(|b| b.is_ascii_digit())
            && (idx == "0" || !idx.starts_with('0'));
        let index = idx
            .parse()
            .ok()
            .filter(|_| canonical)
            .ok_or_else(|| bad("index must be a decimal without leading zeros"))?;
        let proof = lines.map(parse_hash).collect::<Result<Vec<_>, _>>()?;
        if proof.len() > 63 {
            return Err(bad("too many proof hashes"));
        }
        Ok(ProofFile {
            extra,
            index,
            proof,
            checkpoint: checkpoint.to_string(),
        })
    }

    /// Verifies the proof for `leaf` (the entry's data) against `log_key`, which
    /// must be the key named by the checkpoint's origin. Returns the checkpoint.
    pub fn verify(
        &self,
        leaf: &[u8],
        log_key: &VerifierKey,
    ) -> Result<(Checkpoint, Note), LogError> {
        let (cp, note) = Checkpoint::open(&self.checkpoint, std::slice::from_ref(log_key))?;
        self.verify_under(leaf, &cp)?;
        Ok((cp, note))
    }

    /// Checks the inclusion proof against a checkpoint the caller has already
    /// opened and verified from this proof's note (many receipts of one batch
    /// share a checkpoint; its signature need be checked only once).
    pub fn verify_under(&self, leaf: &[u8], cp: &Checkpoint) -> Result<(), LogError> {
        verify_inclusion(self.index, cp.size, &hash_leaf(leaf), &self.proof, &cp.root)
    }
}

/// Parses one base64 proof hash, refusing anything that is not 32 bytes.
pub fn parse_hash(s: &str) -> Result<Hash, LogError> {
    B64.decode(s)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| LogError::malformed("proof hash", "must be a base64 SHA-256 hash"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{inclusion_proof, MemoryTree};
    use detente_domain::NodeKey;

    fn sample() -> (NodeKey, ProofFile, Vec<u8>) {
        let key = NodeKey::generate("log.example").unwrap();
        let mut t = MemoryTree::default();
        for i in 0u8..11 {
            t.push(&[i; 33]);
        }
        let cp = Checkpoint {
            origin: "log.example".into(),
            size: 11,
            root: t.root(),
            extensions: vec![],
        };
        let pf = ProofFile {
            extra: Some(vec![7; 33]),
            index: 7,
            proof: inclusion_proof(&t, 7, 11).unwrap(),
            checkpoint: cp.sign(&key).unwrap(),
        };
        (key, pf, vec![7; 33])
    }

    #[test]
    fn round_trips_and_verifies() {
        let (key, pf, leaf) = sample();
        let text = pf.format();
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra "));
        let back = ProofFile::parse(&text).unwrap();
        assert_eq!(back, pf);
        assert_eq!(back.verify(&leaf, &key.verifier()).unwrap().0.size, 11);
    }

    #[test]
    fn wrong_leaf_index_key_or_hash_fails() {
        let (key, pf, leaf) = sample();
        assert!(pf.verify(&[8; 33], &key.verifier()).is_err());
        let mut other = pf.clone();
        other.index = 6;
        assert!(other.verify(&leaf, &key.verifier()).is_err());
        let stranger = NodeKey::generate("log.example").unwrap();
        assert!(pf.verify(&leaf, &stranger.verifier()).is_err());
        let mut flipped = pf.clone();
        flipped.proof[0][0] ^= 1;
        assert!(flipped.verify(&leaf, &key.verifier()).is_err());
    }

    proptest::proptest! {
        /// The tree size is bound by the checkpoint signature: any other size, or
        /// any altered signature byte, is refused.
        #[test]
        fn altered_size_or_signature_is_rejected(size in 0u64..1000, byte in 0usize..64) {
            let (key, pf, leaf) = sample();
            if size != 11 {
                let mut other = pf.clone();
                other.checkpoint = pf.checkpoint.replacen("\n11\n", &format!("\n{size}\n"), 1);
                proptest::prop_assert!(other.verify(&leaf, &key.verifier()).is_err());
            }
            let (body, sig_line) = pf.checkpoint.split_once("\n\n").unwrap();
            let b64 = sig_line.trim_end().rsplit(' ').next().unwrap();
            let mut raw = B64.decode(b64).unwrap();
            raw[4 + byte] ^= 1;
            let forged = format!("{body}\n\n\u{2014} log.example {}\n", B64.encode(raw));
            let mut other = pf.clone();
            other.checkpoint = forged;
            proptest::prop_assert!(other.verify(&leaf, &key.verifier()).is_err());
        }
    }

    #[test]
    fn malformed_files_are_refused() {
        let (_, pf, _) = sample();
        let text = pf.format();
        for bad in [
            text.replacen("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2", 1),
            text.replacen("index 7", "index 07", 1),
            text.replacen("index 7", "index x", 1),
            text.replacen("\n\n", "\n", 1),
            text.replacen("index 7\n", "index 7\nAAAA\n", 1),
        ] {
            assert!(ProofFile::parse(&bad).is_err(), "{bad}");
        }
    }
}
