//! The PostgreSQL side of `detente migrate`: rows loaded table by table in
//! batches (one statement per batch, columns as typed arrays), then what
//! PostgreSQL derives from them rebuilt.

use crate::sql::Db;
use crate::{wait, PgStore};
use detente_storage::dump::{DumpTarget, Value};
use detente_storage::StorageError;
use tokio_postgres::types::ToSql;

/// Tables the target derives itself, or its own bookkeeping.
const DERIVED: &[&str] = &[
    "detente_schema",
    "log_head",
    "tree_chunks",
    "taxii_seq",
    "taxii_cursor_key",
    "lead_lease",
];

/// SQLite keeps the TAXII position counter and cursor key as rows of one
/// key-value table; PostgreSQL as one-row tables of their own.
const TAXII_META: &str = "taxii_meta";

/// One column's values for a batch, typed as the target column is.
enum Column {
    Int8(Vec<Option<i64>>),
    Int4(Vec<Option<i32>>),
    Int2(Vec<Option<i16>>),
    Bool(Vec<Option<bool>>),
    Text(Vec<Option<String>>),
    Bytea(Vec<Option<Vec<u8>>>),
}

impl Column {
    fn new(pg_type: &str) -> Result<Column, String> {
        Ok(match pg_type {
            "bigint" => Column::Int8(vec![]),
            "integer" => Column::Int4(vec![]),
            "smallint" => Column::Int2(vec![]),
            "boolean" => Column::Bool(vec![]),
            "text" => Column::Text(vec![]),
            "bytea" => Column::Bytea(vec![]),
            other => return Err(format!("column type {other} cannot be loaded")),
        })
    }

    fn cast(&self) -> &'static str {
        match self {
            Column::Int8(_) => "bigint[]",
            Column::Int4(_) => "integer[]",
            Column::Int2(_) => "smallint[]",
            Column::Bool(_) => "boolean[]",
            Column::Text(_) => "text[]",
            Column::Bytea(_) => "bytea[]",
        }
    }

    fn push(&mut self, v: &Value) -> Result<(), String> {
        let cast = self.cast();
        let bad = || format!("{v:?} does not fit a {cast} column");
        match (self, v) {
            (Column::Int8(c), Value::Int(n)) => c.push(Some(*n)),
            (Column::Int4(c), Value::Int(n)) => c.push(Some(i32::try_from(*n).map_err(|_| bad())?)),
            (Column::Int2(c), Value::Int(n)) => c.push(Some(i16::try_from(*n).map_err(|_| bad())?)),
            (Column::Bool(c), Value::Int(n @ (0 | 1))) => c.push(Some(*n == 1)),
            (Column::Text(c), Value::Text(t)) => c.push(Some(t.clone())),
            (Column::Bytea(c), Value::Blob(b)) => c.push(Some(b.clone())),
            // SQLite stores what it is given; a BLOB column may hold text.
            (Column::Bytea(c), Value::Text(t)) => c.push(Some(t.clone().into_bytes())),
            (c, Value::Null) => c.push_null(),
            _ => return Err(bad()),
        }
        Ok(())
    }

    fn push_null(&mut self) {
        match self {
            Column::Int8(c) => c.push(None),
            Column::Int4(c) => c.push(None),
            Column::Int2(c) => c.push(None),
            Column::Bool(c) => c.push(None),
            Column::Text(c) => c.push(None),
            Column::Bytea(c) => c.push(None),
        }
    }

    fn param(&self) -> &(dyn ToSql + Sync) {
        match self {
            Column::Int8(c) => c,
            Column::Int4(c) => c,
            Column::Int2(c) => c,
            Column::Bool(c) => c,
            Column::Text(c) => c,
            Column::Bytea(c) => c,
        }
    }
}

impl PgStore {
    fn column_types(&self, table: &str) -> Result<Vec<(String, String)>, StorageError> {
        let c = self.pool.get()?;
        let rows = wait(c.query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            &[&table],
        ))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}

impl DumpTarget for PgStore {
    fn load_tables(&self) -> Result<Vec<(String, bool)>, StorageError> {
        let c = self.pool.get()?;
        let rows = wait(c.query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
            &[],
        ))?;
        drop(c);
        let mut out = vec![(TAXII_META.to_string(), self.row_count_of(TAXII_META)? == 0)];
        for r in rows {
            let name: String = r.get(0);
            if !DERIVED.contains(&name.as_str()) {
                let empty = DumpTarget::row_count(self, &name)? == 0;
                out.push((name, empty));
            }
        }
        Ok(out)
    }

    fn load_rows(
        &self,
        table: &str,
        columns: &[String],
        rows: &[Vec<Value>],
    ) -> Result<(), StorageError> {
        if table == TAXII_META {
            return self.load_taxii_meta(columns, rows);
        }
        let types = self.column_types(table)?;
        let mut cols = Vec::with_capacity(columns.len());
        for name in columns {
            let Some((_, ty)) = types.iter().find(|(n, _)| n == name) else {
                return Err(StorageError::Integrity(format!(
                    "{table}.{name} has no column in the target"
                )));
            };
            cols.push(
                Column::new(ty)
                    .map_err(|e| StorageError::Integrity(format!("{table}.{name}: {e}")))?,
            );
        }
        for row in rows {
            for (i, v) in row.iter().enumerate() {
                cols[i]
                    .push(v)
                    .map_err(|e| StorageError::Integrity(format!("{table}.{}: {e}", columns[i])))?;
            }
        }
        let names = columns
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let arrays = cols
            .iter()
            .enumerate()
            .map(|(i, c)| format!("${}::{}", i + 1, c.cast()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("INSERT INTO \"{table}\" ({names}) SELECT * FROM unnest({arrays})");
        let params: Vec<&(dyn ToSql + Sync)> = cols.iter().map(Column::param).collect();
        let c = self.pool.get()?;
        wait(c.execute(&sql, &params)).map(drop)
    }

    fn finish_load(&self) -> Result<(), StorageError> {
        let c = self.pool.get()?;
        // The text filter's copy of each request's facts (see exchange.rs).
        wait(c.execute(
            "UPDATE requests r SET facts = convert_from(e.envelope, 'UTF8')::jsonb \
             #>> '{payload,event,kind,request,facts}' \
             FROM request_events e WHERE e.request_id = r.id AND e.seq = 0",
            &[],
        ))?;
        // Id counters continue after the copied ids.
        let serials = wait(c.query(
            "SELECT table_name::text, column_name::text, \
             pg_get_serial_sequence(quote_ident(table_name), column_name)::text \
             FROM information_schema.columns WHERE table_schema = current_schema() \
             AND column_default LIKE 'nextval(%'",
            &[],
        ))?;
        for r in serials {
            let (table, column, seq): (String, String, Option<String>) =
                (r.get(0), r.get(1), r.get(2));
            if let Some(seq) = seq {
                wait(c.execute(
                    &format!(
                        "SELECT setval('{seq}', coalesce((SELECT max(\"{column}\") FROM \"{table}\"), 0) + 1, false)"
                    ),
                    &[],
                ))?;
            }
        }
        Ok(())
    }

    fn row_count(&self, table: &str) -> Result<u64, StorageError> {
        self.row_count_of(table)
    }
}

impl PgStore {
    fn row_count_of(&self, table: &str) -> Result<u64, StorageError> {
        let sql = match table {
            TAXII_META => "SELECT (SELECT count(*) FROM taxii_cursor_key) \
                 + (SELECT count(*) FROM taxii_seq WHERE last_seq > 0)"
                .to_string(),
            _ => format!("SELECT count(*) FROM \"{table}\""),
        };
        let c = self.pool.get()?;
        let n: i64 = wait(c.query_one(&sql, &[]))?.get(0);
        Ok(n as u64)
    }

    /// `last_seq` and `cursor_key` rows into their PostgreSQL tables.
    fn load_taxii_meta(&self, columns: &[String], rows: &[Vec<Value>]) -> Result<(), StorageError> {
        let at = |name: &str| columns.iter().position(|c| c == name);
        let (Some(k), Some(v)) = (at("key"), at("value")) else {
            return Err(StorageError::Integrity(
                "taxii_meta needs key and value columns".into(),
            ));
        };
        let c = self.pool.get()?;
        for row in rows {
            match (&row[k], &row[v]) {
                (Value::Text(key), Value::Int(n)) if key == "last_seq" => {
                    wait(c.execute("UPDATE taxii_seq SET last_seq = $1", &[n]))?;
                }
                (Value::Text(key), Value::Blob(b)) if key == "cursor_key" => {
                    wait(c.execute("INSERT INTO taxii_cursor_key (key) VALUES ($1)", &[b]))?;
                }
                (key, _) => {
                    return Err(StorageError::Integrity(format!(
                        "taxii_meta: no place for the row {key:?}"
                    )))
                }
            }
        }
        Ok(())
    }
}
