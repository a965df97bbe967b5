//! The admin and threat-intelligence screens on real nodes, driven as a
//! browser would: admins only (403 for every other role, on every page and
//! form), hostile names escaped, users added who can then sign in, tokens
//! revoked that then open nothing, sessions ended, the last admin kept, and
//! collection counts that match the TAXII store.

use crate::browser::Browser;
use crate::common::{peer_with, start, Running};
use detente_taxii::store::{Collection, TaxiiStore};
use reqwest::StatusCode;
use serde_json::{json, Value};

const ADMIN_PAGES: &[&str] = &[
    "/ui/admin",
    "/ui/admin/tokens",
    "/ui/admin/sessions",
    "/ui/admin/node",
];

const ADMIN_FORMS: &[&str] = &[
    "/ui/admin/users",
    "/ui/admin/users/role",
    "/ui/admin/users/remove",
    "/ui/admin/tokens",
    "/ui/admin/tokens/revoke",
    "/ui/admin/sessions/end",
    "/ui/admin/sessions/end-user",
];

async fn admin(a: &Running) -> Browser {
    Browser::signed_in(&a.base, "admin", "admin-password").await
}

fn user_names(a: &Running) -> Vec<String> {
    let users = detente_auth::Users::new(a.node.store().clone());
    users
        .list_users()
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn only_admins_see_the_admin_screens_and_use_their_forms() {
    let a = start("cert-a.example", "DE").await;
    let root = admin(&a).await;
    for path in ADMIN_PAGES {
        let p = root.get(path).await;
        assert_eq!(p.status, 200, "{path}: {}", p.body);
    }
    assert!(root.get("/ui/").await.body.contains("href=\"/ui/admin\""));
    let before = user_names(&a);
    for user in ["officer", "auditor"] {
        let b = Browser::signed_in(&a.base, user, &format!("{user}-password")).await;
        assert!(!b.get("/ui/").await.body.contains("href=\"/ui/admin\""));
        for path in ADMIN_PAGES {
            assert_eq!(b.get(path).await.status, 403, "{user} GET {path}");
        }
        let form = [
            ("name", "admin"),
            ("role", "officer"),
            ("password", "a long enough password"),
            ("owner", user),
            ("label", "mine"),
            ("user", "admin"),
        ];
        for path in ADMIN_FORMS {
            assert_eq!(
                b.post_with_token(path, &form).await.status,
                403,
                "{user} POST {path}"
            );
        }
    }
    assert_eq!(user_names(&a), before, "nothing changed");
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/ui/admin", a.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "anonymous: to sign-in");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_added_user_signs_in_and_bad_input_changes_nothing() {
    let a = start("cert-a.example", "DE").await;
    let root = admin(&a).await;
    let add = |name: &'static str, role: &'static str, pw: &'static str| {
        [("name", name), ("role", role), ("password", pw)]
    };
    let before = user_names(&a);
    for (form, field) in [
        (
            add("officer", "officer", "a long enough password"),
            "f-name-error",
        ),
        (add("newbie", "officer", "short"), "f-password-error"),
        (
            add("newbie", "officer", "newbie-newbie-newbie"),
            "f-password-error",
        ),
        (
            add("newbie", "boss", "a long enough password"),
            "f-role-error",
        ),
        (
            add("new bie", "officer", "a long enough password"),
            "f-name-error",
        ),
    ] {
        let p = root.post_with_token("/ui/admin/users", &form).await;
        assert_eq!(p.status, 422, "{form:?}");
        assert!(
            p.body.contains(&format!("id=\"{field}\"")),
            "{form:?}: {field}"
        );
        assert!(p.body.contains("aria-invalid=\"true\""));
    }
    assert_eq!(user_names(&a), before);
    let p = root
        .post_with_token(
            "/ui/admin/users",
            &add("newbie", "reviewer", "a long enough password"),
        )
        .await;
    assert_eq!(
        (p.status, p.location.as_str()),
        (StatusCode::SEE_OTHER, "/ui/admin")
    );
    let b = Browser::signed_in(&a.base, "newbie", "a long enough password").await;
    assert!(b.get("/ui/").await.body.contains("newbie (reviewer)"));
    let listed = root.get("/ui/admin").await.body;
    assert!(listed.contains("<td>newbie</td>"), "{listed}");
    // A changed role takes effect at once; a removed user's sessions end.
    let p = root
        .post_with_token(
            "/ui/admin/users/role",
            &[("name", "newbie"), ("role", "auditor")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(b.get("/ui/").await.body.contains("newbie (auditor)"));
    let p = root
        .post_with_token("/ui/admin/users/remove", &[("name", "newbie")])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(b.get("/ui/").await.location, "/ui/login");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_admin_can_be_neither_removed_nor_demoted() {
    let a = start("cert-a.example", "DE").await;
    let root = admin(&a).await;
    let p = root
        .post_with_token("/ui/admin/users/remove", &[("name", "admin")])
        .await;
    assert_eq!(p.status, StatusCode::CONFLICT);
    assert!(p.body.contains("last admin"), "{}", p.body);
    assert!(
        p.body.contains("-error\">This is the last admin"),
        "beside the button"
    );
    let p = root
        .post_with_token(
            "/ui/admin/users/role",
            &[("name", "admin"), ("role", "officer")],
        )
        .await;
    assert_eq!(p.status, StatusCode::CONFLICT);
    assert!(p.body.contains("aria-invalid=\"true\""));
    assert_eq!(root.get("/ui/admin").await.status, 200, "still an admin");
    // With a second admin, the first may step down.
    let p = root
        .post_with_token(
            "/ui/admin/users/role",
            &[("name", "officer"), ("role", "admin")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let p = root
        .post_with_token(
            "/ui/admin/users/role",
            &[("name", "admin"), ("role", "auditor")],
        )
        .await;
    assert_eq!(
        (p.status, p.location.as_str()),
        (StatusCode::SEE_OTHER, "/ui/")
    );
    assert_eq!(root.get("/ui/admin").await.status, 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_is_shown_once_and_once_revoked_opens_nothing() {
    let a = start("cert-a.example", "DE").await;
    let root = admin(&a).await;
    let p = root
        .post_with_token("/ui/admin/tokens", &[("owner", "nobody"), ("label", "x")])
        .await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("id=\"f-owner-error\""));
    let p = root
        .post_with_token("/ui/admin/tokens", &[("owner", "auditor"), ("label", "")])
        .await;
    assert!(p.body.contains("id=\"f-label-error\""));
    let p = root
        .post_with_token(
            "/ui/admin/tokens",
            &[("owner", "auditor"), ("label", "nightly report")],
        )
        .await;
    assert_eq!(p.status, StatusCode::CREATED);
    let at = p.body.find("<code id=\"token-secret\">").unwrap() + 24;
    let secret = p.body[at..].split('<').next().unwrap().to_string();
    assert_eq!(secret.len(), 43, "256 bits, base64url");
    let api = |t: String| {
        let url = format!("{}/api/v1/requests", a.base);
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(api(secret.clone()).await, 200);
    let listed = root.get("/ui/admin/tokens").await.body;
    assert!(listed.contains("nightly report") && !listed.contains(&secret));
    let at = listed.find("name=\"digest\" value=\"").unwrap() + 21;
    let digest = listed[at..at + 64].to_string();
    let p = root
        .post_with_token("/ui/admin/tokens/revoke", &[("digest", &digest)])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(api(secret).await, 401);
    let p = root
        .post_with_token("/ui/admin/tokens/revoke", &[("digest", &digest)])
        .await;
    assert_eq!(p.status, 404, "already revoked");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_ends_other_users_sessions() {
    let a = start("cert-a.example", "DE").await;
    let root = admin(&a).await;
    let officer = Browser::signed_in(&a.base, "officer", "officer-password").await;
    let auditor = Browser::signed_in(&a.base, "auditor", "auditor-password").await;
    let list = root.get("/ui/admin/sessions").await.body;
    assert!(list.contains("<td>officer</td>") && list.contains("<td>auditor</td>"));
    let p = root
        .post_with_token("/ui/admin/sessions/end-user", &[("user", "officer")])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(officer.get("/ui/").await.location, "/ui/login");
    assert_eq!(auditor.get("/ui/").await.status, 200, "only the officer's");
    // One session by its handle.
    let list = root.get("/ui/admin/sessions").await.body;
    let row = list.find("<td>auditor</td>").unwrap();
    let at = list[row..].find("name=\"handle\" value=\"").unwrap() + row + 21;
    let handle = list[at..at + 64].to_string();
    let p = root
        .post_with_token("/ui/admin/sessions/end", &[("handle", &handle)])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(auditor.get("/ui/").await.location, "/ui/login");
    // Everyone's, from the admin screen.
    let officer = Browser::signed_in(&a.base, "officer", "officer-password").await;
    assert!(root
        .get("/ui/admin/sessions")
        .await
        .body
        .contains("action=\"/ui/sessions/end-all\""));
    let p = root.post_with_token("/ui/sessions/end-all", &[]).await;
    assert_eq!(p.location, "/ui/login");
    assert_eq!(officer.get("/ui/").await.location, "/ui/login");
    assert_eq!(root.get("/ui/").await.location, "/ui/login");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_node_page_shows_public_keys_only_and_the_gate_per_peer() {
    let a = start("cert-a.example", "DE").await;
    let b = start("cert-b.example", "BR").await;
    let c = reqwest::Client::new();
    assert_eq!(peer_with(&c, &a, &b, "BR").await.status(), 201);
    let root = admin(&a).await;
    let p = root.get("/ui/admin/node").await;
    assert!(p.body.contains(&a.node.verifier().to_string()));
    let private = std::fs::read_to_string(a.node.dir().join("node.key")).unwrap();
    let secret = private.trim().rsplit('+').next().unwrap();
    assert!(!p.body.contains(secret), "no private key");
    assert!(p.body.contains("eu-gdpr-ch5"), "DE: GDPR by auto");
    assert!(p
        .body
        .contains("<td>cert-b.example</td><td>BR</td><td>GDPR Art. 44</td><td>redact</td>"));
    let p = root.get("/ui/admin/node?country=JP").await;
    assert!(p.body.contains("GDPR Art. 45"), "{}", p.body);
    let p = root.get("/ui/admin/node?country=Japan").await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("id=\"f-country-error\""));
}

fn collection(id: &str, title: &str, write: &str) -> Collection {
    Collection {
        id: id.into(),
        title: title.into(),
        description: Some("<script>alert('d')</script>".into()),
        alias: None,
        read: vec!["*".into()],
        write: vec![write.into()],
        red_recipients: vec![],
    }
}

fn taxii_store(a: &Running) -> std::sync::Arc<dyn TaxiiStore> {
    a.node.store().clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_names_are_escaped_on_the_admin_and_intel_screens() {
    let a = start("cert-a.example", "DE").await;
    let root = admin(&a).await;
    let p = root
        .post_with_token(
            "/ui/admin/users",
            &[
                ("name", "<script>alert(1)</script>"),
                ("role", "officer"),
                ("password", "a long enough password"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let p = root
        .post_with_token(
            "/ui/admin/tokens",
            &[("owner", "auditor"), ("label", "<script>alert(2)</script>")],
        )
        .await;
    assert_eq!(p.status, StatusCode::CREATED);
    let id = "7d1f9c3a-2222-4333-8444-955566667777";
    taxii_store(&a)
        .create_collection(&collection(id, "<script>alert(3)</script>", "admin"))
        .unwrap();
    for path in [
        "/ui/admin",
        "/ui/admin/tokens",
        "/ui/admin/sessions",
        "/ui/intel",
        &format!("/ui/intel/{id}"),
    ] {
        let body = root.get(path).await.body;
        assert!(!body.contains("<script>alert"), "{path}: {body}");
        assert!(
            body.contains("&#60;script&#62;alert("),
            "{path}: shown, escaped: {body}"
        );
    }
}

async fn post_objects(a: &Running, id: &str, objects: Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/taxii2/api/collections/{id}/objects/", a.base))
        .basic_auth("officer", Some("officer-password"))
        .header("content-type", "application/taxii+json;version=2.1")
        .header("accept", "application/taxii+json;version=2.1")
        .json(&json!({ "objects": objects }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
}

fn indicator(id: &str, modified: &str, cites: &[&str]) -> Value {
    let refs: Vec<Value> = cites
        .iter()
        .map(|r| json!({ "source_name": "detente-request", "external_id": r }))
        .collect();
    json!({ "type": "indicator", "spec_version": "2.1", "id": id,
            "created": "2021-05-08T10:00:00.000Z", "modified": modified,
            "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix",
            "valid_from": "2021-05-08T10:00:00Z", "external_references": refs })
}

#[tokio::test(flavor = "multi_thread")]
async fn intel_counts_match_the_taxii_store_and_list_the_citing_requests() {
    let a = start("cert-a.example", "DE").await;
    let id = "0b9a8c7d-3333-4444-8555-a66677778888";
    let store = taxii_store(&a);
    store
        .create_collection(&collection(id, "Shared IOCs", "officer"))
        .unwrap();
    let one = "indicator--a932fcc6-e032-476c-826f-cb970a5a1ade";
    let two = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
    post_objects(
        &a,
        id,
        json!([
            indicator(one, "2021-05-08T10:00:00.000Z", &[]),
            indicator(one, "2021-05-09T10:00:00.000Z", &["elsewhere-1"]),
            indicator(
                two,
                "2021-05-08T10:00:00.000Z",
                &["elsewhere-1", "elsewhere-2"]
            ),
        ]),
    )
    .await;
    let n = store.object_counts(id).unwrap();
    assert_eq!((n.objects, n.versions), (2, 3));
    let officer = Browser::signed_in(&a.base, "officer", "officer-password").await;
    let p = officer.get("/ui/intel").await;
    assert_eq!(p.status, 200);
    let row = format!("<td>{}</td>\n<td>{}</td>", n.objects, n.versions);
    assert!(p.body.contains(&row), "{}", p.body);
    assert!(p
        .body
        .contains("<td>any signed-in user or peer</td>\n<td>officer</td>"));
    let p = officer.get(&format!("/ui/intel/{id}")).await;
    assert!(p
        .body
        .contains("<code>elsewhere-1</code> (not on this node)"));
    assert!(p.body.contains("<code>elsewhere-2</code>"));
    assert_eq!(officer.get("/ui/intel/no-such").await.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_whose_stix_went_to_a_collection_is_linked_from_it() {
    let a = start("cert-a.example", "US").await;
    let b = start("cert-b.example", "FR").await;
    let c = reqwest::Client::new();
    assert_eq!(peer_with(&c, &a, &b, "FR").await.status(), 201);
    assert_eq!(peer_with(&c, &b, &a, "US").await.status(), 201);
    let id = "0d6c0a4e-5d7b-4c1e-9f2a-3b4c5d6e7f80";
    taxii_store(&a)
        .create_collection(&collection(id, "for cert-b", "cert-b.example"))
        .unwrap();
    let bundle = json!({ "type": "bundle", "id": "bundle--44af6c39-c09b-49c5-9de2-394224b04982",
        "objects": [indicator("indicator--a932fcc6-e032-476c-826f-cb970a5a1ade", "2021-05-08T10:00:00.000Z", &[])] });
    let bytes = serde_json::to_vec(&bundle).unwrap();
    let up: Value = c
        .post(format!("{}/api/v1/attachments", a.base))
        .basic_auth("officer", Some("officer-password"))
        .header("content-type", "application/stix+json")
        .body(bytes.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let request = json!({ "type": "incident_notification", "incident_class": "malicious_code",
        "reference": "2021/CERT/0507", "issuing_authority": "National CERT",
        "facts": "Ransomware at a pipeline operator.", "urgency": "normal", "tlp": "amber",
        "recipient": "cert-b.example",
        "attachments": [{ "name": "iocs.json", "media_type": "application/stix+json",
                          "size": bytes.len(), "sha256": up["sha256"] }] });
    let r = c
        .post(format!("{}/api/v1/requests", a.base))
        .basic_auth("officer", Some("officer-password"))
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let rid = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let officer = Browser::signed_in(&a.base, "officer", "officer-password").await;
    let p = officer.get(&format!("/ui/intel/{id}")).await;
    let link = format!("<a href=\"/ui/requests/{rid}\">2021/CERT/0507</a>");
    assert!(p.body.contains(&link), "{}", p.body);
    assert!(p
        .body
        .contains("<td>outbound</td>\n<td>cert-b.example</td>"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_citing_requests_come_a_page_at_a_time() {
    let a = start("cert-a.example", "DE").await;
    let id = "1c2d3e4f-5555-4666-8777-b88899990000";
    taxii_store(&a)
        .create_collection(&collection(id, "Many citations", "officer"))
        .unwrap();
    let objects: Vec<Value> = (0..51)
        .map(|i| {
            let oid = format!("indicator--00000000-0000-4000-8000-{i:012}");
            indicator(&oid, "2021-05-08T10:00:00.000Z", &[&format!("req-{i:03}")])
        })
        .collect();
    post_objects(&a, id, Value::Array(objects)).await;
    let officer = Browser::signed_in(&a.base, "officer", "officer-password").await;
    let first = officer.get(&format!("/ui/intel/{id}")).await.body;
    assert!(first.contains("<code>req-000</code>") && first.contains("<code>req-049</code>"));
    assert!(!first.contains("<code>req-050</code>"));
    let next = format!("href=\"/ui/intel/{id}?after=req-049\" rel=\"next\"");
    assert!(first.contains(&next), "{first}");
    let second = officer
        .get(&format!("/ui/intel/{id}?after=req-049"))
        .await
        .body;
    assert!(second.contains("<code>req-050</code>") && !second.contains("<code>req-049</code>"));
    assert!(!second.contains("rel=\"next\""), "the last page");
}
