//! `detente bench auth-flood`: `/healthz` latency on a node at rest, then while
//! many clients send Basic credentials with random user names (each one an
//! argon2 check). The node runs on its own runtime, as it would in its own
//! process, and its per-address login throttle is off: the flood stands for
//! guessers on many addresses, each of whose attempts must be hashed.

use clap::Args;
use detente_domain::Origin;
use detente_node::{datadir, Node};
use serde_json::{json, Value};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct AuthFloodBenchArgs {
    /// Clients sending guesses at once.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Length of each phase (idle, flood), seconds.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// End with one JSON object on the last line.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: AuthFloodBenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        a.clients > 0 && a.seconds > 0,
        "--clients and --seconds must be positive"
    );
    let tmp = tempfile::tempdir()?;
    let (base, _server) = start_node(&tmp.path().join("node"))?;
    let client_rt = tokio::runtime::Runtime::new()?;
    let r = client_rt.block_on(bench(&base, &a))?;
    let line = |name: &str, v: &Value| {
        println!(
            "{name}: /healthz p50 {:.2} ms, p99 {:.2} ms ({} probes)",
            v["p50_ms"].as_f64().unwrap_or(f64::NAN),
            v["p99_ms"].as_f64().unwrap_or(f64::NAN),
            v["probes"]
        )
    };
    line("idle", &r["idle"]);
    line(&format!("flood of {} clients", a.clients), &r["flood"]);
    println!(
        "  guesses answered: {} ({:.0}/s): {} refused as wrong, {} turned away busy (503)",
        r["flood"]["guesses"],
        r["flood"]["guesses_per_s"].as_f64().unwrap_or(0.0),
        r["flood"]["unauthorized"],
        r["flood"]["busy"]
    );
    if a.json {
        println!("{r}");
    }
    Ok(ExitCode::SUCCESS)
}

/// A node on 127.0.0.1:0 with one user, served by a runtime of its own;
/// dropping the handle stops it.
fn start_node(dir: &std::path::Path) -> anyhow::Result<(String, NodeHandle)> {
    datadir::init(dir, &Origin::parse("cert-a.example")?, None)?;
    let file = dir.join(datadir::CONFIG_FILE);
    let mut config = detente_node::config::Config::load(&file)?;
    config.limits.login_failures_per_address = u32::MAX;
    std::fs::write(&file, config.to_toml())?;
    let node = Node::open(dir)?;
    detente_auth::Users::new(node.store().clone()).add_user(
        "officer",
        detente_auth::Role::Officer,
        "officer-password",
    )?;
    let rt = tokio::runtime::Runtime::new()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let base = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let app = detente_server::node_app(node.clone())?;
        let limits = detente_server::ConnLimits::from(&node.config().limits);
        tokio::spawn(detente_server::serve(listener, None, app, limits, async {
            let _ = stopped.await;
        }));
        anyhow::Ok(base)
    })?;
    Ok((
        base,
        NodeHandle {
            rt: Some(rt),
            stop: Some(stop),
        },
    ))
}

struct NodeHandle {
    rt: Option<tokio::runtime::Runtime>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for NodeHandle {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

async fn bench(base: &str, a: &AuthFloodBenchArgs) -> anyhow::Result<Value> {
    let phase = Duration::from_secs(a.seconds);
    let idle = probe(base, phase).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Counts::default());
    let mut flood = tokio::task::JoinSet::new();
    for i in 0..a.clients {
        flood.spawn(guess(base.to_string(), i, stop.clone(), counts.clone()));
    }
    // Let the flood build up before measuring.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t = Instant::now();
    let before = counts.answered();
    let during = probe(base, phase).await?;
    let guesses = counts.answered() - before;
    let secs = t.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    while let Some(r) = flood.join_next().await {
        r??;
    }
    let mut flood = summary(&during);
    flood["guesses"] = guesses.into();
    flood["guesses_per_s"] = (guesses as f64 / secs).into();
    flood["unauthorized"] = counts.unauthorized.load(Ordering::Relaxed).into();
    flood["busy"] = counts.busy.load(Ordering::Relaxed).into();
    Ok(
        json!({ "clients": a.clients, "seconds": a.seconds, "idle": summary(&idle), "flood": flood }),
    )
}

#[derive(Default)]
struct Counts {
    unauthorized: AtomicU64,
    busy: AtomicU64,
    other: AtomicU64,
}

impl Counts {
    fn answered(&self) -> u64 {
        self.unauthorized.load(Ordering::Relaxed)
            + self.busy.load(Ordering::Relaxed)
            + self.other.load(Ordering::Relaxed)
    }
}

/// One guessing client: a fresh user name every time, as fast as answered.
async fn guess(
    base: String,
    i: usize,
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
) -> anyhow::Result<()> {
    let c = reqwest::Client::new();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let r = c
            .get(format!("{base}/api/v1/requests"))
            .basic_auth(format!("guess-{i}-{n}"), Some("hunter2"))
            .send()
            .await?;
        let counter = match r.status().as_u16() {
            401 => &counts.unauthorized,
            503 => &counts.busy,
            _ => &counts.other,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// `/healthz` every 10 ms for `length`: each round trip's latency.
async fn probe(base: &str, length: Duration) -> anyhow::Result<Vec<Duration>> {
    let c = reqwest::Client::new();
    let end = Instant::now() + length;
    let mut out = Vec::new();
    while Instant::now() < end {
        let t = Instant::now();
        let r = c.get(format!("{base}/healthz")).send().await?;
        anyhow::ensure!(r.status().is_success(), "/healthz answered {}", r.status());
        r.bytes().await?;
        out.push(t.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    out.sort();
    Ok(out)
}

fn summary(sorted: &[Duration]) -> Value {
    let at = |p: f64| {
        let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted.get(i).map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    json!({ "p50_ms": at(0.5), "p99_ms": at(0.99), "max_ms": at(1.0), "probes": sorted.len() })
}
