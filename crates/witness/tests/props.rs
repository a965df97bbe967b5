//! For any m < n: the proof from m to n is accepted, and any single flipped bit
//! in it is refused with 422 (before the valid one moves the witness on).

use detente_domain::NodeKey;
use detente_log::merkle::{consistency_proof, MemoryTree};
use detente_log::Checkpoint;
use detente_witness::{status_of, AddCheckpoint, LogConfig, Witness, WitnessError};
use proptest::prelude::*;
use std::sync::{Arc, OnceLock};

const ORIGIN: &str = "prop.example.org";

fn keys() -> &'static (NodeKey, NodeKey) {
    static K: OnceLock<(NodeKey, NodeKey)> = OnceLock::new();
    K.get_or_init(|| {
        (
            NodeKey::generate(ORIGIN).unwrap(),
            NodeKey::generate("witness.example.org").unwrap(),
        )
    })
}

fn signed(tree: &MemoryTree, key: &NodeKey) -> String {
    Checkpoint {
        origin: ORIGIN.into(),
        size: tree.size(),
        root: tree.root(),
        extensions: vec![],
    }
    .sign(key)
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn valid_proofs_accepted_flipped_bits_refused(n in 2u64..400, m_seed in any::<u64>(), bit in any::<usize>()) {
        let m = 1 + m_seed % (n - 1);
        let (log_key, witness_key) = keys();
        let dir = tempfile::tempdir().unwrap();
        let wkey = Arc::new(NodeKey::parse(&witness_key.to_private_string()).unwrap());
        let logs = vec![LogConfig::new(ORIGIN, vec![log_key.verifier()]).unwrap()];
        let store = detente_storage_sqlite::SqliteStore::open(&dir.path().join("detente.db")).unwrap();
        let w = Witness::new(Arc::new(store), wkey, logs);

        let mut tree = MemoryTree::default();
        for i in 0..m {
            tree.push(&i.to_be_bytes());
        }
        let first = AddCheckpoint { old_size: 0, proof: vec![], checkpoint: signed(&tree, log_key) };
        prop_assert!(w.add(&first).is_ok());
        for i in m..n {
            tree.push(&i.to_be_bytes());
        }
        let proof = consistency_proof(&tree, m, n).unwrap();
        prop_assert!(!proof.is_empty());
        let mut bad = proof.clone();
        let bits = bad.len() * 256;
        let b = bit % bits;
        bad[b / 256][(b % 256) / 8] ^= 1 << (b % 8);
        let cp = signed(&tree, log_key);
        let bad_req = AddCheckpoint { old_size: m, proof: bad, checkpoint: cp.clone() };
        let err = w.add_checkpoint(bad_req.to_body().as_bytes()).unwrap_err();
        prop_assert!(matches!(err, WitnessError::BadProof(_)));
        prop_assert_eq!(status_of(&err).as_u16(), 422);
        prop_assert_eq!(w.latest(ORIGIN).unwrap().unwrap().size, m);
        let good = AddCheckpoint { old_size: m, proof, checkpoint: cp };
        prop_assert!(w.add_checkpoint(good.to_body().as_bytes()).is_ok());
        prop_assert_eq!(w.latest(ORIGIN).unwrap().unwrap().size, n);
    }
}
