//! `log verify`, `log proof` and `verify`: offline work on a node's log.

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use detente_domain::{SignedEnvelope, VerifierKey};
use detente_log::proof_file::ProofFile;
use detente_node::{audit, Node};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum LogCommand {
    /// Audit the node's own store end to end; exits non-zero on any mismatch.
    Verify(super::node::DirArgs),
    /// Write a C2SP tlog-proof for one entry to standard output, its checkpoint
    /// carrying the witness cosignatures known for the latest tree size.
    Proof(ProofArgs),
}

#[derive(Args)]
pub struct ProofArgs {
    #[arg(long, default_value = "detente-data")]
    pub dir: PathBuf,
    /// Index of the entry.
    #[arg(long)]
    pub index: u64,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// The log's verifier key (<name>+<id>+<key>), from a trusted source.
    #[arg(long)]
    pub key: String,
    /// The signed envelope the proof is about; checked against the proven leaf.
    #[arg(long)]
    pub envelope: Option<PathBuf>,
    /// The .tlog-proof file.
    pub file: PathBuf,
}

pub fn run(c: LogCommand) -> anyhow::Result<ExitCode> {
    match c {
        LogCommand::Verify(a) => verify_store(a.dir),
        LogCommand::Proof(a) => proof(a),
    }
}

fn verify_store(dir: PathBuf) -> anyhow::Result<ExitCode> {
    let report = audit::audit(&dir)?;
    for p in &report.problems {
        eprintln!("mismatch: {p}");
    }
    if !report.problems.is_empty() {
        bail!(
            "{} problem(s) found in {}",
            report.problems.len(),
            dir.display()
        );
    }
    println!(
        "ok: {} entries and {} checkpoints verified in {}",
        report.entries,
        report.checkpoints,
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn proof(a: ProofArgs) -> anyhow::Result<ExitCode> {
    let node = Node::open_for_reading(&a.dir)?;
    let published = node.published();
    if a.index >= published.size {
        bail!(
            "entry {} does not exist (the log has {} entries)",
            a.index,
            published.size
        );
    }
    let file = node
        .proof_file(a.index)?
        .with_context(|| format!("entry {} is missing from the store", a.index))?;
    print!("{}", file.format());
    Ok(ExitCode::SUCCESS)
}

pub fn verify(a: VerifyArgs) -> anyhow::Result<ExitCode> {
    let key = VerifierKey::parse(&a.key)?;
    let text = std::fs::read_to_string(&a.file)
        .with_context(|| format!("cannot read {}", a.file.display()))?;
    let pf = ProofFile::parse(&text)?;
    let leaf = pf
        .extra
        .clone()
        .context("the proof carries no leaf (extra line); it was not written by detente")?;
    let (cp, _) = pf.verify(&leaf, &key)?;
    if let Some(path) = &a.envelope {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let (env, _) = SignedEnvelope::verify(&bytes, &key)?;
        if env.leaf().as_slice() != leaf.as_slice() {
            bail!("{} is not the entry this proof is about", path.display());
        }
    }
    println!(
        "ok: entry {} is in the log of {} at tree size {}",
        pf.index, cp.origin, cp.size
    );
    Ok(ExitCode::SUCCESS)
}
