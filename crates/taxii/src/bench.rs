//! `detente bench taxii`: a loopback load test of the real router, measuring
//! the figures the TAXII server is held to (ingest rate, page latency and id
//! lookup latency at a given collection size). The same workload is run
//! against medallion by `crates/taxii/bench/medallion.sh` for comparison.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::store::Collection;
use crate::{Taxii, TaxiiConfig, TaxiiStore};

const USER: &str = "bench";
const PASSWORD: &str = "bench-password";

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Objects to load into the collection before measuring reads.
    #[arg(long, default_value_t = 10_000)]
    pub objects: usize,
    /// Objects per envelope.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Concurrent posting clients.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Timed requests per read measurement.
    #[arg(long, default_value_t = 500)]
    pub samples: usize,
    /// Print the results as one JSON object on the last line.
    #[arg(long)]
    pub json: bool,
}

struct Target {
    client: reqwest::Client,
    objects_url: String,
}

impl Target {
    fn get(&self, query: &str) -> reqwest::RequestBuilder {
        self.client
            .get(format!("{}?{query}", self.objects_url))
            .basic_auth(USER, Some(PASSWORD))
            .header("accept", crate::api::TAXII_MEDIA)
    }
}

/// Opens the store of the benchmark's node, given its database file: the
/// binary names the database crate, as it does for a real node.
pub type OpenStore = dyn Fn(&std::path::Path) -> anyhow::Result<Arc<dyn detente_storage::Store>>;

pub async fn run_bench(args: BenchArgs, open: &OpenStore) -> anyhow::Result<()> {
    if args.objects == 0 || args.batch == 0 || args.concurrency == 0 || args.samples == 0 {
        bail!("--objects, --batch, --concurrency and --samples must be positive");
    }
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let store = open(&dir.path().join("detente.db"))?;
    let collection = create_collection(store.as_ref())?;
    let (base, shutdown) = start_server(store).await?;
    let target = Target {
        client: reqwest::Client::new(),
        objects_url: format!("{base}/taxii2/api/collections/{collection}/objects/"),
    };
    let ids: Vec<String> = (0..args.objects)
        .map(|_| format!("indicator--{}", uuid::Uuid::new_v4()))
        .collect();
    let rate = ingest(&target, &ids, &args).await?;
    let (first, last) = date_range(&target, &ids).await?;
    let page = measure_pages(&target, first, last, args.samples).await?;
    let lookup = measure_lookups(&target, &ids, args.samples).await?;
    let _ = shutdown.send(());
    report(&args, rate, page, lookup);
    Ok(())
}

async fn start_server(
    store: Arc<dyn detente_storage::Store>,
) -> anyhow::Result<(String, tokio::sync::oneshot::Sender<()>)> {
    let users = Arc::new(detente_auth::Users::new(store.clone()));
    users.add_user(USER, detente_auth::Role::Admin, PASSWORD)?;
    let config = TaxiiConfig {
        max_content_length: 64 * 1024 * 1024,
        ..TaxiiConfig::default()
    };
    let taxii = Arc::new(Taxii::with_store(store, users, config)?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, crate::router(taxii))
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok((format!("http://{addr}"), tx))
}

fn create_collection(store: &dyn TaxiiStore) -> anyhow::Result<String> {
    let id = uuid::Uuid::new_v4().to_string();
    store.create_collection(&Collection {
        id: id.clone(),
        title: "bench".into(),
        description: None,
        alias: None,
        read: vec!["*".into()],
        write: vec!["*".into()],
        red_recipients: vec![],
    })?;
    Ok(id)
}

/// A realistic small indicator, like the bulk of feed traffic.
pub(crate) fn indicator(id: &str, n: usize) -> Value {
    json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": id,
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "name": format!("bench indicator {n}"),
        "pattern": format!("[ipv4-addr:value = '10.{}.{}.{}']", n >> 16 & 255, n >> 8 & 255, n & 255),
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
        "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]
    })
}

/// Posts all objects in envelopes of `batch`, from `concurrency` clients;
/// returns objects per second.
async fn ingest(target: &Target, ids: &[String], args: &BenchArgs) -> anyhow::Result<f64> {
    let bodies: Vec<String> = ids
        .chunks(args.batch)
        .enumerate()
        .map(|(i, chunk)| {
            let objects: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(j, id)| indicator(id, i * args.batch + j))
                .collect();
            json!({ "objects": objects }).to_string()
        })
        .collect();
    let bodies = Arc::new(bodies);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        let (bodies, next, client, url) = (
            bodies.clone(),
            next.clone(),
            target.client.clone(),
            target.objects_url.clone(),
        );
        tasks.spawn(async move { post_all(&client, &url, &bodies, &next).await });
    }
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    Ok(ids.len() as f64 / started.elapsed().as_secs_f64())
}

async fn post_all(
    client: &reqwest::Client,
    url: &str,
    bodies: &[String],
    next: &std::sync::atomic::AtomicUsize,
) -> anyhow::Result<()> {
    loop {
        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Some(body) = bodies.get(i) else {
            return Ok(());
        };
        let response = client
            .post(url)
            .basic_auth(USER, Some(PASSWORD))
            .header("accept", crate::api::TAXII_MEDIA)
            .header("content-type", crate::api::TAXII_MEDIA)
            .body(body.clone())
            .send()
            .await?;
        if response.status() != reqwest::StatusCode::ACCEPTED {
            bail!("POST answered {}", response.status());
        }
        let status: Value = response.json().await?;
        if status["failure_count"] != 0 {
            bail!("objects were refused: {status}");
        }
    }
}

fn header_time(response: &reqwest::Response, name: &str) -> anyhow::Result<i64> {
    let text = response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .with_context(|| format!("missing {name}"))?;
    detente_stix::parse_timestamp(text)
        .map(|t| t.timestamp_micros())
        .with_context(|| format!("bad {name}: {text}"))
}

/// date_added of the first and last object loaded.
async fn date_range(target: &Target, ids: &[String]) -> anyhow::Result<(i64, i64)> {
    let first = target.get("limit=1").send().await?;
    let first = header_time(&first, "x-taxii-date-added-first")?;
    let last_id = ids.last().context("no objects")?;
    let last = target.get(&format!("match[id]={last_id}")).send().await?;
    let last = header_time(&last, "x-taxii-date-added-last")?;
    Ok((first, last))
}

/// Deterministic pseudo-random positions (xorshift), so runs are comparable.
struct Positions(u64);

impl Positions {
    fn next_below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Pages of 100 starting at random points of the collection (`added_after`).
async fn measure_pages(
    target: &Target,
    first: i64,
    last: i64,
    samples: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut rng = Positions(0x9e37_79b9_7f4a_7c15);
    let span = (last - first).max(1) as u64;
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let after = first + rng.next_below(span) as i64;
        let query = format!("limit=100&added_after={}", crate::format_timestamp(after));
        let started = Instant::now();
        let response = target.get(&query).send().await?;
        let ok = response.status().is_success();
        let body = response.bytes().await?;
        times.push(started.elapsed());
        if !ok || body.is_empty() {
            bail!("page request failed");
        }
    }
    Ok(times)
}

async fn measure_lookups(
    target: &Target,
    ids: &[String],
    samples: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut rng = Positions(0x2545_f491_4f6c_dd1d);
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let id = &ids[rng.next_below(ids.len() as u64) as usize];
        let started = Instant::now();
        let response = target.get(&format!("match[id]={id}")).send().await?;
        let envelope: Value = response.json().await?;
        times.push(started.elapsed());
        if envelope["objects"][0]["id"] != json!(id) {
            bail!("lookup of {id} returned {envelope}");
        }
    }
    Ok(times)
}

pub(crate) fn percentile_ms(times: &mut [Duration], p: f64) -> f64 {
    times.sort();
    if times.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * times.len() as f64).ceil() as usize;
    times[rank.clamp(1, times.len()) - 1].as_secs_f64() * 1000.0
}

fn report(args: &BenchArgs, rate: f64, mut page: Vec<Duration>, mut lookup: Vec<Duration>) {
    let result = json!({
        "implementation": "detente",
        "objects": args.objects,
        "batch": args.batch,
        "concurrency": args.concurrency,
        "ingest_objects_per_s": rate.round(),
        "page_p50_ms": round3(percentile_ms(&mut page, 50.0)),
        "page_p99_ms": round3(percentile_ms(&mut page, 99.0)),
        "match_id_p50_ms": round3(percentile_ms(&mut lookup, 50.0)),
        "match_id_p99_ms": round3(percentile_ms(&mut lookup, 99.0)),
    });
    println!(
        "detente TAXII: {} objects, ingest {} objects/s, page(100) p99 {} ms, match[id] p99 {} ms",
        args.objects,
        result["ingest_objects_per_s"],
        result["page_p99_ms"],
        result["match_id_p99_ms"]
    );
    if args.json {
        println!("{result}");
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let mut t: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&mut t, 99.0), 99.0);
        assert_eq!(percentile_ms(&mut t, 50.0), 50.0);
        assert_eq!(percentile_ms(&mut [], 99.0), 0.0);
    }

    #[test]
    fn bench_indicator_is_valid_stix() {
        let id = format!("indicator--{}", uuid::Uuid::new_v4());
        assert_eq!(detente_stix::validate(&indicator(&id, 70_000)), Ok(()));
    }
}
