//! The reciprocity page: the report for one peer and period (the same
//! [`ReciprocityReport`] `/api/v1/report` serves), with series drawn from the
//! same request summaries the report counts: per month sent and answered in
//! each direction, the distribution of time to answer, and the requests
//! overdue at each month's end. The evidence bundle is a POST: issuing it
//! writes a `report.issued` entry into the log.

use crate::charts::{self, Chart, Series};
use crate::pages::{bad_token, choices, fail, internal, render, waiting, Choice, Fail, Nav};
use crate::views::short;
use crate::{Viewer, Web};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use detente_domain::{time, Origin};
use detente_node::report::{parse_date, summaries};
use detente_requests::{
    report_from_summaries, Direction, Period, ReciprocityReport, Status, Summary,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Upper bounds of the time-to-answer buckets, in days (the last is open).
const BUCKET_DAYS: [i64; 5] = [1, 3, 7, 14, 30];
const BUCKETS: [&str; 6] = [
    "under 1 day",
    "1 to 3 days",
    "3 to 7 days",
    "7 to 14 days",
    "14 to 30 days",
    "30 days or more",
];

/// One direction's numbers per month of the period.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct DirectionSeries {
    /// Requests submitted in each month.
    pub sent: Vec<u64>,
    /// Of those, the ones answered (the report's `answered`, by month).
    pub answered: Vec<u64>,
    /// Requests overdue at each month's end (the last: at `now`).
    pub overdue: Vec<u64>,
    /// Answered requests per bucket of time to answer ([`BUCKETS`]).
    pub time_to_answer: Vec<u64>,
}

/// The report with the series its charts draw, defined once for the page and
/// any JSON rendering of it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ReciprocityView {
    pub report: ReciprocityReport,
    /// `YYYY-MM` of each month the series cover.
    pub months: Vec<String>,
    pub buckets: Vec<String>,
    pub outbound: DirectionSeries,
    pub inbound: DirectionSeries,
}

fn month_of(t: DateTime<Utc>) -> NaiveDate {
    NaiveDate::from_ymd_opt(t.year(), t.month(), 1).expect("first of a month")
}

fn next_month(d: NaiveDate) -> NaiveDate {
    d.checked_add_months(chrono::Months::new(1)).unwrap_or(d)
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).expect("midnight").and_utc()
}

/// Months a chart shows at most from the period's start; a longer period
/// starts at its first request instead.
const MONTHS: i32 = 36;

/// The months of the period up to its end (or now).
fn months(period: &Period, first: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Vec<NaiveDate> {
    let end = period
        .until
        .map_or(now, |u| u.min(now) - TimeDelta::microseconds(1));
    let mut start = month_of(period.since.min(end));
    let span = (end.year() - start.year()) * 12 + end.month() as i32 - start.month() as i32;
    if span >= MONTHS {
        start = month_of(first.map_or(end, |f| f.max(period.since).min(end)));
    }
    let mut out = vec![start];
    while next_month(*out.last().expect("one")) <= month_of(end) && out.len() < 600 {
        out.push(next_month(*out.last().expect("one")));
    }
    out
}

fn bucket(seconds: i64) -> usize {
    let days = seconds / 86_400;
    BUCKET_DAYS.iter().position(|b| days < *b).unwrap_or(5)
}

impl ReciprocityView {
    /// The report over `summaries` of `peer` and the series of the same ones.
    pub fn build(
        all: &[Summary],
        peer: &Origin,
        period: Period,
        now: DateTime<Utc>,
    ) -> ReciprocityView {
        let report = report_from_summaries(all, peer, period, now);
        let inside: Vec<&Summary> = all
            .iter()
            .filter(|s| s.peer == *peer && period.contains(s.submitted_at) && s.submitted_at <= now)
            .collect();
        let first = inside.iter().map(|s| s.submitted_at).min();
        let months = months(&period, first, now);
        let ends: Vec<DateTime<Utc>> = months
            .iter()
            .map(|m| midnight(next_month(*m)).min(now))
            .collect();
        let empty = || DirectionSeries {
            sent: vec![0; months.len()],
            answered: vec![0; months.len()],
            overdue: vec![0; months.len()],
            time_to_answer: vec![0; BUCKETS.len()],
        };
        let (mut out, mut inb) = (empty(), empty());
        for s in inside {
            let d = match s.direction {
                Direction::Outbound => &mut out,
                Direction::Inbound => &mut inb,
            };
            let m = month_of(s.submitted_at);
            let i = months.iter().position(|x| *x == m).unwrap_or(0);
            d.sent[i] += 1;
            if s.status == Status::Answered {
                d.answered[i] += 1;
                if let Some(c) = s.closed_at {
                    d.time_to_answer[bucket((c - s.submitted_at).num_seconds())] += 1;
                }
            }
            for (k, end) in ends.iter().enumerate() {
                let open = s.closed_at.is_none_or(|c| c > *end);
                d.overdue[k] += (s.submitted_at <= *end && *end > s.answer_by && open) as u64;
            }
        }
        ReciprocityView {
            report,
            months: months
                .iter()
                .map(|m| m.format("%Y-%m").to_string())
                .collect(),
            buckets: BUCKETS.iter().map(|b| b.to_string()).collect(),
            outbound: out,
            inbound: inb,
        }
    }

    fn charts(&self) -> Vec<Chart> {
        let s = |name: &str, colour, values: &Vec<u64>| Series {
            name: name.into(),
            colour,
            values: values.clone(),
        };
        let (sent, answered, out, inb) = ("#1f5fa8", "#2e7d32", "#1f5fa8", "#b35900");
        vec![
            charts::bars(
                "chart-outbound",
                "Our requests to the peer: sent and answered per month",
                self.months.clone(),
                &[
                    s("sent", sent, &self.outbound.sent),
                    s("answered", answered, &self.outbound.answered),
                ],
            ),
            charts::bars(
                "chart-inbound",
                "The peer's requests to us: sent and answered per month",
                self.months.clone(),
                &[
                    s("sent", sent, &self.inbound.sent),
                    s("answered", answered, &self.inbound.answered),
                ],
            ),
            charts::bars(
                "chart-answer-times",
                "Time to answer: answered requests per duration",
                self.buckets.clone(),
                &[
                    s("answered by the peer", out, &self.outbound.time_to_answer),
                    s("answered by us", inb, &self.inbound.time_to_answer),
                ],
            ),
            charts::lines(
                "chart-overdue",
                "Requests overdue at the end of each month",
                self.months.clone(),
                &[
                    s("ours, overdue at the peer", out, &self.outbound.overdue),
                    s("theirs, overdue with us", inb, &self.inbound.overdue),
                ],
            ),
        ]
    }
}

#[derive(Deserialize, Default)]
pub struct ReportQuery {
    #[serde(default)]
    peer: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

#[derive(Default)]
pub struct QueryErrors {
    peer: String,
    from: String,
    to: String,
}

/// A report's headline numbers, one row per direction.
pub struct Row {
    label: &'static str,
    values: Vec<u64>,
    median: String,
    p90: String,
}

#[derive(Template)]
#[template(path = "reciprocity.html")]
struct ReciprocityPage {
    nav: Nav,
    q: ReportQuery,
    peers: Vec<Choice>,
    errors: QueryErrors,
    view: Option<ReciprocityView>,
    charts: Vec<Chart>,
    rows: Vec<Row>,
    since: String,
    until: String,
    now: String,
    evidence_since: String,
}

const COLUMNS: [&str; 11] = [
    "sent",
    "delivered",
    "acknowledged",
    "answered",
    "partially answered",
    "declined",
    "withdrawn",
    "pending",
    "overdue",
    "acknowledgement overdue",
    "answered late",
];

fn duration(s: Option<i64>) -> String {
    match s {
        None => "none".into(),
        Some(s) if s < 3600 => format!("{} min", s / 60),
        Some(s) if s < 172_800 => format!("{:.1} h", s as f64 / 3600.0),
        Some(s) => format!("{:.1} d", s as f64 / 86_400.0),
    }
}

fn rows(r: &ReciprocityReport) -> Vec<Row> {
    let row = |label, d: &detente_requests::DirectionStats| Row {
        label,
        values: vec![
            d.sent,
            d.delivered,
            d.acknowledged,
            d.answered,
            d.partially_answered,
            d.declined,
            d.withdrawn,
            d.pending,
            d.overdue,
            d.acknowledgement_overdue,
            d.answered_late,
        ],
        median: duration(d.time_to_answer.median_seconds),
        p90: duration(d.time_to_answer.p90_seconds),
    };
    vec![
        row("Ours to the peer", &r.outbound),
        row("The peer's to us", &r.inbound),
    ]
}

/// The default period: the last twelve months, from the first of a month.
fn default_since(now: DateTime<Utc>) -> DateTime<Utc> {
    let m = month_of(now);
    midnight(m.checked_sub_months(chrono::Months::new(11)).unwrap_or(m))
}

/// Checks the query: the peer, and the dates of the period.
fn period_of(q: &ReportQuery, now: DateTime<Utc>) -> (Option<Origin>, Period, QueryErrors) {
    let mut e = QueryErrors::default();
    let peer = match Origin::parse(q.peer.trim()) {
        Ok(p) => Some(p),
        Err(err) => {
            e.peer = format!("Choose a peer: {err}");
            None
        }
    };
    let date = |s: &str, err: &mut String| match s.trim() {
        "" => None,
        s => parse_date(s).map_err(|m| *err = m).ok(),
    };
    let since = date(&q.from, &mut e.from).unwrap_or_else(|| default_since(now));
    let until = date(&q.to, &mut e.to);
    if until.is_some_and(|u| u <= since) {
        e.to = "The end must come after the start.".into();
    }
    (peer, Period { since, until }, e)
}

fn report_page(
    web: &Web,
    v: &Viewer,
    mut q: ReportQuery,
) -> Result<(ReciprocityPage, StatusCode), Fail> {
    let now = web.exchange.now();
    let configured: Vec<String> = web
        .node
        .store()
        .peers()
        .map_err(fail)?
        .into_iter()
        .map(|p| p.origin)
        .collect();
    if q.peer.is_empty() {
        q.peer = configured.first().cloned().unwrap_or_default();
    }
    let (peer, period, errors) = period_of(&q, now);
    let bad = !errors.peer.is_empty() || !errors.from.is_empty() || !errors.to.is_empty();
    let view = match (&peer, bad) {
        (Some(p), false) => {
            let all = summaries(&web.node, Some(p.as_str()), Some(period.since)).map_err(fail)?;
            Some(ReciprocityView::build(&all, p, period, now))
        }
        _ => None,
    };
    let w = waiting(web, v)?;
    let status = match (bad, configured.is_empty()) {
        (true, false) => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::OK,
    };
    let page = ReciprocityPage {
        nav: Nav::new(v, "reciprocity", &w),
        peers: choices(configured.into_iter(), &q.peer),
        charts: view.as_ref().map(|v| v.charts()).unwrap_or_default(),
        rows: view.as_ref().map(|v| rows(&v.report)).unwrap_or_default(),
        since: short(Some(&time::format(&period.since))),
        until: period
            .until
            .map(|u| short(Some(&time::format(&u))))
            .unwrap_or_else(|| "now".into()),
        now: short(Some(&time::format(&now))),
        evidence_since: period.since.format("%Y-%m-%d").to_string(),
        view,
        errors,
        q,
    };
    Ok((page, status))
}

pub async fn page(
    State(web): State<Arc<Web>>,
    v: Viewer,
    Query(q): Query<ReportQuery>,
) -> Response {
    match report_page(&web, &v, q) {
        Ok((p, status)) => render(&p, status),
        Err(f) => f.into_response(),
    }
}

#[derive(Deserialize)]
pub struct EvidenceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    peer: String,
    #[serde(default)]
    since: String,
}

/// Issues the report into the log and downloads the evidence bundle, as
/// `POST /api/v1/report/evidence` and `detente report --evidence` do.
pub async fn evidence(
    State(web): State<Arc<Web>>,
    v: Viewer,
    Form(f): Form<EvidenceForm>,
) -> Response {
    if !v.csrf_ok(&f.csrf) {
        return bad_token();
    }
    let q = ReportQuery {
        peer: f.peer.clone(),
        from: f.since.clone(),
        to: String::new(),
    };
    let (peer, period, errors) = period_of(&q, web.exchange.now());
    let Some(peer) = peer.filter(|_| errors.from.is_empty()) else {
        return match report_page(&web, &v, q) {
            Ok((p, _)) => render(&p, StatusCode::UNPROCESSABLE_ENTITY),
            Err(f) => f.into_response(),
        };
    };
    let bundle = detente_node::evidence::bundle(
        &web.node,
        Some(peer.as_str()),
        Some(period.since),
        web.exchange.now(),
    )
    .await;
    let body = match bundle {
        Ok(b) => b.to_string(),
        Err(e) => return internal(e),
    };
    tracing::info!(user = %v.name, peer = %peer, "evidence bundle issued from the web interface");
    let name = format!(
        "attachment; filename=\"evidence-{}-{}.json\"",
        peer.as_str().replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '.' && c != '-',
            "_"
        ),
        period.since.format("%Y%m%d")
    );
    (
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (header::CONTENT_DISPOSITION, name),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        time::parse(s).unwrap()
    }

    fn summary(dir: Direction, submitted: &str, answer_by: &str, closed: Option<&str>) -> Summary {
        Summary {
            direction: dir,
            peer: Origin::parse("b.example").unwrap(),
            status: if closed.is_some() {
                Status::Answered
            } else {
                Status::Acknowledged
            },
            submitted_at: at(submitted),
            acknowledge_by: at(submitted),
            answer_by: at(answer_by),
            delivered: true,
            acknowledged_at: Some(at(submitted)),
            closed_at: closed.map(at),
            decline_ground: None,
        }
    }

    #[test]
    fn series_add_up_to_the_report() {
        let peer = Origin::parse("b.example").unwrap();
        let all = [
            summary(
                Direction::Outbound,
                "2026-01-05T00:00:00Z",
                "2026-01-20T00:00:00Z",
                Some("2026-01-06T12:00:00Z"),
            ),
            // Overdue at the end of January, answered in February.
            summary(
                Direction::Outbound,
                "2026-01-10T00:00:00Z",
                "2026-01-25T00:00:00Z",
                Some("2026-02-10T00:00:00Z"),
            ),
            summary(
                Direction::Inbound,
                "2026-02-01T00:00:00Z",
                "2026-02-15T00:00:00Z",
                None,
            ),
            summary(
                Direction::Inbound,
                "2026-03-01T00:00:00Z",
                "2026-04-15T00:00:00Z",
                None,
            ),
        ];
        let period = Period {
            since: at("2026-01-01T00:00:00Z"),
            until: None,
        };
        let now = at("2026-03-15T00:00:00Z");
        let v = ReciprocityView::build(&all, &peer, period, now);
        assert_eq!(v.months, ["2026-01", "2026-02", "2026-03"]);
        assert_eq!(v.outbound.sent, [2, 0, 0]);
        assert_eq!(v.outbound.answered, [2, 0, 0]);
        assert_eq!(v.outbound.overdue, [1, 0, 0]);
        assert_eq!(v.outbound.time_to_answer, [0, 1, 0, 0, 0, 1]);
        assert_eq!(v.inbound.sent, [0, 1, 1]);
        assert_eq!(v.inbound.overdue, [0, 1, 1]);
        let r = &v.report;
        assert_eq!(v.outbound.sent.iter().sum::<u64>(), r.outbound.sent);
        assert_eq!(v.inbound.overdue.last().copied(), Some(r.inbound.overdue));
        assert_eq!(
            v.outbound.time_to_answer.iter().sum::<u64>(),
            r.outbound.time_to_answer.samples
        );
        // A long period starts at its first request, not decades of zeros.
        let long = Period {
            since: at("2000-01-01T00:00:00Z"),
            until: None,
        };
        let v = ReciprocityView::build(&all, &peer, long, now);
        assert_eq!(v.months, ["2026-01", "2026-02", "2026-03"]);
        let short = Period {
            since: at("2025-12-01T00:00:00Z"),
            until: Some(at("2026-02-01T00:00:00Z")),
        };
        let v = ReciprocityView::build(&all, &peer, short, now);
        assert_eq!(v.months, ["2025-12", "2026-01"]);
        assert_eq!(v.outbound.sent, [0, 2]);
    }
}
