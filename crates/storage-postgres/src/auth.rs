#![allow(unused_variables, unused_imports)]
use crate::PgStore;
use detente_storage::auth::*;
use detente_storage::*;

impl AuthStore for PgStore {
    fn insert_user(&self, user: &UserRecord) -> Result<(), StorageError> {
        unimplemented!("scaffold")
    }

    fn update_password(&self, name: &str, password_hash: &str) -> Result<bool, StorageError> {
        unimplemented!("scaffold")
    }

    fn delete_user(&self, name: &str) -> Result<bool, StorageError> {
        unimplemented!("scaffold")
    }

    fn find_user(&self, name: &str) -> Result<Option<UserRecord>, StorageError> {
        unimplemented!("scaffold")
    }

    fn list_users(&self) -> Result<Vec<UserRecord>, StorageError> {
        unimplemented!("scaffold")
    }

    fn insert_token(
        &self,
        owner: &str,
        label: &str,
        digest: &Hash,
        created: &str,
    ) -> Result<(), StorageError> {
        unimplemented!("scaffold")
    }

    fn delete_tokens(&self, owner: &str) -> Result<u64, StorageError> {
        unimplemented!("scaffold")
    }

    fn find_token_user(&self, digest: &Hash) -> Result<Option<UserRecord>, StorageError> {
        unimplemented!("scaffold")
    }

    fn list_tokens(&self) -> Result<Vec<TokenRecord>, StorageError> {
        unimplemented!("scaffold")
    }

    fn delete_token(&self, digest: &Hash) -> Result<bool, StorageError> {
        unimplemented!("scaffold")
    }

    fn update_role(&self, name: &str, role: Role) -> Result<bool, StorageError> {
        unimplemented!("scaffold")
    }

    fn delete_user_keeping_an_admin(&self, name: &str) -> Result<bool, StorageError> {
        unimplemented!("scaffold")
    }
}
