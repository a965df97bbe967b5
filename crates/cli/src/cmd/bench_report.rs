//! `detente bench report`: the reciprocity report over many requests, computed
//! the way a node computes it (from its per-request summaries).

use clap::Args;
use detente_domain::{time, Origin};
use detente_node::{datadir, report, Node};
use detente_storage::{DeclineGround, Direction, RequestRow, RequestType, Status, Tlp, Urgency};
use detente_storage_sqlite::SqliteStore;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Args)]
pub struct ReportBenchArgs {
    #[arg(long, default_value_t = 1_000_000)]
    pub requests: u64,
    #[arg(long)]
    pub json: bool,
}

/// A synthetic request in every state a report counts.
fn row(i: u64) -> RequestRow {
    let day = |d: u64| {
        time::format(
            &(time::parse("2024-01-01T00:00:00Z").expect("date")
                + chrono::TimeDelta::seconds((d * 86_400 + i % 86_400) as i64)),
        )
    };
    let status = [
        Status::Submitted,
        Status::Delivered,
        Status::Acknowledged,
        Status::Answered,
        Status::Declined,
        Status::Withdrawn,
        Status::PartiallyAnswered,
    ][(i % 7) as usize];
    let acked = matches!(
        status,
        Status::Acknowledged | Status::Answered | Status::Declined | Status::PartiallyAnswered
    );
    let closed = status.is_final();
    RequestRow {
        id: format!("{:08x}-0000-4000-8000-{:012x}", i >> 16, i),
        direction: if i.is_multiple_of(3) {
            Direction::Inbound
        } else {
            Direction::Outbound
        },
        peer: format!("cert-{}.example", i % 4),
        kind: RequestType::SubscriberInformation,
        urgency: Urgency::Normal,
        tlp: Tlp::Amber,
        reference: format!("R-{i}"),
        status,
        submitted_at: day(i % 700),
        acknowledge_by: day(i % 700 + 2),
        answer_by: day(i % 700 + 10),
        acknowledged_at: acked.then(|| day(i % 700 + 1)),
        closed_at: closed.then(|| day(i % 700 + 3 + i % 20)),
        updated_at: day(i % 700 + 3),
        delivered_at: (status != Status::Submitted).then(|| day(i % 700)),
        decline_ground: (status == Status::Declined).then_some(DeclineGround::NeBisInIdem),
    }
}

pub fn run(a: ReportBenchArgs) -> anyhow::Result<ExitCode> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("node");
    datadir::init(&dir, &Origin::parse("bench.detente.localhost")?, None)?;
    drop(Node::open(&dir)?);
    let store = SqliteStore::open(&datadir::database_file(&dir)?)?;
    for start in (0..a.requests).step_by(50_000) {
        let rows: Vec<RequestRow> = (start..(start + 50_000).min(a.requests)).map(row).collect();
        store.insert_summaries_raw(&rows)?;
    }
    drop(store);
    let node = Node::open(&dir)?;
    let now = time::parse("2026-01-01T00:00:00Z").expect("date");
    let t = Instant::now();
    let r = report::build(&node, None, None, now)?;
    let secs = t.elapsed().as_secs_f64();
    let peers = r["reports"].as_array().map_or(0, Vec::len);
    println!(
        "report over {} requests ({peers} peers): {secs:.3} s",
        a.requests
    );
    if a.json {
        println!(
            "{}",
            serde_json::json!({ "requests": a.requests, "report_s": secs })
        );
    }
    Ok(ExitCode::SUCCESS)
}
