//! Cooperation requests between detente nodes: what may be asked
//! ([`RequestType`], [`NewRequest`]), how a request moves ([`apply`],
//! [`Timeline`]), when it is due ([`Policy`]) and how two nodes compare
//! ([`reciprocity_report`]).
//!
//! Everything here is pure — no I/O, no clock, no async — so an auditor can rerun
//! exactly the logic the nodes ran, over envelopes alone, and get the same states
//! and the same report. Every serialised type is part of the signed record format.
//!
//! # JSON
//!
//! Names are snake_case, timestamps RFC 3339 UTC with microseconds
//! (`2021-05-07T10:00:00.000000Z`), ids lowercase UUIDs (v7 when generated here; v4 accepted), origins plain strings.
//! Inputs refuse unknown fields. A timed event (one envelope's payload):
//!
//! ```json
//! {"at": "2021-05-07T10:00:00.000000Z", "actor": "recipient",
//!  "event": {"id": "1b4e28ba-2fa1-41d2-883f-0016d3cca427",
//!            "request_id": "6f1d5b2a-9c3e-4b7a-8d2f-0a1b2c3d4e5f",
//!            "kind": {"type": "declined", "ground": "ne_bis_in_idem", "text": null}}}
//! ```
//!
//! `kind` is one of
//! `{"type": "submitted", "request": NewRequest, "deadlines": {"acknowledge_by", "answer_by"}}`,
//! `{"type": "delivered"}`, `{"type": "acknowledged"}`,
//! `{"type": "partially_answered" | "answered", "note"?, "attachments"?}`,
//! `{"type": "declined", "ground", "text"?}`, `{"type": "withdrawn", "reason"?}`,
//! `{"type": "message", "text", "attachments"?, "proposed_answer_by"?}`,
//! `{"type": "deadline_extended", "answer_by", "sender_consent", "recipient_consent"}`.
//! The report's shape is documented on [`report`].

pub mod deadline;
pub mod lifecycle;
pub mod parties;
pub mod report;
pub mod request;
mod serde_util;
pub mod types;

pub use deadline::{Clocks, Deadlines, Policy, PolicyError, DEFAULT_POLICY_TOML};
pub use lifecycle::{
    apply, Event, EventKind, RequestState, StateView, Status, TimedEvent, Timeline, TimelineError,
    TransitionError,
};
pub use parties::{Parties, PartyError};
pub use report::{
    nearest_rank, reciprocity_report, report_from_summaries, DirectionStats, DurationStats, Period,
    ReciprocityReport, ReportItem, Summary,
};
pub use request::{AttachmentRef, Limits, NewRequest, ValidationError, ValidationErrors};
pub use types::{
    DeclineGround, Direction, EventId, IdError, IncidentClass, RequestId, RequestType, Side, Tlp,
    TlpError, Urgency,
};
