//! Copying a node from one database to another (`detente migrate`): rows
//! travel as driver-free values, table by table, so neither driver knows the
//! other. Tables only one side has are derived data that the target rebuilds
//! (SQLite's full-text index; PostgreSQL's tree chunks and log head).

use crate::StorageError;

/// One column's value as it travels between drivers.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

/// A database a node can be copied from.
pub trait DumpSource {
    /// The tables that hold the node's own rows (no derived ones).
    fn dump_tables(&self) -> Result<Vec<String>, StorageError>;
    /// The table's columns, in order.
    fn dump_columns(&self, table: &str) -> Result<Vec<String>, StorageError>;
    /// Visits the rows of `table`, their values in `dump_columns` order.
    fn dump_rows(
        &self,
        table: &str,
        visit: &mut dyn FnMut(Vec<Value>) -> Result<(), StorageError>,
    ) -> Result<(), StorageError>;
    fn row_count(&self, table: &str) -> Result<u64, StorageError>;
}

/// A database a node can be copied into.
pub trait DumpTarget {
    /// Tables the copy fills, and whether each holds no rows yet.
    fn load_tables(&self) -> Result<Vec<(String, bool)>, StorageError>;
    /// Inserts rows into `table`; `columns` names their values.
    fn load_rows(
        &self,
        table: &str,
        columns: &[String],
        rows: &[Vec<Value>],
    ) -> Result<(), StorageError>;
    /// Rebuilds what the target derives from the copied rows (search text,
    /// id counters); the tree follows with `LogStore::repair_tree`.
    fn finish_load(&self) -> Result<(), StorageError>;
    fn row_count(&self, table: &str) -> Result<u64, StorageError>;
}
