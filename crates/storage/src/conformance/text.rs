//! Stored vocabularies a driver does not know are reported, not guessed.

use super::*;

/// Writes a request and a hold, then has `corrupt` run SQL (the same on
/// every backend) that stores, one column at a time, a value no variant
/// spells, as another program or a damaged file could; every read of the row
/// must then fail with `Integrity` naming the value. The driver's own test
/// supplies `corrupt`, lifting any CHECK constraint first.
pub fn unknown_stored_values_are_integrity_errors(s: &dyn Store, corrupt: &dyn Fn(&str)) {
    let (mut q, e) = exchange::request(1, Status::Declined, true);
    q.decline_ground = Some(DeclineGround::NeBisInIdem);
    s.record_event(&q, &e).unwrap();
    let integrity = |r: Result<(), StorageError>, value: &str, what: &str| match r {
        Err(StorageError::Integrity(m)) => assert!(m.contains(value), "{what}: {m}"),
        other => panic!("{what} with {value:?} stored: {other:?}"),
    };
    let columns = [
        ("direction", q.direction.as_text(), true),
        ("status", q.status.as_text(), true),
        ("type", q.kind.as_text(), false),
        ("urgency", q.urgency.as_text(), false),
        ("tlp", q.tlp.as_text(), false),
        ("decline_ground", DeclineGround::NeBisInIdem.as_text(), true),
    ];
    for (column, good, in_summary) in columns {
        let bad = format!("bogus_{column}");
        corrupt(&format!(
            "UPDATE requests SET {column} = '{bad}' WHERE id = '{}'",
            q.id
        ));
        integrity(s.request(&q.id).map(drop), &bad, "request");
        let all = RequestFilter::default();
        integrity(s.requests(&all).map(drop), &bad, "requests");
        if in_summary {
            integrity(s.scan_summaries(&mut |_| Ok(())), &bad, "scan_summaries");
            integrity(
                s.scan_peer_summaries(&q.peer, "2000-01-01T00:00:00.000000Z", &mut |_| Ok(())),
                &bad,
                "scan_peer_summaries",
            );
        }
        corrupt(&format!(
            "UPDATE requests SET {column} = '{good}' WHERE id = '{}'",
            q.id
        ));
        assert_eq!(
            s.request(&q.id).unwrap().as_ref(),
            Some(&q),
            "{column} restored"
        );
    }

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
        requested_by: None,
        payload: None,
        released_at: None,
    };
    s.hold(&h).unwrap();
    corrupt("UPDATE gate_holds SET status = 'Approved' WHERE id = 'h1'");
    integrity(s.holds(None).map(drop), "Approved", "holds");
    integrity(s.hold_by_id("h1").map(drop), "Approved", "hold_by_id");
    integrity(
        s.find_hold(&h.recipient, &h.subject).map(drop),
        "Approved",
        "find_hold",
    );
    // A filter on a known status does not read the row at all.
    assert!(s.holds(Some(HoldStatus::Held)).unwrap().is_empty());
}
