//! Puts a whole node together: the log API, users, and the TAXII server with the
//! transfer gate on everything it serves to peers.

use crate::AppState;
use axum::Router;
use detente_auth::{
    AuthError, Authenticator, PasswordCheck, Principal, PrincipalKind, Role, Step, Users,
};
use detente_domain::Country;
use detente_node::exchange::Exchange;
use detente_node::outbound::{Outbound, Outgoing, Verdict};
use detente_node::{Node, NodeError};
use detente_taxii::{OutboundDecision, OutboundFilter, Taxii, TaxiiConfig};
use detente_witness::{LogConfig, Witness};
use std::sync::Arc;

/// Builds the application a node serves, with the system clock.
pub fn node_app(node: Arc<Node>) -> Result<Router, NodeError> {
    node_app_with_clock(node, detente_node::exchange::system_clock())
}

/// Builds the application with the clock cooperation events are dated by (a
/// simulated one in tests and `detente demo`). Must run inside a tokio runtime:
/// it starts the delivery worker, which stops when the router is dropped.
pub fn node_app_with_clock(
    node: Arc<Node>,
    clock: detente_node::exchange::Clock,
) -> Result<Router, NodeError> {
    Ok(node_app_parts(node, clock)?.0)
}

/// The application and its exchange, for callers that drive requests in process
/// (`detente demo`, benchmarks).
pub fn node_app_parts(
    node: Arc<Node>,
    clock: detente_node::exchange::Clock,
) -> Result<(Router, Arc<Exchange>), NodeError> {
    let users = Users::new(node.store().clone());
    let limits = &node.config().limits;
    let guards = Arc::new(detente_node::guards::Guards::new(node.store()));
    let users = Arc::new(
        users
            .with_address_limit(limits.login_failures_per_address)
            .with_user_limit(limits.login_failures_per_user)
            .with_shared_failures(guards.failures()),
    );
    let config = TaxiiConfig {
        max_content_length: node.config().limits.max_body_bytes,
        ..TaxiiConfig::default()
    };
    let auth = Arc::new(NodeAuth {
        users: users.clone(),
    });
    // One gate for requests and TAXII: one ledger, decided one at a time.
    let exchange = Exchange::new(node.clone(), clock.clone())?;
    let outbound = exchange.outbound().clone();
    let peers = node.clone();
    let peer_country: PeerCountry =
        Arc::new(move |origin: &str| Some(peers.peer(origin).ok()??.country));
    let gate = GateFilter {
        outbound: outbound.clone(),
        peer_country,
    };
    let taxii = Arc::new(
        Taxii::with_store(node.store().clone(), auth.clone(), config)
            .map_err(|e| NodeError::Config(format!("taxii: {e}")))?
            .with_outbound_filter(Arc::new(gate)),
    );
    exchange.set_stix_publisher(stix_publisher(taxii.clone(), node.config().origin.clone()));
    let witness = Arc::new(open_witness(&node)?);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(exchange.clone().run_delivery(stopped.clone()));
    tokio::spawn(detente_node::witnessing::run(node.clone(), stopped.clone()));
    detente_node::notify::Notifier::start(&node, directory(users.clone()), clock, stopped.clone())?;
    tokio::spawn(follow_peers(node.clone(), witness.clone(), stopped));
    let web = detente_web::Web::open(
        node.clone(),
        exchange.clone(),
        users,
        node.config().tls.is_some(),
        detente_web::session::Lifetimes::default(),
        detente_web::session::system_clock(),
    )
    .map_err(|e| NodeError::Config(format!("web interface: {e}")))?;
    web.set_taxii(taxii.clone());
    let mut state = AppState::new(node);
    state.guards = guards;
    state.auth = Some(auth);
    state.outbound = Some(outbound);
    state.exchange = Some(exchange.clone());
    state.witness = Some(witness.clone());
    state.stop_delivery = Some(Arc::new(stop));
    let extra = detente_taxii::router(taxii)
        .merge(detente_witness::router(witness))
        .merge(detente_web::router(web));
    Ok((crate::app(state, Some(extra)), exchange))
}

/// The users notifications go to, with their roles.
fn directory(users: Arc<Users>) -> detente_node::notify::Directory {
    Arc::new(move || {
        let list = users.list_users().unwrap_or_else(|e| {
            tracing::error!(error = %e, "notifications: could not list the users");
            Vec::new()
        });
        list.into_iter()
            .map(|u| (u.name, u.role.as_str().to_string()))
            .collect()
    })
}

/// STIX attached to a request goes to the TAXII collection shared with the peer.
fn stix_publisher(taxii: Arc<Taxii>, origin: String) -> detente_node::exchange::StixPublisher {
    Arc::new(move |peer: &str, objects: Vec<serde_json::Value>| {
        let c = taxii
            .collection_for(peer)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no TAXII collection is shared with {peer} (detente collection add --read {peer})"))?;
        taxii
            .publish(&c.id, &origin, objects)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
}

/// The witness this node runs for its peers' logs. A conflicting checkpoint
/// (proof that a peer showed two versions of its log) is recorded in this node's
/// own log as well as kept by the witness.
fn open_witness(node: &Arc<Node>) -> Result<Witness, NodeError> {
    let mut logs = Vec::new();
    for p in node.store().peers()? {
        logs.push(peer_log(&p.origin, &p.key)?);
    }
    let w = Witness::new(node.store().clone(), node.key_arc(), logs);
    let n = node.clone();
    w.on_conflict(move |c| {
        tracing::error!(origin = %c.origin, kind = ?c.kind, "a peer presented a checkpoint inconsistent with one it signed before");
        n.metrics()
            .witness_conflicts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let evidence = serde_json::json!({ "origin": c.origin, "kind": format!("{:?}", c.kind).to_lowercase(),
            "cosigned_checkpoint": c.cosigned_note, "conflicting_checkpoint": c.submitted_note });
        if let Err(e) = n.record_detached("witness.conflict", evidence) {
            tracing::error!(error = %e, "could not log the conflict");
        }
    });
    Ok(w)
}

/// Keeps the witness following every configured peer's log, however the peer
/// was added.
async fn follow_peers(
    node: Arc<Node>,
    witness: Arc<Witness>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        for p in node.store().peers().unwrap_or_default() {
            if let Ok(log) = peer_log(&p.origin, &p.key) {
                witness.add_log(log);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// A peer's log as the witness knows it.
pub fn peer_log(origin: &str, key: &str) -> Result<LogConfig, NodeError> {
    let key = detente_domain::VerifierKey::parse(key)?;
    LogConfig::new(origin, vec![key]).map_err(|e| NodeError::Config(format!("witness: {e}")))
}

/// Recognises the node's users, and peers whose signed call the server verified
/// (see `peers::verify_signature`, which also strips any forged marker).
pub struct NodeAuth {
    pub users: Arc<Users>,
}

impl Authenticator for NodeAuth {
    fn authenticate(
        &self,
        headers: &axum::http::HeaderMap,
    ) -> Result<Option<Principal>, AuthError> {
        match peer(headers) {
            Some(p) => Ok(Some(p)),
            None => self.users.authenticate(headers),
        }
    }

    fn start(&self, headers: &axum::http::HeaderMap, client: Option<std::net::IpAddr>) -> Step {
        match peer(headers) {
            Some(p) => Step::Done(Ok(Some(p))),
            None => self.users.start(headers, client),
        }
    }

    fn finish(&self, check: PasswordCheck) -> Result<Principal, AuthError> {
        self.users.finish(check)
    }
}

/// The peer whose signature `verify_signature` verified.
fn peer(headers: &axum::http::HeaderMap) -> Option<Principal> {
    let origin = headers.get(crate::PEER_HEADER)?.to_str().ok()?;
    Some(Principal {
        name: origin.to_string(),
        role: Role::Officer,
        kind: PrincipalKind::Peer {
            origin: origin.to_string(),
        },
    })
}

/// Where a peer is, by origin. A peer whose country is unknown gets nothing: the
/// gate fails closed.
pub type PeerCountry = Arc<dyn Fn(&str) -> Option<Country> + Send + Sync>;

/// The transfer gate as TAXII's outbound filter: each STIX object served to a
/// peer is scanned and judged for the peer's country; the decision is logged.
pub struct GateFilter {
    pub outbound: Arc<Outbound>,
    pub peer_country: PeerCountry,
}

impl OutboundFilter for GateFilter {
    fn check(&self, principal: &Principal, object: &serde_json::Value) -> OutboundDecision {
        let PrincipalKind::Peer { origin } = &principal.kind else {
            return OutboundDecision::Allow;
        };
        let Some(country) = (self.peer_country)(origin) else {
            return OutboundDecision::Withhold {
                reason: format!("no country known for peer {origin}"),
            };
        };
        let id = object["id"].as_str().unwrap_or("?");
        let version = object["modified"].as_str().unwrap_or("");
        let subject = format!("stix:{id}@{version}");
        let bytes = object.to_string();
        let parts: &[(&str, &[u8])] = &[("object.json", bytes.as_bytes())];
        let out = Outgoing {
            recipient: origin,
            country,
            subject: &subject,
            parts,
            legal_basis: None,
            release: None,
            requested_by: None,
        };
        match self.outbound.check(&out) {
            Ok(Verdict::Send(None)) => OutboundDecision::Allow,
            Ok(Verdict::Send(Some(redacted))) => match serde_json::from_slice(&redacted) {
                Ok(v) => OutboundDecision::Replace(v),
                Err(e) => OutboundDecision::Withhold {
                    reason: format!("redacted copy is not JSON: {e}"),
                },
            },
            Ok(Verdict::Withhold { reason, .. }) => OutboundDecision::Withhold { reason },
            Err(e) => OutboundDecision::Withhold {
                reason: format!("gate failed: {e}"),
            },
        }
    }
}
