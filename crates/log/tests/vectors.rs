//! Every public vector in tests/data/tlog-vectors.json (transparency-dev/merkle,
//! certificate-transparency, C2SP, Go sumdb note) checked against this crate.

use detente_domain::{NodeKey, VerifierKey};
use detente_log::checkpoint::{format_body, Checkpoint};
use detente_log::merkle::{
    consistency_proof, hash_children, hash_leaf, inclusion_proof, root, verify_consistency,
    verify_inclusion, Hash, HashReader, MemoryTree, EMPTY_ROOT,
};
use detente_log::{note, tiles, LogError};
use serde_json::Value;

fn vectors() -> Value {
    let text = include_str!("data/tlog-vectors.json");
    serde_json::from_str(text).unwrap()
}

fn h(v: &Value) -> Hash {
    hex::decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

/// Hex list to hashes; `None` if any element is not a 32-byte hash, which is how a
/// malformed proof is refused before verification.
fn hashes(v: &Value) -> Option<Vec<Hash>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| hex::decode(x.as_str()?).ok()?.try_into().ok())
        .collect()
}

fn reference_tree() -> MemoryTree {
    let v = vectors();
    let mut t = MemoryTree::default();
    for leaf in v["leaf_inputs_hex"]["values"].as_array().unwrap() {
        t.push(&hex::decode(leaf.as_str().unwrap()).unwrap());
    }
    t
}

#[test]
fn hashing_vectors() {
    let v = vectors();
    let vs = v["hashing"]["vectors"].as_array().unwrap();
    assert_eq!(EMPTY_ROOT, h(&vs[0]["want"]));
    assert_eq!(hash_leaf(b""), h(&vs[1]["want"]));
    assert_eq!(hash_leaf(b"L123456"), h(&vs[2]["want"]));
    assert_eq!(hash_children(b"N123", b"N456"), h(&vs[3]["want"]));
}

#[test]
fn leaf_and_interior_hashes() {
    let v = vectors();
    let t = reference_tree();
    for (i, want) in v["leaf_hashes"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        assert_eq!(t.node(0, i as u64).unwrap(), h(want));
    }
    for level in 1..=3u8 {
        let key = format!("level{level}");
        for (i, want) in v["interior_node_hashes"][&key]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            assert_eq!(t.node(level, i as u64).unwrap(), h(want), "{key}[{i}]");
        }
    }
}

#[test]
fn roots_by_tree_size() {
    let v = vectors();
    let leaves: Vec<Vec<u8>> = v["leaf_inputs_hex"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| hex::decode(x.as_str().unwrap()).unwrap())
        .collect();
    let full = reference_tree();
    for (size, want) in v["root_hashes_by_tree_size"]["values"].as_object().unwrap() {
        let size: usize = size.parse().unwrap();
        let mut t = MemoryTree::default();
        leaves[..size].iter().for_each(|l| t.push(l));
        assert_eq!(t.root(), h(want), "compact root at {size}");
        assert_eq!(
            root(&full, size as u64).unwrap(),
            h(want),
            "stored root at {size}"
        );
    }
}

#[test]
fn inclusion_vectors_generate_and_verify() {
    let v = vectors();
    let t = reference_tree();
    for c in v["inclusion_proofs"]["vectors"].as_array().unwrap() {
        let (i, n) = (
            c["leaf_index"].as_u64().unwrap(),
            c["tree_size"].as_u64().unwrap(),
        );
        let proof = hashes(&c["proof"]).unwrap();
        assert_eq!(
            inclusion_proof(&t, i, n).unwrap(),
            proof,
            "generate {i}/{n}"
        );
        verify_inclusion(i, n, &h(&c["leaf_hash"]), &proof, &h(&c["root"])).unwrap();
        let mut wrong = proof.clone();
        wrong.push(h(&c["root"]));
        assert!(verify_inclusion(i, n, &h(&c["leaf_hash"]), &wrong, &h(&c["root"])).is_err());
    }
}

#[test]
fn consistency_vectors_generate_and_verify() {
    let v = vectors();
    let t = reference_tree();
    for c in v["consistency_proofs"]["vectors"].as_array().unwrap() {
        let (m, n) = (c["size1"].as_u64().unwrap(), c["size2"].as_u64().unwrap());
        let proof = hashes(&c["proof"]).unwrap();
        assert_eq!(
            consistency_proof(&t, m, n).unwrap(),
            proof,
            "generate {m}->{n}"
        );
        verify_consistency(m, n, &h(&c["root1"]), &h(&c["root2"]), &proof).unwrap();
    }
}

#[test]
fn negative_vectors_are_rejected() {
    let v = vectors();
    let mut checked = 0;
    for c in v["negative_vectors"]["vectors"].as_array().unwrap() {
        if c["kind"] != "consistency" {
            continue;
        }
        checked += 1;
        let (m, n) = (c["size1"].as_u64().unwrap(), c["size2"].as_u64().unwrap());
        let root_of = |k: &str| -> Hash {
            match c.get(k) {
                Some(x) => h(x),
                None => {
                    detente_domain::sha256(c[format!("{k}_ascii")].as_str().unwrap().as_bytes())
                }
            }
        };
        let rejected = match hashes(&c["proof"]) {
            None => true,
            Some(p) => verify_consistency(m, n, &root_of("root1"), &root_of("root2"), &p).is_err(),
        };
        assert!(rejected, "{}", c["desc"]);
    }
    assert_eq!(checked, 2);
}

#[test]
fn signed_note_vectors() {
    let v = vectors();
    let vs = v["signed_note_vectors"]["vectors"].as_array().unwrap();
    // C2SP example: verifies with its key.
    let k0 = VerifierKey::parse(vs[0]["vkey"].as_str().unwrap()).unwrap();
    let msg = vs[0]["signed_note"].as_str().unwrap();
    let (n, _) = note::open(msg, std::slice::from_ref(&k0)).unwrap();
    assert_eq!(n.text, vs[0]["note_text"].as_str().unwrap());

    // Go sumdb: signing with the private key reproduces the signature exactly.
    let sk = NodeKey::parse(vs[1]["skey"].as_str().unwrap()).unwrap();
    let text = vs[1]["note_text"].as_str().unwrap();
    let signed = note::sign(text, &sk).unwrap();
    assert_eq!(
        signed,
        format!("{text}\n{}", vs[1]["signature_line"].as_str().unwrap())
    );

    // A note signed by Peter and Enoch opens with Peter's key alone, not with none.
    let peter = VerifierKey::parse(vs[1]["vkey"].as_str().unwrap()).unwrap();
    let both = format!("{signed}{}", vs[2]["signature_line"].as_str().unwrap());
    let (n, signers) = note::open(&both, std::slice::from_ref(&peter)).unwrap();
    assert_eq!(n.sigs.len(), 2);
    assert_eq!(signers, vec![&peter]);
    assert!(matches!(
        note::open(&both, &[]),
        Err(LogError::UntrustedNote)
    ));
    let enoch = VerifierKey::parse(vs[2]["vkey"].as_str().unwrap()).unwrap();
    assert_eq!(
        note::open(&both, &[peter.clone(), enoch]).unwrap().1.len(),
        2
    );

    // Tampered text fails with the known key.
    let tampered = both.replacen("cryptography", "cryptographY", 1);
    assert!(note::open(&tampered, std::slice::from_ref(&peter)).is_err());
}

#[test]
fn checkpoint_vectors() {
    let v = vectors();
    let vs = v["signed_note_vectors"]["vectors"].as_array().unwrap();
    for c in &vs[3..5] {
        let key = VerifierKey::parse(c["vkey"].as_str().unwrap()).unwrap();
        let body = c["checkpoint_body"].as_str().unwrap();
        let msg = format!("{body}\n{}", c["signature_line"].as_str().unwrap());
        let (n, _) = note::open(&msg, std::slice::from_ref(&key)).unwrap();
        let cp = Checkpoint::parse_body(&n.text).unwrap();
        assert_eq!(cp.origin, "go.sum database tree");
        assert_eq!(cp.size, 6476701);
        assert_eq!(cp.body(), body);
    }
    // The log's own key must sign: a checkpoint signed only by "monkeys" is refused.
    let monkeys = VerifierKey::parse(vs[4]["vkey"].as_str().unwrap()).unwrap();
    let msg = format!(
        "{}\n{}",
        vs[4]["checkpoint_body"].as_str().unwrap(),
        vs[4]["signature_line"].as_str().unwrap()
    );
    assert!(Checkpoint::open(&msg, &[monkeys]).is_err());
    let sum = VerifierKey::parse(vs[3]["vkey"].as_str().unwrap()).unwrap();
    let msg3 = format!(
        "{}\n{}",
        vs[3]["checkpoint_body"].as_str().unwrap(),
        vs[3]["signature_line"].as_str().unwrap()
    );
    // sum.golang.org predates the rule that the key name is the origin: the note
    // verifies, but as a C2SP checkpoint it is refused.
    assert!(note::open(&msg3, std::slice::from_ref(&sum)).is_ok());
    assert!(Checkpoint::open(&msg3, &[sum]).is_err());

    for c in v["checkpoint_body_marshal_vectors"]["vectors"]
        .as_array()
        .unwrap()
    {
        let body = format_body(
            c["origin"].as_str().unwrap(),
            c["size"].as_u64().unwrap(),
            c["hash_ascii"].as_str().unwrap().as_bytes(),
            &[],
        );
        assert_eq!(body, c["want"].as_str().unwrap());
    }
}

#[test]
fn checkpoint_parsing_refuses_malformed_bodies() {
    let root = "mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=";
    for bad in [
        format!("o\n01\n{root}\n"),
        format!("o\n-1\n{root}\n"),
        format!("\n1\n{root}\n"),
        format!("o\n1\n{root}"),
        "o\n1\nYmFuYW5hcw==\n".to_string(),
        format!("o\n1\n{root}\n\n"),
        "o\n1\n".to_string(),
    ] {
        assert!(Checkpoint::parse_body(&bad).is_err(), "{bad:?}");
    }
    let ok = Checkpoint::parse_body(&format!("o\n0\n{root}\next one\n")).unwrap();
    assert_eq!(ok.extensions, vec!["ext one".to_string()]);
}

#[test]
fn tile_structural_vectors() {
    let v = vectors();
    let vs = v["tlog_tiles_structural_vectors"]["vectors"]
        .as_array()
        .unwrap();
    assert_eq!(
        tiles::format_index(vs[0]["index"].as_u64().unwrap()),
        vs[0]["path_element"]
    );
    assert_eq!(tiles::tiles_at(70_000, 0), (273, 112));
    assert_eq!(tiles::tiles_at(70_000, 1), (1, 17));
    assert_eq!(tiles::tiles_at(70_000, 2), (0, 1));
    assert_eq!(tiles::tiles_at(256, 1), (0, 1));
    assert_eq!(tiles::TILE_WIDTH * 32, 8192);
}
