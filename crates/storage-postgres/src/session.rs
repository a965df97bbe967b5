#![allow(unused_variables, unused_imports)]
use crate::PgStore;
use detente_storage::session::*;
use detente_storage::*;

impl SessionStore for PgStore {
    fn insert_session(&self, row: &SessionRow) -> Result<(), StorageError> {
        unimplemented!("scaffold")
    }

    fn live_session(&self, digest: &Hash, live: Live) -> Result<Option<SessionRow>, StorageError> {
        unimplemented!("scaffold")
    }

    fn touch_session(&self, digest: &Hash, last_seen: i64) -> Result<(), StorageError> {
        unimplemented!("scaffold")
    }

    fn delete_session(&self, digest: &Hash, user: Option<&str>) -> Result<bool, StorageError> {
        unimplemented!("scaffold")
    }

    fn live_sessions(
        &self,
        user: Option<&str>,
        live: Live,
        limit: u64,
    ) -> Result<Vec<SessionRow>, StorageError> {
        unimplemented!("scaffold")
    }

    fn delete_sessions(&self, user: Option<&str>) -> Result<u64, StorageError> {
        unimplemented!("scaffold")
    }
}
