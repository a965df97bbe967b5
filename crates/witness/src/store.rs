//! What a witness must remember, as the storage layer defines it: the node's
//! store implements [`WitnessStore`] in each database crate, in the node's own
//! database.

pub use detente_storage::witness::{Conflict, ConflictKind, Cosigned, WitnessStore};
