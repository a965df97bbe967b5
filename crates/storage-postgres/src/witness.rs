#![allow(unused_variables, unused_imports)]
use crate::PgStore;
use detente_storage::witness::*;
use detente_storage::*;

impl WitnessStore for PgStore {
    fn witnessed(&self, origin: &str) -> Result<Option<Cosigned>, StorageError> {
        unimplemented!("scaffold")
    }

    fn swap_witnessed(
        &self,
        expected: Option<(u64, Hash)>,
        new: &Cosigned,
    ) -> Result<bool, StorageError> {
        unimplemented!("scaffold")
    }

    fn record_witness_conflict(&self, conflict: &Conflict) -> Result<bool, StorageError> {
        unimplemented!("scaffold")
    }

    fn witness_conflicts(&self) -> Result<Vec<Conflict>, StorageError> {
        unimplemented!("scaffold")
    }
}
