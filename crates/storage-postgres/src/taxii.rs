//! [`TaxiiStore`] on PostgreSQL (tables of migration 003), the same rows as
//! the SQLite driver's: `seq` is each version's position and `date_added`,
//! `latest` marks the newest version of each object, counts and citations
//! are kept beside the objects.
//!
//! Replicas write concurrently, so every write that SQLite's single writer
//! makes safe is serialised here by the `taxii_seq` row, locked `FOR UPDATE`
//! by each ingest and delete until it commits:
//! - positions are handed out under the lock, so commits happen in position
//!   order and a reader's `next` cursor can never pass a position that a
//!   transaction still in flight is about to fill;
//! - "is this the newest version", "is this object new" (counts) and the
//!   deduplication of resubmissions are read and then written under it.
//!
//! An ingest costs a fixed number of statements whatever its size: the
//! objects of an envelope travel as arrays (`unnest`).

use crate::sql::Db;
use crate::sql::Tx;
use crate::{wait, PgStore};
use detente_storage::taxii::{
    format_timestamp, Citing, Collection, NewObject, ObjectCounts, ObjectQuery, ObjectRow, Page,
    Stored, TaxiiStore, VersionSel,
};
use detente_storage::StorageError;
use std::collections::{HashMap, HashSet};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

const COLLECTION_COLUMNS: &str =
    "id, title, description, alias, read_acl, write_acl, red_recipients";

fn acl_to_text(list: &[String]) -> String {
    serde_json::to_string(list).expect("string list serializes")
}

fn acl_from_text(text: &str) -> Result<Vec<String>, StorageError> {
    serde_json::from_str(text)
        .map_err(|e| StorageError::Integrity(format!("stored access list: {e}")))
}

fn collection_row(r: &Row) -> Result<Collection, StorageError> {
    Ok(Collection {
        id: r.get(0),
        title: r.get(1),
        description: r.get(2),
        alias: r.get(3),
        read: acl_from_text(r.get(4))?,
        write: acl_from_text(r.get(5))?,
        red_recipients: acl_from_text(r.get(6))?,
    })
}

fn now_us() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
}

type Param = Box<dyn ToSql + Sync + Send>;

/// The WHERE clause and parameters shared by reads and deletes; `$1` is
/// always the collection id.
struct Filter {
    clause: String,
    params: Vec<Param>,
}

impl Filter {
    fn new(q: &ObjectQuery) -> Filter {
        let mut f = Filter {
            clause: "o.coll = (SELECT pk FROM taxii_collections WHERE id = $1)".into(),
            params: vec![Box::new(q.collection.clone())],
        };
        f.push("o.seq >", "", Box::new(q.after_seq));
        if let Some(id) = &q.object_id {
            f.push("o.obj_id =", "", Box::new(id.clone()));
        }
        for (column, values) in [
            ("o.obj_id", &q.ids),
            ("o.obj_type", &q.types),
            ("o.spec_version", &q.spec_versions),
        ] {
            if !values.is_empty() {
                f.push(&format!("{column} = ANY("), ")", Box::new(values.clone()));
            }
        }
        f.push("o.tlp = ANY(", ")", Box::new(q.tlp.clone()));
        f.versions(&q.versions);
        f
    }

    fn push(&mut self, before: &str, after: &str, value: Param) {
        self.params.push(value);
        let n = self.params.len();
        self.clause.push_str(&format!(" AND {before} ${n}{after}"));
    }

    /// Selectors combined with OR; `last` is the `latest` column, `first` an
    /// index probe for an older version.
    fn versions(&mut self, versions: &[VersionSel]) {
        if versions.is_empty() || versions.contains(&VersionSel::All) {
            return;
        }
        let alternatives: Vec<String> = versions
            .iter()
            .map(|v| match v {
                VersionSel::Last => "o.latest".to_string(),
                VersionSel::First => "NOT EXISTS (SELECT 1 FROM taxii_objects n \
                    WHERE n.coll = o.coll AND n.obj_id = o.obj_id AND n.version_us < o.version_us)"
                    .to_string(),
                VersionSel::At(us) => format!("o.version_us = {us}"),
                VersionSel::All => unreachable!("handled above"),
            })
            .collect();
        self.clause
            .push_str(&format!(" AND ({})", alternatives.join(" OR ")));
    }

    fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

/// Locks the position counter (see the module's comment) and returns the
/// last position handed out.
async fn lock_positions(c: &impl Db) -> Result<i64, tokio_postgres::Error> {
    let r = c
        .query_one("SELECT last_seq FROM taxii_seq FOR UPDATE", &[])
        .await?;
    Ok(r.get(0))
}

/// The collection's key, locked against its removal until the transaction
/// ends.
async fn collection_key(c: &impl Db, id: &str) -> Result<Option<i64>, tokio_postgres::Error> {
    let r = c
        .query_opt(
            "SELECT pk FROM taxii_collections WHERE id = $1 FOR KEY SHARE",
            &[&id],
        )
        .await?;
    Ok(r.map(|r| r.get(0)))
}

/// What is already stored of the envelope's objects: each one's newest
/// version, and which of the versions it brings exist.
#[derive(Default)]
struct Known {
    latest: HashMap<String, (i64, String)>,
    present: HashSet<(String, i64)>,
}

async fn known(
    c: &impl Db,
    coll: i64,
    objects: &[NewObject],
) -> Result<Known, tokio_postgres::Error> {
    let ids: Vec<&str> = objects.iter().map(|o| o.id.as_str()).collect();
    let versions: Vec<i64> = objects.iter().filter_map(|o| o.version_us).collect();
    let rows = c
        .query(
            "SELECT obj_id, version_us, version, latest FROM taxii_objects \
             WHERE coll = $1 AND obj_id = ANY($2) AND (latest OR version_us = ANY($3))",
            &[&coll, &ids, &versions],
        )
        .await?;
    let mut k = Known::default();
    for r in rows {
        let (id, us): (String, i64) = (r.get(0), r.get(1));
        if r.get::<_, bool>(3) {
            k.latest.insert(id.clone(), (us, r.get(2)));
        }
        k.present.insert((id, us));
    }
    Ok(k)
}

/// One version to insert.
struct NewRow<'a> {
    seq: i64,
    object: &'a NewObject,
    version_us: i64,
    version: String,
}

/// An envelope's outcome, worked out in memory from [`Known`] in envelope
/// order, exactly as storing the objects one by one would.
struct Plan<'a> {
    rows: Vec<NewRow<'a>>,
    /// Stored versions that are no longer the newest: `(obj_id, version_us)`.
    demoted: Vec<(String, i64)>,
    latest: HashMap<String, i64>,
    results: Vec<Stored>,
    tally: ObjectCounts,
    last_seq: i64,
}

impl<'a> Plan<'a> {
    fn new(mut known: Known, objects: &'a [NewObject], mut seq: i64) -> Plan<'a> {
        let before: HashMap<String, i64> = known
            .latest
            .iter()
            .map(|(id, (us, _))| (id.clone(), *us))
            .collect();
        let mut rows = Vec::with_capacity(objects.len());
        let mut results = Vec::with_capacity(objects.len());
        let mut tally = ObjectCounts::default();
        for object in objects {
            seq += 1;
            let current = known.latest.get(&object.id);
            let (version_us, version) = match (object.version_us, &object.version, current) {
                (Some(us), Some(v), _) => (us, v.clone()),
                // Versionless (SCO): one version, dated by its first submission.
                (_, _, Some((_, existing))) => {
                    results.push(stored(object, existing.clone(), false));
                    continue;
                }
                _ => (seq, format_timestamp(seq)),
            };
            if !known.present.insert((object.id.clone(), version_us)) {
                results.push(stored(object, version, false));
                continue;
            }
            tally.versions += 1;
            tally.objects += u64::from(current.is_none());
            if current.is_none_or(|(cur, _)| version_us > *cur) {
                known
                    .latest
                    .insert(object.id.clone(), (version_us, version.clone()));
            }
            results.push(stored(object, version.clone(), true));
            rows.push(NewRow {
                seq,
                object,
                version_us,
                version,
            });
        }
        let latest: HashMap<String, i64> = known
            .latest
            .into_iter()
            .map(|(id, (us, _))| (id, us))
            .collect();
        let demoted = before
            .into_iter()
            .filter(|(id, us)| latest.get(id) != Some(us))
            .collect();
        Plan {
            rows,
            demoted,
            latest,
            results,
            tally,
            last_seq: seq,
        }
    }
}

fn stored(object: &NewObject, version: String, inserted: bool) -> Stored {
    Stored {
        id: object.id.clone(),
        version,
        inserted,
    }
}

const INSERT_OBJECTS: &str = "INSERT INTO taxii_objects \
     (coll, seq, obj_id, obj_type, spec_version, version_us, version, tlp, latest, body) \
     SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[], \
     $7::text[], $8::bigint[], $9::boolean[], $10::text[])";

const DEMOTE: &str = "UPDATE taxii_objects o SET latest = FALSE \
     FROM unnest($2::text[], $3::bigint[]) AS d (obj_id, version_us) \
     WHERE o.coll = $1 AND o.obj_id = d.obj_id AND o.version_us = d.version_us";

const INSERT_CITES: &str = "INSERT INTO taxii_cites (coll, request_id, seq, obj_id) \
     SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::text[]) ON CONFLICT DO NOTHING";

async fn insert_rows(c: &impl Db, coll: i64, plan: &Plan<'_>) -> Result<(), tokio_postgres::Error> {
    let rows = &plan.rows;
    let seq: Vec<i64> = rows.iter().map(|r| r.seq).collect();
    let id: Vec<&str> = rows.iter().map(|r| r.object.id.as_str()).collect();
    let kind: Vec<&str> = rows.iter().map(|r| r.object.object_type.as_str()).collect();
    let spec: Vec<&str> = rows
        .iter()
        .map(|r| r.object.spec_version.as_str())
        .collect();
    let us: Vec<i64> = rows.iter().map(|r| r.version_us).collect();
    let version: Vec<&str> = rows.iter().map(|r| r.version.as_str()).collect();
    let tlp: Vec<i64> = rows.iter().map(|r| r.object.tlp).collect();
    let latest: Vec<bool> = rows
        .iter()
        .map(|r| plan.latest.get(&r.object.id) == Some(&r.version_us))
        .collect();
    let body: Vec<&str> = rows.iter().map(|r| r.object.body.as_str()).collect();
    c.execute(
        INSERT_OBJECTS,
        &[
            &coll, &seq, &id, &kind, &spec, &us, &version, &tlp, &latest, &body,
        ],
    )
    .await?;
    let cites: Vec<(&str, i64, &str)> = rows
        .iter()
        .flat_map(|r| {
            r.object
                .cites
                .iter()
                .map(|q| (q.as_str(), r.seq, r.object.id.as_str()))
        })
        .collect();
    if !cites.is_empty() {
        let request: Vec<&str> = cites.iter().map(|c| c.0).collect();
        let seq: Vec<i64> = cites.iter().map(|c| c.1).collect();
        let id: Vec<&str> = cites.iter().map(|c| c.2).collect();
        c.execute(INSERT_CITES, &[&coll, &request, &seq, &id])
            .await?;
    }
    Ok(())
}

/// Everything an ingest writes once its outcome is known: independent
/// statements, sent together (pipelined) so that the position lock is held
/// for about one round trip rather than one per statement.
async fn write_plan(
    c: &impl Db,
    coll: i64,
    plan: &Plan<'_>,
    status: (&str, &str, i64, &str),
) -> Result<(), tokio_postgres::Error> {
    let (objects, versions) = (plan.tally.objects as i64, plan.tally.versions as i64);
    let (id, owner, created, body) = status;
    let demoted_id: Vec<&str> = plan.demoted.iter().map(|d| d.0.as_str()).collect();
    let demoted_us: Vec<i64> = plan.demoted.iter().map(|d| d.1).collect();
    futures::try_join!(
        async {
            if !plan.rows.is_empty() {
                insert_rows(c, coll, plan).await?;
            }
            Ok(())
        },
        async {
            if !plan.demoted.is_empty() {
                c.execute(DEMOTE, &[&coll, &demoted_id, &demoted_us])
                    .await?;
            }
            Ok(())
        },
        async {
            let sql = "UPDATE taxii_counts SET objects = objects + $2, versions = versions + $3 \
                       WHERE coll = $1";
            c.execute(sql, &[&coll, &objects, &versions]).await
        },
        async {
            let sql = "UPDATE taxii_seq SET last_seq = $1";
            c.execute(sql, &[&plan.last_seq]).await
        },
        async {
            let sql =
                "INSERT INTO taxii_status (id, created_us, owner, body) VALUES ($1, $2, $3, $4)";
            c.execute(sql, &[&id, &created, &owner, &body]).await
        },
    )?;
    Ok(())
}

/// One statement, so "last" and "first" are judged on the rows as they were
/// before it: a statement does not see its own deletions.
async fn delete_selected(
    c: &impl Db,
    q: &ObjectQuery,
) -> Result<Vec<(i64, String)>, tokio_postgres::Error> {
    let f = Filter::new(q);
    let sql = format!(
        "DELETE FROM taxii_objects o WHERE {} RETURNING o.seq, o.obj_id",
        f.clause
    );
    let rows = c.query(&sql, &f.refs()).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// After versions of objects went: their newest remaining versions become
/// the latest, and the counts lose the versions and the objects now gone.
async fn after_delete(
    c: &impl Db,
    coll: i64,
    deleted: &[(i64, String)],
) -> Result<(), tokio_postgres::Error> {
    let touched: Vec<&str> = deleted
        .iter()
        .map(|(_, id)| id.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    c.execute(
        "UPDATE taxii_objects SET latest = TRUE WHERE seq IN ( \
         SELECT DISTINCT ON (obj_id) seq FROM taxii_objects \
         WHERE coll = $1 AND obj_id = ANY($2) ORDER BY obj_id, version_us DESC)",
        &[&coll, &touched],
    )
    .await?;
    c.execute(
        "UPDATE taxii_counts SET versions = versions - $2, objects = objects - ( \
         SELECT count(*) FROM unnest($3::text[]) AS t (obj_id) WHERE NOT EXISTS ( \
         SELECT 1 FROM taxii_objects o WHERE o.coll = $1 AND o.obj_id = t.obj_id)) \
         WHERE coll = $1",
        &[&coll, &(deleted.len() as i64), &touched],
    )
    .await?;
    Ok(())
}

fn ingest_tx(
    tx: &Tx<'_>,
    collection: &str,
    objects: &[NewObject],
    (status_id, owner): (&str, &str),
    status: &mut dyn FnMut(&[Stored], i64) -> String,
) -> Result<Option<String>, StorageError> {
    // Pipelined; the server runs them in order, the lookup under the lock.
    let (last, coll) =
        wait(async { futures::try_join!(lock_positions(tx), collection_key(tx, collection)) })?;
    let Some(coll) = coll else {
        return Ok(None);
    };
    // Read under the lock, so never below what an earlier commit used.
    let request_us = now_us();
    let known = wait(known(tx, coll, objects))?;
    let plan = Plan::new(known, objects, last.max(request_us - 1));
    // Called outside any client future: it may do anything, block included.
    let body = status(&plan.results, request_us);
    wait(write_plan(
        tx,
        coll,
        &plan,
        (status_id, owner, request_us, &body),
    ))?;
    Ok(Some(body))
}

impl TaxiiStore for PgStore {
    fn create_collection(&self, c: &Collection) -> Result<(), StorageError> {
        let conn = self.pool.get()?;
        let sql = format!(
            "WITH c AS (INSERT INTO taxii_collections ({COLLECTION_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING pk) \
             INSERT INTO taxii_counts (coll, objects, versions) SELECT pk, 0, 0 FROM c"
        );
        let result = wait(conn.execute(
            &sql,
            &[
                &c.id,
                &c.title,
                &c.description,
                &c.alias,
                &acl_to_text(&c.read),
                &acl_to_text(&c.write),
                &acl_to_text(&c.red_recipients),
            ],
        ));
        match result {
            Err(StorageError::Conflict(_)) => Err(StorageError::Conflict(format!(
                "a collection with id {} or alias {:?} exists",
                c.id, c.alias
            ))),
            other => other.map(drop),
        }
    }

    fn remove_collection(&self, id: &str) -> Result<bool, StorageError> {
        let c = self.pool.get()?;
        // Objects, citations and counts go with it (ON DELETE CASCADE).
        let n = wait(c.execute("DELETE FROM taxii_collections WHERE id = $1", &[&id]))?;
        Ok(n > 0)
    }

    fn collections(&self) -> Result<Vec<Collection>, StorageError> {
        let c = self.pool.get()?;
        let sql = format!("SELECT {COLLECTION_COLUMNS} FROM taxii_collections ORDER BY title, id");
        wait(c.query(&sql, &[]))?
            .iter()
            .map(collection_row)
            .collect()
    }

    fn collection(&self, id_or_alias: &str) -> Result<Option<Collection>, StorageError> {
        let c = self.pool.get()?;
        let sql = format!(
            "SELECT {COLLECTION_COLUMNS} FROM taxii_collections WHERE id = $1 OR alias = $1 \
             ORDER BY id = $1 DESC LIMIT 1"
        );
        wait(c.query_opt(&sql, &[&id_or_alias]))?
            .as_ref()
            .map(collection_row)
            .transpose()
    }

    fn ingest(
        &self,
        collection: &str,
        objects: &[NewObject],
        status_id: &str,
        owner: &str,
        status: &mut dyn FnMut(&[Stored], i64) -> String,
    ) -> Result<Option<String>, StorageError> {
        let mut c = self.pool.get()?;
        let tx = wait(c.transaction())?;
        // Dropped without a commit (no such collection, or an error): rolled back.
        let body = ingest_tx(&tx, collection, objects, (status_id, owner), status)?;
        if body.is_some() {
            wait(tx.commit())?;
        }
        Ok(body)
    }

    /// No index hints in PostgreSQL: the planner walks an index in `seq` order
    /// once the table has statistics. On a table never analysed (the first
    /// minute after a bulk load, until autovacuum runs) it sorts every row
    /// after the cursor instead, and pages are slower for that minute.
    fn query_objects(&self, q: &ObjectQuery) -> Result<Page, StorageError> {
        let f = Filter::new(q);
        let body = if q.with_body { "o.body" } else { "NULL::text" };
        let sql = format!(
            "SELECT o.seq, o.obj_id, o.version, {body} FROM taxii_objects o \
             WHERE {} ORDER BY o.seq LIMIT {}",
            f.clause,
            q.limit + 1
        );
        let c = self.pool.get()?;
        let mut rows: Vec<ObjectRow> = wait(c.query(&sql, &f.refs()))?
            .iter()
            .map(|r| ObjectRow {
                seq: r.get(0),
                id: r.get(1),
                version: r.get(2),
                body: r.get(3),
            })
            .collect();
        let more = rows.len() > q.limit;
        rows.truncate(q.limit);
        Ok(Page { rows, more })
    }

    fn object_exists(&self, collection: &str, id: &str, tlp: &[i64]) -> Result<bool, StorageError> {
        let c = self.pool.get()?;
        let row = wait(c.query_opt(
            "SELECT 1 FROM taxii_objects \
             WHERE coll = (SELECT pk FROM taxii_collections WHERE id = $1) \
             AND obj_id = $2 AND tlp = ANY($3) LIMIT 1",
            &[&collection, &id, &tlp],
        ))?;
        Ok(row.is_some())
    }

    fn delete_objects(&self, q: &ObjectQuery) -> Result<usize, StorageError> {
        let mut c = self.pool.get()?;
        let tx = wait(c.transaction())?;
        // Under the position lock: the latest flags and counts are read and
        // written again below, and an ingest must not interleave.
        wait(lock_positions(&tx))?;
        let Some(coll) = wait(collection_key(&tx, &q.collection))? else {
            return Ok(0);
        };
        let deleted = wait(delete_selected(&tx, q))?;
        if !deleted.is_empty() {
            wait(after_delete(&tx, coll, &deleted))?;
        }
        wait(tx.commit())?;
        Ok(deleted.len())
    }

    fn taxii_status(&self, id: &str) -> Result<Option<(String, String)>, StorageError> {
        let c = self.pool.get()?;
        let row = wait(c.query_opt("SELECT body, owner FROM taxii_status WHERE id = $1", &[&id]))?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    fn prune_statuses(&self, older_than_us: i64) -> Result<usize, StorageError> {
        let c = self.pool.get()?;
        let n = wait(c.execute(
            "DELETE FROM taxii_status WHERE created_us < $1",
            &[&older_than_us],
        ))?;
        Ok(n as usize)
    }

    fn cursor_key(&self, fresh: [u8; 32]) -> Result<[u8; 32], StorageError> {
        let c = self.pool.get()?;
        // Two statements: the SELECT's snapshot is taken after the INSERT
        // returns, so it sees whichever replica's key was committed first.
        wait(c.execute(
            "INSERT INTO taxii_cursor_key (key) VALUES ($1) ON CONFLICT (one) DO NOTHING",
            &[&&fresh[..]],
        ))?;
        let key: Vec<u8> = wait(c.query_one("SELECT key FROM taxii_cursor_key", &[]))?.get(0);
        key.try_into()
            .map_err(|_| StorageError::Integrity("the TAXII cursor key is not 32 bytes".into()))
    }

    fn object_counts(&self, collection: &str) -> Result<ObjectCounts, StorageError> {
        let c = self.pool.get()?;
        let row = wait(c.query_opt(
            "SELECT n.objects, n.versions FROM taxii_counts n \
             JOIN taxii_collections c ON c.pk = n.coll WHERE c.id = $1",
            &[&collection],
        ))?;
        Ok(row.map_or_else(ObjectCounts::default, |r| ObjectCounts {
            objects: r.get::<_, i64>(0) as u64,
            versions: r.get::<_, i64>(1) as u64,
        }))
    }

    fn citing_requests(
        &self,
        collection: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<Citing>, StorageError> {
        let c = self.pool.get()?;
        let rows = wait(c.query(
            "SELECT request_id, count(DISTINCT obj_id) FROM taxii_cites \
             WHERE coll = (SELECT pk FROM taxii_collections WHERE id = $1) AND request_id > $2 \
             GROUP BY request_id ORDER BY request_id LIMIT $3",
            &[&collection, &after, &(limit as i64)],
        ))?;
        Ok(rows
            .iter()
            .map(|r| Citing {
                request_id: r.get(0),
                objects: r.get::<_, i64>(1) as u64,
            })
            .collect())
    }
}
