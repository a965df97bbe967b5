//! The OpenAPI document at `/api/v1/openapi.json`: served byte for byte as
//! written, a well-formed OpenAPI 3.1 document whose references resolve and whose
//! errors are all problem+json, and in step with the router both ways — every
//! documented operation is routed, and every route the server's sources declare
//! (read from the sources themselves, so a new route cannot be forgotten) is
//! documented.

use detente_domain::{Country, Origin};
use detente_node::Node;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const DOCUMENT: &str = include_str!("../../src/openapi.json");

/// Routes this test knows must exist; guards the source scan below against
/// silently finding nothing.
const KNOWN: &[(&str, &str)] = &[
    ("get", "/api/v1/requests"),
    ("post", "/api/v1/requests"),
    ("get", "/api/v1/requests/{}"),
    ("post", "/api/v1/requests/{}/{}"),
    ("get", "/api/v1/report"),
    ("get", "/api/v1/peers"),
    ("post", "/api/v1/peers"),
    ("get", "/api/v1/peers/{}"),
    ("delete", "/api/v1/peers/{}"),
    ("get", "/api/v1/gate/holds"),
    ("post", "/api/v1/gate/holds/{}"),
    ("get", "/api/v1/openapi.json"),
    ("post", "/federation/v1/envelopes"),
    ("get", "/federation/v1/whoami"),
    ("get", "/log/checkpoint"),
    ("get", "/log/tile/{*}"),
    ("get", "/log/proof/inclusion"),
    ("get", "/log/proof/consistency"),
    ("get", "/healthz"),
    ("get", "/metrics"),
];

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

fn doc() -> Value {
    serde_json::from_str(DOCUMENT).expect("openapi.json is JSON")
}

/// `{name}` → `{}`, `{*name}` → `{*}`.
fn normalise(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').expect("balanced braces") + open;
        out.push_str(if rest[open + 1..].starts_with('*') {
            "{*}"
        } else {
            "{}"
        });
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// `(method, normalised path)` of every `.route("...", ...)` in the server's
/// sources.
fn routes_in_sources() -> BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let src = std::fs::read_to_string(&path).unwrap();
        for (at, _) in src.match_indices(".route(\"") {
            let start = at + ".route(\"".len();
            let end = start + src[start..].find('"').unwrap();
            let route = &src[start..end];
            // The handlers: up to the parenthesis closing `.route(`.
            let mut depth = 1;
            let mut stop = end;
            for (i, c) in src[end..].char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    stop = end + i;
                    break;
                }
            }
            let handlers = &src[end..stop];
            let mut any = false;
            for m in METHODS {
                let called = handlers.match_indices(&format!("{m}(")).any(|(i, _)| {
                    i == 0
                        || !handlers.as_bytes()[i - 1].is_ascii_alphanumeric()
                            && handlers.as_bytes()[i - 1] != b'_'
                });
                if called {
                    found.insert((m.to_string(), normalise(route)));
                    any = true;
                }
            }
            assert!(any, "no method found for route {route} in {path:?}");
        }
    }
    found
}

/// The request actions `exchange.rs` accepts, read from its `act` handler.
fn actions_in_sources() -> BTreeSet<String> {
    let src = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/exchange.rs"),
    )
    .unwrap();
    let start = src
        .find("match action.as_str() {")
        .expect("the act handler matches on the action");
    let end = start + src[start..].find("other =>").unwrap();
    src[start..end]
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let l = l.strip_prefix('"')?;
            Some(l[..l.find('"')?].to_string())
        })
        .collect()
}

/// `(method, normalised path)` → documented path template.
fn documented(doc: &Value) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            assert!(METHODS.contains(&method.as_str()), "{method} {path}");
            out.insert((method.clone(), normalise(path)), path.clone());
        }
    }
    out
}

fn resolve<'a>(doc: &'a Value, reference: &str) -> &'a Value {
    let pointer = reference
        .strip_prefix('#')
        .unwrap_or_else(|| panic!("{reference} is not local"));
    doc.pointer(pointer)
        .unwrap_or_else(|| panic!("{reference} does not resolve"))
}

fn walk_refs(doc: &Value, v: &Value, n: &mut usize) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                resolve(doc, r);
                *n += 1;
            }
            m.values().for_each(|x| walk_refs(doc, x, n));
        }
        Value::Array(a) => a.iter().for_each(|x| walk_refs(doc, x, n)),
        _ => {}
    }
}

#[test]
fn the_document_is_openapi_3_1_with_problem_errors() {
    let d = doc();
    assert!(
        d["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        d["openapi"]
    );
    assert!(d["info"]["title"].is_string() && d["info"]["version"].is_string());
    let mut refs = 0;
    walk_refs(&d, &d, &mut refs);
    assert!(refs > 50, "only {refs} references");
    for scheme in ["basicAuth", "bearerAuth", "peerSignature"] {
        assert!(
            d["components"]["securitySchemes"][scheme].is_object(),
            "{scheme}"
        );
    }
    assert_eq!(
        d["components"]["securitySchemes"]["basicAuth"]["scheme"],
        "basic"
    );
    assert_eq!(
        d["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
    let problem = &d["components"]["schemas"]["Problem"];
    for f in ["type", "title", "status", "detail"] {
        assert!(problem["properties"][f].is_object(), "Problem.{f}");
        assert!(
            problem["required"].as_array().unwrap().contains(&f.into()),
            "Problem.{f}"
        );
    }

    let mut ids = BTreeSet::new();
    for (path, item) in d["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let here = format!("{method} {path}");
            assert!(
                ids.insert(op["operationId"].as_str().unwrap().to_string()),
                "{here}: duplicate operationId"
            );
            assert!(op["security"].is_array(), "{here}: no security");
            for s in op["security"].as_array().unwrap() {
                for name in s.as_object().unwrap().keys() {
                    assert!(
                        d["components"]["securitySchemes"][name].is_object(),
                        "{here}: {name}"
                    );
                }
            }
            // Path parameters are declared exactly for the template's names.
            let in_template: BTreeSet<String> = path
                .split('{')
                .skip(1)
                .map(|s| s[..s.find('}').unwrap()].to_string())
                .collect();
            let declared: BTreeSet<String> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "path")
                        .map(|p| {
                            assert_eq!(p["required"], true, "{here}");
                            p["name"].as_str().unwrap().to_string()
                        })
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(in_template, declared, "{here}: path parameters");
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|k| k.starts_with('2')),
                "{here}: no success response"
            );
            for code in ["429", "500"] {
                assert!(responses.contains_key(code), "{here}: no {code}");
            }
            for (code, r) in responses {
                if code.starts_with('4') || code.starts_with('5') {
                    let r = match r.get("$ref") {
                        Some(Value::String(x)) => resolve(&d, x),
                        _ => r,
                    };
                    let content = r["content"].as_object().unwrap();
                    assert_eq!(
                        content.keys().collect::<Vec<_>>(),
                        ["application/problem+json"],
                        "{here} {code}"
                    );
                    assert_eq!(
                        content["application/problem+json"]["schema"]["$ref"],
                        "#/components/schemas/Problem",
                        "{here} {code}"
                    );
                }
            }
        }
    }
}

#[test]
fn every_route_in_the_sources_is_documented() {
    let d = doc();
    let documented = documented(&d);
    let routes = routes_in_sources();
    for (m, p) in KNOWN {
        assert!(
            routes.contains(&(m.to_string(), p.to_string())),
            "the source scan missed {m} {p}: {routes:?}"
        );
    }
    let actions = actions_in_sources();
    assert!(actions.len() >= 7, "{actions:?}");
    for (method, route) in &routes {
        if route == "/api/v1/requests/{}/{}" {
            // One document path per action.
            for a in &actions {
                let want = (method.clone(), format!("/api/v1/requests/{{}}/{a}"));
                assert!(
                    documented.contains_key(&want),
                    "action {a} is not documented"
                );
            }
        } else if let Some(prefix) = route.strip_suffix("{*}") {
            assert!(
                documented
                    .keys()
                    .any(|(m, p)| m == method && p.starts_with(prefix)),
                "{method} {route} is not documented"
            );
        } else {
            assert!(
                documented.contains_key(&(method.clone(), route.clone())),
                "{method} {route} is routed but not documented"
            );
        }
    }
    // And the other way round, statically: nothing documented that no source
    // route could serve.
    for ((method, path), template) in &documented {
        let served = routes.iter().any(|(m, r)| {
            m == method
                && (r == path
                    || r.strip_suffix("{*}")
                        .is_some_and(|pre| path.starts_with(pre))
                    || (r == "/api/v1/requests/{}/{}"
                        && path
                            .strip_prefix("/api/v1/requests/{}/")
                            .is_some_and(|a| actions.contains(a))))
        });
        assert!(served, "{method} {template} is documented but not routed");
    }
}

struct Running {
    base: String,
    _dir: tempfile::TempDir,
}

async fn start() -> Running {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("n");
    crate::common::init_dir(
        &dir,
        &Origin::parse("cert-a.example").unwrap(),
        Some(Country::parse("DE").unwrap()),
    )
    .unwrap();
    let node = Node::open(&dir).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = detente_server::node_app(node).unwrap();
    tokio::spawn(detente_server::run(listener, app, std::future::pending()));
    Running { base, _dir: t }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_served_document_is_the_file() {
    let n = start().await;
    let r = reqwest::get(format!("{}/api/v1/openapi.json", n.base))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.text().await.unwrap(), DOCUMENT);
}

/// A value for a path parameter that the router matches.
fn dummy(name: &str) -> &'static str {
    match name {
        "id" => "6f1d5b2a-9c3e-4b7a-8d2f-0a1b2c3d4e5f",
        "origin" => "nobody.example",
        "level" => "0",
        "index" => "000",
        "sha256" => "0000000000000000000000000000000000000000000000000000000000000000",
        other => panic!("no dummy value for path parameter {other}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_documented_operation_is_routed() {
    let n = start().await;
    let c = reqwest::Client::new();
    let d = doc();
    let mut checked = 0;
    for (template, item) in d["paths"].as_object().unwrap() {
        let mut path = template.clone();
        while let Some(open) = path.find('{') {
            let close = path[open..].find('}').unwrap() + open;
            let name = path[open + 1..close].to_string();
            path.replace_range(open..=close, dummy(&name));
        }
        for (method, _) in item.as_object().unwrap() {
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = c
                .request(m, format!("{}{path}", n.base))
                .header("content-type", "application/json")
                .body(if method == "get" || method == "delete" {
                    ""
                } else {
                    "{}"
                })
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let is_problem = r
                .headers()
                .get("content-type")
                .is_some_and(|v| v == "application/problem+json");
            let body = r.text().await.unwrap();
            let here = format!("{method} {template} ({path}): {status} {body}");
            assert_ne!(status, 405, "{here}");
            if status >= 400 {
                assert!(is_problem, "{here}: not problem+json");
                let p: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(p["status"], status, "{here}");
                // The router's own 404 says "no such resource"; a handler's 404
                // (an unknown peer, a tile beyond the tree) says what is missing.
                assert_ne!(p["detail"], "no such resource", "{here}: not routed");
                let documented = item[method]["responses"]
                    .as_object()
                    .unwrap()
                    .contains_key(&status.to_string());
                assert!(documented, "{here}: status not documented");
            }
            checked += 1;
        }
    }
    assert!(checked >= 25, "{checked}");

    // The check above can tell a routed path from an unrouted one.
    let r = c
        .get(format!("{}/api/v1/nothing-here", n.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["detail"], "no such resource");
}

// ---------------------------------------------------------------------------
// Real requests and answers against the documented schemas.

/// Every violation of `schema` (one of the document's, its `$ref`s resolved
/// in the document's components) by `v`, with its JSON path. OpenAPI 3.1
/// schemas are JSON Schema 2020-12; formats are checked too.
fn violations(doc: &Value, schema: &Value, v: &Value) -> Vec<String> {
    let root = json!({ "allOf": [schema], "components": doc["components"] });
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&root)
        .expect("the document's schemas compile");
    validator
        .iter_errors(v)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// The documented schema of the answer `status` to `method template`.
fn response_schema<'a>(doc: &'a Value, method: &str, template: &str, status: u16) -> &'a Value {
    let op = &doc["paths"][template][method];
    assert!(op.is_object(), "{method} {template} is not documented");
    let mut r = &op["responses"][status.to_string()];
    assert!(
        r.is_object(),
        "{method} {template}: status {status} is not documented"
    );
    if let Some(Value::String(x)) = r.get("$ref") {
        r = resolve(doc, x);
    }
    let content = r["content"].as_object().expect("a body is documented");
    let (_, media) = content.iter().next().unwrap();
    &media["schema"]
}

struct Api {
    doc: Value,
    c: reqwest::Client,
}

impl Api {
    /// Sends `body` (checked against the documented request body) as `user`
    /// and checks the answer against the documented response for its status.
    async fn call(
        &self,
        method: &str,
        base: &str,
        template: &str,
        path: &str,
        user: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let here = format!("{method} {path}");
        let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let mut rb = self
            .c
            .request(m, format!("{base}{path}"))
            .basic_auth(user, Some(format!("{user}-password")));
        if let Some(b) = body {
            let schema = &self.doc["paths"][template][method]["requestBody"]["content"]
                ["application/json"]["schema"];
            assert!(schema.is_object(), "{here}: no documented request body");
            let errs = violations(&self.doc, schema, &b);
            assert!(errs.is_empty(), "{here}: request body {b}: {errs:#?}");
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        let v: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status != 204 {
            let schema = response_schema(&self.doc, method, template, status);
            let errs = violations(&self.doc, schema, &v);
            let shown: String = v.to_string().chars().take(600).collect();
            assert!(errs.is_empty(), "{here} -> {status} {shown}: {errs:#?}");
        }
        (status, v)
    }
}

async fn start_with_users(origin: &str, country: &str) -> (Running, String) {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("n");
    crate::common::init_dir(
        &dir,
        &Origin::parse(origin).unwrap(),
        Some(Country::parse(country).unwrap()),
    )
    .unwrap();
    let users = detente_auth::Users::new(detente_node::datadir::open_store(&dir).unwrap());
    for (name, role) in [
        ("admin", detente_auth::Role::Admin),
        ("officer", detente_auth::Role::Officer),
        ("auditor", detente_auth::Role::Auditor),
    ] {
        users
            .add_user(name, role, &format!("{name}-password"))
            .unwrap();
    }
    let node = Node::open(&dir).unwrap();
    let key = node.verifier().to_string();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = detente_server::node_app(node).unwrap();
    tokio::spawn(detente_server::run(listener, app, std::future::pending()));
    (Running { base, _dir: t }, key)
}

#[tokio::test(flavor = "multi_thread")]
async fn real_requests_and_answers_match_the_document() {
    let api = Api {
        doc: doc(),
        c: reqwest::Client::new(),
    };
    let (a, key_a) = start_with_users("cert-a.example", "DE").await;
    let (b, key_b) = start_with_users("cert-b.example", "FR").await;
    let (s, _) = api
        .call(
            "post",
            &a.base,
            "/api/v1/peers",
            "/api/v1/peers",
            "admin",
            Some(json!({"origin": "cert-b.example", "url": b.base, "key": key_b, "country": "FR"})),
        )
        .await;
    assert_eq!(s, 201);
    let (s, _) = api
        .call(
            "post",
            &b.base,
            "/api/v1/peers",
            "/api/v1/peers",
            "admin",
            Some(json!({"origin": "cert-a.example", "url": a.base, "key": key_a, "country": "DE"})),
        )
        .await;
    assert_eq!(s, 201);
    api.call(
        "get",
        &a.base,
        "/api/v1/peers",
        "/api/v1/peers",
        "auditor",
        None,
    )
    .await;
    let (s, _) = api
        .call(
            "get",
            &a.base,
            "/api/v1/peers/{origin}",
            "/api/v1/peers/cert-b.example",
            "auditor",
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = api
        .call(
            "get",
            &a.base,
            "/api/v1/peers/{origin}",
            "/api/v1/peers/nobody.example",
            "auditor",
            None,
        )
        .await;
    assert_eq!(s, 404);

    let pdf = vec![b'%'; 1234];
    let uploaded: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/api/v1/attachments", a.base))
        .basic_auth("officer", Some("officer-password"))
        .header("content-type", "application/pdf")
        .body(pdf)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sha = uploaded["sha256"].as_str().unwrap().to_string();
    let new = |reference: &str| {
        serde_json::json!({
            "type": "preservation", "reference": reference,
            "issuing_authority": "Public Prosecutor's Office", "legal_basis": "Budapest Convention Art. 29",
            "offence": "Ransomware extortion", "facts": "Billing systems were encrypted.",
            "data_requested": "Logs of 203.0.113.7", "link_to_offence": "The C2 server",
            "urgency": "emergency", "emergency_justification": "Logs rotate in 48 hours",
            "tlp": "amber_strict", "custodian": "Hoster Ltd.", "necessity": "Rotation",
            "follow_up_mla": true, "related_requests": [],
            "attachments": [{"name": "facts.pdf", "media_type": "application/pdf", "size": 1234,
                             "sha256": sha}],
            "recipient": "cert-b.example"
        })
    };
    let mut ids = Vec::new();
    for reference in ["R-1", "R-2", "R-3"] {
        let (s, v) = api
            .call(
                "post",
                &a.base,
                "/api/v1/requests",
                "/api/v1/requests",
                "officer",
                Some(new(reference)),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    let mut bad = new("R-4");
    bad["incident_class"] = "fraud".into();
    let (s, _) = api
        .call(
            "post",
            &a.base,
            "/api/v1/requests",
            "/api/v1/requests",
            "officer",
            Some(bad),
        )
        .await;
    assert_eq!(s, 422);
    let (s, _) = api
        .call(
            "get",
            &a.base,
            "/api/v1/requests",
            "/api/v1/requests?direction=outbound&limit=10",
            "auditor",
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = api
        .call(
            "get",
            &a.base,
            "/api/v1/requests",
            "/api/v1/requests?bogus=1",
            "auditor",
            None,
        )
        .await;
    assert_eq!(s, 400);

    // Wait until B has all three.
    for id in &ids {
        let mut delivered = false;
        for _ in 0..250 {
            let r = api
                .c
                .get(format!("{}/api/v1/requests/{id}", b.base))
                .basic_auth("officer", Some("officer-password"))
                .send()
                .await
                .unwrap();
            if r.status() == 200 {
                delivered = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(delivered, "{id} never reached B");
    }
    let act = |node: &Running, id: &str, action: &str| {
        (
            node.base.clone(),
            format!("/api/v1/requests/{{id}}/{action}"),
            format!("/api/v1/requests/{id}/{action}"),
        )
    };
    let (base, t, p) = act(&b, &ids[0], "acknowledge");
    let (s, v) = api
        .call("post", &base, &t, &p, "officer", Some(json!({})))
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, _) = api
        .call("post", &base, &t, &p, "officer", Some(json!({})))
        .await;
    assert_eq!(s, 409);
    let (s, _) = api
        .call("post", &base, &t, &p, "auditor", Some(json!({})))
        .await;
    assert_eq!(s, 403);
    let later = "2099-01-01T00:00:00.000000Z";
    let (base, t, p) = act(&b, &ids[0], "messages");
    let (s, v) = api
        .call(
            "post",
            &base,
            &t,
            &p,
            "officer",
            Some(json!({"text": "More time?", "attachments": [], "proposed_answer_by": later})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let bob_msg = v["timeline"].as_array().unwrap().last().unwrap()["event_id"].clone();
    // A waits for B's message, proposes the same, and extends.
    let mut seen = false;
    for _ in 0..250 {
        let v: Value = api
            .c
            .get(format!("{}/api/v1/requests/{}", a.base, ids[0]))
            .basic_auth("officer", Some("officer-password"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event_id"] == bob_msg)
        {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(seen);
    let (base, t, p) = act(&a, &ids[0], "messages");
    let (_, v) = api
        .call(
            "post",
            &base,
            &t,
            &p,
            "officer",
            Some(json!({"text": "Agreed.", "proposed_answer_by": later})),
        )
        .await;
    let alice_msg = v["timeline"].as_array().unwrap().last().unwrap()["event_id"].clone();
    let (base, t, p) = act(&a, &ids[0], "extend");
    let (s, v) = api
        .call("post", &base, &t, &p, "officer",
            Some(json!({"answer_by": later, "sender_consent": alice_msg, "recipient_consent": bob_msg})))
        .await;
    assert_eq!(s, 200, "{v}");
    let (base, t, p) = act(&b, &ids[0], "partial-answer");
    let (s, v) = api
        .call(
            "post",
            &base,
            &t,
            &p,
            "officer",
            Some(json!({"note": "First batch."})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    // An answer's attachments must have been uploaded, like a request's.
    let receipt: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/api/v1/attachments", b.base))
        .basic_auth("officer", Some("officer-password"))
        .header("content-type", "text/plain")
        .body("preserved.")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (base, t, p) = act(&b, &ids[0], "answer");
    let (s, v) = api
        .call("post", &base, &t, &p, "officer",
            Some(json!({"note": "Preserved.", "attachments": [
                {"name": "receipt.txt", "media_type": "text/plain", "size": 10, "sha256": receipt["sha256"]}]})))
        .await;
    assert_eq!(s, 200, "{v}");

    let (base, t, p) = act(&b, &ids[1], "acknowledge");
    api.call("post", &base, &t, &p, "officer", Some(json!({})))
        .await;
    let (base, t, p) = act(&b, &ids[1], "decline");
    let (s, _) = api
        .call(
            "post",
            &base,
            &t,
            &p,
            "officer",
            Some(json!({"ground": "other"})),
        )
        .await;
    assert_eq!(s, 409, "ground other needs a text");
    let (s, v) = api
        .call(
            "post",
            &base,
            &t,
            &p,
            "officer",
            Some(json!({"ground": "other", "text": "Not ours."})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (base, t, p) = act(&a, &ids[2], "withdraw");
    let (s, v) = api
        .call(
            "post",
            &base,
            &t,
            &p,
            "officer",
            Some(json!({"reason": "Resolved."})),
        )
        .await;
    assert_eq!(s, 200, "{v}");

    let (s, _) = api
        .call(
            "get",
            &a.base,
            "/api/v1/requests/{id}",
            &format!("/api/v1/requests/{}", ids[0]),
            "auditor",
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = api
        .call(
            "get",
            &b.base,
            "/api/v1/requests",
            "/api/v1/requests?direction=inbound",
            "auditor",
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = api
        .call(
            "get",
            &a.base,
            "/api/v1/report",
            "/api/v1/report?since=2020-01-01",
            "auditor",
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = api
        .call(
            "get",
            &a.base,
            "/api/v1/report",
            "/api/v1/report?since=yesterday",
            "auditor",
            None,
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = api
        .call(
            "post",
            &a.base,
            "/api/v1/report/evidence",
            "/api/v1/report/evidence?peer=cert-b.example",
            "officer",
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = api
        .call(
            "get",
            &a.base,
            "/api/v1/gate/holds",
            "/api/v1/gate/holds?status=all",
            "auditor",
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = api
        .call(
            "post",
            &a.base,
            "/api/v1/gate/holds/{id}",
            "/api/v1/gate/holds/nope",
            "admin",
            Some(json!({"decision": "approve", "reason": "ok"})),
        )
        .await;
    assert!(s == 409 || s == 503, "{s}");
    for (t, p) in [
        ("/healthz", "/healthz"),
        ("/log/proof/inclusion", "/log/proof/inclusion?index=0"),
        (
            "/log/proof/consistency",
            "/log/proof/consistency?from=1&to=2",
        ),
    ] {
        let (s, _) = api.call("get", &a.base, t, p, "auditor", None).await;
        assert_eq!(s, 200, "{p}");
    }
    // RFC 9162: no consistency proof from the empty tree; an empty one between
    // equal sizes.
    for (p, status) in [
        ("/log/proof/consistency?from=0&to=2", 400),
        ("/log/proof/consistency?from=2&to=2", 200),
    ] {
        let (s, _) = api
            .call("get", &a.base, "/log/proof/consistency", p, "auditor", None)
            .await;
        assert_eq!(s, status, "{p}");
    }
    let (s, _) = api
        .call(
            "delete",
            &a.base,
            "/api/v1/peers/{origin}",
            "/api/v1/peers/cert-b.example",
            "admin",
            None,
        )
        .await;
    assert_eq!(s, 204);
}
