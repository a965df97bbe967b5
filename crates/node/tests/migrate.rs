//! `detente migrate`: a SQLite node copied to PostgreSQL starts there with the
//! same log, users, peers and requests, and an occupied target is refused.

use detente_domain::Origin;
use detente_node::{audit, config::Config, datadir, migrate, Node};
use detente_storage::{PeerRow, Role, UserRecord};
use detente_storage_postgres::{scratch_database, test_server};
use serde_json::json;

fn sqlite_node(dir: &std::path::Path, entries: u64) {
    datadir::init(dir, &Origin::parse("cert-a.example").unwrap(), None).unwrap();
    let node = Node::open(dir).unwrap();
    let envs: Vec<_> = (0..entries)
        .map(|i| node.sign("test.entry", json!({ "i": i })).unwrap())
        .collect();
    for chunk in envs.chunks(300) {
        node.submit_blocking(chunk.to_vec())
            .unwrap()
            .blocking_recv()
            .unwrap()
            .unwrap();
    }
    let store = node.store();
    store
        .insert_user(&UserRecord {
            name: "officer".into(),
            role: Role::Officer,
            password_hash: "$argon2id$not-a-real-hash".into(),
            created: "2026-01-01T00:00:00.000000Z".into(),
        })
        .unwrap();
    store
        .add_peer(&PeerRow {
            origin: "cert-b.example".into(),
            url: "https://cert-b.example".into(),
            key: "cert-b.example+00000000+AAAA".into(),
            country: "FR".into(),
            added: "2026-01-01T00:00:00.000000Z".into(),
        })
        .unwrap();
    node.shutdown();
}

#[test]
fn a_sqlite_node_moves_to_postgres_and_verifies_there() {
    let Some(server) = test_server("a_sqlite_node_moves_to_postgres_and_verifies_there") else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("node");
    sqlite_node(&dir, 700);
    let from = format!("sqlite://{}", dir.join("detente.db").display());
    let to = scratch_database(&server).unwrap();
    let copied = migrate::migrate(&from, &to, &mut |_, _| {}).unwrap();
    assert_eq!(copied.tree_size, 701, "genesis and 700 entries");
    let rows = |t: &str| copied.tables.iter().find(|(n, _)| n == t).map(|(_, n)| *n);
    assert_eq!(rows("entries"), Some(701));
    assert_eq!(rows("auth_users"), Some(1));

    // Into a database that now holds a node: refused, nothing written.
    let again = migrate::migrate(&from, &to, &mut |_, _| {}).unwrap_err();
    assert!(again.to_string().contains("not empty"), "{again}");

    // The node starts on the copy, with its log, users and peers.
    let file = dir.join(datadir::CONFIG_FILE);
    let mut config = Config::load(&file).unwrap();
    config.database = to.clone();
    std::fs::write(&file, config.to_toml()).unwrap();
    let node = Node::open(&dir).unwrap();
    assert_eq!(node.published().size, 701);
    assert!(node.store().find_user("officer").unwrap().is_some());
    assert_eq!(node.store().peers().unwrap().len(), 1);
    let env = node
        .sign("test.entry", json!({"after": "migration"}))
        .unwrap();
    let appended = node
        .submit_blocking(vec![env])
        .unwrap()
        .blocking_recv()
        .unwrap()
        .unwrap();
    assert_eq!(appended.first_index, 701);
    node.shutdown();
    drop(node);
    let report = audit::audit(&dir).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.entries, 702);
}
