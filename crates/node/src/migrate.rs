//! `detente migrate`: copies a node's database into an empty one on another
//! backend and proves the copy (same tree size and root, same checkpoint, same
//! rows per table) before anyone points a node at it.

use crate::NodeError;
use detente_log::{merkle, Checkpoint};
use detente_storage::dump::{DumpSource, DumpTarget};
use detente_storage::{LogStore, StoredTree};

/// Rows per insert statement.
const BATCH: usize = 500;

/// What was copied and checked.
#[derive(Debug, serde::Serialize)]
pub struct Copied {
    /// Rows per table, equal on both sides.
    pub tables: Vec<(String, u64)>,
    pub tree_size: u64,
    pub root: String,
}

pub fn migrate(
    from: &str,
    to: &str,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<Copied, NodeError> {
    let (source_log, source) = crate::backend::open_source(from)?;
    let (target_log, target) = crate::backend::open_target(to)?;
    let (size, checkpoint) = source_log.head()?;
    let checkpoint = checkpoint.ok_or_else(|| {
        NodeError::Config(format!("{} holds no log", crate::backend::redact(from)))
    })?;
    let root = source_root(source_log.as_ref(), size, &checkpoint.note)?;
    refuse_non_empty(target.as_ref())?;
    let known: Vec<String> = target.load_tables()?.into_iter().map(|(t, _)| t).collect();
    let tables_to_copy = source.dump_tables()?;
    if let Some(t) = tables_to_copy.iter().find(|t| !known.contains(t)) {
        return Err(NodeError::Config(format!(
            "the source's table {t} has no counterpart in the target (a newer source than this build?)"
        )));
    }
    let mut tables = Vec::new();
    for table in tables_to_copy {
        let n = copy_table(source.as_ref(), target.as_ref(), &table)?;
        progress(&table, n);
        tables.push((table, n));
    }
    target.finish_load()?;
    target_log.repair_tree(size, &root)?;
    verify(
        target_log.as_ref(),
        target.as_ref(),
        &tables,
        size,
        &checkpoint.note,
        &root,
    )?;
    Ok(Copied {
        tables,
        tree_size: size,
        root: hex::encode(root),
    })
}

/// The source's root, from its own tree (repaired from its entries first, as
/// a node does at start), checked against its latest checkpoint. The
/// signature is the node's business: `detente log verify` checks it.
fn source_root(log: &dyn LogStore, size: u64, note: &str) -> Result<detente_log::Hash, NodeError> {
    let parsed = detente_log::note::parse(note)
        .and_then(|n| Checkpoint::parse_body(&n.text))
        .map_err(|e| NodeError::Integrity(format!("the source's latest checkpoint: {e}")))?;
    if parsed.size != size {
        return Err(NodeError::Integrity(format!(
            "the source has {size} entries but its latest checkpoint covers {}",
            parsed.size
        )));
    }
    log.repair_tree(size, &parsed.root)?;
    if merkle::root(&StoredTree(log), size)? != parsed.root {
        return Err(NodeError::Integrity(
            "the source's entries do not hash to its latest checkpoint".into(),
        ));
    }
    Ok(parsed.root)
}

fn refuse_non_empty(target: &dyn DumpTarget) -> Result<(), NodeError> {
    let full: Vec<String> = target
        .load_tables()?
        .into_iter()
        .filter(|(_, empty)| !empty)
        .map(|(t, _)| t)
        .collect();
    if full.is_empty() {
        return Ok(());
    }
    Err(NodeError::Config(format!(
        "the target database is not empty (rows in {}); migrate copies into an empty database only",
        full.join(", ")
    )))
}

fn copy_table(
    source: &dyn DumpSource,
    target: &dyn DumpTarget,
    table: &str,
) -> Result<u64, NodeError> {
    let columns = source.dump_columns(table)?;
    let mut batch = Vec::with_capacity(BATCH);
    let mut n = 0u64;
    source.dump_rows(table, &mut |row| {
        batch.push(row);
        n += 1;
        if batch.len() == BATCH {
            target.load_rows(table, &columns, &batch)?;
            batch.clear();
        }
        Ok(())
    })?;
    if !batch.is_empty() {
        target.load_rows(table, &columns, &batch)?;
    }
    Ok(n)
}

fn verify(
    log: &dyn LogStore,
    target: &dyn DumpTarget,
    tables: &[(String, u64)],
    size: u64,
    note: &str,
    root: &detente_log::Hash,
) -> Result<(), NodeError> {
    let bad = |why: String| Err(NodeError::Integrity(format!("the copy differs: {why}")));
    let (count, cp) = log.head()?;
    if count != size || cp.as_ref().map(|c| c.note.as_str()) != Some(note) {
        return bad(format!(
            "{count} entries and another checkpoint, not {size}"
        ));
    }
    if merkle::root(&StoredTree(log), size)? != *root {
        return bad("its tree has another root".into());
    }
    for (table, n) in tables {
        let copied = target.row_count(table)?;
        if copied != *n {
            return bad(format!("{table} has {copied} rows, not {n}"));
        }
    }
    Ok(())
}
