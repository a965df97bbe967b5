//! The witness side of C2SP tlog-witness v1: check a submitted checkpoint against
//! the latest one cosigned for its log, persist, then cosign.

use crate::store::{Conflict, ConflictKind, Cosigned, WitnessStore};
use crate::WitnessError;
use detente_domain::{NodeKey, VerifierKey};
use detente_log::merkle::{verify_consistency, EMPTY_ROOT};
use detente_log::note::{self, NoteSignature};
use detente_log::{cosignature, proof_file::parse_hash, Checkpoint, Hash, LogError};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// tlog-witness: "The client MUST NOT send more than 63 consistency proof lines."
pub const MAX_PROOF_LINES: usize = 63;

/// A log this witness follows: its origin and the keys it signs checkpoints with.
#[derive(Clone, Debug)]
pub struct LogConfig {
    origin: String,
    keys: Vec<VerifierKey>,
}

impl LogConfig {
    /// Every key must be named after the origin, as tlog-checkpoint requires of
    /// the log's own key, so that cosigned checkpoints also `Checkpoint::open`.
    pub fn new(origin: &str, keys: Vec<VerifierKey>) -> Result<Self, WitnessError> {
        if origin.is_empty() || origin.contains('\n') {
            return Err(WitnessError::Config(format!("invalid origin {origin:?}")));
        }
        if keys.is_empty() {
            return Err(WitnessError::Config(format!("no key for log {origin}")));
        }
        if let Some(k) = keys.iter().find(|k| k.name() != origin) {
            return Err(WitnessError::Config(format!(
                "key {k} is not named after the log origin {origin}"
            )));
        }
        Ok(LogConfig {
            origin: origin.to_string(),
            keys,
        })
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn keys(&self) -> &[VerifierKey] {
        &self.keys
    }
}

/// A parsed add-checkpoint request body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    pub old_size: u64,
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, signatures included.
    pub checkpoint: String,
}

fn malformed(why: impl Into<String>) -> WitnessError {
    WitnessError::Malformed(why.into())
}

fn parse_decimal(s: &str) -> Option<u64> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    s.parse().ok().filter(|_| canonical)
}

impl AddCheckpoint {
    /// Parses `old <N>\n`, up to 63 base64 hash lines, an empty line, then the
    /// signed checkpoint.
    pub fn parse(body: &[u8]) -> Result<Self, WitnessError> {
        let text = std::str::from_utf8(body).map_err(|_| malformed("body is not UTF-8"))?;
        let (first, mut rest) = text
            .split_once('\n')
            .ok_or_else(|| malformed("missing old size line"))?;
        let old_size = first
            .strip_prefix("old ")
            .and_then(parse_decimal)
            .ok_or_else(|| malformed("old size line must be \"old <decimal>\""))?;
        let mut proof = Vec::new();
        loop {
            let (line, tail) = rest
                .split_once('\n')
                .ok_or_else(|| malformed("missing empty line before the checkpoint"))?;
            rest = tail;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(malformed("more than 63 consistency proof lines"));
            }
            proof.push(parse_hash(line).map_err(|e| malformed(e.to_string()))?);
        }
        Ok(AddCheckpoint {
            old_size,
            proof,
            checkpoint: rest.to_string(),
        })
    }

    /// The request body, as a client sends it.
    pub fn to_body(&self) -> String {
        use base64::{engine::general_purpose::STANDARD as B64, Engine};
        let mut s = format!("old {}\n", self.old_size);
        for h in &self.proof {
            s.push_str(&B64.encode(h));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint);
        s
    }
}

type ConflictHook = Box<dyn Fn(&Conflict) + Send + Sync>;

/// A witness: cosigns checkpoints of the logs it follows, never two that
/// contradict each other, and keeps the evidence when a log tries.
pub struct Witness {
    key: Arc<NodeKey>,
    store: Arc<dyn WitnessStore>,
    logs: RwLock<HashMap<String, LogConfig>>,
    hooks: RwLock<Vec<ConflictHook>>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Witness {
    /// A witness whose state is in `store` (the node's own store), cosigning
    /// with `key`.
    pub fn new(store: Arc<dyn WitnessStore>, key: Arc<NodeKey>, logs: Vec<LogConfig>) -> Self {
        Witness {
            key,
            store,
            logs: RwLock::new(logs.into_iter().map(|l| (l.origin.clone(), l)).collect()),
            hooks: RwLock::new(Vec::new()),
        }
    }

    /// Starts following a log (or replaces its keys), e.g. when a peer is added.
    pub fn add_log(&self, log: LogConfig) {
        let mut logs = self.logs.write().unwrap_or_else(|e| e.into_inner());
        logs.insert(log.origin.clone(), log);
    }

    /// The key clients verify cosignatures with (its cosignature key id uses
    /// algorithm 0x04; see `detente_log::cosignature::cosigner_key_id`).
    pub fn verifier(&self) -> VerifierKey {
        self.key.verifier()
    }

    /// The latest checkpoint cosigned for `origin`.
    pub fn latest(&self, origin: &str) -> Result<Option<Cosigned>, WitnessError> {
        Ok(self.store.witnessed(origin)?)
    }

    /// Every conflict kept so far, oldest first.
    pub fn conflicts(&self) -> Result<Vec<Conflict>, WitnessError> {
        Ok(self.store.witness_conflicts()?)
    }

    /// Registers a hook called once per newly kept conflict, after it is stored,
    /// so the node can record the alert in its own log. Hooks run on the thread
    /// that handled the request, under the hook list's read lock: hand heavy work
    /// to a channel, and do not register hooks from inside a hook.
    pub fn on_conflict(&self, hook: impl Fn(&Conflict) + Send + Sync + 'static) {
        let mut hooks = self.hooks.write().unwrap_or_else(|e| e.into_inner());
        hooks.push(Box::new(hook));
    }

    /// Handles an add-checkpoint request body; returns the cosignature.
    pub fn add_checkpoint(&self, body: &[u8]) -> Result<NoteSignature, WitnessError> {
        self.add(&AddCheckpoint::parse(body)?)
    }

    /// Handles a parsed add-checkpoint request; returns the cosignature.
    pub fn add(&self, req: &AddCheckpoint) -> Result<NoteSignature, WitnessError> {
        let parsed = note::parse(&req.checkpoint).map_err(|e| malformed(e.to_string()))?;
        let cp = Checkpoint::parse_body(&parsed.text).map_err(|e| malformed(e.to_string()))?;
        if i64::try_from(cp.size).is_err() {
            return Err(malformed("checkpoint size is too large"));
        }
        let keys = {
            let logs = self.logs.read().unwrap_or_else(|e| e.into_inner());
            match logs.get(&cp.origin) {
                Some(l) => l.keys.clone(),
                None => return Err(WitnessError::UnknownOrigin(cp.origin)),
            }
        };
        match note::open(&req.checkpoint, &keys) {
            Ok(_) => {}
            Err(LogError::UntrustedNote | LogError::BadSignature(_)) => {
                return Err(WitnessError::Untrusted(cp.origin))
            }
            Err(e) => return Err(malformed(e.to_string())),
        }
        loop {
            let stored = self.store.witnessed(&cp.origin)?;
            if let Some(s) = &stored {
                if s.size == cp.size && s.root != cp.root {
                    self.keep(s, req, ConflictKind::Fork)?;
                }
            }
            if req.old_size > cp.size {
                return Err(WitnessError::OldAfterNew {
                    old: req.old_size,
                    new: cp.size,
                });
            }
            let (size, root) = stored
                .as_ref()
                .map_or((0, EMPTY_ROOT), |s| (s.size, s.root));
            if req.old_size != size {
                return Err(WitnessError::SizeMismatch { stored: size });
            }
            if cp.size == size {
                if cp.root != root {
                    return Err(WitnessError::RootMismatch { size });
                }
                if !req.proof.is_empty() {
                    return Err(WitnessError::BadProof(
                        "proof must be empty when the sizes are equal".into(),
                    ));
                }
            } else if let Err(e) = verify_consistency(size, cp.size, &root, &cp.root, &req.proof) {
                if let Some(s) = stored.as_ref().filter(|s| s.size > 0) {
                    self.keep(s, req, ConflictKind::Inconsistent)?;
                }
                return Err(WitnessError::BadProof(e.to_string()));
            }
            let time = now();
            let record = Cosigned {
                origin: cp.origin.clone(),
                size: cp.size,
                root: cp.root,
                note: req.checkpoint.clone(),
                cosigned_at: time,
            };
            // Persist first, sign second: a signature never exists for a state the
            // witness failed to record. Losing the race means another request moved
            // the stored size, and the next round answers 409.
            if self
                .store
                .swap_witnessed(stored.map(|s| (s.size, s.root)), &record)?
            {
                return Ok(cosignature::cosign(&self.key, &parsed.text, time));
            }
        }
    }

    fn keep(
        &self,
        stored: &Cosigned,
        req: &AddCheckpoint,
        kind: ConflictKind,
    ) -> Result<(), WitnessError> {
        let conflict = Conflict {
            id: 0,
            origin: stored.origin.clone(),
            kind,
            cosigned_note: stored.note.clone(),
            submitted_note: req.checkpoint.clone(),
            old_size: req.old_size,
            proof: if kind == ConflictKind::Fork {
                Vec::new()
            } else {
                req.proof.clone()
            },
            detected_at: now(),
        };
        if !self.store.record_witness_conflict(&conflict)? {
            return Ok(());
        }
        match kind {
            ConflictKind::Fork => tracing::error!(
                origin = %conflict.origin,
                size = stored.size,
                "log signed two different checkpoints of the same size (split view); evidence kept"
            ),
            ConflictKind::Inconsistent => tracing::error!(
                origin = %conflict.origin,
                cosigned_size = stored.size,
                "log signed a checkpoint not proven consistent with the cosigned one; evidence kept"
            ),
        }
        let hooks = self.hooks.read().unwrap_or_else(|e| e.into_inner());
        for hook in hooks.iter() {
            hook(&conflict);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_body_round_trips() {
        let req = AddCheckpoint {
            old_size: 20852014,
            proof: vec![[1; 32], [2; 32]],
            checkpoint: "log.example\n3\nAAAA\n\n\u{2014} log.example AAAAAA==\n".into(),
        };
        assert_eq!(AddCheckpoint::parse(req.to_body().as_bytes()).unwrap(), req);
        let empty = AddCheckpoint {
            old_size: 0,
            proof: vec![],
            checkpoint: "x\n".into(),
        };
        assert_eq!(empty.to_body(), "old 0\n\nx\n");
        assert_eq!(AddCheckpoint::parse(b"old 0\n\nx\n").unwrap(), empty);
    }

    #[test]
    fn malformed_bodies_are_refused() {
        let hash = "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=";
        let too_many = format!("old 1\n{}\ncp\n", format!("{hash}\n").repeat(64));
        let max = format!("old 1\n{}\ncp\n", format!("{hash}\n").repeat(63));
        assert_eq!(
            AddCheckpoint::parse(max.as_bytes()).unwrap().proof.len(),
            63
        );
        for body in [
            "".to_string(),
            "old 1".into(),
            "old 01\n\ncp\n".into(),
            "old -1\n\ncp\n".into(),
            "old  1\n\ncp\n".into(),
            "old 1 \n\ncp\n".into(),
            "new 1\n\ncp\n".into(),
            "old 18446744073709551616\n\ncp\n".into(),
            "old 1\nnot base64!\n\ncp\n".into(),
            "old 1\nAAAA\n\ncp\n".into(),
            format!("old 1\n{hash}\ncp\n"),
            too_many,
        ] {
            assert!(
                matches!(
                    AddCheckpoint::parse(body.as_bytes()),
                    Err(WitnessError::Malformed(_))
                ),
                "{body:?}"
            );
        }
        assert!(AddCheckpoint::parse(b"old 1\n\n\xff\n").is_err());
    }

    #[test]
    fn log_keys_must_be_named_after_the_origin() {
        let k = NodeKey::generate("log.example").unwrap();
        assert!(LogConfig::new("log.example", vec![k.verifier()]).is_ok());
        assert!(LogConfig::new("other.example", vec![k.verifier()]).is_err());
        assert!(LogConfig::new("log.example", vec![]).is_err());
    }
}
