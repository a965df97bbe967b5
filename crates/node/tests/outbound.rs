//! The transfer gate inside a node: thresholds with 12-month aggregation per
//! recipient, holds that a reviewer resolves, and every decision in the log.

use detente_domain::{Country, Origin};
use detente_node::outbound::{Outbound, Outgoing, Verdict};
use detente_node::{datadir, Node};
use std::sync::Arc;

fn us_node() -> (tempfile::TempDir, Arc<Node>) {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("node");
    let us = Some(Country::parse("US").unwrap());
    datadir::init(&dir, &Origin::parse("cert-us.example").unwrap(), us).unwrap();
    (t, Node::open(&dir).unwrap())
}

/// A CSV of `n` devices with precise coordinates, ids starting at `from`.
fn devices(from: usize, n: usize) -> String {
    let mut s = String::from("device_id,lat,lon\n");
    for i in from..from + n {
        s.push_str(&format!(
            "dev-{i},{}.{:04},{}.{:04}\n",
            40 + i % 10,
            i % 10_000,
            70 + i % 50,
            (i * 7) % 10_000
        ));
    }
    s
}

fn ru() -> Country {
    Country::parse("RU").unwrap()
}

/// A payload for `recipient` in RU.
fn out<'a>(recipient: &'a str, subject: &'a str, parts: &'a [(&'a str, &'a [u8])]) -> Outgoing<'a> {
    Outgoing {
        recipient,
        country: ru(),
        subject,
        parts,
        legal_basis: None,
        release: None,
        requested_by: Some("officer1"),
    }
}

fn volume(node: &Node, recipient: &str) -> u64 {
    node.store()
        .prior_volume(
            recipient,
            "precise_geolocation",
            "2000-01-01T00:00:00.000000Z",
        )
        .unwrap()
}

async fn settle(node: &Node, size: u64) {
    for _ in 0..200 {
        if node.published().size >= size {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    panic!("log did not reach {size}");
}

#[tokio::test(flavor = "multi_thread")]
async fn thresholds_aggregate_over_transfers_and_holds_need_a_reviewer() {
    let (_t, node) = us_node();
    let gate = Outbound::new(node.clone()).unwrap();
    let first = devices(0, 600);
    let v = gate
        .check(&out(
            "peer-ru.example",
            "t1",
            &[("a.csv", first.as_bytes())],
        ))
        .unwrap();
    assert_eq!(v, Verdict::Send(None));
    // 600 + 401 = 1,001 devices to the same recipient within 12 months: bulk.
    let second = devices(600, 401);
    let v = gate
        .check(&out(
            "peer-ru.example",
            "t2",
            &[("b.csv", second.as_bytes())],
        ))
        .unwrap();
    let Verdict::Withhold {
        hold: Some(hold), ..
    } = v
    else {
        panic!("expected a hold, got {v:?}")
    };
    // Asking again for the same payload finds the same hold.
    let again = gate
        .check(&out(
            "peer-ru.example",
            "t2",
            &[("b.csv", second.as_bytes())],
        ))
        .unwrap();
    assert!(matches!(again, Verdict::Withhold { hold: Some(ref h), .. } if *h == hold));
    // Another recipient starts from zero.
    let other = gate
        .check(&out(
            "peer-b.example",
            "t2",
            &[("b.csv", second.as_bytes())],
        ))
        .unwrap();
    assert_eq!(other, Verdict::Send(None));

    let before = node.published().size;
    let resolved = gate
        .resolve(&hold, true, "reviewer1", "202.507 MLAA basis verified")
        .await
        .unwrap();
    assert_eq!(
        resolved.unwrap().status,
        detente_storage::HoldStatus::Approved
    );
    assert!(gate
        .resolve(&hold, false, "reviewer1", "")
        .await
        .unwrap()
        .is_none());
    let v = gate
        .check(&out(
            "peer-ru.example",
            "t2",
            &[("b.csv", second.as_bytes())],
        ))
        .unwrap();
    assert_eq!(v, Verdict::Send(None));
    assert!(node.published().size > before);

    // genesis + 3 decisions (an existing hold answers without a new one) + 1 review
    settle(&node, 5).await;
    let mut kinds = Vec::new();
    for i in 0..node.published().size {
        kinds.push(node.entry(i).unwrap().unwrap().kind);
    }
    assert_eq!(
        kinds.iter().filter(|k| *k == "gate.decision").count(),
        3,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "gate.review").count(),
        1,
        "{kinds:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unreadable_payloads_never_leave() {
    let (_t, node) = us_node();
    let gate = Outbound::new(node).unwrap();
    // Unknown binary above the gate's small-file allowance: held, never sent.
    let binary: Vec<u8> = (0..40_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let v = gate
        .check(&out("peer-ru.example", "bin", &[("x.bin", &binary)]))
        .unwrap();
    assert!(
        matches!(v, Verdict::Withhold { hold: Some(_), .. }),
        "{v:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_payload_read_again_is_decided_logged_and_counted_once() {
    let (_t, node) = us_node();
    let gate = Outbound::new(node.clone()).unwrap();
    let csv = devices(0, 300);
    let parts: &[(&str, &[u8])] = &[("a.csv", csv.as_bytes())];
    for _ in 0..5 {
        let v = gate
            .check(&out("peer-ru.example", "stix:x@1", parts))
            .unwrap();
        assert_eq!(v, Verdict::Send(None));
    }
    assert_eq!(volume(&node, "peer-ru.example"), 300);
    // A new version is a new payload.
    gate.check(&out("peer-ru.example", "stix:x@2", parts))
        .unwrap();
    assert_eq!(volume(&node, "peer-ru.example"), 600);
    settle(&node, 3).await;
    let decisions = (0..node.published().size)
        .filter(|&i| node.entry(i).unwrap().unwrap().kind == "gate.decision")
        .count();
    assert_eq!(decisions, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_transfers_cannot_pass_a_threshold_together() {
    let (_t, node) = us_node();
    let gate = Arc::new(Outbound::new(node.clone()).unwrap());
    // Eight transfers of 200 devices at once: 1,600 in all, over the 1,000
    // bulk threshold, so no more than five may pass.
    let barrier = Arc::new(std::sync::Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let (gate, barrier) = (gate.clone(), barrier.clone());
            std::thread::spawn(move || {
                let csv = devices(i * 200, 200);
                let parts: &[(&str, &[u8])] = &[("a.csv", csv.as_bytes())];
                let subject = format!("t{i}");
                barrier.wait();
                gate.check(&out("peer-ru.example", &subject, parts))
                    .unwrap()
            })
        })
        .collect();
    let sent = threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|v| *v == Verdict::Send(None))
        .count();
    assert_eq!(
        sent, 5,
        "a transfer passed that a prior one had not yet counted"
    );
    assert_eq!(volume(&node, "peer-ru.example"), 1000);
}
