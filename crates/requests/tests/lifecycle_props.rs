//! Property tests: random event sequences, valid or not, never panic, and folding
//! a timeline is exactly applying its events one by one.

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use common::*;
use detente_requests::*;
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct Step {
    kind: u8,
    sender: bool,
    dt: i64,
    param: u8,
}

fn step_strategy() -> impl Strategy<Value = Step> {
    // Kind 10 means "the next step of the usual path", so deep valid histories
    // are common; time mostly moves forward, sometimes back.
    let kind = prop_oneof![3 => Just(10u8), 2 => 0u8..10];
    let dt = prop_oneof![9 => 0i64..300_000, 1 => -3_600i64..0];
    (kind, any::<bool>(), dt, any::<u8>()).prop_map(|(kind, sender, dt, param)| Step {
        kind,
        sender,
        dt,
        param,
    })
}

fn base() -> DateTime<Utc> {
    ts("2021-05-07T10:00:00Z")
}

fn candidate_deadline(p: u8) -> DateTime<Utc> {
    base() + TimeDelta::days([5, 10, 12, 20][(p % 4) as usize])
}

/// Builds a timeline from the steps: the first is a submission unless its kind
/// is 9; kind 9 later replays an earlier event (exactly, or with a new time).
/// Actors are mostly the ones allowed for the kind, and extensions mostly cite
/// real proposals, so that both valid and subtly invalid histories occur.
fn build(steps: &[Step]) -> Timeline {
    let b = origin("cert.b.example");
    let mut events: Vec<TimedEvent> = Vec::new();
    let mut proposals: Vec<(EventId, Side, DateTime<Utc>)> = Vec::new();
    let mut progress = 0u8;
    let mut at = base();
    for (i, s) in steps.iter().enumerate() {
        if i > 0 {
            at += TimeDelta::seconds(s.dt);
        }
        let kind_sel = if i == 0 && s.kind != 9 {
            0
        } else if s.kind == 10 {
            progress = (progress + 1).min(4);
            [1, 1, 2, 3, 4][progress as usize]
        } else {
            s.kind
        };
        let chosen = if s.sender {
            Side::Sender
        } else {
            Side::Recipient
        };
        let natural = match kind_sel {
            1..=5 => Side::Recipient,
            0 | 6 => Side::Sender,
            _ => chosen,
        };
        let actor = if s.param.is_multiple_of(16) {
            chosen
        } else {
            natural
        };
        let id = event_id(1, i as u8);
        let consent = |side: Side, p: u8| -> EventId {
            if side == actor && p & 1 == 1 {
                return id;
            }
            proposals
                .iter()
                .rev()
                .find(|(_, s, _)| *s == side)
                .map(|(pid, _, _)| *pid)
                .unwrap_or(id)
        };
        let prev_id = |p: u8| {
            if events.is_empty() || p.is_multiple_of(5) {
                id
            } else {
                events[p as usize % events.len()].event.id
            }
        };
        let kind = match (i, kind_sel) {
            (0, k) if k != 9 => EventKind::Submitted {
                request: Box::new(request(RequestType::TrafficData, &b)),
                deadlines: Deadlines {
                    acknowledge_by: base() + TimeDelta::days(2),
                    answer_by: base() + TimeDelta::days(10),
                },
            },
            (_, 0) => EventKind::Submitted {
                request: Box::new(request(RequestType::Consultation, &b)),
                deadlines: Deadlines {
                    acknowledge_by: at + TimeDelta::days(1),
                    answer_by: at + TimeDelta::days(2),
                },
            },
            (_, 1) => EventKind::Delivered {},
            (_, 2) => EventKind::Acknowledged {},
            (_, 3) => EventKind::PartiallyAnswered {
                note: None,
                attachments: vec![],
            },
            (_, 4) => EventKind::Answered {
                note: None,
                attachments: vec![],
            },
            (_, 5) => EventKind::Declined {
                ground: DeclineGround::ALL[s.param as usize % 9],
                text: (s.param & 0x80 != 0).then(|| "why".to_string()),
            },
            (_, 6) => EventKind::Withdrawn { reason: None },
            (_, 7) => {
                let proposed = (s.param & 1 == 1).then(|| candidate_deadline(s.param >> 1));
                if let Some(p) = proposed {
                    proposals.push((id, actor, p));
                }
                EventKind::Message {
                    text: "m".into(),
                    attachments: vec![],
                    proposed_answer_by: proposed,
                }
            }
            (_, 8) if s.param & 0x40 == 0 => EventKind::DeadlineExtended {
                answer_by: proposals
                    .iter()
                    .rev()
                    .find(|p| p.1 != actor)
                    .map(|p| p.2)
                    .unwrap_or_else(|| candidate_deadline(s.param)),
                sender_consent: consent(Side::Sender, s.param >> 1),
                recipient_consent: consent(Side::Recipient, s.param >> 2),
            },
            (_, 8) => EventKind::DeadlineExtended {
                answer_by: candidate_deadline(s.param),
                sender_consent: prev_id(s.param >> 2),
                recipient_consent: prev_id(s.param >> 5),
            },
            (0, _) => EventKind::Acknowledged {},
            (_, _) => {
                let e = events[s.param as usize % events.len()].clone();
                let e = if s.param & 1 == 0 {
                    e
                } else {
                    TimedEvent { at, ..e }
                };
                events.push(e);
                continue;
            }
        };
        events.push(TimedEvent {
            at,
            actor,
            event: Event {
                id,
                request_id: request_id(1),
                kind,
            },
        });
    }
    Timeline { events }
}

/// Opening with the first event and applying the rest one at a time.
fn stepwise(t: &Timeline) -> Result<RequestState, TimelineError> {
    let (first, rest) = t.events.split_first().ok_or(TimelineError::Empty)?;
    let mut s = RequestState::open(&first.event, first.actor, first.at)
        .map_err(|source| TimelineError::Transition { index: 0, source })?;
    for (i, e) in rest.iter().enumerate() {
        s = apply(&s, &e.event, e.actor, e.at).map_err(|source| TimelineError::Transition {
            index: i + 1,
            source,
        })?;
    }
    Ok(s)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn fold_equals_stepwise_application(steps in prop::collection::vec(step_strategy(), 0..14)) {
        let t = build(&steps);
        let folded = t.fold();
        prop_assert_eq!(&folded, &stepwise(&t));
        if let Ok(s) = &folded {
            // Invariants of every valid history.
            prop_assert_eq!(s.status.is_final(), s.closed_at.is_some());
            let acked = matches!(s.status, Status::Acknowledged | Status::PartiallyAnswered | Status::Answered | Status::Declined);
            prop_assert!(!acked || s.acknowledged_at.is_some());
            prop_assert!(s.acknowledged_at.is_none() || s.delivered_at.is_some());
            prop_assert!(s.event_count() <= t.events.len());
            prop_assert!(s.deadlines.answer_by >= base() + TimeDelta::days(10));
            prop_assert_eq!(s.decline_ground.is_some(), s.status == Status::Declined);
            let far = s.last_event_at + TimeDelta::days(400);
            prop_assert_eq!(s.is_overdue(far), !s.status.is_final());
            // Replaying any event already in the log changes nothing but the flag.
            for e in &t.events {
                let again = apply(s, &e.event, e.actor, e.at).unwrap();
                prop_assert!(again.replayed);
                let mut unflagged = again.clone();
                unflagged.replayed = s.replayed;
                prop_assert_eq!(&unflagged, s);
            }
            // The prefix up to the last event's time is the whole history.
            prop_assert_eq!(&t.fold_until(s.last_event_at), &folded);
        }
        // The JSON form is lossless.
        let json = serde_json::to_string(&t).unwrap();
        let back: Timeline = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &t);
    }

    /// Negotiated extensions: one side proposes, the other emits the extension
    /// citing the proposal and itself (or its own matching proposal). Valid
    /// exactly when the new deadline is later and the extension comes in time.
    #[test]
    fn negotiated_extensions(
        proposer_is_sender in any::<bool>(),
        days in 1i64..30,
        at_hours in 1i64..400,
        emitter_also_proposes in any::<bool>(),
        mismatch in prop::option::of(1i64..5),
    ) {
        let b = origin("cert.b.example");
        let mut tl = Tl::submit(7, RequestType::TrafficData, &b, base());
        tl.delivered(10).acknowledged(20);
        let (proposer, emitter) = if proposer_is_sender {
            (Side::Sender, Side::Recipient)
        } else {
            (Side::Recipient, Side::Sender)
        };
        let new = base() + TimeDelta::days(days);
        let propose = |d| EventKind::Message { text: "more time?".into(), attachments: vec![], proposed_answer_by: Some(d) };
        tl.after(at_hours * 3600, proposer, propose(new));
        let proposal_id = tl.timeline.events.last().unwrap().event.id;
        let own_id = event_id(7, tl.k + u8::from(emitter_also_proposes));
        let emitter_consent = if emitter_also_proposes {
            let d = new + TimeDelta::days(mismatch.unwrap_or(0));
            tl.after(at_hours * 3600 + 1, emitter, propose(d));
            tl.timeline.events.last().unwrap().event.id
        } else {
            own_id
        };
        let (sc, rc) = if proposer == Side::Sender { (proposal_id, emitter_consent) } else { (emitter_consent, proposal_id) };
        tl.after(at_hours * 3600 + 2, emitter, EventKind::DeadlineExtended { answer_by: new, sender_consent: sc, recipient_consent: rc });
        prop_assert_eq!(tl.timeline.events.last().unwrap().event.id, own_id);
        let t = &tl.timeline;
        let folded = t.fold();
        prop_assert_eq!(&folded, &stepwise(t));
        let current = base() + TimeDelta::days(10);
        let in_time = base() + TimeDelta::seconds(at_hours * 3600 + 2) <= current;
        let matching = !(emitter_also_proposes && mismatch.is_some());
        let want_ok = in_time && new > current && matching;
        prop_assert_eq!(folded.is_ok(), want_ok, "{:?}", folded);
        if let Ok(s) = folded {
            prop_assert_eq!(s.deadlines.answer_by, new);
            prop_assert_eq!(s.extensions, 1);
        }
    }

    #[test]
    fn report_never_panics_and_balances(seqs in prop::collection::vec(prop::collection::vec(step_strategy(), 0..10), 0..20)) {
        let b = origin("cert.b.example");
        let items: Vec<ReportItem> = seqs
            .iter()
            .enumerate()
            .map(|(i, s)| ReportItem {
                direction: if i % 2 == 0 { Direction::Outbound } else { Direction::Inbound },
                peer: b.clone(),
                timeline: build(s),
            })
            .collect();
        let now = base() + TimeDelta::days(3);
        let period = Period { since: base() - TimeDelta::days(1), until: None };
        let r = reciprocity_report(&items, &b, period, now);
        for (d, st) in [(Direction::Outbound, &r.outbound), (Direction::Inbound, &r.inbound)] {
            prop_assert_eq!(st.sent, st.answered + st.declined + st.withdrawn + st.pending);
            prop_assert!(st.overdue <= st.pending && st.partially_answered <= st.pending);
            prop_assert!(st.acknowledged <= st.delivered && st.delivered <= st.sent);
            prop_assert_eq!(st.time_to_answer.samples, st.answered);
            prop_assert_eq!(st.time_to_acknowledge.samples, st.acknowledged);
            let expected_valid = items
                .iter()
                .filter(|it| it.direction == d)
                .filter(|it| it.timeline.events.first().is_some_and(|e| e.at <= now))
                .filter(|it| it.timeline.fold_until(now).is_ok())
                .count() as u64;
            prop_assert_eq!(st.sent, expected_valid);
            let (m, p) = (st.time_to_answer.median_seconds, st.time_to_answer.p90_seconds);
            prop_assert!(m <= p);
        }
    }
}
