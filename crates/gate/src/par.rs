//! Pieces of one input read on several cores: the entries of a zip, the
//! rows of a worksheet in blocks. Each worker reads its piece into a fresh
//! [`Out`] and the pieces are merged into the input's summary in order, so
//! the summary is the one a single pass gives (distinct counts are unions
//! of keys, see [`Counts::merge`]). Only for sinks that want the summary
//! alone ([`crate::Sink::summary_only`]): events would arrive out of order.
//! Memory stays bounded: a job is handed out only when a worker is free.

use crate::entity::{EntityType, Finding};
use crate::read::Budget;
use crate::records::Counts;
use crate::scan::{Out, Scanner, Sink, Unreadable};
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::atomic::AtomicU64;
use std::sync::{mpsc, Arc, Mutex};

/// What a worker found in its piece.
pub(crate) struct Part {
    findings: BTreeMap<EntityType, u64>,
    counts: Counts,
    records: u64,
    warnings: Vec<String>,
    unreadable: Vec<Unreadable>,
}

/// What a worker needs to read a piece as part of the same input: where
/// it sits and the input's shared budget.
pub(crate) struct Ctx {
    scanner: Scanner,
    path: Vec<String>,
    quiet: bool,
    expanded: Arc<AtomicU64>,
    entries: Arc<AtomicU64>,
}

/// A worker's sink: discards events and keeps containers nested in a
/// piece on the worker's own thread.
struct Worker;

impl Sink for Worker {
    fn finding(&mut self, _f: Finding, _value: &[u8]) {}
}

impl Ctx {
    /// Reads a piece with `read` on a fresh scan state.
    pub(crate) fn run(&self, read: impl FnOnce(&mut Out<'_>)) -> Part {
        let mut sink = Worker;
        let mut out = Out::new(&mut sink, self.scanner);
        out.path = self.path.clone();
        out.quiet = self.quiet;
        out.budget = Budget {
            expanded: self.expanded.clone(),
            entries: self.entries.clone(),
            ..Budget::default()
        };
        read(&mut out);
        Part {
            findings: out.findings,
            counts: out.counts,
            records: out.records,
            warnings: out.warnings,
            unreadable: out.unreadable,
        }
    }
}

/// Workers for one input: the cores, when the sink wants only the summary.
pub(crate) fn workers(out: &Out<'_>) -> usize {
    if !out.sink.summary_only() {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

impl Out<'_> {
    fn ctx(&self) -> Ctx {
        Ctx {
            scanner: self.scanner,
            path: self.path.clone(),
            quiet: self.quiet,
            expanded: self.budget.expanded.clone(),
            entries: self.budget.entries.clone(),
        }
    }

    fn merge(&mut self, p: Part) {
        for (t, n) in p.findings {
            *self.findings.entry(t).or_default() += n;
        }
        self.counts.merge(p.counts);
        self.records += p.records;
        self.warnings.extend(p.warnings);
        let room = 1000usize.saturating_sub(self.unreadable.len());
        self.unreadable.extend(p.unreadable.into_iter().take(room));
    }
}

/// Hands the jobs `next` produces (on this thread) to `workers` threads
/// running `work`, and merges their parts into `out` in job order.
pub(crate) fn ordered<J: Send>(
    out: &mut Out<'_>,
    workers: usize,
    mut next: impl FnMut() -> Option<J>,
    work: impl Fn(&Ctx, J) -> Part + Sync,
) {
    let ctx = out.ctx();
    std::thread::scope(|s| {
        let (jobs, inbox) = mpsc::sync_channel::<(usize, J)>(workers);
        // Each worker holds the receiver: when all are gone (a panic, which
        // the scope re-raises), sending fails instead of blocking.
        let inbox = Arc::new(Mutex::new(inbox));
        let (done, parts) = mpsc::channel::<(usize, Part)>();
        for _ in 0..workers {
            let (inbox, done, ctx, work) = (inbox.clone(), done.clone(), &ctx, &work);
            s.spawn(move || loop {
                let job = inbox.lock().ok().and_then(|r| r.recv().ok());
                let Some((i, j)) = job else { break };
                if done.send((i, work(ctx, j))).is_err() {
                    break;
                }
            });
        }
        drop((inbox, done));
        let mut pending = BTreeMap::new();
        let mut merged = 0;
        let mut sent = 0;
        let mut take = |out: &mut Out<'_>, (i, p): (usize, Part)| {
            pending.insert(i, p);
            while let Some(p) = pending.remove(&merged) {
                out.merge(p);
                merged += 1;
            }
        };
        while let Some(j) = next() {
            if jobs.send((sent, j)).is_err() {
                break;
            }
            sent += 1;
            while let Ok(p) = parts.try_recv() {
                take(out, p);
            }
        }
        drop(jobs);
        for p in parts {
            take(out, p);
        }
    });
}

/// Runs `produce` on a thread of its own and hands `consume` a reader of
/// what it writes: a document part is inflated and its text extracted
/// there while this thread scans the text.
pub(crate) fn piped<T>(
    produce: impl FnOnce(&mut Pipe) + Send,
    consume: impl FnOnce(&mut dyn Read) -> T,
) -> T {
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::sync_channel(4);
        s.spawn(move || produce(&mut Pipe { tx }));
        let mut r = Piped {
            rx,
            cur: Vec::new(),
            pos: 0,
        };
        // Dropping the reader makes the producer's next send fail: it stops
        // even when the scan ends early.
        consume(&mut r)
    })
}

/// The writing end of [`piped`].
pub(crate) struct Pipe {
    tx: mpsc::SyncSender<std::io::Result<Vec<u8>>>,
}

impl Pipe {
    /// Copies `r` into the pipe in blocks, its error included.
    pub(crate) fn copy(&mut self, r: &mut dyn Read) {
        loop {
            let mut block = vec![0u8; 256 << 10];
            let mut n = 0;
            while n < block.len() {
                match r.read(&mut block[n..]) {
                    Ok(0) => break,
                    Ok(k) => n += k,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = self.tx.send(Err(e));
                        return;
                    }
                }
            }
            block.truncate(n);
            if n == 0 || self.tx.send(Ok(block)).is_err() {
                return;
            }
        }
    }

    pub(crate) fn fail(&mut self, e: std::io::Error) {
        let _ = self.tx.send(Err(e));
    }
}

struct Piped {
    rx: mpsc::Receiver<std::io::Result<Vec<u8>>>,
    cur: Vec<u8>,
    pos: usize,
}

impl Read for Piped {
    fn read(&mut self, dst: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.cur.len() {
            match self.rx.recv() {
                Ok(block) => (self.cur, self.pos) = (block?, 0),
                Err(_) => return Ok(0),
            }
        }
        let n = dst.len().min(self.cur.len() - self.pos);
        dst[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
