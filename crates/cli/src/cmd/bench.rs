//! `detente bench ...`: the benchmarks behind the figures in the README.

use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Append envelopes through the real sequencing path and measure it.
    Log(LogBenchArgs),
    /// Scanner throughput and memory on generated text and CSV (--quality: corpus scores).
    Scan(detente_gate::cli::BenchScanArgs),
    /// Two nodes on loopback: requests delivered with receipt per second, latency.
    Federation(super::bench_federation::FederationBenchArgs),
    /// The reciprocity report over many requests.
    Report(super::bench_report::ReportBenchArgs),
    /// TAXII ingest and read latency on a temporary node.
    Taxii(TaxiiBenchArgs),
    /// `/healthz` latency at rest and during a flood of password guesses.
    AuthFlood(super::bench_auth::AuthFloodBenchArgs),
}

#[derive(Args)]
pub struct LogBenchArgs {
    /// Data directory (created if missing); the entries stay in its log.
    #[arg(long)]
    pub dir: PathBuf,
    #[arg(long, default_value_t = 100_000)]
    pub entries: u64,
    /// End with one JSON object on the last line.
    #[arg(long)]
    pub json: bool,
    /// Print `ack <tree size>` as each chunk is acknowledged (for crash tests).
    #[arg(long)]
    pub acks: bool,
    /// A PostgreSQL server (`postgres://USER@HOST:PORT/DB`) on which to run,
    /// in fresh databases the benchmark creates; default: SQLite in --dir.
    #[arg(long)]
    pub database: Option<String>,
}

#[derive(Args)]
pub struct TaxiiBenchArgs {
    #[command(flatten)]
    pub bench: detente_taxii::BenchArgs,
    /// A PostgreSQL server (`postgres://USER@HOST:PORT/DB`) on which to run,
    /// in a fresh database the benchmark creates; default: SQLite in a
    /// temporary directory.
    #[arg(long)]
    pub database: Option<String>,
}

pub fn run(c: BenchCommand) -> anyhow::Result<ExitCode> {
    match c {
        BenchCommand::Log(a) => log(a),
        BenchCommand::Scan(a) => detente_gate::cli::run_bench_scan(a),
        BenchCommand::Federation(a) => super::bench_federation::run(a),
        BenchCommand::Report(a) => super::bench_report::run(a),
        BenchCommand::AuthFlood(a) => super::bench_auth::run(a),
        BenchCommand::Taxii(a) => taxii(a),
    }
}

/// The TAXII benchmark's objects in SQLite beside its temporary node, or in a
/// fresh database on the PostgreSQL server given.
fn taxii(a: TaxiiBenchArgs) -> anyhow::Result<ExitCode> {
    let server = a.database;
    let given = server.clone();
    let open = move |db: &std::path::Path| -> anyhow::Result<Arc<dyn detente_storage::Store>> {
        let url = match &given {
            Some(server) => detente_node::backend::fresh_database(server)?,
            None => format!("sqlite://{}", db.display()),
        };
        Ok(detente_node::backend::open(&url)?)
    };
    let backend = match &server {
        Some(s) => detente_node::backend::redact(s),
        None => "SQLite".into(),
    };
    println!("TAXII benchmark on {backend}");
    tokio::runtime::Runtime::new()?.block_on(detente_taxii::run_bench(a.bench, &open))?;
    Ok(ExitCode::SUCCESS)
}

fn log(a: LogBenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(a.entries > 0, "--entries must be at least 1");
    let on_ack: Option<detente_node::bench::OnAck> = a.acks.then(|| {
        std::sync::Arc::new(|size: u64| {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "ack {size}");
            let _ = out.flush();
        }) as detente_node::bench::OnAck
    });
    let r = detente_node::bench::run(&a.dir, a.entries, on_ack, a.database.as_deref())?;
    println!("appended {} entries (tree size {})", r.entries, r.tree_size);
    println!(
        "  durable appends, signing included: {:>10.0} /s",
        r.appends_per_s
    );
    println!(
        "  (a) log path, pre-signed:          {:>10.0} /s",
        r.presigned_appends_per_s
    );
    println!(
        "  (b) raw row inserts, no tree:      {:>10.0} /s",
        r.raw_inserts_per_s
    );
    println!(
        "  ratio a/b:                         {:>10.2}",
        r.log_vs_raw_ratio
    );
    println!(
        "  average batch:                     {:>10.0} entries",
        r.avg_batch
    );
    println!(
        "  inclusion proof p50 / p99:         {:>7.1} / {:.1} µs",
        r.inclusion_proof_p50_us, r.inclusion_proof_p99_us
    );
    println!(
        "  consistency proof p50:             {:>10.1} µs",
        r.consistency_proof_p50_us
    );
    println!(
        "  RSS now / peak:                    {:>7.1} / {:.1} MB",
        r.rss_mb, r.peak_rss_mb
    );
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    }
    Ok(ExitCode::SUCCESS)
}
