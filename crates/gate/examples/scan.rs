//! Stand-in for the `detente` binary until the lead mounts these commands:
//! `cargo run -p detente-gate --example scan -- scan [--json] PATH...`,
//! `... -- gate check --to RU FILE...`, `... -- bench scan --size-mb 64`.

use clap::{Parser, Subcommand};
use detente_gate::cli;
use std::process::ExitCode;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Scan(cli::ScanArgs),
    Gate {
        #[command(subcommand)]
        cmd: GateCmd,
    },
    Bench {
        #[command(subcommand)]
        cmd: BenchCmd,
    },
}

#[derive(Subcommand)]
enum GateCmd {
    Check(cli::GateCheckArgs),
}

#[derive(Subcommand)]
enum BenchCmd {
    Scan(cli::BenchScanArgs),
}

fn main() -> ExitCode {
    let result = match Cli::parse().cmd {
        Cmd::Scan(a) => cli::run_scan(a),
        Cmd::Gate {
            cmd: GateCmd::Check(a),
        } => cli::run_gate_check(a),
        Cmd::Bench {
            cmd: BenchCmd::Scan(a),
        } => cli::run_bench_scan(a),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::from(2)
    })
}
