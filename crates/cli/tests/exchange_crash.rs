//! Kill a node (SIGKILL) while users are submitting requests, the sender or
//! the recipient: every request the sender acknowledged (201) is still there
//! after a restart, is delivered to the peer exactly once, and both logs
//! verify.

mod common;

use common::{add_peer, get, node, serve_http};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Copy, PartialEq)]
enum Victim {
    Sender,
    Recipient,
}

#[test]
fn killing_the_sender_loses_no_acknowledged_request() {
    crash_while_exchanging(Victim::Sender);
}

#[test]
fn killing_the_recipient_loses_no_acknowledged_request() {
    crash_while_exchanging(Victim::Recipient);
}

fn crash_while_exchanging(victim: Victim) {
    let t = tempfile::tempdir().unwrap();
    let (da, key_a) = node(
        t.path(),
        "a",
        "cert-a.example",
        "DE",
        &common::database_args(),
    );
    let (db, key_b) = node(
        t.path(),
        "b",
        "cert-b.example",
        "FR",
        &common::database_args(),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = reqwest::Client::new();
    // B comes back on the same address: A knows it by its URL.
    let b_listen = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let (b, base_b) = serve_http(&db, &b_listen);
    let (a, base_a) = serve_http(&da, "127.0.0.1:0");
    rt.block_on(async {
        add_peer(&c, &base_a, "cert-b.example", &base_b, &key_b, "FR").await;
        add_peer(&c, &base_b, "cert-a.example", &base_a, &key_a, "DE").await;
    });

    // Eight users submit continuously; a node is killed once 60 requests
    // were acknowledged, with more in flight, and the users go on until
    // A stops answering or 120 were acknowledged.
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let (mut a, mut b) = (a, b);
    rt.block_on(async {
        let mut users = tokio::task::JoinSet::new();
        for u in 0..8 {
            let (c, base, acked) = (c.clone(), base_a.clone(), acked.clone());
            users.spawn(async move {
                for n in 0.. {
                    if acked.lock().unwrap().len() >= 120 {
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
                    let Ok(v) = r.json::<Value>().await else {
                        return;
                    };
                    acked.lock().unwrap().push(v["id"].as_str().unwrap().to_string());
                }
            });
        }
        while acked.lock().unwrap().len() < 60 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let killed = match victim {
            Victim::Sender => &mut a,
            Victim::Recipient => &mut b,
        };
        killed.0.kill().unwrap(); // SIGKILL: no shutdown, no flush
        killed.0.wait().unwrap();
        while users.join_next().await.is_some() {}
    });
    let acked = acked.lock().unwrap().clone();
    let (_a, base_a, _b) = match victim {
        Victim::Sender => {
            let (a, base_a) = serve_http(&da, "127.0.0.1:0");
            (a, base_a, b)
        }
        Victim::Recipient => (a, base_a, serve_http(&db, &b_listen).0),
    };
    rt.block_on(async {
        for id in &acked {
            let mut v = Value::Null;
            // On PostgreSQL the killed sender's claims lapse first (15 s).
            for _ in 0..1500 {
                v = get(&c, &base_a, id)
                    .await
                    .expect("an acknowledged request survives");
                if v["status"] == "delivered" {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(
                v["status"], "delivered",
                "reaches the peer after the restart: {v}"
            );
            let at_b = get(&c, &base_b, id).await.expect("B has it");
            assert_eq!(
                at_b["timeline"].as_array().unwrap().len(),
                2,
                "recorded once: {at_b}"
            );
        }
    });
    for dir in [&da, &db] {
        let out = common::detente()
            .args(["log", "verify", "--dir", dir])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
