//! Group commit for the exchange's state, as on SQLite: writes from many
//! concurrent requests go into one transaction, each caller's in a savepoint
//! of its own, so one failing caller leaves the others in and one commit
//! (one WAL flush) serves them all.

use crate::pool::{Conn, Pool};
use crate::sql::pipeline;
use crate::{wait, writes};
use detente_storage::{ExchangeWrite, StorageError, WriteDone};
use std::sync::{mpsc, Arc, Mutex};

const MAX_GROUP: usize = 512;

type Job = (
    Vec<ExchangeWrite>,
    tokio::sync::oneshot::Sender<Result<(), StorageError>>,
);

pub(crate) struct GroupWriter {
    tx: Mutex<mpsc::Sender<Job>>,
}

impl GroupWriter {
    pub fn start(pool: Arc<Pool>) -> GroupWriter {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("state-writer".into())
            .spawn(move || run(&pool, rx))
            .expect("spawn state writer");
        GroupWriter { tx: Mutex::new(tx) }
    }

    pub fn submit(&self, writes: Vec<ExchangeWrite>) -> WriteDone {
        let (reply, done) = tokio::sync::oneshot::channel();
        let sent = self.tx.lock().map(|tx| tx.send((writes, reply)));
        if let Ok(Err(mpsc::SendError((_, reply)))) = sent {
            let _ = reply.send(Err(StorageError::Database(
                "the state writer has stopped".into(),
            )));
        }
        done
    }
}

fn run(pool: &Pool, rx: mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let results = match commit(pool, &jobs) {
            Ok(results) => results,
            Err(e) => jobs.iter().map(|_| Err(copy(&e))).collect(),
        };
        for ((_, reply), r) in jobs.into_iter().zip(results) {
            let _ = reply.send(r);
        }
    }
}

fn copy(e: &StorageError) -> StorageError {
    match e {
        StorageError::Unavailable(m) => StorageError::Unavailable(m.clone()),
        e => StorageError::Database(e.to_string()),
    }
}

/// All jobs in one transaction; each job's outcome, or the error that lost
/// them all (then nothing was committed).
fn commit(pool: &Pool, jobs: &[Job]) -> Result<Vec<Result<(), StorageError>>, StorageError> {
    let mut c = pool.get()?;
    if pipelined(&mut c, jobs)? {
        return Ok(jobs.iter().map(|_| Ok(())).collect());
    }
    one_by_one(&mut c, jobs)
}

/// The common case, where no write fails: every job's writes sent at once,
/// without savepoints, and answered in one round trip. False when one
/// failed; then nothing was committed and the jobs are applied again
/// [`one_by_one`], so that only the failing job is refused.
fn pipelined(c: &mut Conn<'_>, jobs: &[Job]) -> Result<bool, StorageError> {
    let tx = wait(c.transaction())?;
    wait(writes::prepare(&tx))?;
    let all = jobs
        .iter()
        .flat_map(|(w, _)| w)
        .map(|w| writes::apply(&tx, w))
        .collect();
    match wait(pipeline(all)) {
        Ok(_) => wait(tx.commit()).map(|()| true),
        Err(e @ StorageError::Unavailable(_)) => Err(e),
        Err(_) => wait(tx.rollback()).map(|()| false),
    }
}

/// Each job in a savepoint of its own, so one failing job leaves the others in.
fn one_by_one(
    c: &mut Conn<'_>,
    jobs: &[Job],
) -> Result<Vec<Result<(), StorageError>>, StorageError> {
    let mut tx = wait(c.transaction())?;
    let mut results = Vec::with_capacity(jobs.len());
    for (writes, _) in jobs {
        let sp = wait(tx.savepoint("job"))?;
        let mut outcome = Ok(());
        for w in writes {
            if let Err(e) = wait(writes::apply(&sp, w)) {
                outcome = Err(e);
                break;
            }
        }
        match outcome {
            Ok(()) => wait(sp.commit())?,
            Err(_) => wait(sp.rollback())?,
        }
        results.push(outcome);
    }
    wait(tx.commit())?;
    Ok(results)
}
