//! The log never holds an exchange envelope twice, however often it is
//! submitted: a peer's redelivery can reach the sequencer while the first
//! delivery's append is still queued (its caller was cancelled, or gave up).

use detente_domain::Origin;
use detente_node::{audit, datadir, Node};
use serde_json::json;

fn open() -> (tempfile::TempDir, std::path::PathBuf, std::sync::Arc<Node>) {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("node");
    datadir::init(&dir, &Origin::parse("cert-a.example").unwrap(), None).unwrap();
    let node = Node::open(&dir).unwrap();
    (t, dir, node)
}

#[test]
fn an_exchange_envelope_submitted_again_keeps_its_first_index() {
    let (_t, dir, node) = open();
    let env = node
        .sign("request.submitted", json!({ "event": { "n": 1 } }))
        .unwrap();
    // Twice at once (one batch or two), then again once both are durable.
    let first = node.submit_blocking(vec![env.clone()]).unwrap();
    let second = node.submit_blocking(vec![env.clone()]).unwrap();
    let (first, second) = (
        first.blocking_recv().unwrap().unwrap(),
        second.blocking_recv().unwrap().unwrap(),
    );
    let third = node
        .submit_blocking(vec![env.clone()])
        .unwrap()
        .blocking_recv()
        .unwrap()
        .unwrap();
    assert_eq!(first.indices, [1]);
    assert_eq!(second.indices, [1]);
    assert_eq!(third.indices, [1]);
    assert_eq!(third.first_index, 1);
    assert_eq!(node.published().size, 2, "genesis and the envelope, once");
    assert!(third.checkpoint.size >= 2, "a checkpoint that covers it");

    // Logged and new in one job: only the new one is appended.
    let delivered = node
        .sign("request.delivered", json!({ "event": { "n": 2 } }))
        .unwrap();
    let mixed = node
        .submit_blocking(vec![env, delivered.clone(), delivered])
        .unwrap()
        .blocking_recv()
        .unwrap()
        .unwrap();
    assert_eq!(mixed.indices, [1, 2, 2]);
    assert_eq!(node.published().size, 3);
    drop(node);
    let report = audit::audit(&dir).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}
