//! Notifications between two real nodes: a new inbound request is mailed to a
//! local SMTP sink and posted to a local webhook with a valid HMAC; the
//! notifications page shows each user only their own; a mail relay or
//! webhook that fails does not fail the request.

use crate::common::{peer_with, start, start_tuned, Running};
use detente_node::notify::{Rule, SmtpConfig, SmtpTls};
use hmac::Mac;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

const SECRET: &str = "a-webhook-secret-of-some-length";

/// A mail sink speaking just enough SMTP for a client: each message arrives
/// on the channel as its envelope recipients and data.
async fn smtp_sink() -> (u16, mpsc::UnboundedReceiver<String>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(smtp_session(s, tx.clone()));
        }
    });
    (port, rx)
}

async fn smtp_session(s: tokio::net::TcpStream, tx: mpsc::UnboundedSender<String>) {
    let (r, mut w) = s.into_split();
    let mut lines = BufReader::new(r).lines();
    let _ = w.write_all(b"220 sink ESMTP\r\n").await;
    let mut msg = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        let answer: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250 sink\r\n",
            "RCPT" => {
                msg.push_str(&line);
                msg.push('\n');
                b"250 ok\r\n"
            }
            "DATA" => {
                let _ = w.write_all(b"354 go on\r\n").await;
                while let Ok(Some(l)) = lines.next_line().await {
                    if l == "." {
                        break;
                    }
                    msg.push_str(&l);
                    msg.push('\n');
                }
                let _ = tx.send(std::mem::take(&mut msg));
                b"250 queued\r\n"
            }
            "QUIT" => {
                let _ = w.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => b"250 ok\r\n",
        };
        if w.write_all(answer).await.is_err() {
            return;
        }
    }
}

/// One webhook call: its headers and body.
struct Call {
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

/// A webhook receiver answering `status`; calls arrive on the channel.
async fn webhook(status: u16) -> (String, mpsc::UnboundedReceiver<Call>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(Call {
                        headers,
                        body: body.to_vec(),
                    });
                    axum::http::StatusCode::from_u16(status).unwrap()
                }
            },
        ),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (url, rx)
}

/// A port nothing listens on.
async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

fn smtp_at(port: u16) -> SmtpConfig {
    toml::from_str::<SmtpConfig>(&format!(
        "host = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"detente <detente@cert-b.example>\"\ntimeout_secs = 3"
    ))
    .unwrap()
}

fn officer_rule(email: Option<&str>, hook: Option<&str>) -> Rule {
    Rule {
        user: "officer".into(),
        email: email.map(str::to_string),
        webhook: hook.map(str::to_string),
        webhook_secret: hook.map(|_| SECRET.to_string()),
        ..Rule::default()
    }
}

/// Two peered nodes; `tune_b` configures the recipient's notifications.
async fn pair(tune_b: impl FnOnce(&mut detente_node::config::Config)) -> (Running, Running) {
    let a = start("cert-a.example", "DE").await;
    let b = start_tuned("cert-b.example", "FR", tune_b).await;
    let c = reqwest::Client::new();
    assert_eq!(peer_with(&c, &a, &b, "FR").await.status(), 201);
    assert_eq!(peer_with(&c, &b, &a, "DE").await.status(), 201);
    (a, b)
}

/// A's officer sends a request to B; returns its id once B has it.
async fn send_request(a: &Running, b: &Running, reference: &str) -> String {
    let body = json!({
        "type": "subscriber_information", "reference": reference,
        "issuing_authority": "Prosecutor's Office", "legal_basis": "Budapest Convention Art. 31",
        "offence": "Extortion", "facts": "A ransom portal was hosted on the account.",
        "data_requested": "Subscriber records", "link_to_offence": "The account hosted the portal",
        "urgency": "normal", "tlp": "amber", "recipient": b.node.config().origin,
    });
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/requests", a.base))
        .basic_auth("officer", Some("officer-password"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..300 {
        if let Ok(Some(row)) = b.node.store().request(&id) {
            if row.status == detente_storage::Status::Delivered {
                return id;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{id} never arrived");
}

async fn next<T>(rx: &mut mpsc::UnboundedReceiver<T>, what: &str) -> T {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .unwrap_or_else(|_| panic!("no {what} within 20 s"))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_inbound_request_is_mailed_and_posted_to_a_signed_webhook() {
    let (port, mut mails) = smtp_sink().await;
    let (hook, mut calls) = webhook(204).await;
    let (a, b) = pair(|c| {
        c.smtp = Some(smtp_at(port));
        c.notify = vec![officer_rule(Some("officer@cert-b.example"), Some(&hook))];
    })
    .await;
    let id = send_request(&a, &b, "NOTIFY/2026/0007").await;

    let mail = next(&mut mails, "mail").await;
    assert!(mail.contains("RCPT TO:<officer@cert-b.example>"), "{mail}");
    assert!(
        mail.contains("Subject: [detente] New request NOTIFY/2026/0007 from cert-a.example"),
        "{mail}"
    );
    assert!(mail.contains(&format!("/ui/requests/{id}")), "{mail}");

    let call = next(&mut calls, "webhook call").await;
    let h = |n: &str| call.headers.get(n).unwrap().to_str().unwrap().to_string();
    let ts = h("x-detente-timestamp");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(&call.body);
    let want = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(
        h("x-detente-signature"),
        want,
        "the MAC covers timestamp and body"
    );
    let age = chrono::Utc::now().timestamp() - ts.parse::<i64>().unwrap();
    assert!((0..300).contains(&age), "signed just now: {age} s");
    let v: Value = serde_json::from_slice(&call.body).unwrap();
    assert_eq!(v["kind"], "request.inbound");
    assert_eq!(v["user"], "officer");
    assert_eq!(v["node"], "cert-b.example");
    assert_eq!(v["link"], format!("/ui/requests/{id}"));
    // Exactly one of each: nobody else receives inbound requests by default.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(mails.try_recv().is_err() && calls.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_mail_relay_and_webhook_do_not_fail_the_request() {
    let dead = closed_port().await;
    let (hook, mut calls) = webhook(500).await;
    let (a, b) = pair(|c| {
        c.smtp = Some(smtp_at(dead));
        c.notify = vec![officer_rule(Some("officer@cert-b.example"), Some(&hook))];
    })
    .await;
    // Created (201) and delivered although no notification can go out.
    let id = send_request(&a, &b, "NOTIFY/2026/0008").await;
    next(&mut calls, "webhook call").await;
    let db = b.node.notifier().unwrap().db();
    let mut tried = Vec::new();
    for _ in 0..200 {
        tried = db.notify_deliveries("officer").unwrap();
        if tried.len() == 2
            && tried
                .iter()
                .all(|d| d.attempts >= 1 && d.last_error.is_some())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(tried.len(), 2, "{tried:?}");
    for d in &tried {
        assert!(d.attempts >= 1 && !d.sent, "{tried:?}");
        let error = d.last_error.as_deref().unwrap_or_default();
        assert!(!error.contains(SECRET), "{error}");
        if d.channel.as_str() == "webhook" {
            assert!(error.contains("500"), "{error}");
        }
    }
    // The interface has it all the same.
    let b_officer = Browser::signed_in(&b.base, "officer").await;
    assert!(b_officer
        .get("/ui/notifications")
        .await
        .1
        .contains(&format!("/ui/requests/{id}")));
}

/// A signed-in browser session, as far as these tests need one.
struct Browser {
    c: reqwest::Client,
    base: String,
    cookie: String,
}

impl Browser {
    async fn signed_in(base: &str, user: &str) -> Browser {
        let c = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let password = format!("{user}-password");
        let r = c
            .post(format!("{base}/ui/login"))
            .header("sec-fetch-site", "same-origin")
            .form(&[("name", user), ("password", password.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let cookie = r.headers()["set-cookie"].to_str().unwrap();
        let cookie = cookie.split(';').next().unwrap().to_string();
        Browser {
            c,
            base: base.to_string(),
            cookie,
        }
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let r = self
            .c
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
        let r = self
            .c
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("sec-fetch-site", "same-origin")
            .form(form)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    async fn csrf(&self) -> String {
        let body = self.get("/ui/notifications").await.1;
        let at = body.find("name=\"csrf\" value=\"").expect("a form") + 19;
        body[at..at + 64].to_string()
    }
}

/// The value of the first `name="id"` field on a page.
fn first_id(body: &str) -> String {
    let at = body.find("name=\"id\" value=\"").expect("a notification") + 17;
    body[at..].split('"').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_notifications_page_shows_each_user_only_their_own() {
    let (a, b) = pair(|_| {}).await;
    let id = send_request(&a, &b, "NOTIFY/2026/0009").await;
    let link = format!("/ui/requests/{id}");
    let officer = Browser::signed_in(&b.base, "officer").await;
    let mut page = String::new();
    for _ in 0..200 {
        page = officer.get("/ui/notifications").await.1;
        if page.contains(&link) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        page.contains(&link) && page.contains("New request NOTIFY/2026/0009"),
        "{page}"
    );
    assert!(page.contains("<strong>Unread</strong>"));
    let badge = "hx-swap=\"outerHTML\">1<span class=\"visually-hidden\"> unread</span>";
    assert!(
        officer.get("/ui/").await.1.contains(badge),
        "the badge counts it"
    );
    let badge = officer.get("/ui/notifications/badge").await.1;
    assert!(badge.contains(">1<"), "{badge}");

    // Neither the auditor nor the admin receives inbound requests by default,
    // and another user cannot mark the officer's notification read.
    let auditor = Browser::signed_in(&b.base, "auditor").await;
    let admin = Browser::signed_in(&b.base, "admin").await;
    for other in [&auditor, &admin] {
        let (s, body) = other.get("/ui/notifications").await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            !body.contains(&link) && body.contains("Nothing yet"),
            "{body}"
        );
    }
    let n = first_id(&page);
    let token = auditor.csrf().await;
    auditor
        .post("/ui/notifications/read", &[("csrf", &token), ("id", &n)])
        .await;
    assert!(officer
        .get("/ui/notifications")
        .await
        .1
        .contains("<strong>Unread</strong>"));

    let token = officer.csrf().await;
    let (s, _) = officer
        .post("/ui/notifications/read", &[("csrf", &token), ("id", &n)])
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let page = officer.get("/ui/notifications").await.1;
    assert!(
        !page.contains("<strong>Unread</strong>") && page.contains("<td>Read</td>"),
        "{page}"
    );
    assert!(officer
        .get("/ui/notifications/badge")
        .await
        .1
        .contains(" hidden>"));
    // Without the form token nothing changes (and nothing on GET).
    let (s, _) = officer
        .post("/ui/notifications/read", &[("csrf", "x")])
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_are_each_users_own_and_an_admin_edits_anyones() {
    let b = start("cert-b.example", "FR").await;
    let officer = Browser::signed_in(&b.base, "officer").await;
    let (s, body) = officer.get("/ui/notifications/settings").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        body.contains("id=\"k-request.inbound\" name=\"kind\" value=\"request.inbound\" checked"),
        "officer default"
    );
    assert!(
        body.contains("id=\"k-transfer.held\" name=\"kind\" value=\"transfer.held\">"),
        "not by default"
    );
    let (s, _) = officer.get("/ui/notifications/settings?user=admin").await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let token = officer.csrf().await;
    let bad = [
        ("csrf", token.as_str()),
        ("user", "officer"),
        ("kind", "request.inbound"),
        ("webhook", "https://10.0.0.1/x"),
        ("webhook_secret", SECRET),
    ];
    let (s, body) = officer.post("/ui/notifications/settings", &bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body.contains("id=\"f-webhook-error\">only an admin may set or change a webhook"),
        "{body}"
    );
    let (s, body) = officer
        .post(
            "/ui/notifications/settings",
            &[
                ("csrf", &token),
                ("user", "officer"),
                ("email", "o@cert-b.example"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "no [smtp]");
    assert!(
        body.contains("id=\"f-email-error\">this node sends no e-mail"),
        "{body}"
    );
    let ok = [
        ("csrf", token.as_str()),
        ("user", "admin"),
        ("kind", "transfer.held"),
    ];
    let (s, _) = officer.post("/ui/notifications/settings", &ok).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "not another user's");

    let admin = Browser::signed_in(&b.base, "admin").await;
    let token = admin.csrf().await;
    let ftp = [
        ("csrf", token.as_str()),
        ("user", "officer"),
        ("webhook", "ftp://hooks.example/x"),
        ("webhook_secret", SECRET),
    ];
    let (s, body) = admin.post("/ui/notifications/settings", &ftp).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("id=\"f-webhook-error\">&#34;ftp://hooks.example/x&#34; must be an http:// or https:// URL"), "{body}");
    let hook = [
        ("csrf", token.as_str()),
        ("user", "officer"),
        ("kind", "transfer.held"),
        ("webhook", "https://hooks.example/x"),
        ("webhook_secret", SECRET),
    ];
    let (s, _) = admin.post("/ui/notifications/settings", &hook).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let saved = b
        .node
        .notifier()
        .unwrap()
        .settings("officer", "officer")
        .unwrap();
    assert_eq!(saved.kinds, [detente_node::notify::Kind::TransferHeld]);
    assert_eq!(saved.webhook_secret.as_deref(), Some(SECRET));
    let (_, body) = admin.get("/ui/notifications/settings?user=officer").await;
    assert!(
        body.contains("one is set") && !body.contains(SECRET),
        "the secret is never shown"
    );
}

#[test]
fn smtp_settings_default_to_starttls() {
    let s: SmtpConfig = toml::from_str("host = \"mail.example\"\nfrom = \"d@x.example\"").unwrap();
    assert_eq!((s.tls, s.port()), (SmtpTls::Starttls, 587));
}

/// The notifications of `kind` that `user` has, once there are some.
async fn wait_items(node: &Running, user: &str, kind: &str) -> Vec<detente_node::notify::Item> {
    let db = node.node.notifier().unwrap().db();
    for _ in 0..250 {
        let items: Vec<_> = db
            .notifications(user, 50)
            .unwrap()
            .into_iter()
            .filter(|i| i.kind.as_str() == kind)
            .collect();
        if !items.is_empty() {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{user} got no {kind}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_delivery_reaches_the_admin() {
    let a = start("cert-a.example", "RU").await;
    // A stand-in for cert-b.example that refuses every envelope for good.
    let refuse = axum::routing::post(|body: axum::body::Bytes| async move {
        let n = serde_json::from_slice::<Value>(&body).unwrap()["envelopes"]
            .as_array()
            .unwrap()
            .len();
        let problem = json!({ "problem": { "type": "about:blank", "title": "Conflict", "status": 409,
                                           "detail": "cannot act on a request that was answered" } });
        axum::Json(json!({ "results": vec![problem; n] }))
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(l, axum::Router::new().route("/federation/v1/batch", refuse)).await
    });
    let fake = detente_domain::NodeKey::generate("cert-b.example").unwrap();
    let p = detente_node::peers::Peer::parse(
        "cert-b.example",
        &url,
        &fake.verifier().to_string(),
        "US",
    )
    .unwrap();
    assert!(a.node.add_peer(&p).await.unwrap());
    let id = send_request_only(&a, "NOTIFY/2026/0010").await;
    let items = wait_items(&a, "admin", "delivery.refused").await;
    assert_eq!(items.len(), 1);
    assert!(
        items[0]
            .title
            .contains("cert-b.example refused an envelope of request NOTIFY/2026/0010: 409"),
        "{:?}",
        items[0]
    );
    assert_eq!(items[0].link, format!("/ui/requests/{id}"));
    assert!(
        a.node
            .notifier()
            .unwrap()
            .db()
            .notifications("officer", 50)
            .unwrap()
            .is_empty(),
        "officers do not get it"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_transfer_reaches_a_reviewer() {
    let a = start("cert-us.example", "US").await;
    // A reviewer added after the node started receives it.
    let users = detente_auth::Users::new(a.node.store().clone());
    users
        .add_user("rita", detente_auth::Role::Reviewer, "rita-password")
        .unwrap();
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
    let gate = detente_node::outbound::Outbound::new(a.node.clone()).unwrap();
    let out = detente_node::outbound::Outgoing {
        recipient: "peer-ru.example",
        country: detente_domain::Country::parse("RU").unwrap(),
        subject: "stix:indicator--1@2026",
        parts,
        legal_basis: None,
        release: None,
        requested_by: Some("officer"),
    };
    let verdict = gate.check(&out).unwrap();
    assert!(
        matches!(
            verdict,
            detente_node::outbound::Verdict::Withhold { hold: Some(_), .. }
        ),
        "held"
    );
    let held = wait_items(&a, "rita", "transfer.held").await;
    assert!(
        held[0]
            .title
            .contains("to peer-ru.example: stix:indicator--1@2026"),
        "{:?}",
        held[0]
    );
    assert_eq!(held[0].link, "/ui/holds");
}

/// A's officer sends a request to cert-b.example without waiting for it to arrive.
async fn send_request_only(a: &Running, reference: &str) -> String {
    let body = json!({
        "type": "subscriber_information", "reference": reference,
        "issuing_authority": "Prosecutor's Office", "legal_basis": "Budapest Convention Art. 31",
        "offence": "Extortion", "facts": "A ransom portal was hosted on the account.",
        "data_requested": "Subscriber records", "link_to_offence": "The account hosted the portal",
        "urgency": "normal", "tlp": "amber", "recipient": "cert-b.example",
    });
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/requests", a.base))
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
