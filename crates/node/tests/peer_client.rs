//! The client nodes call their peers with: extra trust anchors come from
//! `[federation] ca_file`, and a file that holds none is refused by name.

use detente_domain::{Country, Origin};
use detente_node::{datadir, Node};
use std::time::Duration;

fn node_with_ca_file(content: &str) -> (tempfile::TempDir, Result<reqwest::Client, String>) {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("n");
    let fr = Some(Country::parse("FR").unwrap());
    datadir::init(&dir, &Origin::parse("cert-b.example").unwrap(), fr).unwrap();
    let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        format!("{config}\n[federation]\nca_file = \"peers-ca.pem\"\n"),
    )
    .unwrap();
    std::fs::write(dir.join("peers-ca.pem"), content).unwrap();
    let node = Node::open(&dir).unwrap();
    let client = node
        .peer_client(Duration::from_secs(5))
        .map_err(|e| e.to_string());
    (t, client)
}

#[test]
fn a_ca_file_without_certificates_is_refused_by_name() {
    let (_t, client) = node_with_ca_file("not a certificate\n");
    let err = client.unwrap_err();
    assert!(
        err.contains("federation.ca_file") && err.contains("peers-ca.pem"),
        "{err}"
    );
}

#[test]
fn a_ca_file_with_a_certificate_is_used() {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = params.self_signed(&key).unwrap();
    let (_t, client) = node_with_ca_file(&ca.pem());
    assert!(client.is_ok());
}
