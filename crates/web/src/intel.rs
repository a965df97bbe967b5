//! Threat intelligence: the node's TAXII API root and collections with their
//! object counts and access lists, and the cooperation requests the objects
//! of a collection cite (the `detente-request` external reference a node adds
//! to each indicator it publishes with a request). Read-only, for every role.

use crate::pages::{fail, internal, not_found, render, waiting, Fail, Nav};
use crate::{Viewer, Web};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use detente_taxii::store::{Collection, ObjectCounts};
use detente_taxii::{Taxii, API_ROOT};
use serde::Deserialize;
use std::sync::Arc;

type W = State<Arc<Web>>;

/// Cited requests per page.
const PAGE: usize = 50;

pub struct RootLine {
    path: &'static str,
    title: String,
    max_content_length: usize,
}

pub struct CollectionLine {
    id: String,
    title: String,
    alias: String,
    description: String,
    objects: u64,
    versions: u64,
    read: String,
    write: String,
    red: String,
}

/// An access list in words: `*` is anyone authenticated.
fn who(list: &[String]) -> String {
    if list.is_empty() {
        return "nobody".into();
    }
    list.iter()
        .map(|p| match p.as_str() {
            "*" => "any signed-in user or peer",
            p => p,
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl CollectionLine {
    fn new(c: Collection, n: ObjectCounts) -> CollectionLine {
        CollectionLine {
            read: who(&c.read),
            write: who(&c.write),
            red: who(&c.red_recipients),
            id: c.id,
            title: c.title,
            alias: c.alias.unwrap_or_default(),
            description: c.description.unwrap_or_default(),
            objects: n.objects,
            versions: n.versions,
        }
    }
}

#[derive(Template)]
#[template(path = "intel.html")]
struct IntelPage {
    nav: Nav,
    root: Option<RootLine>,
    collections: Vec<CollectionLine>,
}

fn taxii(web: &Web) -> Option<&Arc<Taxii>> {
    web.taxii.get()
}

fn nav(web: &Web, v: &Viewer) -> Result<Nav, Fail> {
    let w = waiting(web, v)?;
    Ok(Nav::new(v, "intel", &w))
}

pub async fn intel(State(web): W, v: Viewer) -> Response {
    let nav = match nav(&web, &v) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    let Some(t) = taxii(&web) else {
        let page = IntelPage {
            nav,
            root: None,
            collections: Vec::new(),
        };
        return render(&page, StatusCode::OK);
    };
    let store = t.store();
    let all = match store.collections() {
        Ok(all) => all,
        Err(e) => return internal(e),
    };
    let mut collections = Vec::with_capacity(all.len());
    for c in all {
        match store.object_counts(&c.id) {
            Ok(n) => collections.push(CollectionLine::new(c, n)),
            Err(e) => return internal(e),
        }
    }
    let page = IntelPage {
        nav,
        root: Some(RootLine {
            path: API_ROOT,
            title: t.config().title.clone(),
            max_content_length: t.config().max_content_length,
        }),
        collections,
    };
    render(&page, StatusCode::OK)
}

/// A request a collection's objects cite; known or not on this node.
pub struct CiteLine {
    request_id: String,
    known: bool,
    reference: String,
    direction: String,
    peer: String,
    kind: String,
    status: String,
    objects: u64,
}

#[derive(Template)]
#[template(path = "intel_collection.html")]
struct CollectionPage {
    nav: Nav,
    c: CollectionLine,
    cites: Vec<CiteLine>,
    /// Query of the next page, empty on the last.
    next: String,
    first_page: bool,
}

#[derive(Deserialize, Default)]
pub struct CiteQuery {
    #[serde(default)]
    after: String,
}

fn cite_line(web: &Web, request_id: String, objects: u64) -> Result<CiteLine, Fail> {
    let row = web.node.store().request(&request_id).map_err(fail)?;
    let mut line = CiteLine {
        request_id,
        known: row.is_some(),
        reference: String::new(),
        direction: String::new(),
        peer: String::new(),
        kind: String::new(),
        status: String::new(),
        objects,
    };
    if let Some(r) = row {
        (line.reference, line.peer) = (r.reference, r.peer);
        line.direction = r.direction.as_str().to_string();
        (line.kind, line.status) = (r.kind.as_str().to_string(), r.status.to_string());
    }
    Ok(line)
}

pub async fn collection(
    State(web): W,
    v: Viewer,
    Path(id): Path<String>,
    Query(q): Query<CiteQuery>,
) -> Response {
    let nav = match nav(&web, &v) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    let Some(t) = taxii(&web) else {
        return not_found("this node serves no TAXII");
    };
    let store = t.store();
    let c = match store.collection(&id) {
        Ok(Some(c)) => c,
        Ok(None) => return not_found("no such collection"),
        Err(e) => return internal(e),
    };
    let (counts, mut cited) = match (
        store.object_counts(&c.id),
        store.citing_requests(&c.id, &q.after, PAGE + 1),
    ) {
        (Ok(n), Ok(cited)) => (n, cited),
        (Err(e), _) | (_, Err(e)) => return internal(e),
    };
    let more = cited.len() > PAGE;
    cited.truncate(PAGE);
    let next = match (more, cited.last()) {
        (true, Some(last)) => {
            serde_urlencoded::to_string([("after", &last.request_id)]).unwrap_or_default()
        }
        _ => String::new(),
    };
    let mut cites = Vec::with_capacity(cited.len());
    for x in cited {
        match cite_line(&web, x.request_id, x.objects) {
            Ok(l) => cites.push(l),
            Err(r) => return r.into_response(),
        }
    }
    let page = CollectionPage {
        nav,
        c: CollectionLine::new(c, counts),
        cites,
        next,
        first_page: q.after.is_empty(),
    };
    render(&page, StatusCode::OK)
}
