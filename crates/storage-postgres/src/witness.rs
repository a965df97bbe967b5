//! [`WitnessStore`] on PostgreSQL (tables of migration 003).
//!
//! Replicas share one witness state, so the compare-and-swap of the cosigned
//! checkpoint is a single conditional statement: PostgreSQL re-checks its
//! condition on the row a concurrent writer left, and exactly one of two
//! racing swaps from the same expectation wins.

use crate::sql::Db;
use crate::{hash, wait, PgStore};
use detente_storage::witness::{Conflict, ConflictKind, Cosigned, WitnessStore};
use detente_storage::{Hash, StorageError};
use sha2::{Digest, Sha256};
use tokio_postgres::Row;

const CONFLICT_COLUMNS: &str =
    "id, origin, kind, cosigned_note, submitted_note, old_size, proof, detected_at";

fn to_i64(v: u64, what: &str) -> Result<i64, StorageError> {
    i64::try_from(v)
        .map_err(|_| StorageError::Integrity(format!("{what} {v} does not fit PostgreSQL")))
}

fn to_u64(v: i64) -> Result<u64, StorageError> {
    u64::try_from(v).map_err(|_| StorageError::Integrity(format!("negative value {v} in store")))
}

fn proof_from_bytes(bytes: &[u8]) -> Result<Vec<Hash>, StorageError> {
    bytes
        .chunks(32)
        .map(|c| hash(c.to_vec()))
        .collect::<Result<_, _>>()
}

/// What makes two conflicts the same evidence, hashed with each field's
/// length first so that no two field lists share a digest.
fn evidence(c: &Conflict) -> Vec<u8> {
    let mut h = Sha256::new();
    for field in [
        c.origin.as_str(),
        c.kind.as_str(),
        &c.cosigned_note,
        &c.submitted_note,
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    h.finalize().to_vec()
}

fn conflict_row(r: &Row) -> Result<Conflict, StorageError> {
    let kind: String = r.get(2);
    Ok(Conflict {
        id: r.get(0),
        origin: r.get(1),
        kind: ConflictKind::parse(&kind)
            .ok_or_else(|| StorageError::Integrity(format!("unknown conflict kind {kind:?}")))?,
        cosigned_note: r.get(3),
        submitted_note: r.get(4),
        old_size: to_u64(r.get(5))?,
        proof: proof_from_bytes(r.get(6))?,
        detected_at: to_u64(r.get(7))?,
    })
}

impl PgStore {
    fn witnessed_head(&self, origin: &str) -> Result<Option<(u64, Hash)>, StorageError> {
        let c = self.pool.get()?;
        wait(c.query_opt(
            "SELECT size, root FROM witness_checkpoints WHERE origin = $1",
            &[&origin],
        ))?
        .map(|r| Ok((to_u64(r.get(0))?, hash(r.get(1))?)))
        .transpose()
    }
}

impl WitnessStore for PgStore {
    fn witnessed(&self, origin: &str) -> Result<Option<Cosigned>, StorageError> {
        let c = self.pool.get()?;
        let row = wait(c.query_opt(
            "SELECT size, root, note, cosigned_at FROM witness_checkpoints WHERE origin = $1",
            &[&origin],
        ))?;
        row.map(|r| {
            Ok(Cosigned {
                origin: origin.to_string(),
                size: to_u64(r.get(0))?,
                root: hash(r.get(1))?,
                note: r.get(2),
                cosigned_at: to_u64(r.get(3))?,
            })
        })
        .transpose()
    }

    fn swap_witnessed(
        &self,
        expected: Option<(u64, Hash)>,
        new: &Cosigned,
    ) -> Result<bool, StorageError> {
        let (size, at) = (to_i64(new.size, "size")?, to_i64(new.cosigned_at, "time")?);
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
            [&new.origin, &size, &&new.root[..], &new.note, &at];
        let Some((old_size, old_root)) = expected else {
            // A concurrent insert of the same origin makes this one do nothing.
            let c = self.pool.get()?;
            let n = wait(c.execute(
                "INSERT INTO witness_checkpoints (origin, size, root, note, cosigned_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (origin) DO NOTHING",
                &params,
            ))?;
            return Ok(n == 1);
        };
        if new.size < old_size {
            // Nothing is written either way; a rollback from what is stored
            // is refused loudly, a stale expectation merely loses.
            return match self.witnessed_head(&new.origin)? {
                Some(current) if current == (old_size, old_root) => {
                    Err(StorageError::Conflict(format!(
                        "refusing to roll {} back from size {old_size} to {}",
                        new.origin, new.size
                    )))
                }
                _ => Ok(false),
            };
        }
        let c = self.pool.get()?;
        let (old, root) = (to_i64(old_size, "size")?, &old_root[..]);
        let n = wait(c.execute(
            "UPDATE witness_checkpoints SET size = $2, root = $3, note = $4, cosigned_at = $5 \
             WHERE origin = $1 AND size = $6 AND root = $7",
            &[
                params[0], params[1], params[2], params[3], params[4], &old, &root,
            ],
        ))?;
        Ok(n == 1)
    }

    fn record_witness_conflict(&self, conflict: &Conflict) -> Result<bool, StorageError> {
        let c = self.pool.get()?;
        let proof: Vec<u8> = conflict.proof.concat();
        let n = wait(c.execute(
            "INSERT INTO witness_conflicts (evidence, origin, kind, cosigned_note, \
             submitted_note, old_size, proof, detected_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (evidence) DO NOTHING",
            &[
                &evidence(conflict),
                &conflict.origin,
                &conflict.kind.as_str(),
                &conflict.cosigned_note,
                &conflict.submitted_note,
                &to_i64(conflict.old_size, "size")?,
                &proof,
                &to_i64(conflict.detected_at, "time")?,
            ],
        ))?;
        Ok(n == 1)
    }

    fn witness_conflicts(&self) -> Result<Vec<Conflict>, StorageError> {
        let c = self.pool.get()?;
        let sql = format!("SELECT {CONFLICT_COLUMNS} FROM witness_conflicts ORDER BY id");
        wait(c.query(&sql, &[]))?.iter().map(conflict_row).collect()
    }
}
