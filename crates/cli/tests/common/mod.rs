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
    let marker = format!("listening on {scheme}://");
    let addr = loop {
        let line = lines.next().expect("serve exited").unwrap();
        if let Some(at) = line.find(&marker) {
            let rest = &line[at + marker.len()..];
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    (child, addr)
}

/// `--database URL` for `detente init` when the suite runs on PostgreSQL
/// (`DETENTE_TEST_BACKEND=postgres`): a fresh database per node.
pub fn database_args() -> Vec<String> {
    detente_storage_postgres::test_database()
        .map(|url| vec!["--database".to_string(), url])
        .unwrap_or_default()
}
