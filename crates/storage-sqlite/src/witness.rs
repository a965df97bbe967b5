//! [`WitnessStore`] in the node's database (tables of migration 018).

use crate::{db_err, SqliteStore};
use detente_storage::witness::{Conflict, ConflictKind, Cosigned, WitnessStore};
use detente_storage::{Hash, StorageError};
use rusqlite::{params, OptionalExtension, TransactionBehavior};

fn to_i64(v: u64, what: &str) -> Result<i64, StorageError> {
    i64::try_from(v).map_err(|_| StorageError::Integrity(format!("{what} {v} does not fit SQLite")))
}

fn to_u64(v: i64) -> Result<u64, StorageError> {
    u64::try_from(v).map_err(|_| StorageError::Integrity(format!("negative value {v} in store")))
}

fn to_hash(v: Vec<u8>) -> Result<Hash, StorageError> {
    v.try_into()
        .map_err(|_| StorageError::Integrity("stored root is not 32 bytes".into()))
}

/// Proof hashes as stored: standard base64, one per line.
fn proof_to_text(proof: &[Hash]) -> String {
    use base64::{engine::general_purpose::STANDARD, Engine};
    let lines: Vec<String> = proof.iter().map(|h| STANDARD.encode(h)).collect();
    lines.join("\n")
}

fn proof_from_text(text: &str) -> Result<Vec<Hash>, StorageError> {
    use base64::{engine::general_purpose::STANDARD, Engine};
    let hash = |line: &str| {
        let bytes = STANDARD
            .decode(line)
            .map_err(|e| StorageError::Integrity(format!("stored proof hash: {e}")))?;
        to_hash(bytes)
    };
    text.split('\n')
        .filter(|l| !l.is_empty())
        .map(hash)
        .collect()
}

type ConflictColumns = (i64, String, String, String, String, i64, String, i64);

fn row_to_conflict(row: ConflictColumns) -> Result<Conflict, StorageError> {
    let (id, origin, kind, cosigned_note, submitted_note, old, proof, at) = row;
    let kind = ConflictKind::parse(&kind)
        .ok_or_else(|| StorageError::Integrity(format!("unknown conflict kind {kind:?}")))?;
    Ok(Conflict {
        id,
        origin,
        kind,
        cosigned_note,
        submitted_note,
        old_size: to_u64(old)?,
        proof: proof_from_text(&proof)?,
        detected_at: to_u64(at)?,
    })
}

impl WitnessStore for SqliteStore {
    fn witnessed(&self, origin: &str) -> Result<Option<Cosigned>, StorageError> {
        let c = self.reader()?;
        let row = c
            .query_row(
                "SELECT size, root, note, cosigned_at FROM witness_checkpoints WHERE origin = ?1",
                [origin],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                },
            )
            .optional()
            .map_err(db_err)?;
        row.map(|(size, root, note, at)| {
            Ok(Cosigned {
                origin: origin.to_string(),
                size: to_u64(size)?,
                root: to_hash(root)?,
                note,
                cosigned_at: to_u64(at)?,
            })
        })
        .transpose()
    }

    fn swap_witnessed(
        &self,
        expected: Option<(u64, Hash)>,
        new: &Cosigned,
    ) -> Result<bool, StorageError> {
        let mut w = self.writer.lock().map_err(db_err)?;
        // IMMEDIATE takes the write lock before the read, so no other connection
        // (another process on the same file) can change the row in between.
        let tx = w
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err)?;
        let current = tx
            .query_row(
                "SELECT size, root FROM witness_checkpoints WHERE origin = ?1",
                [&new.origin],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
            )
            .optional()
            .map_err(db_err)?
            .map(|(s, r)| Ok::<_, StorageError>((to_u64(s)?, to_hash(r)?)))
            .transpose()?;
        if current != expected {
            return Ok(false);
        }
        if let Some((size, _)) = current.filter(|(size, _)| new.size < *size) {
            return Err(StorageError::Conflict(format!(
                "refusing to roll {} back from size {size} to {}",
                new.origin, new.size
            )));
        }
        tx.execute(
            "INSERT INTO witness_checkpoints (origin, size, root, note, cosigned_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root = excluded.root,
                 note = excluded.note, cosigned_at = excluded.cosigned_at",
            params![
                new.origin,
                to_i64(new.size, "size")?,
                new.root.as_slice(),
                new.note,
                to_i64(new.cosigned_at, "time")?,
            ],
        )
        .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(true)
    }

    fn record_witness_conflict(&self, c: &Conflict) -> Result<bool, StorageError> {
        let w = self.writer.lock().map_err(db_err)?;
        let n = w
            .execute(
                "INSERT INTO witness_conflicts
                     (origin, kind, cosigned_note, submitted_note, old_size, proof, detected_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (origin, kind, cosigned_note, submitted_note) DO NOTHING",
                params![
                    c.origin,
                    c.kind.as_str(),
                    c.cosigned_note,
                    c.submitted_note,
                    to_i64(c.old_size, "size")?,
                    proof_to_text(&c.proof),
                    to_i64(c.detected_at, "time")?,
                ],
            )
            .map_err(db_err)?;
        Ok(n == 1)
    }

    fn witness_conflicts(&self) -> Result<Vec<Conflict>, StorageError> {
        let c = self.reader()?;
        let mut stmt = c
            .prepare(
                "SELECT id, origin, kind, cosigned_note, submitted_note, old_size, proof, detected_at
                 FROM witness_conflicts ORDER BY id",
            )
            .map_err(db_err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })
            .map_err(db_err)?;
        rows.map(|row| row_to_conflict(row.map_err(db_err)?))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(size: u64, root: u8) -> Cosigned {
        Cosigned {
            origin: "log.example".into(),
            size,
            root: [root; 32],
            note: format!("note {size}"),
            cosigned_at: 1_700_000_000,
        }
    }

    /// Two stores on one file stand for two processes: the second, holding a
    /// stale expectation, must lose.
    #[test]
    fn swapping_fails_for_a_stale_expectation_across_connections() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("detente.db");
        let a = SqliteStore::open(&path).unwrap();
        let b = SqliteStore::open(&path).unwrap();
        assert!(a.swap_witnessed(None, &record(3, 1)).unwrap());
        assert!(!b.swap_witnessed(None, &record(5, 2)).unwrap());
        assert!(b.swap_witnessed(Some((3, [1; 32])), &record(5, 2)).unwrap());
        assert_eq!(a.witnessed("log.example").unwrap(), Some(record(5, 2)));
    }
}
