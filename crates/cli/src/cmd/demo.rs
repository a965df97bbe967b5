//! `detente demo`: the main job in one command. Two nodes on loopback replay a
//! scenario modelled on a public dispute (summit statements of 16 June 2021):
//! over two simulated years A sends B 80 requests (45 in 2020, 35 in 2021) and B
//! answers none; B sends A 12 (10, then 2) and A answers all. Then the
//! reciprocity report is printed, and the evidence bundle is written and
//! verified offline with the two nodes' keys.
//!
//! Everything runs for real — signed envelopes, HTTP delivery signed per RFC
//! 9421, receipts from the recipient's log, witness cosignatures — except the
//! clock that dates request events, which is simulated so two years pass in
//! seconds. The simulated clock is a demo and test facility only.

use super::cluster::{peer, serve, ClusterNode};
use anyhow::{bail, Context};
use clap::Args;
use detente_auth::{Role, Users};
use detente_domain::{sha256, time};
use detente_domain::{Country, Origin};
use detente_node::datadir;
use detente_node::evidence;
use detente_node::exchange::Clock;
use detente_requests::{EventKind, NewRequest};
use serde_json::{json, Value};
use std::path::Path;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Args)]
pub struct DemoArgs {
    /// End with one JSON line: the report per direction, both verifier keys and
    /// whether the evidence verified.
    #[arg(long)]
    pub json: bool,
    /// Keep the evidence bundle here.
    #[arg(long)]
    pub evidence: Option<PathBuf>,
    /// Leave both nodes running with their dispute in them (until Ctrl-C), and
    /// print each node's web interface and a sign-in per role. The data
    /// directories are kept.
    #[arg(long)]
    pub keep: bool,
}

/// The demo's users: one per role on each node, with fresh passwords.
const ROLES: [(&str, Role); 4] = [
    ("officer", Role::Officer),
    ("reviewer", Role::Reviewer),
    ("auditor", Role::Auditor),
    ("admin", Role::Admin),
];

/// Initialises a demo node with a user per role; returns the sign-ins.
fn init_node(dir: &Path, origin: &str, country: &str) -> anyhow::Result<Vec<(String, String)>> {
    datadir::init(dir, &Origin::parse(origin)?, Some(Country::parse(country)?))?;
    let users = Users::new(datadir::open_store(dir)?);
    let mut out = Vec::new();
    for (name, role) in ROLES {
        let mut secret = [0u8; 12];
        getrandom::getrandom(&mut secret).map_err(|e| anyhow::anyhow!("random: {e}"))?;
        let password = hex_digest(&secret)[..24].to_string();
        users.add_user(name, role, &password)?;
        out.push((name.to_string(), password));
    }
    Ok(out)
}

/// A simulated clock both nodes date their events with.
#[derive(Clone)]
struct SimClock(Arc<AtomicI64>);

impl SimClock {
    fn at(date: &str) -> SimClock {
        let t = time::parse(date).expect("valid date").timestamp_micros();
        SimClock(Arc::new(AtomicI64::new(t)))
    }
    fn set(&self, date: time::Timestamp) {
        self.0.store(date.timestamp_micros(), Ordering::SeqCst);
    }
    fn clock(&self) -> Clock {
        let v = self.0.clone();
        Arc::new(move || {
            chrono::DateTime::from_timestamp_micros(v.load(Ordering::SeqCst)).expect("in range")
        })
    }
}

fn request(to: &str, n: usize, year: i32) -> anyhow::Result<NewRequest> {
    let preservation = n.is_multiple_of(3);
    let v = json!({
        "type": if preservation { "preservation" } else { "subscriber_information" },
        "reference": format!("{year}/CC/{n:04}"),
        "issuing_authority": "Cybercrime Unit, Office of the Prosecutor",
        "legal_basis": if preservation { "Budapest Convention Art. 29" } else { "Budapest Convention Art. 31" },
        "offence": "Unauthorised access and extortion",
        "facts": format!("Case {n}: intrusion into a public utility's network traced to infrastructure hosted by the addressee's providers."),
        "data_requested": "Subscriber and connection records of the hosting account used by the intruders",
        "link_to_offence": "The account hosted the command-and-control server observed in the intrusion",
        "urgency": "normal",
        "tlp": "amber",
        "custodian": if preservation { Some("Hosting provider named in the annex") } else { None },
        "necessity": if preservation { Some("Connection logs are kept for 30 days") } else { None },
        "follow_up_mla": if preservation { Some(true) } else { None },
        "recipient": to,
    });
    Ok(serde_json::from_value(v)?)
}

/// The incident notification among A's requests, with its STIX indicator.
fn pipeline_notification(to: &str) -> anyhow::Result<(NewRequest, Vec<u8>)> {
    let bundle = json!({
        "type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
        "objects": [{
            "type": "indicator", "spec_version": "2.1",
            "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "created": "2021-05-08T10:00:00.000Z", "modified": "2021-05-08T10:00:00.000Z",
            "name": "DarkSide ransomware C2", "indicator_types": ["malicious-activity"],
            "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix",
            "valid_from": "2021-05-08T10:00:00Z",
            "object_marking_refs": ["marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"]
        }]
    });
    let bytes = serde_json::to_vec(&bundle)?;
    let v = json!({
        "type": "incident_notification",
        "incident_class": "malicious_code",
        "reference": "2021/CERT/0507",
        "issuing_authority": "National CERT",
        "facts": "On 7 May 2021 ransomware (DarkSide) encrypted the IT systems of a pipeline operator; \
                  pipeline operations were halted. A ransom of 75 BTC was paid on 8 May.",
        "urgency": "normal",
        "tlp": "amber",
        "attachments": [{ "name": "darkside-indicators.json", "media_type": "application/stix+json",
                          "size": bytes.len(), "sha256": hex_digest(&bytes) }],
        "recipient": to,
    });
    Ok((serde_json::from_value(v)?, bytes))
}

fn hex_digest(b: &[u8]) -> String {
    sha256(b).iter().map(|x| format!("{x:02x}")).collect()
}

/// A's indicators for B: the STIX bundle of the incident notification is
/// uploaded, and a TAXII collection is shared with B, where submitting the
/// notification publishes it (each indicator citing the request).
fn share_indicators(a: &ClusterNode) -> anyhow::Result<()> {
    use detente_taxii::store::Collection;
    let (_, bytes) = pipeline_notification("cert-b.example")?;
    let sha = hex_digest(&bytes);
    let now = time::format(&time::now());
    a.node
        .store()
        .put_attachment(&sha, "application/stix+json", &bytes, &now)?;
    a.node.store().create_collection(&Collection {
        id: "6a3f4b1c-2d5e-4f60-8a71-92b3c4d5e6f7".into(),
        title: "Indicators shared with cert-b.example".into(),
        description: None,
        alias: None,
        read: vec!["cert-b.example".into()],
        write: vec![],
        red_recipients: vec![],
    })?;
    Ok(())
}

/// Waits until the request is at least `status` on `at` (delivery is real).
async fn wait_for(at: &ClusterNode, id: &str, status: &str) -> anyhow::Result<()> {
    for _ in 0..1000 {
        // Not found yet is normal: the envelope is still on its way.
        if at.exchange.show(id).is_ok_and(|v| v["status"] == status) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    bail!(
        "request {id} never reached {status} on {}",
        at.node.config().origin
    )
}

fn days(start: &str, d: i64) -> time::Timestamp {
    time::parse(start).expect("date") + chrono::TimeDelta::days(d)
}

pub fn run(a: DemoArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(demo(a))
}

async fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let tmp = tempfile::tempdir()?;
    let sim = SimClock::at("2020-01-06T09:00:00Z");
    let (dir_a, dir_b) = (tmp.path().join("cert-a"), tmp.path().join("cert-b"));
    let users_a = init_node(&dir_a, "cert-a.example", "RU")?;
    let users_b = init_node(&dir_b, "cert-b.example", "US")?;
    let a = serve(&dir_a, sim.clock()).await?;
    let b = serve(&dir_b, sim.clock()).await?;
    peer(&a, &b, "US").await?;
    peer(&b, &a, "RU").await?;
    say(
        &args,
        &format!("node A: {} (RU)  {}", a.node.verifier(), a.url),
    );
    say(
        &args,
        &format!("node B: {} (US)  {}", b.node.verifier(), b.url),
    );

    share_indicators(&a)?;
    let mut sent_by_a = 0;
    for (year, a_count, b_count, start_day) in [
        (2020, 45, 10, "2020-01-06T09:00:00Z"),
        (2021, 35, 2, "2021-01-04T09:00:00Z"),
    ] {
        let span = if year == 2020 { 350 } else { 150 };
        for n in 0..a_count {
            sim.set(days(start_day, n as i64 * span / a_count as i64));
            let req = if year == 2021 && n == 17 {
                pipeline_notification("cert-b.example")?.0
            } else {
                request("cert-b.example", sent_by_a + n, year)?
            };
            let v = a.exchange.submit(req).await?;
            wait_for(&a, v["id"].as_str().context("id")?, "delivered").await?;
        }
        sent_by_a += a_count;
        for n in 0..b_count {
            let t0 = days(start_day, 10 + n as i64 * span / b_count as i64);
            sim.set(t0);
            let v = b
                .exchange
                .submit(request("cert-a.example", n, year)?)
                .await?;
            let id = v["id"].as_str().context("id")?.to_string();
            wait_for(&a, &id, "delivered").await?;
            sim.set(t0 + chrono::TimeDelta::days(1));
            a.exchange.act(&id, EventKind::Acknowledged {}).await?;
            sim.set(t0 + chrono::TimeDelta::days(4 + n as i64 % 4));
            let answer = EventKind::Answered {
                note: Some("Records attached to the secure channel annex.".into()),
                attachments: vec![],
            };
            a.exchange.act(&id, answer).await?;
            wait_for(&b, &id, "answered").await?;
        }
        say(&args, &format!("{year}: A sent {a_count} requests to B (none answered); B sent {b_count} to A (all answered)"));
    }

    sim.set(time::parse("2021-06-16T12:00:00Z").expect("date"));
    // B witnesses A's log (it cosigns A's checkpoints about once a second):
    // let it catch up, so its own signatures cover every request A sent.
    let size = a.node.published().size;
    for _ in 0..100 {
        if a.node.store().latest_cosigned_size()? >= Some(size) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let bundle = evidence::bundle(&a.node, Some("cert-b.example"), None, a.exchange.now()).await?;
    let keys = [a.node.verifier(), b.node.verifier()];
    let verified = evidence::verify(&bundle, &keys);
    let path = match &args.evidence {
        Some(p) => p.clone(),
        None => tmp.path().join("evidence.json"),
    };
    std::fs::write(&path, serde_json::to_vec_pretty(&bundle)?)?;

    let report = match &verified {
        Ok(v) => v.report.clone(),
        Err(_) => serde_json::from_slice::<Value>(&base64_envelope(&bundle)?)?["payload"]["report"]
            .clone(),
    };
    if !args.json {
        super::report::print_report(&report, false);
    }
    match &verified {
        Ok(v) => say(
            &args,
            &format!(
                "\nevidence: {} ({} envelopes, {} receipts) verified offline with both keys;\n\
                 cert-b.example's own cosignatures show {} of the requests A sent it were in A's log{}",
                path.display(),
                v.envelopes,
                v.receipts,
                seen_by_b(v),
                backdating(v)
            ),
        ),
        Err(e) => eprintln!("evidence does NOT verify: {e}"),
    }
    if args.json {
        let r = &report["reports"][0];
        println!(
            "{}",
            json!({
                "report": {
                    "cert-a.example -> cert-b.example": r["outbound"],
                    "cert-b.example -> cert-a.example": r["inbound"],
                },
                "keys": { "cert-a.example": a.node.verifier().to_string(), "cert-b.example": b.node.verifier().to_string() },
                "evidence": path.display().to_string(),
                "evidence_verified": verified.is_ok(),
                "requests_witnessed_by_recipient": verified.as_ref().map(seen_by_b).unwrap_or(0),
                "backdated_envelopes": verified.as_ref().map(|v| v.backdated).unwrap_or(0),
            })
        );
    }
    if args.keep {
        let kept = tmp.keep();
        println!(
            "\nboth nodes keep running; Ctrl-C stops them (data kept in {})",
            kept.display()
        );
        for (n, url, users) in [(&a, &a.url, &users_a), (&b, &b.url, &users_b)] {
            println!("{}  {url}/ui/", n.node.config().origin);
            for (name, password) in users {
                println!("  sign in as {name} with password {password}");
            }
        }
        tokio::signal::ctrl_c().await?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.evidence.is_none() {
        drop(tmp);
    }
    Ok(if verified.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What the evidence says of envelopes dated before a witness saw the log
/// without them. In the demo only the simulated clock can cause that.
fn backdating(v: &evidence::Verified) -> String {
    match v.backdated {
        0 => String::new(),
        n => format!(
            ";\n{n} of A's envelopes are dated before a witness saw A's log without them \
             (the simulated clock's dates; with a real clock this would flag backdating)"
        ),
    }
}

/// Requests A sent B that sat under a checkpoint of A's log B cosigned.
fn seen_by_b(v: &evidence::Verified) -> usize {
    v.sent_seen_by_recipient
        .get("cert-b.example")
        .map_or(0, |(n, _)| *n)
}

fn base64_envelope(bundle: &Value) -> anyhow::Result<Vec<u8>> {
    use base64::{engine::general_purpose::STANDARD, Engine};
    Ok(STANDARD.decode(
        bundle["report_entry"]["envelope"]
            .as_str()
            .context("report entry")?,
    )?)
}

fn say(args: &DemoArgs, line: &str) {
    if !args.json {
        println!("{line}");
    }
}
