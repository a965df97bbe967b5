//! Reviewers resolve payloads the transfer gate held, over the API; each
//! resolution is recorded in the log, and only reviewers may do it.

use detente_auth::{Role, Users};
use detente_domain::{Country, Origin};
use detente_node::outbound::{Outbound, Outgoing, Verdict};
use detente_node::Node;
use serde_json::{json, Value};

fn out<'a>(country: Country, parts: &'a [(&'a str, &'a [u8])]) -> Outgoing<'a> {
    Outgoing {
        recipient: "peer-ru.example",
        country,
        subject: "x",
        parts,
        legal_basis: None,
        release: None,
        requested_by: None,
    }
}

fn devices(n: usize) -> String {
    let mut s = String::from("device_id,lat,lon\n");
    for i in 0..n {
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

#[tokio::test(flavor = "multi_thread")]
async fn reviewers_resolve_holds_over_the_api() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("node");
    crate::common::init_dir(
        &dir,
        &Origin::parse("cert-us.example").unwrap(),
        Some(Country::parse("US").unwrap()),
    )
    .unwrap();
    let users = Users::new(detente_node::datadir::open_store(&dir).unwrap());
    users
        .add_user("rita", Role::Reviewer, "rita-password")
        .unwrap();
    users
        .add_user("olaf", Role::Officer, "olaf-password")
        .unwrap();
    let node = Node::open(&dir).unwrap();
    let gate = Outbound::new(node.clone()).unwrap();
    let data = devices(1001);
    let ru = Country::parse("RU").unwrap();
    let Verdict::Withhold { hold: Some(id), .. } =
        gate.check(&out(ru, &[("d.csv", data.as_bytes())])).unwrap()
    else {
        panic!("1,001 devices to RU must be held");
    };

    let app = detente_server::node_app(node.clone()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(detente_server::run(listener, app, std::future::pending()));
    let c = reqwest::Client::new();
    let url = format!("{base}/api/v1/gate/holds");

    assert_eq!(c.get(&url).send().await.unwrap().status(), 401);
    let list: Value = c
        .get(&url)
        .basic_auth("rita", Some("rita-password"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["holds"][0]["id"], id.as_str());
    assert_eq!(list["holds"][0]["decision"]["decision"], "hold");

    let review = format!("{url}/{id}");
    let body = json!({"decision": "approve", "reason": "MLAA request 17 verified"});
    let r = c
        .post(&review)
        .basic_auth("olaf", Some("olaf-password"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    for bad in [
        json!({"decision": "maybe", "reason": "x"}),
        json!({"decision": "approve", "reason": " "}),
        json!({"decision": "approve"}),
    ] {
        let r = c
            .post(&review)
            .basic_auth("rita", Some("rita-password"))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    let before = node.published().size;
    let r = c
        .post(&review)
        .basic_auth("rita", Some("rita-password"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let done: Value = r.json().await.unwrap();
    assert_eq!(done["status"], "approved");
    assert_eq!(done["resolved_by"], "rita");
    assert!(node.published().size > before, "the review is in the log");
    let again = c
        .post(&review)
        .basic_auth("rita", Some("rita-password"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    assert_eq!(
        gate.check(&out(ru, &[("d.csv", data.as_bytes())])).unwrap(),
        Verdict::Send(None)
    );
}
