//! A node refuses to start on a store that differs from what it signed, and
//! `audit` finds every kind of tampering.

use detente_domain::Origin;
use detente_node::{audit, datadir, Node, NodeError};
use serde_json::json;
use std::path::{Path, PathBuf};

fn new_node(n: u64) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("node");
    datadir::init(&dir, &Origin::parse("cert-a.example").unwrap(), None).unwrap();
    let node = Node::open(&dir).unwrap();
    let envs: Vec<_> = (0..n)
        .map(|i| node.sign("test.entry", json!({ "i": i })).unwrap())
        .collect();
    for chunk in envs.chunks(64) {
        node.submit_blocking(chunk.to_vec())
            .unwrap()
            .blocking_recv()
            .unwrap()
            .unwrap();
    }
    drop(node);
    (t, dir)
}

fn sql(dir: &Path, stmt: &str) {
    let c = rusqlite::Connection::open(dir.join("detente.db")).unwrap();
    c.execute_batch(stmt).unwrap();
}

fn refusal(dir: &Path) -> String {
    match Node::open(dir) {
        Err(NodeError::Integrity(why)) => why,
        Err(other) => panic!("expected an integrity error, got {other}"),
        Ok(_) => panic!("node started on a tampered store"),
    }
}

#[test]
fn clean_store_reopens_and_audits() {
    let (_t, dir) = new_node(500);
    let node = Node::open(&dir).unwrap();
    assert_eq!(node.published().size, 501);
    drop(node);
    let r = audit::audit(&dir).unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.entries, 501);
}

#[test]
fn truncated_database_is_refused() {
    let (_t, dir) = new_node(300);
    sql(&dir, "DELETE FROM entries WHERE idx >= 290");
    assert!(refusal(&dir).contains("entries"));
}

#[test]
fn rolled_back_database_is_refused() {
    let (_t, dir) = new_node(100);
    let old = std::fs::read(dir.join("detente.db")).unwrap();
    // Checkpoint the WAL into the main file first so the copy is complete.
    sql(&dir, "PRAGMA wal_checkpoint(TRUNCATE)");
    let snapshot = std::fs::read(dir.join("detente.db")).unwrap();
    assert!(!snapshot.is_empty() && !old.is_empty());
    let node = Node::open(&dir).unwrap();
    let envs: Vec<_> = (0..10)
        .map(|i| node.sign("test.entry", json!({ "late": i })).unwrap())
        .collect();
    node.submit_blocking(envs)
        .unwrap()
        .blocking_recv()
        .unwrap()
        .unwrap();
    drop(node);
    sql(&dir, "PRAGMA wal_checkpoint(TRUNCATE)");
    std::fs::write(dir.join("detente.db"), snapshot).unwrap();
    let _ = std::fs::remove_file(dir.join("detente.db-wal"));
    assert!(refusal(&dir).contains("old copy"));
}

#[test]
fn altered_envelope_is_refused_and_audited() {
    let (_t, dir) = new_node(300);
    sql(&dir, "UPDATE entries SET envelope = CAST(replace(CAST(envelope AS TEXT), '\"i\":299', '\"i\":298') AS BLOB) WHERE idx = 300");
    assert!(refusal(&dir).contains("altered"));
    let r = audit::audit(&dir).unwrap();
    assert!(
        r.problems.iter().any(|p| p.contains("entry 300")),
        "{:?}",
        r.problems
    );
}

#[test]
fn altered_digest_and_checkpoint_are_audited() {
    let (_t, dir) = new_node(50);
    sql(
        &dir,
        "UPDATE entries SET digest = zeroblob(32) WHERE idx = 7",
    );
    sql(
        &dir,
        "UPDATE checkpoints SET note = 'forged' WHERE size = 0",
    );
    let r = audit::audit(&dir).unwrap();
    assert!(
        r.problems.iter().any(|p| p.contains("entry 7")),
        "{:?}",
        r.problems
    );
    assert!(
        r.problems
            .iter()
            .any(|p| p.contains("checkpoint of size 0")),
        "{:?}",
        r.problems
    );
}

#[test]
fn lost_tree_files_are_rebuilt_from_the_database() {
    let (_t, dir) = new_node(1000);
    let root = Node::open_read_only(&dir).unwrap().published().root;
    std::fs::remove_dir_all(dir.join("tree")).unwrap();
    let node = Node::open(&dir).unwrap();
    assert_eq!(node.published().root, root);
    assert_eq!(node.root_at(1001).unwrap(), root);
    node.inclusion_proof(500, 1001).unwrap();
}

fn tree_file(dir: &Path, level: u8) -> PathBuf {
    dir.join("tree").join(format!("level-{level:02}"))
}

fn tree_files(dir: &Path) -> Vec<Vec<u8>> {
    (0..11)
        .map(|l| std::fs::read(tree_file(dir, l)).unwrap())
        .collect()
}

/// Opens the node and says how many leaves it rehashed to repair its tree files.
fn reopen_rebuilt(dir: &Path) -> u64 {
    let node = Node::open(dir).unwrap();
    node.inclusion_proof(1400, 1501).unwrap();
    let n = node
        .metrics()
        .tree_rebuilt_leaves
        .load(std::sync::atomic::Ordering::Relaxed);
    drop(node);
    n
}

/// A restart repairs the tree files from where they are incomplete or wrong,
/// not from the largest power of two below the tree size.
#[test]
fn restart_repairs_only_the_damaged_tail_of_the_tree_files() {
    let (_t, dir) = new_node(1500);
    let clean = tree_files(&dir);
    assert_eq!(reopen_rebuilt(&dir), 0, "a clean stop needs no repair");

    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(tree_file(&dir, 0))
        .unwrap();
    f.set_len(1401 * 32 + 7).unwrap();
    assert_eq!(reopen_rebuilt(&dir), 100, "leaves 1401..1501 were cut");
    assert_eq!(tree_files(&dir), clean);

    use std::os::unix::fs::FileExt;
    f.write_all_at(&[0u8; 32], 1450 * 32).unwrap();
    let l2 = std::fs::OpenOptions::new()
        .write(true)
        .open(tree_file(&dir, 2))
        .unwrap();
    l2.write_all_at(&[0u8; 32], 300 * 32).unwrap();
    assert_eq!(
        reopen_rebuilt(&dir),
        1501 - 1200,
        "node 2/300 (leaves 1200..1204) was garbled"
    );
    assert_eq!(tree_files(&dir), clean);
}

#[test]
fn second_writer_is_refused() {
    let (_t, dir) = new_node(1);
    let _first = Node::open(&dir).unwrap();
    let err = Node::open(&dir).err().unwrap().to_string();
    assert!(err.contains("in use"), "{err}");
}

/// A log holds envelopes its peers signed; the audit checks them with the keys
/// the node recorded (`peer.added`) and flags any other signer.
#[test]
fn audit_checks_peer_envelopes_with_the_keys_the_log_recorded() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("node");
    datadir::init(&dir, &Origin::parse("cert-a.example").unwrap(), None).unwrap();
    let node = Node::open(&dir).unwrap();
    let b = detente_domain::NodeKey::generate("cert-b.example").unwrap();
    let stranger = detente_domain::NodeKey::generate("cert-x.example").unwrap();
    let signed_by = |k: &detente_domain::NodeKey| {
        detente_domain::Envelope::new(
            "request.delivered",
            Origin::parse(k.name()).unwrap(),
            json!({}),
        )
        .unwrap()
        .sign(k)
        .unwrap()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let peer = detente_node::peers::Peer::parse(
            "cert-b.example",
            "http://127.0.0.1:9",
            &b.verifier().to_string(),
            "FR",
        )
        .unwrap();
        node.add_peer(&peer).await.unwrap();
        node.append(vec![signed_by(&b)]).await.unwrap();
    });
    drop(node);
    let report = audit::audit(&dir).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    let node = Node::open(&dir).unwrap();
    rt.block_on(async { node.append(vec![signed_by(&stranger)]).await.unwrap() });
    drop(node);
    let report = audit::audit(&dir).unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(report.problems[0].contains("\"cert-x.example\", which was not a peer"));
}

#[test]
fn audit_reports_an_exchange_envelope_logged_twice() {
    let (_t, dir) = new_node(3);
    let node = Node::open(&dir).unwrap();
    let env = node
        .sign("request.acknowledged", json!({ "event": "e" }))
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let first = rt.block_on(async {
        let (first, _) = node.append_once(env.clone()).await.unwrap();
        let (again, _) = node.append_once(env.clone()).await.unwrap();
        assert_eq!(first, again, "append_once finds what is logged");
        first
    });
    drop(node);
    assert!(audit::audit(&dir).unwrap().problems.is_empty());

    // Logged a second time (as a version before the sequencer refused that
    // could): the audit names the envelope and both places.
    sql(
        &dir,
        &format!(
            "INSERT INTO entries (idx, digest, kind, time, envelope) \
             SELECT (SELECT max(idx) + 1 FROM entries), digest, kind, time, envelope \
             FROM entries WHERE idx = {first}"
        ),
    );
    let report = audit::audit(&dir).unwrap();
    let twice = format!("{} is logged 2 times", hex::encode(env.digest()));
    assert!(
        report.problems.iter().any(|p| p.contains(&twice)),
        "{:?}",
        report.problems
    );
}
