//! What a node needs from its database, as a trait, so the node is written once
//! and each database (SQLite first, PostgreSQL later) lives in its own crate with
//! its own migrations. The backend is chosen from the database URL's scheme.
//!
//! Methods are synchronous: the node calls them from its sequencer thread or from
//! `spawn_blocking`, and embedded SQLite has no async I/O to offer.

pub use detente_requests::lifecycle::Status;
pub use detente_requests::types::{DeclineGround, Direction, RequestType, Tlp, Urgency};
use thiserror::Error;

pub mod auth;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod dump;
pub mod guard;
pub mod notify;
pub mod session;
pub mod taxii;
pub mod text;
pub mod tree;
pub mod wake;
pub mod witness;

pub use auth::{AuthStore, Role, TokenRecord, UnknownRole, UserRecord};
pub use guard::{Failures, GuardStore};
pub use notify::NotificationStore;
pub use session::{Live, SessionRow, SessionStore};
pub use taxii::TaxiiStore;
pub use text::{from_text_opt, HoldStatus, StoredText};
pub use tree::{Integration, StoredTree, TreeNodes};
pub use wake::{Topic, Wakeups};
pub use witness::WitnessStore;

pub type Hash = [u8; 32];

#[derive(Debug, Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Database(String),
    #[error("database schema is version {found}, this build knows up to {known}")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("unsupported database URL {0:?} (expected sqlite://PATH)")]
    UnsupportedUrl(String),
    #[error("integrity: {0}")]
    Integrity(String),
    /// A uniqueness or precondition the write relies on does not hold (the
    /// name is taken, the row changed since it was read, a rule such as
    /// "keep one admin" would break); nothing was written.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached now (connection lost, server starting);
    /// the caller may retry, and nothing was written.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The disk (or the database server's disk) has no room; nothing was
    /// written, and the same call succeeds once space is freed.
    #[error("storage full: {0}")]
    Full(String),
}

/// One log entry as stored: the signed envelope and its digest (the leaf is
/// `0x01 || digest`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryRow {
    pub index: u64,
    pub digest: Hash,
    pub kind: String,
    /// RFC 3339 time from the envelope, for queries by period.
    pub time: String,
    pub envelope: Vec<u8>,
}

/// A signed checkpoint as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointRow {
    pub size: u64,
    pub note: String,
}

/// Storage of the transparency log's entries and checkpoints.
pub trait LogStore: Send + Sync + 'static {
    /// Number of entries stored (the next index).
    fn entry_count(&self) -> Result<u64, StorageError>;

    /// Sequences one batch under the log's head lock. `build` gets the size
    /// the log has now, as committed (another replica may have appended since
    /// this process last did), and returns what to append at that size: the
    /// entries, their tree nodes and the checkpoint signed over them, or
    /// `None` to append nothing. The store commits them in one durable
    /// transaction (all or nothing after a crash) before the lock is released,
    /// so no two checkpoints are ever signed for one size, and returns what it
    /// committed.
    fn integrate(
        &self,
        build: &mut dyn FnMut(u64) -> Result<Option<Integration>, StorageError>,
    ) -> Result<Option<Integration>, StorageError>;

    /// The entry count and the latest checkpoint, read in one snapshot (where
    /// other processes append, two separate reads could straddle a commit).
    fn head(&self) -> Result<(u64, Option<CheckpointRow>), StorageError> {
        Ok((self.entry_count()?, self.latest_checkpoint()?))
    }

    /// A cheap read that fails when the database cannot be reached (for
    /// `/healthz`).
    fn ping(&self) -> Result<(), StorageError> {
        self.latest_checkpoint().map(drop)
    }

    /// Whether other processes may append to this log (replicas sharing one
    /// database), so a process's view of the head can fall behind.
    fn shared(&self) -> bool {
        false
    }

    /// Wakeups when another process sharing the store commits work of
    /// `topic`, sent only once that work is committed; `None` where no other
    /// process can (one process wakes its own workers directly). Workers still
    /// poll: a wakeup may be lost.
    fn subscribe(&self, _topic: Topic) -> Result<Option<Wakeups>, StorageError> {
        Ok(None)
    }

    /// Whether this process should do the log's background duties that one
    /// replica does for all (asking witnesses to cosign): true for a store no
    /// other process shares. Where replicas share it, one leads at a time and
    /// another takes over within seconds of its death; callers ask at each
    /// round (at least every few seconds, which also keeps a lead). A hint
    /// only: for a moment two may lead, so nothing may rely on it for
    /// correctness (the log rests on [`LogStore::integrate`]'s head lock).
    fn lead(&self) -> Result<bool, StorageError> {
        Ok(true)
    }

    /// Tries to hold `key` against the other processes sharing the store.
    /// The lock lives as long as the process's lock connection; its epoch
    /// names that connection.
    fn try_lock_shared(&self, _key: u32) -> Result<SharedLock, StorageError> {
        Ok(SharedLock::NotShared)
    }

    /// Releases `key` taken with [`LogStore::try_lock_shared`] in `epoch`
    /// (nothing to do if that connection is gone: its locks went with it).
    fn unlock_shared(&self, _key: u32, _epoch: u64) -> Result<(), StorageError> {
        Ok(())
    }

    /// `count` consecutive hashes of tree level `level` from `index` (level 0
    /// holds leaf hashes; only complete subtrees are stored).
    fn tree_nodes(&self, level: u8, index: u64, count: u64) -> Result<Vec<u8>, StorageError>;

    /// Makes the stored tree describe exactly the first `size` entries, whose
    /// root is `root`, recomputing what a crash left missing or wrong from the
    /// entries' digests. Returns the first leaf it had to recompute (`size` if
    /// none).
    fn repair_tree(&self, size: u64, root: &Hash) -> Result<u64, StorageError>;

    /// Digests of entries `start..end`, in index order.
    fn digests(&self, start: u64, end: u64) -> Result<Vec<Hash>, StorageError>;

    fn entry(&self, index: u64) -> Result<Option<EntryRow>, StorageError>;

    /// Index of the exchange envelope (kind `request.*`) with this digest,
    /// if it is logged.
    fn exchange_entry(&self, digest: &Hash) -> Result<Option<u64>, StorageError>;

    /// `exchange_entry` for several digests: those logged, each with its
    /// first index. One round trip where the driver can, since the
    /// sequencer asks for a whole batch while it holds the head lock.
    fn exchange_entries(
        &self,
        digests: &[Hash],
    ) -> Result<std::collections::HashMap<Hash, u64>, StorageError> {
        let mut found = std::collections::HashMap::new();
        for d in digests {
            if let Some(index) = self.exchange_entry(d)? {
                found.insert(*d, index);
            }
        }
        Ok(found)
    }

    /// Exchange envelopes logged more than once (which the node never does),
    /// each with the indexes it is at; at most `limit` of them.
    fn repeated_exchange_entries(&self, limit: u64) -> Result<Vec<(Hash, Vec<u64>)>, StorageError>;

    /// Visits entries from `start` in index order (for audits and rebuilds).
    fn scan_entries(
        &self,
        start: u64,
        visit: &mut dyn FnMut(EntryRow) -> Result<(), StorageError>,
    ) -> Result<(), StorageError>;

    fn latest_checkpoint(&self) -> Result<Option<CheckpointRow>, StorageError>;

    fn scan_checkpoints(
        &self,
        visit: &mut dyn FnMut(CheckpointRow) -> Result<(), StorageError>,
    ) -> Result<(), StorageError>;
}

/// A payload the transfer gate held for a reviewer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldRow {
    pub id: String,
    /// Who would receive it (peer origin or account name).
    pub recipient: String,
    pub country: String,
    /// What is held, e.g. `taxii:indicator--...@2026-01-01T00:00:00.000Z`.
    pub subject: String,
    /// The gate's decision, as JSON.
    pub decision: String,
    pub status: HoldStatus,
    pub created: String,
    pub resolved_by: Option<String>,
    pub reason: Option<String>,
    /// The local user whose action was held, when one was.
    pub requested_by: Option<String>,
    /// What an approval releases (a held request event, as JSON).
    pub payload: Option<String>,
    /// When the approved payload was released (sent and counted), once.
    pub released_at: Option<String>,
}

/// What the transfer gate keeps: volumes sent per recipient (for the 12-month
/// aggregation of 28 CFR 202.205) and payloads held for review.
pub trait TransferStore: Send + Sync + 'static {
    fn record_volume(
        &self,
        recipient: &str,
        category: &str,
        count: u64,
        at: &str,
    ) -> Result<(), StorageError>;

    /// Sum of volumes sent to `recipient` in `category` at or after `since`.
    fn prior_volume(
        &self,
        recipient: &str,
        category: &str,
        since: &str,
    ) -> Result<u64, StorageError>;

    /// Inserts a hold unless one exists for the same recipient and subject;
    /// returns the hold that is in force.
    fn hold(&self, row: &HoldRow) -> Result<HoldRow, StorageError>;

    fn holds(&self, status: Option<HoldStatus>) -> Result<Vec<HoldRow>, StorageError>;

    fn find_hold(&self, recipient: &str, subject: &str) -> Result<Option<HoldRow>, StorageError>;

    /// Resolves a `held` hold as `status` (approved or rejected); `None` if
    /// there is no such held hold.
    fn resolve_hold(
        &self,
        id: &str,
        status: HoldStatus,
        by: &str,
        reason: &str,
    ) -> Result<Option<HoldRow>, StorageError>;

    fn hold_by_id(&self, id: &str) -> Result<Option<HoldRow>, StorageError>;

    /// Marks an approved hold released; false if it already was.
    fn release_hold(&self, id: &str, at: &str) -> Result<bool, StorageError>;

    /// The gate's earlier decision (`allow`, `redact`, `block`) on `subject`
    /// for `recipient`, if any.
    fn decision(&self, recipient: &str, subject: &str) -> Result<Option<String>, StorageError>;

    /// Commits one transfer in one transaction: its volumes per category, and
    /// (when `decision` is given) the decision on `subject` for `recipient`,
    /// of which the first one stands.
    fn commit_transfer(
        &self,
        recipient: &str,
        subject: &str,
        decision: Option<&str>,
        volumes: &[(&str, u64)],
        at: &str,
    ) -> Result<(), StorageError>;
}

/// A configured peer node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerRow {
    pub origin: String,
    pub url: String,
    /// Verifier key, C2SP signed-note form.
    pub key: String,
    pub country: String,
    pub added: String,
}

pub trait PeerStore: Send + Sync + 'static {
    /// Adds a peer; false if one with that origin exists.
    fn add_peer(&self, peer: &PeerRow) -> Result<bool, StorageError>;
    fn peer(&self, origin: &str) -> Result<Option<PeerRow>, StorageError>;
    fn peers(&self) -> Result<Vec<PeerRow>, StorageError>;
    /// False if there was no such peer.
    fn remove_peer(&self, origin: &str) -> Result<bool, StorageError>;
}

/// Summary of one request, for listing and reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRow {
    pub id: String,
    pub direction: Direction,
    pub peer: String,
    pub kind: RequestType,
    pub urgency: Urgency,
    pub tlp: Tlp,
    pub reference: String,
    pub status: Status,
    pub submitted_at: String,
    pub acknowledge_by: String,
    pub answer_by: String,
    pub acknowledged_at: Option<String>,
    pub closed_at: Option<String>,
    pub updated_at: String,
    pub delivered_at: Option<String>,
    pub decline_ground: Option<DeclineGround>,
}

/// The outcome of [`LogStore::try_lock_shared`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedLock {
    /// No other process shares the store: the caller's own locks suffice.
    NotShared,
    /// Another process holds the key.
    Busy,
    /// Held, on the lock connection of this epoch.
    Held { epoch: u64 },
}

/// What a report reads of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SummaryRow {
    pub direction: Direction,
    pub peer: String,
    pub status: Status,
    pub submitted_at: String,
    pub acknowledge_by: String,
    pub answer_by: String,
    pub acknowledged_at: Option<String>,
    pub closed_at: Option<String>,
    pub delivered_at: Option<String>,
    pub decline_ground: Option<DeclineGround>,
}

/// One lifecycle event of a request: an envelope in this node's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRow {
    pub request_id: String,
    pub seq: u64,
    pub event_id: String,
    /// Origin of the node that signed it.
    pub actor: String,
    pub kind: String,
    pub at: String,
    pub log_index: u64,
    pub envelope: Vec<u8>,
    pub receipt: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxRow {
    pub digest: Hash,
    pub peer: String,
    pub request_id: String,
    pub envelope: Vec<u8>,
    pub created: String,
    pub attempts: u64,
    pub next_attempt: String,
    pub last_error: Option<String>,
    pub delivered_at: Option<String>,
    /// When the peer refused the envelope for good (no more attempts).
    pub refused_at: Option<String>,
}

/// An attachment cited by one request event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CitationRow {
    pub sha256: String,
    pub event_id: String,
    pub request_id: String,
    /// The counterpart of the exchange.
    pub peer: String,
    /// True when the peer cited it (the content is the peer's to give).
    pub by_peer: bool,
    pub size: u64,
    pub media_type: String,
}

#[derive(Clone, Debug, Default)]
pub struct RequestFilter {
    pub peer: Option<String>,
    pub direction: Option<Direction>,
    pub status: Option<Status>,
    pub since: Option<String>,
    pub limit: Option<u64>,
    pub kind: Option<RequestType>,
    /// Part of the reference, in any case.
    pub text: Option<String>,
    /// Only requests not yet in a final state.
    pub open: bool,
    /// Only open requests whose answer deadline is before this time.
    pub overdue_at: Option<String>,
    pub order: RequestOrder,
    /// Keyset pagination: only rows after this `(sort key, id)` in `order`, so
    /// a page costs the same however deep it is.
    pub after: Option<(String, String)>,
}

/// The order of a request listing, each with its sort key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RequestOrder {
    /// Oldest submission first (key: `submitted_at`).
    #[default]
    Submitted,
    /// Newest submission first (key: `submitted_at`).
    Newest,
    /// Earliest answer deadline first (key: `answer_by`).
    Deadline,
}

impl RequestOrder {
    /// The sort key of `row` in this order, for a keyset cursor.
    pub fn key(self, row: &RequestRow) -> &str {
        match self {
            RequestOrder::Submitted | RequestOrder::Newest => &row.submitted_at,
            RequestOrder::Deadline => &row.answer_by,
        }
    }
}

/// One write of the exchange's state. Writes are grouped: many callers' writes
/// share one transaction and one fsync (see [`ExchangeStore::write`]).
#[derive(Clone, Debug)]
pub enum ExchangeWrite {
    RecordEvent(Box<RequestRow>, Box<EventRow>),
    OutboxAdd(OutboxRow),
    OutboxDelivered {
        digest: Hash,
        at: String,
    },
    OutboxFailed {
        digest: Hash,
        next_attempt: String,
        error: String,
    },
    /// An attachment an event cites (written with the event).
    Cite(CitationRow),
    /// The peer is reachable again: its pending envelopes waiting out a
    /// backoff become due at `at`.
    OutboxDueNow {
        peer: String,
        at: String,
    },
    /// The peer refused the envelope in a way retrying cannot change.
    OutboxRefused {
        digest: Hash,
        at: String,
        error: String,
    },
    SetReceipt {
        event_id: String,
        receipt: String,
    },
    InboxPut {
        digest: Hash,
        peer: String,
        log_index: u64,
        response: String,
    },
    /// The outcome of one delivery attempt to `peer` at `at`: whether any
    /// envelope went through, and the error if any did not. Kept per peer, so
    /// an operator sees the last failure even after deliveries resumed.
    PeerContact {
        peer: String,
        at: String,
        delivered: bool,
        error: Option<String>,
    },
}

/// What a peer's deliveries look like: the envelopes waiting and refused, the
/// last one it took and the last error it gave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerDeliveries {
    pub peer: String,
    pub queued: u64,
    pub refused: u64,
    pub delivered_at: Option<String>,
    pub error: Option<String>,
    pub error_at: Option<String>,
}

/// Resolves when a group of writes is durable.
pub type WriteDone = tokio::sync::oneshot::Receiver<Result<(), StorageError>>;

pub trait ExchangeStore: Send + Sync + 'static {
    /// Applies `writes` atomically (all or none) and durably, committed together
    /// with other callers' writes: one fsync serves many requests.
    fn write(&self, writes: Vec<ExchangeWrite>) -> WriteDone;

    /// Stores an event and the request's new summary in one transaction.
    fn record_event(&self, request: &RequestRow, event: &EventRow) -> Result<(), StorageError>;
    fn request(&self, id: &str) -> Result<Option<RequestRow>, StorageError>;
    fn requests(&self, filter: &RequestFilter) -> Result<Vec<RequestRow>, StorageError>;
    /// The columns reports need of every request, unordered and streamed
    /// (reports over millions of requests).
    fn scan_summaries(
        &self,
        visit: &mut dyn FnMut(SummaryRow) -> Result<(), StorageError>,
    ) -> Result<(), StorageError>;
    /// The same of the requests with one peer submitted at or after `since`
    /// (RFC 3339 as stored): a report on one peer reads only its rows.
    fn scan_peer_summaries(
        &self,
        peer: &str,
        since: &str,
        visit: &mut dyn FnMut(SummaryRow) -> Result<(), StorageError>,
    ) -> Result<(), StorageError>;
    fn events(&self, request_id: &str) -> Result<Vec<EventRow>, StorageError>;
    /// Every event of every request, grouped by request and in order (reports).
    fn scan_events(
        &self,
        visit: &mut dyn FnMut(EventRow) -> Result<(), StorageError>,
    ) -> Result<(), StorageError>;
    fn event_by_id(&self, event_id: &str) -> Result<Option<EventRow>, StorageError>;
    fn set_receipt(&self, event_id: &str, receipt: &str) -> Result<(), StorageError>;
    fn outbox_add(&self, row: &OutboxRow) -> Result<(), StorageError>;
    /// Envelopes due at `now` (neither delivered nor refused), oldest first,
    /// leaving out any with an earlier envelope of the same request still
    /// undelivered: a request's events reach the peer in order.
    fn outbox_due(&self, now: &str, limit: u64) -> Result<Vec<OutboxRow>, StorageError>;
    /// The due envelopes (as [`ExchangeStore::outbox_due`]) this process
    /// should deliver now. Where replicas share the store
    /// ([`LogStore::shared`]), each row returned is leased to the caller: its
    /// next attempt moves to `lease_until`, so no other replica sends it
    /// meanwhile, and a replica that dies mid-delivery leaves it to the others
    /// once the lease ends. One process keeps its own list of deliveries under
    /// way instead.
    fn outbox_claim(
        &self,
        now: &str,
        _lease_until: &str,
        limit: u64,
    ) -> Result<Vec<OutboxRow>, StorageError> {
        self.outbox_due(now, limit)
    }
    /// Envelopes still to deliver, and envelopes peers refused for good.
    fn outbox_counts(&self) -> Result<(u64, u64), StorageError>;
    fn outbox_failed(
        &self,
        digest: &Hash,
        next_attempt: &str,
        error: &str,
    ) -> Result<(), StorageError>;
    fn outbox_delivered(&self, digest: &Hash, at: &str) -> Result<(), StorageError>;
    fn outbox(&self, request_id: &str) -> Result<Vec<OutboxRow>, StorageError>;
    /// Envelopes peers refused, or not yet delivered after a failed attempt,
    /// most recent first; at most `limit` (what an operator must look at).
    fn outbox_troubled(&self, limit: u64) -> Result<Vec<OutboxRow>, StorageError>;
    /// Per peer that has deliveries: see [`PeerDeliveries`].
    fn peer_deliveries(&self) -> Result<Vec<PeerDeliveries>, StorageError>;
    fn inbox_get(&self, digest: &Hash) -> Result<Option<String>, StorageError>;
    fn inbox_put(
        &self,
        digest: &Hash,
        peer: &str,
        log_index: u64,
        response: &str,
    ) -> Result<(), StorageError>;
}

/// Cosignatures of this node's checkpoints by its witnesses.
pub trait CosignatureStore: Send + Sync + 'static {
    fn add_cosignature(
        &self,
        witness: &str,
        size: u64,
        line: &str,
        timestamp: u64,
    ) -> Result<(), StorageError>;
    /// Signature lines for the checkpoint of `size`.
    fn cosignatures(&self, size: u64) -> Result<Vec<String>, StorageError>;
    /// The largest size `witness` has cosigned.
    fn last_cosigned(&self, witness: &str) -> Result<Option<u64>, StorageError>;
    /// The latest cosignature `witness` gave: the size and its timestamp
    /// (seconds since the epoch).
    fn last_cosignature(&self, witness: &str) -> Result<Option<(u64, u64)>, StorageError>;
    /// The largest checkpoint size with at least one cosignature.
    fn latest_cosigned_size(&self) -> Result<Option<u64>, StorageError>;
    /// Every checkpoint size with at least one cosignature, ascending.
    fn cosigned_sizes(&self) -> Result<Vec<u64>, StorageError>;
    fn checkpoint_at(&self, size: u64) -> Result<Option<String>, StorageError>;
}

/// Attachment contents, by the SHA-256 (hex) that requests cite.
pub trait AttachmentStore: Send + Sync + 'static {
    /// Stores content under its digest; storing the same content again is a no-op.
    fn put_attachment(
        &self,
        sha256: &str,
        media_type: &str,
        content: &[u8],
        at: &str,
    ) -> Result<(), StorageError>;
    /// `(media_type, content)`.
    fn attachment(&self, sha256: &str) -> Result<Option<(String, Vec<u8>)>, StorageError>;
    /// A citation of `sha256` in an exchange with `peer`, cited by the peer
    /// (`by_peer`) or by this node.
    fn citation(
        &self,
        sha256: &str,
        peer: &str,
        by_peer: bool,
    ) -> Result<Option<CitationRow>, StorageError>;
    /// Every citation of `sha256`, by any side.
    fn citations(&self, sha256: &str) -> Result<Vec<CitationRow>, StorageError>;
}

/// Everything a node stores.
pub trait Store:
    LogStore
    + TransferStore
    + PeerStore
    + ExchangeStore
    + CosignatureStore
    + AttachmentStore
    + AuthStore
    + SessionStore
    + NotificationStore
    + TaxiiStore
    + WitnessStore
    + GuardStore
{
}

impl<
        T: LogStore
            + TransferStore
            + PeerStore
            + ExchangeStore
            + CosignatureStore
            + AttachmentStore
            + AuthStore
            + SessionStore
            + NotificationStore
            + TaxiiStore
            + WitnessStore
            + GuardStore,
    > Store for T
{
}
