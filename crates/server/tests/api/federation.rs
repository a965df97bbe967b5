//! Delivery that loses nothing: a recipient down for a while gets everything,
//! exactly once, when it returns; redelivery is idempotent; a third node can
//! neither inject into nor alter an exchange it is not party to.

use detente_auth::{Role, Users};
use detente_domain::{Country, NodeKey, Origin, SignedEnvelope};
use detente_federation::Signed;
use detente_node::Node;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub(crate) struct Running {
    pub(crate) node: Arc<Node>,
    pub(crate) base: String,
    pub(crate) addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub(crate) fn init(root: &Path, origin: &str, country: &str) -> PathBuf {
    let dir = root.join(origin);
    crate::common::init_dir(
        &dir,
        &Origin::parse(origin).unwrap(),
        Some(Country::parse(country).unwrap()),
    )
    .unwrap();
    Users::new(detente_node::datadir::open_store(&dir).unwrap())
        .add_user("officer", Role::Officer, "officer-password")
        .unwrap();
    dir
}

pub(crate) async fn serve(dir: &Path, addr: &str) -> Running {
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

pub(crate) async fn peer(at: &Running, other: &Running, country: &str) {
    let p = detente_node::peers::Peer::parse(
        &other.node.config().origin,
        &other.base,
        &other.node.verifier().to_string(),
        country,
    )
    .unwrap();
    assert!(at.node.add_peer(&p).await.unwrap());
}

pub(crate) fn request_to(to: &str, n: usize) -> Value {
    json!({
        "type": "consultation", "reference": format!("REF-{n}"), "issuing_authority": "National CERT",
        "facts": "Which hosting provider operates the address block in the annex?", "urgency": "normal",
        "tlp": "green", "recipient": to
    })
}

pub(crate) async fn submit(c: &reqwest::Client, at: &Running, to: &str, n: usize) -> String {
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

pub(crate) async fn show(c: &reqwest::Client, at: &Running, id: &str) -> Value {
    c.get(format!("{}/api/v1/requests/{id}", at.base))
        .basic_auth("officer", Some("officer-password"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Polls a request on `at` until `ready` holds or 10 s pass; the last view.
pub(crate) async fn show_until(
    c: &reqwest::Client,
    at: &Running,
    id: &str,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    let mut v = Value::Null;
    for _ in 0..400 {
        v = show(c, at, id).await;
        if ready(&v) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    v
}

/// cert-a.example (RU) and cert-b.example (US), served and peered both ways:
/// A's data directory and node, then B's.
pub(crate) async fn peered_pair(root: &Path) -> (PathBuf, Running, PathBuf, Running) {
    let (da, db) = (
        init(root, "cert-a.example", "RU"),
        init(root, "cert-b.example", "US"),
    );
    let a = serve(&da, "127.0.0.1:0").await;
    let b = serve(&db, "127.0.0.1:0").await;
    peer(&a, &b, "US").await;
    peer(&b, &a, "RU").await;
    (da, a, db, b)
}

pub(crate) fn key_of(dir: &Path) -> NodeKey {
    NodeKey::parse(&std::fs::read_to_string(dir.join("node.key")).unwrap()).unwrap()
}

/// POSTs `body` to `to`'s inbox, signed by `key`.
pub(crate) async fn deliver(
    c: &reqwest::Client,
    to: &Running,
    key: &NodeKey,
    body: &[u8],
) -> reqwest::Response {
    post_signed(c, to, "/federation/v1/envelopes", key, body).await
}

/// POSTs `body` to `path` on `to`, signed by `key` (RFC 9421).
pub(crate) async fn post_signed(
    c: &reqwest::Client,
    to: &Running,
    path: &str,
    key: &NodeKey,
    body: &[u8],
) -> reqwest::Response {
    signed(c, reqwest::Method::POST, to, path, key, body)
        .send()
        .await
        .unwrap()
}

/// A call to `path` on `to`, signed by `key` (RFC 9421).
pub(crate) fn signed(
    c: &reqwest::Client,
    method: reqwest::Method,
    to: &Running,
    path: &str,
    key: &NodeKey,
    body: &[u8],
) -> reqwest::RequestBuilder {
    let authority = to.addr.to_string();
    let s = Signed {
        method: method.as_str(),
        authority: &authority,
        path,
        query: "",
        body,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut rb = c
        .request(method.clone(), format!("{}{path}", to.base))
        .body(body.to_vec());
    for (n, v) in detente_federation::sign(key, &s, now) {
        rb = rb.header(n, v);
    }
    rb
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recipient_that_was_down_gets_everything_exactly_once() {
    let t = tempfile::tempdir().unwrap();
    let (da, a, db, b) = peered_pair(t.path()).await;
    let c = reqwest::Client::new();

    let b_addr = b.addr.to_string();
    b.shutdown().await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(submit(&c, &a, "cert-b.example", n).await);
    }
    // A second event of a request queued behind its first: B must get them
    // in order (a withdrawal before the submission would be refused).
    let r = c
        .post(format!("{}/api/v1/requests/{}/withdraw", a.base, ids[4]))
        .basic_auth("officer", Some("officer-password"))
        .json(&json!({ "reason": "sent in error" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // Attempts fail and are recorded while B is down.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let v = show(&c, &a, &ids[0]).await;
    assert_eq!(v["status"], "submitted");
    assert!(v["deliveries"][0]["attempts"].as_u64().unwrap() >= 1, "{v}");
    assert!(v["deliveries"][0]["last_error"].is_string());

    let b = serve(&db, &b_addr).await;
    for id in &ids[..4] {
        let v = show_until(&c, &a, id, |v| v["status"] == "delivered").await;
        assert_eq!(
            v["status"], "delivered",
            "{id} was delivered after B came back"
        );
        assert_eq!(
            show(&c, &b, id).await["timeline"].as_array().unwrap().len(),
            2,
            "recorded once"
        );
    }
    let withdrawn = show_until(&c, &b, &ids[4], |v| v["status"] == "withdrawn").await;
    let kinds: Vec<&str> = withdrawn["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["submitted", "delivered", "withdrawn"],
        "{withdrawn}"
    );

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
async fn a_peer_that_calls_again_gets_its_backed_off_envelopes_at_once() {
    let t = tempfile::tempdir().unwrap();
    let (_, a, db, b) = peered_pair(t.path()).await;
    let c = reqwest::Client::new();
    let b_addr = b.addr.to_string();
    b.shutdown().await;
    let id = submit(&c, &a, "cert-b.example", 1).await;
    let v = show_until(&c, &a, &id, |v| {
        v["deliveries"][0]["attempts"].as_u64() >= Some(1)
    })
    .await;
    let digest: [u8; 32] = hex::decode(v["deliveries"][0]["envelope"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    // As after a long outage: the next attempt is far away. (Set again until
    // no attempt under way overwrites it.)
    let later = detente_domain::time::now() + chrono::TimeDelta::hours(1);
    let later = detente_domain::time::format(&later);
    for _ in 0..50 {
        a.node
            .store()
            .outbox_failed(&digest, &later, "down")
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        if show(&c, &a, &id).await["deliveries"][0]["next_attempt"] == later.as_str() {
            break;
        }
    }
    assert_eq!(
        show(&c, &a, &id).await["deliveries"][0]["next_attempt"],
        later.as_str()
    );

    // B returns and sends A a request of its own: A takes that as B being
    // back and delivers at once, not in an hour.
    let b = serve(&db, &b_addr).await;
    submit(&c, &b, "cert-a.example", 2).await;
    let v = show_until(&c, &a, &id, |v| v["status"] == "delivered").await;
    assert_eq!(v["status"], "delivered", "{v}");
    assert_eq!(
        show(&c, &b, &id).await["timeline"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

/// How many times `env` is in `node`'s log.
fn times_logged(node: &Node, env: &SignedEnvelope) -> usize {
    (0..node.published().size)
        .filter(|i| node.entry(*i).unwrap().unwrap().digest == *env.digest())
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn what_was_logged_just_before_a_crash_is_not_logged_again() {
    let t = tempfile::tempdir().unwrap();
    let (da, a, db, b) = peered_pair(t.path()).await;
    let c = reqwest::Client::new();
    let b_addr = b.addr.to_string();
    b.shutdown().await;
    let id = submit(&c, &a, "cert-b.example", 1).await;
    let at_a = show(&c, &a, &id).await["timeline"][0]["log_index"]
        .as_u64()
        .unwrap();
    let (submitted, _) = SignedEnvelope::verify(
        &a.node.entry(at_a).unwrap().unwrap().envelope,
        &key_of(&da).verifier(),
    )
    .unwrap();

    // B crashed after logging the submission with its `delivered` (one batch)
    // and before recording them; A crashed after logging that `delivered`
    // from B's reply and before recording it.
    let offline_b = Node::open(&db).unwrap();
    let delivered = offline_b
        .sign("request.delivered", json!({ "event": { "id": "0b4e28ba-2fa1-41d2-883f-0016d3cca427", "request_id": id, "kind": { "type": "delivered" } },
                                           "sender": "cert-a.example", "recipient": "cert-b.example" }))
        .unwrap();
    let in_b = offline_b
        .append(vec![submitted.clone(), delivered.clone()])
        .await
        .unwrap()
        .first_index;
    drop(offline_b);
    let delivered_in_a = a
        .node
        .append(vec![delivered.clone()])
        .await
        .unwrap()
        .first_index;

    let b = serve(&db, &b_addr).await;
    let on_a = show_until(&c, &a, &id, |v| v["status"] == "delivered").await;
    let on_b = show(&c, &b, &id).await;
    let indexes = |v: &Value| -> Vec<u64> {
        v["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["log_index"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(indexes(&on_b), [in_b, in_b + 1], "{on_b}");
    assert_eq!(indexes(&on_a), [at_a, delivered_in_a], "{on_a}");
    assert!(on_a["timeline"][0]["receipt"].is_string(), "{on_a}");
    for (node, env) in [
        (&b.node, &submitted),
        (&b.node, &delivered),
        (&a.node, &delivered),
    ] {
        assert_eq!(times_logged(node, env), 1);
    }
    for dir in [&da, &db] {
        let audit = detente_node::audit::audit(dir).unwrap();
        assert!(audit.problems.is_empty(), "{:?}", audit.problems);
    }
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
    show_until(&c, &a, &id, |v| v["status"] == "delivered").await;
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
    // Not a party: the same 404 as for a request that does not exist.
    assert_eq!(r.status(), 404, "{}", r.text().await.unwrap());
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

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_answers_each_envelope_and_stores_only_what_it_accepts() {
    use base64::{engine::general_purpose::STANDARD as B64, Engine};
    let t = tempfile::tempdir().unwrap();
    let (da, a, _, b) = peered_pair(t.path()).await;
    let c = reqwest::Client::new();
    let id = submit(&c, &a, "cert-b.example", 1).await;
    let first = show_until(&c, &a, &id, |v| v["status"] == "delivered").await;
    let index = first["timeline"][0]["log_index"].as_u64().unwrap();
    let stored = a.node.entry(index).unwrap().unwrap().envelope;
    let tampered = String::from_utf8(stored.clone())
        .unwrap()
        .replace("REF-1", "REF-9");
    let ack_by_sender = a
        .node
        .sign("request.acknowledged", json!({ "event": { "id": "1b4e28ba-2fa1-41d2-883f-0016d3cca427", "request_id": id, "kind": { "type": "acknowledged" } },
                                             "sender": "cert-a.example", "recipient": "cert-b.example" }))
        .unwrap();
    let key = key_of(&da);
    let size = b.node.published().size;

    let batch = json!({ "envelopes": [B64.encode(&stored), B64.encode(tampered), B64.encode(ack_by_sender.bytes())] });
    let r = post_signed(
        &c,
        &b,
        "/federation/v1/batch",
        &key,
        batch.to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(
        results[0]["receipt"], first["timeline"][0]["receipt"],
        "a redelivery gets its first receipt"
    );
    assert_eq!(results[1]["problem"]["status"], 422, "{}", results[1]);
    assert_eq!(results[2]["problem"]["status"], 409, "{}", results[2]);
    assert!(results[2]["problem"]["detail"]
        .as_str()
        .unwrap()
        .contains("acknowledge"));
    assert_eq!(b.node.published().size, size, "nothing refused was logged");

    // Whole-batch errors are problem+json and store nothing.
    let many = json!({ "envelopes": vec![B64.encode(&stored); 257] });
    for (body, status) in [
        (json!({ "envelopes": [] }).to_string(), 422),
        (many.to_string(), 422),
        (json!({ "envelopes": ["not base64!"] }).to_string(), 400),
        ("{\"envelopes\": ".to_string(), 400),
    ] {
        let r = post_signed(&c, &b, "/federation/v1/batch", &key, body.as_bytes()).await;
        assert_eq!(r.status(), status);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    let r = c
        .post(format!("{}/federation/v1/batch", b.base))
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "unsigned");
    assert_eq!(b.node.published().size, size);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_envelope_refused_for_good_is_not_retried_and_holds_back_its_request() {
    let t = tempfile::tempdir().unwrap();
    let a = serve(&init(t.path(), "cert-a.example", "RU"), "127.0.0.1:0").await;
    // A stand-in for cert-b.example that refuses every envelope as an invalid step.
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = calls.clone();
    let refuse = axum::routing::post(move |body: axum::body::Bytes| {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let n = serde_json::from_slice::<Value>(&body).unwrap()["envelopes"]
            .as_array()
            .unwrap()
            .len();
        let problem = json!({ "problem": { "type": "about:blank", "title": "Conflict", "status": 409,
                                           "detail": "cannot act on a request that was answered" } });
        async move { axum::Json(json!({ "results": vec![problem; n] })) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/federation/v1/batch", refuse);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let fake = NodeKey::generate("cert-b.example").unwrap();
    let p = detente_node::peers::Peer::parse(
        "cert-b.example",
        &url,
        &fake.verifier().to_string(),
        "US",
    )
    .unwrap();
    assert!(a.node.add_peer(&p).await.unwrap());
    let c = reqwest::Client::new();

    let id = submit(&c, &a, "cert-b.example", 1).await;
    let v = show_until(&c, &a, &id, |v| {
        v["deliveries"][0]["refused_at"].is_string()
    })
    .await;
    assert!(v["deliveries"][0]["refused_at"].is_string(), "{v}");
    assert!(v["deliveries"][0]["last_error"]
        .as_str()
        .unwrap()
        .starts_with("409"));
    assert_eq!(v["status"], "submitted");

    // The next event of the request waits behind the refused one.
    let r = c
        .post(format!("{}/api/v1/requests/{id}/withdraw", a.base))
        .basic_auth("officer", Some("officer-password"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let v = show(&c, &a, &id).await;
    assert_eq!(v["deliveries"][0]["attempts"], 1, "not retried: {v}");
    assert_eq!(v["deliveries"][1]["attempts"], 0, "held back: {v}");
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    let metrics = c
        .get(format!("{}/metrics", a.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("\ndetente_outbox_refused 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\ndetente_outbox_pending 1\n"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_peer_fetches_the_attachments_cited_to_it_and_nothing_else() {
    let t = tempfile::tempdir().unwrap();
    let (da, db, dc) = (
        init(t.path(), "cert-a.example", "DE"),
        init(t.path(), "cert-b.example", "FR"),
        init(t.path(), "cert-c.example", "NL"),
    );
    let (a, b, cn) = (
        serve(&da, "127.0.0.1:0").await,
        serve(&db, "127.0.0.1:0").await,
        serve(&dc, "127.0.0.1:0").await,
    );
    peer(&a, &b, "FR").await;
    peer(&b, &a, "DE").await;
    peer(&a, &cn, "NL").await;
    peer(&cn, &a, "DE").await;
    let c = reqwest::Client::new();
    let upload = |body: Vec<u8>| {
        c.post(format!("{}/api/v1/attachments", a.base))
            .basic_auth("officer", Some("officer-password"))
            .header("content-type", "application/pdf")
            .body(body)
            .send()
    };
    let order = b"Order of the investigating judge, case 2026/114. ".repeat(40);
    let up: Value = upload(order.clone()).await.unwrap().json().await.unwrap();
    let sha = up["sha256"].as_str().unwrap().to_string();
    let other: Value = upload(b"an internal note".to_vec())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let uncited = other["sha256"].as_str().unwrap().to_string();

    let mut request = request_to("cert-b.example", 1);
    request["attachments"] = json!([{ "name": "order.pdf", "media_type": "application/pdf",
                                       "size": order.len(), "sha256": sha }]);
    let r = c
        .post(format!("{}/api/v1/requests", a.base))
        .basic_auth("officer", Some("officer-password"))
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    show_until(&c, &b, &id, |v| v["status"] == "delivered").await;

    // B's officer downloads it: fetched from A, checked, kept.
    let url = format!("{}/api/v1/attachments/{sha}", b.base);
    let r = c
        .get(&url)
        .basic_auth("officer", Some("officer-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    assert_eq!(r.bytes().await.unwrap().as_ref(), &order[..]);
    assert_eq!(b.node.store().attachment(&sha).unwrap().unwrap().1, order);

    // Only what A cited to the caller leaves A.
    let fetch = |who: &Path, digest: &str| {
        signed(
            &c,
            reqwest::Method::GET,
            &a,
            &format!("/federation/v1/attachments/{digest}"),
            &key_of(who),
            b"",
        )
        .send()
    };
    assert_eq!(fetch(&db, &sha).await.unwrap().status(), 200);
    assert_eq!(
        fetch(&dc, &sha).await.unwrap().status(),
        404,
        "C is not party to the request"
    );
    assert_eq!(
        fetch(&db, &uncited).await.unwrap().status(),
        404,
        "never cited"
    );
    assert_eq!(fetch(&db, "ABC").await.unwrap().status(), 400);
    let r = c
        .get(format!("{}/federation/v1/attachments/{sha}", a.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // A user of B asking for content nobody cited gets 404.
    let r = c
        .get(format!("{}/api/v1/attachments/{uncited}", b.base))
        .basic_auth("officer", Some("officer-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

/// What a request cites leaves with it, so the transfer gate scans the cited
/// content too: precise locations of 1,001 devices bound for a country of
/// concern are held for review, and nothing is sent.
#[tokio::test(flavor = "multi_thread")]
async fn the_gate_scans_cited_content_with_the_event() {
    let t = tempfile::tempdir().unwrap();
    let (da, db) = (
        init(t.path(), "cert-us.example", "US"),
        init(t.path(), "cert-ru.example", "RU"),
    );
    let a = serve(&da, "127.0.0.1:0").await;
    let b = serve(&db, "127.0.0.1:0").await;
    peer(&a, &b, "RU").await;
    let c = reqwest::Client::new();
    let mut csv = String::from("device_id,lat,lon\n");
    for i in 0..1001 {
        csv.push_str(&format!(
            "dev-{i},{}.{:04},{}.{:04}\n",
            40 + i % 10,
            i % 10_000,
            70 + i % 50,
            (i * 7) % 10_000
        ));
    }
    let up: Value = c
        .post(format!("{}/api/v1/attachments", a.base))
        .basic_auth("officer", Some("officer-password"))
        .header("content-type", "text/csv")
        .body(csv.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut request = request_to("cert-ru.example", 1);
    request["attachments"] = json!([{ "name": "devices.csv", "media_type": "text/csv",
                                       "size": csv.len(), "sha256": up["sha256"] }]);
    let size = a.node.published().size;
    let r = c
        .post(format!("{}/api/v1/requests", a.base))
        .basic_auth("officer", Some("officer-password"))
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let detail = r.json::<Value>().await.unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("held it for review"), "{detail}");
    let list: Value = c
        .get(format!("{}/api/v1/requests", a.base))
        .basic_auth("officer", Some("officer-password"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["requests"].as_array().map(Vec::len), Some(0), "{list}");
    // Only the gate's own decision was logged; no request event.
    let kinds: Vec<String> = (size..a.node.published().size)
        .map(|i| a.node.entry(i).unwrap().unwrap().kind)
        .collect();
    assert!(kinds.iter().all(|k| k.starts_with("gate.")), "{kinds:?}");
    drop(b);
}

/// The gate reads what officers send: a zip of CSV logs attached to a request
/// for an RU peer is opened, and 12,000 distinct card numbers in it hold the
/// request (us-dsp, financial bulk threshold 10,000); the same zip with 20
/// cards is delivered.
#[tokio::test(flavor = "multi_thread")]
async fn a_zip_of_card_logs_is_held_in_bulk_and_delivered_when_small() {
    let t = tempfile::tempdir().unwrap();
    let (da, db) = (
        init(t.path(), "cert-us.example", "US"),
        init(t.path(), "cert-ru.example", "RU"),
    );
    let a = serve(&da, "127.0.0.1:0").await;
    let b = serve(&db, "127.0.0.1:0").await;
    peer(&a, &b, "RU").await;
    peer(&b, &a, "US").await;
    let c = reqwest::Client::new();
    for (n, held) in [(12_000, true), (20, false)] {
        let month = |from: usize, to: usize| {
            let mut csv = String::from("timestamp,card\n");
            for i in from..to {
                let card = detente_gate::gen::with_luhn(&format!("4{:014}", i + 1));
                csv.push_str(&format!("2021-01-01T00:00:{:02}Z,{card}\n", i % 60));
            }
            csv.into_bytes()
        };
        let zip = detente_gate::gen::zip_archive(&[
            ("2021/jan.csv", &month(0, n / 2)),
            ("2021/feb.csv", &month(n / 2, n)),
        ]);
        let up: Value = c
            .post(format!("{}/api/v1/attachments", a.base))
            .basic_auth("officer", Some("officer-password"))
            .header("content-type", "application/zip")
            .body(zip.clone())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut request = request_to("cert-ru.example", n);
        request["attachments"] = json!([{ "name": "logs.zip", "media_type": "application/zip",
                                           "size": zip.len(), "sha256": up["sha256"] }]);
        let r = c
            .post(format!("{}/api/v1/requests", a.base))
            .basic_auth("officer", Some("officer-password"))
            .json(&request)
            .send()
            .await
            .unwrap();
        if held {
            assert_eq!(r.status(), 422);
            let detail = r.json::<Value>().await.unwrap()["detail"].to_string();
            assert!(detail.contains("held it for review"), "{detail}");
            continue;
        }
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let id = r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        show_until(&c, &b, &id, |v| v["status"] == "delivered").await;
    }
}

/// A TLS-terminating proxy (as a deployment would put in front of a node) on
/// `listener`, for `localhost`, with a certificate from a fresh CA; returns the
/// CA certificate (PEM).
async fn tls_proxy(listener: tokio::net::TcpListener, to: SocketAddr) -> String {
    use tokio_rustls::rustls;
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "detente test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut upstream = tokio::net::TcpStream::connect(to).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
            });
        }
    });
    ca.pem()
}

#[tokio::test(flavor = "multi_thread")]
async fn peers_are_reached_over_https_with_the_configured_trust_anchors() {
    let t = tempfile::tempdir().unwrap();
    let (da, db, dc) = (
        init(t.path(), "cert-a.example", "DE"),
        init(t.path(), "cert-b.example", "FR"),
        init(t.path(), "cert-c.example", "NL"),
    );
    // Peers call B at the proxy's URL, so B knows that URL as its own.
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = proxy.local_addr().unwrap().port();
    let https_b = format!("https://localhost:{port}");
    let config = std::fs::read_to_string(db.join("config.toml")).unwrap();
    std::fs::write(
        db.join("config.toml"),
        format!("public_urls = [\"{https_b}\"]\n{config}"),
    )
    .unwrap();
    let b = serve(&db, "127.0.0.1:0").await;
    let ca = tls_proxy(proxy, b.addr).await;
    // A trusts the CA that issued B's certificate; C does not.
    std::fs::write(da.join("peers-ca.pem"), ca).unwrap();
    let config = std::fs::read_to_string(da.join("config.toml")).unwrap();
    std::fs::write(
        da.join("config.toml"),
        format!("{config}\n[federation]\nca_file = \"peers-ca.pem\"\n"),
    )
    .unwrap();
    let a = serve(&da, "127.0.0.1:0").await;
    let cn = serve(&dc, "127.0.0.1:0").await;
    for (at, origin) in [(&a, "cert-a.example"), (&cn, "cert-c.example")] {
        let p = detente_node::peers::Peer::parse(
            "cert-b.example",
            &https_b,
            &b.node.verifier().to_string(),
            "FR",
        )
        .unwrap();
        assert!(at.node.add_peer(&p).await.unwrap());
        let back = detente_node::peers::Peer::parse(
            origin,
            &at.base,
            &at.node.verifier().to_string(),
            "DE",
        )
        .unwrap();
        assert!(b.node.add_peer(&back).await.unwrap());
    }
    let c = reqwest::Client::new();
    let from_a = submit(&c, &a, "cert-b.example", 1).await;
    let from_c = submit(&c, &cn, "cert-b.example", 2).await;
    let v = show_until(&c, &a, &from_a, |v| v["status"] == "delivered").await;
    assert_eq!(v["status"], "delivered", "{v}");
    assert!(v["timeline"][0]["receipt"].is_string());
    let v = show_until(&c, &cn, &from_c, |v| {
        v["deliveries"][0]["last_error"].is_string()
    })
    .await;
    assert_eq!(v["status"], "submitted");
    let error = v["deliveries"][0]["last_error"]
        .as_str()
        .unwrap_or_default();
    assert!(error.contains("certificate"), "{v}");
}
