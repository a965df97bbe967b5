//! `init`, `key` and `serve`.

use anyhow::Context;
use clap::Args;
use detente_domain::{Country, Origin};
use detente_node::{datadir, Node};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct DirArgs {
    /// The node's data directory.
    #[arg(long, default_value = "detente-data")]
    pub dir: PathBuf,
}

#[derive(Args)]
pub struct InitArgs {
    #[arg(long)]
    pub dir: PathBuf,
    /// The node's origin: its log and key name, e.g. cert.example.org.
    #[arg(long)]
    pub origin: String,
    /// ISO 3166-1 alpha-2 country code of the organisation, e.g. DE.
    #[arg(long)]
    pub country: Option<String>,
    /// Where the node keeps its tables: `postgres://USER:PASSWORD@HOST/DB`
    /// (an empty database) or `sqlite://PATH`; the default is the embedded
    /// SQLite file in the data directory.
    #[arg(long)]
    pub database: Option<String>,
}

#[derive(Args)]
pub struct ServeArgs {
    #[arg(long, default_value = "detente-data")]
    pub dir: PathBuf,
    /// Address to listen on; overrides config.toml.
    #[arg(long)]
    pub listen: Option<String>,
}

pub fn init(a: InitArgs) -> anyhow::Result<ExitCode> {
    let origin = Origin::parse(&a.origin)?;
    let country = a.country.as_deref().map(Country::parse).transpose()?;
    let key = datadir::init_on(&a.dir, &origin, country, a.database.as_deref())?;
    // Opening once creates the database and the log's genesis entry.
    Node::open(&a.dir)?.shutdown();
    println!("{}", key.verifier());
    Ok(ExitCode::SUCCESS)
}

pub fn key(a: DirArgs) -> anyhow::Result<ExitCode> {
    let node = Node::open_read_only(&a.dir)?;
    println!("{}", node.verifier());
    Ok(ExitCode::SUCCESS)
}

pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

pub fn serve(a: ServeArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    if !datadir::is_initialised(&a.dir) {
        let origin = Origin::parse(datadir::DEFAULT_ORIGIN)?;
        datadir::init(&a.dir, &origin, None)?;
        tracing::info!(dir = %a.dir.display(), origin = %origin, "initialised a new node");
    }
    let node = open_waiting(&a.dir)?;
    let listen = a.listen.unwrap_or_else(|| node.config().listen.clone());
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        let app = detente_server::node_app(node.clone())?;
        let limits = detente_server::ConnLimits::from(&node.config().limits);
        let tls = match &node.config().tls {
            Some(tls) => Some(
                detente_server::tls::server_config(&a.dir.join(&tls.cert), &a.dir.join(&tls.key))
                    .map_err(|e| anyhow::anyhow!("[tls] {e}"))?,
            ),
            None => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(origin = %node.config().origin, key = %node.verifier(), "listening on {scheme}://{addr}");
        if node.config().public_urls.is_empty() && addr.ip().is_unspecified() {
            tracing::warn!("listening on all addresses without public_urls in config.toml: peers must call this node by IP address, or their signed calls are refused");
        }
        detente_server::serve(listener, tls, app, limits, shutdown_signal()).await?;
        anyhow::Ok(())
    })?;
    node.shutdown();
    tracing::info!("stopped; every acknowledged entry is committed");
    Ok(ExitCode::SUCCESS)
}

/// How long `serve` waits for a database server that is not up yet.
const DATABASE_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// Opens the node, waiting (with a message every few seconds) while its
/// database server cannot be reached: a node and its PostgreSQL often start
/// together.
fn open_waiting(dir: &std::path::Path) -> anyhow::Result<std::sync::Arc<Node>> {
    let started = std::time::Instant::now();
    loop {
        match Node::open(dir) {
            Err(detente_node::NodeError::Storage(detente_storage::StorageError::Unavailable(
                why,
            ))) if started.elapsed() < DATABASE_WAIT => {
                tracing::warn!("waiting for the database: {why}");
                std::thread::sleep(std::time::Duration::from_secs(2));
            }
            other => return Ok(other?),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("signal handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
}
