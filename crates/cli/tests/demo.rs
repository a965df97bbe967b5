//! The README's run command: the demo replays the scenario and its evidence
//! verifies offline.

use std::process::Command;

#[test]
fn demo_reports_the_dispute_and_its_evidence_verifies() {
    let t = tempfile::tempdir().unwrap();
    let bundle = t.path().join("evidence.json");
    let out = Command::new(env!("CARGO_BIN_EXE_detente"))
        .args(["demo", "--json", "--evidence", bundle.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["evidence_verified"], true);
    // B cannot deny it saw the requests: its own cosignatures cover them all.
    assert_eq!(last["requests_witnessed_by_recipient"], 80);
    let a_to_b = &last["report"]["cert-a.example -> cert-b.example"];
    let b_to_a = &last["report"]["cert-b.example -> cert-a.example"];
    assert_eq!(
        (
            a_to_b["sent"].as_u64(),
            a_to_b["delivered"].as_u64(),
            a_to_b["answered"].as_u64()
        ),
        (Some(80), Some(80), Some(0))
    );
    assert_eq!(
        (b_to_a["sent"].as_u64(), b_to_a["answered"].as_u64()),
        (Some(12), Some(12))
    );

    // The kept bundle verifies with the keys printed, and not without B's.
    let keys = &last["keys"];
    let ka = keys["cert-a.example"].as_str().unwrap();
    let kb = keys["cert-b.example"].as_str().unwrap();
    let ok = Command::new(env!("CARGO_BIN_EXE_detente"))
        .args([
            "verify-report",
            bundle.to_str().unwrap(),
            "--key",
            ka,
            "--key",
            kb,
        ])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_detente"))
        .args(["verify-report", bundle.to_str().unwrap(), "--key", ka])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no trusted key for cert-b.example"));
}

/// `demo --keep`: both nodes stay up with the dispute in them, and the printed
/// sign-in opens the web interface of each.
#[test]
fn demo_keep_leaves_both_nodes_serving_with_a_sign_in_per_role() {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_detente"))
        .args(["demo", "--keep"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // (node URL, officer's password) of each node, in the order printed.
    let mut nodes: Vec<(String, String)> = Vec::new();
    let mut kept = None;
    while nodes.len() < 2 || nodes[1].1.is_empty() {
        let line = lines
            .next()
            .expect("the demo printed the sign-ins")
            .unwrap();
        if let Some(dir) = line.split("data kept in ").nth(1) {
            kept = Some(dir.trim_end_matches(')').to_string());
        } else if line.starts_with("cert-") && line.ends_with("/ui/") {
            nodes.push((
                line.split_whitespace().nth(1).unwrap().to_string(),
                String::new(),
            ));
        } else if let Some(p) = line.strip_prefix("  sign in as officer with password ") {
            nodes.last_mut().unwrap().1 = p.to_string();
        }
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (i, (ui, password)) in nodes.iter().enumerate() {
        let base = ui.trim_end_matches("/ui/");
        rt.block_on(async {
            let r = c
                .post(format!("{base}/ui/login"))
                .header("sec-fetch-site", "same-origin")
                .form(&[("name", "officer"), ("password", password.as_str())])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 303, "signed in at {base}");
            let cookie = r.headers()["set-cookie"].to_str().unwrap();
            let cookie = cookie.split(';').next().unwrap().to_string();
            let page = c
                .get(format!("{base}/ui/requests?direction=inbound"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            // A received B's 12 requests; B received A's 80 (a page of 50).
            let rows = page.matches("name=\"id\"").count();
            assert_eq!(rows, if i == 0 { 12 } else { 50 }, "{page}");
        });
    }
    child.kill().unwrap();
    child.wait().unwrap();
    if let Some(dir) = kept {
        std::fs::remove_dir_all(dir).ok();
    }
}
