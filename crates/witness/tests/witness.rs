//! A real witness on 127.0.0.1:0, fed by a test log through the HTTP client.

use detente_domain::{NodeKey, VerifierKey};
use detente_log::merkle::{consistency_proof, MemoryTree};
use detente_log::{cosignature, note, Checkpoint, Hash};
use detente_storage::StorageError;
use detente_witness::{
    merge_cosignatures, router, submit, AddCheckpoint, Conflict, ConflictKind, Cosigned, LogConfig,
    SubmitOutcome, Witness, WitnessError, WitnessStore,
};
use std::sync::{Arc, Mutex};

const ORIGIN: &str = "log.example.org";

struct TestLog {
    key: NodeKey,
    tree: MemoryTree,
    /// Distinguishes leaves of forked trees that share a prefix.
    salt: u8,
}

impl TestLog {
    fn new() -> Self {
        TestLog {
            key: NodeKey::generate(ORIGIN).unwrap(),
            tree: MemoryTree::default(),
            salt: 0,
        }
    }

    /// Another tree under the same key: what a forking log would sign.
    fn fork_of(&self, salt: u8) -> Self {
        TestLog {
            key: NodeKey::parse(&self.key.to_private_string()).unwrap(),
            tree: MemoryTree::default(),
            salt,
        }
    }

    fn grow_to(&mut self, n: u64) -> &mut Self {
        while self.tree.size() < n {
            let i = self.tree.size();
            let mut leaf = i.to_be_bytes().to_vec();
            if i > 0 {
                leaf.push(self.salt);
            }
            self.tree.push(&leaf);
        }
        self
    }

    fn signed(&self) -> String {
        self.checkpoint().sign(&self.key).unwrap()
    }

    fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            origin: ORIGIN.into(),
            size: self.tree.size(),
            root: self.tree.root(),
            extensions: vec![],
        }
    }

    fn proof_from(&self, m: u64) -> Vec<Hash> {
        consistency_proof(&self.tree, m, self.tree.size()).unwrap()
    }

    fn body(&self, old: u64) -> String {
        AddCheckpoint {
            old_size: old,
            proof: self.proof_from(old),
            checkpoint: self.signed(),
        }
        .to_body()
    }
}

struct Server {
    url: String,
    witness: Arc<Witness>,
    witness_key: VerifierKey,
    client: reqwest::Client,
    hook_calls: Arc<Mutex<Vec<(ConflictKind, String, String)>>>,
    _dir: Option<tempfile::TempDir>,
}

async fn serve(witness: Witness, dir: Option<tempfile::TempDir>) -> Server {
    let witness = Arc::new(witness);
    let hook_calls = Arc::new(Mutex::new(Vec::new()));
    let calls = hook_calls.clone();
    witness.on_conflict(move |c| {
        calls
            .lock()
            .unwrap()
            .push((c.kind, c.cosigned_note.clone(), c.submitted_note.clone()))
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(witness.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Server {
        url: format!("http://{addr}/witness"),
        witness_key: witness.verifier(),
        witness,
        client: reqwest::Client::new(),
        hook_calls,
        _dir: dir,
    }
}

fn open_witness(path: &std::path::Path, log: &TestLog) -> Witness {
    let key = NodeKey::parse(
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
    )
    .unwrap();
    let logs = vec![LogConfig::new(ORIGIN, vec![log.key.verifier()]).unwrap()];
    let store = detente_storage_sqlite::SqliteStore::open(&path.join("detente.db")).unwrap();
    Witness::new(Arc::new(store), Arc::new(key), logs)
}

async fn start(log: &TestLog) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let w = open_witness(dir.path(), log);
    serve(w, Some(dir)).await
}

impl Server {
    async fn post(&self, body: impl Into<reqwest::Body>) -> (u16, Option<String>, String) {
        let resp = self
            .client
            .post(format!("{}/add-checkpoint", self.url))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string());
        (status, ct, resp.text().await.unwrap())
    }

    async fn submit(&self, log: &TestLog, old: u64) -> Result<SubmitOutcome, WitnessError> {
        submit(
            &self.client,
            &self.url,
            old,
            &log.proof_from(old),
            &log.signed(),
            &self.witness_key,
        )
        .await
    }

    fn stored_size(&self) -> Option<u64> {
        self.witness.latest(ORIGIN).unwrap().map(|c| c.size)
    }
}

fn cosigned(o: Result<SubmitOutcome, WitnessError>) -> detente_witness::Cosignature {
    match o {
        Ok(SubmitOutcome::Cosigned(c)) => c,
        other => panic!("expected a cosignature, got {other:?}"),
    }
}

#[tokio::test]
async fn growing_checkpoints_are_cosigned_and_cosignatures_verify() {
    let mut log = TestLog::new();
    let s = start(&log).await;
    let mut old = 0;
    for size in [5u64, 5, 12, 13, 64, 100] {
        log.grow_to(size);
        let c = cosigned(s.submit(&log, old).await);
        let body = log.checkpoint().body();
        assert_eq!(
            cosignature::verify(&s.witness_key, &body, &c.signature),
            Some(c.timestamp)
        );
        assert_eq!(c.line, c.signature.line());
        let merged = merge_cosignatures(&log.signed(), std::slice::from_ref(&c.signature)).unwrap();
        let (cp, n) = Checkpoint::open(&merged, &[log.key.verifier()]).unwrap();
        assert_eq!(cp, log.checkpoint());
        assert_eq!(
            cosignature::verify(&s.witness_key, &n.text, n.sigs.last().unwrap()),
            Some(c.timestamp)
        );
        let stored = s.witness.latest(ORIGIN).unwrap().unwrap();
        assert_eq!((stored.size, stored.root), (size, log.tree.root()));
        assert_eq!(stored.note, log.signed());
        old = size;
    }
    assert!(s.witness.conflicts().unwrap().is_empty());
    assert!(s.hook_calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn checkpoint_with_extension_lines_is_cosigned_over_the_whole_body() {
    let mut log = TestLog::new();
    log.grow_to(3);
    let s = start(&log).await;
    let mut cp = log.checkpoint();
    cp.extensions = vec!["- extension line".into()];
    let signed = cp.sign(&log.key).unwrap();
    let got = submit(&s.client, &s.url, 0, &[], &signed, &s.witness_key).await;
    let c = cosigned(got);
    assert!(cosignature::verify(&s.witness_key, &cp.body(), &c.signature).is_some());
    assert!(cosignature::verify(&s.witness_key, &log.checkpoint().body(), &c.signature).is_none());
}

#[tokio::test]
async fn unknown_origin_is_404() {
    let log = TestLog::new();
    let s = start(&log).await;
    let other_key = NodeKey::generate("other.example.org").unwrap();
    let mut t = MemoryTree::default();
    t.push(b"x");
    let cp = Checkpoint {
        origin: "other.example.org".into(),
        size: 1,
        root: t.root(),
        extensions: vec![],
    };
    let body = format!("old 0\n\n{}", cp.sign(&other_key).unwrap());
    assert_eq!(s.post(body).await.0, 404);
}

#[tokio::test]
async fn checkpoint_without_a_trusted_signature_is_403() {
    let mut log = TestLog::new();
    log.grow_to(4);
    let s = start(&log).await;
    // Same name, another key: its signature is by an unknown key and ignored.
    let mut impostor = TestLog {
        key: NodeKey::generate(ORIGIN).unwrap(),
        tree: MemoryTree::default(),
        salt: 0,
    };
    impostor.grow_to(4);
    let (status, _, _) = s.post(impostor.body(0)).await;
    assert_eq!(status, 403);
    // The trusted key's line with a corrupted signature.
    let signed = log.signed();
    let n = note::parse(&signed).unwrap();
    let mut sig = n.sigs[0].clone();
    sig.sig[0] ^= 1;
    let tampered = format!("{}\n{}", n.text, sig.line());
    assert_eq!(s.post(format!("old 0\n\n{tampered}")).await.0, 403);
    let err = submit(
        &s.client,
        &s.url,
        0,
        &[],
        &impostor.signed(),
        &s.witness_key,
    )
    .await;
    assert!(
        matches!(err, Err(WitnessError::Rejected { status: 403, .. })),
        "{err:?}"
    );
    assert_eq!(s.stored_size(), None);
}

#[tokio::test]
async fn malformed_bodies_are_400() {
    let mut log = TestLog::new();
    log.grow_to(4);
    let s = start(&log).await;
    let signed = log.signed();
    let hash = "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n";
    for body in [
        format!("old 00\n\n{signed}"),
        format!("old 0\n{signed}"),
        format!("old 0\nnot-base64\n\n{signed}"),
        format!("old 0\n{}\n{signed}", hash.repeat(64)),
        "old 0\n\nlog.example.org\n4\n".to_string(),
        format!("old 0\n\n{}", signed.replace("\n4\n", "\n04\n")),
        String::new(),
    ] {
        let (status, _, text) = s.post(body.clone()).await;
        assert_eq!(status, 400, "{body:?}: {text}");
    }
    assert_eq!(s.post(vec![0xffu8, b'\n']).await.0, 400);
    assert_eq!(s.stored_size(), None);
}

#[tokio::test]
async fn old_size_above_checkpoint_size_is_400() {
    let mut log = TestLog::new();
    log.grow_to(4);
    let s = start(&log).await;
    let body = format!("old 5\n\n{}", log.signed());
    assert_eq!(s.post(body).await.0, 400);
}

#[tokio::test]
async fn oversized_body_is_413() {
    let log = TestLog::new();
    let s = start(&log).await;
    let body = format!("old 0\n\n{}", "x".repeat(detente_witness::MAX_BODY + 1));
    assert_eq!(s.post(body).await.0, 413);
}

#[tokio::test]
async fn stale_old_size_is_409_with_the_stored_size() {
    let mut log = TestLog::new();
    log.grow_to(7);
    let s = start(&log).await;
    cosigned(s.submit(&log, 0).await);
    log.grow_to(20);
    // A client that never talked to this witness starts from 0.
    let (status, ct, body) = s.post(format!("old 0\n\n{}", log.signed())).await;
    assert_eq!(status, 409);
    assert_eq!(ct.as_deref(), Some("text/x.tlog.size"));
    assert_eq!(body, "7\n");
    let (status, _, body) = s.post(log.body(3)).await;
    assert_eq!((status, body.as_str()), (409, "7\n"));
    assert_eq!(
        s.submit(&log, 0).await.unwrap(),
        SubmitOutcome::WitnessSize(7)
    );
    // Retrying with the size the witness reported succeeds.
    cosigned(s.submit(&log, 7).await);
    assert_eq!(s.stored_size(), Some(20));
}

#[tokio::test]
async fn bad_consistency_proofs_are_422() {
    let mut log = TestLog::new();
    log.grow_to(6);
    let s = start(&log).await;
    // old 0 requires an empty proof.
    let with_proof = format!(
        "old 0\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n\n{}",
        log.signed()
    );
    assert_eq!(s.post(with_proof).await.0, 422);
    cosigned(s.submit(&log, 0).await);
    // Same size: the proof must be empty.
    let same = AddCheckpoint {
        old_size: 6,
        proof: vec![[0; 32]],
        checkpoint: log.signed(),
    };
    assert_eq!(s.post(same.to_body()).await.0, 422);
    log.grow_to(11);
    let mut proof = log.proof_from(6);
    proof[1][3] ^= 0x10;
    let bad = AddCheckpoint {
        old_size: 6,
        proof: proof.clone(),
        checkpoint: log.signed(),
    };
    assert_eq!(s.post(bad.to_body()).await.0, 422);
    let short = AddCheckpoint {
        old_size: 6,
        proof: proof[1..].to_vec(),
        checkpoint: log.signed(),
    };
    assert_eq!(s.post(short.to_body()).await.0, 422);
    let err = submit(&s.client, &s.url, 6, &proof, &log.signed(), &s.witness_key).await;
    assert!(
        matches!(err, Err(WitnessError::Rejected { status: 422, .. })),
        "{err:?}"
    );
    assert_eq!(s.stored_size(), Some(6));
    cosigned(s.submit(&log, 6).await);
    assert_eq!(s.stored_size(), Some(11));
}

#[tokio::test]
async fn same_size_fork_is_refused_and_kept_as_evidence() {
    let mut log = TestLog::new();
    log.grow_to(9);
    let s = start(&log).await;
    cosigned(s.submit(&log, 0).await);
    let mut fork = log.fork_of(1);
    fork.grow_to(9);
    assert_ne!(fork.tree.root(), log.tree.root());
    let (status, ct, body) = s.post(fork.body(9)).await;
    assert_eq!(
        (status, ct.as_deref(), body.as_str()),
        (409, Some("text/x.tlog.size"), "9\n")
    );
    // Replaying it, with any old size, adds no second record or alert.
    let (status, _, _) = s.post(format!("old 0\n\n{}", fork.signed())).await;
    assert_eq!(status, 409);
    let err = s.submit(&fork, 9).await;
    assert!(
        matches!(err, Err(WitnessError::ForkReported { size: 9 })),
        "{err:?}"
    );

    let conflicts = s.witness.conflicts().unwrap();
    assert_eq!(conflicts.len(), 1);
    let c = &conflicts[0];
    assert_eq!((c.kind, c.origin.as_str()), (ConflictKind::Fork, ORIGIN));
    assert_eq!(c.cosigned_note, log.signed());
    assert_eq!(c.submitted_note, fork.signed());
    // The evidence stands on its own: both notes open with the log's key.
    let (a, _) = Checkpoint::open(&c.cosigned_note, &[log.key.verifier()]).unwrap();
    let (b, _) = Checkpoint::open(&c.submitted_note, &[log.key.verifier()]).unwrap();
    assert_eq!(a.size, b.size);
    assert_ne!(a.root, b.root);
    assert_eq!(
        *s.hook_calls.lock().unwrap(),
        vec![(ConflictKind::Fork, log.signed(), fork.signed())]
    );
    // The cosigned state is untouched and the honest log continues.
    assert_eq!(
        s.witness.latest(ORIGIN).unwrap().unwrap().root,
        log.tree.root()
    );
    log.grow_to(10);
    cosigned(s.submit(&log, 9).await);
}

#[tokio::test]
async fn larger_inconsistent_checkpoint_is_refused_and_kept_as_evidence() {
    let mut log = TestLog::new();
    log.grow_to(5);
    let s = start(&log).await;
    cosigned(s.submit(&log, 0).await);
    // The fork rewrites history after leaf 0; the honest tree's proof cannot tie it
    // to the cosigned checkpoint, and neither can its own.
    let mut fork = log.fork_of(2);
    fork.grow_to(8);
    log.grow_to(8);
    for proof in [fork.proof_from(5), log.proof_from(5)] {
        let req = AddCheckpoint {
            old_size: 5,
            proof,
            checkpoint: fork.signed(),
        };
        assert_eq!(s.post(req.to_body()).await.0, 422);
    }
    let conflicts = s.witness.conflicts().unwrap();
    assert_eq!(conflicts.len(), 1);
    let c = &conflicts[0];
    assert_eq!(c.kind, ConflictKind::Inconsistent);
    assert_eq!(
        (c.cosigned_note.as_str(), c.submitted_note.as_str()),
        (
            s.witness.latest(ORIGIN).unwrap().unwrap().note.as_str(),
            fork.signed().as_str()
        )
    );
    assert_eq!(c.old_size, 5);
    assert_eq!(c.proof, fork.proof_from(5));
    assert_eq!(s.hook_calls.lock().unwrap().len(), 1);
    assert_eq!(
        s.hook_calls.lock().unwrap()[0].0,
        ConflictKind::Inconsistent
    );
    assert_eq!(s.stored_size(), Some(5));
    cosigned(s.submit(&log, 5).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_submissions_never_both_succeed() {
    let mut log = TestLog::new();
    log.grow_to(10);
    let s = Arc::new(start(&log).await);
    cosigned(s.submit(&log, 0).await);
    let mut old = 10u64;
    for round in 0..10u64 {
        // Several checkpoints of different sizes, all proven from the same old
        // size: whichever lands first wins, every other one must see 409.
        let sizes: Vec<u64> = (1..=4).map(|k| old + k * (round + 1)).collect();
        let mut tasks = Vec::new();
        for &size in &sizes {
            let mut l = log.fork_of(0);
            l.grow_to(size);
            let s = s.clone();
            tasks.push(tokio::spawn(async move { (size, s.submit(&l, old).await) }));
        }
        let mut winners = Vec::new();
        for t in tasks {
            let (size, r) = t.await.unwrap();
            match r {
                Ok(SubmitOutcome::Cosigned(_)) => winners.push(size),
                Ok(SubmitOutcome::WitnessSize(w)) => assert!(sizes.contains(&w)),
                other => panic!("unexpected outcome {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        assert_eq!(s.stored_size(), Some(winners[0]));
        old = winners[0];
    }
}

#[test]
fn racing_threads_on_separate_connections_never_both_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TestLog::new();
    log.grow_to(3);
    let a = Arc::new(open_witness(dir.path(), &log));
    a.add_checkpoint(log.body(0).as_bytes()).unwrap();
    // Two witness instances over the same file, as two processes would be.
    let b = Arc::new(open_witness(dir.path(), &log));
    let mut old = 3;
    for round in 0..20u64 {
        let bodies: Vec<(u64, String)> = [old + 1 + round, old + 2 + 2 * round]
            .into_iter()
            .map(|n| {
                let mut l = log.fork_of(0);
                l.grow_to(n);
                (n, l.body(old))
            })
            .collect();
        let handles: Vec<_> = bodies
            .into_iter()
            .zip([a.clone(), b.clone()])
            .map(|((n, body), w)| {
                std::thread::spawn(move || (n, w.add_checkpoint(body.as_bytes())))
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let winners: Vec<u64> = results
            .iter()
            .filter(|r| r.1.is_ok())
            .map(|r| r.0)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        for (_, r) in &results {
            if let Err(e) = r {
                assert!(
                    matches!(e, WitnessError::SizeMismatch { stored } if *stored == winners[0]),
                    "{e:?}"
                );
            }
        }
        old = winners[0];
        assert_eq!(a.latest(ORIGIN).unwrap().unwrap().size, old);
    }
}

#[tokio::test]
async fn state_and_evidence_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TestLog::new();
    log.grow_to(6);
    let mut fork = log.fork_of(3);
    fork.grow_to(6);
    {
        let w = open_witness(dir.path(), &log);
        w.add_checkpoint(log.body(0).as_bytes()).unwrap();
        assert!(matches!(
            w.add_checkpoint(fork.body(6).as_bytes()),
            Err(WitnessError::RootMismatch { size: 6 })
        ));
    }
    let s = serve(open_witness(dir.path(), &log), None).await;
    let stored = s.witness.latest(ORIGIN).unwrap().unwrap();
    assert_eq!(
        (stored.size, stored.root, stored.note),
        (6, log.tree.root(), log.signed())
    );
    assert_eq!(s.witness.conflicts().unwrap().len(), 1);
    log.grow_to(9);
    assert_eq!(
        s.submit(&log, 0).await.unwrap(),
        SubmitOutcome::WitnessSize(6)
    );
    cosigned(s.submit(&log, 6).await);
    drop(dir);
}

#[tokio::test]
async fn logs_added_later_are_witnessed() {
    let log = TestLog::new();
    let s = start(&log).await;
    let other_key = NodeKey::generate("late.example.org").unwrap();
    let cp = Checkpoint {
        origin: "late.example.org".into(),
        size: 0,
        root: detente_log::merkle::EMPTY_ROOT,
        extensions: vec![],
    };
    let signed = cp.sign(&other_key).unwrap();
    let body = format!("old 0\n\n{signed}");
    assert_eq!(s.post(body.clone()).await.0, 404);
    s.witness
        .add_log(LogConfig::new("late.example.org", vec![other_key.verifier()]).unwrap());
    let (status, _, text) = s.post(body).await;
    assert_eq!(status, 200, "{text}");
    let n = note::parse(&format!("{}\n{text}", cp.body())).unwrap();
    assert!(cosignature::verify(&s.witness_key, &cp.body(), &n.sigs[0]).is_some());
}

/// Runs a competing write between the witness's read and its write: the
/// interleaving of the spec's race example, made deterministic.
struct Interleaving {
    inner: detente_storage_sqlite::SqliteStore,
    competitor: Arc<Mutex<Option<Cosigned>>>,
}

impl WitnessStore for Interleaving {
    fn witnessed(&self, origin: &str) -> Result<Option<Cosigned>, StorageError> {
        self.inner.witnessed(origin)
    }
    fn swap_witnessed(
        &self,
        expected: Option<(u64, Hash)>,
        new: &Cosigned,
    ) -> Result<bool, StorageError> {
        if let Some(c) = self.competitor.lock().unwrap().take() {
            assert!(self.inner.swap_witnessed(expected, &c)?);
        }
        self.inner.swap_witnessed(expected, new)
    }
    fn record_witness_conflict(&self, c: &Conflict) -> Result<bool, StorageError> {
        self.inner.record_witness_conflict(c)
    }
    fn witness_conflicts(&self) -> Result<Vec<Conflict>, StorageError> {
        self.inner.witness_conflicts()
    }
}

#[test]
fn a_request_that_loses_the_race_is_answered_409_and_rolls_nothing_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TestLog::new();
    log.grow_to(10);
    let competitor = Arc::new(Mutex::new(None));
    let store = Interleaving {
        inner: detente_storage_sqlite::SqliteStore::open(&dir.path().join("detente.db")).unwrap(),
        competitor: competitor.clone(),
    };
    let logs = vec![LogConfig::new(ORIGIN, vec![log.key.verifier()]).unwrap()];
    let w = Witness::new(
        Arc::new(store),
        Arc::new(NodeKey::generate("w.example").unwrap()),
        logs,
    );
    w.add_checkpoint(log.body(0).as_bytes()).unwrap();

    // Request B (size 30) commits while request A (size 20) is between its check
    // and its write.
    let mut big = log.fork_of(0);
    big.grow_to(30);
    *competitor.lock().unwrap() = Some(Cosigned {
        origin: ORIGIN.into(),
        size: 30,
        root: big.tree.root(),
        note: big.signed(),
        cosigned_at: 1,
    });
    log.grow_to(20);
    let r = w.add_checkpoint(log.body(10).as_bytes());
    assert!(
        competitor.lock().unwrap().is_none(),
        "the competing write ran"
    );
    assert!(
        matches!(r, Err(WitnessError::SizeMismatch { stored: 30 })),
        "{r:?}"
    );
    assert_eq!(w.latest(ORIGIN).unwrap().unwrap().size, 30);
}

#[tokio::test]
async fn custom_prefix_is_honoured() {
    let mut log = TestLog::new();
    log.grow_to(2);
    let dir = tempfile::tempdir().unwrap();
    let w = Arc::new(open_witness(dir.path(), &log));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = detente_witness::router_with_prefix(w.clone(), "/peers/w1/");
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = reqwest::Client::new();
    let default = client
        .post(format!("http://{addr}/witness/add-checkpoint"))
        .body(log.body(0))
        .send()
        .await
        .unwrap();
    assert_eq!(default.status().as_u16(), 404);
    let got = submit(
        &client,
        &format!("http://{addr}/peers/w1/"),
        0,
        &[],
        &log.signed(),
        &w.verifier(),
    )
    .await;
    cosigned(got);
    let get = client
        .get(format!("http://{addr}/peers/w1/add-checkpoint"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 405);
}
