use super::*;
use crate::witness::*;

pub(super) const CHECKS: &[Check] = &[
    (
        "the_witnessed_checkpoint_changes_only_from_what_was_expected",
        the_witnessed_checkpoint_changes_only_from_what_was_expected,
    ),
    (
        "the_witnessed_checkpoint_never_rolls_back",
        the_witnessed_checkpoint_never_rolls_back,
    ),
    (
        "witness_conflicts_are_kept_once_and_read_back_in_order",
        witness_conflicts_are_kept_once_and_read_back_in_order,
    ),
];

fn record(origin: &str, size: u64, root: u8) -> Cosigned {
    Cosigned {
        origin: origin.into(),
        size,
        root: [root; 32],
        note: format!("{origin}\n{size}\nnote\n"),
        cosigned_at: 1_700_000_000 + size,
    }
}

fn the_witnessed_checkpoint_changes_only_from_what_was_expected(s: &dyn Store) {
    let log = "log.example";
    assert_eq!(s.witnessed(log).unwrap(), None);
    assert!(!s
        .swap_witnessed(Some((0, [0; 32])), &record(log, 3, 1))
        .unwrap());
    assert_eq!(
        s.witnessed(log).unwrap(),
        None,
        "expected a record there was not"
    );
    assert!(s.swap_witnessed(None, &record(log, 3, 1)).unwrap());
    // A writer that still believes there is no record loses.
    assert!(!s.swap_witnessed(None, &record(log, 5, 2)).unwrap());
    // So does one expecting the right size with another root.
    assert!(!s
        .swap_witnessed(Some((3, [9; 32])), &record(log, 5, 2))
        .unwrap());
    assert_eq!(s.witnessed(log).unwrap(), Some(record(log, 3, 1)));
    assert!(s
        .swap_witnessed(Some((3, [1; 32])), &record(log, 5, 2))
        .unwrap());
    assert_eq!(s.witnessed(log).unwrap(), Some(record(log, 5, 2)));
    // Each log has its own record.
    assert_eq!(s.witnessed("other.example").unwrap(), None);
    assert!(s
        .swap_witnessed(None, &record("other.example", 1, 7))
        .unwrap());
    assert_eq!(s.witnessed(log).unwrap(), Some(record(log, 5, 2)));
}

fn the_witnessed_checkpoint_never_rolls_back(s: &dyn Store) {
    let log = "log.example";
    assert!(s.swap_witnessed(None, &record(log, 5, 2)).unwrap());
    let back = s.swap_witnessed(Some((5, [2; 32])), &record(log, 4, 3));
    assert!(matches!(back, Err(StorageError::Conflict(_))), "{back:?}");
    assert_eq!(s.witnessed(log).unwrap(), Some(record(log, 5, 2)));
    // The same size again (a fresh timestamp) is not a rollback.
    let same = Cosigned {
        cosigned_at: 1,
        ..record(log, 5, 2)
    };
    assert!(s.swap_witnessed(Some((5, [2; 32])), &same).unwrap());
    assert_eq!(s.witnessed(log).unwrap(), Some(same));
}

fn witness_conflicts_are_kept_once_and_read_back_in_order(s: &dyn Store) {
    assert!(s.witness_conflicts().unwrap().is_empty());
    let c = Conflict {
        id: 0,
        origin: "log.example".into(),
        kind: ConflictKind::Inconsistent,
        cosigned_note: "a".into(),
        submitted_note: "b".into(),
        old_size: 4,
        proof: vec![[7; 32], [8; 32]],
        detected_at: 1_700_000_001,
    };
    assert!(s.record_witness_conflict(&c).unwrap());
    // The same evidence again, even detected later, raises no new alert.
    let replayed = Conflict {
        detected_at: 1_700_000_009,
        ..c.clone()
    };
    assert!(!s.record_witness_conflict(&replayed).unwrap());
    let fork = Conflict {
        kind: ConflictKind::Fork,
        proof: vec![],
        ..c.clone()
    };
    assert!(s.record_witness_conflict(&fork).unwrap());
    let got = s.witness_conflicts().unwrap();
    let unnumbered: Vec<Conflict> = got
        .iter()
        .map(|g| Conflict { id: 0, ..g.clone() })
        .collect();
    assert_eq!(unnumbered, [c, fork]);
    assert!(got[0].id > 0 && got[0].id < got[1].id, "{got:?}");
}
