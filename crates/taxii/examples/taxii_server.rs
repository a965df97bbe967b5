//! A stand-alone TAXII server over the detente crates, with the same
//! subcommand shapes as the `detente` binary (`user`, `collection`, `serve`,
//! `bench`), for the interop suite and benchmarks before the node exists.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use detente_taxii::{Taxii, TaxiiConfig};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    User {
        /// Data directory; accepted before or after the subcommand.
        #[arg(long, global = true)]
        dir: Option<PathBuf>,
        #[command(subcommand)]
        cmd: detente_auth::UserCommand,
    },
    Collection {
        #[arg(long, global = true)]
        dir: Option<PathBuf>,
        #[command(subcommand)]
        cmd: detente_taxii::CollectionCommand,
    },
    Serve {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8021")]
        listen: SocketAddr,
    },
    Bench(detente_taxii::BenchArgs),
}

async fn serve(dir: PathBuf, listen: SocketAddr) -> anyhow::Result<()> {
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let store = open_store(&dir.join("detente.db"))?;
    let users = Arc::new(detente_auth::Users::new(store.clone()));
    let taxii = Arc::new(Taxii::with_store(store, users, TaxiiConfig::default())?);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    println!("listening on http://{}/taxii2/", listener.local_addr()?);
    axum::serve(listener, detente_taxii::router(taxii))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

fn need_dir(dir: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    dir.context("--dir DIR is required")
}

fn open_store(db: &std::path::Path) -> anyhow::Result<Arc<detente_storage_sqlite::SqliteStore>> {
    let store = detente_storage_sqlite::SqliteStore::open(db)
        .with_context(|| format!("cannot open {}", db.display()))?;
    Ok(Arc::new(store))
}

#[tokio::main]
async fn main() {
    let result = match Cli::parse().command {
        Command::User { dir, cmd } => need_dir(dir).and_then(|dir| {
            let store = detente_storage_sqlite::SqliteStore::open(&dir.join("detente.db"))?;
            detente_auth::run_user(Arc::new(store), cmd)
        }),
        Command::Collection { dir, cmd } => {
            let store = need_dir(dir).and_then(|dir| open_store(&dir.join("detente.db")));
            store.and_then(|s| detente_taxii::run_collection(s.as_ref(), cmd))
        }
        Command::Serve { dir, listen } => serve(dir, listen).await,
        Command::Bench(args) => {
            let open = |db: &std::path::Path| -> anyhow::Result<Arc<dyn detente_storage::Store>> {
                Ok(open_store(db)?)
            };
            detente_taxii::run_bench(args, &open).await
        }
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
