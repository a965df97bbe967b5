//! Delivery that loses nothing: a recipient down for a while gets everything,
//! exactly once, when it returns; redelivery is idempotent; a third node can
//! neither inject into nor alter an exchange it is not party to.

use detente_auth::{Role, Users};
use detente_domain::{Country, NodeKey, Origin};
use detente_federation::Signed;
use detente_node::{datadir, Node};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

struct Running {
    node: Arc<Node>,
    base: String,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

fn init(root: &Path, origin: &str, country: &str) -> PathBuf {
    let dir = root.join(origin);
    datadir::init(
        &dir,
        &Origin::parse(origin).unwrap(),
        Some(Country::parse(country).unwrap()),
    )
    .unwrap();
    Users::open(&dir.join("detente.db"))
        .unwrap()
        .add_user("officer", Role::Officer, "officer-password")
        .unwrap();
    dir
}

async fn serve(dir: &Path, addr: &str) -> Running {
    let mut node = None;
    for _ in 0..200 {
        match Node::open(dir) {
            Ok(n) => {
                node = Some(n);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
    let node = node.expect("node reopens once the old process let go");
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = detente_server::node_app(node.clone()).unwrap();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(detente_server::run(listener, app, async move {
        let _ = rx.await;
    }));
    Running {
        node,
        base: format!("http://{addr}"),
        addr,
        stop: Some(stop),
        server,
    }
}

impl Running {
    async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let _ = self.server.await;
    }
}

async fn peer(at: &Running, other: &Running, country: &str) {
    let p = detente_node::peers::Peer::parse(
        &other.node.config().origin,
        &other.base,
        &other.node.verifier().to_string(),
        country,
    )
    .unwrap();
    assert!(at.node.add_peer(&p).await.unwrap());
}

fn request_to(to: &str, n: usize) -> Value {
    json!({
        "type": "consultation", "reference": format!("REF-{n}"), "issuing_authority": "National CERT",
        "facts": "Which hosting provider operates the address block in the annex?", "urgency": "normal",
        "tlp": "green", "recipient": to
    })
}

async fn submit(c: &reqwest::Client, at: &Running, to: &str, n: usize) -> String {
    let r = c
        .post(format!("{}/api/v1/requests", at.base))
        .basic_auth("officer", Some("officer-password"))
        .json(&request_to(to, n))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn show(c: &reqwest::Client, at: &Running, id: &str) -> Value {
    c.get(format!("{}/api/v1/requests/{id}", at.base))
        .basic_auth("officer", Some("officer-password"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn key_of(dir: &Path) -> NodeKey {
    NodeKey::parse(&std::fs::read_to_string(dir.join("node.key")).unwrap()).unwrap()
}

/// POSTs `body` to `to`'s inbox, signed by `key`.
async fn deliver(
    c: &reqwest::Client,
    to: &Running,
    key: &NodeKey,
    body: &[u8],
) -> reqwest::Response {
    let authority = to.addr.to_string();
    let s = Signed {
        method: "POST",
        authority: &authority,
        path: "/federation/v1/envelopes",
        query: "",
        body,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut rb = c
        .post(format!("{}/federation/v1/envelopes", to.base))
        .body(body.to_vec());
    for (n, v) in detente_federation::sign(key, &s, now) {
        rb = rb.header(n, v);
    }
    rb.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recipient_that_was_down_gets_everything_exactly_once() {
    let t = tempfile::tempdir().unwrap();
    let (da, db) = (
        init(t.path(), "cert-a.example", "RU"),
        init(t.path(), "cert-b.example", "US"),
    );
    let a = serve(&da, "127.0.0.1:0").await;
    let b = serve(&db, "127.0.0.1:0").await;
    peer(&a, &b, "US").await;
    peer(&b, &a, "RU").await;
    let c = reqwest::Client::new();

    let b_addr = b.addr.to_string();
    b.shutdown().await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(submit(&c, &a, "cert-b.example", n).await);
    }
    // Attempts fail and are recorded while B is down.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let v = show(&c, &a, &ids[0]).await;
    assert_eq!(v["status"], "submitted");
    assert!(v["deliveries"][0]["attempts"].as_u64().unwrap() >= 1, "{v}");
    assert!(v["deliveries"][0]["last_error"].is_string());

    let b = serve(&db, &b_addr).await;
    for id in &ids {
        let mut delivered = false;
        for _ in 0..400 {
            if show(&c, &a, id).await["status"] == "delivered" {
                delivered = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(delivered, "{id} was delivered after B came back");
        assert_eq!(
            show(&c, &b, id).await["timeline"].as_array().unwrap().len(),
            2,
            "recorded once"
        );
    }

    // Redelivering an envelope (a new signed call) returns the same receipt and
    // logs nothing new.
    let first = show(&c, &a, &ids[0]).await;
    let stored = a
        .node
        .entry(first["timeline"][0]["log_index"].as_u64().unwrap())
        .unwrap()
        .unwrap();
    let size = b.node.published().size;
    let r1 = deliver(&c, &b, &key_of(&da), &stored.envelope).await;
    assert_eq!(r1.status(), 200);
    let again: Value = r1.json().await.unwrap();
    assert_eq!(again["receipt"], first["timeline"][0]["receipt"]);
    assert_eq!(b.node.published().size, size);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_third_node_cannot_touch_an_exchange_it_is_not_party_to() {
    let t = tempfile::tempdir().unwrap();
    let (da, db, dc) = (
        init(t.path(), "cert-a.example", "RU"),
        init(t.path(), "cert-b.example", "US"),
        init(t.path(), "cert-c.example", "FR"),
    );
    let a = serve(&da, "127.0.0.1:0").await;
    let b = serve(&db, "127.0.0.1:0").await;
    let cn = serve(&dc, "127.0.0.1:0").await;
    peer(&a, &b, "US").await;
    peer(&b, &a, "RU").await;
    peer(&a, &cn, "FR").await;
    peer(&b, &cn, "FR").await;
    let c = reqwest::Client::new();
    let id = submit(&c, &a, "cert-b.example", 1).await;
    for _ in 0..200 {
        if show(&c, &a, &id).await["status"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let a_env = a
        .node
        .entry(
            show(&c, &a, &id).await["timeline"][0]["log_index"]
                .as_u64()
                .unwrap(),
        )
        .unwrap()
        .unwrap();
    let size_a = a.node.published().size;
    let size_b = b.node.published().size;

    // C relays A's envelope to B under its own signature: refused.
    let r = deliver(&c, &b, &key_of(&dc), &a_env.envelope).await;
    assert!(r.status().is_client_error(), "{}", r.status());
    // C acknowledges A's request with an envelope of its own: refused by A.
    let cnode = &cn.node;
    let ack = cnode
        .sign("request.acknowledged", json!({ "event": { "id": "1b4e28ba-2fa1-41d2-883f-0016d3cca427", "request_id": id, "kind": { "type": "acknowledged" } },
                                             "sender": "cert-a.example", "recipient": "cert-b.example" }))
        .unwrap();
    let r = deliver(&c, &a, &key_of(&dc), ack.bytes()).await;
    assert_eq!(r.status(), 422, "{}", r.text().await.unwrap());
    // C cannot read the exchange through the users' API either.
    let r = c
        .get(format!("{}/api/v1/requests/{id}", a.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        (a.node.published().size, b.node.published().size),
        (size_a, size_b),
        "nothing was logged"
    );
}
