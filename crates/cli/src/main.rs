//! `detente`: run a node and work with its data from the command line.
//!
//! Errors are printed as one line (`error: ...`) with exit status 1; usage errors
//! come from clap with status 2.

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Parser)]
#[command(
    name = "detente",
    version,
    about = "An accountable exchange for cross-border cybercrime cooperation"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a node's data directory: config, signing key and database.
    Init(cmd::node::InitArgs),
    /// Print the node's verifier key (C2SP signed-note form).
    Key(cmd::node::DirArgs),
    /// Run the node's HTTP server (initialising ./detente-data on first start).
    Serve(cmd::node::ServeArgs),
    /// Work with the node's transparency log.
    #[command(subcommand)]
    Log(cmd::log::LogCommand),
    /// Verify a C2SP tlog-proof file offline.
    Verify(cmd::log::VerifyArgs),
    /// Scan files for sensitive personal data (exit 0 clean, 1 findings, 2 error).
    Scan(detente_gate::cli::ScanArgs),
    /// The transfer gate: judge a payload for a recipient country.
    #[command(subcommand)]
    Gate(GateCommand),
    /// Peers: the other nodes this node exchanges with.
    #[command(subcommand)]
    Peer(cmd::peer::PeerCommand),
    /// Cooperation requests on a running node (create, list, show, act on them).
    #[command(subcommand)]
    Request(cmd::request::RequestCommand),
    /// Users of the node (TAXII and API access).
    User(UserArgs),
    /// TAXII 2.1 collections.
    Collection(CollectionArgs),
    /// Two nodes replay two years of requests; prints the report and verifies the evidence.
    Demo(cmd::demo::DemoArgs),
    /// Reciprocity report of a node (optionally writing an evidence bundle).
    Report(cmd::report::ReportArgs),
    /// Verify an evidence bundle offline and recompute its report.
    VerifyReport(cmd::report::VerifyReportArgs),
    /// Copy a node's SQLite database into an empty PostgreSQL one and verify the copy.
    Migrate(cmd::migrate::MigrateArgs),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(cmd::bench::BenchCommand),
}

#[derive(clap::Args)]
struct UserArgs {
    /// The node's data directory.
    #[arg(long, global = true, default_value = "detente-data")]
    dir: std::path::PathBuf,
    #[command(subcommand)]
    command: detente_auth::UserCommand,
}

#[derive(clap::Args)]
struct CollectionArgs {
    /// The node's data directory.
    #[arg(long, global = true, default_value = "detente-data")]
    dir: std::path::PathBuf,
    #[command(subcommand)]
    command: detente_taxii::CollectionCommand,
}

#[derive(Subcommand)]
enum GateCommand {
    /// Decide allow / redact / hold / block for FILEs sent to a country
    /// (exit 0 allow, 1 otherwise, 2 error).
    Check(detente_gate::cli::GateCheckArgs),
    /// List payloads the gate held for review.
    Holds(cmd::gate::HoldsArgs),
    /// Approve or reject a held payload (recorded in the log).
    Review(cmd::gate::ReviewArgs),
}

/// Scan and gate answers use exit 1 for "found something", so their errors are 2.
fn gate_exit(r: anyhow::Result<ExitCode>) -> anyhow::Result<ExitCode> {
    r.or_else(|e| {
        if closed_stdout(&e) {
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("error: {e:#}");
        Ok(ExitCode::from(2))
    })
}

/// Set once printing found standard output closed by its reader (`| head`).
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// A reader that stops reading (`detente bench log | head -1`) is done, not
/// failed: the command ends quietly with status 0, like a pipeline expects.
/// SIGPIPE stays ignored (Rust's default) rather than reset to kill the process,
/// because `serve` and the peer clients write to sockets with `writev`, where a
/// peer's reset would then kill the node. So `println!`'s panic on a closed
/// stdout is silenced by the hook and unwound to `main` (temporary directories
/// and the log close as usual), and an error from such a write exits 0 too.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if is_closed_stdout_panic(info.payload()) {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
        } else {
            default(info);
        }
    }));
}

/// `println!`'s panic (std: `failed printing to stdout: {error}`) on a stdout
/// that its reader closed.
fn is_closed_stdout_panic(payload: &(dyn std::any::Any + Send)) -> bool {
    let msg = match payload.downcast_ref::<String>() {
        Some(s) => s.as_str(),
        None => payload.downcast_ref::<&str>().copied().unwrap_or(""),
    };
    msg.starts_with("failed printing to stdout") && stdout_reader_gone()
}

/// Whether `e` is a write to standard output whose reader went away (and not,
/// say, a peer's socket closing, which is a real error).
fn closed_stdout(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        && stdout_reader_gone()
}

/// A pipe or socket on fd 1 whose other end is closed polls as an error.
fn stdout_reader_gone() -> bool {
    let mut fd = libc::pollfd {
        fd: libc::STDOUT_FILENO,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no timeout; poll only writes `revents`.
    let n = unsafe { libc::poll(&mut fd, 1, 0) };
    n == 1 && fd.revents & libc::POLLERR != 0
}

/// The store of the node in `dir`, where its TAXII collections are.
fn node_store(dir: &std::path::Path) -> anyhow::Result<std::sync::Arc<dyn detente_storage::Store>> {
    Ok(detente_node::datadir::open_store(dir)?)
}

/// The node allocates and frees many small buffers per request (JSON,
/// envelopes, SQL rows) across threads; glibc's malloc took about a tenth of
/// `bench federation`'s profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    quiet_on_closed_stdout();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(cli))) {
        Ok(code) => code,
        Err(_) if STDOUT_CLOSED.load(Ordering::Relaxed) => ExitCode::SUCCESS,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Init(a) => cmd::node::init(a),
        Command::Key(a) => cmd::node::key(a),
        Command::Serve(a) => cmd::node::serve(a),
        Command::Log(c) => cmd::log::run(c),
        Command::Verify(a) => cmd::log::verify(a),
        Command::Bench(c) => cmd::bench::run(c),
        Command::Migrate(a) => cmd::migrate::run(a),
        Command::Demo(a) => cmd::demo::run(a),
        Command::Report(a) => cmd::report::report(a),
        Command::VerifyReport(a) => cmd::report::verify_report(a),
        Command::Peer(c) => cmd::peer::run(c),
        Command::Request(c) => cmd::request::run(c),
        Command::User(a) => detente_node::datadir::open_store(&a.dir)
            .map_err(anyhow::Error::from)
            .and_then(|store| detente_auth::run_user(store, a.command))
            .map(|_| ExitCode::SUCCESS),
        Command::Collection(a) => node_store(&a.dir)
            .and_then(|store| detente_taxii::run_collection(store.as_ref(), a.command))
            .map(|_| ExitCode::SUCCESS),
        Command::Scan(a) => gate_exit(detente_gate::cli::run_scan(a)),
        Command::Gate(GateCommand::Check(a)) => gate_exit(detente_gate::cli::run_gate_check(a)),
        Command::Gate(GateCommand::Holds(a)) => cmd::gate::holds(a),
        Command::Gate(GateCommand::Review(a)) => cmd::gate::review(a),
    };
    match result {
        Ok(code) => code,
        Err(e) if closed_stdout(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
