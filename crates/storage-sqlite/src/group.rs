//! Group commit for the exchange's state: writes from many concurrent requests
//! are applied in one transaction and made durable by one fsync. Each caller's
//! writes run in their own savepoint, so one failing group leaves the others in.

use crate::{db_err, exchange};
use detente_storage::{ExchangeWrite, StorageError, WriteDone};
use rusqlite::Connection;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// Callers' writes waiting longer than this batch size are committed next round.
const MAX_GROUP: usize = 512;

pub(crate) type Job = (
    Vec<ExchangeWrite>,
    tokio::sync::oneshot::Sender<Result<(), StorageError>>,
);

pub(crate) struct GroupWriter {
    tx: Mutex<mpsc::Sender<Job>>,
}

impl GroupWriter {
    pub fn start(conn: Arc<Mutex<Connection>>) -> GroupWriter {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("state-writer".into())
            .spawn(move || run(conn, rx))
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

fn run(conn: Arc<Mutex<Connection>>, rx: mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let results = commit(&conn, &jobs);
        for ((_, reply), r) in jobs.into_iter().zip(results) {
            let _ = reply.send(r);
        }
    }
}

/// One transaction for all jobs; returns each job's outcome.
fn commit(conn: &Mutex<Connection>, jobs: &[Job]) -> Vec<Result<(), StorageError>> {
    let fail = |e: StorageError| {
        jobs.iter()
            .map(|_| {
                Err(match &e {
                    StorageError::Full(m) => StorageError::Full(m.clone()),
                    _ => StorageError::Database(e.to_string()),
                })
            })
            .collect()
    };
    let Ok(mut c) = conn.lock() else {
        return fail(StorageError::Database("writer lock poisoned".into()));
    };
    let mut tx = match c.transaction() {
        Ok(t) => t,
        Err(e) => return fail(db_err(e)),
    };
    let mut results = Vec::with_capacity(jobs.len());
    for (writes, _) in jobs {
        let r = (|| {
            let sp = tx.savepoint().map_err(db_err)?;
            for w in writes {
                exchange::apply(&sp, w)?;
            }
            sp.commit().map_err(db_err)
        })();
        results.push(r);
    }
    match tx.commit() {
        Ok(()) => results,
        Err(e) => fail(db_err(e)),
    }
}
