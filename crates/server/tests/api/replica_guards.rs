//! Two replicas of one node on one PostgreSQL database, behind one public
//! name as a load balancer would put them: the replay cache, the login
//! throttle and the rate limit hold across them as on one replica.
//! Skipped, saying so, without `DETENTE_TEST_POSTGRES`.

use detente_auth::{Role, Users};
use detente_domain::{Country, NodeKey, Origin};
use detente_federation::{SigError, Signed};
use detente_node::config::Config;
use detente_node::{datadir, Node};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// The name both replicas answer to (their `public_urls`).
const PUBLIC: &str = "cert-a.example";

struct Replica {
    node: Arc<Node>,
    base: String,
}

/// Two replicas of a fresh node on a scratch database, its config edited by
/// `tune`, and their directory; `None` (the test skipped) without a
/// PostgreSQL to test on.
async fn replicas(
    test: &str,
    tune: impl FnOnce(&mut Config),
) -> Option<(Replica, Replica, tempfile::TempDir)> {
    let server = detente_storage_postgres::test_server(test)?;
    let database = detente_storage_postgres::scratch_database(&server).unwrap();
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("n");
    let country = Some(Country::parse("US").unwrap());
    datadir::init_on(
        &dir,
        &Origin::parse(PUBLIC).unwrap(),
        country,
        Some(&database),
    )
    .unwrap();
    let users = Users::new(datadir::open_store(&dir).unwrap());
    users
        .add_user("admin", Role::Admin, "admin-password")
        .unwrap();
    let file = dir.join(datadir::CONFIG_FILE);
    let mut config = Config::load(&file).unwrap();
    config.public_urls = vec![format!("http://{PUBLIC}")];
    tune(&mut config);
    std::fs::write(&file, config.to_toml()).unwrap();
    Some((replica(&dir).await, replica(&dir).await, t))
}

async fn replica(dir: &std::path::Path) -> Replica {
    let node = Node::open(dir).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = detente_server::node_app(node.clone()).unwrap();
    tokio::spawn(detente_server::run(listener, app, std::future::pending()));
    Replica { node, base }
}

/// A call to `/federation/v1/whoami` signed by `key`, as the peer sends it
/// to the public name; `send` delivers the very same bytes to any replica.
struct Call(Vec<(String, String)>);

impl Call {
    fn signed(key: &NodeKey) -> Call {
        let s = Signed {
            method: "GET",
            authority: PUBLIC,
            path: "/federation/v1/whoami",
            query: "",
            body: b"",
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        Call(
            detente_federation::sign(key, &s, now)
                .into_iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        )
    }

    async fn send(&self, c: &reqwest::Client, to: &Replica) -> (u16, Value) {
        let mut rb = c
            .get(format!("{}/federation/v1/whoami", to.base))
            .header("host", PUBLIC);
        for (n, v) in &self.0 {
            rb = rb.header(n, v);
        }
        let r = rb.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_replayed_to_another_replica_is_refused() {
    let Some((a, b, _dir)) =
        replicas("a_call_replayed_to_another_replica_is_refused", |_| {}).await
    else {
        return;
    };
    let c = reqwest::Client::new();
    let peer = NodeKey::generate("cert-b.example").unwrap();
    let added = c
        .post(format!("{}/api/v1/peers", a.base))
        .basic_auth("admin", Some("admin-password"))
        .json(
            &json!({ "origin": "cert-b.example", "url": "http://127.0.0.1:9",
                       "key": peer.verifier().to_string(), "country": "DE" }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    for _ in 0..50 {
        if b.node.peer("cert-b.example").unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let replayed = json!(format!("peer signature refused: {}", SigError::Replayed));
    let (first, second) = (Call::signed(&peer), Call::signed(&peer));
    let (status, body) = first.send(&c, &a).await;
    assert_eq!((status, &body["peer"]), (200, &json!("cert-b.example")));
    // On one replica, as the single-node test has it.
    let (status, body) = first.send(&c, &a).await;
    assert_eq!((status, &body["detail"]), (401, &replayed));
    let (status, body) = first.send(&c, &b).await;
    assert_eq!((status, &body["detail"]), (401, &replayed), "A's call at B");
    assert_eq!(second.send(&c, &b).await.0, 200);
    let (status, body) = second.send(&c, &a).await;
    assert_eq!((status, &body["detail"]), (401, &replayed), "B's call at A");
}

#[tokio::test(flavor = "multi_thread")]
async fn login_failures_spread_over_replicas_lock_out_at_the_same_count() {
    let Some((a, b, _dir)) = replicas(
        "login_failures_spread_over_replicas_lock_out_at_the_same_count",
        |c| c.limits.login_failures_per_user = 4,
    )
    .await
    else {
        return;
    };
    let c = reqwest::Client::new();
    let login = |at: &Replica, password: &str| {
        c.get(format!("{}/api/v1/peers", at.base))
            .basic_auth("admin", Some(password))
            .send()
    };
    for (i, at) in [&a, &b, &a, &b].into_iter().enumerate() {
        assert_eq!(login(at, "guess").await.unwrap().status(), 401, "guess {i}");
    }
    for at in [&a, &b] {
        let r = login(at, "admin-password").await.unwrap();
        assert_eq!(r.status(), 429, "four failures in all lock the user out");
        assert!(r.headers().contains_key("retry-after"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rate_limit_holds_across_replicas() {
    let Some((a, b, _dir)) = replicas("the_rate_limit_holds_across_replicas", |c| {
        c.limits.requests_per_second = 1;
        c.limits.burst = 4;
    })
    .await
    else {
        return;
    };
    let c = reqwest::Client::new();
    let mut statuses = Vec::new();
    for at in [&a, &b, &a, &b, &a] {
        let r = c.get(format!("{}/healthz", at.base)).send().await.unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            assert!(r.headers().contains_key("retry-after"));
        }
    }
    // Each replica alone allows a burst of four; together they do too.
    assert_eq!(statuses, [200, 200, 200, 200, 429]);
}
