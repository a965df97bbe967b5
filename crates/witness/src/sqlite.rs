//! [`WitnessStore`] in the node's SQLite file, in tables prefixed `witness_` so
//! they live beside the node's own tables without touching its migrations.

use crate::store::{Conflict, ConflictKind, Cosigned, WitnessStore};
use crate::WitnessError;
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use detente_log::{proof_file::parse_hash, Hash};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS witness_checkpoints (
    origin      TEXT PRIMARY KEY,
    size        INTEGER NOT NULL CHECK (size >= 0),
    root        BLOB NOT NULL CHECK (length(root) = 32),
    note        TEXT NOT NULL,
    cosigned_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS witness_conflicts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    origin         TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('fork', 'inconsistent')),
    cosigned_note  TEXT NOT NULL,
    submitted_note TEXT NOT NULL,
    old_size       INTEGER NOT NULL,
    proof          TEXT NOT NULL,
    detected_at    INTEGER NOT NULL,
    UNIQUE (origin, kind, cosigned_note, submitted_note)
);
";

/// SQLite-backed witness state.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

fn to_i64(v: u64, what: &str) -> Result<i64, WitnessError> {
    i64::try_from(v).map_err(|_| WitnessError::Store(format!("{what} {v} does not fit SQLite")))
}

fn to_u64(v: i64) -> Result<u64, WitnessError> {
    u64::try_from(v).map_err(|_| WitnessError::Store(format!("negative value {v} in store")))
}

fn to_hash(v: Vec<u8>) -> Result<Hash, WitnessError> {
    v.try_into()
        .map_err(|_| WitnessError::Store("stored root is not 32 bytes".into()))
}

impl SqliteStore {
    /// Opens (creating if needed) the witness tables in the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, WitnessError> {
        let conn = Connection::open(path)?;
        // Other connections (the node's own) write the same file: wait for them
        // instead of failing, and make every commit durable because a witness
        // must persist its state before it answers.
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>, WitnessError> {
        self.conn
            .lock()
            .map_err(|_| WitnessError::Store("connection lock poisoned".into()))
    }
}

impl WitnessStore for SqliteStore {
    fn latest(&self, origin: &str) -> Result<Option<Cosigned>, WitnessError> {
        let conn = self.conn()?;
        let row = conn
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
            .optional()?;
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

    fn compare_and_swap(
        &self,
        expected: Option<(u64, Hash)>,
        new: &Cosigned,
    ) -> Result<bool, WitnessError> {
        let mut conn = self.conn()?;
        // IMMEDIATE takes the write lock before the read, so no other connection
        // can change the row between the comparison and the write.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current = tx
            .query_row(
                "SELECT size, root FROM witness_checkpoints WHERE origin = ?1",
                [&new.origin],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
            )
            .optional()?
            .map(|(s, r)| Ok::<_, WitnessError>((to_u64(s)?, to_hash(r)?)))
            .transpose()?;
        if current != expected {
            return Ok(false);
        }
        if let Some((size, _)) = current {
            if new.size < size {
                return Err(WitnessError::Store(format!(
                    "refusing to roll {} back from size {size} to {}",
                    new.origin, new.size
                )));
            }
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
        )?;
        tx.commit()?;
        Ok(true)
    }

    fn record_conflict(&self, c: &Conflict) -> Result<bool, WitnessError> {
        let proof: Vec<String> = c.proof.iter().map(|h| B64.encode(h)).collect();
        let conn = self.conn()?;
        let n = conn.execute(
            "INSERT OR IGNORE INTO witness_conflicts
                 (origin, kind, cosigned_note, submitted_note, old_size, proof, detected_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                c.origin,
                c.kind.as_str(),
                c.cosigned_note,
                c.submitted_note,
                to_i64(c.old_size, "size")?,
                proof.join("\n"),
                to_i64(c.detected_at, "time")?,
            ],
        )?;
        Ok(n == 1)
    }

    fn conflicts(&self) -> Result<Vec<Conflict>, WitnessError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(
            "SELECT id, origin, kind, cosigned_note, submitted_note, old_size, proof, detected_at
             FROM witness_conflicts ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, i64>(7)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, origin, kind, cosigned_note, submitted_note, old, proof, at) = row?;
            let kind = ConflictKind::parse(&kind)
                .ok_or_else(|| WitnessError::Store(format!("unknown conflict kind {kind:?}")))?;
            let proof = proof
                .split('\n')
                .filter(|l| !l.is_empty())
                .map(|l| parse_hash(l).map_err(|e| WitnessError::Store(e.to_string())))
                .collect::<Result<_, _>>()?;
            out.push(Conflict {
                id,
                origin,
                kind,
                cosigned_note,
                submitted_note,
                old_size: to_u64(old)?,
                proof,
                detected_at: to_u64(at)?,
            });
        }
        Ok(out)
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

    #[test]
    fn compare_and_swap_fails_for_a_stale_expectation_across_connections() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("detente.db");
        let a = SqliteStore::open(&path).unwrap();
        let b = SqliteStore::open(&path).unwrap();
        assert!(a.compare_and_swap(None, &record(3, 1)).unwrap());
        // b still believes there is no record: it must lose.
        assert!(!b.compare_and_swap(None, &record(5, 2)).unwrap());
        // Same size, different root expected: lose too.
        assert!(!b
            .compare_and_swap(Some((3, [9; 32])), &record(5, 2))
            .unwrap());
        assert!(b
            .compare_and_swap(Some((3, [1; 32])), &record(5, 2))
            .unwrap());
        assert_eq!(a.latest("log.example").unwrap(), Some(record(5, 2)));
        assert!(a
            .compare_and_swap(Some((5, [2; 32])), &record(4, 3))
            .is_err());
        assert_eq!(a.latest("log.example").unwrap(), Some(record(5, 2)));
        assert_eq!(a.latest("other.example").unwrap(), None);
    }

    #[test]
    fn conflicts_are_kept_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path().join("detente.db")).unwrap();
        let c = Conflict {
            id: 0,
            origin: "log.example".into(),
            kind: ConflictKind::Inconsistent,
            cosigned_note: "a".into(),
            submitted_note: "b".into(),
            old_size: 4,
            proof: vec![[7; 32], [8; 32]],
            detected_at: 1_700_000_001,
        };
        assert!(s.record_conflict(&c).unwrap());
        assert!(!s.record_conflict(&c).unwrap());
        let fork = Conflict {
            kind: ConflictKind::Fork,
            proof: vec![],
            ..c.clone()
        };
        assert!(s.record_conflict(&fork).unwrap());
        let got = s.conflicts().unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            Conflict {
                id: 0,
                ..got[0].clone()
            },
            c
        );
        assert_eq!(
            Conflict {
                id: 0,
                ..got[1].clone()
            },
            fork
        );
        assert!(got[0].id < got[1].id);
    }
}
