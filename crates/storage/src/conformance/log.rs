use super::*;
use detente_log::merkle::{self, CompactRange};
use tree::leaf_hash;

pub(super) const CHECKS: &[Check] = &[
    (
        "exchange_entries_are_found_by_digest_and_others_are_not",
        exchange_entries_are_found_by_digest_and_others_are_not,
    ),
    (
        "batches_land_at_the_committed_size_with_their_tree",
        batches_land_at_the_committed_size_with_their_tree,
    ),
    (
        "a_batch_that_does_not_fit_the_head_writes_nothing",
        a_batch_that_does_not_fit_the_head_writes_nothing,
    ),
    (
        "concurrent_integrations_are_serialised",
        concurrent_integrations_are_serialised,
    ),
];

/// A distinct entry for index `i`.
pub fn entry(i: u64) -> EntryRow {
    let mut digest = [0xEE; 32];
    digest[..8].copy_from_slice(&i.to_le_bytes());
    EntryRow { digest, ..row(i) }
}

/// Builds a batch of `rows` made by `make` at whatever size the store has,
/// with its tree nodes and a checkpoint note naming size and root.
fn batch(
    s: &dyn Store,
    size: u64,
    n: u64,
    make: &dyn Fn(u64) -> EntryRow,
) -> Result<Option<Integration>, StorageError> {
    let mut edge = CompactRange::load(&StoredTree(s), size)
        .map_err(|e| StorageError::Integrity(e.to_string()))?;
    let mut nodes = TreeNodes::default();
    let entries: Vec<EntryRow> = (size..size + n).map(make).collect();
    for e in &entries {
        edge.append(leaf_hash(&e.digest), |node| nodes.push(node));
    }
    let checkpoint = CheckpointRow {
        size: edge.size(),
        note: format!("{} {}", edge.size(), hex(&edge.root())),
    };
    Ok(Some(Integration {
        entries,
        nodes,
        checkpoint,
    }))
}

fn hex(h: &[u8]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// Appends `n` entries made by `make` (given each index); returns the new
/// size.
pub fn append(s: &dyn Store, n: u64, make: &dyn Fn(u64) -> EntryRow) -> u64 {
    let done = s.integrate(&mut |size| batch(s, size, n, make)).unwrap();
    done.unwrap().checkpoint.size
}

fn exchange_entries_are_found_by_digest_and_others_are_not(s: &dyn Store) {
    let request = |i: u64| EntryRow {
        kind: if i == 1 { "request.submitted" } else { "test" }.into(),
        ..row(i)
    };
    append(s, 2, &request);
    assert_eq!(s.exchange_entry(&[1; 32]).unwrap(), Some(1));
    assert_eq!(s.exchange_entry(&[0; 32]).unwrap(), None, "not a request");
    assert_eq!(s.exchange_entry(&[7; 32]).unwrap(), None);
    let found = s
        .exchange_entries(&[[0; 32], [1; 32], [7; 32], [1; 32]])
        .unwrap();
    assert_eq!(found.into_iter().collect::<Vec<_>>(), vec![([1; 32], 1)]);
    assert!(s.exchange_entries(&[]).unwrap().is_empty());

    assert!(s.repeated_exchange_entries(10).unwrap().is_empty());
    append(s, 1, &|i| EntryRow {
        kind: "request.submitted".into(),
        digest: [1; 32],
        ..row(i)
    });
    assert_eq!(
        s.repeated_exchange_entries(10).unwrap(),
        vec![([1; 32], vec![1, 2])]
    );
}

fn batches_land_at_the_committed_size_with_their_tree(s: &dyn Store) {
    assert_eq!(s.head().unwrap(), (0, None));
    // Sizes chosen to cross a 256-hash boundary in the middle of a batch.
    for n in [1, 300, 5, 250] {
        append(s, n, &entry);
    }
    let size = 556;
    let (count, cp) = s.head().unwrap();
    assert_eq!((count, cp.as_ref().map(|c| c.size)), (size, Some(size)));
    assert_eq!(s.entry(300).unwrap().unwrap(), entry(300));
    let digests = s.digests(0, size + 10).unwrap();
    assert_eq!(digests.len() as u64, size);
    // The stored tree is the tree of the stored digests, node for node.
    let mut edge = CompactRange::default();
    let mut want = std::collections::BTreeMap::<(u8, u64), Hash>::new();
    for d in &digests {
        edge.append(leaf_hash(d), |n| {
            want.insert((n.level, n.index), n.hash);
        });
    }
    for ((level, index), hash) in &want {
        assert_eq!(
            s.tree_nodes(*level, *index, 1).unwrap(),
            hash,
            "node {level}/{index}"
        );
    }
    let level0 = s.tree_nodes(0, 250, 20).unwrap();
    assert_eq!(level0.len(), 20 * 32);
    assert_eq!(level0[..32], leaf_hash(&digests[250]));
    assert!(s.tree_nodes(0, size, 1).is_err(), "beyond the tree");
    let root = merkle::root(&StoredTree(s), size).unwrap();
    assert_eq!(root, edge.root());
    assert_eq!(cp.unwrap().note, format!("{size} {}", hex(&root)));
    assert_eq!(
        s.repair_tree(size, &root).unwrap(),
        size,
        "nothing to repair"
    );
}

fn a_batch_that_does_not_fit_the_head_writes_nothing(s: &dyn Store) {
    append(s, 3, &entry);
    let stale = s.integrate(&mut |size| batch(s, size - 1, 2, &entry));
    assert!(stale.is_err(), "built for an older size");
    let none = s.integrate(&mut |_| Ok(None)).unwrap();
    assert!(none.is_none());
    let failed = s.integrate(&mut |_| Err(StorageError::Integrity("signing failed".into())));
    assert!(failed.is_err());
    assert_eq!(s.head().unwrap().0, 3);
    assert_eq!(s.latest_checkpoint().unwrap().unwrap().size, 3);
    assert_eq!(append(s, 1, &entry), 4, "the log goes on where it was");
}

fn concurrent_integrations_are_serialised(s: &dyn Store) {
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..25 {
                    append(s, 2, &entry);
                }
            });
        }
    });
    let mut sizes = Vec::new();
    s.scan_checkpoints(&mut |c| {
        sizes.push(c.size);
        Ok(())
    })
    .unwrap();
    assert_eq!(sizes, (1..=100).map(|i| i * 2).collect::<Vec<_>>());
    let digests = s.digests(0, 200).unwrap();
    assert_eq!(
        digests,
        (0..200).map(|i| entry(i).digest).collect::<Vec<_>>()
    );
    let mut edge = CompactRange::default();
    for d in &digests {
        edge.append(leaf_hash(d), |_| {});
    }
    assert_eq!(merkle::root(&StoredTree(s), 200).unwrap(), edge.root());
}
