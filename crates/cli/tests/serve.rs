//! The binary end to end: entries written by `bench log` are served by `serve`,
//! their proofs verify over HTTP and offline (with the witnesses' cosignatures),
//! SIGTERM stops the node cleanly, and a closed stdout ends a command quietly.

mod common;

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use common::Server;
use detente_domain::VerifierKey;
use detente_log::merkle::{verify_inclusion, Hash};
use detente_log::Checkpoint;
use std::process::{Command, Stdio};

fn detente() -> Command {
    Command::new(env!("CARGO_BIN_EXE_detente"))
}

fn run_ok(args: &[&str]) -> String {
    let out = detente().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn serve(d: &str, scheme: &str) -> (Server, String) {
    common::serve(d, "127.0.0.1:0", scheme)
}

#[tokio::test]
async fn bench_entries_are_served_and_proofs_verify() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("node");
    let d = dir.to_str().unwrap();
    run_ok(&["bench", "log", "--dir", d, "--entries", "1000"]);
    let key = VerifierKey::parse(run_ok(&["key", "--dir", d]).trim()).unwrap();

    let (mut child, addr) = serve(d, "http");
    let base = format!("http://{addr}");

    let note = reqwest::get(format!("{base}/log/checkpoint"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (cp, _) = Checkpoint::open(&note, std::slice::from_ref(&key)).unwrap();
    assert_eq!(cp.size, 1001);
    let p: serde_json::Value =
        reqwest::get(format!("{base}/log/proof/inclusion?index=500&size=1001"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let h = |v: &serde_json::Value| -> Hash {
        B64.decode(v.as_str().unwrap()).unwrap().try_into().unwrap()
    };
    let hashes: Vec<Hash> = p["hashes"].as_array().unwrap().iter().map(h).collect();
    verify_inclusion(500, 1001, &h(&p["leaf_hash"]), &hashes, &cp.root).unwrap();

    // Offline, beside the running server.
    let proof = run_ok(&["log", "proof", "--dir", d, "--index", "500"]);
    let file = t.path().join("e500.tlog-proof");
    std::fs::write(&file, &proof).unwrap();
    let ok = run_ok(&["verify", "--key", &key.to_string(), file.to_str().unwrap()]);
    assert!(ok.contains("entry 500"), "{ok}");
    let tampered = proof.replacen("index 500", "index 501", 1);
    std::fs::write(&file, tampered).unwrap();
    let out = detente()
        .args(["verify", "--key", &key.to_string(), file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).lines().count(),
        1,
        "one readable line"
    );

    let pid = child.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    assert!(child.0.wait().unwrap().success());
    run_ok(&["log", "verify", "--dir", d]);
}

/// `[tls]` in config.toml: the node serves HTTPS with that certificate, and a
/// key others can read is refused with one line saying so.
#[tokio::test]
async fn serve_speaks_https_with_the_configured_certificate() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("node");
    let d = dir.to_str().unwrap();
    run_ok(&["init", "--dir", d, "--origin", "cert-a.example"]);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(dir.join("tls.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), key.serialize_pem()).unwrap();
    let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        format!("{config}\n[tls]\ncert = \"tls.crt\"\nkey = \"tls.key\"\n"),
    )
    .unwrap();

    std::fs::set_permissions(dir.join("tls.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = detente()
        .args(["serve", "--dir", d, "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tls.key is readable by others"), "{err}");

    std::fs::set_permissions(dir.join("tls.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let (_child, addr) = serve(d, "https");
    let port = addr.rsplit(':').next().unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let r = client
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Plain HTTP on the TLS port gets nowhere.
    assert!(reqwest::get(format!("http://{addr}/healthz"))
        .await
        .is_err());
}

/// Everything lives in the database `config.toml` names: users added by the
/// CLI are the ones the running node knows, and no other file appears.
#[tokio::test]
async fn users_and_collections_live_in_the_configured_database() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("node");
    let d = dir.to_str().unwrap();
    run_ok(&["init", "--dir", d, "--origin", "cert-a.example"]);
    let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    let config = config.replace("sqlite://detente.db", "sqlite://store/node.db");
    assert!(config.contains("store/node.db"));
    std::fs::write(dir.join("config.toml"), config).unwrap();
    // The operator moved the database (with its WAL) where the config says.
    std::fs::create_dir(dir.join("store")).unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let from = dir.join(format!("detente.db{suffix}"));
        if from.exists() {
            std::fs::rename(from, dir.join(format!("store/node.db{suffix}"))).unwrap();
        }
    }
    let mut add = detente()
        .args([
            "user",
            "--dir",
            d,
            "add",
            "olga",
            "--role",
            "officer",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    add.stdin
        .take()
        .unwrap()
        .write_all(b"olga-password\n")
        .unwrap();
    assert!(add.wait().unwrap().success());
    let id = run_ok(&[
        "collection",
        "--dir",
        d,
        "add",
        "--title",
        "feed",
        "--read",
        "*",
    ]);
    assert!(!id.trim().is_empty());

    let (_child, addr) = serve(d, "http");
    let r = reqwest::Client::new()
        .get(format!("http://{addr}/api/v1/requests"))
        .basic_auth("olga", Some("olga-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(dir.join("store/node.db").exists());
    assert!(
        !dir.join("detente.db").exists(),
        "nothing outside the configured database"
    );
}

/// C2SP tlog-proof carries the checkpoint with its signatures: the witnesses'
/// cosignatures for that tree size travel with `log proof`'s output.
#[test]
fn log_proof_carries_the_cosignatures_of_its_tree_size() {
    use detente_log::{cosignature, note};
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("node");
    let d = dir.to_str().unwrap();
    run_ok(&["bench", "log", "--dir", d, "--entries", "20"]);
    let key = VerifierKey::parse(run_ok(&["key", "--dir", d]).trim()).unwrap();
    let witness = detente_domain::NodeKey::generate("cert-w.example").unwrap();
    let node = detente_node::Node::open(&dir).unwrap();
    let published = node.published();
    let body = note::parse(&published.note).unwrap().text;
    let cosig = cosignature::cosign(&witness, &body, 1_800_000_000);
    node.store()
        .add_cosignature(
            "cert-w.example",
            published.size,
            &cosig.line(),
            1_800_000_000,
        )
        .unwrap();
    drop(node);

    let proof = run_ok(&["log", "proof", "--dir", d, "--index", "7"]);
    let pf = detente_log::proof_file::ProofFile::parse(&proof).unwrap();
    let (cp, n) = Checkpoint::open(&pf.checkpoint, std::slice::from_ref(&key)).unwrap();
    assert_eq!(cp.size, 21);
    assert!(
        n.sigs
            .iter()
            .any(|s| cosignature::verify(&witness.verifier(), &n.text, s) == Some(1_800_000_000)),
        "{proof}"
    );
    let file = t.path().join("e7.tlog-proof");
    std::fs::write(&file, &proof).unwrap();
    let ok = run_ok(&["verify", "--key", &key.to_string(), file.to_str().unwrap()]);
    assert!(ok.contains("entry 7"), "{ok}");
}

/// `detente bench log ... | head -1`: the reader closes the pipe; the command
/// stops at its next line of output with status 0 and no panic message.
#[test]
fn a_closed_stdout_ends_a_command_quietly() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("node");
    let mut child = detente()
        .args([
            "bench",
            "log",
            "--dir",
            d.to_str().unwrap(),
            "--entries",
            "50",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Closed before the command prints its first line (after appending).
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}
