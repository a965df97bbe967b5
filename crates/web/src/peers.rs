//! The peers page: per peer how deliveries went, the last cosignature each
//! way, and a connection test (a POST: it calls the peer, so never on GET).

use crate::pages::{bad_token, fail, forbidden, render, waiting, Fail, Nav};
use crate::views::short;
use crate::{Viewer, Web};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use detente_node::exchange::ConnectionTest;
use detente_node::peer_status::{peer_statuses, PeerStatus};
use serde::Deserialize;
use std::sync::Arc;

/// One peer as the page lays it out: the shared view, times made readable.
pub struct PeerItem {
    pub s: PeerStatus,
    pub added: String,
    pub delivered: String,
    pub error_at: String,
    pub theirs: String,
    pub ours: String,
    /// The connection test just run against this peer, if any.
    pub test: Option<ConnectionTest>,
}

fn cosigned(c: &Option<detente_node::peer_status::CosignatureSeen>) -> String {
    match c {
        Some(c) => format!("size {} at {}", c.size, short(Some(&c.at))),
        None => String::new(),
    }
}

impl PeerItem {
    fn new(s: PeerStatus, test: Option<ConnectionTest>) -> PeerItem {
        PeerItem {
            added: short(Some(&s.added)),
            delivered: short(s.last_delivered_at.as_deref()),
            error_at: short(s.last_error.as_ref().and_then(|e| e.at.as_deref())),
            theirs: cosigned(&s.their_cosignature),
            ours: cosigned(&s.our_cosignature),
            test: test.filter(|t| t.peer == s.origin),
            s,
        }
    }
}

#[derive(Template)]
#[template(path = "peers.html")]
struct PeersPage {
    nav: Nav,
    can_test: bool,
    peers: Vec<PeerItem>,
    error: String,
}

/// The status of every peer, as `/api/v1/peers/status` gives it.
pub fn statuses(web: &Web) -> Result<Vec<PeerStatus>, Fail> {
    peer_statuses(&web.node, &|o| Ok(web.witness.witnessed(o)?)).map_err(fail)
}

fn peers_page(
    web: &Web,
    v: &Viewer,
    test: Option<ConnectionTest>,
    error: String,
) -> Result<PeersPage, Fail> {
    let w = waiting(web, v)?;
    let peers = statuses(web)?
        .into_iter()
        .map(|s| PeerItem::new(s, test.clone()))
        .collect();
    Ok(PeersPage {
        nav: Nav::new(v, "peers", &w),
        can_test: v.can_act(),
        peers,
        error,
    })
}

pub async fn page(State(web): State<Arc<Web>>, v: Viewer) -> Response {
    match peers_page(&web, &v, None, String::new()) {
        Ok(p) => render(&p, StatusCode::OK),
        Err(f) => f.into_response(),
    }
}

#[derive(Deserialize)]
pub struct TestForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    peer: String,
}

/// Runs the connection test and shows its result beside the peer.
pub async fn test(State(web): State<Arc<Web>>, v: Viewer, Form(f): Form<TestForm>) -> Response {
    if !v.csrf_ok(&f.csrf) {
        return bad_token();
    }
    if !v.can_act() {
        return forbidden("only officers and admins test connections to peers");
    }
    let (result, error, status) = match web.exchange.test_peer(&f.peer).await {
        Some(t) => (Some(t), String::new(), StatusCode::OK),
        None => (
            None,
            format!("{:?} is not a configured peer.", f.peer),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    };
    match peers_page(&web, &v, result, error) {
        Ok(p) => render(&p, status),
        Err(f) => f.into_response(),
    }
}
