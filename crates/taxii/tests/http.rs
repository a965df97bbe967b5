//! End-to-end tests of the TAXII 2.1 router over real HTTP on 127.0.0.1:0.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use detente_auth::{AuthError, Authenticator, Principal, PrincipalKind, Role, Users};
use detente_taxii::{Collection, OutboundDecision, OutboundFilter, Taxii, TaxiiConfig};
use reqwest::StatusCode;
use serde_json::{json, Value};

const TAXII: &str = "application/taxii+json;version=2.1";
const RED: &str = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";
const MAX_BODY: usize = 256 * 1024;

/// The node store in `dir`, where the TAXII tables are.
fn store(dir: &Path) -> Arc<detente_storage_sqlite::SqliteStore> {
    Arc::new(detente_storage_sqlite::SqliteStore::open(&dir.join("detente.db")).unwrap())
}

struct Node {
    base: String,
    client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Node {
    async fn start(dir: &Path) -> Node {
        let store = store(dir);
        let users = Arc::new(Users::new(store.clone()));
        Node::start_with(Taxii::with_store(store, users, config()).unwrap()).await
    }

    async fn start_with(taxii: Taxii) -> Node {
        let taxii = Arc::new(taxii);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, detente_taxii::router(taxii))
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        Node {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    async fn stop(mut self) {
        let _ = self.shutdown.take().unwrap().send(());
        self.server.take().unwrap().await.unwrap();
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, path: &str, user: &str) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let r = self
            .client
            .get(self.url(path))
            .basic_auth(user, Some(password(user)))
            .header("accept", TAXII)
            .send()
            .await
            .unwrap();
        split(r).await
    }

    async fn post(&self, path: &str, user: &str, body: String) -> (StatusCode, Value) {
        let r = self
            .client
            .post(self.url(path))
            .basic_auth(user, Some(password(user)))
            .header("accept", TAXII)
            .header("content-type", TAXII)
            .body(body)
            .send()
            .await
            .unwrap();
        let (s, _, v) = split(r).await;
        (s, v)
    }

    async fn delete(&self, path: &str, user: &str) -> StatusCode {
        self.client
            .delete(self.url(path))
            .basic_auth(user, Some(password(user)))
            .header("accept", TAXII)
            .send()
            .await
            .unwrap()
            .status()
    }
}

fn config() -> TaxiiConfig {
    TaxiiConfig {
        max_content_length: MAX_BODY,
        ..TaxiiConfig::default()
    }
}

async fn split(r: reqwest::Response) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    };
    (status, headers, value)
}

fn password(user: &str) -> String {
    format!("{user}-pw")
}

/// alice reads and writes `main` and is a TLP:RED recipient; bob only reads
/// it; carol has her own collection and no access to `main`.
fn setup(dir: &Path) -> String {
    let users = Users::new(Arc::new(
        detente_storage_sqlite::SqliteStore::open(&dir.join("detente.db")).unwrap(),
    ));
    for (name, role) in [
        ("alice", Role::Officer),
        ("bob", Role::Auditor),
        ("carol", Role::Officer),
    ] {
        users.add_user(name, role, &password(name)).unwrap();
    }
    let store = store(dir);
    let main = Collection {
        id: "9cfa669c-ee94-4ece-afd2-f8edac37d8fd".into(),
        title: "main".into(),
        description: Some("test".into()),
        alias: Some("main".into()),
        read: vec!["alice".into(), "bob".into()],
        write: vec!["alice".into()],
        red_recipients: vec!["alice".into()],
    };
    let carol = Collection {
        id: "2e3e8e0a-7a0c-4c44-8c7e-6f0b8d7b8f11".into(),
        title: "carol's".into(),
        description: None,
        alias: None,
        read: vec!["carol".into()],
        write: vec!["carol".into()],
        red_recipients: vec![],
    };
    detente_taxii::TaxiiStore::create_collection(store.as_ref(), &main).unwrap();
    detente_taxii::TaxiiStore::create_collection(store.as_ref(), &carol).unwrap();
    main.id
}

async fn node() -> (tempfile::TempDir, Node, String) {
    let dir = tempfile::tempdir().unwrap();
    let cid = setup(dir.path());
    let node = Node::start(dir.path()).await;
    (dir, node, cid)
}

fn indicator(n: u32, modified: &str) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
        "created": "2020-01-01T00:00:00.000Z", "modified": modified,
        "pattern": "[ipv4-addr:value = '198.51.100.1']", "pattern_type": "stix",
        "valid_from": "2020-01-01T00:00:00Z"
    })
}

fn envelope(objects: Vec<Value>) -> String {
    json!({ "objects": objects }).to_string()
}

fn objects_path(cid: &str) -> String {
    format!("/taxii2/api/collections/{cid}/objects/")
}

fn ids(envelope: &Value) -> Vec<String> {
    envelope["objects"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|o| o["id"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

async fn post_ok(node: &Node, cid: &str, objects: Vec<Value>) -> Value {
    let (s, status) = node
        .post(&objects_path(cid), "alice", envelope(objects))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{status}");
    status
}

#[tokio::test]
async fn discovery_and_api_root() {
    let (_d, node, _) = node().await;
    let (s, h, v) = node.get("/taxii2/", "alice").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["content-type"], TAXII);
    assert_eq!(v["api_roots"][0], format!("{}/taxii2/api/", node.base));
    assert_eq!(v["default"], v["api_roots"][0]);
    let (s, _, v) = node.get("/taxii2/api/", "alice").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["versions"], json!([TAXII]));
    assert_eq!(v["max_content_length"], MAX_BODY);
    let (s, _, v) = node.get("/taxii2/api/nope/", "alice").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["http_status"], "404");
}

#[tokio::test]
async fn authentication_errors() {
    let (_d, node, _) = node().await;
    let r = node.client.get(node.url("/taxii2/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    let (_, _, body) = split(r).await;
    assert_eq!(body["http_status"], "401");
    assert!(body["title"].is_string());
    let r = node
        .client
        .get(node.url("/taxii2/"))
        .basic_auth("alice", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bearer_tokens_authenticate() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let token = Users::new(Arc::new(
        detente_storage_sqlite::SqliteStore::open(&dir.path().join("detente.db")).unwrap(),
    ))
    .issue_token("bob")
    .unwrap();
    let node = Node::start(dir.path()).await;
    let r = node
        .client
        .get(node.url("/taxii2/api/collections/"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = node
        .client
        .get(node.url("/taxii2/"))
        .bearer_auth("forged")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn accept_header_is_enforced() {
    let (_d, node, _) = node().await;
    for (accept, expected) in [
        ("application/json", StatusCode::NOT_ACCEPTABLE),
        (
            "application/taxii+json;version=2.0",
            StatusCode::NOT_ACCEPTABLE,
        ),
        ("application/taxii+json", StatusCode::OK),
        ("*/*", StatusCode::OK),
    ] {
        let r = node
            .client
            .get(node.url("/taxii2/"))
            .basic_auth("alice", Some("alice-pw"))
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), expected, "{accept}");
    }
}

#[tokio::test]
async fn collections_respect_access_lists() {
    let (_d, node, cid) = node().await;
    let (s, _, v) = node.get("/taxii2/api/collections/", "alice").await;
    assert_eq!(s, StatusCode::OK);
    let list = v["collections"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], cid);
    assert_eq!(list[0]["can_write"], true);
    assert_eq!(
        list[0]["media_types"],
        json!(["application/stix+json;version=2.1"])
    );
    let (_, _, v) = node
        .get(&format!("/taxii2/api/collections/{cid}/"), "bob")
        .await;
    assert_eq!(
        (v["can_read"].clone(), v["can_write"].clone()),
        (json!(true), json!(false))
    );
    let (s, _, _) = node
        .get(&format!("/taxii2/api/collections/{cid}/"), "carol")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = node.get(&objects_path(&cid), "carol").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, v) = node.get("/taxii2/api/collections/main/", "alice").await;
    assert_eq!((s, v["id"].clone()), (StatusCode::OK, json!(cid)));
}

#[tokio::test]
async fn add_objects_reports_status() {
    let (_d, node, cid) = node().await;
    let mut bad = indicator(3, "2020-01-01T00:00:00.000Z");
    bad.as_object_mut().unwrap().remove("pattern");
    let status = post_ok(
        &node,
        &cid,
        vec![
            indicator(1, "2020-01-01T00:00:00.000Z"),
            bad,
            indicator(2, "2020-01-01T00:00:00.000Z"),
        ],
    )
    .await;
    assert_eq!(status["status"], "complete");
    assert_eq!(status["total_count"], 3);
    assert_eq!(status["success_count"], 2);
    assert_eq!(status["failure_count"], 1);
    assert_eq!(status["pending_count"], 0);
    assert!(status["failures"][0]["message"]
        .as_str()
        .unwrap()
        .contains("pattern"));
    let sid = status["id"].as_str().unwrap();
    let (s, _, again) = node
        .get(&format!("/taxii2/api/status/{sid}/"), "alice")
        .await;
    assert_eq!((s, again), (StatusCode::OK, status.clone()));
    let (s, _, _) = node.get(&format!("/taxii2/api/status/{sid}/"), "bob").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, _, listed) = node.get(&objects_path(&cid), "bob").await;
    assert_eq!(ids(&listed).len(), 2);
}

#[tokio::test]
async fn bad_posts_are_refused_whole() {
    let (_d, node, cid) = node().await;
    let path = objects_path(&cid);
    let one = envelope(vec![indicator(1, "2020-01-01T00:00:00Z")]);
    let r = node
        .client
        .post(node.url(&path))
        .basic_auth("alice", Some("alice-pw"))
        .header("content-type", "application/json")
        .body(one.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (s, v) = node.post(&path, "alice", "{\"objects\": [".into()).await;
    assert_eq!(
        (s, v["http_status"].clone()),
        (StatusCode::BAD_REQUEST, json!("400"))
    );
    for body in ["{}", "{\"objects\": []}", "{\"objects\": 5}", "[1]"] {
        let (s, _) = node.post(&path, "alice", body.into()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    let huge = envelope(vec![json!({"type": "x", "pad": "a".repeat(MAX_BODY)})]);
    let (s, v) = node.post(&path, "alice", huge).await;
    assert_eq!(
        (s, v["http_status"].clone()),
        (StatusCode::PAYLOAD_TOO_LARGE, json!("413"))
    );
    let (s, _) = node.post(&path, "bob", one.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = node.post(&path, "carol", one).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, _, listed) = node.get(&path, "alice").await;
    assert_eq!(listed, json!({"more": false}));
}

#[tokio::test]
async fn chunked_body_over_limit_is_413() {
    use base64::Engine;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (_d, node, cid) = node().await;
    let addr = node.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode("alice:alice-pw");
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {auth}\r\n\
         Content-Type: {TAXII}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        objects_path(&cid)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // No Content-Length: the server has to count the chunks itself.
    let chunk = format!("2000\r\n{}\r\n", " ".repeat(0x2000));
    for _ in 0..(MAX_BODY / 0x2000 + 2) {
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
}

#[tokio::test]
async fn paging_with_limit_and_next() {
    let (_d, node, cid) = node().await;
    let all: Vec<Value> = (0..25)
        .map(|n| indicator(n, "2020-01-01T00:00:00Z"))
        .collect();
    post_ok(&node, &cid, all).await;
    let path = objects_path(&cid);
    let (s, h, page) = node.get(&format!("{path}?limit=10"), "bob").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(page["more"], true);
    assert_eq!(ids(&page).len(), 10);
    let first = h["x-taxii-date-added-first"].to_str().unwrap().to_string();
    let last = h["x-taxii-date-added-last"].to_str().unwrap().to_string();
    assert!(
        first < last && first.ends_with('Z') && first.len() == 27,
        "{first} {last}"
    );
    let mut seen = ids(&page);
    let mut next = page["next"].as_str().unwrap().to_string();
    loop {
        let (s, _, page) = node
            .get(&format!("{path}?limit=10&next={next}"), "bob")
            .await;
        assert_eq!(s, StatusCode::OK);
        seen.extend(ids(&page));
        match page["next"].as_str() {
            Some(n) => next = n.to_string(),
            None => {
                assert_eq!(page["more"], false);
                break;
            }
        }
    }
    let expected: Vec<String> = (0..25)
        .map(|n| format!("indicator--00000000-0000-4000-8000-{n:012}"))
        .collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn bad_parameters_are_400() {
    let (_d, node, cid) = node().await;
    let all: Vec<Value> = (0..3)
        .map(|n| indicator(n, "2020-01-01T00:00:00Z"))
        .collect();
    post_ok(&node, &cid, all).await;
    let path = objects_path(&cid);
    let (_, _, page) = node
        .get(&format!("{path}?limit=1&match[type]=indicator"), "bob")
        .await;
    let next = page["next"].as_str().unwrap().to_string();
    let mut forged = next.clone();
    forged.replace_range(5..6, if &forged[5..6] == "A" { "B" } else { "A" });
    for query in [
        "limit=0".to_string(),
        "limit=x".to_string(),
        "added_after=yesterday".to_string(),
        "match[version]=newest".to_string(),
        format!("next={forged}"),
        "next=garbage".to_string(),
        format!("next={next}&match[type]=malware"),
    ] {
        let (s, _, v) = node.get(&format!("{path}?{query}"), "bob").await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(v["http_status"], "400");
    }
    let manifest = format!("/taxii2/api/collections/{cid}/manifest/?next={next}");
    let (s, _, _) = node.get(&manifest, "bob").await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "a cursor belongs to its listing"
    );
    let (s, _, v) = node.get(&format!("{path}?next={next}"), "bob").await;
    assert_eq!(s, StatusCode::OK, "filters come from the cursor");
    assert_eq!(ids(&v).len(), 2);
}

#[tokio::test]
async fn filters_select_objects() {
    let (_d, node, cid) = node().await;
    let malware = json!({
        "type": "malware", "spec_version": "2.1",
        "id": "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b",
        "created": "2020-01-01T00:00:00Z", "modified": "2020-01-01T00:00:00Z",
        "is_family": true, "name": "Poison Ivy"
    });
    post_ok(
        &node,
        &cid,
        vec![indicator(1, "2020-01-01T00:00:00Z"), malware],
    )
    .await;
    let (_, h, _) = node.get(&objects_path(&cid), "bob").await;
    let first_added = h["x-taxii-date-added-first"].to_str().unwrap().to_string();
    post_ok(&node, &cid, vec![indicator(2, "2020-01-01T00:00:00Z")]).await;
    let path = objects_path(&cid);
    let q = |query: &str| format!("{path}?{query}");
    let (_, _, v) = node.get(&q("match[type]=malware"), "bob").await;
    assert_eq!(
        ids(&v),
        vec!["malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"]
    );
    let (_, _, v) = node.get(&q("match[type]=malware,indicator"), "bob").await;
    assert_eq!(ids(&v).len(), 3);
    let two = "indicator--00000000-0000-4000-8000-000000000002";
    let one = "indicator--00000000-0000-4000-8000-000000000001";
    let (_, _, v) = node.get(&q(&format!("match[id]={one},{two}")), "bob").await;
    assert_eq!(ids(&v), vec![one, two]);
    let (_, _, v) = node.get(&q("match[spec_version]=2.0"), "bob").await;
    assert_eq!(ids(&v).len(), 0);
    let (_, _, v) = node.get(&q("match[spec_version]=2.1"), "bob").await;
    assert_eq!(ids(&v).len(), 3);
    let (_, _, v) = node
        .get(&q(&format!("added_after={first_added}")), "bob")
        .await;
    assert_eq!(
        ids(&v),
        vec!["malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b", two]
    );
}

#[tokio::test]
async fn versions_are_keyed_by_modified() {
    let (_d, node, cid) = node().await;
    let v1 = indicator(7, "2020-01-01T00:00:00.000Z");
    let v2 = indicator(7, "2021-01-01T00:00:00.000Z");
    post_ok(&node, &cid, vec![v1.clone()]).await;
    post_ok(&node, &cid, vec![v2.clone()]).await;
    // Same modified (different precision) is the same version, not a new one.
    let mut again = v1.clone();
    again["modified"] = json!("2020-01-01T00:00:00Z");
    let status = post_ok(&node, &cid, vec![again]).await;
    assert_eq!(status["success_count"], 1);
    let id = v1["id"].as_str().unwrap();
    let obj = format!("{}{id}/", objects_path(&cid));
    let (s, h, v) = node.get(&format!("{obj}versions/"), "bob").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v["versions"],
        json!(["2020-01-01T00:00:00.000Z", "2021-01-01T00:00:00.000Z"])
    );
    assert!(h.contains_key("x-taxii-date-added-last"));
    let (_, _, v) = node.get(&obj, "bob").await;
    assert_eq!(v["objects"], json!([v2]));
    let (_, _, v) = node
        .get(&format!("{obj}?match[version]=first"), "bob")
        .await;
    assert_eq!(v["objects"], json!([v1]));
    let (_, _, v) = node.get(&format!("{obj}?match[version]=all"), "bob").await;
    assert_eq!(v["objects"].as_array().unwrap().len(), 2);
    let (_, _, v) = node
        .get(&format!("{obj}?match[version]=2021-01-01T00:00:00Z"), "bob")
        .await;
    assert_eq!(v["objects"], json!([v2]));
    let (_, _, v) = node.get(&objects_path(&cid), "bob").await;
    assert_eq!(
        v["objects"],
        json!([v2]),
        "listing shows the last version only"
    );
    let (_, _, m) = node
        .get(
            &format!("/taxii2/api/collections/{cid}/manifest/?match[version]=all"),
            "bob",
        )
        .await;
    let records = m["objects"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[1]["version"], "2021-01-01T00:00:00.000Z");
    assert_eq!(
        records[1]["media_type"],
        "application/stix+json;version=2.1"
    );
    assert!(
        records[0]["date_added"].as_str().unwrap() < records[1]["date_added"].as_str().unwrap()
    );
    let (s, _, _) = node
        .get(
            &format!(
                "{}indicator--00000000-0000-4000-8000-000000000099/",
                objects_path(&cid)
            ),
            "bob",
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn delete_removes_versions() {
    let (_d, node, cid) = node().await;
    post_ok(&node, &cid, vec![indicator(7, "2020-01-01T00:00:00Z")]).await;
    post_ok(&node, &cid, vec![indicator(7, "2021-01-01T00:00:00Z")]).await;
    let obj = format!(
        "{}indicator--00000000-0000-4000-8000-000000000007/",
        objects_path(&cid)
    );
    assert_eq!(node.delete(&obj, "bob").await, StatusCode::FORBIDDEN);
    assert_eq!(node.delete(&obj, "carol").await, StatusCode::NOT_FOUND);
    assert_eq!(
        node.delete(&format!("{obj}?match[version]=first"), "alice")
            .await,
        StatusCode::OK
    );
    let (_, _, v) = node.get(&format!("{obj}versions/"), "bob").await;
    assert_eq!(v["versions"], json!(["2021-01-01T00:00:00Z"]));
    let (_, _, v) = node.get(&obj, "bob").await;
    assert_eq!(v["objects"][0]["modified"], "2021-01-01T00:00:00Z");
    // Deleting the newest version makes the previous one the latest again.
    post_ok(&node, &cid, vec![indicator(7, "2022-01-01T00:00:00Z")]).await;
    assert_eq!(
        node.delete(&format!("{obj}?match[version]=last"), "alice")
            .await,
        StatusCode::OK
    );
    let (_, _, v) = node.get(&obj, "bob").await;
    assert_eq!(v["objects"][0]["modified"], "2021-01-01T00:00:00Z");
    let (_, _, listed) = node.get(&objects_path(&cid), "bob").await;
    assert_eq!(ids(&listed).len(), 1);
    assert_eq!(node.delete(&obj, "alice").await, StatusCode::OK);
    let (s, _, _) = node.get(&obj, "bob").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(node.delete(&obj, "alice").await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn tlp_red_only_for_named_recipients() {
    let (_d, node, cid) = node().await;
    let mut red = indicator(9, "2020-01-01T00:00:00Z");
    red["object_marking_refs"] = json!([RED]);
    post_ok(&node, &cid, vec![red, indicator(8, "2020-01-01T00:00:00Z")]).await;
    let (_, _, v) = node.get(&objects_path(&cid), "alice").await;
    assert_eq!(ids(&v).len(), 2);
    let (_, _, v) = node.get(&objects_path(&cid), "bob").await;
    assert_eq!(
        ids(&v),
        vec!["indicator--00000000-0000-4000-8000-000000000008"]
    );
    let red_path = format!(
        "{}indicator--00000000-0000-4000-8000-000000000009/",
        objects_path(&cid)
    );
    let (s, _, _) = node.get(&red_path, "bob").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn observables_have_one_version() {
    let (_d, node, cid) = node().await;
    let ip = json!({
        "type": "ipv4-addr", "spec_version": "2.1",
        "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "198.51.100.3"
    });
    post_ok(&node, &cid, vec![ip.clone()]).await;
    post_ok(&node, &cid, vec![ip.clone()]).await;
    let (_, _, v) = node
        .get(
            &format!(
                "{}{}/versions/",
                objects_path(&cid),
                ip["id"].as_str().unwrap()
            ),
            "bob",
        )
        .await;
    assert_eq!(v["versions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn wrong_methods_are_405() {
    let (_d, node, cid) = node().await;
    let r = node
        .client
        .put(node.url(&objects_path(&cid)))
        .basic_auth("alice", Some("alice-pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(split(r).await.2["http_status"], "405");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_during_concurrent_writes_skips_and_repeats_nothing() {
    let (_d, node, cid) = node().await;
    let node = Arc::new(node);
    let writer = {
        let (node, cid) = (node.clone(), cid.clone());
        tokio::spawn(async move {
            for batch in 0..40u32 {
                let objects = (0..10)
                    .map(|i| indicator(batch * 10 + i, "2020-01-01T00:00:00Z"))
                    .collect();
                post_ok(&node, &cid, objects).await;
            }
        })
    };
    let path = objects_path(&cid);
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    let mut last_added: Option<String> = None;
    // Page until the writer is done and a page reports nothing more.
    loop {
        let query = match (&next, &last_added) {
            (Some(n), _) => format!("{path}?limit=7&next={n}"),
            (None, Some(t)) => format!("{path}?limit=7&added_after={t}"),
            (None, None) => format!("{path}?limit=7"),
        };
        let (s, h, page) = node.get(&query, "bob").await;
        assert_eq!(s, StatusCode::OK);
        seen.extend(ids(&page));
        if let Some(t) = h.get("x-taxii-date-added-last") {
            last_added = Some(t.to_str().unwrap().to_string());
        }
        next = page["next"].as_str().map(String::from);
        if next.is_none() && writer.is_finished() {
            let (_, _, tail) = match &last_added {
                Some(t) => node.get(&format!("{path}?added_after={t}"), "bob").await,
                None => node.get(&path, "bob").await,
            };
            seen.extend(ids(&tail));
            break;
        }
    }
    writer.await.unwrap();
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no object repeated");
    assert_eq!(seen.len(), 400, "no object skipped");
}

#[tokio::test]
async fn cursors_and_statuses_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cid = setup(dir.path());
    let node = Node::start(dir.path()).await;
    let all: Vec<Value> = (0..5)
        .map(|n| indicator(n, "2020-01-01T00:00:00Z"))
        .collect();
    let status = post_ok(&node, &cid, all).await;
    let (_, _, page) = node
        .get(&format!("{}?limit=2", objects_path(&cid)), "bob")
        .await;
    let next = page["next"].as_str().unwrap().to_string();
    node.stop().await;
    let node = Node::start(dir.path()).await;
    let (s, _, page) = node
        .get(
            &format!("{}?limit=2&next={next}", objects_path(&cid)),
            "bob",
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        ids(&page),
        vec![
            "indicator--00000000-0000-4000-8000-000000000002",
            "indicator--00000000-0000-4000-8000-000000000003"
        ]
    );
    let sid = status["id"].as_str().unwrap();
    let (s, _, v) = node
        .get(&format!("/taxii2/api/status/{sid}/"), "alice")
        .await;
    assert_eq!((s, v), (StatusCode::OK, status));
}

#[tokio::test]
async fn repeated_bad_passwords_are_throttled() {
    let (_d, node, _) = node().await;
    let mut last = StatusCode::OK;
    for _ in 0..6 {
        last = node
            .client
            .get(node.url("/taxii2/"))
            .basic_auth("bob", Some("guess"))
            .send()
            .await
            .unwrap()
            .status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

/// Stands in for the node's peer authentication: `Bearer peer` is the peer
/// node `cert.example.org`; everything else goes to the user database.
struct WithPeer(Users);

impl Authenticator for WithPeer {
    fn authenticate(
        &self,
        headers: &reqwest::header::HeaderMap,
    ) -> Result<Option<Principal>, AuthError> {
        if headers
            .get("authorization")
            .is_some_and(|v| v == "Bearer peer")
        {
            return Ok(Some(Principal {
                name: "cert.example.org".into(),
                role: Role::Officer,
                kind: PrincipalKind::Peer {
                    origin: "cert.example.org".into(),
                },
            }));
        }
        self.0.authenticate(headers)
    }
}

/// Withholds malware from peers, as the transfer gate might.
struct NoMalware;

impl OutboundFilter for NoMalware {
    fn check(&self, _: &Principal, object: &Value) -> OutboundDecision {
        if object["type"] == "malware" {
            OutboundDecision::Withhold {
                reason: "test".into(),
            }
        } else {
            OutboundDecision::Allow
        }
    }
}

#[tokio::test]
async fn peers_get_tlp_and_gate_filtered_views() {
    let dir = tempfile::tempdir().unwrap();
    let main = setup(dir.path());
    let store = store(dir.path());
    let shared = Collection {
        id: "5b0c3a6e-4a4f-4b4e-9a51-1e0d7c3f0a01".into(),
        title: "shared".into(),
        description: None,
        alias: None,
        read: vec!["alice".into(), "cert.example.org".into()],
        write: vec!["alice".into()],
        red_recipients: vec!["alice".into()],
    };
    detente_taxii::TaxiiStore::create_collection(store.as_ref(), &shared).unwrap();
    let users = Users::new(store.clone());
    let taxii = Taxii::with_store(store.clone(), Arc::new(WithPeer(users)), config())
        .unwrap()
        .with_outbound_filter(Arc::new(NoMalware));
    let node = Node::start_with(taxii).await;
    let marked = |n: u32, marking: &str| {
        let mut o = indicator(n, "2020-01-01T00:00:00Z");
        o["object_marking_refs"] = json!([marking]);
        o
    };
    let strict = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003";
    let amber = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
    let malware = json!({
        "type": "malware", "spec_version": "2.1",
        "id": "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b",
        "created": "2020-01-01T00:00:00Z", "modified": "2020-01-01T00:00:00Z",
        "is_family": true, "name": "Poison Ivy"
    });
    post_ok(
        &node,
        &shared.id,
        vec![marked(1, amber), marked(2, strict), marked(3, RED), malware],
    )
    .await;
    let get_peer = |path: String| {
        node.client
            .get(node.url(&path))
            .header("authorization", "Bearer peer")
            .send()
    };
    let (s, _, v) = split(get_peer(objects_path(&shared.id)).await.unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        ids(&v),
        vec!["indicator--00000000-0000-4000-8000-000000000001"]
    );
    let manifest = format!("/taxii2/api/collections/{}/manifest/", shared.id);
    let (_, _, m) = split(get_peer(manifest).await.unwrap()).await;
    assert_eq!(
        ids(&m),
        vec!["indicator--00000000-0000-4000-8000-000000000001"]
    );
    let (_, _, v) = node.get(&objects_path(&shared.id), "alice").await;
    assert_eq!(ids(&v).len(), 4, "local users see everything they may");
    let (s, _, _) = split(get_peer(objects_path(&main)).await.unwrap()).await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "peers see only collections that list them"
    );
}

#[tokio::test]
async fn late_older_version_does_not_become_last() {
    let (_d, node, cid) = node().await;
    let newer = indicator(5, "2021-01-01T00:00:00.000Z");
    let older = indicator(5, "2020-06-01T00:00:00.000Z");
    post_ok(&node, &cid, vec![newer.clone()]).await;
    let status = post_ok(&node, &cid, vec![older.clone()]).await;
    assert_eq!(status["success_count"], 1);
    let obj = format!("{}{}/", objects_path(&cid), newer["id"].as_str().unwrap());
    let (_, _, v) = node.get(&obj, "bob").await;
    assert_eq!(v["objects"], json!([newer]));
    let (_, _, v) = node
        .get(&format!("{obj}?match[version]=first"), "bob")
        .await;
    assert_eq!(v["objects"], json!([older]));
    let (_, _, v) = node.get(&format!("{obj}versions/"), "bob").await;
    assert_eq!(
        v["versions"],
        json!(["2021-01-01T00:00:00.000Z", "2020-06-01T00:00:00.000Z"]),
        "versions come in date_added order"
    );
}

#[tokio::test]
async fn merges_into_a_node_router_with_its_own_fallback() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let store = store(dir.path());
    let users = Arc::new(Users::new(store.clone()));
    let taxii = Arc::new(Taxii::with_store(store, users, config()).unwrap());
    let app = axum::Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .fallback(|| async { (StatusCode::NOT_FOUND, "node 404") })
        .merge(detente_taxii::router(taxii));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{base}/taxii2/"))
        .basic_auth("alice", Some("alice-pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = client
        .get(format!("{base}/elsewhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "node 404");
    let r = client
        .get(format!("{base}/taxii2/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(split(r).await.2["http_status"], "404");
}
