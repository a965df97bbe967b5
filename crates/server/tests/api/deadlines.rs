//! Two real nodes on a test clock: every decline ground travels and is
//! counted, and deadlines turn a request overdue on both sides until it is
//! answered (late).

use crate::common;

use common::{peer_with, start_with_clock, Running};
use detente_domain::time::{self, Timestamp};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const GROUNDS: [&str; 9] = [
    "immunity_or_privilege",
    "fundamental_rights",
    "ne_bis_in_idem",
    "no_dual_criminality",
    "insufficient_information",
    "not_within_competence",
    "data_not_available",
    "disproportionate",
    "other",
];

async fn call(c: &reqwest::Client, at: &Running, path: &str, body: Option<Value>) -> Value {
    let url = format!("{}{path}", at.base);
    let rb = match &body {
        Some(b) => c.post(url).json(b),
        None => c.get(url),
    };
    let r = rb
        .basic_auth("officer", Some("officer-password"))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {v}");
    v
}

/// Polls a request on `at` until `ready` holds.
async fn wait(
    c: &reqwest::Client,
    at: &Running,
    id: &str,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    for _ in 0..400 {
        let r = c
            .get(format!("{}/api/v1/requests/{id}", at.base))
            .basic_auth("officer", Some("officer-password"))
            .send()
            .await
            .unwrap();
        if r.status().is_success() {
            last = r.json().await.unwrap();
            if ready(&last) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{id} never got ready: {last}");
}

fn request(reference: &str) -> Value {
    json!({ "type": "traffic_data", "reference": reference, "issuing_authority": "Public Prosecutor",
            "legal_basis": "Budapest Convention Art. 33", "offence": "Computer fraud",
            "facts": "Card data was exfiltrated through the server in the annex.",
            "data_requested": "Connection logs of the server", "link_to_offence": "The exfiltration server",
            "urgency": "normal", "tlp": "amber", "recipient": "cert-b.example" })
}

#[tokio::test(flavor = "multi_thread")]
async fn every_decline_ground_travels_and_deadlines_make_requests_overdue() {
    let now = Arc::new(Mutex::new(time::parse("2021-03-01T09:00:00Z").unwrap()));
    let clock_now = now.clone();
    let clock: detente_node::exchange::Clock = Arc::new(move || *clock_now.lock().unwrap());
    let advance = |days: i64| {
        let mut t = now.lock().unwrap();
        *t += chrono::TimeDelta::days(days);
    };
    let a = start_with_clock("cert-a.example", "DE", clock.clone()).await;
    let b = start_with_clock("cert-b.example", "FR", clock).await;
    let c = reqwest::Client::new();
    assert_eq!(peer_with(&c, &a, &b, "FR").await.status(), 201);
    assert_eq!(peer_with(&c, &b, &a, "DE").await.status(), 201);

    for ground in GROUNDS {
        let id = call(&c, &a, "/api/v1/requests", Some(request(ground))).await["id"]
            .as_str()
            .unwrap()
            .to_string();
        wait(&c, &b, &id, |v| v["status"] == "delivered").await;
        call(
            &c,
            &b,
            &format!("/api/v1/requests/{id}/acknowledge"),
            Some(json!({})),
        )
        .await;
        let body = json!({ "ground": ground, "text": "See the attached assessment." });
        call(
            &c,
            &b,
            &format!("/api/v1/requests/{id}/decline"),
            Some(body),
        )
        .await;
        let at_a = wait(&c, &a, &id, |v| v["status"] == "declined").await;
        let declined = at_a["timeline"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(declined["event"]["kind"]["ground"], ground, "{declined}");
    }

    // A request B leaves unanswered: overdue on both sides once the ten-day
    // answer deadline has passed, and closed late when B finally answers.
    let id = call(&c, &a, "/api/v1/requests", Some(request("LATE-1"))).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let submitted = wait(&c, &b, &id, |v| v["status"] == "delivered").await;
    let answer_by: Timestamp = time::parse(submitted["answer_by"].as_str().unwrap()).unwrap();
    advance(9);
    assert_eq!(
        call(&c, &a, &format!("/api/v1/requests/{id}"), None).await["overdue"],
        false
    );
    advance(2);
    assert!(*now.lock().unwrap() > answer_by);
    for node in [&a, &b] {
        assert_eq!(
            call(&c, node, &format!("/api/v1/requests/{id}"), None).await["overdue"],
            true
        );
    }
    let report = call(&c, &a, "/api/v1/report?peer=cert-b.example", None).await;
    let out = &report["reports"][0]["outbound"];
    assert_eq!(out["sent"], 10);
    assert_eq!(out["declined"], 9);
    assert_eq!(out["overdue"], 1);
    for ground in GROUNDS {
        assert_eq!(out["declined_by_ground"][ground], 1, "{out}");
    }

    call(
        &c,
        &b,
        &format!("/api/v1/requests/{id}/acknowledge"),
        Some(json!({})),
    )
    .await;
    call(
        &c,
        &b,
        &format!("/api/v1/requests/{id}/answer"),
        Some(json!({ "note": "Logs enclosed." })),
    )
    .await;
    let answered = wait(&c, &a, &id, |v| v["status"] == "answered").await;
    assert_eq!(answered["overdue"], false);
    let report = call(&c, &a, "/api/v1/report?peer=cert-b.example", None).await;
    let out = &report["reports"][0]["outbound"];
    assert_eq!(
        (out["answered"].as_u64(), out["overdue"].as_u64()),
        (Some(1), Some(0)),
        "{out}"
    );
}
