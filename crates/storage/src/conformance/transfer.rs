use super::*;

pub(super) const CHECKS: &[Check] = &[
    (
        "volumes_aggregate_by_recipient_category_and_time",
        volumes_aggregate_by_recipient_category_and_time,
    ),
    (
        "holds_are_unique_per_subject_and_resolved_once",
        holds_are_unique_per_subject_and_resolved_once,
    ),
    (
        "the_first_decision_on_a_payload_stands",
        the_first_decision_on_a_payload_stands,
    ),
    (
        "the_last_cosignature_of_a_witness_is_its_largest_size",
        the_last_cosignature_of_a_witness_is_its_largest_size,
    ),
];

fn volumes_aggregate_by_recipient_category_and_time(s: &dyn Store) {
    s.record_volume("peer.example", "health", 600, "2025-01-01T00:00:00.000000Z")
        .unwrap();
    s.record_volume("peer.example", "health", 500, "2026-06-01T00:00:00.000000Z")
        .unwrap();
    s.record_volume("other.example", "health", 9, "2026-06-01T00:00:00.000000Z")
        .unwrap();
    assert_eq!(
        s.prior_volume("peer.example", "health", "2025-11-29T00:00:00.000000Z")
            .unwrap(),
        500
    );
    assert_eq!(
        s.prior_volume("peer.example", "health", "2024-01-01T00:00:00.000000Z")
            .unwrap(),
        1100
    );
    assert_eq!(
        s.prior_volume("peer.example", "financial", "2024-01-01T00:00:00.000000Z")
            .unwrap(),
        0
    );
}

fn holds_are_unique_per_subject_and_resolved_once(s: &dyn Store) {
    let h = HoldRow {
        id: "h1".into(),
        recipient: "peer.example".into(),
        country: "RU".into(),
        subject: "taxii:x".into(),
        decision: "{}".into(),
        status: HoldStatus::Held,
        created: "2026-01-01T00:00:00.000000Z".into(),
        resolved_by: None,
        reason: None,
        requested_by: Some("officer".into()),
        payload: Some("{\"event\": {}}".into()),
        released_at: None,
    };
    assert_eq!(s.hold(&h).unwrap().id, "h1");
    let again = HoldRow {
        id: "h2".into(),
        ..h.clone()
    };
    assert_eq!(s.hold(&again).unwrap().id, "h1");
    assert_eq!(s.holds(Some(HoldStatus::Held)).unwrap().len(), 1);
    let done = s
        .resolve_hold("h1", HoldStatus::Approved, "rev", "MLA basis checked")
        .unwrap()
        .unwrap();
    assert_eq!(done.status, HoldStatus::Approved);
    assert_eq!(done.requested_by.as_deref(), Some("officer"));
    assert!(s
        .resolve_hold("h1", HoldStatus::Rejected, "rev", "")
        .unwrap()
        .is_none());
    assert!(s.holds(Some(HoldStatus::Held)).unwrap().is_empty());
    // An approved payload is released once.
    assert!(s.release_hold("h1", "2026-01-02T00:00:00.000000Z").unwrap());
    assert!(!s.release_hold("h1", "2026-01-03T00:00:00.000000Z").unwrap());
    let released = s.hold_by_id("h1").unwrap().unwrap();
    assert_eq!(
        released.released_at.as_deref(),
        Some("2026-01-02T00:00:00.000000Z")
    );
}

fn the_first_decision_on_a_payload_stands(s: &dyn Store) {
    assert_eq!(s.decision("peer.example", "stix:x@1").unwrap(), None);
    let t1 = "2026-01-01T00:00:00.000000Z";
    let s1 = "stix:x@1";
    s.commit_transfer("peer.example", s1, Some("allow"), &[("financial", 7)], t1)
        .unwrap();
    s.commit_transfer("peer.example", s1, Some("block"), &[], t1)
        .unwrap();
    assert_eq!(s.prior_volume("peer.example", "financial", t1).unwrap(), 7);
    assert_eq!(
        s.decision("peer.example", "stix:x@1").unwrap().as_deref(),
        Some("allow")
    );
    assert_eq!(s.decision("other.example", "stix:x@1").unwrap(), None);
}

fn the_last_cosignature_of_a_witness_is_its_largest_size(s: &dyn Store) {
    assert_eq!(s.last_cosignature("w.example").unwrap(), None);
    s.add_cosignature("w.example", 5, "l5", 500).unwrap();
    s.add_cosignature("w.example", 9, "l9", 900).unwrap();
    s.add_cosignature("x.example", 12, "x", 1200).unwrap();
    assert_eq!(s.last_cosignature("w.example").unwrap(), Some((9, 900)));
}
