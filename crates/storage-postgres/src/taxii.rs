#![allow(unused_variables, unused_imports)]
use crate::PgStore;
use detente_storage::taxii::*;
use detente_storage::*;

impl TaxiiStore for PgStore {
    fn create_collection(&self, collection: &Collection) -> Result<(), StorageError> {
        unimplemented!("scaffold")
    }

    fn remove_collection(&self, id: &str) -> Result<bool, StorageError> {
        unimplemented!("scaffold")
    }

    fn collections(&self) -> Result<Vec<Collection>, StorageError> {
        unimplemented!("scaffold")
    }

    fn collection(&self, id_or_alias: &str) -> Result<Option<Collection>, StorageError> {
        unimplemented!("scaffold")
    }

    fn ingest(
        &self,
        collection: &str,
        objects: &[NewObject],
        status_id: &str,
        owner: &str,
        status: &mut dyn FnMut(&[Stored], i64) -> String,
    ) -> Result<Option<String>, StorageError> {
        unimplemented!("scaffold")
    }

    fn query_objects(&self, query: &ObjectQuery) -> Result<Page, StorageError> {
        unimplemented!("scaffold")
    }

    fn object_exists(&self, collection: &str, id: &str, tlp: &[i64]) -> Result<bool, StorageError> {
        unimplemented!("scaffold")
    }

    fn delete_objects(&self, query: &ObjectQuery) -> Result<usize, StorageError> {
        unimplemented!("scaffold")
    }

    fn taxii_status(&self, id: &str) -> Result<Option<(String, String)>, StorageError> {
        unimplemented!("scaffold")
    }

    fn prune_statuses(&self, older_than_us: i64) -> Result<usize, StorageError> {
        unimplemented!("scaffold")
    }

    fn cursor_key(&self, fresh: [u8; 32]) -> Result<[u8; 32], StorageError> {
        unimplemented!("scaffold")
    }

    fn object_counts(&self, collection: &str) -> Result<ObjectCounts, StorageError> {
        unimplemented!("scaffold")
    }

    fn citing_requests(
        &self,
        collection: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<Citing>, StorageError> {
        unimplemented!("scaffold")
    }
}
