//! The transfer gate inside a node: thresholds with 12-month aggregation per
//! recipient, holds that a reviewer resolves, and every decision in the log.

use detente_domain::{Country, Origin};
use detente_node::outbound::{Outbound, Verdict};
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
        .check(
            "peer-ru.example",
            ru(),
            "t1",
            &[("a.csv", first.as_bytes())],
            None,
        )
        .unwrap();
    assert_eq!(v, Verdict::Send(None));
    // 600 + 401 = 1,001 devices to the same recipient within 12 months: bulk.
    let second = devices(600, 401);
    let v = gate
        .check(
            "peer-ru.example",
            ru(),
            "t2",
            &[("b.csv", second.as_bytes())],
            None,
        )
        .unwrap();
    let Verdict::Withhold {
        hold: Some(hold), ..
    } = v
    else {
        panic!("expected a hold, got {v:?}")
    };
    // Asking again for the same payload finds the same hold.
    let again = gate
        .check(
            "peer-ru.example",
            ru(),
            "t2",
            &[("b.csv", second.as_bytes())],
            None,
        )
        .unwrap();
    assert!(matches!(again, Verdict::Withhold { hold: Some(ref h), .. } if *h == hold));
    // Another recipient starts from zero.
    let other = gate
        .check(
            "peer-b.example",
            ru(),
            "t2",
            &[("b.csv", second.as_bytes())],
            None,
        )
        .unwrap();
    assert_eq!(other, Verdict::Send(None));

    let before = node.published().size;
    let resolved = gate
        .resolve(&hold, true, "reviewer1", "202.507 MLAA basis verified")
        .await
        .unwrap();
    assert_eq!(resolved.unwrap().status, "approved");
    assert!(gate
        .resolve(&hold, false, "reviewer1", "")
        .await
        .unwrap()
        .is_none());
    let v = gate
        .check(
            "peer-ru.example",
            ru(),
            "t2",
            &[("b.csv", second.as_bytes())],
            None,
        )
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
    let binary = [0u8, 159, 146, 150, 0, 1, 2];
    assert!(gate
        .check("peer-ru.example", ru(), "bin", &[("x.bin", &binary)], None)
        .is_err());
}
