//! What the TAXII 2.1 server keeps: collections with their access lists, STIX
//! object versions paged in `date_added` order, status resources and the
//! per-node secret of its pagination cursors. The `detente-taxii` crate
//! re-exports these types; each database crate implements [`TaxiiStore`].

use crate::StorageError;

/// A collection and who may use it. Access lists hold principal names or `*`
/// (any authenticated principal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub alias: Option<String>,
    pub read: Vec<String>,
    pub write: Vec<String>,
    /// Principals (user names or peer origins) who may read TLP:RED objects.
    pub red_recipients: Vec<String>,
}

impl Collection {
    pub fn can_read(&self, principal: &str) -> bool {
        allowed(&self.read, principal)
    }

    pub fn can_write(&self, principal: &str) -> bool {
        allowed(&self.write, principal)
    }
}

fn allowed(list: &[String], principal: &str) -> bool {
    list.iter().any(|w| w == "*" || w == principal)
}

/// An object ready to be stored: validated, with its version and TLP derived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewObject {
    pub id: String,
    pub object_type: String,
    pub spec_version: String,
    /// `modified`/`created` in microseconds, `None` for objects with neither
    /// (SCOs), which then have a single version.
    pub version_us: Option<i64>,
    pub version: Option<String>,
    pub tlp: i64,
    pub body: String,
    /// The requests this version cites (the `external_id` of its
    /// [`REQUEST_SOURCE`] external references), read by the caller so that no
    /// backend has to parse the body.
    pub cites: Vec<String>,
}

/// Outcome for one object of an envelope, in envelope order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub id: String,
    /// Version string reported in the status resource.
    pub version: String,
    /// False when an identical version was already present.
    pub inserted: bool,
}

/// Which versions of each object a query returns (`match[version]`); several
/// selectors are combined with OR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionSel {
    Last,
    First,
    All,
    At(i64),
}

/// A read over a collection, in ascending `date_added` (= `seq`) order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectQuery {
    pub collection: String,
    /// Restricts to one object (object and versions endpoints).
    pub object_id: Option<String>,
    /// Only rows with `seq` greater than this (cursor and `added_after`).
    pub after_seq: i64,
    pub ids: Vec<String>,
    pub types: Vec<String>,
    pub versions: Vec<VersionSel>,
    pub spec_versions: Vec<String>,
    /// TLP codes the reader may see.
    pub tlp: Vec<i64>,
    pub limit: usize,
    pub with_body: bool,
}

/// One stored object version. `seq` is its `date_added` in microseconds and
/// its position: strictly increasing across the node, never reused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRow {
    pub seq: i64,
    pub id: String,
    pub version: String,
    pub body: Option<String>,
}

/// Up to `limit` rows, and whether more match after them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub rows: Vec<ObjectRow>,
    pub more: bool,
}

/// How many objects a collection holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObjectCounts {
    /// Distinct object ids.
    pub objects: u64,
    /// Stored versions of them (every row).
    pub versions: u64,
}

/// A cooperation request cited by objects of a collection: the external
/// reference `detente-request` that a node adds to each indicator it
/// publishes with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Citing {
    pub request_id: String,
    /// Distinct objects citing it.
    pub objects: u64,
}

/// The `source_name` of the external reference citing a request.
pub const REQUEST_SOURCE: &str = "detente-request";

/// TAXII timestamps: RFC 3339 UTC with microseconds. Here because a
/// versionless object's version is the `date_added` its backend assigns.
pub fn format_timestamp(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

pub trait TaxiiStore: Send + Sync + 'static {
    /// [`StorageError::Conflict`] when the id or the alias is taken.
    fn create_collection(&self, collection: &Collection) -> Result<(), StorageError>;
    /// Removes the collection and its objects; false if there was none.
    fn remove_collection(&self, id: &str) -> Result<bool, StorageError>;
    fn collections(&self) -> Result<Vec<Collection>, StorageError>;
    /// Looks a collection up by id or alias.
    fn collection(&self, id_or_alias: &str) -> Result<Option<Collection>, StorageError>;
    /// Stores the objects of one envelope and its status resource atomically
    /// and durably; `None` (nothing stored) if there is no such collection.
    /// `status` is called with the per-object outcomes and the request time
    /// (µs) and returns the status resource JSON to persist under `status_id`.
    fn ingest(
        &self,
        collection: &str,
        objects: &[NewObject],
        status_id: &str,
        owner: &str,
        status: &mut dyn FnMut(&[Stored], i64) -> String,
    ) -> Result<Option<String>, StorageError>;
    /// `last`/`first` are judged against every stored version of an object,
    /// so a newer version added while a client pages supersedes the one it saw.
    fn query_objects(&self, query: &ObjectQuery) -> Result<Page, StorageError>;
    /// Whether any version of the object is visible under the TLP codes.
    fn object_exists(&self, collection: &str, id: &str, tlp: &[i64]) -> Result<bool, StorageError>;
    /// Deletes the versions selected by `query` (its `object_id` must be set),
    /// judged on the state before any of them goes; returns how many went.
    fn delete_objects(&self, query: &ObjectQuery) -> Result<usize, StorageError>;
    /// The status resource JSON and its owner.
    fn taxii_status(&self, id: &str) -> Result<Option<(String, String)>, StorageError>;
    fn prune_statuses(&self, older_than_us: i64) -> Result<usize, StorageError>;
    /// The per-node secret authenticating pagination cursors: `fresh` is kept
    /// if there is none yet, and the key in force is returned.
    fn cursor_key(&self, fresh: [u8; 32]) -> Result<[u8; 32], StorageError>;
    /// Objects and versions in a collection, in one probe (the web interface).
    fn object_counts(&self, collection: &str) -> Result<ObjectCounts, StorageError>;
    /// The requests the collection's objects cite, by id, those after `after`
    /// first, at most `limit`: a keyset page.
    fn citing_requests(
        &self,
        collection: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<Citing>, StorageError>;
}
