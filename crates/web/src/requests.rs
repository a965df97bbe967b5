//! The request listing: filters kept in the URL, keyset pagination.

use crate::bulk::BulkOutcome;
use crate::pages::*;
use crate::views::RequestLine;
use crate::{Viewer, Web};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use detente_requests::{Direction, RequestType, Status};
use detente_storage::{RequestFilter, RequestOrder, RequestRow, StoredText};
use serde::Deserialize;

#[derive(Deserialize, Default, Clone)]
pub struct ListQuery {
    #[serde(default)]
    peer: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    direction: String,
    #[serde(default)]
    overdue: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: String,
}

/// Errors beside the filter fields.
#[derive(Default)]
pub struct FilterErrors {
    peer: String,
    kind: String,
    status: String,
    direction: String,
    q: String,
    after: String,
}

impl FilterErrors {
    fn any(&self) -> bool {
        [
            &self.peer,
            &self.kind,
            &self.status,
            &self.direction,
            &self.q,
            &self.after,
        ]
        .iter()
        .any(|e| !e.is_empty())
    }
}

#[derive(Template)]
#[template(path = "requests.html")]
struct RequestsPage {
    nav: Nav,
    f: ListQuery,
    errors: FilterErrors,
    types: Vec<Choice>,
    statuses: Vec<Choice>,
    directions: Vec<Choice>,
    rows: Vec<RequestLine>,
    next: String,
    /// The bulk form posts back to this listing, filters kept.
    bulk_action: String,
    bulk: BulkOutcome,
    can_act: bool,
}

const STATUSES: [Status; 7] = [
    Status::Submitted,
    Status::Delivered,
    Status::Acknowledged,
    Status::PartiallyAnswered,
    Status::Answered,
    Status::Declined,
    Status::Withdrawn,
];

fn filter_of(q: &ListQuery, now: &str) -> (RequestFilter, FilterErrors) {
    let mut e = FilterErrors::default();
    if let Some(p) = opt(&q.peer) {
        if let Err(err) = detente_domain::Origin::parse(&p) {
            e.peer = format!("Not a node origin: {err}");
        }
    }
    // `Some(None)`: given, but not a value of the list.
    let kind = opt(&q.kind).map(|k| RequestType::from_text(&k).ok());
    if kind == Some(None) {
        e.kind = "Choose a request type from the list.".into();
    }
    let status = opt(&q.status).map(|s| Status::from_text(&s).ok());
    if status == Some(None) {
        e.status = "Choose a status from the list.".into();
    }
    let direction = opt(&q.direction).map(|d| Direction::from_text(&d).ok());
    if direction == Some(None) {
        e.direction = "Choose inbound or outbound.".into();
    }
    if q.q.chars().count() > 200 {
        e.q = "Search for at most 200 characters.".into();
    }
    let after = opt(&q.after).and_then(|a| {
        let cursor = a
            .split_once('|')
            .map(|(k, i)| (k.to_string(), i.to_string()));
        if cursor.is_none() {
            e.after = "This page link is damaged; start from the first page.".into();
        }
        cursor
    });
    let f = RequestFilter {
        peer: opt(&q.peer),
        kind: kind.flatten(),
        status: status.flatten(),
        direction: direction.flatten(),
        text: opt(&q.q),
        overdue_at: (!q.overdue.is_empty()).then(|| now.to_string()),
        order: RequestOrder::Newest,
        after,
        limit: Some(PAGE + 1),
        ..RequestFilter::default()
    };
    (f, e)
}

/// The link to the page after `last`, keeping every filter.
fn next_link(q: &ListQuery, last: &RequestRow) -> String {
    let after = format!("{}|{}", RequestOrder::Newest.key(last), last.id);
    let q = ListQuery { after, ..q.clone() };
    format!("/ui/requests{}", query_of(&q))
}

pub async fn requests(State(web): W, v: Viewer, Query(q): Query<ListQuery>) -> Response {
    list_page(&web, &v, q, BulkOutcome::default(), StatusCode::OK)
}

/// The listing for `q`, with what a bulk action did (or why it did not).
pub(crate) fn list_page(
    web: &Web,
    v: &Viewer,
    q: ListQuery,
    bulk: BulkOutcome,
    code: StatusCode,
) -> Response {
    let w = match waiting(web, v) {
        Ok(w) => w,
        Err(r) => return r.into_response(),
    };
    let now = web.exchange.now();
    let (filter, errors) = filter_of(&q, &detente_domain::time::format(&now));
    let (mut rows, status) = match errors.any() {
        true => (Vec::new(), StatusCode::UNPROCESSABLE_ENTITY),
        false => match web.node.store().requests(&filter) {
            Ok(rows) => (rows, code),
            Err(e) => return internal(e),
        },
    };
    let mut next = String::new();
    if rows.len() as u64 > PAGE {
        rows.truncate(PAGE as usize);
        next = rows.last().map(|l| next_link(&q, l)).unwrap_or_default();
    }
    let page = RequestsPage {
        nav: Nav::new(v, "requests", &w),
        types: choices(RequestType::ALL.iter().map(|t| t.as_str()), &q.kind),
        statuses: choices(STATUSES.iter().map(|s| s.as_str()), &q.status),
        directions: choices(
            [Direction::Inbound, Direction::Outbound]
                .map(Direction::as_str)
                .into_iter(),
            &q.direction,
        ),
        rows: rows.iter().map(|r| RequestLine::new(r, &now)).collect(),
        bulk_action: format!("/ui/requests/bulk{}", query_of(&q)),
        f: q,
        errors,
        next,
        bulk,
        can_act: v.can_act(),
    };
    render(&page, status)
}

/// `?peer=..&type=..`: the filters of `q` as a query string ("" for none).
fn query_of(q: &ListQuery) -> String {
    let pairs = [
        ("peer", q.peer.as_str()),
        ("type", &q.kind),
        ("status", &q.status),
        ("direction", &q.direction),
        ("overdue", &q.overdue),
        ("q", &q.q),
        ("after", &q.after),
    ];
    let kept: Vec<_> = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    match kept.is_empty() {
        true => String::new(),
        false => format!("?{}", serde_urlencoded::to_string(kept).unwrap_or_default()),
    }
}
