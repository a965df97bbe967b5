//! What the TAXII server needs from persistence. The SQLite implementation is
//! in [`crate::sqlite`]; a PostgreSQL one can implement the same trait.

use serde::{Deserialize, Serialize};

use crate::TaxiiError;

/// A collection and who may use it. Access lists hold principal names or `*`
/// (any authenticated principal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone)]
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

#[derive(Debug, Clone)]
pub struct ObjectRow {
    pub seq: i64,
    pub id: String,
    pub version: String,
    pub body: Option<String>,
}

#[derive(Debug, Clone)]
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

pub trait TaxiiStore: Send + Sync {
    fn create_collection(&self, collection: &Collection) -> Result<(), TaxiiError>;
    fn remove_collection(&self, id: &str) -> Result<(), TaxiiError>;
    fn collections(&self) -> Result<Vec<Collection>, TaxiiError>;
    /// Looks a collection up by id or alias.
    fn collection(&self, id_or_alias: &str) -> Result<Option<Collection>, TaxiiError>;
    /// Stores the objects of one envelope and its status resource atomically.
    /// `status` is called with the per-object outcomes and returns the status
    /// resource JSON to persist under `status_id`.
    fn ingest(
        &self,
        collection: &str,
        objects: &[NewObject],
        status_id: &str,
        owner: &str,
        status: &mut dyn FnMut(&[Stored], i64) -> String,
    ) -> Result<String, TaxiiError>;
    fn query(&self, query: &ObjectQuery) -> Result<Page, TaxiiError>;
    /// Whether any version of the object is visible under the TLP codes.
    fn object_exists(&self, collection: &str, id: &str, tlp: &[i64]) -> Result<bool, TaxiiError>;
    /// Deletes the versions selected by `query` (its `object_id` must be set);
    /// returns how many rows went.
    fn delete(&self, query: &ObjectQuery) -> Result<usize, TaxiiError>;
    /// The status resource JSON and its owner.
    fn status(&self, id: &str) -> Result<Option<(String, String)>, TaxiiError>;
    fn prune_statuses(&self, older_than_us: i64) -> Result<usize, TaxiiError>;
    /// A per-node secret for authenticating pagination cursors, created once.
    fn cursor_key(&self) -> Result<[u8; 32], TaxiiError>;
    /// Objects and versions in a collection (for the web interface).
    fn counts(&self, collection: &str) -> Result<ObjectCounts, TaxiiError>;
    /// The requests the collection's objects cite, by id, those after `after`
    /// first, at most `limit`: a keyset page.
    fn citing_requests(
        &self,
        collection: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<Citing>, TaxiiError>;
}
