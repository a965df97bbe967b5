//! Kill the process in the middle of appending: everything acknowledged survives,
//! the node starts again, and the log verifies end to end.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn detente() -> Command {
    Command::new(env!("CARGO_BIN_EXE_detente"))
}

mod common;

#[test]
fn kill_mid_append_loses_nothing_acknowledged() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("node");
    let ok = detente()
        .args([
            "init",
            "--dir",
            dir.to_str().unwrap(),
            "--origin",
            "crash.example",
        ])
        .args(common::database_args())
        .status()
        .unwrap();
    assert!(ok.success());
    for round in 0..3 {
        let mut child = detente()
            .args([
                "bench",
                "log",
                "--acks",
                "--entries",
                "5000000",
                "--dir",
                dir.to_str().unwrap(),
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut acked = 0u64;
        let mut acks = 0;
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        while acks < 20 + round * 7 {
            let line = lines.next().expect("bench ended early").unwrap();
            if let Some(size) = line.strip_prefix("ack ") {
                acked = acked.max(size.parse().unwrap());
                acks += 1;
            }
        }
        // SIGKILL: no destructor, no flush, no graceful shutdown.
        child.kill().unwrap();
        child.wait().unwrap();

        let out = detente()
            .args(["log", "verify", "--dir", dir.to_str().unwrap()])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "verify failed: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let entries: u64 = text.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert!(
            entries >= acked,
            "round {round}: {entries} entries stored, {acked} acknowledged"
        );
    }
    // The node starts again on the crashed store and serves a proof of the last entry.
    let proof = detente()
        .args([
            "log",
            "proof",
            "--dir",
            dir.to_str().unwrap(),
            "--index",
            "1",
        ])
        .output()
        .unwrap();
    assert!(
        proof.status.success(),
        "{}",
        String::from_utf8_lossy(&proof.stderr)
    );
}
