//! The peers and reciprocity screens on real nodes: what each shows (from the
//! same typed views the JSON API serves), who may run the connection test,
//! hostile peer text escaped, and charts whose numbers are the report's.

use crate::browser::Browser;
use crate::common::{peer_with, start, Running};
use detente_domain::NodeKey;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

const HOSTILE: &str = "<script>alert(1)</script>";
const ESCAPED: &str = "&#60;script&#62;alert(1)&#60;/script&#62;";

async fn send_request(c: &reqwest::Client, from: &Running, to: &str) -> String {
    let body = json!({
        "type": "subscriber_information", "reference": "Case-1",
        "issuing_authority": "Prosecutor's Office", "legal_basis": "Budapest Convention Art. 31",
        "offence": "Extortion", "facts": "An account hosted the portal.",
        "data_requested": "Subscriber records", "link_to_offence": "The account hosted the portal",
        "urgency": "normal", "tlp": "amber", "recipient": to,
    });
    let r = c
        .post(format!("{}/api/v1/requests", from.base))
        .basic_auth("officer", Some("officer-password"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Asserts that `v` is what the OpenAPI document says `method template`
/// answers with 200.
fn documented(method: &str, template: &str, v: &Value) {
    let doc: Value = serde_json::from_str(include_str!("../../src/openapi.json")).unwrap();
    let schema = &doc["paths"][template][method]["responses"]["200"]["content"]["application/json"]
        ["schema"];
    assert!(schema.is_object(), "{method} {template} is not documented");
    let root = json!({ "allOf": [schema], "components": doc["components"] });
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(v)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{method} {template}: {errors:?} in {v}");
}

async fn statuses(c: &reqwest::Client, at: &Running) -> Vec<Value> {
    let r = c
        .get(format!("{}/api/v1/peers/status", at.base))
        .basic_auth("auditor", Some("auditor-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    documented("get", "/api/v1/peers/status", &v);
    v["peers"].as_array().unwrap().clone()
}

/// Polls the status API until `done` holds for the peer `origin`.
async fn status_when(
    c: &reqwest::Client,
    at: &Running,
    origin: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    for _ in 0..300 {
        let all = statuses(c, at).await;
        if let Some(s) = all.iter().find(|s| s["origin"] == origin) {
            if done(s) {
                return s.clone();
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{origin} never reached the state: {:?}",
        statuses(c, at).await
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn peers_page_shows_deliveries_and_cosignatures_and_tests_live_and_dead_peers() {
    let a = start("cert-a.example", "DE").await;
    let b = start("cert-b.example", "FR").await;
    let c = reqwest::Client::new();
    assert_eq!(peer_with(&c, &a, &b, "FR").await.status(), 201);
    assert_eq!(peer_with(&c, &b, &a, "DE").await.status(), 201);
    send_request(&c, &a, "cert-b.example").await;
    let s = status_when(&c, &a, "cert-b.example", |s| {
        !s["last_delivered_at"].is_null()
            && !s["their_cosignature"].is_null()
            && !s["our_cosignature"].is_null()
    })
    .await;
    assert_eq!(
        (s["queued"].as_u64(), s["refused"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(s["their_cosignature"]["size"].as_u64().unwrap() >= 1, "{s}");

    let auditor = Browser::as_user(&a.base, "auditor").await;
    let page = auditor.get("/ui/peers").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h2 id=\"peer-1\">cert-b.example</h2>"));
    let delivered = detente_domain::time::parse(s["last_delivered_at"].as_str().unwrap()).unwrap();
    assert!(page
        .body
        .contains(&delivered.format("%Y-%m-%d %H:%M UTC").to_string()));
    let theirs = format!("size {} at", s["their_cosignature"]["size"]);
    assert!(page.body.contains(&theirs), "{}", page.body);
    assert!(
        !page.body.contains("Test the connection"),
        "auditors read only"
    );
    let token = auditor.csrf().await;
    let refused = auditor
        .post(
            "/ui/peers/test",
            &[("csrf", &token), ("peer", "cert-b.example")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    // Never on GET.
    assert_eq!(
        auditor.get("/ui/peers/test").await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );

    let officer = Browser::as_user(&a.base, "officer").await;
    let token = officer.csrf().await;
    assert!(officer
        .get("/ui/peers")
        .await
        .body
        .contains("Test the connection"));
    let ok = officer
        .post(
            "/ui/peers/test",
            &[("csrf", &token), ("peer", "cert-b.example")],
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let size = b.node.published().size;
    assert!(ok.body.contains("Connection test passed"), "{}", ok.body);
    assert!(ok.body.contains("log size "), "{}", ok.body);
    assert!(size >= 1);
    let no_token = officer
        .post("/ui/peers/test", &[("peer", "cert-b.example")])
        .await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    let unknown = officer
        .post(
            "/ui/peers/test",
            &[("csrf", &token), ("peer", "nobody.example")],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);

    // A peer nobody answers for: the test fails and says why.
    let dead = NodeKey::generate("dead.example").unwrap();
    let r = c
        .post(format!("{}/api/v1/peers", a.base))
        .basic_auth("admin", Some("admin-password"))
        .json(
            &json!({ "origin": "dead.example", "url": "http://127.0.0.1:1",
                       "key": dead.verifier().to_string(), "country": "FR" }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let failed = officer
        .post(
            "/ui/peers/test",
            &[("csrf", &token), ("peer", "dead.example")],
        )
        .await;
    assert_eq!(failed.status, 200);
    assert!(
        failed.body.contains("Connection test failed"),
        "{}",
        failed.body
    );
    assert!(
        failed.body.contains("error sending request"),
        "{}",
        failed.body
    );
    let api = c
        .post(format!("{}/api/v1/peers/dead.example/test", a.base))
        .basic_auth("officer", Some("officer-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 200);
    let t: Value = api.json().await.unwrap();
    documented("post", "/api/v1/peers/{origin}/test", &t);
    assert_eq!(t["ok"], false);
    assert!(
        t["problem"]["detail"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1:1"),
        "{t}"
    );
    let live: Value = c
        .post(format!("{}/api/v1/peers/cert-b.example/test", a.base))
        .basic_auth("officer", Some("officer-password"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    documented("post", "/api/v1/peers/{origin}/test", &live);
    assert_eq!(
        (live["ok"].as_bool(), live["problem"].is_null()),
        (Some(true), true)
    );
    assert!(live["log_size"].as_u64().unwrap() >= 1);
    let api = c
        .post(format!("{}/api/v1/peers/cert-b.example/test", a.base))
        .basic_auth("auditor", Some("auditor-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 403);
}

/// A "peer" that answers every call with a problem whose text is hostile.
async fn hostile_peer() -> String {
    let app = axum::Router::new().fallback(|| async {
        let body = json!({ "type": "about:blank", "title": format!("Nope {HOSTILE}"),
            "status": 401, "detail": format!("refused {HOSTILE}") });
        (
            StatusCode::UNAUTHORIZED,
            [("content-type", "application/problem+json")],
            body.to_string(),
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_peers_address_and_problem_details_are_escaped() {
    let a = start("cert-a.example", "DE").await;
    let c = reqwest::Client::new();
    let url = format!("{}/{HOSTILE}", hostile_peer().await);
    let key = NodeKey::generate("evil.example").unwrap();
    let r = c
        .post(format!("{}/api/v1/peers", a.base))
        .basic_auth("admin", Some("admin-password"))
        .json(&json!({ "origin": "evil.example", "url": url,
                       "key": key.verifier().to_string(), "country": "FR" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    send_request(&c, &a, "evil.example").await;
    let s = status_when(&c, &a, "evil.example", |s| !s["last_error"].is_null()).await;
    assert_eq!(s["last_error"]["status"], 401, "{s}");
    assert_eq!(s["last_error"]["detail"], format!("refused {HOSTILE}"));
    assert_eq!(s["queued"], 1);

    let officer = Browser::as_user(&a.base, "officer").await;
    let page = officer.get("/ui/peers").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains(HOSTILE), "raw: {}", page.body);
    assert!(
        page.body.contains(&format!("refused {ESCAPED}")),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!("Nope {ESCAPED}")));
    let token = officer.csrf().await;
    let t = officer
        .post(
            "/ui/peers/test",
            &[("csrf", &token), ("peer", "evil.example")],
        )
        .await;
    assert!(t.body.contains("Connection test failed"), "{}", t.body);
    assert!(!t.body.contains(HOSTILE));
    assert!(t.body.contains(&format!("refused {ESCAPED}")), "{}", t.body);
}

/// The numbers of one series in a chart's data table.
fn series(body: &str, chart: &str, name: &str) -> Vec<u64> {
    let fig = &body[body.find(&format!("id=\"{chart}\"")).expect(chart)..];
    let fig = &fig[..fig.find("</figure>").unwrap()];
    let row = &fig[fig
        .find(&format!("<th scope=\"row\">{name}</th>"))
        .expect(name)..];
    let row = &row[..row.find("</tr>").unwrap()];
    row.split("<td>")
        .skip(1)
        .map(|c| c[..c.find("</td>").unwrap()].parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn reciprocity_charts_add_up_to_the_report_and_evidence_is_a_post() {
    let a = start("cert-a.example", "DE").await;
    let b = start("cert-b.example", "FR").await;
    let c = reqwest::Client::new();
    assert_eq!(peer_with(&c, &a, &b, "FR").await.status(), 201);
    assert_eq!(peer_with(&c, &b, &a, "DE").await.status(), 201);
    for _ in 0..3 {
        send_request(&c, &a, "cert-b.example").await;
    }
    send_request(&c, &b, "cert-a.example").await;
    status_when(&c, &b, "cert-a.example", |s| {
        !s["last_delivered_at"].is_null()
    })
    .await;
    let report: Value = c
        .get(format!("{}/api/v1/report?peer=cert-b.example", a.base))
        .basic_auth("auditor", Some("auditor-password"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = &report["reports"][0];
    assert_eq!(r["outbound"]["sent"], 3);
    assert_eq!(r["inbound"]["sent"], 1);

    let auditor = Browser::as_user(&a.base, "auditor").await;
    let page = auditor.get("/ui/reciprocity?peer=cert-b.example").await;
    assert_eq!(page.status, 200, "{}", page.body);
    for chart in [
        "chart-outbound",
        "chart-inbound",
        "chart-answer-times",
        "chart-overdue",
    ] {
        assert!(
            page.body.contains(&format!(
                "role=\"img\" aria-labelledby=\"{chart}-title\" id=\"{chart}\""
            )),
            "{chart}"
        );
    }
    assert!(
        !page.body.contains("style="),
        "no inline style under the CSP"
    );
    let sum = |v: Vec<u64>| v.iter().sum::<u64>();
    assert_eq!(sum(series(&page.body, "chart-outbound", "sent")), 3);
    assert_eq!(sum(series(&page.body, "chart-inbound", "sent")), 1);
    assert_eq!(sum(series(&page.body, "chart-outbound", "answered")), 0);
    let overdue = series(&page.body, "chart-overdue", "ours, overdue at the peer");
    assert_eq!(overdue.last().copied(), r["outbound"]["overdue"].as_u64());
    assert!(page.body.contains("action=\"/ui/reciprocity/evidence\""));

    // The API serves the same view the page draws.
    let from = detente_domain::time::parse(&format!(
        "{}T00:00:00Z",
        &page.body[page.body.find("placeholder=\"").unwrap() + 13..][..10]
    ))
    .unwrap();
    let api: Value = c
        .get(format!(
            "{}/api/v1/report/series?peer=cert-b.example&since={}",
            a.base,
            from.format("%Y-%m-%d")
        ))
        .basic_auth("auditor", Some("auditor-password"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let months: Vec<u64> = api["outbound"]["sent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(months, series(&page.body, "chart-outbound", "sent"));
    assert_eq!(api["report"]["outbound"]["sent"], 3);
    documented("get", "/api/v1/report/series", &api);
    let bad = c
        .get(format!("{}/api/v1/report/series?peer=%3Cx%3E", a.base))
        .basic_auth("auditor", Some("auditor-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    let bad = auditor
        .get("/ui/reciprocity?peer=cert-b.example&from=yesterday&to=2020-01-01")
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("id=\"f-from-error\""));
    let hostile = auditor.get("/ui/reciprocity?peer=%3Cscript%3E").await;
    assert_eq!(hostile.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!hostile.body.contains("<script>"));
    assert!(hostile.body.contains("id=\"f-peer-error\""));

    // Issuing evidence writes to the log: a POST with the token, never a GET.
    assert_eq!(
        auditor.get("/ui/reciprocity/evidence").await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    let form = [("peer", "cert-b.example"), ("since", "2020-01-01")];
    assert_eq!(
        auditor.post("/ui/reciprocity/evidence", &form).await.status,
        403
    );
    let token = auditor.csrf().await;
    let size = a.node.published().size;
    let e = auditor
        .post(
            "/ui/reciprocity/evidence",
            &[("csrf", token.as_str()), form[0], form[1]],
        )
        .await;
    assert_eq!(e.status, 200, "{}", e.body);
    assert!(e.headers["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"evidence-cert-b.example-20200101.json\""));
    let bundle: Value = serde_json::from_str(&e.body).unwrap();
    assert_eq!(bundle["format"], "detente-evidence/v1");
    assert!(
        a.node.published().size > size,
        "report.issued is in the log"
    );
    let keys = [a.node.verifier(), b.node.verifier()];
    detente_node::evidence::verify(&bundle, &keys).expect("the bundle verifies");
}
