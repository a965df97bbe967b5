//! Real nodes for the server's integration tests: a data directory with an
//! admin, an officer and an auditor, served on 127.0.0.1:0.
#![allow(dead_code)] // each test module uses its own part

use detente_auth::{Role, Users};
use detente_domain::{Country, Origin};
use detente_node::{datadir, Node};
use serde_json::json;
use std::sync::Arc;

pub struct Running {
    pub node: Arc<Node>,
    pub base: String,
    /// `host:port`, as signed requests name it.
    pub authority: String,
    _dir: tempfile::TempDir,
}

/// Initialises a data directory, on a fresh PostgreSQL database when the
/// suite runs there (`DETENTE_TEST_BACKEND=postgres`).
pub fn init_dir(
    dir: &std::path::Path,
    origin: &Origin,
    country: Option<Country>,
) -> Result<detente_domain::NodeKey, detente_node::NodeError> {
    let database = detente_storage_postgres::test_database();
    datadir::init_on(dir, origin, country, database.as_deref())
}

pub async fn start(origin: &str, country: &str) -> Running {
    start_with_clock(origin, country, detente_node::exchange::system_clock()).await
}

/// A node whose `config.toml` was edited by `tune`, served with the
/// connection limits of its `[limits]`.
pub async fn start_tuned(
    origin: &str,
    country: &str,
    tune: impl FnOnce(&mut detente_node::config::Config),
) -> Running {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("n");
    let country = Some(Country::parse(country).unwrap());
    crate::common::init_dir(&dir, &Origin::parse(origin).unwrap(), country).unwrap();
    add_users(&dir);
    let file = dir.join(datadir::CONFIG_FILE);
    let mut config = detente_node::config::Config::load(&file).unwrap();
    tune(&mut config);
    std::fs::write(&file, config.to_toml()).unwrap();
    let node = Node::open(&dir).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let authority = listener.local_addr().unwrap().to_string();
    let app = detente_server::node_app(node.clone()).unwrap();
    let limits = detente_server::ConnLimits::from(&node.config().limits);
    tokio::spawn(detente_server::serve(
        listener,
        None,
        app,
        limits,
        std::future::pending(),
    ));
    Running {
        node,
        base: format!("http://{authority}"),
        authority,
        _dir: t,
    }
}

fn add_users(dir: &std::path::Path) {
    let users = Users::new(detente_node::datadir::open_store(dir).unwrap());
    for (name, role) in [
        ("admin", Role::Admin),
        ("officer", Role::Officer),
        ("auditor", Role::Auditor),
    ] {
        users
            .add_user(name, role, &format!("{name}-password"))
            .unwrap();
    }
}

/// A node whose cooperation events are dated by `clock` (a test clock).
pub async fn start_with_clock(
    origin: &str,
    country: &str,
    clock: detente_node::exchange::Clock,
) -> Running {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("n");
    let country = Some(Country::parse(country).unwrap());
    crate::common::init_dir(&dir, &Origin::parse(origin).unwrap(), country).unwrap();
    add_users(&dir);
    let node = Node::open(&dir).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let authority = listener.local_addr().unwrap().to_string();
    let (app, _) = detente_server::node_app_parts(node.clone(), clock).unwrap();
    tokio::spawn(detente_server::run(listener, app, std::future::pending()));
    Running {
        node,
        base: format!("http://{authority}"),
        authority,
        _dir: t,
    }
}

/// Makes `other` a peer of `at` through the admin API.
pub async fn peer_with(
    c: &reqwest::Client,
    at: &Running,
    other: &Running,
    country: &str,
) -> reqwest::Response {
    c.post(format!("{}/api/v1/peers", at.base))
        .basic_auth("admin", Some("admin-password"))
        .json(
            &json!({ "origin": other.node.config().origin, "url": other.base,
                       "key": other.node.verifier().to_string(), "country": country }),
        )
        .send()
        .await
        .unwrap()
}
