//! The lifecycle of one request as a state machine over signed events.
//!
//! States: `submitted -> delivered -> acknowledged -> partially_answered* ->
//! answered | declined`, and `withdrawn` by the sender from any non-final state.
//! `overdue` is never stored: it depends on the clock, and a stored flag would
//! need an envelope nobody signs. It is computed by [`RequestState::is_overdue`].
//!
//! [`apply`] checks lifecycle rules only (order, who acts, timing, consents);
//! content rules that depend on a node's configuration (attachment limits, text
//! bounds) are [`Event::validate`]. [`Timeline::validate`] does both, which is
//! what an auditor recomputing a state from envelopes wants.

use crate::deadline::Deadlines;
use crate::request::{
    check_attachments, check_text, finish, max_len, AttachmentRef, Limits, Lines, NewRequest,
    ValidationErrors,
};
use crate::serde_util::{ts, ts_opt};
use crate::types::{DeclineGround, EventId, RequestId, RequestType, Side, Tlp, Urgency};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::hash::{Hash, Hasher};
use thiserror::Error;

/// One state change, as carried in an envelope payload. `id` makes redelivery
/// idempotent; `request_id` makes every envelope self-describing.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub id: EventId,
    pub request_id: RequestId,
    pub kind: EventKind,
}

/// What happened. Serialised with a `type` tag: `{"type": "declined", "ground":
/// "ne_bis_in_idem", "text": null}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EventKind {
    /// The sender's request, with the deadlines its policy gave it. The deadlines
    /// are recorded rather than recomputed so a later policy change cannot move
    /// them.
    Submitted {
        request: Box<NewRequest>,
        deadlines: Deadlines,
    },
    /// The recipient's receipt: the request is in the recipient's log. (Empty
    /// struct variants rather than unit variants, so unknown fields are refused.)
    Delivered {},
    /// A recipient officer has taken the request up.
    Acknowledged {},
    /// Part of the answer; more parts or a final answer may follow.
    PartiallyAnswered {
        #[serde(default)]
        note: Option<String>,
        #[serde(default)]
        attachments: Vec<AttachmentRef>,
    },
    /// The final, complete answer.
    Answered {
        #[serde(default)]
        note: Option<String>,
        #[serde(default)]
        attachments: Vec<AttachmentRef>,
    },
    /// A final refusal. `text` is required when `ground` is `other`.
    Declined {
        ground: DeclineGround,
        #[serde(default)]
        text: Option<String>,
    },
    /// The sender no longer needs an answer.
    Withdrawn {
        #[serde(default)]
        reason: Option<String>,
    },
    /// Clarification, either way. A message may propose a new answer deadline;
    /// that proposal is what a `deadline_extended` event cites as consent.
    Message {
        text: String,
        #[serde(default)]
        attachments: Vec<AttachmentRef>,
        #[serde(default, with = "ts_opt")]
        proposed_answer_by: Option<DateTime<Utc>>,
    },
    /// The answer deadline moves by agreement. Each consent is the id of a
    /// message from that side proposing exactly `answer_by`, or the id of this
    /// event itself for the side that emits it — so both consents are signed
    /// envelopes of the consenting party.
    DeadlineExtended {
        #[serde(with = "ts")]
        answer_by: DateTime<Utc>,
        sender_consent: EventId,
        recipient_consent: EventId,
    },
}

impl EventKind {
    /// The attachments this event cites (a request's, an answer's, a message's).
    pub fn attachments(&self) -> &[AttachmentRef] {
        match self {
            EventKind::Submitted { request, .. } => &request.attachments,
            EventKind::PartiallyAnswered { attachments, .. }
            | EventKind::Answered { attachments, .. }
            | EventKind::Message { attachments, .. } => attachments,
            _ => &[],
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Submitted { .. } => "submitted",
            EventKind::Delivered {} => "delivered",
            EventKind::Acknowledged {} => "acknowledged",
            EventKind::PartiallyAnswered { .. } => "partially_answered",
            EventKind::Answered { .. } => "answered",
            EventKind::Declined { .. } => "declined",
            EventKind::Withdrawn { .. } => "withdrawn",
            EventKind::Message { .. } => "message",
            EventKind::DeadlineExtended { .. } => "deadline_extended",
        }
    }

    pub(crate) fn verb(&self) -> &'static str {
        match self {
            EventKind::Submitted { .. } => "submit",
            EventKind::Delivered {} => "deliver",
            EventKind::Acknowledged {} => "acknowledge",
            EventKind::PartiallyAnswered { .. } => "partially answer",
            EventKind::Answered { .. } => "answer",
            EventKind::Declined { .. } => "decline",
            EventKind::Withdrawn { .. } => "withdraw",
            EventKind::Message { .. } => "send a message on",
            EventKind::DeadlineExtended { .. } => "extend the deadline of",
        }
    }

    /// Who may emit this event; `None` means either side.
    pub fn allowed_actor(&self) -> Option<Side> {
        match self {
            EventKind::Submitted { .. } | EventKind::Withdrawn { .. } => Some(Side::Sender),
            EventKind::Delivered {}
            | EventKind::Acknowledged {}
            | EventKind::PartiallyAnswered { .. }
            | EventKind::Answered { .. }
            | EventKind::Declined { .. } => Some(Side::Recipient),
            EventKind::Message { .. } | EventKind::DeadlineExtended { .. } => None,
        }
    }

    /// The states this event may follow.
    fn allowed_from(&self, s: Status) -> bool {
        use Status::*;
        match self {
            EventKind::Submitted { .. } => false,
            // A withdrawal can overtake the delivery receipt; the receipt
            // still records that the recipient got the request.
            EventKind::Delivered {} => matches!(s, Submitted | Withdrawn),
            EventKind::Acknowledged {} => s == Delivered,
            EventKind::PartiallyAnswered { .. }
            | EventKind::Answered { .. }
            | EventKind::Declined { .. } => matches!(s, Acknowledged | PartiallyAnswered),
            EventKind::Withdrawn { .. } | EventKind::DeadlineExtended { .. } => !s.is_final(),
            // Either side may still write after a final answer, and a message
            // sent while the other side was closing the request must not be
            // refused.
            EventKind::Message { .. } => true,
        }
    }
}

impl Event {
    /// Content rules: text bounds and characters, attachment limits, and for
    /// `submitted` the full [`NewRequest::validate`]. Lifecycle rules are
    /// [`apply`]'s.
    pub fn validate(&self, limits: &Limits) -> Result<(), ValidationErrors> {
        let mut e = Vec::new();
        let opt_text = |e: &mut Vec<_>, field: &str, v: &Option<String>| {
            if let Some(v) = v {
                check_text(e, field, v, max_len::MESSAGE, Lines::Multi);
            }
        };
        match &self.kind {
            EventKind::Submitted { request, .. } => {
                return request.validate_with_id(Some(self.request_id), limits);
            }
            EventKind::Delivered {} | EventKind::Acknowledged {} => {}
            EventKind::PartiallyAnswered { note, attachments }
            | EventKind::Answered { note, attachments } => {
                opt_text(&mut e, "note", note);
                check_attachments(&mut e, "attachments", attachments, limits);
            }
            EventKind::Declined { text, .. } => opt_text(&mut e, "text", text),
            EventKind::Withdrawn { reason } => opt_text(&mut e, "reason", reason),
            EventKind::Message {
                text, attachments, ..
            } => {
                check_text(&mut e, "text", text, max_len::MESSAGE, Lines::Multi);
                check_attachments(&mut e, "attachments", attachments, limits);
            }
            EventKind::DeadlineExtended { .. } => {}
        }
        finish(e)
    }
}

/// An event with who emitted it and when: one envelope of the log, reduced to
/// what the lifecycle needs.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimedEvent {
    #[serde(with = "ts")]
    pub at: DateTime<Utc>,
    pub actor: Side,
    pub event: Event,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Submitted,
    Delivered,
    Acknowledged,
    PartiallyAnswered,
    Answered,
    Declined,
    Withdrawn,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Submitted => "submitted",
            Status::Delivered => "delivered",
            Status::Acknowledged => "acknowledged",
            Status::PartiallyAnswered => "partially_answered",
            Status::Answered => "answered",
            Status::Declined => "declined",
            Status::Withdrawn => "withdrawn",
        }
    }

    /// Final states end the request: nothing but a replay is accepted after them.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Answered | Status::Declined | Status::Withdrawn
        )
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an event cannot be applied. The server maps every variant to HTTP 409;
/// messages are shown to officers as they are.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum TransitionError {
    #[error("the first event of a request must be submitted, not {kind}")]
    NotSubmittedFirst { kind: &'static str },
    #[error("request {request_id} was already submitted")]
    AlreadySubmitted { request_id: RequestId },
    #[error("event {event_id} belongs to request {got}, not {expected}")]
    WrongRequest {
        event_id: EventId,
        expected: RequestId,
        got: RequestId,
    },
    #[error("the {actor} cannot {verb} a request: only the {allowed} may")]
    WrongActor {
        actor: Side,
        allowed: Side,
        verb: &'static str,
    },
    #[error("cannot {verb} a request in state {status}")]
    InvalidState { verb: &'static str, status: Status },
    #[error("event time {at} is before this side's previous event at {previous}")]
    TimeWentBackwards {
        at: DateTime<Utc>,
        previous: DateTime<Utc>,
    },
    #[error("event id {event_id} was already used for a different event")]
    EventIdReused { event_id: EventId },
    #[error("declining on ground `other` requires a text saying why")]
    DeclineTextRequired,
    #[error("deadlines must fall after submission at {submitted_at}, acknowledgement no later than answer")]
    BadDeadlines { submitted_at: DateTime<Utc> },
    #[error("the new answer deadline {requested} is not later than the current one, {current}")]
    ExtensionNotLater {
        current: DateTime<Utc>,
        requested: DateTime<Utc>,
    },
    #[error("the answer deadline {deadline} passed before {at}; a deadline can only be extended before it passes")]
    ExtensionAfterDeadline {
        deadline: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    #[error("the {side}'s consent {consent} {why}")]
    Consent {
        side: Side,
        consent: EventId,
        why: &'static str,
    },
}

/// What the state remembers of each applied event: enough to recognise a replay
/// and to check consents, without keeping the event's content.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Applied {
    id: EventId,
    actor: Side,
    /// SipHash of (event, actor, at). A collision could only make a conflicting
    /// reuse of an id look like a replay, which leaves the state unchanged.
    fingerprint: u64,
    proposed_answer_by: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
}

fn fingerprint(event: &Event, actor: Side, at: DateTime<Utc>) -> u64 {
    // DefaultHasher::new() has fixed keys, so equal events hash equally within a
    // process; fingerprints are never stored or sent, so the algorithm may change.
    let mut h = std::hash::DefaultHasher::new();
    event.hash(&mut h);
    actor.hash(&mut h);
    at.hash(&mut h);
    h.finish()
}

/// The state of one request after a sequence of events. Built only by
/// [`RequestState::open`], [`apply`] and [`Timeline::fold`], so it always
/// describes a valid history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestState {
    pub request_id: RequestId,
    pub request_type: RequestType,
    pub urgency: Urgency,
    pub tlp: Tlp,
    pub status: Status,
    pub submitted_at: DateTime<Utc>,
    /// Current deadlines: `answer_by` moves with `deadline_extended`.
    pub deadlines: Deadlines,
    pub delivered_at: Option<DateTime<Utc>>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub first_partial_at: Option<DateTime<Utc>>,
    /// When the request reached its final state.
    pub closed_at: Option<DateTime<Utc>>,
    pub decline_ground: Option<DeclineGround>,
    pub partial_answers: u32,
    pub messages: u32,
    pub extensions: u32,
    pub last_event_at: DateTime<Utc>,
    /// True when the call that produced this state was a replay of an event
    /// already applied: nothing else changed.
    pub replayed: bool,
    applied: Vec<Applied>,
}

/// A serialisable snapshot with the clock-dependent flags filled in for `now`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StateView {
    pub request_id: RequestId,
    #[serde(rename = "type")]
    pub request_type: RequestType,
    pub urgency: Urgency,
    pub tlp: Tlp,
    pub status: Status,
    #[serde(with = "ts")]
    pub submitted_at: DateTime<Utc>,
    pub deadlines: Deadlines,
    #[serde(with = "ts_opt")]
    pub delivered_at: Option<DateTime<Utc>>,
    #[serde(with = "ts_opt")]
    pub acknowledged_at: Option<DateTime<Utc>>,
    #[serde(with = "ts_opt")]
    pub closed_at: Option<DateTime<Utc>>,
    pub decline_ground: Option<DeclineGround>,
    pub partial_answers: u32,
    pub messages: u32,
    pub extensions: u32,
    pub overdue: bool,
    pub acknowledgement_overdue: bool,
}

impl RequestState {
    /// Starts a request from its `submitted` event.
    pub fn open(
        event: &Event,
        actor: Side,
        at: DateTime<Utc>,
    ) -> Result<RequestState, TransitionError> {
        Self::open_with_capacity(event, actor, at, 1)
    }

    fn open_with_capacity(
        event: &Event,
        actor: Side,
        at: DateTime<Utc>,
        capacity: usize,
    ) -> Result<RequestState, TransitionError> {
        let EventKind::Submitted { request, deadlines } = &event.kind else {
            return Err(TransitionError::NotSubmittedFirst {
                kind: event.kind.name(),
            });
        };
        if actor != Side::Sender {
            return Err(TransitionError::WrongActor {
                actor,
                allowed: Side::Sender,
                verb: "submit",
            });
        }
        if deadlines.acknowledge_by <= at || deadlines.answer_by < deadlines.acknowledge_by {
            return Err(TransitionError::BadDeadlines { submitted_at: at });
        }
        Ok(RequestState {
            request_id: event.request_id,
            request_type: request.request_type,
            urgency: request.urgency,
            tlp: request.tlp,
            status: Status::Submitted,
            submitted_at: at,
            deadlines: *deadlines,
            delivered_at: None,
            acknowledged_at: None,
            first_partial_at: None,
            closed_at: None,
            decline_ground: None,
            partial_answers: 0,
            messages: 0,
            extensions: 0,
            last_event_at: at,
            replayed: false,
            applied: {
                let mut v = Vec::with_capacity(capacity.max(1));
                v.push(Applied {
                    id: event.id,
                    actor,
                    fingerprint: fingerprint(event, actor, at),
                    proposed_answer_by: None,
                    at,
                });
                v
            },
        })
    }

    pub fn is_final(&self) -> bool {
        self.status.is_final()
    }

    /// Overdue: no final answer and `now` is strictly after the answer deadline
    /// (a request is on time at the deadline instant itself).
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        !self.is_final() && now > self.deadlines.answer_by
    }

    /// Not yet acknowledged, still open, and past the acknowledgement deadline.
    pub fn is_acknowledgement_overdue(&self, now: DateTime<Utc>) -> bool {
        !self.is_final() && self.acknowledged_at.is_none() && now > self.deadlines.acknowledge_by
    }

    /// Answered or declined after the answer deadline in force at the time.
    pub fn closed_late(&self) -> bool {
        matches!(self.status, Status::Answered | Status::Declined)
            && self.closed_at.is_some_and(|t| t > self.deadlines.answer_by)
    }

    /// The time `side` dates its next event with, given its own clock. Each
    /// side's events go forward in its own time and none precedes the
    /// submission, so a clock that lags this side's previous event dates it at
    /// that event's time. The other side's latest time plays no part: a peer
    /// that dates its events in the future cannot move this side's dates.
    pub fn next_event_time(&self, side: Side, clock: DateTime<Utc>) -> DateTime<Utc> {
        clock.max(self.previous_time_of(side))
    }

    /// The time of `side`'s latest event, or the submission's.
    fn previous_time_of(&self, side: Side) -> DateTime<Utc> {
        self.applied
            .iter()
            .rev()
            .find(|a| a.actor == side)
            .map_or(self.submitted_at, |a| a.at)
    }

    /// Number of distinct events applied, the `submitted` event included.
    pub fn event_count(&self) -> usize {
        self.applied.len()
    }

    pub fn view(&self, now: DateTime<Utc>) -> StateView {
        StateView {
            request_id: self.request_id,
            request_type: self.request_type,
            urgency: self.urgency,
            tlp: self.tlp,
            status: self.status,
            submitted_at: self.submitted_at,
            deadlines: self.deadlines,
            delivered_at: self.delivered_at,
            acknowledged_at: self.acknowledged_at,
            closed_at: self.closed_at,
            decline_ground: self.decline_ground,
            partial_answers: self.partial_answers,
            messages: self.messages,
            extensions: self.extensions,
            overdue: self.is_overdue(now),
            acknowledgement_overdue: self.is_acknowledgement_overdue(now),
        }
    }

    fn check_consent(
        &self,
        side: Side,
        consent: EventId,
        this_event: EventId,
        actor: Side,
        answer_by: DateTime<Utc>,
    ) -> Result<(), TransitionError> {
        let err = |why| Err(TransitionError::Consent { side, consent, why });
        if consent == this_event {
            return if actor == side {
                Ok(())
            } else {
                err("is this event, which the other side emitted")
            };
        }
        let Some(a) = self.applied.iter().find(|a| a.id == consent) else {
            return err("is not an earlier event of this request");
        };
        if a.actor != side {
            return err("was emitted by the other side");
        }
        if a.proposed_answer_by != Some(answer_by) {
            return err("is not a message proposing this answer deadline");
        }
        Ok(())
    }

    /// Applies in place. On error `self` is unchanged, because every check runs
    /// before the first write.
    fn apply_mut(
        &mut self,
        event: &Event,
        actor: Side,
        at: DateTime<Utc>,
    ) -> Result<(), TransitionError> {
        let fp = fingerprint(event, actor, at);
        if let Some(a) = self.applied.iter().find(|a| a.id == event.id) {
            if a.fingerprint == fp {
                self.replayed = true;
                return Ok(());
            }
            return Err(TransitionError::EventIdReused { event_id: event.id });
        }
        if event.request_id != self.request_id {
            return Err(TransitionError::WrongRequest {
                event_id: event.id,
                expected: self.request_id,
                got: event.request_id,
            });
        }
        let kind = &event.kind;
        if matches!(kind, EventKind::Submitted { .. }) {
            return Err(TransitionError::AlreadySubmitted {
                request_id: self.request_id,
            });
        }
        if let Some(allowed) = kind.allowed_actor() {
            if actor != allowed {
                return Err(TransitionError::WrongActor {
                    actor,
                    allowed,
                    verb: kind.verb(),
                });
            }
        }
        let delivered_twice =
            matches!(kind, EventKind::Delivered {}) && self.delivered_at.is_some();
        if !kind.allowed_from(self.status) || delivered_twice {
            return Err(TransitionError::InvalidState {
                verb: kind.verb(),
                status: self.status,
            });
        }
        // Each side's events are in its own time order, and none precedes
        // the submission. The two sides act concurrently, so an event of one
        // may be older than the other's latest, which it had not seen yet.
        let previous = self.previous_time_of(actor);
        if at < previous {
            return Err(TransitionError::TimeWentBackwards { at, previous });
        }
        match kind {
            EventKind::Declined {
                ground: DeclineGround::Other,
                text,
            } if text.as_deref().is_none_or(|t| t.trim().is_empty()) => {
                return Err(TransitionError::DeclineTextRequired);
            }
            EventKind::DeadlineExtended {
                answer_by,
                sender_consent,
                recipient_consent,
            } => {
                let current = self.deadlines.answer_by;
                if at > current {
                    return Err(TransitionError::ExtensionAfterDeadline {
                        deadline: current,
                        at,
                    });
                }
                if *answer_by <= current {
                    return Err(TransitionError::ExtensionNotLater {
                        current,
                        requested: *answer_by,
                    });
                }
                self.check_consent(Side::Sender, *sender_consent, event.id, actor, *answer_by)?;
                self.check_consent(
                    Side::Recipient,
                    *recipient_consent,
                    event.id,
                    actor,
                    *answer_by,
                )?;
            }
            _ => {}
        }

        // All checks passed: write.
        let mut proposed_answer_by = None;
        match kind {
            EventKind::Submitted { .. } => {}
            EventKind::Delivered {} => {
                if self.status == Status::Submitted {
                    self.status = Status::Delivered;
                }
                self.delivered_at = Some(at);
            }
            EventKind::Acknowledged {} => {
                self.status = Status::Acknowledged;
                self.acknowledged_at = Some(at);
            }
            EventKind::PartiallyAnswered { .. } => {
                self.status = Status::PartiallyAnswered;
                self.partial_answers += 1;
                self.first_partial_at.get_or_insert(at);
            }
            EventKind::Answered { .. } => {
                self.status = Status::Answered;
                self.closed_at = Some(at);
            }
            EventKind::Declined { ground, .. } => {
                self.status = Status::Declined;
                self.decline_ground = Some(*ground);
                self.closed_at = Some(at);
            }
            EventKind::Withdrawn { .. } => {
                self.status = Status::Withdrawn;
                self.closed_at = Some(at);
            }
            EventKind::Message {
                proposed_answer_by: p,
                ..
            } => {
                self.messages += 1;
                proposed_answer_by = *p;
            }
            EventKind::DeadlineExtended { answer_by, .. } => {
                self.deadlines.answer_by = *answer_by;
                self.extensions += 1;
            }
        }
        self.last_event_at = self.last_event_at.max(at);
        self.replayed = false;
        self.applied.push(Applied {
            id: event.id,
            actor,
            fingerprint: fp,
            proposed_answer_by,
            at,
        });
        Ok(())
    }
}

/// Applies one event by `actor` at time `at` to `state`. Replaying an event
/// already applied (same id, same content, actor and time) returns the state
/// unchanged with [`RequestState::replayed`] set; the same id with anything
/// different is [`TransitionError::EventIdReused`]. A `submitted` event starts a
/// request through [`RequestState::open`] instead.
pub fn apply(
    state: &RequestState,
    event: &Event,
    actor: Side,
    at: DateTime<Utc>,
) -> Result<RequestState, TransitionError> {
    let mut next = state.clone();
    next.apply_mut(event, actor, at)?;
    Ok(next)
}

/// The full history of one request, in log order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeline {
    pub events: Vec<TimedEvent>,
}

#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum TimelineError {
    #[error("the timeline has no events")]
    Empty,
    #[error("event {index}: {source}")]
    Transition {
        index: usize,
        #[source]
        source: TransitionError,
    },
    #[error("event {index}: {source}")]
    Content {
        index: usize,
        #[source]
        source: ValidationErrors,
    },
}

impl Timeline {
    /// The state after every event, checking lifecycle rules. Equal to opening
    /// with the first event and [`apply`]ing the rest one by one, with the error
    /// of the first event that fails, tagged with its index.
    pub fn fold(&self) -> Result<RequestState, TimelineError> {
        fold_slice(&self.events)
    }

    /// [`Timeline::fold`] plus every event's content rules under `limits`: what
    /// an auditor runs on envelopes from an untrusted source.
    pub fn validate(&self, limits: &Limits) -> Result<RequestState, TimelineError> {
        for (index, e) in self.events.iter().enumerate() {
            e.event
                .validate(limits)
                .map_err(|source| TimelineError::Content { index, source })?;
        }
        self.fold()
    }
}

pub(crate) fn fold_slice(events: &[TimedEvent]) -> Result<RequestState, TimelineError> {
    let (first, rest) = events.split_first().ok_or(TimelineError::Empty)?;
    // One allocation per request: the report folds millions of timelines.
    let mut state =
        RequestState::open_with_capacity(&first.event, first.actor, first.at, events.len())
            .map_err(|source| TimelineError::Transition { index: 0, source })?;
    for (i, e) in rest.iter().enumerate() {
        state
            .apply_mut(&e.event, e.actor, e.at)
            .map_err(|source| TimelineError::Transition {
                index: i + 1,
                source,
            })?;
    }
    Ok(state)
}

#[cfg(test)]
mod tests;
