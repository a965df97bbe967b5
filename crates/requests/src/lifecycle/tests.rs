use super::*;
use crate::request::tests::sample;
use crate::types::IncidentClass;
use chrono::TimeDelta;
use std::cell::Cell;

fn t(secs: i64) -> DateTime<Utc> {
    detente_domain::time::parse("2021-01-01T00:00:00Z").unwrap() + TimeDelta::seconds(secs)
}

const DAY: i64 = 86_400;

fn rid() -> RequestId {
    RequestId::from_bytes([0xAA; 16])
}

thread_local!(static NEXT: Cell<u8> = const { Cell::new(1) });

fn eid() -> EventId {
    NEXT.with(|n| {
        let v = n.get();
        n.set(v.wrapping_add(1));
        EventId::from_bytes([v; 16])
    })
}

fn ev(kind: EventKind) -> Event {
    Event {
        id: eid(),
        request_id: rid(),
        kind,
    }
}

fn submitted() -> Event {
    ev(EventKind::Submitted {
        request: Box::new(sample(RequestType::TrafficData)),
        deadlines: Deadlines {
            acknowledge_by: t(2 * DAY),
            answer_by: t(10 * DAY),
        },
    })
}

fn open() -> RequestState {
    RequestState::open(&submitted(), Side::Sender, t(0)).unwrap()
}

fn answered() -> EventKind {
    EventKind::Answered {
        note: Some("Records attached".into()),
        attachments: vec![],
    }
}

fn partial() -> EventKind {
    EventKind::PartiallyAnswered {
        note: None,
        attachments: vec![],
    }
}

fn declined(g: DeclineGround) -> EventKind {
    EventKind::Declined {
        ground: g,
        text: Some("see ground".into()),
    }
}

fn message(text: &str, proposed: Option<DateTime<Utc>>) -> EventKind {
    EventKind::Message {
        text: text.into(),
        attachments: vec![],
        proposed_answer_by: proposed,
    }
}

fn step(
    s: &RequestState,
    kind: EventKind,
    actor: Side,
    at: i64,
) -> Result<RequestState, TransitionError> {
    apply(s, &ev(kind), actor, t(at))
}

/// A state in `status`, reached by the shortest valid path, last event at t(100).
fn in_status(status: Status) -> RequestState {
    use Side::*;
    let s = open();
    let path: Vec<(EventKind, Side)> = match status {
        Status::Submitted => vec![],
        Status::Delivered => vec![(EventKind::Delivered {}, Recipient)],
        Status::Acknowledged => vec![
            (EventKind::Delivered {}, Recipient),
            (EventKind::Acknowledged {}, Recipient),
        ],
        Status::PartiallyAnswered => vec![
            (EventKind::Delivered {}, Recipient),
            (EventKind::Acknowledged {}, Recipient),
            (partial(), Recipient),
        ],
        Status::Answered => vec![
            (EventKind::Delivered {}, Recipient),
            (EventKind::Acknowledged {}, Recipient),
            (answered(), Recipient),
        ],
        Status::Declined => vec![
            (EventKind::Delivered {}, Recipient),
            (EventKind::Acknowledged {}, Recipient),
            (declined(DeclineGround::Disproportionate), Recipient),
        ],
        Status::Withdrawn => vec![(EventKind::Withdrawn { reason: None }, Sender)],
    };
    let mut s = s;
    for (i, (k, a)) in path.into_iter().enumerate() {
        s = step(&s, k, a, 10 * (i as i64 + 1)).unwrap();
    }
    assert_eq!(s.status, status);
    s
}

const ALL_STATUSES: [Status; 7] = [
    Status::Submitted,
    Status::Delivered,
    Status::Acknowledged,
    Status::PartiallyAnswered,
    Status::Answered,
    Status::Declined,
    Status::Withdrawn,
];

#[test]
fn happy_path_records_every_step() {
    use Side::*;
    let s = open();
    assert_eq!(s.status, Status::Submitted);
    assert_eq!(s.request_type, RequestType::TrafficData);
    assert_eq!(s.tlp, Tlp::AmberStrict);
    let s = step(&s, EventKind::Delivered {}, Recipient, 5).unwrap();
    let s = step(&s, EventKind::Acknowledged {}, Recipient, 3600).unwrap();
    let s = step(&s, message("Which time zone?", None), Recipient, 3700).unwrap();
    let s = step(&s, message("UTC", None), Sender, 3800).unwrap();
    let s = step(&s, partial(), Recipient, DAY).unwrap();
    let s = step(&s, partial(), Recipient, 2 * DAY).unwrap();
    let s = step(&s, answered(), Recipient, 3 * DAY).unwrap();
    assert_eq!(s.status, Status::Answered);
    assert_eq!(s.delivered_at, Some(t(5)));
    assert_eq!(s.acknowledged_at, Some(t(3600)));
    assert_eq!(s.first_partial_at, Some(t(DAY)));
    assert_eq!(s.closed_at, Some(t(3 * DAY)));
    assert_eq!((s.partial_answers, s.messages, s.extensions), (2, 2, 0));
    assert_eq!(s.event_count(), 8);
    assert!(!s.replayed);
    assert!(!s.closed_late());
}

/// The full transition table, written out independently of the implementation:
/// for every state, every event kind and both actors, exactly these succeed.
#[test]
fn transition_table_is_exhaustive() {
    use Side::*;
    use Status::*;
    let kinds: Vec<(EventKind, &str)> = vec![
        (EventKind::Delivered {}, "deliver"),
        (EventKind::Acknowledged {}, "acknowledge"),
        (partial(), "partially answer"),
        (answered(), "answer"),
        (declined(DeclineGround::NeBisInIdem), "decline"),
        (EventKind::Withdrawn { reason: None }, "withdraw"),
        (message("hello", None), "send a message on"),
    ];
    // (kind verb, actor allowed (None = both), states allowed)
    let table: &[(&str, Option<Side>, &[Status])] = &[
        // Withdrawn here was never delivered: the receipt may still follow.
        ("deliver", Some(Recipient), &[Submitted, Withdrawn]),
        ("acknowledge", Some(Recipient), &[Delivered]),
        (
            "partially answer",
            Some(Recipient),
            &[Acknowledged, PartiallyAnswered],
        ),
        (
            "answer",
            Some(Recipient),
            &[Acknowledged, PartiallyAnswered],
        ),
        (
            "decline",
            Some(Recipient),
            &[Acknowledged, PartiallyAnswered],
        ),
        (
            "withdraw",
            Some(Sender),
            &[Submitted, Delivered, Acknowledged, PartiallyAnswered],
        ),
        ("send a message on", None, &ALL_STATUSES),
    ];
    let mut checked = 0;
    for status in ALL_STATUSES {
        for (kind, verb) in &kinds {
            let (_, who, states) = table.iter().find(|r| r.0 == *verb).unwrap();
            for actor in [Sender, Recipient] {
                let s = in_status(status);
                let got = step(&s, kind.clone(), actor, 1000);
                let want_actor_ok = who.is_none_or(|w| w == actor);
                let want_state_ok = states.contains(&status);
                match got {
                    Ok(next) => {
                        assert!(
                            want_actor_ok && want_state_ok,
                            "{verb} by {actor} from {status}"
                        );
                        assert!(!next.replayed);
                        assert_eq!(next.event_count(), s.event_count() + 1);
                    }
                    Err(TransitionError::WrongActor {
                        actor: a,
                        allowed,
                        verb: v,
                    }) => {
                        assert!(!want_actor_ok, "{verb} by {actor} from {status}");
                        assert_eq!((a, Some(allowed), v), (actor, *who, *verb));
                    }
                    Err(TransitionError::InvalidState {
                        verb: v,
                        status: st,
                    }) => {
                        assert!(
                            want_actor_ok && !want_state_ok,
                            "{verb} by {actor} from {status}"
                        );
                        assert_eq!((v, st), (*verb, status));
                    }
                    Err(e) => panic!("unexpected {e} for {verb} by {actor} from {status}"),
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 7 * 7 * 2);
}

#[test]
fn errors_read_as_officers_expect() {
    let s = in_status(Status::Declined);
    let e = step(&s, answered(), Side::Recipient, 1000).unwrap_err();
    assert_eq!(e.to_string(), "cannot answer a request in state declined");
    let s = in_status(Status::Acknowledged);
    let e = step(&s, answered(), Side::Sender, 1000).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the sender cannot answer a request: only the recipient may"
    );
    let e = step(
        &s,
        EventKind::Withdrawn { reason: None },
        Side::Recipient,
        1000,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the recipient cannot withdraw a request: only the sender may"
    );
    let s = in_status(Status::Answered);
    let e = step(
        &s,
        EventKind::Withdrawn { reason: None },
        Side::Sender,
        1000,
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "cannot withdraw a request in state answered");
    let s = in_status(Status::Submitted);
    let e = step(&s, EventKind::Acknowledged {}, Side::Recipient, 1000).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot acknowledge a request in state submitted"
    );
}

#[test]
fn partial_answers_can_repeat_then_end_in_answer_or_decline() {
    let mut s = in_status(Status::PartiallyAnswered);
    for i in 0..5 {
        s = step(&s, partial(), Side::Recipient, 200 + i).unwrap();
    }
    assert_eq!(s.partial_answers, 6);
    assert_eq!(s.first_partial_at, Some(t(30)));
    let done = step(&s, answered(), Side::Recipient, 300).unwrap();
    assert_eq!(done.status, Status::Answered);
    let refused = step(
        &s,
        declined(DeclineGround::DataNotAvailable),
        Side::Recipient,
        300,
    )
    .unwrap();
    assert_eq!(refused.status, Status::Declined);
    assert_eq!(
        refused.decline_ground,
        Some(DeclineGround::DataNotAvailable)
    );
    let gone = step(
        &s,
        EventKind::Withdrawn {
            reason: Some("case closed".into()),
        },
        Side::Sender,
        300,
    )
    .unwrap();
    assert_eq!(gone.status, Status::Withdrawn);
    assert_eq!(gone.closed_at, Some(t(300)));
}

#[test]
fn every_decline_ground_is_accepted_and_other_needs_text() {
    let s = in_status(Status::Acknowledged);
    for g in DeclineGround::ALL {
        let next = step(&s, declined(g), Side::Recipient, 500).unwrap();
        assert_eq!(next.status, Status::Declined);
        assert_eq!(next.decline_ground, Some(g));
        assert_eq!(next.closed_at, Some(t(500)));
        if g != DeclineGround::Other {
            let bare = EventKind::Declined {
                ground: g,
                text: None,
            };
            assert!(
                step(&s, bare, Side::Recipient, 500).is_ok(),
                "{g:?} needs no text"
            );
        }
    }
    for text in [None, Some(String::new()), Some("  \n".to_string())] {
        let e = step(
            &s,
            EventKind::Declined {
                ground: DeclineGround::Other,
                text,
            },
            Side::Recipient,
            500,
        )
        .unwrap_err();
        assert_eq!(e, TransitionError::DeclineTextRequired);
    }
}

#[test]
fn replay_is_idempotent_and_flagged_but_id_reuse_is_refused() {
    let s = in_status(Status::Acknowledged);
    let e = ev(answered());
    let once = apply(&s, &e, Side::Recipient, t(500)).unwrap();
    let twice = apply(&once, &e, Side::Recipient, t(500)).unwrap();
    assert!(twice.replayed);
    assert_eq!(
        RequestState {
            replayed: false,
            ..twice.clone()
        },
        once
    );
    // A replay is recognised even though the state is final now.
    assert_eq!(twice.status, Status::Answered);
    // Replaying an older event (the acknowledgement) is also idempotent.
    let sub = submitted();
    let s0 = RequestState::open(&sub, Side::Sender, t(0)).unwrap();
    let again = apply(&s0, &sub, Side::Sender, t(0)).unwrap();
    assert!(again.replayed);
    assert_eq!(again.event_count(), 1);
    // Same id, different time / actor / content: refused.
    let err = TransitionError::EventIdReused { event_id: e.id };
    assert_eq!(apply(&once, &e, Side::Recipient, t(501)), Err(err.clone()));
    assert_eq!(apply(&once, &e, Side::Sender, t(500)), Err(err.clone()));
    let altered = Event {
        kind: EventKind::Answered {
            note: Some("different".into()),
            attachments: vec![],
        },
        ..e.clone()
    };
    assert_eq!(apply(&once, &altered, Side::Recipient, t(500)), Err(err));
    // A fresh state after a replay accepts new events and clears the flag.
    let s2 = in_status(Status::Acknowledged);
    let m = ev(message("?", None));
    let r = apply(
        &apply(&s2, &m, Side::Sender, t(200)).unwrap(),
        &m,
        Side::Sender,
        t(200),
    )
    .unwrap();
    assert!(r.replayed);
    let r = step(&r, partial(), Side::Recipient, 300).unwrap();
    assert!(!r.replayed);
}

#[test]
fn events_of_other_requests_resubmission_and_time_travel_are_refused() {
    let s = in_status(Status::Delivered);
    let foreign = Event {
        id: eid(),
        request_id: RequestId::from_bytes([0xBB; 16]),
        kind: EventKind::Acknowledged {},
    };
    assert!(matches!(
        apply(&s, &foreign, Side::Recipient, t(500)),
        Err(TransitionError::WrongRequest { got, .. }) if got == foreign.request_id
    ));
    assert_eq!(
        apply(&s, &submitted(), Side::Sender, t(500)),
        Err(TransitionError::AlreadySubmitted { request_id: rid() })
    );
    // in_status(Delivered) put the last event at t(10).
    assert_eq!(
        step(&s, EventKind::Acknowledged {}, Side::Recipient, 9),
        Err(TransitionError::TimeWentBackwards {
            at: t(9),
            previous: t(10)
        })
    );
    assert!(
        step(&s, EventKind::Acknowledged {}, Side::Recipient, 10).is_ok(),
        "same instant is fine"
    );
}

#[test]
fn open_requires_a_submission_by_the_sender_with_sane_deadlines() {
    let e = ev(EventKind::Acknowledged {});
    assert_eq!(
        RequestState::open(&e, Side::Recipient, t(0)),
        Err(TransitionError::NotSubmittedFirst {
            kind: "acknowledged"
        })
    );
    assert!(matches!(
        RequestState::open(&submitted(), Side::Recipient, t(0)),
        Err(TransitionError::WrongActor {
            allowed: Side::Sender,
            ..
        })
    ));
    let with = |ack: i64, ans: i64| {
        ev(EventKind::Submitted {
            request: Box::new(sample(RequestType::Consultation)),
            deadlines: Deadlines {
                acknowledge_by: t(ack),
                answer_by: t(ans),
            },
        })
    };
    for (ack, ans) in [(0, 10), (-5, 10), (20, 10)] {
        assert_eq!(
            RequestState::open(&with(ack, ans), Side::Sender, t(0)),
            Err(TransitionError::BadDeadlines { submitted_at: t(0) }),
            "{ack} {ans}"
        );
    }
    assert!(RequestState::open(&with(10, 10), Side::Sender, t(0)).is_ok());
}

#[test]
fn deadline_extension_needs_both_consents_and_a_later_date() {
    use Side::*;
    let s = in_status(Status::Acknowledged);
    let new = t(20 * DAY);
    let p_r = ev(message("We need more time: 20 days?", Some(new)));
    let s1 = apply(&s, &p_r, Recipient, t(DAY)).unwrap();
    // The sender agrees by emitting the extension itself.
    let ext = |sc: EventId, rc: EventId, by| EventKind::DeadlineExtended {
        answer_by: by,
        sender_consent: sc,
        recipient_consent: rc,
    };
    let own = eid();
    let e = Event {
        id: own,
        request_id: rid(),
        kind: ext(own, p_r.id, new),
    };
    let s2 = apply(&s1, &e, Sender, t(2 * DAY)).unwrap();
    assert_eq!(s2.deadlines.answer_by, new);
    assert_eq!(s2.deadlines.acknowledge_by, s.deadlines.acknowledge_by);
    assert_eq!(s2.extensions, 1);
    assert!(!s2.is_overdue(t(15 * DAY)));
    assert!(s.is_overdue(t(15 * DAY)));

    // Both consents as messages; a third party (either side) records it.
    let p_s = ev(message("Agreed.", Some(new)));
    let s3 = apply(&s1, &p_s, Sender, t(DAY + 1)).unwrap();
    let s4 = step(&s3, ext(p_s.id, p_r.id, new), Recipient, DAY + 2).unwrap();
    assert_eq!(s4.deadlines.answer_by, new);

    let consent = |side, consent, why| TransitionError::Consent { side, consent, why };
    // Missing, wrong side, wrong date, self-consent by the other side.
    let ghost = EventId::from_bytes([0xEE; 16]);
    assert_eq!(
        step(&s3, ext(ghost, p_r.id, new), Recipient, DAY + 5),
        Err(consent(
            Sender,
            ghost,
            "is not an earlier event of this request"
        ))
    );
    assert_eq!(
        step(&s3, ext(p_r.id, p_r.id, new), Recipient, DAY + 5),
        Err(consent(Sender, p_r.id, "was emitted by the other side"))
    );
    assert_eq!(
        step(&s3, ext(p_s.id, p_r.id, t(21 * DAY)), Recipient, DAY + 5),
        Err(consent(
            Sender,
            p_s.id,
            "is not a message proposing this answer deadline"
        ))
    );
    let own2 = eid();
    let e2 = Event {
        id: own2,
        request_id: rid(),
        kind: ext(p_s.id, own2, new),
    };
    assert_eq!(
        apply(&s3, &e2, Sender, t(DAY + 5)),
        Err(consent(
            Recipient,
            own2,
            "is this event, which the other side emitted"
        ))
    );
    // A message without a proposal is not consent.
    let plain = ev(message("ok", None));
    let s5 = apply(&s1, &plain, Sender, t(DAY + 1)).unwrap();
    assert_eq!(
        step(&s5, ext(plain.id, p_r.id, new), Recipient, DAY + 5),
        Err(consent(
            Sender,
            plain.id,
            "is not a message proposing this answer deadline"
        ))
    );
    // Not later than the current deadline.
    let same = ev(message("same", Some(t(10 * DAY))));
    let s6 = apply(&s, &same, Recipient, t(DAY)).unwrap();
    let own3 = eid();
    let e3 = Event {
        id: own3,
        request_id: rid(),
        kind: ext(own3, same.id, t(10 * DAY)),
    };
    assert_eq!(
        apply(&s6, &e3, Sender, t(DAY + 1)),
        Err(TransitionError::ExtensionNotLater {
            current: t(10 * DAY),
            requested: t(10 * DAY)
        })
    );
    // Not after the deadline has passed (at the deadline instant is still fine).
    let own4 = eid();
    let e4 = Event {
        id: own4,
        request_id: rid(),
        kind: ext(own4, p_r.id, new),
    };
    assert_eq!(
        apply(&s1, &e4, Sender, t(10 * DAY + 1)),
        Err(TransitionError::ExtensionAfterDeadline {
            deadline: t(10 * DAY),
            at: t(10 * DAY + 1)
        })
    );
    assert!(apply(&s1, &e4, Sender, t(10 * DAY)).is_ok());
    // Not on a final request.
    let done = in_status(Status::Answered);
    assert!(matches!(
        step(&done, ext(own, p_r.id, new), Sender, 500),
        Err(TransitionError::InvalidState {
            verb: "extend the deadline of",
            status: Status::Answered
        })
    ));
}

#[test]
fn overdue_is_strictly_after_the_deadline_and_only_while_open() {
    let s = in_status(Status::Acknowledged);
    let deadline = s.deadlines.answer_by;
    assert!(!s.is_overdue(deadline));
    assert!(s.is_overdue(deadline + TimeDelta::seconds(1)));
    assert!(!s.is_overdue(deadline - TimeDelta::seconds(1)));
    let p = in_status(Status::PartiallyAnswered);
    assert!(p.is_overdue(deadline + TimeDelta::seconds(1)));
    for st in [Status::Answered, Status::Declined, Status::Withdrawn] {
        assert!(
            !in_status(st).is_overdue(deadline + TimeDelta::days(365)),
            "{st}"
        );
    }
    // Acknowledgement clock.
    let d = in_status(Status::Delivered);
    let ack_by = d.deadlines.acknowledge_by;
    assert!(!d.is_acknowledgement_overdue(ack_by));
    assert!(d.is_acknowledgement_overdue(ack_by + TimeDelta::seconds(1)));
    assert!(!s.is_acknowledgement_overdue(ack_by + TimeDelta::days(1)));
    // Late answers are still answers, flagged as late.
    let late = step(&s, answered(), Side::Recipient, 10 * DAY + 1).unwrap();
    assert!(late.closed_late() && !late.is_overdue(t(11 * DAY)));
    let on_time = step(&s, answered(), Side::Recipient, 10 * DAY).unwrap();
    assert!(!on_time.closed_late());
    let v = serde_json::to_value(late.view(t(11 * DAY))).unwrap();
    assert_eq!(v["status"], "answered");
    assert_eq!(v["overdue"], false);
    assert_eq!(v["type"], "traffic_data");
    assert_eq!(v["closed_at"], "2021-01-11T00:00:01.000000Z");
    let v = serde_json::to_value(s.view(deadline + TimeDelta::seconds(1))).unwrap();
    assert_eq!(v["overdue"], true);
    assert_eq!(v["acknowledgement_overdue"], false);
}

#[test]
fn event_json_has_the_documented_shape() {
    let e = Event {
        id: EventId::parse("1b4e28ba-2fa1-41d2-883f-0016d3cca427").unwrap(),
        request_id: RequestId::parse("6f1d5b2a-9c3e-4b7a-8d2f-0a1b2c3d4e5f").unwrap(),
        kind: EventKind::Declined {
            ground: DeclineGround::NeBisInIdem,
            text: None,
        },
    };
    let te = TimedEvent {
        at: t(90),
        actor: Side::Recipient,
        event: e,
    };
    let v = serde_json::to_value(&te).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "at": "2021-01-01T00:01:30.000000Z",
            "actor": "recipient",
            "event": {
                "id": "1b4e28ba-2fa1-41d2-883f-0016d3cca427",
                "request_id": "6f1d5b2a-9c3e-4b7a-8d2f-0a1b2c3d4e5f",
                "kind": {"type": "declined", "ground": "ne_bis_in_idem", "text": null}
            }
        })
    );
    assert_eq!(serde_json::from_value::<TimedEvent>(v).unwrap(), te);
    let shapes = [
        (
            EventKind::Delivered {},
            serde_json::json!({"type": "delivered"}),
        ),
        (
            EventKind::Acknowledged {},
            serde_json::json!({"type": "acknowledged"}),
        ),
        (
            EventKind::Withdrawn {
                reason: Some("moot".into()),
            },
            serde_json::json!({"type": "withdrawn", "reason": "moot"}),
        ),
        (
            message("Which logs?", Some(t(DAY))),
            serde_json::json!({"type": "message", "text": "Which logs?", "attachments": [],
                               "proposed_answer_by": "2021-01-02T00:00:00.000000Z"}),
        ),
        (
            EventKind::DeadlineExtended {
                answer_by: t(DAY),
                sender_consent: EventId::from_bytes([1; 16]),
                recipient_consent: EventId::from_bytes([2; 16]),
            },
            serde_json::json!({"type": "deadline_extended", "answer_by": "2021-01-02T00:00:00.000000Z",
                               "sender_consent": "01010101-0101-4101-8101-010101010101",
                               "recipient_consent": "02020202-0202-4202-8202-020202020202"}),
        ),
        (
            answered(),
            serde_json::json!({"type": "answered", "note": "Records attached", "attachments": []}),
        ),
        (
            partial(),
            serde_json::json!({"type": "partially_answered", "note": null, "attachments": []}),
        ),
    ];
    for (k, want) in shapes {
        assert_eq!(serde_json::to_value(&k).unwrap(), want);
        assert_eq!(serde_json::from_value::<EventKind>(want).unwrap(), k);
    }
    let s = serde_json::to_value(submitted().kind).unwrap();
    assert_eq!(s["type"], "submitted");
    assert_eq!(s["request"]["type"], "traffic_data");
    assert_eq!(s["deadlines"]["answer_by"], "2021-01-11T00:00:00.000000Z");
    // Optional fields may be omitted on input.
    let k: EventKind = serde_json::from_str(r#"{"type":"answered"}"#).unwrap();
    assert_eq!(
        k,
        EventKind::Answered {
            note: None,
            attachments: vec![]
        }
    );
}

#[test]
fn event_json_refuses_unknown_fields_and_types() {
    for bad in [
        r#"{"type":"acknowledged","extra":1}"#,
        r#"{"type":"declined","ground":"other","text":"x","why":"y"}"#,
        r#"{"type":"declined","ground":"because"}"#,
        r#"{"type":"escalated"}"#,
        r#"{"type":"message"}"#,
        r#"{"type":"deadline_extended","answer_by":"tomorrow","sender_consent":"01010101-0101-4101-8101-010101010101","recipient_consent":"01010101-0101-4101-8101-010101010101"}"#,
    ] {
        assert!(serde_json::from_str::<EventKind>(bad).is_err(), "{bad}");
    }
    let ok = serde_json::json!({"id": "1b4e28ba-2fa1-41d2-883f-0016d3cca427",
        "request_id": "6f1d5b2a-9c3e-4b7a-8d2f-0a1b2c3d4e5f", "kind": {"type": "delivered"}});
    assert!(serde_json::from_value::<Event>(ok.clone()).is_ok());
    let mut extra = ok;
    extra["signature"] = "x".into();
    assert!(serde_json::from_value::<Event>(extra).is_err());
}

#[test]
fn event_content_validation() {
    let limits = Limits::default();
    assert_eq!(
        ev(message("fine\nmultiline", None)).validate(&limits),
        Ok(())
    );
    let errs = ev(message(" ", None)).validate(&limits).unwrap_err();
    assert_eq!(errs.fields(), ["text"]);
    let long = "x".repeat(max_len::MESSAGE + 1);
    let errs = ev(EventKind::Withdrawn { reason: Some(long) })
        .validate(&limits)
        .unwrap_err();
    assert_eq!(errs.fields(), ["reason"]);
    let errs = ev(EventKind::Declined {
        ground: DeclineGround::Other,
        text: Some("\u{1b}[31m".into()),
    })
    .validate(&limits)
    .unwrap_err();
    assert_eq!(errs.fields(), ["text"]);
    let big = AttachmentRef {
        name: "dump.pcap".into(),
        media_type: "application/vnd.tcpdump.pcap".into(),
        size: limits.max_attachment_size + 1,
        sha256: "0".repeat(64),
    };
    let errs = ev(EventKind::Answered {
        note: None,
        attachments: vec![big],
    })
    .validate(&limits)
    .unwrap_err();
    assert_eq!(errs.fields(), ["attachments[0].size"]);
    // Submitted validates the whole request, including self-reference.
    let mut req = sample(RequestType::IncidentNotification);
    req.incident_class = Some(IncidentClass::Intrusions);
    req.related_requests = vec![rid()];
    let e = ev(EventKind::Submitted {
        request: Box::new(req),
        deadlines: Deadlines {
            acknowledge_by: t(1),
            answer_by: t(2),
        },
    });
    assert_eq!(
        e.validate(&limits).unwrap_err().fields(),
        ["related_requests[0]"]
    );
    assert_eq!(ev(EventKind::Delivered {}).validate(&limits), Ok(()));
}

#[test]
fn timeline_fold_reports_the_failing_index() {
    use Side::*;
    let te = |at, actor, kind| TimedEvent {
        at: t(at),
        actor,
        event: ev(kind),
    };
    assert_eq!(Timeline::default().fold(), Err(TimelineError::Empty));
    let sub = TimedEvent {
        at: t(0),
        actor: Sender,
        event: submitted(),
    };
    let good = Timeline {
        events: vec![
            sub.clone(),
            te(1, Recipient, EventKind::Delivered {}),
            te(2, Recipient, EventKind::Acknowledged {}),
            te(3, Recipient, answered()),
        ],
    };
    let s = good.fold().unwrap();
    assert_eq!(s.status, Status::Answered);
    assert_eq!(good.validate(&Limits::default()).unwrap(), s);
    let mut bad = good.clone();
    bad.events
        .push(te(4, Sender, EventKind::Withdrawn { reason: None }));
    let err = bad.fold().unwrap_err();
    assert_eq!(
        err,
        TimelineError::Transition {
            index: 4,
            source: TransitionError::InvalidState {
                verb: "withdraw",
                status: Status::Answered
            }
        }
    );
    assert_eq!(
        err.to_string(),
        "event 4: cannot withdraw a request in state answered"
    );
    let headless = Timeline {
        events: good.events[1..].to_vec(),
    };
    assert!(matches!(
        headless.fold(),
        Err(TimelineError::Transition {
            index: 0,
            source: TransitionError::NotSubmittedFirst { .. }
        })
    ));
    let mut dirty = good.clone();
    dirty.events[3].event.kind = EventKind::Answered {
        note: Some("\u{0}".into()),
        attachments: vec![],
    };
    assert!(dirty.fold().is_ok());
    assert!(matches!(
        dirty.validate(&Limits::default()),
        Err(TimelineError::Content { index: 3, .. })
    ));
    // A delivered replay in the middle of the log is harmless.
    let mut dup = good.clone();
    dup.events.insert(2, dup.events[1].clone());
    let d = dup.fold().unwrap();
    assert_eq!(d.status, Status::Answered);
    assert_eq!(d.event_count(), 4);
    // As of a time: only the prefix counts.
    assert_eq!(good.fold_until(t(1)).unwrap().status, Status::Delivered);
    assert_eq!(good.fold_until(t(100)).unwrap(), s);
    assert_eq!(good.fold_until(t(-1)), Err(TimelineError::Empty));
}

#[test]
fn next_event_time_never_goes_backwards() {
    let s = in_status(Status::Delivered); // the recipient's delivered at t(10)
    assert_eq!(s.next_event_time(Side::Recipient, t(5)), t(10));
    assert_eq!(s.next_event_time(Side::Recipient, t(11)), t(11));
    // A node whose clock lags still produces an acceptable event this way.
    let at = s.next_event_time(Side::Recipient, t(3));
    assert!(apply(&s, &ev(EventKind::Acknowledged {}), Side::Recipient, at).is_ok());
}

#[test]
fn a_peer_dating_its_events_in_the_future_does_not_move_this_sides_dates() {
    let s = in_status(Status::Delivered);
    let future = t(1_000_000);
    let msg = EventKind::Message {
        text: "from the future".into(),
        attachments: vec![],
        proposed_answer_by: None,
    };
    let s = apply(&s, &ev(msg), Side::Recipient, future).unwrap();
    assert_eq!(s.last_event_at, future);
    // The sender's own next event is dated by the sender's clock.
    assert_eq!(s.next_event_time(Side::Sender, t(20)), t(20));
}

/// The two sides act at the same time without seeing each other's latest
/// event; both orders of two concurrent events must be valid, or the two logs
/// would disagree about the request.
#[test]
fn concurrent_events_of_the_two_sides_apply_in_either_order() {
    use Side::*;
    let s = in_status(Status::Delivered);
    let ack = || EventKind::Acknowledged {};
    // Sender's message at 500, recipient's acknowledgement made at 400.
    let one = step(
        &step(&s, message("any news?", None), Sender, 500).unwrap(),
        ack(),
        Recipient,
        400,
    )
    .unwrap();
    let two = step(
        &step(&s, ack(), Recipient, 400).unwrap(),
        message("any news?", None),
        Sender,
        500,
    )
    .unwrap();
    assert_eq!(one.status, Status::Acknowledged);
    assert_eq!(
        (one.acknowledged_at, two.acknowledged_at),
        (Some(t(400)), Some(t(400)))
    );
    assert_eq!(one.last_event_at, t(500));
    // Each side's own events still go forward in time.
    let e = step(&one, message("earlier", None), Sender, 450).unwrap_err();
    assert!(matches!(e, TransitionError::TimeWentBackwards { previous, .. } if previous == t(500)));
    // A message written while the other side was answering is still accepted.
    let answered_first = step(&two, answered(), Recipient, 600).unwrap();
    let after = step(&answered_first, message("thanks", None), Sender, 590).unwrap();
    assert_eq!((after.status, after.messages), (Status::Answered, 2));
}

#[test]
fn a_withdrawal_can_overtake_the_delivery_receipt_but_not_repeat_it() {
    use Side::*;
    let w = in_status(Status::Withdrawn);
    let d = step(&w, EventKind::Delivered {}, Recipient, 20).unwrap();
    assert_eq!((d.status, d.delivered_at), (Status::Withdrawn, Some(t(20))));
    let e = step(&d, EventKind::Delivered {}, Recipient, 30).unwrap_err();
    assert_eq!(e.to_string(), "cannot deliver a request in state withdrawn");
    let late = in_status(Status::Delivered);
    let late = step(&late, EventKind::Withdrawn { reason: None }, Sender, 40).unwrap();
    assert!(step(&late, EventKind::Delivered {}, Recipient, 50).is_err());
}
