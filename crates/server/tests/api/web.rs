//! The web interface on real nodes, driven as a browser would, without one:
//! security headers and cookie flags on every page, sessions that rotate and
//! end on the server, cross-site posts refused, hostile peer input escaped,
//! and each role offered only its own actions.

use crate::browser::{Browser, Page};
use crate::common::{peer_with, start, Running};
use detente_auth::{Role, Users};
use detente_domain::{Country, Origin};
use detente_node::outbound::{Outbound, Outgoing, Verdict};
use detente_node::Node;
use reqwest::header::SET_COOKIE;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
    connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn assert_secure_headers(p: &Page, what: &str) {
    let h = |n: &str| {
        p.headers
            .get(n)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("{what}: no {n}"))
    };
    assert_eq!(h("content-security-policy"), CSP, "{what}");
    assert_eq!(h("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(h("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(h("cache-control"), "no-store", "{what}");
    assert!(
        p.headers.get("strict-transport-security").is_none(),
        "{what}: HSTS only under TLS"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_page_sets_security_headers_and_the_session_cookie_is_locked_down() {
    let a = start("cert-a.example", "DE").await;
    let mut b = Browser::new(&a.base);

    let login = b.get("/ui/login").await;
    assert_eq!(login.status, 200);
    assert_secure_headers(&login, "login");
    let anon = b.get("/ui/requests").await;
    assert_eq!(anon.status, StatusCode::SEE_OTHER);
    assert_eq!(anon.headers["location"], "/ui/login");

    let wrong = b.sign_in("officer", "not-the-password").await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.headers.get(SET_COOKIE).is_none());
    assert!(
        wrong.body.contains("id=\"password-error\""),
        "{}",
        wrong.body
    );
    let empty = b.sign_in("", "").await;
    assert!(empty.body.contains("Enter your user name."));

    let ok = b.sign_in("officer", "officer-password").await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let cookie = ok.headers[SET_COOKIE].to_str().unwrap().to_string();
    assert!(cookie.starts_with("__Host-detente-session="), "{cookie}");
    for flag in ["; Path=/", "; HttpOnly", "; SameSite=Strict", "; Secure"] {
        assert!(cookie.contains(flag), "{cookie} lacks {flag}");
    }
    assert!(!cookie.contains("Domain="), "{cookie}");
    let secret = cookie.split(';').next().unwrap().split('=').nth(1).unwrap();
    assert_eq!(secret.len(), 43, "256 random bits");

    for path in [
        "/ui/",
        "/ui/requests",
        "/ui/compose",
        "/ui/holds",
        "/ui/sessions",
        "/ui/nowhere",
    ] {
        let p = b.get(path).await;
        let want = if path == "/ui/nowhere" { 404 } else { 200 };
        assert_eq!(p.status, want, "{path}: {}", p.body);
        assert_eq!(
            p.headers["content-type"], "text/html; charset=utf-8",
            "{path}"
        );
        assert_secure_headers(&p, path);
    }
    let css = b.get("/ui/static/app.css").await;
    assert_eq!(css.headers["content-type"], "text/css; charset=utf-8");
    assert_eq!(css.headers["x-content-type-options"], "nosniff");

    // Signing in again rotates the id: the old one is dead.
    let old = b.cookie.clone();
    b.sign_in("officer", "officer-password").await;
    assert_ne!(b.cookie, old);
    assert_eq!(b.get("/ui/").await.status, 200);
    let stale = Browser {
        cookie: old,
        ..Browser::new(&a.base)
    };
    assert_eq!(stale.get("/ui/").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread")]
async fn cross_site_posts_and_posts_without_the_token_change_nothing() {
    let a = start("cert-a.example", "DE").await;
    let b = Browser::signed_in(&a.base, "officer", "officer-password").await;
    let token = b.csrf().await;
    let form = [("csrf", token.as_str())];

    let r = b
        .post_from("/ui/logout", &form, "cross-site", "https://evil.example")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_secure_headers(&r, "refused post");
    let r = b.post_from("/ui/logout", &form, "same-site", &a.base).await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "a sibling subdomain is another site"
    );
    // Without Sec-Fetch-Site, Origin decides.
    let r = b
        .send(
            b.c.post(format!("{}/ui/logout", a.base))
                .header("origin", "http://evil.example")
                .form(&form),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = b
        .post("/ui/logout", &[("csrf", "0".repeat(64).as_str())])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "a token of no session");
    // GET never changes state.
    assert_eq!(b.get("/ui/logout").await.status, 405);
    assert_eq!(b.get("/ui/").await.status, 200, "still signed in");

    let r = b.post("/ui/logout", &form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.headers[SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(
        b.get("/ui/").await.status,
        StatusCode::SEE_OTHER,
        "the session ended on the server, not only in the browser"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_are_listed_revoked_and_ended_by_an_admin() {
    let a = start("cert-a.example", "DE").await;
    let laptop = Browser::signed_in(&a.base, "officer", "officer-password").await;
    let phone = Browser::signed_in(&a.base, "officer", "officer-password").await;
    let page = laptop.get("/ui/sessions").await.body;
    let handles: Vec<&str> = page
        .match_indices("name=\"handle\" value=\"")
        .map(|(i, m)| &page[i + m.len()..i + m.len() + 64])
        .collect();
    assert_eq!(handles.len(), 2, "{page}");
    assert!(!page.contains("End all sessions"), "not an admin");
    // The newest (the phone's) is listed first.
    let token = laptop.csrf().await;
    let r = laptop
        .post(
            "/ui/sessions/revoke",
            &[("csrf", &token), ("handle", handles[0])],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(phone.get("/ui/").await.status, StatusCode::SEE_OTHER);
    assert_eq!(laptop.get("/ui/").await.status, 200);
    let r = laptop
        .post("/ui/sessions/end-all", &[("csrf", &token)])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let admin = Browser::signed_in(&a.base, "admin", "admin-password").await;
    let token = admin.csrf().await;
    assert!(admin
        .get("/ui/sessions")
        .await
        .body
        .contains("End all sessions"));
    let r = admin
        .post("/ui/sessions/end-all", &[("csrf", &token)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(laptop.get("/ui/").await.status, StatusCode::SEE_OTHER);
    assert_eq!(admin.get("/ui/").await.status, StatusCode::SEE_OTHER);
}

const HOSTILE_REF: &str = "<script>alert(1)</script>";
const HOSTILE_FACTS: &str = "\"><img src=x onerror=alert(2)>";

async fn inbound_request(c: &reqwest::Client, from: &Running, to: &Running) -> String {
    let body = json!({
        "type": "subscriber_information",
        "reference": HOSTILE_REF,
        "issuing_authority": "Prosecutor's Office",
        "legal_basis": "Budapest Convention Art. 31",
        "offence": "Extortion",
        "facts": HOSTILE_FACTS,
        "data_requested": "Subscriber records",
        "link_to_offence": "The account hosted the portal",
        "urgency": "normal",
        "tlp": "amber",
        "recipient": to.node.config().origin,
    });
    let r = c
        .post(format!("{}/api/v1/requests", from.base))
        .basic_auth("officer", Some("officer-password"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let v: serde_json::Value = r.json().await.unwrap();
    let id = v["id"].as_str().unwrap().to_string();
    for _ in 0..300 {
        if let Ok(Some(row)) = to.node.store().request(&id) {
            if row.status == detente_storage::Status::Delivered {
                return id;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{id} never arrived");
}

fn assert_escaped(body: &str, what: &str) {
    assert!(!body.contains(HOSTILE_REF), "{what}: raw script tag");
    assert!(!body.contains("<img src=x"), "{what}: raw img tag");
    // askama writes `<` and `>` as numeric references.
    assert!(
        body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{what}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_peer_input_is_escaped_and_each_role_sees_only_its_actions() {
    let a = start("cert-a.example", "DE").await;
    let b = start("cert-b.example", "FR").await;
    let c = reqwest::Client::new();
    assert_eq!(peer_with(&c, &a, &b, "FR").await.status(), 201);
    assert_eq!(peer_with(&c, &b, &a, "DE").await.status(), 201);
    let id = inbound_request(&c, &a, &b).await;

    let officer = Browser::signed_in(&b.base, "officer", "officer-password").await;
    let home = officer.get("/ui/").await;
    assert!(
        home.body.contains(&format!("/ui/requests/{id}")),
        "waiting on me"
    );
    assert!(
        home.body.contains("hx-swap=\"outerHTML\">1</span>"),
        "one item waits: {}",
        home.body
    );
    assert_escaped(&home.body, "home");
    let list = officer
        .get("/ui/requests?q=%3Cscript&direction=inbound")
        .await;
    assert_escaped(&list.body, "list");
    assert!(list.body.contains(&id));
    let bad = officer.get("/ui/requests?status=lost&peer=%3Cx%3E").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("id=\"status-error\""));
    assert!(bad.body.contains("id=\"peer-error\""));
    assert!(!bad.body.contains("<x>"));

    let path = format!("/ui/requests/{id}");
    let detail = officer.get(&path).await;
    assert_escaped(&detail.body, "detail");
    assert!(detail
        .body
        .contains("&#34;&#62;&#60;img src=x onerror=alert(2)&#62;"));
    assert!(detail.body.contains("value=\"acknowledge\""));
    assert!(
        !detail.body.contains("value=\"withdraw\""),
        "not the sender"
    );
    assert!(
        !detail.body.contains("value=\"answer\""),
        "not yet acknowledged"
    );

    let auditor = Browser::signed_in(&b.base, "auditor", "auditor-password").await;
    let seen = auditor.get(&path).await;
    assert_eq!(seen.status, 200);
    assert!(
        !seen.body.contains(&format!("action=\"{path}\"")),
        "no action form"
    );
    let token = auditor.csrf().await;
    let r = auditor
        .post(&path, &[("csrf", &token), ("action", "acknowledge")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        b.node.store().request(&id).unwrap().unwrap().status,
        detente_storage::Status::Delivered
    );

    let token = officer.csrf().await;
    let r = officer
        .post(&path, &[("csrf", &token), ("action", "message")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("id=\"message-error\""),
        "error beside the field"
    );
    let r = officer
        .post(&path, &[("csrf", &token), ("action", "acknowledge")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        b.node.store().request(&id).unwrap().unwrap().status,
        detente_storage::Status::Acknowledged
    );
    let after = officer.get(&path).await.body;
    assert!(!after.contains("value=\"acknowledge\""));
    assert!(after.contains("value=\"answer\""));
    assert!(after.contains("value=\"decline\""));
    // Acknowledging twice is the lifecycle's refusal, shown on the page.
    let r = officer
        .post(&path, &[("csrf", &token), ("action", "acknowledge")])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("id=\"action-error\""));

    // At A, the sender's officer may withdraw and not acknowledge.
    let sender = Browser::signed_in(&a.base, "officer", "officer-password").await;
    let at_a = sender.get(&path).await.body;
    assert!(at_a.contains("value=\"withdraw\""));
    assert!(!at_a.contains("value=\"acknowledge\""));
    assert_escaped(&at_a, "sender's detail");
}

async fn post_form(b: &Browser, path: &str, f: Vec<(String, String)>) -> Page {
    let r =
        b.c.post(format!("{}{path}", b.base))
            .header("sec-fetch-site", "same-origin")
            .form(&f);
    b.send(r).await
}

fn held_out<'a>(parts: &'a [(&'a str, &'a [u8])], by: &'a str) -> Outgoing<'a> {
    Outgoing {
        recipient: "peer-ru.example",
        country: Country::parse("RU").unwrap(),
        subject: "stix:indicator--1@2026",
        parts,
        legal_basis: None,
        release: None,
        requested_by: Some(by),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_transfer_needs_another_reviewer_and_their_password() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("n");
    crate::common::init_dir(
        &dir,
        &Origin::parse("cert-us.example").unwrap(),
        Some(Country::parse("US").unwrap()),
    )
    .unwrap();
    let users = Users::new(detente_node::datadir::open_store(&dir).unwrap());
    for (n, r) in [
        ("rita", Role::Reviewer),
        ("rex", Role::Reviewer),
        ("olaf", Role::Officer),
    ] {
        users.add_user(n, r, &format!("{n}-password")).unwrap();
    }
    let node = Node::open(&dir).unwrap();
    let mut rows = String::from("device_id,lat,lon\n");
    for i in 0..1001 {
        rows.push_str(&format!(
            "dev-{i},{}.{:04},{}.{:04}\n",
            40 + i % 10,
            i % 10_000,
            70 + i % 50,
            (i * 7) % 10_000
        ));
    }
    let parts: &[(&str, &[u8])] = &[("d.csv", rows.as_bytes())];
    let gate = Outbound::new(node.clone()).unwrap();
    let Verdict::Withhold { hold: Some(id), .. } = gate.check(&held_out(parts, "rita")).unwrap()
    else {
        panic!("bulk precise geolocation to RU must be held");
    };
    drop(gate);
    let (app, _) =
        detente_server::node_app_parts(node.clone(), detente_node::exchange::system_clock())
            .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(detente_server::run(listener, app, std::future::pending()));

    // The officer sees no hold of someone else's; rita sees hers, without a form.
    let olaf = Browser::signed_in(&base, "olaf", "olaf-password").await;
    assert!(!olaf.get("/ui/holds").await.body.contains(&id));
    let rita = Browser::signed_in(&base, "rita", "rita-password").await;
    let queue = rita.get("/ui/holds").await.body;
    assert!(queue.contains(&id));
    assert!(queue.contains("another reviewer must decide it"), "{queue}");
    assert!(!queue.contains(&format!("action=\"/ui/holds/{id}\"")));
    let path = format!("/ui/holds/{id}");
    let token = rita.csrf().await;
    let form = |t: &str, pw: &str| {
        vec![
            ("csrf".to_string(), t.to_string()),
            ("decision".to_string(), "approve".to_string()),
            ("reason".to_string(), "MLA request 17 verified".to_string()),
            ("password".to_string(), pw.to_string()),
        ]
    };
    let r = post_form(&rita, &path, form(&token, "rita-password")).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "four eyes");
    assert!(r.body.contains("cannot review it"), "{}", r.body);

    let rex = Browser::signed_in(&base, "rex", "rex-password").await;
    let queue = rex.get("/ui/holds").await.body;
    assert!(queue.contains(&format!("action=\"/ui/holds/{id}\"")));
    assert!(queue.contains("<dt>Volume: "), "{queue}");
    let token = rex.csrf().await;
    let r = post_form(&rex, &path, form(&token, "")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains(&format!("id=\"password-error-{id}\"")));
    let r = post_form(&rex, &path, form(&token, "rita-password")).await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "rex's own password"
    );
    assert_eq!(
        node.store().hold_by_id(&id).unwrap().unwrap().status,
        detente_storage::HoldStatus::Held
    );
    let r = post_form(&rex, &path, form(&token, "rex-password")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let h = node.store().hold_by_id(&id).unwrap().unwrap();
    assert_eq!(
        (h.status, h.resolved_by.as_deref()),
        (detente_storage::HoldStatus::Approved, Some("rex"))
    );
}

/// Page times on a node holding 100,000 requests and 1,000 holds: prints the
/// p50 and p99 of 200 loads of each page (over loopback HTTP, so an upper bound
/// of the render time). A measurement, not a test: run it with
/// `cargo test -p detente-server --test api web::page_times -- --ignored --nocapture`
/// (`--release` for the figures of a deployment).
#[tokio::test(flavor = "multi_thread")]
#[ignore]
async fn page_times_with_100k_requests_and_1000_holds() {
    use detente_storage::{EventRow, ExchangeWrite, HoldRow, RequestRow};
    let a = start("cert-a.example", "DE").await;
    let store = a.node.store().clone();
    let t0 = std::time::Instant::now();
    for chunk in 0..100u32 {
        let writes = (0..1000u32)
            .map(|j| {
                let i = chunk * 1000 + j;
                let at = format!("2026-01-01T00:00:00.{i:06}Z");
                let id = format!("00000000-0000-4000-8000-{i:012}");
                let env = json!({"payload": {"event": {"kind": {"type": "submitted",
                    "request": {"reference": format!("Case-{i}"), "facts": "x".repeat(400)}}}}});
                let r = RequestRow {
                    id: id.clone(),
                    direction: if i % 2 == 0 {
                        detente_storage::Direction::Inbound
                    } else {
                        detente_storage::Direction::Outbound
                    },
                    peer: format!("peer-{}.example", i % 20),
                    kind: detente_storage::RequestType::SubscriberInformation,
                    urgency: detente_storage::Urgency::Normal,
                    tlp: detente_storage::Tlp::Amber,
                    reference: format!("Case-{i}"),
                    status: [
                        detente_storage::Status::Delivered,
                        detente_storage::Status::Acknowledged,
                        detente_storage::Status::Answered,
                    ][i as usize % 3],
                    submitted_at: at.clone(),
                    acknowledge_by: "2026-02-01T00:00:00.000000Z".into(),
                    answer_by: format!("2026-0{}-01T00:00:00.000000Z", 1 + i % 9),
                    acknowledged_at: None,
                    closed_at: (i % 3 == 2).then(|| at.clone()),
                    updated_at: at.clone(),
                    delivered_at: Some(at.clone()),
                    decline_ground: None,
                };
                let e = EventRow {
                    request_id: id,
                    seq: 0,
                    event_id: format!("e-{i}"),
                    actor: r.peer.clone(),
                    kind: "submitted".into(),
                    at,
                    log_index: i as u64,
                    envelope: env.to_string().into_bytes(),
                    receipt: None,
                };
                ExchangeWrite::RecordEvent(Box::new(r), Box::new(e))
            })
            .collect();
        store.write(writes).await.unwrap().unwrap();
    }
    for i in 0..1000 {
        store
            .hold(&HoldRow {
                id: format!("hold-{i}"),
                recipient: "peer-1.example".into(),
                country: "CN".into(),
                subject: format!("request-event:{i}"),
                decision: r#"{"decision":"hold","profile":"us-dsp","reasons":[{"rule":"r","text":"t"}],"counts":{}}"#.into(),
                status: detente_storage::HoldStatus::Held,
                created: format!("2026-01-01T00:00:{:02}.{i:06}Z", i % 60),
                resolved_by: None,
                reason: None,
                requested_by: Some("officer".into()),
                payload: None,
                released_at: None,
            })
            .unwrap();
    }
    println!("seeded in {:?}", t0.elapsed());
    let b = Browser::signed_in(&a.base, "admin", "admin-password").await;
    let deep =
        "/ui/requests?after=2026-01-01T00%3A00%3A00.050000Z%7C00000000-0000-4000-8000-000000050000";
    let pages = [
        "/ui/",
        "/ui/requests",
        deep,
        "/ui/requests?direction=inbound&status=delivered&peer=peer-4.example",
        "/ui/requests?overdue=1",
        "/ui/requests?q=Case-9999",
        "/ui/requests/00000000-0000-4000-8000-000000004242",
        "/ui/holds",
        "/ui/peers",
        "/ui/reciprocity?peer=peer-4.example&from=2025-01-01",
    ];
    for path in pages {
        let mut times = Vec::new();
        for _ in 0..200 {
            let t = std::time::Instant::now();
            let p = b.get(path).await;
            times.push(t.elapsed());
            assert_eq!(p.status, 200, "{path}");
        }
        times.sort();
        println!(
            "{path}: p50 {:.1} ms, p99 {:.1} ms",
            times[100].as_secs_f64() * 1e3,
            times[197].as_secs_f64() * 1e3
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn compose_previews_the_gate_before_anything_is_sent() {
    let a = start("cert-a.example", "DE").await;
    let b = start("cert-b.example", "FR").await;
    let c = reqwest::Client::new();
    assert_eq!(peer_with(&c, &a, &b, "FR").await.status(), 201);
    let officer = Browser::signed_in(&a.base, "officer", "officer-password").await;
    let form = officer.get("/ui/compose?type=preservation").await;
    assert_eq!(form.status, 200);
    assert!(
        form.body.contains("name=\"custodian\""),
        "preservation fields"
    );
    assert!(!officer
        .get("/ui/compose?type=consultation")
        .await
        .body
        .contains("name=\"custodian\""));
    let auditor = Browser::signed_in(&a.base, "auditor", "auditor-password").await;
    assert_eq!(auditor.get("/ui/compose").await.status, 403);

    let token = officer.csrf().await;
    let facts = "Ransom notes were sent from john.doe@example.com <b>to</b> the victims.";
    let fields = |step: &'static str, reference: &'static str| {
        vec![
            ("csrf", token.clone()),
            ("step", step.into()),
            ("type", "subscriber_information".into()),
            ("recipient", "cert-b.example".into()),
            ("reference", reference.into()),
            ("issuing_authority", "Prosecutor's Office".into()),
            ("legal_basis", "Budapest Convention Art. 31".into()),
            ("offence", "Extortion".into()),
            ("facts", facts.into()),
            ("data_requested", "Subscriber records".into()),
            ("link_to_offence", "The address sent the notes".into()),
            ("urgency", "normal".into()),
            ("tlp", "amber".into()),
        ]
    };
    // A browser posts the compose form as multipart (it carries files).
    let post = |f: Vec<(&'static str, String)>, file: Option<(&'static str, &'static [u8])>| {
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in f {
            form = form.text(k, v);
        }
        if let Some((name, body)) = file {
            let part = reqwest::multipart::Part::bytes(body)
                .file_name(name)
                .mime_str("text/csv")
                .unwrap();
            form = form.part("file", part);
        }
        let r = officer
            .c
            .post(format!("{}/ui/compose", a.base))
            .header("sec-fetch-site", "same-origin")
            .multipart(form);
        officer.send(r)
    };
    let r = post(fields("preview", ""), None).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"f-reference-error\""), "{}", r.body);

    let csv: &[u8] = b"subscriber,address\nalice,alice@example.org\n";
    let r = post(
        fields("preview", "2026/CC/7"),
        Some(("subscribers.csv", csv)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The file is stored and carried to the next step by its citation.
    let marker = "name=\"attachment\" value=\"";
    let at = r.body.find(marker).expect("the file is kept") + marker.len();
    let token = r.body[at..at + r.body[at..].find('"').unwrap()].replace("&#34;", "\"");
    assert!(token.contains("subscribers.csv"), "{token}");
    assert!(r.body.contains("Gate preview:"), "{}", r.body);
    assert!(
        r.body.contains("<mark title="),
        "the address is marked: {}",
        r.body
    );
    assert!(!r.body.contains("<b>to</b>"), "escaped");
    assert!(r.body.contains("value=\"send\""));
    let none = detente_storage::RequestFilter::default();
    assert!(
        a.node.store().requests(&none).unwrap().is_empty(),
        "a preview sends nothing"
    );

    let mut send = fields("send", "2026/CC/7");
    send.push(("attachment", token));
    let r = post(send, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let sent = a.node.store().requests(&none).unwrap();
    assert_eq!(sent.len(), 1);
    let first = a.node.store().events(&sent[0].id).unwrap().remove(0);
    let env: serde_json::Value = serde_json::from_slice(&first.envelope).unwrap();
    let cited = &env["payload"]["event"]["kind"]["request"]["attachments"][0];
    assert_eq!(cited["name"], "subscribers.csv");
    assert_eq!(cited["sha256"], hex::encode(detente_domain::sha256(csv)));
    assert_eq!(
        r.headers["location"],
        format!("/ui/requests/{}", sent[0].id).as_str()
    );
}

/// Posts the bulk form of the listing with the selected ids.
async fn bulk(b: &Browser, ids: &[&str], fields: &[(&str, &str)]) -> Page {
    let mut f: Vec<(String, String)> = vec![("csrf".into(), b.csrf().await)];
    f.extend(ids.iter().map(|id| ("id".to_string(), id.to_string())));
    f.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    post_form(b, "/ui/requests/bulk?direction=inbound", f).await
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_actions_sign_one_envelope_per_request_and_bad_forms_change_nothing() {
    let a = start("cert-a.example", "DE").await;
    let b = start("cert-b.example", "FR").await;
    let c = reqwest::Client::new();
    assert_eq!(peer_with(&c, &a, &b, "FR").await.status(), 201);
    assert_eq!(peer_with(&c, &b, &a, "DE").await.status(), 201);
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(inbound_request(&c, &a, &b).await);
    }
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let officer = Browser::signed_in(&b.base, "officer", "officer-password").await;
    let events = |id: &str| b.node.store().events(id).unwrap().len();
    let before: Vec<usize> = ids.iter().map(|id| events(id)).collect();

    // Bad forms: each error beside its field, nothing signed.
    let none = bulk(&officer, &[], &[("action", "acknowledge")]).await;
    assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(none.body.contains("id=\"bulk-id-error\""), "{}", none.body);
    let why = bulk(
        &officer,
        &ids,
        &[("action", "extend"), ("answer_by", "2030-01-01")],
    )
    .await;
    assert!(why.body.contains("id=\"bulk-justification-error\""));
    let date = bulk(
        &officer,
        &ids,
        &[("action", "extend"), ("justification", "load")],
    )
    .await;
    assert!(date.body.contains("id=\"bulk-answer-by-error\""));
    assert!(date.body.contains(">load</textarea>"), "the draft is kept");
    let auditor = Browser::signed_in(&b.base, "auditor", "auditor-password").await;
    let read_only = bulk(&auditor, &ids, &[("action", "acknowledge")]).await;
    assert_eq!(read_only.status, StatusCode::FORBIDDEN);
    let after: Vec<usize> = ids.iter().map(|id| events(id)).collect();
    assert_eq!(before, after);

    // Acknowledge two: one envelope each; the filters stay in the form.
    let ack = bulk(&officer, &ids[..2], &[("action", "acknowledge")]).await;
    assert_eq!(ack.status, StatusCode::OK, "{}", ack.body);
    assert!(ack.body.contains("Done for 2"), "{}", ack.body);
    assert!(ack
        .body
        .contains("action=\"/ui/requests/bulk?direction=inbound\""));
    for (i, id) in ids.iter().enumerate() {
        let row = b.node.store().request(id).unwrap().unwrap();
        let expect = if i < 2 {
            detente_storage::Status::Acknowledged
        } else {
            detente_storage::Status::Delivered
        };
        assert_eq!(row.status, expect);
        assert_eq!(events(id), before[i] + usize::from(i < 2));
    }
    // Again: already acknowledged, refused per request, the rest done.
    let again = bulk(&officer, &ids, &[("action", "acknowledge")]).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.body.contains("Done for 1") && again.body.contains("Not done for 2"));

    // Propose a new deadline: a message per request, carrying the justification.
    let ext = bulk(
        &officer,
        &ids,
        &[
            ("action", "extend"),
            ("justification", "Backlog after the outage"),
            ("answer_by", "2030-01-01"),
        ],
    )
    .await;
    assert_eq!(ext.status, StatusCode::OK, "{}", ext.body);
    for id in &ids {
        let last = b.node.store().events(id).unwrap().pop().unwrap();
        assert_eq!(last.kind, "message");
        let env: serde_json::Value = serde_json::from_slice(&last.envelope).unwrap();
        let kind = &env["payload"]["event"]["kind"];
        assert_eq!(kind["text"], "Backlog after the outage");
        assert_eq!(kind["proposed_answer_by"], "2030-01-01T23:59:59.000000Z");
    }

    // A agrees to B's proposal from the request's page: its own consent, then
    // the extension citing both; the deadline moves on both sides.
    let a_officer = Browser::signed_in(&a.base, "officer", "officer-password").await;
    let path = format!("/ui/requests/{}", ids[0]);
    let mut page = a_officer.get(&path).await;
    for _ in 0..300 {
        if page.body.contains("Agree to the new deadline") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        page = a_officer.get(&path).await;
    }
    assert!(
        page.body.contains("value=\"2030-01-01T23:59:59.000000Z\""),
        "{}",
        page.body
    );
    let token = a_officer.csrf().await;
    let stale = [
        ("csrf", token.as_str()),
        ("action", "agree"),
        ("proposed", "2029-01-01T00:00:00.000000Z"),
    ];
    let refused = a_officer.post(&path, &stale).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "not a proposal seen");
    let agree = [
        ("csrf", token.as_str()),
        ("action", "agree"),
        ("proposed", "2030-01-01T23:59:59.000000Z"),
    ];
    let done = a_officer.post(&path, &agree).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    for node in [&a, &b] {
        let mut moved = false;
        for _ in 0..300 {
            let row = node.node.store().request(ids[0]).unwrap().unwrap();
            if row.answer_by == "2030-01-01T23:59:59.000000Z" {
                moved = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(moved, "the deadline moved at {}", node.base);
    }
    assert!(!a_officer
        .get(&path)
        .await
        .body
        .contains("Agree to the new deadline"));

    // Export, by a reader too: each request with its timeline, and why.
    let r = c
        .post(format!("{}/ui/requests/bulk", b.base))
        .header("sec-fetch-site", "same-origin")
        .header("cookie", auditor.cookie.clone().unwrap())
        .form(&[
            ("csrf", auditor.csrf().await.as_str()),
            ("action", "export"),
            ("justification", "Audit 2026-Q4"),
            ("id", ids[0]),
            ("id", ids[2]),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"requests-"));
    let doc: serde_json::Value = r.json().await.unwrap();
    assert_eq!(doc["exported_by"], "auditor");
    assert_eq!(doc["justification"], "Audit 2026-Q4");
    let got: Vec<&str> = doc["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[0], ids[2]]);
    assert!(doc["requests"][0]["timeline"].as_array().unwrap().len() >= 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_detail_offers_each_envelopes_proof_and_only_the_requests_own_attachments() {
    use detente_log::proof_file::ProofFile;
    let a = start("cert-a.example", "DE").await;
    let b = start("cert-b.example", "FR").await;
    let c = reqwest::Client::new();
    assert_eq!(peer_with(&c, &a, &b, "FR").await.status(), 201);
    assert_eq!(peer_with(&c, &b, &a, "DE").await.status(), 201);
    let upload = |body: &'static [u8]| {
        c.post(format!("{}/api/v1/attachments", a.base))
            .basic_auth("officer", Some("officer-password"))
            .header("content-type", "text/html")
            .body(body)
            .send()
    };
    let page: &[u8] = b"<html><script>alert(document.cookie)</script></html>";
    let sha = upload(page)
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let other = upload(b"not cited")
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!({
        "type": "subscriber_information", "reference": "P-7", "issuing_authority": "Prosecutor",
        "legal_basis": "Budapest Convention Art. 31", "offence": "Fraud", "facts": "Phishing kit",
        "data_requested": "Subscriber records", "link_to_offence": "It hosted the kit",
        "urgency": "normal", "tlp": "amber",
        "recipient": b.node.config().origin,
        "attachments": [{"name": "kit page\".html", "media_type": "text/html",
                         "size": page.len(), "sha256": sha}],
    });
    let r = c
        .post(format!("{}/api/v1/requests", a.base))
        .basic_auth("officer", Some("officer-password"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let id = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut receipted = false;
    for _ in 0..300 {
        let events = a.node.store().events(&id).unwrap();
        if events.first().is_some_and(|e| e.receipt.is_some()) {
            receipted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(receipted, "B never receipted the submission");

    // At B: the detail links the attachment and each envelope's proof.
    let officer = Browser::signed_in(&b.base, "officer", "officer-password").await;
    let detail = officer.get(&format!("/ui/requests/{id}")).await;
    let link = format!("/ui/requests/{id}/attachments/{sha}");
    assert!(detail.body.contains(&link), "{}", detail.body);
    assert!(detail.body.contains(&format!("/ui/requests/{id}/proof/0")));
    let got = officer.get(&link).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.headers["content-type"], "application/octet-stream");
    assert_eq!(
        got.headers["content-disposition"],
        "attachment; filename=\"kit_page_.html\""
    );
    assert_eq!(got.body.as_bytes(), page);
    let uncited = officer
        .get(&format!("/ui/requests/{id}/attachments/{other}"))
        .await;
    assert_eq!(uncited.status, StatusCode::NOT_FOUND);
    assert!(!uncited.body.contains("not cited"));

    // B's proof of the submission verifies under B's key and is that envelope.
    let events = b.node.store().events(&id).unwrap();
    let text = officer
        .get(&format!("/ui/requests/{id}/proof/0"))
        .await
        .body;
    let pf = ProofFile::parse(&text).unwrap();
    let leaf = detente_domain::leaf_for(&detente_domain::sha256(&events[0].envelope));
    assert_eq!(pf.extra.as_deref(), Some(&leaf[..]));
    pf.verify(&leaf, &b.node.verifier()).unwrap();
    assert_eq!(
        officer
            .get(&format!("/ui/requests/{id}/proof/99"))
            .await
            .status,
        404
    );

    // At A: B's receipt of the submission, a proof in B's log.
    let a_officer = Browser::signed_in(&a.base, "officer", "officer-password").await;
    let text = a_officer
        .get(&format!("/ui/requests/{id}/receipt/0"))
        .await
        .body;
    ProofFile::parse(&text)
        .unwrap()
        .verify(&leaf, &b.node.verifier())
        .unwrap();
    let stranger = start("cert-c.example", "NL").await;
    let c_officer = Browser::signed_in(&stranger.base, "officer", "officer-password").await;
    assert_eq!(
        c_officer
            .get(&format!("/ui/requests/{id}/proof/0"))
            .await
            .status,
        404
    );
}
