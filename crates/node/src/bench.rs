//! `detente bench log`: appends through the real sequencing path and measures it.
//!
//! Three runs: the main one (envelopes built and signed by producer threads while
//! the sequencer commits them, into the node's own log), then on scratch stores
//! (a) the log path alone on pre-signed envelopes and (b) raw batched inserts of
//! the same rows with no hashing or tree, so the log's own cost can be compared
//! with the cost of storing the rows.

use crate::datadir;
use crate::{Node, NodeError};
use detente_domain::{Origin, SignedEnvelope};
use detente_storage::EntryRow;
use serde_json::json;
use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Envelopes per submission; several are kept in flight per producer.
const CHUNK: usize = 512;
const IN_FLIGHT: usize = 8;
const PRODUCERS: usize = 2;
/// Entries used by the comparison runs (a) and (b).
const COMPARE_MAX: u64 = 200_000;
const PROOF_SAMPLES: usize = 20_000;

#[derive(Debug, serde::Serialize)]
pub struct LogBench {
    pub entries: u64,
    pub tree_size: u64,
    pub appends_per_s: f64,
    pub presigned_appends_per_s: f64,
    pub raw_inserts_per_s: f64,
    pub log_vs_raw_ratio: f64,
    pub inclusion_proof_p50_us: f64,
    pub inclusion_proof_p99_us: f64,
    pub consistency_proof_p50_us: f64,
    pub avg_batch: f64,
    pub rss_mb: f64,
    pub peak_rss_mb: f64,
}

fn payload(i: u64) -> serde_json::Value {
    json!({"seq": i, "note": "benchmark entry", "ref": format!("BENCH-{i:012}")})
}

/// Opens the node at `dir`, creating it if needed: on the embedded default,
/// or, given a PostgreSQL server, on a fresh database there.
fn open_or_init(dir: &Path, origin: &str, server: Option<&str>) -> Result<Arc<Node>, NodeError> {
    if !datadir::is_initialised(dir) {
        let database = server.map(crate::backend::fresh_database).transpose()?;
        datadir::init_on(dir, &Origin::parse(origin)?, None, database.as_deref())?;
    }
    Node::open(dir)
}

/// Called with the acknowledged tree size after each acknowledged chunk.
pub type OnAck = Arc<dyn Fn(u64) + Send + Sync>;

/// `server`: a PostgreSQL server on which the benchmark creates its own
/// databases (`None`: SQLite in `dir`).
pub fn run(
    dir: &Path,
    entries: u64,
    on_ack: Option<OnAck>,
    server: Option<&str>,
) -> Result<LogBench, NodeError> {
    let node = open_or_init(dir, "bench.detente.localhost", server)?;
    let batches_before = node
        .metrics()
        .batches
        .load(std::sync::atomic::Ordering::Relaxed);
    let started = Instant::now();
    append_signing(&node, entries, on_ack)?;
    let secs = started.elapsed().as_secs_f64();
    let batches = node
        .metrics()
        .batches
        .load(std::sync::atomic::Ordering::Relaxed)
        - batches_before;
    let tree_size = node.published().size;
    let (p50, p99) = time_inclusion_proofs(&node, tree_size)?;
    let cons = time_consistency_proofs(&node, tree_size)?;
    // Memory of the log itself, before the comparison runs hold their inputs.
    let (rss, peak) = memory_mb();
    node.shutdown();
    drop(node);
    let (presigned, raw) = compare(dir, entries.min(COMPARE_MAX), server)?;
    Ok(LogBench {
        entries,
        tree_size,
        appends_per_s: entries as f64 / secs,
        presigned_appends_per_s: presigned,
        raw_inserts_per_s: raw,
        log_vs_raw_ratio: presigned / raw,
        inclusion_proof_p50_us: p50,
        inclusion_proof_p99_us: p99,
        consistency_proof_p50_us: cons,
        avg_batch: entries as f64 / batches.max(1) as f64,
        rss_mb: rss,
        peak_rss_mb: peak,
    })
}

/// Producer threads build, sign and submit envelopes; each keeps a few chunks in
/// flight so the sequencer always has the next batch waiting.
fn append_signing(node: &Arc<Node>, entries: u64, on_ack: Option<OnAck>) -> Result<(), NodeError> {
    let per = entries.div_ceil(PRODUCERS as u64);
    let handles: Vec<_> = (0..PRODUCERS as u64)
        .map(|p| {
            let node = node.clone();
            let on_ack = on_ack.clone();
            let (lo, hi) = (p * per, ((p + 1) * per).min(entries));
            std::thread::spawn(move || produce(&node, lo, hi, on_ack))
        })
        .collect();
    for h in handles {
        h.join()
            .map_err(|_| NodeError::Append("producer panicked".into()))??;
    }
    Ok(())
}

fn produce(node: &Node, lo: u64, hi: u64, on_ack: Option<OnAck>) -> Result<(), NodeError> {
    let ack = |size: u64| {
        if let Some(f) = &on_ack {
            f(size)
        }
    };
    let mut inflight = VecDeque::new();
    let mut i = lo;
    while i < hi {
        let end = (i + CHUNK as u64).min(hi);
        let chunk = (i..end)
            .map(|n| node.sign("bench.entry", payload(n)))
            .collect::<Result<Vec<_>, _>>()?;
        inflight.push_back(node.submit_blocking(chunk)?);
        if inflight.len() >= IN_FLIGHT {
            ack(wait(inflight.pop_front())?);
        }
        i = end;
    }
    while let Some(rx) = inflight.pop_front() {
        ack(wait(Some(rx))?);
    }
    Ok(())
}

type Pending = tokio::sync::oneshot::Receiver<Result<crate::Appended, NodeError>>;

/// Waits for an acknowledgement; returns the tree size it covers.
fn wait(rx: Option<Pending>) -> Result<u64, NodeError> {
    match rx {
        Some(rx) => {
            let a = rx.blocking_recv().map_err(|_| NodeError::Closed)??;
            Ok(a.first_index + a.count)
        }
        None => Ok(0),
    }
}

/// Runs (a) and (b) on scratch stores beside the node; returns their rates.
fn compare(dir: &Path, n: u64, server: Option<&str>) -> Result<(f64, f64), NodeError> {
    let scratch = dir.join("bench-scratch");
    let _ = std::fs::remove_dir_all(&scratch);
    let result = compare_in(&scratch, n, server);
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn compare_in(scratch: &Path, n: u64, server: Option<&str>) -> Result<(f64, f64), NodeError> {
    let origin = "compare.detente.localhost";
    let node = open_or_init(&scratch.join("a"), origin, server)?;
    let envs: Vec<SignedEnvelope> = (0..n)
        .map(|i| node.sign("bench.entry", payload(i)))
        .collect::<Result<_, _>>()?;
    let rows: Vec<EntryRow> = envs
        .iter()
        .enumerate()
        .map(|(i, e)| EntryRow {
            index: i as u64,
            digest: *e.digest(),
            kind: e.kind().to_string(),
            time: e.time().to_string(),
            envelope: e.bytes().to_vec(),
        })
        .collect();
    let chunks: Vec<Vec<SignedEnvelope>> = envs.chunks(CHUNK).map(<[_]>::to_vec).collect();
    drop(envs);
    let started = Instant::now();
    let mut inflight = VecDeque::new();
    for chunk in chunks {
        inflight.push_back(node.submit_blocking(chunk)?);
        if inflight.len() >= IN_FLIGHT * PRODUCERS {
            wait(inflight.pop_front())?;
        }
    }
    while let Some(rx) = inflight.pop_front() {
        wait(Some(rx))?;
    }
    let log_rate = n as f64 / started.elapsed().as_secs_f64();
    let batch = (n as f64
        / node
            .metrics()
            .batches
            .load(std::sync::atomic::Ordering::Relaxed)
            .max(1) as f64)
        .ceil() as usize;
    drop(node);

    let raw_dir = scratch.join("b");
    std::fs::create_dir_all(&raw_dir).map_err(|e| NodeError::io(&raw_dir, e))?;
    let url = match server {
        Some(s) => crate::backend::fresh_database(s)?,
        None => format!("sqlite://{}", raw_dir.join("detente.db").display()),
    };
    let insert = crate::backend::raw_insert(&url)?;
    let started = Instant::now();
    for chunk in rows.chunks(batch.max(1)) {
        insert(chunk)?;
    }
    let raw_rate = n as f64 / started.elapsed().as_secs_f64();
    Ok((log_rate, raw_rate))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_nanos() as f64 / 1000.0
}

/// Server-side inclusion proof latency for random entries at the current size.
fn time_inclusion_proofs(node: &Node, size: u64) -> Result<(f64, f64), NodeError> {
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut times = Vec::with_capacity(PROOF_SAMPLES);
    for _ in 0..PROOF_SAMPLES {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let t = Instant::now();
        let p = node.inclusion_proof(rng % size, size)?;
        times.push(t.elapsed());
        std::hint::black_box(p);
    }
    times.sort();
    Ok((percentile(&times, 0.5), percentile(&times, 0.99)))
}

fn time_consistency_proofs(node: &Node, size: u64) -> Result<f64, NodeError> {
    let mut times = Vec::with_capacity(1000);
    for i in 1..=1000u64 {
        let from = (size * i / 1001).max(1);
        let t = Instant::now();
        std::hint::black_box(node.consistency_proof(from, size)?);
        times.push(t.elapsed());
    }
    times.sort();
    Ok(percentile(&times, 0.5))
}

/// Current and peak resident memory of this process, in MB (Linux).
pub fn memory_mb() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
