use super::*;

pub(super) const CHECKS: &[Check] = &[
    (
        "claimed_deliveries_are_leased_where_replicas_share_the_store",
        claimed_deliveries_are_leased_where_replicas_share_the_store,
    ),
    (
        "request_listing_filters_and_pages_by_keyset",
        request_listing_filters_and_pages_by_keyset,
    ),
    (
        "troubled_outbox_lists_failed_and_refused_not_delivered",
        troubled_outbox_lists_failed_and_refused_not_delivered,
    ),
    (
        "peer_deliveries_keep_the_last_error_after_a_success_and_count_per_peer",
        peer_deliveries_keep_the_last_error_after_a_success_and_count_per_peer,
    ),
    (
        "one_peers_summaries_are_read_from_a_date_on",
        one_peers_summaries_are_read_from_a_date_on,
    ),
    (
        "a_failing_write_leaves_the_others_committed_with_it_in",
        a_failing_write_leaves_the_others_committed_with_it_in,
    ),
];

/// Writes submitted together may share one commit (group commit); one that
/// fails must fail alone, and none of its own statements may stay in.
fn a_failing_write_leaves_the_others_committed_with_it_in(s: &dyn Store) {
    let (first, e1) = request(21, Status::Submitted, false);
    s.write(vec![ExchangeWrite::RecordEvent(
        Box::new(first.clone()),
        Box::new(e1.clone()),
    )])
    .blocking_recv()
    .unwrap()
    .unwrap();
    let (before, e2) = request(22, Status::Submitted, false);
    let (after, e3) = request(23, Status::Submitted, false);
    let mut failing = first.clone();
    failing.status = Status::Acknowledged;
    // The same event again: refused, taking the status change with it.
    let pending = [
        s.write(vec![ExchangeWrite::RecordEvent(
            Box::new(before.clone()),
            Box::new(e2),
        )]),
        s.write(vec![ExchangeWrite::RecordEvent(
            Box::new(failing),
            Box::new(e1),
        )]),
        s.write(vec![ExchangeWrite::RecordEvent(
            Box::new(after.clone()),
            Box::new(e3),
        )]),
    ];
    let outcomes: Vec<bool> = pending
        .into_iter()
        .map(|done| done.blocking_recv().unwrap().is_ok())
        .collect();
    assert_eq!(outcomes, [true, false, true]);
    assert_eq!(s.request(&before.id).unwrap(), Some(before));
    assert_eq!(s.request(&after.id).unwrap(), Some(after));
    assert_eq!(
        s.request(&first.id).unwrap().unwrap().status,
        Status::Submitted
    );
    assert_eq!(s.events(&first.id).unwrap().len(), 1);
}

fn request_listing_filters_and_pages_by_keyset(s: &dyn Store) {
    for i in 0..10 {
        let (r, e) = request(
            i,
            if i < 8 {
                Status::Delivered
            } else {
                Status::Answered
            },
            i >= 8,
        );
        s.record_event(&r, &e).unwrap();
    }
    let mut f = RequestFilter {
        order: RequestOrder::Newest,
        limit: Some(4),
        ..Default::default()
    };
    let page1 = s.requests(&f).unwrap();
    assert_eq!(ids(&page1), ["r09", "r08", "r07", "r06"]);
    let last = page1.last().unwrap();
    f.after = Some((f.order.key(last).to_string(), last.id.clone()));
    assert_eq!(ids(&s.requests(&f).unwrap()), ["r05", "r04", "r03", "r02"]);

    let by_deadline = RequestFilter {
        order: RequestOrder::Deadline,
        open: true,
        limit: Some(3),
        ..Default::default()
    };
    assert_eq!(
        ids(&s.requests(&by_deadline).unwrap()),
        ["r07", "r06", "r05"]
    );

    let overdue = RequestFilter {
        overdue_at: Some("2026-02-23T00:00:00.000000Z".into()),
        ..Default::default()
    };
    // Deadlines before Feb 23 belong to r06..r09; r08 and r09 are closed.
    assert_eq!(ids(&s.requests(&overdue).unwrap()), ["r06", "r07"]);

    let text = RequestFilter {
        text: Some("case-0".into()),
        kind: Some(RequestType::Preservation),
        ..Default::default()
    };
    assert_eq!(
        ids(&s.requests(&text).unwrap()),
        ["r00", "r03", "r06", "r09"]
    );
    // The facts are searched too, case-blind, quotes taken literally.
    let facts = |t: &str| {
        let f = RequestFilter {
            text: Some(t.into()),
            ..Default::default()
        };
        let mut v: Vec<String> = ids(&s.requests(&f).unwrap())
            .iter()
            .map(|x| x.to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(facts("PLANT 07"), ["r07"]);
    assert_eq!(facts("\"wire\" fraud of 3 "), ["r03"]);
    assert!(facts("plant 7,").is_empty());
    // Shorter than a trigram: the reference alone.
    assert_eq!(facts("-0").len(), 10);
    assert!(facts("EU").is_empty());
    for literal in ["%", "_", "case\\"] {
        let f = RequestFilter {
            text: Some(literal.into()),
            ..Default::default()
        };
        assert!(
            s.requests(&f).unwrap().is_empty(),
            "{literal} is not a pattern"
        );
    }
}

fn troubled_outbox_lists_failed_and_refused_not_delivered(s: &dyn Store) {
    let row = |b: u8| OutboxRow {
        digest: [b; 32],
        peer: "peer.example".into(),
        request_id: "r".into(),
        envelope: vec![],
        created: format!("2026-01-01T00:00:0{b}.000000Z"),
        attempts: 0,
        next_attempt: "2026-01-01T00:00:00.000000Z".into(),
        last_error: None,
        delivered_at: None,
        refused_at: None,
    };
    for b in 1..=4 {
        s.outbox_add(&row(b)).unwrap();
    }
    let at = "2026-01-02T00:00:00.000000Z";
    s.outbox_failed(&[2; 32], at, "connection refused").unwrap();
    s.outbox_failed(&[3; 32], at, "timeout").unwrap();
    s.outbox_delivered(&[3; 32], at).unwrap();
    s.write(vec![ExchangeWrite::OutboxRefused {
        digest: [4; 32],
        at: at.into(),
        error: "409".into(),
    }])
    .blocking_recv()
    .unwrap()
    .unwrap();
    let got: Vec<u8> = s
        .outbox_troubled(10)
        .unwrap()
        .iter()
        .map(|o| o.digest[0])
        .collect();
    assert_eq!(got, [4, 2]);
    assert_eq!(s.outbox_troubled(1).unwrap().len(), 1);
}
fn peer_deliveries_keep_the_last_error_after_a_success_and_count_per_peer(s: &dyn Store) {
    let row = |b: u8, peer: &str| OutboxRow {
        digest: [b; 32],
        peer: peer.into(),
        request_id: format!("r{b}"),
        envelope: vec![],
        created: format!("2026-01-01T00:00:0{b}.000000Z"),
        attempts: 0,
        next_attempt: "2026-01-01T00:00:00.000000Z".into(),
        last_error: None,
        delivered_at: None,
        refused_at: None,
    };
    for (b, p) in [(1, "a.example"), (2, "a.example"), (3, "b.example")] {
        s.outbox_add(&row(b, p)).unwrap();
    }
    let contact = |at: &str, delivered: bool, error: Option<&str>| ExchangeWrite::PeerContact {
        peer: "a.example".into(),
        at: at.into(),
        delivered,
        error: error.map(str::to_string),
    };
    let write = |w: Vec<ExchangeWrite>| s.write(w).blocking_recv().unwrap().unwrap();
    write(vec![
        contact("2026-01-02T00:00:00.000000Z", false, Some("503: busy")),
        ExchangeWrite::OutboxRefused {
            digest: [2; 32],
            at: "2026-01-02T00:00:00.000000Z".into(),
            error: "422: bad".into(),
        },
    ]);
    write(vec![contact("2026-01-03T00:00:00.000000Z", true, None)]);
    let got = s.peer_deliveries().unwrap();
    assert_eq!(got.len(), 2, "{got:?}");
    let a = &got[0];
    assert_eq!((a.peer.as_str(), a.queued, a.refused), ("a.example", 1, 1));
    assert_eq!(
        a.delivered_at.as_deref(),
        Some("2026-01-03T00:00:00.000000Z")
    );
    assert_eq!(
        a.error.as_deref(),
        Some("503: busy"),
        "kept after the success"
    );
    assert_eq!(a.error_at.as_deref(), Some("2026-01-02T00:00:00.000000Z"));
    let b = &got[1];
    assert_eq!((b.peer.as_str(), b.queued, b.refused), ("b.example", 1, 0));
    assert_eq!(b.delivered_at, None);
}

fn one_peers_summaries_are_read_from_a_date_on(s: &dyn Store) {
    for i in 0..6 {
        let (mut q, mut e) = request(i, Status::Delivered, false);
        if i % 2 == 1 {
            q.peer = "other.example".into();
            e.actor = q.peer.clone();
        }
        s.record_event(&q, &e).unwrap();
    }
    let mut seen = Vec::new();
    s.scan_peer_summaries("peer.example", "2026-01-03T00:00:00.000000Z", &mut |r| {
        seen.push((r.peer, r.submitted_at));
        Ok(())
    })
    .unwrap();
    seen.sort();
    let want: Vec<_> = [3, 5]
        .map(|d| {
            (
                "peer.example".to_string(),
                format!("2026-01-0{d}T00:00:00.000000Z"),
            )
        })
        .into();
    assert_eq!(seen, want);
}

pub(super) fn request(i: u32, status: Status, closed: bool) -> (RequestRow, EventRow) {
    let id = format!("r{i:02}");
    let req = RequestRow {
        id: id.clone(),
        direction: if i.is_multiple_of(2) {
            Direction::Inbound
        } else {
            Direction::Outbound
        },
        peer: "peer.example".into(),
        kind: if i.is_multiple_of(3) {
            RequestType::Preservation
        } else {
            RequestType::Consultation
        },
        urgency: Urgency::Normal,
        tlp: Tlp::Amber,
        reference: format!("Case-{i:02}"),
        status,
        // Submission order is the opposite of deadline order.
        submitted_at: format!("2026-01-{:02}T00:00:00.000000Z", i + 1),
        acknowledge_by: "2026-03-01T00:00:00.000000Z".into(),
        answer_by: format!("2026-02-{:02}T00:00:00.000000Z", 28 - i),
        acknowledged_at: None,
        closed_at: closed.then(|| "2026-01-30T00:00:00.000000Z".into()),
        updated_at: "2026-01-30T00:00:00.000000Z".into(),
        delivered_at: None,
        decline_ground: None,
    };
    let ev = EventRow {
        request_id: id.clone(),
        seq: 0,
        event_id: format!("e{i:02}"),
        actor: "peer.example".into(),
        kind: "submitted".into(),
        at: req.submitted_at.clone(),
        log_index: i as u64,
        envelope: serde_json::to_vec(&serde_json::json!({"payload": {"event": {"kind": {
            "type": "submitted",
            "request": {"facts": format!("Ransomware at plant {i:02}, \"wire\" fraud of {i} EUR")}
        }}}}))
        .unwrap(),
        receipt: None,
    };
    (req, ev)
}

pub(super) fn ids(rows: &[RequestRow]) -> Vec<&str> {
    rows.iter().map(|r| r.id.as_str()).collect()
}

fn claimed_deliveries_are_leased_where_replicas_share_the_store(s: &dyn Store) {
    let row = |b: u8, request: &str| OutboxRow {
        digest: [b; 32],
        peer: "peer.example".into(),
        request_id: request.into(),
        envelope: vec![b],
        created: format!("2026-01-01T00:00:0{b}.000000Z"),
        attempts: 0,
        next_attempt: "2026-01-01T00:00:00.000000Z".into(),
        last_error: None,
        delivered_at: None,
        refused_at: None,
    };
    for (b, request) in [(1, "r1"), (2, "r1"), (3, "r2")] {
        s.outbox_add(&row(b, request)).unwrap();
    }
    let now = "2026-01-02T00:00:00.000000Z";
    let lease = "2026-01-02T00:01:00.000000Z";
    let digests = |rows: Vec<OutboxRow>| rows.iter().map(|r| r.digest[0]).collect::<Vec<_>>();
    // The second envelope of r1 waits for the first.
    assert_eq!(digests(s.outbox_claim(now, lease, 10).unwrap()), [1, 3]);
    let again = digests(s.outbox_claim(now, lease, 10).unwrap());
    if s.shared() {
        assert!(
            again.is_empty(),
            "leased rows are not claimed twice: {again:?}"
        );
        let later = "2026-01-02T00:02:00.000000Z";
        let after_lease = digests(
            s.outbox_claim(later, "2026-01-02T00:03:00.000000Z", 10)
                .unwrap(),
        );
        assert_eq!(after_lease, [1, 3], "a lapsed lease frees the row");
    } else {
        assert_eq!(again, [1, 3], "one process tracks its own deliveries");
    }
    s.outbox_delivered(&[1; 32], now).unwrap();
    let next = digests(
        s.outbox_claim(
            "2026-01-03T00:00:00.000000Z",
            "2026-01-03T00:01:00.000000Z",
            10,
        )
        .unwrap(),
    );
    assert_eq!(next, [2, 3]);
}
