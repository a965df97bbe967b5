//! A hostile counterpart or client against the transport: redirects, calls
//! signed for another node, password floods and guessing, revoked users, and
//! connections that never finish.

use crate::common;

use axum::http::{header, StatusCode, Uri};
use axum::Router;
use common::{peer_with, start, start_tuned, Running};
use detente_auth::Users;
use detente_domain::NodeKey;
use detente_federation::Signed;
use serde_json::{json, Value};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Serves `router` on a fresh loopback port.
async fn listen(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(detente_server::run(
        listener,
        router,
        std::future::pending(),
    ));
    addr
}

/// Answers anything, counting what it receives.
fn counting(hits: Arc<AtomicUsize>) -> Router {
    Router::new().fallback(move || {
        hits.fetch_add(1, Ordering::SeqCst);
        async { "thanks" }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_peer_answering_with_redirects_sends_the_node_nowhere_else() {
    // Where the hostile peer points: it must never hear from A.
    let elsewhere_hits = Arc::new(AtomicUsize::new(0));
    let elsewhere = listen(counting(elsewhere_hits.clone())).await;
    // The peer answers every call with 307 (method and body kept) to there.
    let peer_hits = Arc::new(AtomicUsize::new(0));
    let seen = peer_hits.clone();
    let fake = listen(Router::new().fallback(move |uri: Uri| {
        seen.fetch_add(1, Ordering::SeqCst);
        async move {
            (
                StatusCode::TEMPORARY_REDIRECT,
                [(header::LOCATION, format!("http://{elsewhere}{uri}"))],
            )
        }
    }))
    .await;
    let a = start("cert-a.example", "DE").await;
    let key = NodeKey::generate("cert-b.example").unwrap();
    let c = reqwest::Client::new();
    let r = c
        .post(format!("{}/api/v1/peers", a.base))
        .basic_auth("admin", Some("admin-password"))
        .json(
            &json!({ "origin": "cert-b.example", "url": format!("http://{fake}"),
                       "key": key.verifier().to_string(), "country": "FR" }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = c
        .post(format!("{}/api/v1/requests", a.base))
        .basic_auth("officer", Some("officer-password"))
        .json(&json!({
            "type": "consultation", "reference": "REF-1", "issuing_authority": "National CERT",
            "facts": "Who operates the address block in the annex?", "urgency": "normal",
            "tlp": "green", "recipient": "cert-b.example"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Its envelope delivery and its checkpoint for the peer's witness both
    // reach the peer and fail there, with the reason on record.
    let mut error = String::new();
    for _ in 0..400 {
        let v: Value = c
            .get(format!("{}/api/v1/requests/{id}", a.base))
            .basic_auth("officer", Some("officer-password"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        error = v["deliveries"][0]["last_error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if !error.is_empty() && peer_hits.load(Ordering::SeqCst) >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(error.contains("redirect"), "{error:?}");
    assert!(peer_hits.load(Ordering::SeqCst) >= 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        elsewhere_hits.load(Ordering::SeqCst),
        0,
        "followed a redirect"
    );
}

/// A GET of `path` signed by `key` for `authority`, sent to `to`.
fn signed_get(
    c: &reqwest::Client,
    to: &Running,
    authority: &str,
    path: &str,
    key: &NodeKey,
) -> reqwest::RequestBuilder {
    let s = Signed {
        method: "GET",
        authority,
        path,
        query: "",
        body: b"",
    };
    let mut rb = c
        .get(format!("{}{path}", to.base))
        .header(header::HOST, authority);
    for (name, value) in detente_federation::sign(key, &s, now()) {
        rb = rb.header(name, value);
    }
    rb
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_signed_for_another_node_is_refused() {
    let a = start("cert-a.example", "RU").await;
    let b = start("cert-b.example", "US").await;
    let cn = start("cert-c.example", "DE").await;
    let c = reqwest::Client::new();
    assert_eq!(peer_with(&c, &a, &b, "US").await.status(), 201);
    assert_eq!(peer_with(&c, &cn, &b, "US").await.status(), 201);
    let key_b =
        NodeKey::parse(&std::fs::read_to_string(b.node.dir().join("node.key")).unwrap()).unwrap();
    let path = "/federation/v1/whoami";
    // B's call to C, as C receives it.
    let for_c = signed_get(&c, &cn, &cn.authority, path, &key_b);
    let replayed = for_c.try_clone().unwrap();
    let v: Value = for_c.send().await.unwrap().json().await.unwrap();
    assert_eq!(v["node"], "cert-c.example", "{v}");
    // The same call, captured and replayed at A, which also trusts B.
    let to_a = reqwest::Client::new()
        .execute({
            let mut r = replayed.build().unwrap();
            *r.url_mut() = format!("{}{path}", a.base).parse().unwrap();
            r
        })
        .await
        .unwrap();
    assert_eq!(to_a.status(), 401);
    assert!(to_a.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/problem+json"));
    let problem: Value = to_a.json().await.unwrap();
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains(&cn.authority), "{detail}");
    // B's calls meant for A still work.
    let v: Value = signed_get(&c, &a, &a.authority, path, &key_b)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["peer"], "cert-b.example", "{v}");
}

/// A client whose connections come from `ip` (a loopback address).
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn guessing_a_password_cannot_lock_the_user_out_from_elsewhere() {
    let a = start("cert-a.example", "DE").await;
    let attacker = client_from("127.0.0.1");
    let user = client_from("127.0.0.2");
    let requests = format!("{}/api/v1/requests", a.base);
    for _ in 0..5 {
        let r = attacker
            .get(&requests)
            .basic_auth("officer", Some("guess"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    // The guessing address is throttled, the right password included: 429,
    // with when to retry, on the REST API and on TAXII.
    let r = attacker
        .get(&requests)
        .basic_auth("officer", Some("officer-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let r = attacker
        .get(format!("{}/taxii2/", a.base))
        .basic_auth("officer", Some("officer-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key(header::RETRY_AFTER));
    // The real user, from its own address, is not locked out.
    let r = user
        .get(&requests)
        .basic_auth("officer", Some("officer-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Bearer tokens are not throttled, from the guessing address either.
    let token = Users::new(a.node.store().clone())
        .issue_token("officer")
        .unwrap();
    let r = attacker
        .get(&requests)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_removed_user_or_changed_password_loses_access_at_once() {
    let a = start("cert-a.example", "DE").await;
    let c = reqwest::Client::new();
    let requests = format!("{}/api/v1/requests", a.base);
    let get =
        |user: &'static str, pw: &'static str| c.get(&requests).basic_auth(user, Some(pw)).send();
    assert_eq!(
        get("officer", "officer-password").await.unwrap().status(),
        200
    );
    assert_eq!(
        get("auditor", "auditor-password").await.unwrap().status(),
        200
    );
    // As `detente user passwd` / `user remove` would, from another process.
    let cli = Users::new(detente_node::datadir::open_store(a.node.dir()).unwrap());
    cli.set_password("officer", "changed").unwrap();
    cli.remove_user("auditor").unwrap();
    assert_eq!(
        get("officer", "officer-password").await.unwrap().status(),
        401
    );
    assert_eq!(
        get("auditor", "auditor-password").await.unwrap().status(),
        401
    );
    assert_eq!(get("officer", "changed").await.unwrap().status(), 200);
}

/// `samples` sequential `/healthz` round trips, sorted; from 127.0.0.2, so
/// the flood's address hitting its rate limit does not turn them away.
async fn healthz_latencies(base: &str, samples: usize) -> Vec<Duration> {
    let c = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let mut out = Vec::new();
    for _ in 0..samples {
        let t = Instant::now();
        let r = c.get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        out.push(t.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_flood_neither_stalls_the_node_nor_piles_up() {
    // Guessing from many addresses, as a botnet would: no address throttle.
    let a = start_tuned("cert-a.example", "DE", |c| {
        c.limits.login_failures_per_address = 1_000_000;
        c.limits.password_queue = 4;
    })
    .await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let busy = Arc::new(AtomicUsize::new(0));
    let mut flood = Vec::new();
    for i in 0..32 {
        let (base, stop, busy) = (a.base.clone(), stop.clone(), busy.clone());
        flood.push(tokio::spawn(async move {
            let c = reqwest::Client::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let r = c
                    .get(format!("{base}/api/v1/requests"))
                    .basic_auth(format!("guess-{i}-{n}"), Some("password"))
                    .send()
                    .await
                    .unwrap();
                match r.status().as_u16() {
                    401 => {}
                    // Turned away at once, the rate limit then kicking in.
                    s @ (503 | 429) => {
                        assert!(r.headers().contains_key(header::RETRY_AFTER));
                        if s == 503 {
                            busy.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    s => panic!("{s}"),
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let during = healthz_latencies(&a.base, 40).await;
    stop.store(true, Ordering::Relaxed);
    for f in flood {
        f.await.unwrap();
    }
    let median = during[during.len() / 2];
    // Hashing on the async workers made this hundreds of milliseconds.
    assert!(median < Duration::from_millis(250), "{during:?}");
    // 32 guessers, 4 places in the queue: the rest are turned away at once.
    assert!(busy.load(Ordering::Relaxed) > 0);
}

/// A raw TCP connection to `to` from `from`.
async fn connect(from: &str, to: &str) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(to.parse().unwrap()).await.unwrap()
}

/// Reads until the server closes the connection; how long that took, or
/// `None` if it was still open after `limit`.
async fn closed_within(s: &mut tokio::net::TcpStream, limit: Duration) -> Option<Duration> {
    let t = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((t + limit).into(), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(t.elapsed()),
            Ok(Ok(_)) => continue,
            Err(_) => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_that_never_finish_are_closed_and_capped_per_address() {
    let a = start_tuned("cert-a.example", "DE", |c| {
        c.limits.header_timeout_secs = 2;
        c.limits.idle_timeout_secs = 2;
        c.limits.connections_per_address = 4;
    })
    .await;
    // Headers that never end.
    let mut slow = connect("127.0.0.1", &a.authority).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // A kept-alive connection that goes quiet after one request.
    let mut quiet = connect("127.0.0.1", &a.authority).await;
    quiet
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = quiet.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    // A body that stops coming (the request timeout is 30 s).
    let mut stalled = connect("127.0.0.1", &a.authority).await;
    stalled
        .write_all(b"POST /api/v1/requests HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{")
        .await
        .unwrap();
    // A fourth one fills this address's share; a fifth is closed at once,
    // while another address is served.
    let _fourth = connect("127.0.0.1", &a.authority).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut fifth = connect("127.0.0.1", &a.authority).await;
    let refused = closed_within(&mut fifth, Duration::from_millis(500)).await;
    assert!(refused.is_some(), "a fifth connection from one address");
    let r = client_from("127.0.0.2")
        .get(format!("{}/healthz", a.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        closed_within(&mut slow, Duration::from_secs(5))
            .await
            .is_some(),
        "unfinished headers kept open"
    );
    assert!(
        closed_within(&mut quiet, Duration::from_secs(5))
            .await
            .is_some(),
        "idle keep-alive kept open"
    );
    let stalled_for = closed_within(&mut stalled, Duration::from_secs(5)).await;
    assert!(stalled_for.is_some(), "stalled body kept open");
}
