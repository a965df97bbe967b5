mod common;

use chrono::TimeDelta;
use common::*;
use detente_requests::report::nearest_rank;
use detente_requests::*;

#[test]
fn nearest_rank_percentiles() {
    let mut v: Vec<i64> = (1..=10).rev().collect();
    assert_eq!(nearest_rank(&mut v, 50), Some(5));
    assert_eq!(nearest_rank(&mut v, 90), Some(9));
    assert_eq!(nearest_rank(&mut v, 100), Some(10));
    assert_eq!(nearest_rank(&mut v, 1), Some(1));
    assert_eq!(nearest_rank(&mut [], 50), None);
    assert_eq!(nearest_rank(&mut [42], 90), Some(42));
    // n = 2: median is the lower value (rank ceil(1) = 1), p90 the upper (rank 2).
    assert_eq!(nearest_rank(&mut [7, 3], 50), Some(3));
    assert_eq!(nearest_rank(&mut [7, 3], 90), Some(7));
    // n = 11: p90 rank ceil(9.9) = 10.
    let mut w: Vec<i64> = (0..11).map(|x| x * 10).collect();
    assert_eq!(nearest_rank(&mut w, 90), Some(90));
    assert_eq!(nearest_rank(&mut w, 50), Some(50));
}

/// A hand-built mix with every outcome; the expected numbers are worked out in
/// the comments.
#[test]
fn report_counts_and_timings_by_hand() {
    let b = origin("cert.b.example");
    let c = origin("cert.c.example");
    let t0 = ts("2021-03-01T00:00:00Z");
    let now = ts("2021-04-01T00:00:00Z");
    let ty = RequestType::SubscriberInformation; // ack 2 d, answer 10 d
    let mut items = Vec::new();
    let out = Direction::Outbound;
    // 1: answered, ack after 100 s, answer after 1000 s.
    items.push(
        Tl::submit(1, ty, &b, t0)
            .delivered(10)
            .acknowledged(100)
            .answered(1000)
            .item(out, &b),
    );
    // 2: partial then answered, ack 300 s, answer 5000 s.
    items.push(
        Tl::submit(2, ty, &b, t0)
            .delivered(20)
            .acknowledged(300)
            .partial(400)
            .answered(5000)
            .item(out, &b),
    );
    // 3: declined, ack 50 s.
    items.push(
        Tl::submit(3, ty, &b, t0)
            .delivered(5)
            .acknowledged(50)
            .declined(60, DeclineGround::NoDualCriminality)
            .item(out, &b),
    );
    // 4: delivered only: pending, overdue and acknowledgement overdue at `now`.
    items.push(Tl::submit(4, ty, &b, t0).delivered(5).item(out, &b));
    // 5: withdrawn before delivery.
    items.push(Tl::submit(5, ty, &b, t0).withdrawn(30).item(out, &b));
    // 6: ack 200 s, partially answered: pending and overdue, ack not overdue.
    items.push(
        Tl::submit(6, ty, &b, t0)
            .delivered(5)
            .acknowledged(200)
            .partial(300)
            .item(out, &b),
    );
    // 7: answered 11 days after submission: late.
    items.push(
        Tl::submit(7, ty, &b, t0)
            .delivered(5)
            .acknowledged(400)
            .answered(11 * 86_400)
            .item(out, &b),
    );
    // Excluded: before the period, another peer, submitted after `now`.
    items.push(Tl::submit(8, ty, &b, ts("2021-02-28T23:59:59Z")).item(out, &b));
    items.push(Tl::submit(9, ty, &c, t0).item(out, &c));
    items.push(Tl::submit(10, ty, &b, now + TimeDelta::seconds(1)).item(out, &b));
    // Invalid: answered without acknowledgement.
    items.push(
        Tl::submit(11, ty, &b, t0)
            .delivered(5)
            .answered(10)
            .item(out, &b),
    );
    // 12: acknowledgement and answer after `now` are not yet known: delivered,
    // pending, overdue.
    items.push(
        Tl::submit(12, ty, &b, t0)
            .delivered(5)
            .acknowledged(40 * 86_400)
            .answered(40 * 86_400 + 10)
            .item(out, &b),
    );
    // Inbound: one answered in 60 s, acknowledged in 30 s, on time.
    items.push(
        Tl::submit(13, ty, &b, t0)
            .delivered(1)
            .acknowledged(30)
            .answered(60)
            .item(Direction::Inbound, &b),
    );

    let period = Period {
        since: ts("2021-03-01T00:00:00Z"),
        until: Some(ts("2021-04-01T00:00:00Z")),
    };
    let r = reciprocity_report(&items, &b, period, now);
    let o = &r.outbound;
    // In period for b, outbound: 1-7, 12 = 8 (11 is invalid, 8/9/10 excluded).
    assert_eq!(o.sent, 8);
    assert_eq!(o.invalid, 1);
    assert_eq!(o.delivered, 7); // all but 5
    assert_eq!(o.acknowledged, 5); // 1, 2, 3, 6, 7
    assert_eq!(o.answered, 3); // 1, 2, 7
    assert_eq!(o.partially_answered, 1); // 6
    assert_eq!(o.declined, 1);
    assert_eq!(o.withdrawn, 1);
    assert_eq!(o.pending, 3); // 4, 6, 12
    assert_eq!(o.overdue, 3); // all pending, deadline 2021-03-11
    assert_eq!(o.acknowledgement_overdue, 2); // 4, 12
    assert_eq!(o.answered_late, 1); // 7
    assert_eq!(o.declined_by_ground[&DeclineGround::NoDualCriminality], 1);
    assert_eq!(o.declined_by_ground.values().sum::<u64>(), 1);
    assert_eq!(o.declined_by_ground.len(), 9);
    // Ack samples: 100, 300, 50, 200, 400 -> sorted 50 100 200 300 400;
    // median rank ceil(2.5) = 3 -> 200; p90 rank ceil(4.5) = 5 -> 400.
    assert_eq!(
        o.time_to_acknowledge,
        DurationStats {
            samples: 5,
            median_seconds: Some(200),
            p90_seconds: Some(400)
        }
    );
    // Answer samples: 1000, 5000, 950400 -> median rank 2 -> 5000; p90 rank 3.
    assert_eq!(
        o.time_to_answer,
        DurationStats {
            samples: 3,
            median_seconds: Some(5000),
            p90_seconds: Some(950_400)
        }
    );
    assert_eq!(o.sent, o.answered + o.declined + o.withdrawn + o.pending);
    let i = &r.inbound;
    assert_eq!(
        (
            i.sent,
            i.delivered,
            i.acknowledged,
            i.answered,
            i.pending,
            i.overdue
        ),
        (1, 1, 1, 1, 0, 0)
    );
    assert_eq!(i.time_to_answer.median_seconds, Some(60));
    assert_eq!(i.time_to_acknowledge.p90_seconds, Some(30));

    // The other peer's report sees only request 9.
    let rc = reciprocity_report(&items, &c, period, now);
    assert_eq!(
        (rc.outbound.sent, rc.outbound.overdue, rc.inbound.sent),
        (1, 1, 0)
    );

    // Open-ended period includes request 10? No: it was submitted after `now`.
    let open = Period {
        since: period.since,
        until: None,
    };
    assert_eq!(reciprocity_report(&items, &b, open, now).outbound.sent, 8);
    // At a later `now`, request 10 and 12's answer are known.
    let later = now + TimeDelta::days(60);
    let rl = reciprocity_report(&items, &b, open, later);
    assert_eq!(rl.outbound.sent, 9);
    assert_eq!(rl.outbound.answered, 4);
    assert_eq!(rl.outbound.acknowledged, 6);
    assert_eq!(rl.outbound.invalid, 1);
}

#[test]
fn empty_report_has_nulls_and_a_stable_json_shape() {
    let b = origin("cert.b.example");
    let period = Period {
        since: ts("2020-01-01T00:00:00Z"),
        until: None,
    };
    let r = reciprocity_report(&[], &b, period, ts("2021-06-16T12:00:00Z"));
    let v = serde_json::to_value(&r).unwrap();
    let grounds: serde_json::Value = DeclineGround::ALL
        .iter()
        .map(|g| {
            (
                serde_json::to_value(g)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string(),
                serde_json::json!(0),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into();
    let empty = serde_json::json!({
        "sent": 0, "delivered": 0, "acknowledged": 0, "answered": 0, "partially_answered": 0,
        "declined": 0, "withdrawn": 0, "pending": 0, "overdue": 0, "acknowledgement_overdue": 0,
        "answered_late": 0, "declined_by_ground": grounds,
        "time_to_acknowledge": {"samples": 0, "median_seconds": null, "p90_seconds": null},
        "time_to_answer": {"samples": 0, "median_seconds": null, "p90_seconds": null},
        "invalid": 0
    });
    assert_eq!(
        v,
        serde_json::json!({
            "peer": "cert.b.example",
            "period": {"since": "2020-01-01T00:00:00.000000Z", "until": null},
            "now": "2021-06-16T12:00:00.000000Z",
            "outbound": empty.clone(),
            "inbound": empty
        })
    );
}

#[test]
fn empty_timelines_count_as_invalid() {
    let b = origin("cert.b.example");
    let items = vec![ReportItem {
        direction: Direction::Inbound,
        peer: b.clone(),
        timeline: Timeline::default(),
    }];
    let period = Period {
        since: ts("2020-01-01T00:00:00Z"),
        until: None,
    };
    let r = reciprocity_report(&items, &b, period, ts("2021-01-01T00:00:00Z"));
    assert_eq!((r.inbound.invalid, r.inbound.sent), (1, 0));
}

/// The 2021 summit dispute: A sent B 80 requests (45 in 2020, 35 in 2021), none
/// answered; B sent A 12 (10 in 2020, 2 in 2021), all answered.
#[test]
fn demo_scenario_80_unanswered_against_12_answered() {
    let a = origin("cert.a.example");
    let b = origin("cert.b.example");
    // Types whose answer deadline (10 days, or 8 hours) has passed for every
    // request by the summit; a preservation request from May 2021 would still be
    // within its 60 days.
    let types = [
        RequestType::SubscriberInformation,
        RequestType::TrafficData,
        RequestType::ContentData,
        RequestType::EmergencyDisclosure,
    ];
    let mut a_to_b = Vec::new();
    let mut n = 0u64;
    let mut add_a = |year: i32, count: usize, out: &mut Vec<Tl>| {
        for k in 0..count {
            n += 1;
            // Spread over January to May so every deadline passed by mid-June 2021.
            let at = ts(&format!(
                "{year}-{:02}-{:02}T09:00:00Z",
                1 + k % 5,
                1 + k % 28
            ));
            let ty = types[k % types.len()];
            let mut tl = Tl::submit(n, ty, &b, at);
            tl.delivered(60);
            out.push(tl);
        }
    };
    add_a(2020, 45, &mut a_to_b);
    add_a(2021, 35, &mut a_to_b);
    let mut b_to_a = Vec::new();
    for (i, year) in [2020; 10].into_iter().chain([2021; 2]).enumerate() {
        let at = ts(&format!("{year}-03-{:02}T09:00:00Z", 1 + i));
        let mut tl = Tl::submit(1000 + i as u64, RequestType::SubscriberInformation, &a, at);
        tl.delivered(60)
            .acknowledged(600 * (i as i64 + 1))
            .answered(43_200 * (i as i64 + 1));
        b_to_a.push(tl);
    }
    // A's view: peer B.
    let items_a: Vec<ReportItem> = a_to_b
        .iter()
        .map(|t| t.item(Direction::Outbound, &b))
        .chain(b_to_a.iter().map(|t| t.item(Direction::Inbound, &b)))
        .collect();
    // B's view of the same envelopes: peer A, directions swapped.
    let items_b: Vec<ReportItem> = a_to_b
        .iter()
        .map(|t| t.item(Direction::Inbound, &a))
        .chain(b_to_a.iter().map(|t| t.item(Direction::Outbound, &a)))
        .collect();
    let summit = ts("2021-06-16T12:00:00Z");
    let year = |y: i32| Period {
        since: ts(&format!("{y}-01-01T00:00:00Z")),
        until: Some(ts(&format!("{}-01-01T00:00:00Z", y + 1))),
    };
    let both = Period {
        since: ts("2020-01-01T00:00:00Z"),
        until: None,
    };
    for (period, sent_a, sent_b) in [(year(2020), 45, 10), (year(2021), 35, 2), (both, 80, 12)] {
        let r = reciprocity_report(&items_a, &b, period, summit);
        let o = &r.outbound;
        assert_eq!(o.sent, sent_a);
        assert_eq!(o.delivered, sent_a);
        assert_eq!(
            (
                o.acknowledged,
                o.answered,
                o.partially_answered,
                o.declined,
                o.withdrawn
            ),
            (0, 0, 0, 0, 0)
        );
        assert_eq!(o.pending, sent_a);
        assert_eq!(o.overdue, sent_a);
        assert_eq!(o.acknowledgement_overdue, sent_a);
        assert_eq!(o.time_to_answer, DurationStats::default());
        let i = &r.inbound;
        assert_eq!(i.sent, sent_b);
        assert_eq!(
            (i.delivered, i.acknowledged, i.answered),
            (sent_b, sent_b, sent_b)
        );
        assert_eq!(
            (i.pending, i.overdue, i.declined, i.answered_late),
            (0, 0, 0, 0)
        );
        assert_eq!((o.invalid, i.invalid), (0, 0));
        // Both sides compute the same numbers from the same envelopes.
        let rb = reciprocity_report(&items_b, &a, period, summit);
        assert_eq!(rb.outbound, r.inbound);
        assert_eq!(rb.inbound, r.outbound);
    }
    // Timing of A's answers over both years: after 1..=12 half-days, all within
    // the 10-day clock; median rank 6 -> 3 days, p90 rank ceil(10.8) = 11 -> 5.5
    // days. Acknowledgements after 1..=12 times 10 minutes: median 1 hour.
    let r = reciprocity_report(&items_a, &b, both, summit);
    assert_eq!(
        r.inbound.time_to_answer,
        DurationStats {
            samples: 12,
            median_seconds: Some(6 * 43_200),
            p90_seconds: Some(11 * 43_200)
        }
    );
    assert_eq!(r.inbound.time_to_acknowledge.median_seconds, Some(3_600));
    // Every timeline is valid under full content validation too.
    for t in a_to_b.iter().chain(&b_to_a) {
        t.timeline.validate(&Limits::default()).unwrap();
    }
}
