//! `detente bench federation` end to end on a small run: every request of
//! both phases comes back with its receipt, and the evidence of all of them
//! verifies. (Speed is reported, not asserted.)

use std::process::Command;

#[test]
fn every_request_is_receipted_and_its_evidence_verifies() {
    let out = Command::new(env!("CARGO_BIN_EXE_detente"))
        .args([
            "bench",
            "federation",
            "--requests",
            "300",
            "--rate",
            "100",
            "--seconds",
            "1",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("throughput run: 300 requests delivered with receipt"),
        "{stdout}"
    );
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["verify_report_requests"], 400, "{last}");
    for key in ["requests_per_s", "p50_ms", "p99_ms", "verify_report_s"] {
        assert!(last[key].as_f64().is_some_and(|v| v > 0.0), "{key}: {last}");
    }
}
