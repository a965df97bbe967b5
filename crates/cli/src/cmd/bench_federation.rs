//! `detente bench federation`: two nodes on loopback; requests are submitted on
//! A until B's receipt is back at A (signed, logged on both sides, delivered over
//! signed HTTP). Measures sustained throughput, latency at a fixed 500 requests/s,
//! and the offline verification of the resulting evidence.

use super::cluster::{peer, start, ClusterNode};
use clap::Args;
use detente_node::evidence;
use detente_node::exchange::system_clock;
use detente_requests::NewRequest;
use serde_json::json;
use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

#[derive(Args)]
pub struct FederationBenchArgs {
    /// Requests in the throughput run (long enough to measure a sustained rate).
    #[arg(long, default_value_t = 20000)]
    pub requests: usize,
    /// Requests in flight during the throughput run.
    #[arg(long, default_value_t = 128)]
    pub concurrency: usize,
    /// Rate of the latency run, requests per second.
    #[arg(long, default_value_t = 500)]
    pub rate: u64,
    /// Length of the latency run, seconds.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    #[arg(long)]
    pub json: bool,
    /// A PostgreSQL server on which both nodes run, in fresh databases the
    /// benchmark creates (default: SQLite).
    #[arg(long)]
    pub database: Option<String>,
    /// Replicas of the receiving node (PostgreSQL only), behind one
    /// round-robin address.
    #[arg(long, default_value_t = 1)]
    pub receivers: usize,
}

/// The receiving node as `n` replicas on one database behind one round-robin
/// address, which they know as their public URL (peers sign calls for it).
async fn replicas(
    dir: &std::path::Path,
    n: usize,
    database: Option<&str>,
) -> anyhow::Result<ClusterNode> {
    let front = super::cluster::RoundRobin::bind().await?;
    let origin = detente_domain::Origin::parse("cert-b.example")?;
    let country = Some(detente_domain::Country::parse("FR")?);
    detente_node::datadir::init_on(dir, &origin, country, database)?;
    let file = dir.join(detente_node::datadir::CONFIG_FILE);
    let mut config = detente_node::Config::load(&file)?;
    config.public_urls = vec![front.url.clone()];
    std::fs::write(&file, config.to_toml())?;
    let mut first = super::cluster::serve(dir, system_clock()).await?;
    let mut urls = vec![first.url.clone()];
    for _ in 1..n {
        // Serves until the benchmark exits: its server task holds the node.
        urls.push(super::cluster::serve(dir, system_clock()).await?.url);
    }
    first.url = front.url.clone();
    front.forward(urls);
    Ok(first)
}

fn request(n: usize) -> anyhow::Result<NewRequest> {
    Ok(serde_json::from_value(json!({
        "type": "consultation", "reference": format!("BENCH-{n}"), "issuing_authority": "National CERT",
        "facts": "Which operator runs the address block listed in the annex?", "urgency": "normal",
        "tlp": "green", "recipient": "cert-b.example"
    }))?)
}

type Started = Arc<Mutex<HashMap<String, Instant>>>;

/// Records when each receipt arrives; a receipt can beat the submitter's own
/// bookkeeping, so latencies are joined with the start times at the end.
fn collect(
    a: &ClusterNode,
    started: Started,
    want: usize,
) -> tokio::task::JoinHandle<Vec<Duration>> {
    let mut rx = a.exchange.subscribe_delivered();
    tokio::spawn(async move {
        let mut arrived = Vec::with_capacity(want);
        while arrived.len() < want {
            let Ok(id) = rx.recv().await else { break };
            arrived.push((id, Instant::now()));
        }
        let map = started.lock().await;
        arrived
            .into_iter()
            .filter_map(|(id, at)| map.get(&id).map(|t| at.duration_since(*t)))
            .collect()
    })
}

async fn submit(a: &ClusterNode, n: usize, started: &Started) -> anyhow::Result<()> {
    let t = Instant::now();
    let v = a.exchange.submit(request(n)?).await?;
    let id = v["id"].as_str().unwrap_or_default().to_string();
    started.lock().await.insert(id, t);
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

pub fn run(a: FederationBenchArgs) -> anyhow::Result<ExitCode> {
    super::node::init_logging();
    tokio::runtime::Runtime::new()?.block_on(bench(a))
}

async fn bench(args: FederationBenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.receivers >= 1 && (args.receivers == 1 || args.database.is_some()),
        "--receivers above 1 needs --database (replicas share a PostgreSQL database)"
    );
    let tmp = tempfile::tempdir()?;
    let fresh = || {
        args.database
            .as_deref()
            .map(detente_node::backend::fresh_database)
            .transpose()
    };
    let a = Arc::new(
        start(
            &tmp.path().join("a"),
            "cert-a.example",
            "DE",
            system_clock(),
            fresh()?.as_deref(),
        )
        .await?,
    );
    let b_dir = tmp.path().join("b");
    let b = if args.receivers == 1 {
        start(
            &b_dir,
            "cert-b.example",
            "FR",
            system_clock(),
            fresh()?.as_deref(),
        )
        .await?
    } else {
        replicas(&b_dir, args.receivers, fresh()?.as_deref()).await?
    };
    peer(&a, &b, "FR").await?;
    peer(&b, &a, "DE").await?;

    // Sustained throughput: keep `concurrency` submissions in flight.
    let started: Started = Arc::default();
    let done = collect(&a, started.clone(), args.requests);
    let t0 = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..args.concurrency {
        let (a, started, next, total) = (a.clone(), started.clone(), next.clone(), args.requests);
        tasks.spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= total {
                    return anyhow::Ok(());
                }
                submit(&a, n, &started).await?;
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    let latencies = tokio::time::timeout(Duration::from_secs(120), done).await??;
    let secs = t0.elapsed().as_secs_f64();
    let throughput = latencies.len() as f64 / secs;

    // Latency at a fixed rate, open loop.
    let count = (args.rate * args.seconds) as usize;
    let started: Started = Arc::default();
    let done = collect(&a, started.clone(), count);
    let mut tick = tokio::time::interval(Duration::from_nanos(1_000_000_000 / args.rate.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..count {
        tick.tick().await;
        let (a, started) = (a.clone(), started.clone());
        tasks.spawn(async move { submit(&a, args.requests + n, &started).await });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    let mut lat = tokio::time::timeout(Duration::from_secs(120), done).await??;
    lat.sort();

    // The evidence of all of it, verified offline.
    let bundle = evidence::bundle(&a.node, Some("cert-b.example"), None, a.exchange.now()).await?;
    let keys = [a.node.verifier(), b.node.verifier()];
    let t = Instant::now();
    let verified = evidence::verify(&bundle, &keys).map_err(anyhow::Error::msg)?;
    let verify_s = t.elapsed().as_secs_f64();
    let requests_verified = verified.report["reports"][0]["outbound"]["sent"]
        .as_u64()
        .unwrap_or(0);

    println!("throughput run: {} requests delivered with receipt in {secs:.2} s = {throughput:.0} requests/s", latencies.len());
    println!(
        "latency run at {} requests/s: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} requests)",
        args.rate,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0),
        lat.len()
    );
    println!(
        "verify-report of {requests_verified} requests ({} envelopes): {verify_s:.2} s",
        verified.envelopes
    );
    if args.json {
        println!(
            "{}",
            json!({
                "requests_per_s": throughput,
                "p50_ms": percentile(&lat, 0.5),
                "p99_ms": percentile(&lat, 0.99),
                "rate": args.rate,
                "verify_report_requests": requests_verified,
                "verify_report_s": verify_s,
            })
        );
    }
    Ok(ExitCode::SUCCESS)
}
