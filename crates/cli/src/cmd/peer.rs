//! `detente peer add|list|show|remove`.

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use detente_node::peers::Peer;
use detente_node::{Node, NodeError};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Args)]
pub struct Dir {
    #[arg(long, default_value = "detente-data")]
    pub dir: PathBuf,
}

#[derive(Subcommand)]
pub enum PeerCommand {
    /// Add a peer (its key is exchanged out of band); recorded in the log.
    Add {
        #[command(flatten)]
        dir: Dir,
        /// The peer's origin, e.g. cert-b.example.
        name: String,
        /// Base URL of the peer's node.
        #[arg(long)]
        url: String,
        /// The peer's verifier key (<origin>+<id>+<key>).
        #[arg(long)]
        key: String,
        /// ISO 3166-1 alpha-2 country of the peer.
        #[arg(long)]
        country: String,
    },
    /// List peers.
    List(Dir),
    /// Show one peer.
    Show {
        #[command(flatten)]
        dir: Dir,
        name: String,
    },
    /// Remove a peer; recorded in the log.
    Remove {
        #[command(flatten)]
        dir: Dir,
        name: String,
    },
}

/// Changes go through the log, so they need the node; a running node takes them
/// over its API instead.
fn open_writable(dir: &Dir) -> anyhow::Result<Arc<Node>> {
    match Node::open(&dir.dir) {
        Err(NodeError::InUse(_)) => {
            bail!("the node is running; change peers through its API (/api/v1/peers)")
        }
        other => Ok(other?),
    }
}

pub fn run(c: PeerCommand) -> anyhow::Result<ExitCode> {
    match c {
        PeerCommand::Add {
            dir,
            name,
            url,
            key,
            country,
        } => {
            let peer = Peer::parse(&name, &url, &key, &country)?;
            let node = open_writable(&dir)?;
            let added = tokio::runtime::Runtime::new()?.block_on(node.add_peer(&peer))?;
            anyhow::ensure!(added, "{name} is already a peer");
            println!(
                "added peer {} ({}, {})",
                peer.origin, peer.country, peer.url
            );
        }
        PeerCommand::List(dir) => {
            for p in Node::open_read_only(&dir.dir)?.store().peers()? {
                println!("{}  {}  {}  {}", p.origin, p.country, p.url, p.key);
            }
        }
        PeerCommand::Show { dir, name } => {
            let node = Node::open_read_only(&dir.dir)?;
            let p = node
                .store()
                .peer(&name)?
                .with_context(|| format!("no peer {name}"))?;
            println!(
                "origin:  {}\nurl:     {}\nkey:     {}\ncountry: {}\nadded:   {}",
                p.origin, p.url, p.key, p.country, p.added
            );
        }
        PeerCommand::Remove { dir, name } => {
            let node = open_writable(&dir)?;
            let removed = tokio::runtime::Runtime::new()?.block_on(node.remove_peer(&name))?;
            anyhow::ensure!(removed, "no peer {name}");
            println!("removed peer {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
