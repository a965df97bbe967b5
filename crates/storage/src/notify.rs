//! Notifications: what the interface lists per user, the e-mail and webhook
//! deliveries still to make (kept so that a restart loses none), and each
//! user's own choices.

use crate::StorageError;
use serde::{Deserialize, Serialize};

/// What happened. The names are what `config.toml`, the database and the
/// webhook use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Kind {
    #[serde(rename = "request.inbound")]
    RequestInbound,
    #[serde(rename = "deadline.soon")]
    DeadlineSoon,
    #[serde(rename = "transfer.held")]
    TransferHeld,
    #[serde(rename = "delivery.refused")]
    DeliveryRefused,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::RequestInbound,
        Kind::DeadlineSoon,
        Kind::TransferHeld,
        Kind::DeliveryRefused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::RequestInbound => "request.inbound",
            Kind::DeadlineSoon => "deadline.soon",
            Kind::TransferHeld => "transfer.held",
            Kind::DeliveryRefused => "delivery.refused",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// How the interface names it.
    pub fn label(self) -> &'static str {
        match self {
            Kind::RequestInbound => "New inbound request",
            Kind::DeadlineSoon => "Deadline within 24 hours",
            Kind::TransferHeld => "Transfer held for review",
            Kind::DeliveryRefused => "Delivery refused by a peer",
        }
    }
}

/// How a notification leaves the node besides the interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    Email,
    Webhook,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Webhook => "webhook",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        [Channel::Email, Channel::Webhook]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// One notification as the interface lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub id: i64,
    pub kind: Kind,
    pub title: String,
    pub link: String,
    pub created: String,
    pub read: bool,
}

/// A notification to record.
#[derive(Clone, Copy, Debug)]
pub struct New<'a> {
    pub user: &'a str,
    pub kind: Kind,
    /// What it is about, e.g. `request.inbound:<id>`: once per user.
    pub key: &'a str,
    pub title: &'a str,
    pub link: &'a str,
    pub now: &'a str,
}

/// An e-mail or webhook call and how it went so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempted {
    pub channel: Channel,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub sent: bool,
}

/// An e-mail or webhook call that is due.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub channel: Channel,
    pub target: String,
    pub attempts: u32,
    pub user: String,
    pub item: Item,
}

/// Which deadline of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Which {
    AcknowledgeBy,
    AnswerBy,
}

impl Which {
    /// The request's column, as notification keys name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Which::AcknowledgeBy => "acknowledge_by",
            Which::AnswerBy => "answer_by",
        }
    }
}

/// A deadline of an open inbound request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Due {
    pub request_id: String,
    pub reference: String,
    pub peer: String,
    pub which: Which,
    pub at: String,
}

/// What one user receives, and where.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Settings {
    pub kinds: Vec<Kind>,
    pub email: Option<String>,
    pub webhook: Option<String>,
    pub webhook_secret: Option<String>,
}

impl Settings {
    pub fn wants(&self, kind: Kind) -> bool {
        self.kinds.contains(&kind)
    }
}

/// The notification tables. Rows of a kind or channel this build does not
/// know (written by a newer one) are left out of what is read.
pub trait NotificationStore: Send + Sync + 'static {
    /// Settings saved on the settings screen, if the user saved any.
    fn notify_settings(&self, user: &str) -> Result<Option<Settings>, StorageError>;
    fn save_notify_settings(
        &self,
        user: &str,
        settings: &Settings,
        now: &str,
    ) -> Result<(), StorageError>;
    /// Records a notification with its deliveries (channel and target), in
    /// one transaction and once per user and key; `None` when the user
    /// already has it.
    fn record_notification(
        &self,
        new: &New<'_>,
        deliveries: &[(Channel, &str)],
    ) -> Result<Option<i64>, StorageError>;
    /// The user's newest notifications, at most `limit`.
    fn notifications(&self, user: &str, limit: u32) -> Result<Vec<Item>, StorageError>;
    fn unread_notifications(&self, user: &str) -> Result<u64, StorageError>;
    /// Marks one of the user's notifications read, or all (`None`); how many
    /// were unread.
    fn mark_notifications_read(
        &self,
        user: &str,
        id: Option<i64>,
        now: &str,
    ) -> Result<u64, StorageError>;
    /// Deliveries neither sent nor given up whose time has come, oldest first.
    fn notify_due(&self, now: &str, limit: u32) -> Result<Vec<Job>, StorageError>;
    /// The due deliveries (as [`NotificationStore::notify_due`]) this process
    /// should make now. Where replicas share the store, each job returned is
    /// leased to the caller until `lease_until`, so no other replica sends
    /// the same e-mail or webhook meanwhile, and one that dies mid-delivery
    /// leaves it to the others once the lease ends. One process (the
    /// default) makes its deliveries one pass at a time and needs no lease.
    fn notify_claim(
        &self,
        now: &str,
        _lease_until: &str,
        limit: u32,
    ) -> Result<Vec<Job>, StorageError> {
        self.notify_due(now, limit)
    }
    /// The earliest pending attempt, to sleep until it.
    fn notify_next_due(&self) -> Result<Option<String>, StorageError>;
    fn notify_sent(&self, id: i64, now: &str) -> Result<(), StorageError>;
    /// An attempt failed: try again at `next`, or give up (`None`).
    fn notify_failed(
        &self,
        id: i64,
        error: &str,
        next: Option<&str>,
        now: &str,
    ) -> Result<(), StorageError>;
    /// The deliveries of the user's notifications, oldest first.
    fn notify_deliveries(&self, user: &str) -> Result<Vec<Attempted>, StorageError>;
    /// Deadlines of open inbound requests falling in `(from, until]`: the
    /// acknowledgement while unacknowledged, and the answer.
    fn deadlines(&self, from: &str, until: &str) -> Result<Vec<Due>, StorageError>;
}
