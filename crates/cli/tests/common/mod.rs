//! `detente serve` as a child process for the binary's end-to-end tests.
#![allow(dead_code)] // each test binary uses its own part

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Kills the server if the test fails half way.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `detente serve` on `listen`; returns it with the address it
/// announces after `listening on {scheme}://`.
pub fn serve(dir: &str, listen: &str, scheme: &str) -> (Server, String) {
    let mut child = Server(
        Command::new(env!("CARGO_BIN_EXE_detente"))
            .args(["serve", "--dir", dir, "--listen", listen])
            .env_remove("DETENTE_NODE")
            .env_remove("DETENTE_TOKEN")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stderr.take().unwrap()).lines();
    let dir_name = dir.to_string();
    let marker = format!("listening on {scheme}://");
    let addr = loop {
        let line = lines.next().expect("serve exited").unwrap();
        if let Some(at) = line.find(&marker) {
            let rest = &line[at + marker.len()..];
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // The server's errors, shown with the output of a test that fails.
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if line.contains("ERROR") {
                eprintln!("{dir_name}: {line}");
            }
        }
    });
    (child, addr)
}

/// `--database URL` for `detente init` when the suite runs on PostgreSQL
/// (`DETENTE_TEST_BACKEND=postgres`): a fresh database per node.
pub fn database_args() -> Vec<String> {
    detente_storage_postgres::test_database()
        .map(|url| vec!["--database".to_string(), url])
        .unwrap_or_default()
}

/// The `detente` binary under test.
pub fn detente() -> std::process::Command {
    Command::new(env!("CARGO_BIN_EXE_detente"))
}

/// Runs `detente args` (with `stdin` piped in) and returns its output; the
/// test fails with its error output if it fails.
pub fn ok(args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    let mut child = detente()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A node's directory (`init` with `extra` arguments) with an admin and an
/// officer whose passwords are `<name>-password`; returns it and its
/// verifier key.
pub fn node(
    t: &std::path::Path,
    name: &str,
    origin: &str,
    country: &str,
    extra: &[String],
) -> (String, String) {
    let dir = t.join(name).to_str().unwrap().to_string();
    let mut init = vec![
        "init",
        "--dir",
        &dir,
        "--origin",
        origin,
        "--country",
        country,
    ];
    init.extend(extra.iter().map(String::as_str));
    ok(&init, None);
    for (user, role) in [("admin", "admin"), ("officer", "officer")] {
        ok(
            &[
                "user",
                "--dir",
                &dir,
                "add",
                user,
                "--password-stdin",
                "--role",
                role,
            ],
            Some(&format!("{user}-password\n")),
        );
    }
    let key = ok(&["key", "--dir", &dir], None).trim().to_string();
    (dir, key)
}

/// `detente serve` on `listen` over HTTP; returns it and its base URL.
pub fn serve_http(dir: &str, listen: &str) -> (Server, String) {
    let (server, addr) = serve(dir, listen, "http");
    (server, format!("http://{addr}"))
}

/// Adds a peer through `at`'s API, as its admin.
pub async fn add_peer(c: &reqwest::Client, at: &str, origin: &str, url: &str, key: &str, cc: &str) {
    let r = c
        .post(format!("{at}/api/v1/peers"))
        .basic_auth("admin", Some("admin-password"))
        .json(&serde_json::json!({ "origin": origin, "url": url, "key": key, "country": cc }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

/// A request as `base`'s officer sees it, if it can be read now.
pub async fn get(c: &reqwest::Client, base: &str, id: &str) -> Option<serde_json::Value> {
    let r = c
        .get(format!("{base}/api/v1/requests/{id}"))
        .basic_auth("officer", Some("officer-password"))
        .send()
        .await
        .ok()?;
    r.status().is_success().then_some(r.json().await.ok()?)
}
