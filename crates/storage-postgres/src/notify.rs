#![allow(unused_variables, unused_imports)]
use crate::PgStore;
use detente_storage::notify::*;
use detente_storage::*;

impl NotificationStore for PgStore {
    fn notify_settings(&self, user: &str) -> Result<Option<Settings>, StorageError> {
        unimplemented!("scaffold")
    }

    fn save_notify_settings(
        &self,
        user: &str,
        settings: &Settings,
        now: &str,
    ) -> Result<(), StorageError> {
        unimplemented!("scaffold")
    }

    fn record_notification(
        &self,
        new: &New<'_>,
        deliveries: &[(Channel, &str)],
    ) -> Result<Option<i64>, StorageError> {
        unimplemented!("scaffold")
    }

    fn notifications(&self, user: &str, limit: u32) -> Result<Vec<Item>, StorageError> {
        unimplemented!("scaffold")
    }

    fn unread_notifications(&self, user: &str) -> Result<u64, StorageError> {
        unimplemented!("scaffold")
    }

    fn mark_notifications_read(
        &self,
        user: &str,
        id: Option<i64>,
        now: &str,
    ) -> Result<u64, StorageError> {
        unimplemented!("scaffold")
    }

    fn notify_due(&self, now: &str, limit: u32) -> Result<Vec<Job>, StorageError> {
        unimplemented!("scaffold")
    }

    fn notify_next_due(&self) -> Result<Option<String>, StorageError> {
        unimplemented!("scaffold")
    }

    fn notify_sent(&self, id: i64, now: &str) -> Result<(), StorageError> {
        unimplemented!("scaffold")
    }

    fn notify_failed(
        &self,
        id: i64,
        error: &str,
        next: Option<&str>,
        now: &str,
    ) -> Result<(), StorageError> {
        unimplemented!("scaffold")
    }

    fn notify_deliveries(&self, user: &str) -> Result<Vec<Attempted>, StorageError> {
        unimplemented!("scaffold")
    }

    fn deadlines(&self, from: &str, until: &str) -> Result<Vec<Due>, StorageError> {
        unimplemented!("scaffold")
    }
}
