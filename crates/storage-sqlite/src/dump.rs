//! The SQLite side of `detente migrate`: a node's rows, table by table.

use crate::{db_err, SqliteStore};
use detente_storage::dump::{DumpSource, Value};
use detente_storage::StorageError;
use rusqlite::types::ValueRef;

/// Tables SQLite derives and another database rebuilds its own way.
fn derived(table: &str) -> bool {
    table.starts_with("requests_search") || table.starts_with("sqlite_")
}

impl DumpSource for SqliteStore {
    fn dump_tables(&self) -> Result<Vec<String>, StorageError> {
        let c = self.reader()?;
        let mut st = c
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .map_err(db_err)?;
        let names = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(db_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err)?;
        Ok(names.into_iter().filter(|t| !derived(t)).collect())
    }

    fn dump_columns(&self, table: &str) -> Result<Vec<String>, StorageError> {
        let c = self.reader()?;
        let mut st = c
            .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")
            .map_err(db_err)?;
        let cols = st
            .query_map([table], |r| r.get::<_, String>(0))
            .map_err(db_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err)?;
        Ok(cols)
    }

    fn dump_rows(
        &self,
        table: &str,
        visit: &mut dyn FnMut(Vec<Value>) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        let cols = self.dump_columns(table)?;
        let list = cols
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let c = self.reader()?;
        let mut st = c
            .prepare(&format!("SELECT {list} FROM \"{table}\""))
            .map_err(db_err)?;
        let mut rows = st.query([]).map_err(db_err)?;
        while let Some(r) = rows.next().map_err(db_err)? {
            let mut values = Vec::with_capacity(cols.len());
            for (i, col) in cols.iter().enumerate() {
                values.push(match r.get_ref(i).map_err(db_err)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => Value::Int(n),
                    ValueRef::Text(t) => {
                        Value::Text(String::from_utf8(t.to_vec()).map_err(|_| {
                            StorageError::Integrity(format!(
                                "{table}.{}: text that is not UTF-8",
                                cols[i]
                            ))
                        })?)
                    }
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                    ValueRef::Real(x) => {
                        return Err(StorageError::Integrity(format!(
                            "{table}.{col}: a real number ({x}) where none is expected"
                        )))
                    }
                });
            }
            visit(values)?;
        }
        Ok(())
    }

    fn row_count(&self, table: &str) -> Result<u64, StorageError> {
        let c = self.reader()?;
        let n: i64 = c
            .query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |r| {
                r.get(0)
            })
            .map_err(db_err)?;
        Ok(n as u64)
    }
}
