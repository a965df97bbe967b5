use super::*;

pub(super) const CHECKS: &[Check] = &[(
    "exchange_entries_are_found_by_digest_and_others_are_not",
    exchange_entries_are_found_by_digest_and_others_are_not,
)];

fn exchange_entries_are_found_by_digest_and_others_are_not(s: &dyn Store) {
    let mut request = row(1);
    request.kind = "request.submitted".into();
    let cp = CheckpointRow {
        size: 2,
        note: "n2".into(),
    };
    s.append(&[row(0), request], &cp).unwrap();
    assert_eq!(s.exchange_entry(&[1; 32]).unwrap(), Some(1));
    assert_eq!(s.exchange_entry(&[0; 32]).unwrap(), None, "not a request");
    assert_eq!(s.exchange_entry(&[7; 32]).unwrap(), None);

    assert!(s.repeated_exchange_entries(10).unwrap().is_empty());
    let mut again = row(2);
    again.kind = "request.submitted".into();
    again.digest = [1; 32];
    s.append(
        &[again],
        &CheckpointRow {
            size: 3,
            note: "n3".into(),
        },
    )
    .unwrap();
    assert_eq!(
        s.repeated_exchange_entries(10).unwrap(),
        vec![([1; 32], vec![1, 2])]
    );
}
