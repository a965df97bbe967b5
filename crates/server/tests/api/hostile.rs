//! A hostile counterpart, on real nodes: a third node cannot act in an
//! exchange it is not party to, a party cannot sign the other party's events,
//! a peer cannot date the record or set the deadlines, and the transfer gate's
//! holds release exactly what a reviewer approved.

use crate::federation::{deliver, init, key_of, peer, serve, show, show_until, submit, Running};
use detente_auth::{Role, Users};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// A (RU) <-> B (US) <-> C (DE); A and C are not peers.
async fn three_nodes(root: &Path) -> (Running, Running, Running, [std::path::PathBuf; 3]) {
    let dirs = [
        init(root, "cert-a.example", "RU"),
        init(root, "cert-b.example", "US"),
        init(root, "cert-c.example", "DE"),
    ];
    let a = serve(&dirs[0], "127.0.0.1:0").await;
    let b = serve(&dirs[1], "127.0.0.1:0").await;
    let c = serve(&dirs[2], "127.0.0.1:0").await;
    peer(&a, &b, "US").await;
    peer(&b, &a, "RU").await;
    peer(&b, &c, "DE").await;
    peer(&c, &b, "US").await;
    (a, b, c, dirs)
}

/// An event envelope for `request_id`, signed by `by` with the parties it names.
fn event(by: &Running, request_id: &str, kind: Value, sender: &str, recipient: &str) -> Vec<u8> {
    let id = uuid::Uuid::now_v7().to_string();
    let name = kind["type"].as_str().unwrap().to_string();
    by.node
        .sign(
            &format!("request.{name}"),
            json!({ "event": { "id": id, "request_id": request_id, "kind": kind },
                    "sender": sender, "recipient": recipient }),
        )
        .unwrap()
        .bytes()
        .to_vec()
}

async fn problem(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap();
    (status, v["detail"].as_str().unwrap_or_default().to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_third_node_learns_nothing_and_changes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let (a, b, c3, dirs) = three_nodes(t.path()).await;
    let http = reqwest::Client::new();
    let id = submit(&http, &a, "cert-b.example", 1).await;
    show_until(&http, &a, &id, |v| v["status"] == "delivered").await;
    let size = b.node.published().size;
    let c_key = key_of(&dirs[2]);
    let unknown = uuid::Uuid::now_v7().to_string();
    let attempts = [
        // C withdraws A's request, or writes to it, as if it were A.
        (
            json!({ "type": "withdrawn", "reason": "not needed" }),
            "cert-c.example",
            "cert-b.example",
        ),
        (
            json!({ "type": "message", "text": "ignore this request" }),
            "cert-c.example",
            "cert-b.example",
        ),
        // C acknowledges or answers it as if it were B.
        (
            json!({ "type": "acknowledged" }),
            "cert-b.example",
            "cert-c.example",
        ),
        (
            json!({ "type": "declined", "ground": "other", "text": "no" }),
            "cert-b.example",
            "cert-c.example",
        ),
    ];
    for (kind, sender, recipient) in attempts {
        let on_real = event(&c3, &id, kind.clone(), sender, recipient);
        let on_unknown = event(&c3, &unknown, kind.clone(), sender, recipient);
        let real = problem(deliver(&http, &b, &c_key, &on_real).await).await;
        let none = problem(deliver(&http, &b, &c_key, &on_unknown).await).await;
        assert_eq!(real.0, 404, "{kind}: {}", real.1);
        // The same answer as for an id that does not exist, but for the id.
        assert_eq!(
            real.1.replace(&id, "ID"),
            none.1.replace(&unknown, "ID"),
            "{kind}"
        );
    }
    assert_eq!(b.node.published().size, size, "B logged nothing");
    let v = show(&http, &a, &id).await;
    assert_eq!(v["status"], "delivered");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_recipient_cannot_withdraw_the_senders_request() {
    let t = tempfile::tempdir().unwrap();
    let (a, b, _c, dirs) = three_nodes(t.path()).await;
    let http = reqwest::Client::new();
    let id = submit(&http, &a, "cert-b.example", 1).await;
    show_until(&http, &a, &id, |v| v["status"] == "delivered").await;
    let b_key = key_of(&dirs[1]);
    let size = a.node.published().size;
    let withdraw = json!({ "type": "withdrawn", "reason": "answered elsewhere" });
    // B names itself the requester (403); then names the real parties, but
    // withdrawing is the requester's (409, as any step the lifecycle refuses).
    for (sender, recipient, refused) in [
        ("cert-b.example", "cert-a.example", 403),
        ("cert-a.example", "cert-b.example", 409),
    ] {
        let env = event(&b, &id, withdraw.clone(), sender, recipient);
        let (status, detail) = problem(deliver(&http, &a, &b_key, &env).await).await;
        assert_eq!(status, refused, "{detail}");
        assert!(detail.contains(&id), "{detail}");
    }
    assert_eq!(a.node.published().size, size, "A logged nothing");
    let v = show(&http, &a, &id).await;
    assert_eq!(v["status"], "delivered");
    let last = v["timeline"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["type"], "delivered");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_peer_cannot_date_the_record() {
    let t = tempfile::tempdir().unwrap();
    let (a, b, _c, dirs) = three_nodes(t.path()).await;
    let http = reqwest::Client::new();
    let id = submit(&http, &a, "cert-b.example", 1).await;
    show_until(&http, &a, &id, |v| v["status"] == "delivered").await;
    let b_key = key_of(&dirs[1]);
    let message = |at: detente_domain::time::Timestamp| {
        b.node
            .sign_at(
                "request.message",
                json!({ "event": { "id": uuid::Uuid::now_v7().to_string(), "request_id": id,
                                   "kind": { "type": "message", "text": "see annex" } },
                        "sender": "cert-a.example", "recipient": "cert-b.example" }),
                at,
            )
            .unwrap()
    };
    let future = detente_domain::time::parse("2030-01-01T00:00:00Z").unwrap();
    let refusals_before = kinds(&a.node, "exchange.refused");
    let (status, detail) = problem(deliver(&http, &a, &b_key, message(future).bytes()).await).await;
    assert_eq!(status, 403, "{detail}");
    assert!(detail.contains("ahead of this node's clock"), "{detail}");
    settle(&a.node, || {
        kinds(&a.node, "exchange.refused") == refusals_before + 1
    })
    .await;
    // Within the tolerance it stands, and A still dates its own events by
    // its own clock.
    let soon = detente_domain::time::now() + chrono::TimeDelta::seconds(300);
    let r = deliver(&http, &a, &b_key, message(soon).bytes()).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let before = detente_domain::time::now();
    let r = http
        .post(format!("{}/api/v1/requests/{id}/withdraw", a.base))
        .basic_auth("officer", Some("officer-password"))
        .json(&json!({ "reason": "no longer needed" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let v: Value = r.json().await.unwrap();
    let last = v["timeline"].as_array().unwrap().last().unwrap();
    assert_eq!(last["type"], "withdrawn");
    let at = detente_domain::time::parse(last["at"].as_str().unwrap()).unwrap();
    assert!(
        at >= before && at < soon,
        "A's withdrawal is dated {at}, not by A's clock"
    );
    // B accepts A's withdrawal dated before B's own latest event.
    show_until(&http, &b, &id, |v| v["status"] == "withdrawn").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deadlines_come_from_the_recipients_policy() {
    let t = tempfile::tempdir().unwrap();
    let (a, b, _c, dirs) = three_nodes(t.path()).await;
    let http = reqwest::Client::new();
    let a_key = key_of(&dirs[0]);
    let now = detente_domain::time::now();
    let submission = |ack: chrono::TimeDelta, answer: chrono::TimeDelta| {
        let fmt = |d| detente_domain::time::format(&(now + d));
        let mut request = crate::federation::request_to("cert-b.example", 7);
        request["legal_basis"] = json!(null);
        a.node
            .sign_at(
                "request.submitted",
                json!({ "event": { "id": uuid::Uuid::now_v7().to_string(),
                                   "request_id": uuid::Uuid::now_v7().to_string(),
                                   "kind": { "type": "submitted", "request": request,
                                             "deadlines": { "acknowledge_by": fmt(ack), "answer_by": fmt(answer) } } },
                        "sender": "cert-a.example", "recipient": "cert-b.example" }),
                now,
            )
            .unwrap()
    };
    let ms = chrono::TimeDelta::milliseconds(1);
    let (status, detail) =
        problem(deliver(&http, &b, &a_key, submission(ms, ms).bytes()).await).await;
    assert_eq!(status, 422, "{detail}");
    assert!(
        detail.contains("deadline policy") && detail.contains("consultation"),
        "{detail}"
    );
    // Longer than the policy's: they stand.
    let days = chrono::TimeDelta::days;
    let r = deliver(&http, &b, &a_key, submission(days(20), days(60)).bytes()).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// `n` distinct valid card numbers (Luhn) with names, as a CSV.
fn cards(n: usize, seed: u64) -> String {
    let mut s = String::from("name,card\n");
    for i in 0..n as u64 {
        let body = format!("4{:014}", seed * 1_000_000 + i);
        let digits: Vec<u32> = body.chars().map(|c| c.to_digit(10).unwrap()).collect();
        let sum: u32 = digits
            .iter()
            .rev()
            .enumerate()
            .map(|(k, &d)| {
                if k % 2 == 0 {
                    let x = d * 2;
                    if x > 9 {
                        x - 9
                    } else {
                        x
                    }
                } else {
                    d
                }
            })
            .sum();
        s.push_str(&format!("Person {i},{body}{}\n", (10 - sum % 10) % 10));
    }
    s
}

/// B's officer sends A a request citing `csv`; the gate's answer.
async fn send_with(http: &reqwest::Client, b: &Running, csv: &str, n: usize) -> (u16, Value) {
    let up: Value = http
        .post(format!("{}/api/v1/attachments", b.base))
        .basic_auth("officer", Some("officer-password"))
        .header("content-type", "text/csv")
        .body(csv.to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut request = crate::federation::request_to("cert-a.example", n);
    request["attachments"] = json!([{ "name": "cards.csv", "media_type": "text/csv",
                                      "size": csv.len(), "sha256": up["sha256"] }]);
    let r = http
        .post(format!("{}/api/v1/requests", b.base))
        .basic_auth("officer", Some("officer-password"))
        .json(&request)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn review(
    http: &reqwest::Client,
    b: &Running,
    who: &str,
    hold: &str,
    decision: &str,
) -> (u16, Value) {
    let r = http
        .post(format!("{}/api/v1/gate/holds/{hold}", b.base))
        .basic_auth(who, Some(format!("{who}-password")))
        .json(&json!({ "decision": decision, "reason": "CISA requirements confirmed" }))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn inbound(http: &reqwest::Client, a: &Running) -> Vec<Value> {
    let v: Value = http
        .get(format!("{}/api/v1/requests?direction=inbound", a.base))
        .basic_auth("officer", Some("officer-password"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["requests"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approved_hold_releases_the_held_request_and_a_rejected_one_never_leaves() {
    let t = tempfile::tempdir().unwrap();
    let (a, b, _c, dirs) = three_nodes(t.path()).await;
    let users = Users::new(detente_node::datadir::open_store(&dirs[1]).unwrap());
    users
        .add_user("rita", Role::Reviewer, "rita-password")
        .unwrap();
    let http = reqwest::Client::new();
    let bulk = cards(10_001, 1);

    let (status, v) = send_with(&http, &b, &bulk, 1).await;
    assert_eq!(status, 422, "{v}");
    let detail = v["detail"].as_str().unwrap();
    assert!(detail.contains("held it for review"), "{detail}");
    let holds: Value = http
        .get(format!("{}/api/v1/gate/holds", b.base))
        .basic_auth("officer", Some("officer-password"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hold = holds["holds"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(holds["holds"][0]["requested_by"], "officer");
    // The officer retries: the same payload finds the same hold.
    let (status, v) = send_with(&http, &b, &bulk, 1).await;
    assert_eq!(status, 422, "{v}");
    assert!(v["detail"].as_str().unwrap().contains(&hold), "{v}");

    // The officer may not review it; the reviewer approves and A gets it.
    assert_eq!(review(&http, &b, "officer", &hold, "approve").await.0, 403);
    let (status, v) = review(&http, &b, "rita", &hold, "approve").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["release_error"], Value::Null, "{v}");
    assert!(v["released_at"].is_null() || v["released_at"].is_string());
    let mut got = Vec::new();
    for _ in 0..400 {
        got = inbound(&http, &a).await;
        if !got.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(got.len(), 1, "A received the approved request");
    assert_eq!(got[0]["reference"], "REF-1");

    // Another bulk transfer is rejected: the officer sees why, A never gets it.
    let (status, _) = send_with(&http, &b, &cards(10_001, 2), 2).await;
    assert_eq!(status, 422);
    let list: Value = http
        .get(format!("{}/api/v1/gate/holds?status=held", b.base))
        .basic_auth("rita", Some("rita-password"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second = list["holds"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(review(&http, &b, "rita", &second, "reject").await.0, 200);
    let mine: Value = http
        .get(format!("{}/api/v1/gate/holds?status=rejected", b.base))
        .basic_auth("officer", Some("officer-password"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mine["holds"][0]["id"], second.as_str());
    assert_eq!(mine["holds"][0]["resolved_by"], "rita");
    let (status, v) = send_with(&http, &b, &cards(10_001, 2), 2).await;
    assert_eq!(status, 422);
    assert!(
        v["detail"].as_str().unwrap().contains("rejected by rita"),
        "{v}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        inbound(&http, &a).await.len(),
        1,
        "the rejected request never left"
    );
}

fn kinds(node: &detente_node::Node, kind: &str) -> usize {
    (0..node.published().size)
        .filter(|&i| node.entry(i).unwrap().is_some_and(|e| e.kind == kind))
        .count()
}

async fn settle(_node: &detente_node::Node, ready: impl Fn() -> bool) {
    for _ in 0..200 {
        if ready() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not reached in time");
}
