//! `detente migrate`: a node's database copied to PostgreSQL and checked.

use clap::Args;
use std::process::ExitCode;

#[derive(Args)]
pub struct MigrateArgs {
    /// The database to copy, e.g. sqlite://detente-data/detente.db (stop the
    /// node first, and back the file up).
    #[arg(long)]
    pub from: String,
    /// An empty PostgreSQL database, e.g. postgres://detente:PASSWORD@db/detente.
    #[arg(long)]
    pub to: String,
    /// End with one JSON object on the last line.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: MigrateArgs) -> anyhow::Result<ExitCode> {
    let copied = detente_node::migrate::migrate(&a.from, &a.to, &mut |table, rows| {
        eprintln!("copied {rows:>9} rows of {table}");
    })?;
    println!(
        "copied and verified: tree size {}, root {}, {} tables with the same row counts",
        copied.tree_size,
        copied.root,
        copied.tables.len()
    );
    println!(
        "next: set database = \"{}\" in config.toml and start the node",
        detente_node::backend::redact(&a.to)
    );
    if a.json {
        println!("{}", serde_json::to_string(&copied)?);
    }
    Ok(ExitCode::SUCCESS)
}
