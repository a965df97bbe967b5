//! The reciprocity report: for one peer and one period, how many requests went
//! each way and what became of them. It is computed from timelines alone, with
//! the clock passed in, so anyone holding the envelopes recomputes the same
//! numbers.
//!
//! Definitions (all per direction):
//! - A request belongs to the period when its `submitted` time `t` satisfies
//!   `since <= t < until` (no `until`: no upper bound) and `t <= now`.
//! - Its state is the fold of its events with time `<= now`: the report says
//!   what was known at `now`, so recomputing an old report ignores later events.
//! - `sent`: requests in the period. `delivered` / `acknowledged`: requests that
//!   ever reached that step. `answered`, `partially_answered`, `declined`,
//!   `withdrawn`: requests whose current state is that one. `pending`: not final
//!   (includes `partially_answered`). `overdue`: pending and `now` strictly after
//!   the answer deadline. `acknowledgement_overdue`: pending, not acknowledged and
//!   `now` strictly after the acknowledgement deadline. `answered_late`: answered
//!   or declined after the answer deadline. So `sent = answered + declined +
//!   withdrawn + pending`.
//! - `time_to_acknowledge`: seconds from `submitted` to `acknowledged`, over
//!   acknowledged requests. `time_to_answer`: seconds from `submitted` to the
//!   final `answered` event, over answered requests (declines are not answers).
//!   Median and 90th percentile by nearest rank: the value at 1-based rank
//!   `ceil(p/100 * n)` of the sorted samples; `null` when there are none.
//! - `invalid`: timelines in the period (by their first event's time) that fail
//!   the lifecycle rules; they are in no other count, and a non-zero value means
//!   the record itself is disputed.
//!
//! JSON (field order as serialised; `until` and the percentile fields may be
//! `null`; `declined_by_ground` always lists all nine grounds):
//!
//! ```json
//! {"peer": "cert.b.example",
//!  "period": {"since": "2020-01-01T00:00:00.000000Z", "until": null},
//!  "now": "2021-06-16T12:00:00.000000Z",
//!  "outbound": {"sent": 80, "delivered": 80, "acknowledged": 0, "answered": 0,
//!               "partially_answered": 0, "declined": 0, "withdrawn": 0,
//!               "pending": 80, "overdue": 80, "acknowledgement_overdue": 80,
//!               "answered_late": 0,
//!               "declined_by_ground": {"immunity_or_privilege": 0, "...": 0},
//!               "time_to_acknowledge": {"samples": 0, "median_seconds": null, "p90_seconds": null},
//!               "time_to_answer": {"samples": 0, "median_seconds": null, "p90_seconds": null},
//!               "invalid": 0},
//!  "inbound": {"sent": 12, "...": "same fields"}}
//! ```

use crate::lifecycle::{RequestState, Status, TimedEvent, Timeline, TimelineError};
use crate::serde_util::{origin as origin_serde, ts, ts_opt};
use crate::types::{DeclineGround, Direction};
use chrono::{DateTime, Utc};
use detente_domain::Origin;
use serde::Serialize;
use std::collections::BTreeMap;

/// One request as a node sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportItem {
    pub direction: Direction,
    pub peer: Origin,
    pub timeline: Timeline,
}

/// `[since, until)`; `until: None` is open-ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Period {
    #[serde(with = "ts")]
    pub since: DateTime<Utc>,
    #[serde(with = "ts_opt")]
    pub until: Option<DateTime<Utc>>,
}

impl Period {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        t >= self.since && self.until.is_none_or(|u| t < u)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DurationStats {
    pub samples: u64,
    pub median_seconds: Option<i64>,
    pub p90_seconds: Option<i64>,
}

/// Nearest-rank percentile `p` (1..=100) of `samples`, reordering them. O(n).
pub fn nearest_rank(samples: &mut [i64], p: u32) -> Option<i64> {
    if samples.is_empty() {
        return None;
    }
    let n = samples.len();
    let rank = (p as usize * n).div_ceil(100).clamp(1, n);
    let (_, v, _) = samples.select_nth_unstable(rank - 1);
    Some(*v)
}

impl DurationStats {
    fn from_samples(samples: &mut [i64]) -> DurationStats {
        DurationStats {
            samples: samples.len() as u64,
            median_seconds: nearest_rank(samples, 50),
            p90_seconds: nearest_rank(samples, 90),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DirectionStats {
    pub sent: u64,
    pub delivered: u64,
    pub acknowledged: u64,
    pub answered: u64,
    pub partially_answered: u64,
    pub declined: u64,
    pub withdrawn: u64,
    pub pending: u64,
    pub overdue: u64,
    pub acknowledgement_overdue: u64,
    pub answered_late: u64,
    /// Every ground, zeros included, so the JSON shape never varies.
    pub declined_by_ground: BTreeMap<DeclineGround, u64>,
    pub time_to_acknowledge: DurationStats,
    pub time_to_answer: DurationStats,
    pub invalid: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReciprocityReport {
    #[serde(with = "origin_serde")]
    pub peer: Origin,
    pub period: Period,
    #[serde(with = "ts")]
    pub now: DateTime<Utc>,
    pub outbound: DirectionStats,
    pub inbound: DirectionStats,
}

#[derive(Default)]
struct Acc {
    stats: DirectionStats,
    grounds: [u64; 9],
    to_ack: Vec<i64>,
    to_answer: Vec<i64>,
}

/// What a report needs of one request: its state reduced to the fields the
/// counts and durations use. Built from a folded timeline ([`Summary::of`]) or
/// from a node's stored summary rows, so both paths share one counting rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub direction: Direction,
    pub peer: Origin,
    pub status: Status,
    pub submitted_at: DateTime<Utc>,
    pub acknowledge_by: DateTime<Utc>,
    pub answer_by: DateTime<Utc>,
    pub delivered: bool,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub decline_ground: Option<DeclineGround>,
}

impl Summary {
    pub fn of(direction: Direction, peer: Origin, s: &RequestState) -> Summary {
        Summary {
            direction,
            peer,
            status: s.status,
            submitted_at: s.submitted_at,
            acknowledge_by: s.deadlines.acknowledge_by,
            answer_by: s.deadlines.answer_by,
            delivered: s.delivered_at.is_some(),
            acknowledged_at: s.acknowledged_at,
            closed_at: s.closed_at,
            decline_ground: s.decline_ground,
        }
    }
}

impl Acc {
    fn add(&mut self, s: &Summary, now: DateTime<Utc>) {
        let st = &mut self.stats;
        let is_final = s.status.is_final();
        st.sent += 1;
        st.delivered += s.delivered as u64;
        if let Some(t) = s.acknowledged_at {
            st.acknowledged += 1;
            self.to_ack.push((t - s.submitted_at).num_seconds());
        }
        match s.status {
            Status::Answered => {
                st.answered += 1;
                if let Some(t) = s.closed_at {
                    self.to_answer.push((t - s.submitted_at).num_seconds());
                }
            }
            Status::Declined => {
                st.declined += 1;
                if let Some(g) = s.decline_ground {
                    let i = DeclineGround::ALL.iter().position(|x| *x == g).unwrap_or(8);
                    self.grounds[i] += 1;
                }
            }
            Status::Withdrawn => st.withdrawn += 1,
            Status::PartiallyAnswered => st.partially_answered += 1,
            Status::Submitted | Status::Delivered | Status::Acknowledged => {}
        }
        st.pending += !is_final as u64;
        st.overdue += (!is_final && now > s.answer_by) as u64;
        st.acknowledgement_overdue +=
            (!is_final && s.acknowledged_at.is_none() && now > s.acknowledge_by) as u64;
        let closed = matches!(s.status, Status::Answered | Status::Declined);
        st.answered_late += (closed && s.closed_at.is_some_and(|t| t > s.answer_by)) as u64;
    }

    fn finish(mut self) -> DirectionStats {
        self.stats.declined_by_ground = DeclineGround::ALL
            .iter()
            .zip(self.grounds)
            .map(|(g, n)| (*g, n))
            .collect();
        self.stats.time_to_acknowledge = DurationStats::from_samples(&mut self.to_ack);
        self.stats.time_to_answer = DurationStats::from_samples(&mut self.to_answer);
        self.stats
    }
}

/// Computes the report for `peer` over `items` (items of other peers are
/// skipped). O(n) in the number of events; allocates per report, plus one small
/// vector per request for its state.
pub fn reciprocity_report<'a>(
    items: impl IntoIterator<Item = &'a ReportItem>,
    peer: &Origin,
    period: Period,
    now: DateTime<Utc>,
) -> ReciprocityReport {
    let mut out = Acc::default();
    let mut inb = Acc::default();
    for item in items {
        if item.peer != *peer {
            continue;
        }
        let acc = match item.direction {
            Direction::Outbound => &mut out,
            Direction::Inbound => &mut inb,
        };
        let Some(first) = item.timeline.events.first() else {
            acc.stats.invalid += 1;
            continue;
        };
        if !period.contains(first.at) || first.at > now {
            continue;
        }
        match item.timeline.fold_until(now) {
            Ok(state) => acc.add(&Summary::of(item.direction, item.peer.clone(), &state), now),
            Err(_) => acc.stats.invalid += 1,
        }
    }
    ReciprocityReport {
        peer: peer.clone(),
        period,
        now,
        outbound: out.finish(),
        inbound: inb.finish(),
    }
}

impl Timeline {
    /// The state as known at `now`: the fold of the events with time `<= now`,
    /// in log order. (Each side's events go forward in time, but the two
    /// sides' interleave, so these need not be a prefix.) None is
    /// [`TimelineError::Empty`].
    pub fn fold_until(&self, now: DateTime<Utc>) -> Result<RequestState, TimelineError> {
        // The usual case, and the one reports over many timelines hit: no
        // copy when every event is known.
        if self.events.iter().all(|e| e.at <= now) {
            return crate::lifecycle::fold_slice(&self.events);
        }
        let known: Vec<TimedEvent> = self
            .events
            .iter()
            .filter(|e| e.at <= now)
            .cloned()
            .collect();
        crate::lifecycle::fold_slice(&known)
    }
}

/// The same report from summaries a node keeps (one row per request), which is
/// how a node reports over millions of requests without re-reading envelopes.
pub fn report_from_summaries<'a>(
    summaries: impl IntoIterator<Item = &'a Summary>,
    peer: &Origin,
    period: Period,
    now: DateTime<Utc>,
) -> ReciprocityReport {
    let mut out = Acc::default();
    let mut inb = Acc::default();
    for s in summaries {
        if s.peer != *peer || !period.contains(s.submitted_at) || s.submitted_at > now {
            continue;
        }
        match s.direction {
            Direction::Outbound => out.add(s, now),
            Direction::Inbound => inb.add(s, now),
        }
    }
    ReciprocityReport {
        peer: peer.clone(),
        period,
        now,
        outbound: out.finish(),
        inbound: inb.finish(),
    }
}
