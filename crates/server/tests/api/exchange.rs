//! Two real nodes exchange a cooperation request end to end: delivery with a
//! receipt from the recipient's log, the lifecycle with 409 on invalid steps,
//! messages both ways, the report, and bad input refused with nothing stored.

use crate::common;

use common::{peer_with, start, Running};
use serde_json::{json, Value};
use std::time::Duration;

async fn peer(c: &reqwest::Client, at: &Running, other: &Running, country: &str) {
    assert_eq!(peer_with(c, at, other, country).await.status(), 201);
}

fn officer(c: &reqwest::Client, method: reqwest::Method, url: String) -> reqwest::RequestBuilder {
    c.request(method, url)
        .basic_auth("officer", Some("officer-password"))
}

async fn get(c: &reqwest::Client, at: &Running, id: &str) -> Value {
    officer(
        c,
        reqwest::Method::GET,
        format!("{}/api/v1/requests/{id}", at.base),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap()
}

/// Waits until the request reaches `status` at `at`.
async fn wait_status(c: &reqwest::Client, at: &Running, id: &str, status: &str) -> Value {
    for _ in 0..200 {
        let v = get(c, at, id).await;
        if v["status"] == status {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "{id} never became {status} at {}: {}",
        at.node.config().origin,
        get(c, at, id).await
    );
}

/// Waits until `at` holds `n` events of the request; returns how many it has.
async fn wait_events(c: &reqwest::Client, at: &Running, id: &str, n: usize) -> usize {
    let count = |v: &Value| v["timeline"].as_array().map_or(0, Vec::len);
    for _ in 0..200 {
        if count(&get(c, at, id).await) >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    count(&get(c, at, id).await)
}

fn request_to(to: &str) -> Value {
    json!({
        "type": "subscriber_information",
        "reference": "2021/CC/0042",
        "issuing_authority": "Public Prosecutor's Office, Cybercrime Unit",
        "legal_basis": "Budapest Convention Art. 31",
        "offence": "Extortion by ransomware",
        "facts": "On 7 May 2021 a pipeline operator's billing systems were encrypted.",
        "data_requested": "Subscriber records of the account behind the ransom portal",
        "link_to_offence": "The account hosted the ransom negotiation portal",
        "urgency": "normal",
        "tlp": "amber",
        "recipient": to
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_goes_through_its_whole_lifecycle() {
    let a = start("cert-a.example", "RU").await;
    let b = start("cert-b.example", "US").await;
    let c = reqwest::Client::new();
    peer(&c, &a, &b, "US").await;
    peer(&c, &b, &a, "RU").await;

    let r = officer(
        &c,
        reqwest::Method::POST,
        format!("{}/api/v1/requests", a.base),
    )
    .json(&request_to("cert-b.example"))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let created: Value = r.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();

    // Delivered: A holds B's signed `delivered` and a receipt from B's log.
    let at_a = wait_status(&c, &a, &id, "delivered").await;
    assert!(at_a["timeline"][0]["receipt"]
        .as_str()
        .unwrap()
        .starts_with("c2sp.org/tlog-proof@v1"));
    assert_eq!(at_a["timeline"][1]["type"], "delivered");
    assert_eq!(at_a["timeline"][1]["actor"], "cert-b.example");
    let at_b = get(&c, &b, &id).await;
    assert_eq!(at_b["direction"], "inbound");
    assert_eq!(at_b["status"], "delivered");

    // The sender cannot acknowledge or answer; 409 with the reason, nothing stored.
    let before = a.node.published().size;
    let r = officer(
        &c,
        reqwest::Method::POST,
        format!("{}/api/v1/requests/{id}/answer", a.base),
    )
    .json(&json!({"note": "x"}))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("only the recipient"));
    assert_eq!(a.node.published().size, before);

    let act = |who: &Running, action: &str, body: Value| {
        officer(
            &c,
            reqwest::Method::POST,
            format!("{}/api/v1/requests/{id}/{action}", who.base),
        )
        .json(&body)
        .send()
    };
    assert_eq!(
        act(&b, "acknowledge", json!({})).await.unwrap().status(),
        200
    );
    wait_status(&c, &a, &id, "acknowledged").await;
    assert_eq!(
        act(&b, "acknowledge", json!({})).await.unwrap().status(),
        409
    );
    assert_eq!(
        act(&a, "messages", json!({"text": "Any update?"}))
            .await
            .unwrap()
            .status(),
        200
    );
    wait_events(&c, &b, &id, 4).await;
    assert_eq!(
        act(&b, "messages", json!({"text": "Working on it."}))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        act(&b, "answer", json!({"note": "Subscriber: Example Ltd."}))
            .await
            .unwrap()
            .status(),
        200
    );
    let done = wait_status(&c, &a, &id, "answered").await;
    let kinds: Vec<&str> = done["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for k in [
        "submitted",
        "delivered",
        "acknowledged",
        "message",
        "answered",
    ] {
        assert!(kinds.contains(&k), "{kinds:?}");
    }
    assert_eq!(
        act(&a, "withdraw", json!({})).await.unwrap().status(),
        409,
        "final states are final"
    );

    // Both logs hold every event; A's report shows one answered request.
    assert_eq!(wait_events(&c, &b, &id, kinds.len()).await, kinds.len());
    let report: Value = c
        .get(format!("{}/api/v1/report?peer=cert-b.example", a.base))
        .basic_auth("auditor", Some("auditor-password"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let out = &report["reports"][0]["outbound"];
    assert_eq!(out["sent"], 1, "{report}");
    assert_eq!(out["answered"], 1, "{report}");
    assert_eq!(report["reports"][0]["inbound"]["sent"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_are_refused_and_store_nothing() {
    let a = start("cert-a.example", "RU").await;
    let b = start("cert-b.example", "US").await;
    let c = reqwest::Client::new();
    peer(&c, &a, &b, "US").await;
    let size = a.node.published().size;
    let post = |body: String| {
        officer(
            &c,
            reqwest::Method::POST,
            format!("{}/api/v1/requests", a.base),
        )
        .header("content-type", "application/json")
        .body(body)
        .send()
    };
    let mut unknown_type = request_to("cert-b.example");
    unknown_type["type"] = json!("telepathy");
    let mut bad_tlp = request_to("cert-b.example");
    bad_tlp["tlp"] = json!("purple");
    let mut empty_facts = request_to("cert-b.example");
    empty_facts["facts"] = json!("");
    for (body, status) in [
        ("{not json".to_string(), 400),
        (unknown_type.to_string(), 400),
        (bad_tlp.to_string(), 400),
        (empty_facts.to_string(), 422),
        (request_to("cert-x.example").to_string(), 422),
    ] {
        let r = post(body.clone()).await.unwrap();
        assert_eq!(r.status(), status, "{body}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    let r = c
        .post(format!("{}/api/v1/requests", a.base))
        .json(&request_to("cert-b.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .post(format!("{}/api/v1/requests", a.base))
        .basic_auth("auditor", Some("auditor-password"))
        .json(&request_to("cert-b.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // An unsigned delivery is refused.
    let r = c
        .post(format!("{}/federation/v1/envelopes", b.base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Filters that match nothing by mistake are refused, not answered empty.
    for query in [
        "status=AAA",
        "direction=sideways",
        "peer=not%20an%20origin",
        "since=yesterday",
        "limit=-1",
        "colour=red",
    ] {
        let r = officer(
            &c,
            reqwest::Method::GET,
            format!("{}/api/v1/requests?{query}", a.base),
        )
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 400, "{query}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    assert_eq!(a.node.published().size, size, "nothing was logged");
}

#[tokio::test(flavor = "multi_thread")]
async fn peers_cosign_checkpoints_and_a_fork_is_caught() {
    use detente_log::{cosignature, note, Checkpoint};
    let a = start("cert-a.example", "RU").await;
    let b = start("cert-b.example", "US").await;
    let c = reqwest::Client::new();
    peer(&c, &a, &b, "US").await;
    peer(&c, &b, &a, "RU").await;

    // B cosigns A's checkpoints as A's log grows.
    let mut cosigned = String::new();
    for _ in 0..300 {
        let r = c
            .get(format!("{}/log/checkpoint/cosigned", a.base))
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            cosigned = r.text().await.unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(cosigned.contains("\u{2014} cert-b.example "), "{cosigned}");
    let (cp, n) = Checkpoint::open(&cosigned, &[a.node.verifier()]).unwrap();
    let sig = n.sigs.iter().find(|s| s.name == "cert-b.example").unwrap();
    assert!(cosignature::verify(&b.node.verifier(), &cp.body(), sig).is_some());

    // A (its key) now shows B a checkpoint of the same size with another root.
    let key_a = detente_domain::NodeKey::parse(
        &std::fs::read_to_string(a.node.dir().join("node.key")).unwrap(),
    )
    .unwrap();
    let forked = Checkpoint {
        root: [7; 32],
        ..cp.clone()
    }
    .sign(&key_a)
    .unwrap();
    let body = format!("old {}\n\n{forked}", cp.size);
    let r = c
        .post(format!("{}/witness/add-checkpoint", b.base))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let mut logged = false;
    for _ in 0..100 {
        let size = b.node.published().size;
        logged = (0..size).any(|i| b.node.entry(i).unwrap().unwrap().kind == "witness.conflict");
        if logged {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(logged, "the fork is recorded in B's log");
    let metrics = c
        .get(format!("{}/metrics", b.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("\ndetente_witness_conflicts_total 1\n"),
        "an alertable metric: {metrics}"
    );
    let _ = note::parse(&forked).unwrap();
}

/// Submits a request from `at` to cert-b.example; returns its id.
async fn submit(c: &reqwest::Client, at: &Running) -> String {
    let r = officer(
        c,
        reqwest::Method::POST,
        format!("{}/api/v1/requests", at.base),
    )
    .json(&request_to("cert-b.example"))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Waits until the peer has cosigned `at`'s whole log as it is now.
async fn cosigned_by(at: &Running) {
    let size = at.node.published().size;
    for _ in 0..300 {
        if at.node.store().latest_cosigned_size().unwrap() >= Some(size) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the peer did not cosign size {size}");
}

#[tokio::test(flavor = "multi_thread")]
async fn evidence_flags_an_envelope_dated_before_a_witness_saw_the_log_without_it() {
    // A's request events are dated by a clock a year behind; B witnesses
    // A's log in real time. B's `delivered` is a year ahead of A's clock, so
    // A refuses it (and logs the refusal) but keeps B's receipt.
    let past = detente_domain::time::now() - chrono::TimeDelta::days(365);
    let clock: detente_node::exchange::Clock = std::sync::Arc::new(move || past);
    let a = common::start_with_clock("cert-a.example", "RU", clock).await;
    let b = start("cert-b.example", "US").await;
    let c = reqwest::Client::new();
    peer(&c, &a, &b, "US").await;
    peer(&c, &b, &a, "RU").await;
    cosigned_by(&a).await;
    let id = submit(&c, &a).await;
    wait_status(&c, &b, &id, "delivered").await;
    for _ in 0..200 {
        if get(&c, &a, &id).await["timeline"][0]["receipt"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(get(&c, &a, &id).await["status"], "submitted");
    cosigned_by(&a).await;

    let bundle = detente_node::evidence::bundle(&a.node, None, None, past)
        .await
        .unwrap();
    let ok =
        detente_node::evidence::verify(&bundle, &[a.node.verifier(), b.node.verifier()]).unwrap();
    assert_eq!((ok.envelopes, ok.receipts), (1, 1));
    assert_eq!(ok.backdated, 1, "A's submission");
}

#[tokio::test(flavor = "multi_thread")]
async fn evidence_verifies_offline_and_every_tampering_is_caught() {
    use base64::{engine::general_purpose::STANDARD as B64, Engine};
    use detente_node::evidence::verify;
    let a = start("cert-a.example", "RU").await;
    let b = start("cert-b.example", "US").await;
    let c = reqwest::Client::new();
    peer(&c, &a, &b, "US").await;
    peer(&c, &b, &a, "RU").await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(submit(&c, &a).await);
    }
    for id in &ids {
        wait_status(&c, &a, id, "delivered").await;
    }
    let r = officer(
        &c,
        reqwest::Method::POST,
        format!("{}/api/v1/requests/{}/acknowledge", b.base, ids[0]),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    wait_status(&c, &a, &ids[0], "acknowledged").await;
    // B witnesses A's log: wait until it has cosigned everything so far.
    cosigned_by(&a).await;

    let bundle: Value = c
        .post(format!("{}/api/v1/report/evidence", a.base))
        .basic_auth("auditor", Some("auditor-password"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = vec![a.node.verifier(), b.node.verifier()];
    let ok = verify(&bundle, &keys).unwrap();
    assert_eq!(ok.envelopes, 3 * 2 + 1);
    assert_eq!(ok.receipts, 3);
    assert_eq!(ok.report["reports"][0]["outbound"]["sent"], 3);
    assert_eq!(ok.report["reports"][0]["outbound"]["acknowledged"], 1);
    // B's own cosignatures attest that A's three requests were in A's log.
    assert_eq!(
        ok.witnessed, ok.envelopes,
        "every entry was under a cosigned checkpoint"
    );
    assert_eq!(ok.backdated, 0, "A's envelopes carry their real dates");
    let (seen, at) = ok.sent_seen_by_recipient["cert-b.example"];
    assert_eq!(seen, 3);
    assert!(at > 1_700_000_000, "a real time: {at}");
    // A witnessed checkpoint that is not a prefix of the log is refused.
    let mut t = bundle.clone();
    let proof = t["witnessed"][0]["consistency"].as_array_mut().unwrap();
    proof[0] = json!(B64.encode([7u8; 32]));
    assert!(
        verify(&t, &keys).unwrap_err().contains("not a prefix"),
        "forged witness window"
    );

    // Changed payload.
    let mut t = bundle.clone();
    let env = String::from_utf8(
        B64.decode(t["entries"][0]["envelope"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    t["entries"][0]["envelope"] =
        json!(B64.encode(env.replacen("2021/CC/0042", "2021/CC/0043", 1)));
    assert!(verify(&t, &keys).is_err(), "changed payload");
    // Dropped envelope.
    let mut t = bundle.clone();
    t["entries"].as_array_mut().unwrap().pop();
    assert!(
        verify(&t, &keys).unwrap_err().contains("missing"),
        "dropped envelope"
    );
    // Reordered entries (indexes swapped).
    let mut t = bundle.clone();
    let (i0, i1) = (
        t["entries"][0]["index"].clone(),
        t["entries"][1]["index"].clone(),
    );
    t["entries"][0]["index"] = i1;
    t["entries"][1]["index"] = i0;
    assert!(verify(&t, &keys).is_err(), "reordered");
    // Wrong key for the reporting node.
    let stranger = detente_domain::NodeKey::generate("cert-a.example")
        .unwrap()
        .verifier();
    assert!(
        verify(&bundle, &[stranger, b.node.verifier()]).is_err(),
        "wrong key"
    );
    // The bundle's own keys are not trusted: without B's key, B's envelopes fail.
    assert!(verify(&bundle, &[a.node.verifier()])
        .unwrap_err()
        .contains("no trusted key"));
    // Forged receipt.
    let mut t = bundle.clone();
    let entry = t["entries"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e["receipt"].is_string())
        .unwrap();
    let receipt = entry["receipt"].as_str().unwrap().to_string();
    let forged = receipt.replacen("index ", "index 9", 1);
    entry["receipt"] = json!(forged);
    assert!(verify(&t, &keys).is_err(), "forged receipt");
    // A changed claim in the signed report.
    let mut t = bundle.clone();
    let report_env = String::from_utf8(
        B64.decode(t["report_entry"]["envelope"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    t["report_entry"]["envelope"] =
        json!(B64.encode(report_env.replacen("\"sent\":3", "\"sent\":4", 1)));
    assert!(verify(&t, &keys).is_err(), "changed report");
}
