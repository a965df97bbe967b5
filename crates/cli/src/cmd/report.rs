//! `detente report` and `detente verify-report`.

use anyhow::{bail, Context};
use clap::Args;
use detente_domain::{time, VerifierKey};
use detente_node::{evidence, report, Node, NodeError};
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct ReportArgs {
    #[arg(long, default_value = "detente-data")]
    pub dir: PathBuf,
    /// Only this peer.
    #[arg(long)]
    pub peer: Option<String>,
    /// Only requests submitted on or after this date (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    pub since: Option<String>,
    #[arg(long)]
    pub json: bool,
    /// Also issue the report into the log and write an evidence bundle here.
    #[arg(long)]
    pub evidence: Option<PathBuf>,
}

#[derive(Args)]
pub struct VerifyReportArgs {
    /// The evidence bundle.
    pub file: PathBuf,
    /// A trusted verifier key (the reporting node's, and its peers'); repeat.
    #[arg(long = "key", required = true)]
    pub keys: Vec<String>,
    #[arg(long)]
    pub json: bool,
}

pub fn report(a: ReportArgs) -> anyhow::Result<ExitCode> {
    let since = a
        .since
        .as_deref()
        .map(report::parse_date)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let now = time::now();
    let r = if let Some(path) = &a.evidence {
        let node = match Node::open(&a.dir) {
            Err(NodeError::InUse(_)) => {
                bail!("the node is running; get the bundle from POST /api/v1/report/evidence")
            }
            other => other?,
        };
        let rt = tokio::runtime::Runtime::new()?;
        let bundle = rt.block_on(evidence::bundle(&node, a.peer.as_deref(), since, now))?;
        std::fs::write(path, serde_json::to_vec_pretty(&bundle)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let claim: Value =
            serde_json::from_slice(&base64_decode(&bundle["report_entry"]["envelope"])?)?;
        claim["payload"]["report"].clone()
    } else {
        let node = Node::open_for_reading(&a.dir)?;
        report::build(&node, a.peer.as_deref(), since, now)?
    };
    print_report(&r, a.json);
    Ok(ExitCode::SUCCESS)
}

fn base64_decode(v: &Value) -> anyhow::Result<Vec<u8>> {
    use base64::{engine::general_purpose::STANDARD, Engine};
    Ok(STANDARD.decode(v.as_str().context("missing envelope")?)?)
}

pub fn verify_report(a: VerifyReportArgs) -> anyhow::Result<ExitCode> {
    let keys = a
        .keys
        .iter()
        .map(|k| VerifierKey::parse(k))
        .collect::<Result<Vec<_>, _>>()?;
    let text =
        std::fs::read(&a.file).with_context(|| format!("cannot read {}", a.file.display()))?;
    let bundle: Value = serde_json::from_slice(&text).context("the bundle is not JSON")?;
    let v = evidence::verify(&bundle, &keys)
        .map_err(|e| anyhow::anyhow!("evidence does not verify: {e}"))?;
    if a.json {
        println!(
            "{}",
            serde_json::json!({ "verified": true, "node": v.node, "envelopes": v.envelopes,
            "receipts": v.receipts, "cosigners": v.cosigners, "witnessed": v.witnessed,
            "backdated": v.backdated,
            "sent_seen_by_recipient": v.sent_seen_by_recipient.iter()
                .map(|(peer, (n, at))| (peer.clone(), serde_json::json!({ "requests": n, "latest_cosignature": unix_time(*at) })))
                .collect::<serde_json::Map<_, _>>(),
            "report": v.report })
        );
    } else {
        print_report(&v.report, false);
        println!(
            "verified: {} envelopes, {} receipts, checkpoint cosigned by [{}]",
            v.envelopes,
            v.receipts,
            v.cosigners.join(", ")
        );
        println!(
            "{} envelopes were under a checkpoint a trusted witness cosigned",
            v.witnessed
        );
        for (peer, (n, at)) in &v.sent_seen_by_recipient {
            println!(
                "{peer} itself cosigned checkpoints holding {n} of the requests sent to it (latest cosignature {})",
                unix_time(*at)
            );
        }
        println!(
            "{} of {}'s envelopes are dated more than {} minutes before a witness saw its log without them (backdated)",
            v.backdated,
            v.node,
            evidence::CLOCK_TOLERANCE_SECS / 60
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn unix_time(secs: u64) -> String {
    chrono::DateTime::from_timestamp(secs as i64, 0)
        .map(|t| detente_domain::time::format(&t))
        .unwrap_or_default()
}

/// A readable table per peer, or the JSON.
pub fn print_report(r: &Value, json: bool) {
    if json {
        println!("{r}");
    } else {
        print!("{}", report_text(r));
    }
}

/// The report as text: one table per peer, counts right-aligned under their
/// direction.
fn report_text(r: &Value) -> String {
    use std::fmt::Write;
    let mut o = format!(
        "reciprocity report of {} at {}\n",
        r["node"].as_str().unwrap_or("?"),
        r["generated_at"].as_str().unwrap_or("?")
    );
    for p in r["reports"].as_array().into_iter().flatten() {
        let _ = writeln!(o, "\npeer {}", p["peer"].as_str().unwrap_or("?"));
        let _ = writeln!(o, "  {:<28} {:>10} {:>10}", "", "outbound", "inbound");
        for k in [
            "sent",
            "delivered",
            "acknowledged",
            "answered",
            "partially_answered",
            "declined",
            "withdrawn",
            "pending",
            "overdue",
        ] {
            let n = |d: &Value| d[k].as_u64().map_or("-".to_string(), |n| n.to_string());
            let _ = writeln!(
                o,
                "  {:<28} {:>10} {:>10}",
                k,
                n(&p["outbound"]),
                n(&p["inbound"])
            );
        }
        for (label, k) in [
            ("time to acknowledge", "time_to_acknowledge"),
            ("time to answer", "time_to_answer"),
        ] {
            let f = |d: &Value, q: &str| d[k][q].as_i64().map_or("-".to_string(), human);
            let _ = writeln!(
                o,
                "  {:<28} {:>10} {:>10}   (median; p90 {} / {})",
                label,
                f(&p["outbound"], "median_seconds"),
                f(&p["inbound"], "median_seconds"),
                f(&p["outbound"], "p90_seconds"),
                f(&p["inbound"], "p90_seconds")
            );
        }
    }
    o
}

fn human(secs: i64) -> String {
    match secs {
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{:.1}h", s as f64 / 3600.0),
        s => format!("{:.1}d", s as f64 / 86_400.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_line_up_under_their_direction() {
        let side = |n: u64| {
            json!({ "sent": n, "delivered": n, "acknowledged": 0, "answered": 0,
            "partially_answered": 0, "declined": 0, "withdrawn": 0, "pending": n, "overdue": 7,
            "time_to_acknowledge": { "median_seconds": 86_400, "p90_seconds": null },
            "time_to_answer": { "median_seconds": null, "p90_seconds": null } })
        };
        let r = json!({ "node": "cert-a.example", "generated_at": "2021-06-16T12:00:00.000000Z",
            "reports": [{ "peer": "cert-b.example", "outbound": side(80), "inbound": side(12) }] });
        let text = report_text(&r);
        let header = text.lines().find(|l| l.contains("outbound")).unwrap();
        let sent = text
            .lines()
            .find(|l| l.trim_start().starts_with("sent"))
            .unwrap();
        assert_eq!(
            sent.find("80").unwrap() + 2,
            header.find("outbound").unwrap() + 8,
            "{text}"
        );
        assert_eq!(sent.len(), header.len(), "{text}");
        assert!(text.contains("1.0d"), "{text}");
    }
}
