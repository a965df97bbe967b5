//! `detente request ...` end to end: two `detente serve` processes peered with
//! each other, a request created, delivered, acknowledged, discussed, extended
//! and answered entirely through the CLI, and errors as one line with a
//! non-zero exit.

mod common;

use common::Server;
use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn detente() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_detente"));
    c.env_remove("DETENTE_NODE").env_remove("DETENTE_TOKEN");
    c
}

fn run(args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    let mut c = detente();
    c.args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn ok(args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> String {
    let out = run(args, stdin, env);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a command that must fail with one readable line on stderr; returns it.
fn fails(args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> String {
    let out = run(args, stdin, env);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success(), "{args:?} succeeded");
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    err
}

fn serve(dir: &str) -> (Server, String) {
    let (server, addr) = common::serve(dir, "127.0.0.1:0", "http");
    (server, format!("http://{addr}"))
}

fn init(t: &Path, name: &str, origin: &str, country: &str) -> String {
    let dir = t.join(name).to_str().unwrap().to_string();
    let database = common::database_args();
    let mut init = vec![
        "init",
        "--dir",
        &dir,
        "--origin",
        origin,
        "--country",
        country,
    ];
    init.extend(database.iter().map(String::as_str));
    ok(&init, None, &[]);
    dir
}

fn add_user(dir: &str, name: &str, role: &str) {
    ok(
        &[
            "user",
            "--dir",
            dir,
            "add",
            name,
            "--password-stdin",
            "--role",
            role,
        ],
        Some(&format!("{name}-password\n")),
        &[],
    );
}

fn json_of(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// Polls `show --json` until it succeeds and `ready` holds (a request is
/// unknown to its recipient until it is delivered).
fn wait_for(
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &str)],
    ready: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = String::new();
    for _ in 0..250 {
        let out = run(args, stdin, env);
        if out.status.success() {
            let v = json_of(&String::from_utf8(out.stdout).unwrap());
            if ready(&v) {
                return v;
            }
            last = v.to_string();
        } else {
            last = String::from_utf8_lossy(&out.stderr).into_owned();
        }
        std::thread::sleep(Duration::from_millis(40));
    }
    panic!("{args:?} never became ready: {last}");
}

/// The id of this node's latest event of `kind` in a request's JSON.
fn event_id(v: &Value, origin: &str, kind: &str) -> String {
    v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["actor"] == origin && e["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} by {origin} in {v}"))["event_id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_request_is_worked_end_to_end_from_the_cli() {
    let t = tempfile::tempdir().unwrap();
    let a = init(t.path(), "a", "cert-a.example", "DE");
    let b = init(t.path(), "b", "cert-b.example", "FR");
    add_user(&a, "alice", "officer");
    add_user(&a, "root", "admin");
    add_user(&a, "audrey", "auditor");
    add_user(&b, "bob", "officer");
    let token = ok(&["user", "--dir", &a, "token", "alice"], None, &[])
        .trim()
        .to_string();
    let key_a = ok(&["key", "--dir", &a], None, &[]).trim().to_string();
    let key_b = ok(&["key", "--dir", &b], None, &[]).trim().to_string();

    // A runs first; B learns A's address before it starts; A learns B's over
    // its API.
    let (_sa, base_a) = serve(&a);
    ok(
        &[
            "peer",
            "add",
            "--dir",
            &b,
            "cert-a.example",
            "--url",
            &base_a,
            "--key",
            &key_a,
            "--country",
            "DE",
        ],
        None,
        &[],
    );
    let (_sb, base_b) = serve(&b);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{base_a}/api/v1/peers"))
            .basic_auth("root", Some("root-password"))
            .json(&json!({ "origin": "cert-b.example", "url": base_b, "key": key_b, "country": "FR" }))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 201);

    // Alice (bearer token from the environment) submits from flags.
    let alice = [("DETENTE_NODE", base_a.as_str()), ("DETENTE_TOKEN", &token)];
    let created = json_of(&ok(
        &[
            "request",
            "create",
            "--to",
            "cert-b.example",
            "--type",
            "subscriber_information",
            "--reference",
            "2021/CC/0042",
            "--authority",
            "Public Prosecutor's Office, Cybercrime Unit",
            "--facts",
            "On 7 May 2021 a pipeline operator's billing systems were encrypted.",
            "--legal-basis",
            "Budapest Convention Art. 31",
            "--offence",
            "Extortion by ransomware",
            "--data",
            "Subscriber records of the account behind the ransom portal",
            "--link",
            "The account hosted the ransom negotiation portal",
            "--tlp",
            "TLP:AMBER+STRICT",
            "--json",
        ],
        None,
        &alice,
    ));
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["tlp"], "amber_strict");
    assert_eq!(created["direction"], "outbound");

    let table = ok(&["request", "list"], None, &alice);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert!(lines[0].starts_with("ID") && lines[0].contains("STATUS"));
    for want in [
        &id[..],
        "out",
        "cert-b.example",
        "subscriber_information",
        "2021/CC/0042",
    ] {
        assert!(lines[1].contains(want), "{want} missing: {table}");
    }
    let listed = json_of(&ok(
        &["request", "list", "--direction", "inbound", "--json"],
        None,
        &alice,
    ));
    assert_eq!(listed["requests"], json!([]));

    // Bob (Basic, password on stdin) sees it arrive and acknowledges it.
    let bob_flags = [
        "--node",
        base_b.as_str(),
        "--user",
        "bob",
        "--password-stdin",
    ];
    let bob_pw = Some("bob-password\n");
    let show_b = with(&bob_flags, &["request", "show", &id, "--json"]);
    wait_for(&show_b, bob_pw, &[], |v| v["status"] == "delivered");

    // Only the recipient acknowledges: the sender gets the lifecycle's 409.
    let err = fails(&["request", "acknowledge", &id], None, &alice);
    assert!(err.contains("409"), "{err}");
    assert!(err.contains("only the recipient"), "{err}");

    let out = ok(
        &with(&bob_flags, &["request", "acknowledge", &id]),
        bob_pw,
        &[],
    );
    assert!(
        out.contains("acknowledged") && out.contains("status acknowledged"),
        "{out}"
    );

    // Both sides agree a later answer deadline by message, then extend.
    let later = "2099-01-01T00:00:00.000000Z";
    let v = json_of(&ok(
        &with(
            &bob_flags,
            &[
                "request",
                "message",
                &id,
                "--text",
                "We need more time.",
                "--propose-answer-by",
                later,
                "--json",
            ],
        ),
        bob_pw,
        &[],
    ));
    let bob_msg = event_id(&v, "cert-b.example", "message");
    let show_a = ["request", "show", &id, "--json"];
    wait_for(&show_a, None, &alice, |v| {
        v["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event_id"] == bob_msg)
    });
    let v = json_of(&ok(
        &[
            "request",
            "message",
            &id,
            "--text",
            "Agreed.",
            "--propose-answer-by",
            later,
            "--json",
        ],
        None,
        &alice,
    ));
    let alice_msg = event_id(&v, "cert-a.example", "message");
    let out = ok(
        &[
            "request",
            "extend",
            &id,
            "--answer-by",
            later,
            "--sender-consent",
            &alice_msg,
            "--recipient-consent",
            &bob_msg,
        ],
        None,
        &alice,
    );
    assert!(out.contains("deadline_extended"), "{out}");

    // Bob answers once the extension reached him.
    wait_for(&show_b, bob_pw, &[], |v| v["answer_by"] == later);
    let records = t.path().join("records.csv");
    std::fs::write(&records, "account,created\nportal-7,2021-04-30\n").unwrap();
    let attach = format!("{}=text/csv", records.display());
    let out = ok(
        &with(
            &bob_flags,
            &[
                "request",
                "answer",
                &id,
                "--note",
                "Subscriber records attached.",
                "--attach",
                &attach,
            ],
        ),
        bob_pw,
        &[],
    );
    assert!(out.contains("answered"), "{out}");

    let answered = wait_for(&show_a, None, &alice, |v| v["status"] == "answered");
    // Alice saves the records Bob's answer cites: A fetches them from B.
    let sha = answered["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "answered")
        .map(|e| {
            e["event"]["kind"]["attachments"][0]["sha256"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .unwrap();
    let saved = t.path().join("saved.csv");
    let out = ok(
        &[
            "request",
            "attachment",
            &sha,
            "--out",
            saved.to_str().unwrap(),
        ],
        None,
        &alice,
    );
    assert!(out.contains("saved 36 bytes"), "{out}");
    assert_eq!(
        std::fs::read(&saved).unwrap(),
        std::fs::read(&records).unwrap()
    );
    let shown = ok(&["request", "show", &id], None, &alice);
    for want in [
        "status     answered",
        "timeline:",
        "submitted",
        "delivered",
        "acknowledged",
        "deadline_extended",
        "note: Subscriber records attached.",
        "proposes answer by: 2099-01-01",
        "TLP:AMBER+STRICT",
        "by cert-b.example",
    ] {
        assert!(shown.contains(want), "{want} missing:\n{shown}");
    }

    // Errors: one line each, with the status and the server's detail.
    let err = fails(
        &["request", "withdraw", &id, "--reason", "late"],
        None,
        &alice,
    );
    assert!(err.contains("409") && err.contains("answered"), "{err}");
    let err = fails(
        &[
            "request",
            "list",
            "--node",
            &base_a,
            "--token",
            "not-a-token",
        ],
        None,
        &[],
    );
    assert!(err.contains("401"), "{err}");
    let err = fails(
        &[
            "request",
            "create",
            "--to",
            "cert-b.example",
            "--type",
            "incident_notification",
            "--reference",
            "INC-1",
            "--authority",
            "CERT-A",
            "--facts",
            "A DDoS on a ministry.",
        ],
        None,
        &alice,
    );
    assert!(
        err.contains("422") && err.contains("incident_class"),
        "{err}"
    );
    let err = fails(
        &["request", "show", "6f1d5b2a-9c3e-4b7a-8d2f-0a1b2c3d4e5f"],
        None,
        &alice,
    );
    assert!(err.contains("404"), "{err}");
    // An auditor reads but may not act.
    let err = fails(
        &[
            "request",
            "acknowledge",
            &id,
            "--user",
            "audrey",
            "--password-stdin",
        ],
        Some("audrey-password\n"),
        &[("DETENTE_NODE", &base_a)],
    );
    assert!(err.contains("403"), "{err}");
    let err = fails(
        &["request", "list", "--node", "http://127.0.0.1:1"],
        None,
        &[],
    );
    assert!(err.contains("cannot reach"), "{err}");

    // A request from a file, then declined.
    let file = t.path().join("req.json");
    std::fs::write(
        &file,
        json!({ "type": "consultation", "reference": "Q-7", "issuing_authority": "CERT-A",
                "facts": "Who runs AS64500?", "urgency": "normal", "tlp": "green",
                "recipient": "cert-b.example" })
        .to_string(),
    )
    .unwrap();
    let out = ok(
        &["request", "create", "--file", file.to_str().unwrap()],
        None,
        &alice,
    );
    assert!(
        out.starts_with("request ") && out.contains("submitted to cert-b.example"),
        "{out}"
    );
    let id2 = out.split_whitespace().nth(1).unwrap().to_string();
    wait_for(
        &with(&bob_flags, &["request", "show", &id2, "--json"]),
        bob_pw,
        &[],
        |v| v["status"] == "delivered",
    );
    ok(
        &with(&bob_flags, &["request", "acknowledge", &id2]),
        bob_pw,
        &[],
    );
    let err = fails(
        &with(
            &bob_flags,
            &["request", "decline", &id2, "--ground", "bogus"],
        ),
        bob_pw,
        &[],
    );
    assert!(err.contains("not_within_competence"), "{err}");
    let out = ok(
        &with(
            &bob_flags,
            &[
                "request",
                "decline",
                &id2,
                "--ground",
                "not_within_competence",
            ],
        ),
        bob_pw,
        &[],
    );
    assert!(out.contains("status declined"), "{out}");
    let listed = json_of(&ok(
        &["request", "list", "--status", "answered", "--json"],
        None,
        &alice,
    ));
    let ids: Vec<&str> = listed["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str()]);
}

/// `args` followed by `flags`.
fn with<'a>(flags: &[&'a str], args: &[&'a str]) -> Vec<&'a str> {
    [args, flags].concat()
}
