//! Three replicas of one node on one PostgreSQL database, under load through
//! all three, one killed with SIGKILL mid-load: nothing acknowledged is lost,
//! every envelope reaches the peer once, every checkpoint any replica served
//! is a prefix of one tree, the log verifies, and the peer's reciprocity
//! evidence verifies.

mod common;

use common::{add_peer, get, node, ok, serve_http, Server};
use detente_log::Checkpoint;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[test]
fn three_replicas_one_killed_lose_nothing_and_never_split_the_log() {
    let Some(server) = detente_storage_postgres::test_server(
        "three_replicas_one_killed_lose_nothing_and_never_split_the_log",
    ) else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let database = detente_storage_postgres::scratch_database(&server).unwrap();
    let (da, key_a) = node(
        t.path(),
        "a",
        "cert-a.example",
        "DE",
        &["--database".into(), database.clone()],
    );
    let (db, key_b) = node(t.path(), "b", "cert-b.example", "DE", &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = reqwest::Client::new();
    let (b_server, base_b) = serve_http(&db, "127.0.0.1:0");
    let mut replicas: Vec<(Server, String)> =
        (0..3).map(|_| serve_http(&da, "127.0.0.1:0")).collect();
    let bases: Vec<String> = replicas.iter().map(|(_, b)| b.clone()).collect();
    rt.block_on(async {
        // Added through one replica, known to all of them.
        add_peer(&c, &bases[0], "cert-b.example", &base_b, &key_b, "DE").await;
        add_peer(&c, &base_b, "cert-a.example", &bases[0], &key_a, "DE").await;
        tokio::time::sleep(Duration::from_millis(1200)).await;
    });

    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen: Arc<Mutex<BTreeMap<u64, Vec<String>>>> = Arc::default();
    rt.block_on(async {
        let mut users = tokio::task::JoinSet::new();
        for u in 0..9 {
            let (c, base, acked) = (c.clone(), bases[u % 3].clone(), acked.clone());
            users.spawn(async move {
                for n in 0.. {
                    if acked.lock().unwrap().len() >= 150 {
                        return;
                    }
                    let body = json!({ "type": "consultation", "reference": format!("U{u}-{n}"),
                        "issuing_authority": "National CERT", "facts": "Who operates the address block in the annex?",
                        "urgency": "normal", "tlp": "green", "recipient": "cert-b.example" });
                    let sent = c
                        .post(format!("{base}/api/v1/requests"))
                        .basic_auth("officer", Some("officer-password"))
                        .json(&body)
                        .send()
                        .await;
                    let Ok(r) = sent else { return };
                    if r.status() != 201 {
                        return;
                    }
                    let Ok(v) = r.json::<Value>().await else { return };
                    acked.lock().unwrap().push(v["id"].as_str().unwrap().to_string());
                }
            });
        }
        // Every replica's checkpoint, as served, all along.
        let sampler = {
            let (c, bases, seen, acked) = (c.clone(), bases.clone(), seen.clone(), acked.clone());
            tokio::spawn(async move {
                while acked.lock().unwrap().len() < 150 {
                    for base in &bases {
                        let Ok(r) = c.get(format!("{base}/log/checkpoint")).send().await else { continue };
                        let Ok(note) = r.text().await else { continue };
                        let size = note.lines().nth(1).and_then(|l| l.parse().ok()).unwrap_or(0);
                        seen.lock().unwrap().entry(size).or_default().push(note);
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        };
        while acked.lock().unwrap().len() < 50 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let killed = &mut replicas[2].0;
        killed.0.kill().unwrap(); // SIGKILL: no shutdown, no flush
        killed.0.wait().unwrap();
        while users.join_next().await.is_some() {}
        sampler.abort();
    });
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 100,
        "the two survivors went on: {}",
        acked.len()
    );

    rt.block_on(async {
        for id in &acked {
            let mut v = Value::Null;
            // Up to a minute: the killed replica's claimed envelopes wait out
            // their 15 s lease, then the retry backoff, on a loaded machine.
            for _ in 0..3000 {
                v = get(&c, &bases[1], id)
                    .await
                    .expect("an acknowledged request survives");
                if v["status"] == "delivered" {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(v["status"], "delivered", "reaches the peer: {v}");
            let at_b = get(&c, &base_b, id).await.expect("B has it");
            assert_eq!(
                at_b["timeline"].as_array().unwrap().len(),
                2,
                "recorded once: {at_b}"
            );
        }
    });

    // One tree: every checkpoint served is this node's and a prefix of the log.
    let node = detente_node::Node::open_read_only(std::path::Path::new(&da)).unwrap();
    let verifier = [node.verifier()];
    for (size, notes) in seen.lock().unwrap().iter() {
        let mut distinct = notes.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            1,
            "two checkpoints for size {size}: {distinct:?}"
        );
        let (cp, _) = Checkpoint::open(&distinct[0], &verifier).expect("signed by the node");
        assert_eq!(
            cp.root,
            node.root_at(*size).unwrap(),
            "size {size} is a prefix of the log"
        );
    }
    assert!(seen.lock().unwrap().len() > 3, "checkpoints were sampled");
    drop(node);

    drop(b_server); // the report reads B's directory offline
    for dir in [&da, &db] {
        ok(&["log", "verify", "--dir", dir], None);
    }
    let bundle = t.path().join("evidence.json");
    let bundle = bundle.to_str().unwrap();
    ok(
        &[
            "report",
            "--dir",
            &db,
            "--peer",
            "cert-a.example",
            "--evidence",
            bundle,
        ],
        None,
    );
    ok(
        &["verify-report", bundle, "--key", &key_a, "--key", &key_b],
        None,
    );
}
