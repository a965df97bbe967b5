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
