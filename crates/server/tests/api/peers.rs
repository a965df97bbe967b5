//! Two real nodes: peering over the admin API, signed node-to-node calls
//! (unknown key, bad signature, stale and replayed calls are refused), and TAXII
//! objects served to a peer passing the transfer gate for the peer's country.

use crate::common;

use common::{peer_with, start, Running};
use detente_domain::NodeKey;
use detente_federation::Signed;
use serde_json::{json, Value};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A GET signed by `key` at `at`.
fn signed_get(
    c: &reqwest::Client,
    to: &Running,
    path: &str,
    key: &NodeKey,
    at: u64,
) -> reqwest::RequestBuilder {
    let (p, q) = path
        .split_once('?')
        .map_or((path, String::new()), |(p, q)| (p, format!("?{q}")));
    let s = Signed {
        method: "GET",
        authority: &to.authority,
        path: p,
        query: &q,
        body: b"",
    };
    let mut rb = c.get(format!("{}{path}", to.base));
    for (name, value) in detente_federation::sign(key, &s, at) {
        rb = rb.header(name, value);
    }
    rb
}

#[tokio::test(flavor = "multi_thread")]
async fn peers_sign_their_calls_and_bad_calls_are_refused() {
    let a = start("cert-a.example", "US").await;
    let b = start("cert-b.example", "RU").await;
    let c = reqwest::Client::new();
    let key_b =
        NodeKey::parse(&std::fs::read_to_string(b.node.dir().join("node.key")).unwrap()).unwrap();

    // Not yet a peer: refused, nothing stored.
    let r = signed_get(&c, &a, "/federation/v1/whoami", &key_b, now())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("unknown key"));

    assert_eq!(peer_with(&c, &a, &b, "RU").await.status(), 201);
    assert_eq!(peer_with(&c, &a, &b, "RU").await.status(), 409);
    let kinds: Vec<String> = (0..a.node.published().size)
        .map(|i| a.node.entry(i).unwrap().unwrap().kind)
        .collect();
    assert!(kinds.contains(&"peer.added".to_string()));

    let rb = signed_get(&c, &a, "/federation/v1/whoami", &key_b, now());
    let replay = rb.try_clone().unwrap();
    let ok: Value = rb.send().await.unwrap().json().await.unwrap();
    assert_eq!(ok["peer"], "cert-b.example");
    assert_eq!(replay.send().await.unwrap().status(), 401, "replayed");
    let stale = signed_get(&c, &a, "/federation/v1/whoami", &key_b, now() - 3600)
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 401);
    let impostor = NodeKey::generate("cert-b.example").unwrap();
    let forged = signed_get(&c, &a, "/federation/v1/whoami", &impostor, now())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    // A client cannot claim to be a peer by setting the marker header itself.
    let spoof = c
        .get(format!("{}/federation/v1/whoami", a.base))
        .header("x-detente-peer", "cert-b.example")
        .send()
        .await
        .unwrap();
    assert_eq!(spoof.status(), 401);

    // Bad peer definitions are 400 problem+json and store nothing.
    let bad = c
        .post(format!("{}/api/v1/peers", a.base))
        .basic_auth("admin", Some("admin-password"))
        .json(&json!({ "origin": "cert-c.example", "url": "ftp://x", "key": b.node.verifier().to_string(), "country": "ZZ" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.headers()["content-type"], "application/problem+json");
    let list: Value = c
        .get(format!("{}/api/v1/peers", a.base))
        .basic_auth("admin", Some("admin-password"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["peers"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn taxii_objects_served_to_a_peer_pass_the_gate() {
    use detente_taxii::store::Collection;
    let a = start("cert-a.example", "US").await;
    let b = start("cert-b.example", "RU").await;
    let c = reqwest::Client::new();
    assert_eq!(peer_with(&c, &a, &b, "RU").await.status(), 201);
    let store = a.node.store();
    store
        .create_collection(&Collection {
            id: "5f2a7c1e-1111-4222-8333-944455556666".into(),
            title: "shared with cert-b".into(),
            description: None,
            alias: None,
            read: vec!["admin".into(), "cert-b.example".into()],
            write: vec!["admin".into()],
            red_recipients: vec![],
        })
        .unwrap();
    let objects = format!(
        "{}/taxii2/api/collections/5f2a7c1e-1111-4222-8333-944455556666/objects/",
        a.base
    );
    let indicator = json!({
        "type": "indicator", "spec_version": "2.1", "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "created": "2021-05-08T10:00:00.000Z", "modified": "2021-05-08T10:00:00.000Z",
        "name": "DarkSide C2", "pattern": "[ipv4-addr:value = '198.51.100.7']",
        "pattern_type": "stix", "valid_from": "2021-05-08T10:00:00Z"
    });
    let r = c
        .post(&objects)
        .basic_auth("admin", Some("admin-password"))
        .header("content-type", "application/taxii+json;version=2.1")
        .header("accept", "application/taxii+json;version=2.1")
        .json(&json!({ "objects": [indicator] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    let before = a.node.published().size;

    let key_b =
        NodeKey::parse(&std::fs::read_to_string(b.node.dir().join("node.key")).unwrap()).unwrap();
    let path = "/taxii2/api/collections/5f2a7c1e-1111-4222-8333-944455556666/objects/";
    let r = signed_get(&c, &a, path, &key_b, now())
        .header("accept", "application/taxii+json;version=2.1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    assert_eq!(
        page["objects"][0]["id"],
        "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
    );
    // The gate's decision for the peer is in A's log.
    for _ in 0..100 {
        if a.node.published().size > before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let last = a.node.entry(a.node.published().size - 1).unwrap().unwrap();
    assert_eq!(last.kind, "gate.decision");
    let env: Value = serde_json::from_slice(&last.envelope).unwrap();
    assert_eq!(env["payload"]["recipient"], "cert-b.example");
    assert_eq!(env["payload"]["country"], "RU");
    assert_eq!(env["payload"]["decision"]["decision"], "allow");
    // Read again, the same object version is not decided or logged again.
    for _ in 0..3 {
        let r = signed_get(&c, &a, path, &key_b, now())
            .header("accept", "application/taxii+json;version=2.1")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let decisions = (0..a.node.published().size)
        .filter(|&i| a.node.entry(i).unwrap().unwrap().kind == "gate.decision")
        .count();
    assert_eq!(decisions, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stix_bundle_attached_to_a_request_is_published_to_the_peer_citing_it() {
    use detente_taxii::store::Collection;
    let a = start("cert-a.example", "US").await;
    let b = start("cert-b.example", "FR").await;
    let c = reqwest::Client::new();
    assert_eq!(peer_with(&c, &a, &b, "FR").await.status(), 201);
    assert_eq!(peer_with(&c, &b, &a, "US").await.status(), 201);
    let store = a.node.store();
    store
        .create_collection(&Collection {
            id: "0d6c0a4e-5d7b-4c1e-9f2a-3b4c5d6e7f80".into(),
            title: "for cert-b".into(),
            description: None,
            alias: None,
            read: vec!["cert-b.example".into()],
            write: vec![],
            red_recipients: vec![],
        })
        .unwrap();
    let bundle = json!({ "type": "bundle", "id": "bundle--44af6c39-c09b-49c5-9de2-394224b04982", "objects": [{
        "type": "indicator", "spec_version": "2.1", "id": "indicator--a932fcc6-e032-476c-826f-cb970a5a1ade",
        "created": "2021-05-08T10:00:00.000Z", "modified": "2021-05-08T10:00:00.000Z",
        "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix", "valid_from": "2021-05-08T10:00:00Z"
    }]});
    let bytes = serde_json::to_vec(&bundle).unwrap();
    let up: Value = c
        .post(format!("{}/api/v1/attachments", a.base))
        .basic_auth("admin", Some("admin-password"))
        .header("content-type", "application/stix+json")
        .body(bytes.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let request = |sha: &str| {
        json!({ "type": "incident_notification", "incident_class": "malicious_code", "reference": "2021/CERT/0507",
                "issuing_authority": "National CERT", "facts": "Ransomware at a pipeline operator.", "urgency": "normal",
                "tlp": "amber", "recipient": "cert-b.example",
                "attachments": [{ "name": "iocs.json", "media_type": "application/stix+json", "size": bytes.len(), "sha256": sha }] })
    };
    // An attachment that was never uploaded is refused.
    let r = c
        .post(format!("{}/api/v1/requests", a.base))
        .basic_auth("admin", Some("admin-password"))
        .json(&request(&"0".repeat(64)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = c
        .post(format!("{}/api/v1/requests", a.base))
        .basic_auth("admin", Some("admin-password"))
        .json(&request(up["sha256"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // B reads the indicator from A's collection, citing the request.
    let key_b =
        NodeKey::parse(&std::fs::read_to_string(b.node.dir().join("node.key")).unwrap()).unwrap();
    let path = "/taxii2/api/collections/0d6c0a4e-5d7b-4c1e-9f2a-3b4c5d6e7f80/objects/";
    let r = signed_get(&c, &a, path, &key_b, now())
        .header("accept", "application/taxii+json;version=2.1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    let refs = &page["objects"][0]["external_references"];
    assert_eq!(refs[0]["source_name"], "detente-request");
    assert_eq!(refs[0]["external_id"], id.as_str());
}
