//! `gate holds` and `gate review`: the reviewer's side of the transfer gate.

use anyhow::{bail, Context};
use clap::Args;
use detente_node::outbound::Outbound;
use detente_node::{Node, NodeError};
use detente_storage::HoldStatus;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct HoldsArgs {
    #[arg(long, default_value = "detente-data")]
    pub dir: PathBuf,
    /// held, approved, rejected or all.
    #[arg(long, default_value = "held")]
    pub status: String,
    /// One JSON object per hold.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ReviewArgs {
    #[arg(long, default_value = "detente-data")]
    pub dir: PathBuf,
    /// The hold's id (from `detente gate holds`).
    pub id: String,
    #[arg(long, conflicts_with = "reject", required_unless_present = "reject")]
    pub approve: bool,
    #[arg(long)]
    pub reject: bool,
    /// The reviewer's name, recorded in the log.
    #[arg(long)]
    pub by: String,
    /// Why; recorded in the log.
    #[arg(long)]
    pub reason: String,
}

pub fn holds(a: HoldsArgs) -> anyhow::Result<ExitCode> {
    let filter = match a.status.as_str() {
        "all" => None,
        other => match HoldStatus::parse(other) {
            Some(s) => Some(s),
            None => bail!("--status {other}: use held, approved, rejected or all"),
        },
    };
    let node = Node::open_read_only(&a.dir)?;
    for h in node.store().holds(filter)? {
        if a.json {
            let decision: serde_json::Value = serde_json::from_str(&h.decision).unwrap_or_default();
            let line = serde_json::json!({"id": h.id, "recipient": h.recipient, "country": h.country,
                "subject": h.subject, "status": h.status, "created": h.created, "decision": decision});
            println!("{line}");
        } else {
            println!(
                "{}  {:<8} {:<24} {}  {}",
                h.id, h.status, h.recipient, h.country, h.subject
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn review(a: ReviewArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        !a.reason.trim().is_empty(),
        "--reason must say why; it is recorded in the log"
    );
    let node = match Node::open(&a.dir) {
        Err(NodeError::InUse(_)) => {
            bail!(
                "the node is running; review through its API: POST /api/v1/gate/holds/{}",
                a.id
            )
        }
        other => other?,
    };
    let outbound = Outbound::new(node.clone())?;
    let rt = tokio::runtime::Runtime::new()?;
    let held = rt
        .block_on(outbound.resolve(&a.id, a.approve, &a.by, a.reason.trim()))?
        .with_context(|| format!("no held payload {} (unknown or already resolved)", a.id))?;
    let note = match (held.status, &held.payload) {
        (HoldStatus::Approved, Some(_)) => {
            " (the held request event leaves when the node next starts)"
        }
        _ => "",
    };
    println!("{} {}{note}", held.id, held.status);
    Ok(ExitCode::SUCCESS)
}
