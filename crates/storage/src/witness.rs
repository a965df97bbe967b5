//! What the node's witness must remember: per log it follows, the latest
//! checkpoint it cosigned, and every piece of misbehaviour evidence it has
//! seen. The `detente-witness` crate re-exports these types.

use crate::{Hash, StorageError};

/// The latest checkpoint a witness cosigned for one log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosigned {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// The signed checkpoint note as the log submitted it: the evidence to hold
    /// against any later checkpoint that contradicts it.
    pub note: String,
    /// When it was cosigned (seconds since the epoch).
    pub cosigned_at: u64,
}

/// How sure the witness is that a log misbehaved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConflictKind {
    /// Two checkpoints of the same size with different roots, both signed by the
    /// log: anyone holding the two notes can verify the split view offline.
    Fork,
    /// A larger checkpoint, signed by the log, whose consistency proof from the
    /// cosigned checkpoint did not verify. The spec lets a witness keep it because
    /// it may show misbehaviour, but it is not proof on its own: a wrong proof for
    /// a consistent tree looks the same to the witness.
    Inconsistent,
}

impl ConflictKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictKind::Fork => "fork",
            ConflictKind::Inconsistent => "inconsistent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "fork" => Some(ConflictKind::Fork),
            "inconsistent" => Some(ConflictKind::Inconsistent),
            _ => None,
        }
    }
}

/// Evidence that a log may have shown different views of its history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// Store-assigned identifier; 0 before the conflict is stored.
    pub id: i64,
    pub origin: String,
    pub kind: ConflictKind,
    /// The checkpoint the witness had cosigned.
    pub cosigned_note: String,
    /// The signed checkpoint that contradicts it.
    pub submitted_note: String,
    /// The old size and proof sent with the submitted checkpoint (empty for a
    /// fork, where the two notes alone are the evidence).
    pub old_size: u64,
    pub proof: Vec<Hash>,
    /// When the witness detected it (seconds since the epoch).
    pub detected_at: u64,
}

/// Persistent witness state.
///
/// [`WitnessStore::swap_witnessed`] must be atomic with respect to every other
/// writer of the same state, other processes included: the witness's refusal
/// to cosign inconsistent trees rests on it.
pub trait WitnessStore: Send + Sync + 'static {
    /// The latest checkpoint of `origin` this witness cosigned, if any.
    fn witnessed(&self, origin: &str) -> Result<Option<Cosigned>, StorageError>;

    /// Replaces the record of `new.origin` by `new` only if the stored record
    /// still has size and root `expected` (`None`: no record yet). Returns whether
    /// it did; `false` means another writer got there first. A smaller size
    /// than the stored one is [`StorageError::Conflict`]: the record never
    /// rolls back.
    fn swap_witnessed(
        &self,
        expected: Option<(u64, Hash)>,
        new: &Cosigned,
    ) -> Result<bool, StorageError>;

    /// Keeps `conflict`; returns `false` if the same evidence (origin, kind and both
    /// notes) was already kept, so that a replayed submission raises no new alert.
    fn record_witness_conflict(&self, conflict: &Conflict) -> Result<bool, StorageError>;

    /// All kept conflicts, oldest first.
    fn witness_conflicts(&self) -> Result<Vec<Conflict>, StorageError>;
}
