//! Times the reciprocity report over synthetic timelines (default 1,000,000).
//!
//!     cargo run --release -p detente-requests --example report_bench [-- COUNT]
//!
//! Building the timelines is not timed; the report is. Requests cycle through
//! every outcome (answered, partially answered, declined, withdrawn, pending)
//! with 3 to 6 events each, half outbound, half inbound, over two peers.

use chrono::{DateTime, TimeDelta, Utc};
use detente_domain::Origin;
use detente_requests::*;
use std::time::Instant;

fn main() {
    let count: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("COUNT must be a number"))
        .unwrap_or(1_000_000);
    let peer = Origin::parse("cert.b.example").unwrap();
    let other = Origin::parse("cert.c.example").unwrap();
    let base = detente_domain::time::parse("2020-01-01T00:00:00Z").unwrap();
    let now = detente_domain::time::parse("2022-01-01T00:00:00Z").unwrap();
    let policy = Policy::default();

    let t0 = Instant::now();
    let items: Vec<ReportItem> = (0..count)
        .map(|n| item(n, base, &policy, &peer, &other))
        .collect();
    let events: usize = items.iter().map(|i| i.timeline.events.len()).sum();
    eprintln!(
        "built {count} timelines ({events} events) in {:.2?}",
        t0.elapsed()
    );

    let period = Period {
        since: base,
        until: Some(base + TimeDelta::days(731)),
    };
    let t1 = Instant::now();
    let report = reciprocity_report(&items, &peer, period, now);
    let elapsed = t1.elapsed();
    let total = report.outbound.sent
        + report.inbound.sent
        + report.outbound.invalid
        + report.inbound.invalid;
    println!(
        "reciprocity report over {count} timelines ({events} events, {total} for the peer): {:.3} s",
        elapsed.as_secs_f64()
    );
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}

fn id_bytes(n: u64, k: u8) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&n.to_be_bytes());
    b[8] = k;
    b
}

fn item(n: u64, base: DateTime<Utc>, policy: &Policy, peer: &Origin, other: &Origin) -> ReportItem {
    let submitted_at = base + TimeDelta::seconds((n % 63_000_000) as i64);
    let ty = RequestType::ALL[(n % 7) as usize];
    let urgency = if ty == RequestType::EmergencyDisclosure {
        Urgency::Emergency
    } else {
        Urgency::Normal
    };
    let request_id = RequestId::from_bytes(id_bytes(n, 0xFF));
    let peer = if n % 10 == 9 { other } else { peer };
    // Empty strings do not allocate: the report never reads request text.
    let request = NewRequest {
        request_type: ty,
        incident_class: None,
        reference: String::new(),
        issuing_authority: String::new(),
        legal_basis: None,
        offence: None,
        facts: String::new(),
        data_requested: None,
        link_to_offence: None,
        urgency,
        emergency_justification: None,
        tlp: Tlp::Amber,
        custodian: None,
        necessity: None,
        follow_up_mla: None,
        related_requests: Vec::new(),
        attachments: Vec::new(),
        recipient: peer.clone(),
    };
    let mut events = Vec::with_capacity(6);
    let mut push = |k: u8, secs: i64, actor: Side, kind: EventKind| {
        events.push(TimedEvent {
            at: submitted_at + TimeDelta::seconds(secs),
            actor,
            event: Event {
                id: EventId::from_bytes(id_bytes(n, k)),
                request_id,
                kind,
            },
        })
    };
    push(
        0,
        0,
        Side::Sender,
        EventKind::Submitted {
            request: Box::new(request),
            deadlines: policy.deadline_for(ty, urgency, submitted_at),
        },
    );
    push(1, 30, Side::Recipient, EventKind::Delivered {});
    let r = n % 5;
    if r != 4 {
        push(
            2,
            600 + (n % 7_200) as i64,
            Side::Recipient,
            EventKind::Acknowledged {},
        );
    }
    let done = 86_400 + (n % 1_000_000) as i64;
    match r {
        0 => push(
            3,
            done,
            Side::Recipient,
            EventKind::Answered {
                note: None,
                attachments: Vec::new(),
            },
        ),
        1 => {
            push(
                3,
                done / 2,
                Side::Recipient,
                EventKind::PartiallyAnswered {
                    note: None,
                    attachments: Vec::new(),
                },
            );
            push(
                4,
                done,
                Side::Recipient,
                EventKind::Answered {
                    note: None,
                    attachments: Vec::new(),
                },
            );
            // A redelivered envelope: a replay, idempotent.
            push(
                4,
                done,
                Side::Recipient,
                EventKind::Answered {
                    note: None,
                    attachments: Vec::new(),
                },
            );
        }
        2 => {
            let ground = DeclineGround::ALL[(n % 9) as usize];
            let text = (ground == DeclineGround::Other).then(|| "outside our mandate".to_string());
            push(
                3,
                done,
                Side::Recipient,
                EventKind::Declined { ground, text },
            )
        }
        3 => push(
            3,
            done,
            Side::Recipient,
            EventKind::PartiallyAnswered {
                note: None,
                attachments: Vec::new(),
            },
        ),
        _ => push(3, done, Side::Sender, EventKind::Withdrawn { reason: None }),
    }
    ReportItem {
        direction: if n.is_multiple_of(2) {
            Direction::Outbound
        } else {
            Direction::Inbound
        },
        peer: peer.clone(),
        timeline: Timeline { events },
    }
}
