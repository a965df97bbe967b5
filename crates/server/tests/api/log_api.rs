//! A real node on port 0: append, read checkpoints and tiles over HTTP, verify
//! proofs, and check that bad input gets 4xx problem+json.

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use detente_domain::{leaf_for, Origin};
use detente_log::merkle::{hash_leaf, verify_consistency, verify_inclusion, Hash};
use detente_log::Checkpoint;
use detente_node::Node;
use serde_json::{json, Value};
use std::sync::Arc;

struct TestNode {
    node: Arc<Node>,
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

async fn start(edit_config: impl FnOnce(&mut String)) -> TestNode {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node");
    crate::common::init_dir(&path, &Origin::parse("cert-a.example").unwrap(), None).unwrap();
    let cfg_path = path.join("config.toml");
    let mut cfg = std::fs::read_to_string(&cfg_path).unwrap();
    edit_config(&mut cfg);
    std::fs::write(&cfg_path, cfg).unwrap();
    let node = tokio::task::spawn_blocking(move || Node::open(&path))
        .await
        .unwrap()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let app = detente_server::node_app(node.clone()).unwrap();
    tokio::spawn(detente_server::run(listener, app, async move {
        let _ = rx.await;
    }));
    TestNode {
        node,
        base,
        stop: Some(stop),
        _dir: dir,
    }
}

async fn append(node: &Node, n: u64) {
    let envs = (0..n)
        .map(|i| node.sign("test.entry", json!({ "i": i })).unwrap())
        .collect::<Vec<_>>();
    for chunk in envs.chunks(100) {
        node.append(chunk.to_vec()).await.unwrap();
    }
}

async fn get(url: &str) -> reqwest::Response {
    reqwest::get(url).await.unwrap()
}

fn hash(s: &Value) -> Hash {
    B64.decode(s.as_str().unwrap()).unwrap().try_into().unwrap()
}

async fn checkpoint(t: &TestNode) -> Checkpoint {
    let text = get(&format!("{}/log/checkpoint", t.base))
        .await
        .text()
        .await
        .unwrap();
    Checkpoint::open(&text, &[t.node.verifier()]).unwrap().0
}

#[tokio::test]
async fn tiles_checkpoints_and_proofs_verify() {
    let t = start(|_| {}).await;
    append(&t.node, 299).await;
    let cp = checkpoint(&t).await;
    assert_eq!(cp.size, 300, "genesis entry plus 299");

    // Level-0 tiles hold leaf hashes; entry bundles hold the leaves they hash.
    let full = get(&format!("{}/log/tile/0/000", t.base)).await;
    assert_eq!(full.status(), 200);
    assert!(full.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let full = full.bytes().await.unwrap();
    assert_eq!(full.len(), 8192);
    let partial = get(&format!("{}/log/tile/0/001.p/44", t.base))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(partial.len(), 44 * 32);
    let bundle = get(&format!("{}/log/tile/entries/001.p/44", t.base))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(bundle.len(), 44 * 35);
    for i in 0..44 {
        let e = &bundle[i * 35..(i + 1) * 35];
        assert_eq!(&e[..2], &[0, 33]);
        assert_eq!(
            hash_leaf(&e[2..]).as_slice(),
            &partial[i * 32..(i + 1) * 32]
        );
    }
    let stored = t.node.entry(256).unwrap().unwrap();
    assert_eq!(&bundle[2..35], leaf_for(&stored.digest).as_slice());
    let level1 = get(&format!("{}/log/tile/1/000.p/1", t.base))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(level1.len(), 32);

    // Inclusion proofs verify against the signed checkpoint's root.
    for index in [0u64, 1, 128, 255, 256, 299] {
        let p: Value = get(&format!(
            "{}/log/proof/inclusion?index={index}&size=300",
            t.base
        ))
        .await
        .json()
        .await
        .unwrap();
        let hashes: Vec<Hash> = p["hashes"].as_array().unwrap().iter().map(hash).collect();
        let leaf: Hash = full_or_partial_leaf(&full, &partial, index);
        verify_inclusion(index, 300, &leaf, &hashes, &cp.root).unwrap();
        assert_eq!(hash(&p["leaf_hash"]), leaf);
    }

    // Consistency from an older size to the current checkpoint.
    let old_root = t.node.root_at(100).unwrap();
    let p: Value = get(&format!("{}/log/proof/consistency?from=100&to=300", t.base))
        .await
        .json()
        .await
        .unwrap();
    let hashes: Vec<Hash> = p["hashes"].as_array().unwrap().iter().map(hash).collect();
    verify_consistency(100, 300, &old_root, &cp.root, &hashes).unwrap();
}

/// RFC 9162 2.1.4: a proof between equal sizes is empty; none exists from 0.
#[tokio::test]
async fn consistency_proofs_are_defined_from_one_up_to_equal_sizes() {
    let t = start(|_| {}).await;
    append(&t.node, 9).await;
    let p: Value = get(&format!("{}/log/proof/consistency?from=10&to=10", t.base))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(p, json!({ "from": 10, "to": 10, "hashes": [] }));
    let body = assert_problem(
        get(&format!("{}/log/proof/consistency?from=0&to=10", t.base)).await,
        400,
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("from=0"),
        "{body}"
    );
}

/// C2SP tlog-tiles: entry bundles SHOULD be compressed for clients that accept
/// it; the bytes are the same once decompressed, and others get them plain.
#[tokio::test]
async fn entry_bundles_are_gzipped_for_clients_that_accept_it() {
    let t = start(|_| {}).await;
    append(&t.node, 299).await;
    let client = reqwest::Client::new();
    for tile in ["000", "001.p/44"] {
        let url = format!("{}/log/tile/entries/{tile}", t.base);
        let plain = client.get(&url).send().await.unwrap();
        assert_eq!(plain.status(), 200);
        assert!(plain.headers().get("content-encoding").is_none());
        assert_eq!(
            plain.headers()["vary"],
            "accept-encoding",
            "caches key on it"
        );
        let plain = plain.bytes().await.unwrap();
        assert_eq!(plain.len() % 35, 0);
        let gz = client
            .get(&url)
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(gz.status(), 200);
        assert_eq!(gz.headers()["content-encoding"], "gzip");
        let vary = gz.headers()["vary"].to_str().unwrap().to_ascii_lowercase();
        assert!(vary.contains("accept-encoding"), "{vary}");
        let packed = gz.bytes().await.unwrap();
        let mut unpacked = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&packed[..]),
            &mut unpacked,
        )
        .unwrap();
        assert_eq!(unpacked, plain, "tile/entries/{tile}");
    }
    // Hash tiles are incompressible: served as they are.
    let r = client
        .get(format!("{}/log/tile/0/000", t.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("content-encoding").is_none());
    assert_eq!(r.bytes().await.unwrap().len(), 8192);
}

fn full_or_partial_leaf(full: &[u8], partial: &[u8], index: u64) -> Hash {
    let i = index as usize;
    let src = if i < 256 {
        &full[i * 32..]
    } else {
        &partial[(i - 256) * 32..]
    };
    src[..32].try_into().unwrap()
}

async fn assert_problem(resp: reqwest::Response, status: u16) -> Value {
    assert_eq!(
        resp.status().as_u16(),
        status,
        "{:?}",
        resp.url().to_string()
    );
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert_eq!(ct, "application/problem+json");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(!body["detail"].as_str().unwrap().is_empty());
    body
}

#[tokio::test]
async fn bad_input_gets_problem_json() {
    let t = start(|c| *c = c.replace("max_body_bytes = 10485760", "max_body_bytes = 1024")).await;
    append(&t.node, 10).await;
    let b = &t.base;
    for path in [
        "/log/tile/0/0000",
        "/log/tile/00/000",
        "/log/tile/64/000",
        "/log/tile/0/000.p/0",
        "/log/tile/0/000.p/256",
        "/log/tile/0/x000/001",
        "/log/tile/x/000",
        "/log/tile/0",
        "/log/proof/inclusion",
        "/log/proof/inclusion?index=abc",
        "/log/proof/inclusion?index=-1",
        "/log/proof/inclusion?index=11&size=11",
        "/log/proof/inclusion?index=0&size=12",
        "/log/proof/inclusion?index=+1",
        "/log/proof/consistency?from=5",
        "/log/proof/consistency?from=9&to=5",
        "/log/proof/consistency?from=1&to=99",
        "/log/proof/consistency?from=0&to=5",
        "/log/proof/consistency?from=0&to=0",
        "/log/tile/entries/0000",
        "/log/tile/entries/000.p/0",
        "/log/proof/inclusion?index=99999999999999999999999",
    ] {
        assert_problem(get(&format!("{b}{path}")).await, 400).await;
    }
    for path in [
        "/log/tile/0/000",
        "/log/tile/0/001.p/1",
        "/log/tile/entries/000",
        "/log/tile/1/000.p/1",
        "/nope",
    ] {
        assert_problem(get(&format!("{b}{path}")).await, 404).await;
    }
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{b}/log/checkpoint"))
        .send()
        .await
        .unwrap();
    assert_problem(r, 405).await;
    let r = client
        .post(format!("{b}/log/checkpoint"))
        .body(vec![b'x'; 4096])
        .send()
        .await
        .unwrap();
    assert_problem(r, 413).await;
    // Nothing above changed the log.
    assert_eq!(checkpoint(&t).await.size, 11);
}

#[tokio::test]
async fn private_log_needs_credentials() {
    let t = start(|c| *c = c.replace("public = true", "public = false")).await;
    let r = get(&format!("{}/log/checkpoint", t.base)).await;
    assert!(r.headers().contains_key("www-authenticate"));
    assert_problem(r, 401).await;
    let users = detente_auth::Users::new(t.node.store().clone());
    users
        .add_user("ada", detente_auth::Role::Auditor, "ada-password")
        .unwrap();
    let c = reqwest::Client::new();
    let url = format!("{}/log/checkpoint", t.base);
    let r = c
        .get(&url)
        .basic_auth("ada", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .get(&url)
        .basic_auth("ada", Some("ada-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let token = users.issue_token("ada").unwrap();
    assert_eq!(
        c.get(&url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Health and metrics stay readable for monitoring.
    assert_eq!(get(&format!("{}/healthz", t.base)).await.status(), 200);
}

#[tokio::test]
async fn health_and_metrics() {
    let t = start(|_| {}).await;
    append(&t.node, 5).await;
    let h: Value = get(&format!("{}/healthz", t.base))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(h["status"], "ok");
    assert_eq!(h["tree_size"], 6);
    let m = get(&format!("{}/metrics", t.base))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        m.contains("# TYPE detente_log_tree_size gauge\ndetente_log_tree_size 6\n"),
        "{m}"
    );
    assert!(m.contains("detente_log_appends_total 6"));
    assert!(m.contains("\ndetente_log_tree_rebuilt_leaves 0\n"), "{m}");
}

#[tokio::test]
async fn rate_limit_answers_429_problem() {
    let t = start(|c| {
        *c = c
            .replace("requests_per_second = 1000", "requests_per_second = 1")
            .replace("burst = 2000", "burst = 3")
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(get(&format!("{}/log/checkpoint", t.base)).await);
    }
    let last = statuses.pop().unwrap();
    assert!(last.headers().contains_key("retry-after"));
    assert_problem(last, 429).await;
}
