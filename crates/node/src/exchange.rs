//! Cooperation requests between nodes. Every lifecycle event is an envelope
//! signed by the acting node and appended to its log; the envelope then goes
//! through a durable outbox to the counterpart, which checks it, appends the same
//! bytes to its own log and answers with a receipt: a C2SP tlog-proof of the
//! envelope in the recipient's log. A `submitted` envelope is answered with the
//! recipient's signed `delivered` event as well. So both logs hold every event of
//! an exchange, and delivery is provable from the sender's records alone.

mod attachments;
mod delivery;
mod probe;
pub use probe::ConnectionTest;

use crate::evidence::CLOCK_TOLERANCE_SECS;
use crate::outbound::{Outbound, Outgoing, Verdict};
use crate::views::{RequestSummary, RequestView};
use crate::{Node, NodeError, Published};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use detente_domain::{time, Envelope, SignedEnvelope, VerifierKey};
use detente_log::proof_file::ProofFile;
use detente_requests::{
    apply, AttachmentRef, Event, EventId, EventKind, Limits, NewRequest, Parties, PartyError,
    Policy, RequestId, RequestState, Side, TimedEvent, Timeline, TransitionError,
};
use detente_storage::{
    CitationRow, Direction, EventRow, ExchangeWrite, HoldRow, HoldStatus, OutboxRow, RequestFilter,
    RequestRow, SharedLock, StorageError, Store,
};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{Mutex, Notify};

/// The clock events are dated with. The system clock in production; tests and
/// `detente demo` pass a simulated one.
pub type Clock = Arc<dyn Fn() -> time::Timestamp + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(time::now)
}

#[derive(Debug, Error)]
pub enum ExchangeError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(#[from] TransitionError),
    /// The signer may not sign this event of this request.
    #[error("{0}")]
    Party(#[from] PartyError),
    #[error("refused by the peer's node: {0}")]
    Refused(String),
    #[error("{0}")]
    PeerUnavailable(String),
    #[error("the transfer gate {verdict}: {reason}")]
    Gate {
        verdict: &'static str,
        reason: String,
        hold: Option<String>,
    },
    #[error(transparent)]
    Node(#[from] NodeError),
}

impl From<detente_storage::StorageError> for ExchangeError {
    fn from(e: detente_storage::StorageError) -> Self {
        ExchangeError::Node(NodeError::Storage(e))
    }
}

/// What `detente` puts in a request event's envelope.
fn payload(event: &Event, sender: &str, recipient: &str) -> Value {
    json!({ "event": event, "sender": sender, "recipient": recipient })
}

/// A request event read back from an envelope. `sender` and `recipient` are
/// the names the envelope carries: claims, which [`Parties`] checks.
pub struct Parsed {
    pub envelope: SignedEnvelope,
    pub origin: String,
    pub sender: String,
    pub recipient: String,
    pub at: time::Timestamp,
    pub event: Event,
}

impl Parsed {
    /// `request.<kind>`, the envelope's type.
    pub fn envelope_kind(&self) -> String {
        format!("request.{}", self.event.kind.name())
    }

    /// The parties this envelope fixes; it must be a submission.
    pub fn submission_parties(&self) -> Result<Parties, PartyError> {
        Parties::of_submission(&self.origin, &self.sender, &self.recipient, &self.event)
    }

    /// The event with the side that signed it, checked against the request's
    /// parties: who acted comes from the record, never from the envelope.
    pub fn timed(&self, parties: &Parties) -> Result<TimedEvent, PartyError> {
        let actor = match &self.event.kind {
            EventKind::Submitted { .. } => {
                if &self.submission_parties()? != parties {
                    return Err(PartyError::NotAParty {
                        signer: self.origin.clone(),
                        request_id: self.event.request_id.to_string(),
                    });
                }
                Side::Sender
            }
            _ => parties.actor(&self.origin, &self.sender, &self.recipient, &self.event)?,
        };
        Ok(TimedEvent {
            at: self.at,
            actor,
            event: self.event.clone(),
        })
    }
}

/// Parses and checks a request envelope signed by `key`.
pub fn parse_envelope(bytes: &[u8], key: &VerifierKey) -> Result<Parsed, ExchangeError> {
    let (envelope, env) =
        SignedEnvelope::verify(bytes, key).map_err(|e| ExchangeError::Invalid(e.to_string()))?;
    interpret(envelope, env)
}

/// Reads back a request envelope this node recorded; its signature was
/// checked when it was (and the log commits to it), so it is not checked again.
pub(crate) fn parse_recorded(bytes: &[u8]) -> Result<Parsed, ExchangeError> {
    parse_own(bytes)
}

/// Reads back a request envelope this node signed (from its own outbox).
fn parse_own(bytes: &[u8]) -> Result<Parsed, ExchangeError> {
    let (envelope, env) =
        SignedEnvelope::read_own(bytes).map_err(|e| ExchangeError::Invalid(e.to_string()))?;
    interpret(envelope, env)
}

fn interpret(envelope: SignedEnvelope, env: Envelope) -> Result<Parsed, ExchangeError> {
    let field = |k: &str| env.payload[k].as_str().map(str::to_string);
    let (Some(sender), Some(recipient)) = (field("sender"), field("recipient")) else {
        return Err(ExchangeError::Invalid(
            "envelope payload lacks sender or recipient".into(),
        ));
    };
    let event: Event = serde_json::from_value(env.payload["event"].clone())
        .map_err(|e| ExchangeError::Invalid(format!("not a request event: {e}")))?;
    if env.kind != format!("request.{}", event.kind.name()) {
        return Err(ExchangeError::Invalid(format!(
            "envelope type {} does not match its event",
            env.kind
        )));
    }
    Ok(Parsed {
        envelope,
        origin: env.origin.to_string(),
        sender,
        recipient,
        at: env.time,
        event,
    })
}

/// The parties of a request as this node recorded it.
fn row_parties(me: &str, row: &RequestRow) -> Parties {
    let (requester, recipient) = match row.direction {
        Direction::Outbound => (me, row.peer.as_str()),
        Direction::Inbound => (row.peer.as_str(), me),
    };
    Parties {
        requester: requester.to_string(),
        recipient: recipient.to_string(),
    }
}

/// Publishes STIX objects to the TAXII collection shared with a peer; set by
/// the server, which owns the TAXII store. Fails when none is shared.
pub type StixPublisher = Arc<dyn Fn(&str, Vec<Value>) -> Result<(), String> + Send + Sync>;

pub const STIX_MEDIA_TYPE: &str = "application/stix+json";

/// Cites the request in every indicator of a bundle (a STIX external
/// reference), as a new version of the indicator.
pub fn cite_request(
    objects: &mut [Value],
    request_id: &str,
    reference: &str,
    origin: &str,
    now: &str,
) {
    for o in objects.iter_mut().filter(|o| o["type"] == "indicator") {
        let cite = json!({ "source_name": "detente-request", "external_id": request_id,
                           "description": format!("cooperation request {reference} from {origin}") });
        match o["external_references"].as_array_mut() {
            Some(refs) => refs.push(cite),
            None => o["external_references"] = json!([cite]),
        }
        o["modified"] = json!(now);
    }
}

/// What a hold keeps of a request event: exactly what an approval sends.
#[derive(serde::Deserialize)]
struct Held {
    event: Event,
}

/// The gate's name for a request event's payload: a digest of its content, so
/// the same content retried (with a new event id, or for a submission a new
/// request id) finds its hold again, and an approval releases exactly it.
fn subject_of(event: &Event) -> String {
    let content = match &event.kind {
        EventKind::Submitted { request, .. } => json!({ "submitted": request }),
        kind => json!({ "request_id": event.request_id, "kind": kind }),
    };
    let digest = detente_domain::sha256(content.to_string().as_bytes());
    format!("request-event:{}", hex::encode(digest))
}

/// One event of this node on its way out.
struct Emit<'a> {
    event: &'a Event,
    files: &'a [(AttachmentRef, Vec<u8>)],
    parties: &'a Parties,
    state: &'a RequestState,
    at: time::Timestamp,
    direction: Direction,
    peer_country: detente_domain::Country,
    officer: Option<&'a str>,
}

/// Shards of the per-request lock: events of one request are applied one at a
/// time, different requests in parallel.
const LOCKS: usize = 1024;

/// How long a step waits for a request another replica is working on.
const REQUEST_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// A request's key for its locks (FNV-1a of its id).
fn request_key(request_id: &str) -> u32 {
    request_id.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    })
}

/// One request held (see [`Exchange::lock_request`]); released on drop.
pub(crate) struct RequestLock<'a> {
    _local: tokio::sync::MutexGuard<'a, ()>,
    shared: Option<(&'a dyn Store, u32, u64)>,
}

impl Drop for RequestLock<'_> {
    fn drop(&mut self) {
        if let Some((store, key, epoch)) = self.shared {
            if let Err(e) = store.unlock_shared(key, epoch) {
                // The lock connection is failing; its locks end with it.
                tracing::warn!(error = %e, "could not release a request's lock");
            }
        }
    }
}

pub struct Exchange {
    node: Arc<Node>,
    outbound: Arc<Outbound>,
    policy: Policy,
    limits: Limits,
    clock: Clock,
    http: reqwest::Client,
    wake: Notify,
    /// Peers a delivery failed to reach; the first sign of life from one
    /// makes its backed-off envelopes due at once (see `peer_reachable`).
    unreachable: std::sync::Mutex<HashSet<String>>,
    locks: Vec<Mutex<()>>,
    stix: std::sync::OnceLock<StixPublisher>,
    /// Request ids whose `submitted` envelope just got its receipt (benchmarks,
    /// live views).
    delivered: tokio::sync::broadcast::Sender<String>,
}

/// The node's deadline policy: `DIR/deadlines.toml` when present (same shape as
/// the shipped `crates/requests/policy/deadlines.toml`), else the default.
fn deadline_policy(dir: &std::path::Path) -> Result<Policy, NodeError> {
    let path = dir.join("deadlines.toml");
    match std::fs::read_to_string(&path) {
        Ok(text) => Policy::from_toml(&text)
            .map_err(|e| NodeError::Config(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Policy::default()),
        Err(e) => Err(NodeError::io(&path, e)),
    }
}

/// `3d`, `8h`, `90m`: a policy clock as the policy file writes it.
fn humanize(d: chrono::TimeDelta) -> String {
    let m = d.num_minutes();
    match m {
        m if m % 1440 == 0 => format!("{}d", m / 1440),
        m if m % 60 == 0 => format!("{}h", m / 60),
        m => format!("{m}m"),
    }
}

impl Exchange {
    pub fn new(node: Arc<Node>, clock: Clock) -> Result<Arc<Exchange>, NodeError> {
        let outbound = Arc::new(Outbound::new(node.clone())?);
        let http = node.peer_client(Duration::from_secs(30))?;
        let policy = deadline_policy(node.dir())?;
        Ok(Arc::new(Exchange {
            node,
            outbound,
            policy,
            limits: Limits::default(),
            clock,
            http,
            wake: Notify::new(),
            unreachable: Default::default(),
            locks: (0..LOCKS).map(|_| Mutex::new(())).collect(),
            delivered: tokio::sync::broadcast::channel(1 << 16).0,
            stix: std::sync::OnceLock::new(),
        }))
    }

    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// Where STIX attachments are published (once, at start).
    pub fn set_stix_publisher(&self, p: StixPublisher) {
        let _ = self.stix.set(p);
    }

    /// Every attachment an event cites must have been uploaded, with that size.
    fn check_attachments(
        &self,
        refs: &[AttachmentRef],
    ) -> Result<Vec<(AttachmentRef, Vec<u8>)>, ExchangeError> {
        refs.iter()
            .map(|a| {
                let (_, content) = self.node.store().attachment(&a.sha256)?.ok_or_else(|| {
                    ExchangeError::Invalid(format!(
                        "attachment {} ({}) has not been uploaded",
                        a.name, a.sha256
                    ))
                })?;
                if content.len() as u64 != a.size {
                    return Err(ExchangeError::Invalid(format!(
                        "attachment {} is {} bytes, not {}",
                        a.name,
                        content.len(),
                        a.size
                    )));
                }
                Ok((a.clone(), content))
            })
            .collect()
    }

    /// Publishes the STIX bundles among a request's attachments to the
    /// collection shared with `peer`, each indicator citing the request.
    fn publish_stix(
        &self,
        peer: &str,
        request_id: &str,
        reference: &str,
        files: &[(AttachmentRef, Vec<u8>)],
    ) -> Result<(), ExchangeError> {
        for (a, content) in files
            .iter()
            .filter(|(a, _)| a.media_type == STIX_MEDIA_TYPE)
        {
            let bundle: Value = serde_json::from_slice(content).map_err(|e| {
                ExchangeError::Invalid(format!("attachment {} is not a STIX bundle: {e}", a.name))
            })?;
            let mut objects = bundle["objects"].as_array().cloned().unwrap_or_default();
            let me = self.node.config().origin.clone();
            cite_request(
                &mut objects,
                request_id,
                reference,
                &me,
                &time::format(&time::now()),
            );
            let publish = self.stix.get().ok_or_else(|| {
                ExchangeError::Invalid("this node publishes no STIX (no TAXII server)".into())
            })?;
            publish(peer, objects).map_err(ExchangeError::Invalid)?;
        }
        Ok(())
    }

    /// Announces each request whose submission got the recipient's receipt.
    pub fn subscribe_delivered(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.delivered.subscribe()
    }

    pub fn now(&self) -> time::Timestamp {
        (self.clock)()
    }

    fn lock_for(&self, request_id: &str) -> &Mutex<()> {
        &self.locks[request_key(request_id) as usize % LOCKS]
    }

    /// Holds one request while its state is read, its next event logged and
    /// recorded: in this process by its shard's mutex, and where replicas
    /// share the store by a lock there too, so two replicas never log two
    /// steps from one state.
    pub(crate) async fn lock_request(
        &self,
        request_id: &str,
    ) -> Result<RequestLock<'_>, ExchangeError> {
        let local = self.lock_for(request_id).lock().await;
        let store = self.node.store().as_ref();
        let key = request_key(request_id);
        let started = std::time::Instant::now();
        let mut pause = std::time::Duration::from_millis(1);
        loop {
            match store.try_lock_shared(key)? {
                SharedLock::NotShared => {
                    break Ok(RequestLock {
                        _local: local,
                        shared: None,
                    })
                }
                SharedLock::Held { epoch } => {
                    break Ok(RequestLock {
                        _local: local,
                        shared: Some((store, key, epoch)),
                    })
                }
                SharedLock::Busy if started.elapsed() > REQUEST_LOCK_WAIT => {
                    break Err(StorageError::Unavailable(format!(
                        "request {request_id} is busy on another replica"
                    ))
                    .into())
                }
                SharedLock::Busy => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(std::time::Duration::from_millis(50));
                }
            }
        }
    }

    /// The events of a request as a timeline, read back from their envelopes;
    /// each event's actor is the side its signer holds in the request.
    fn timeline(&self, row: &RequestRow) -> Result<(Timeline, Vec<EventRow>), ExchangeError> {
        let parties = row_parties(&self.node.config().origin, row);
        let rows = self.node.store().events(&row.id)?;
        let mut events = Vec::with_capacity(rows.len());
        for r in &rows {
            let env: Value = serde_json::from_slice(&r.envelope)
                .map_err(|e| ExchangeError::Invalid(e.to_string()))?;
            let event: Event = serde_json::from_value(env["payload"]["event"].clone())
                .map_err(|e| ExchangeError::Invalid(e.to_string()))?;
            let origin = env["origin"].as_str().unwrap_or_default();
            let actor = parties.side_of(origin).ok_or_else(|| {
                ExchangeError::Invalid(format!(
                    "stored event {} is signed by {origin}, not a party",
                    r.event_id
                ))
            })?;
            let at = time::parse(&r.at)
                .ok_or_else(|| ExchangeError::Invalid("bad event time".into()))?;
            events.push(TimedEvent { at, actor, event });
        }
        Ok((Timeline { events }, rows))
    }

    fn state(
        &self,
        request_id: &str,
    ) -> Result<(RequestState, RequestRow, Vec<EventRow>), ExchangeError> {
        let row = self
            .node
            .store()
            .request(request_id)?
            .ok_or_else(|| ExchangeError::NotFound(format!("no request {request_id}")))?;
        let (state, rows) = self.state_of(&row)?;
        Ok((state, row, rows))
    }

    fn state_of(&self, row: &RequestRow) -> Result<(RequestState, Vec<EventRow>), ExchangeError> {
        let (timeline, rows) = self.timeline(row)?;
        let state = timeline
            .fold()
            .map_err(|e| ExchangeError::Invalid(format!("stored timeline: {e}")))?;
        Ok((state, rows))
    }

    /// Submits a new request to a peer.
    pub async fn submit(&self, request: NewRequest) -> Result<Value, ExchangeError> {
        self.submit_as(request, None).await
    }

    /// Submits a new request on behalf of `officer` (named in a hold).
    pub async fn submit_as(
        &self,
        request: NewRequest,
        officer: Option<&str>,
    ) -> Result<Value, ExchangeError> {
        self.submit_event(EventId::random(), RequestId::random(), request, officer)
            .await
    }

    async fn submit_event(
        &self,
        event_id: EventId,
        id: RequestId,
        request: NewRequest,
        officer: Option<&str>,
    ) -> Result<Value, ExchangeError> {
        let _guard = self.lock_request(&id.to_string()).await?;
        if self.node.store().request(&id.to_string())?.is_some() {
            return Err(TransitionError::AlreadySubmitted { request_id: id }.into());
        }
        let peer = self.node.peer(request.recipient.as_str())?.ok_or_else(|| {
            ExchangeError::Invalid(format!("{} is not a peer of this node", request.recipient))
        })?;
        let at = self.now();
        let deadlines = self
            .policy
            .deadline_for(request.request_type, request.urgency, at);
        let event = Event {
            id: event_id,
            request_id: id,
            kind: EventKind::Submitted {
                request: Box::new(request),
                deadlines,
            },
        };
        event
            .validate(&self.limits)
            .map_err(|e| ExchangeError::Invalid(e.to_string()))?;
        let state = RequestState::open(&event, Side::Sender, at)?;
        let files = self.check_attachments(event.kind.attachments())?;
        if let EventKind::Submitted { request, .. } = &event.kind {
            self.publish_stix(
                peer.origin.as_str(),
                &id.to_string(),
                &request.reference,
                &files,
            )?;
        }
        let me = self.node.config().origin.clone();
        let parties = Parties {
            requester: me,
            recipient: peer.origin.to_string(),
        };
        let out = Emit {
            event: &event,
            files: &files,
            parties: &parties,
            state: &state,
            at,
            direction: Direction::Outbound,
            peer_country: peer.country,
            officer,
        };
        self.emit(out).await?;
        self.show(&id.to_string())
    }

    /// The gate's verdict on a request as it would leave now (validated
    /// first), without sending, logging or holding anything.
    pub fn preview_submission(
        &self,
        request: &NewRequest,
    ) -> Result<detente_gate::Assessment, ExchangeError> {
        request
            .validate(&self.limits)
            .map_err(|e| ExchangeError::Invalid(e.to_string()))?;
        let peer = self.node.peer(request.recipient.as_str())?.ok_or_else(|| {
            ExchangeError::Invalid(format!("{} is not a peer of this node", request.recipient))
        })?;
        let deadlines = self
            .policy
            .deadline_for(request.request_type, request.urgency, self.now());
        let event = Event {
            id: EventId::random(),
            request_id: RequestId::random(),
            kind: EventKind::Submitted {
                request: Box::new(request.clone()),
                deadlines,
            },
        };
        let (me, to) = (&self.node.config().origin, peer.origin.as_str());
        let bytes = payload(&event, me, to).to_string();
        let subject = subject_of(&event);
        // The attachments leave with the request, so the preview reads them as
        // the real submission will.
        let files = self.check_attachments(event.kind.attachments())?;
        let mut parts: Vec<(&str, &[u8])> = vec![("event.json", bytes.as_bytes())];
        parts.extend(files.iter().map(|(a, c)| (a.name.as_str(), c.as_slice())));
        let out = Outgoing {
            recipient: to,
            country: peer.country,
            subject: &subject,
            parts: &parts,
            legal_basis: None,
            release: None,
            requested_by: None,
        };
        Ok(self.outbound.preview(&out)?)
    }

    /// Acts on an existing request: acknowledge, answer, decline, withdraw,
    /// message, extend. The lifecycle decides whether this node may.
    pub async fn act(&self, request_id: &str, kind: EventKind) -> Result<Value, ExchangeError> {
        self.act_as(request_id, kind, None).await
    }

    /// Acts on behalf of `officer` (named in a hold).
    pub async fn act_as(
        &self,
        request_id: &str,
        kind: EventKind,
        officer: Option<&str>,
    ) -> Result<Value, ExchangeError> {
        let id =
            RequestId::parse(request_id).map_err(|e| ExchangeError::NotFound(e.to_string()))?;
        self.act_event(EventId::random(), id, kind, officer).await
    }

    async fn act_event(
        &self,
        event_id: EventId,
        id: RequestId,
        kind: EventKind,
        officer: Option<&str>,
    ) -> Result<Value, ExchangeError> {
        let request_id = id.to_string();
        let _guard = self.lock_request(&request_id).await?;
        let (state, row, _) = self.state(&request_id)?;
        let parties = row_parties(&self.node.config().origin, &row);
        let side = match row.direction {
            Direction::Outbound => Side::Sender,
            Direction::Inbound => Side::Recipient,
        };
        let at = state.next_event_time(side, self.now());
        let event = Event {
            id: event_id,
            request_id: id,
            kind,
        };
        event
            .validate(&self.limits)
            .map_err(|e| ExchangeError::Invalid(e.to_string()))?;
        let next = apply(&state, &event, side, at)?;
        let peer = self
            .node
            .peer(&row.peer)?
            .ok_or_else(|| ExchangeError::Invalid(format!("{} is no longer a peer", row.peer)))?;
        let files = self.check_attachments(event.kind.attachments())?;
        let out = Emit {
            event: &event,
            files: &files,
            parties: &parties,
            state: &next,
            at,
            direction: row.direction,
            peer_country: peer.country,
            officer,
        };
        self.emit(out).await?;
        self.show(&request_id)
    }

    /// Decides a held event: approved, exactly the held event is sent (the
    /// same event id; a submission is dated, and its deadlines set, when it
    /// leaves); rejected, it never leaves. Returns the hold and, when the
    /// release failed (the request moved on meanwhile), why.
    pub async fn resolve_hold(
        &self,
        id: &str,
        approve: bool,
        reviewer: &str,
        reason: &str,
    ) -> Result<Option<(HoldRow, Option<String>)>, ExchangeError> {
        let Some(hold) = self.outbound.resolve(id, approve, reviewer, reason).await? else {
            return Ok(None);
        };
        if hold.status != HoldStatus::Approved {
            return Ok(Some((hold, None)));
        }
        let failed = self.release(&hold).await.err().map(|e| {
            tracing::warn!(hold = %hold.id, error = %e, "an approved transfer could not be released");
            e.to_string()
        });
        Ok(Some((hold, failed)))
    }

    /// Sends the request event an approved hold keeps, as the officer asked
    /// for it (nothing for holds of other payloads, such as STIX objects).
    async fn release(&self, hold: &HoldRow) -> Result<(), ExchangeError> {
        let Some(payload) = &hold.payload else {
            return Ok(());
        };
        let held: Held = serde_json::from_str(payload)
            .map_err(|e| ExchangeError::Invalid(format!("held payload: {e}")))?;
        let officer = hold.requested_by.as_deref();
        let (id, request_id) = (held.event.id, held.event.request_id);
        match held.event.kind {
            EventKind::Submitted { request, .. } => {
                self.submit_event(id, request_id, *request, officer).await?
            }
            kind => self.act_event(id, request_id, kind, officer).await?,
        };
        Ok(())
    }

    /// Releases what was approved while this node was not running (`detente
    /// gate review`) or just before it stopped.
    pub(crate) async fn release_approved(&self) -> Result<(), ExchangeError> {
        for hold in self.node.store().holds(Some(HoldStatus::Approved))? {
            if hold.released_at.is_none() && hold.payload.is_some() {
                if let Err(e) = self.release(&hold).await {
                    tracing::warn!(hold = %hold.id, error = %e, "an approved transfer could not be released");
                }
            }
        }
        Ok(())
    }

    pub fn outbound(&self) -> &Arc<Outbound> {
        &self.outbound
    }

    /// Gate, sign, log, store and queue one event of this node; `files` are
    /// the contents of the attachments it cites, which leave with it (the
    /// peer may then fetch them), so the gate scans them too.
    async fn emit(&self, out: Emit<'_>) -> Result<(), ExchangeError> {
        let Emit {
            event,
            files,
            parties,
            state,
            at,
            direction,
            peer_country,
            officer,
        } = out;
        let me = self.node.config().origin.clone();
        let peer = if me == parties.requester {
            &parties.recipient
        } else {
            &parties.requester
        };
        let body = payload(event, &parties.requester, &parties.recipient);
        let subject = subject_of(event);
        let bytes = body.to_string();
        let mut parts: Vec<(&str, &[u8])> = vec![("event.json", bytes.as_bytes())];
        parts.extend(files.iter().map(|(a, c)| (a.name.as_str(), c.as_slice())));
        let outgoing = Outgoing {
            recipient: peer,
            country: peer_country,
            subject: &subject,
            parts: &parts,
            legal_basis: None,
            release: Some(json!({ "event": event }).to_string()),
            requested_by: officer,
        };
        match self.outbound.check(&outgoing)? {
            Verdict::Send(None) => {}
            Verdict::Send(Some(_)) => {
                return Err(ExchangeError::Gate {
                    verdict: "requires redaction",
                    reason: "remove the personal data or ask a reviewer to approve".into(),
                    hold: None,
                })
            }
            Verdict::Withhold { reason, hold } => {
                return Err(ExchangeError::Gate {
                    verdict: if hold.is_some() {
                        "held it for review"
                    } else {
                        "blocked it"
                    },
                    reason,
                    hold,
                })
            }
        }
        let env = self
            .node
            .sign_at(&format!("request.{}", event.kind.name()), body, at)?;
        let appended = self.node.append(vec![env.clone()]).await?;
        let mut writes = self.event_write(state, direction, peer, &env, appended.first_index)?;
        writes.push(ExchangeWrite::OutboxAdd(OutboxRow {
            digest: *env.digest(),
            peer: peer.to_string(),
            request_id: event.request_id.to_string(),
            envelope: env.bytes().to_vec(),
            created: time::format(&time::now()),
            attempts: 0,
            next_attempt: time::format(&time::now()),
            last_error: None,
            delivered_at: None,
            refused_at: None,
        }));
        self.persist(writes).await?;
        self.wake.notify_one();
        Ok(())
    }

    /// Durably applies a group of writes (group-committed with other requests').
    async fn persist(&self, writes: Vec<ExchangeWrite>) -> Result<(), ExchangeError> {
        self.node
            .store()
            .write(writes)
            .await
            .map_err(|_| ExchangeError::Node(NodeError::Closed))??;
        Ok(())
    }

    /// The writes that record `env` (the event that led to `state`) and the
    /// attachments it cites.
    fn event_write(
        &self,
        state: &RequestState,
        direction: Direction,
        peer: &str,
        env: &SignedEnvelope,
        log_index: u64,
    ) -> Result<Vec<ExchangeWrite>, ExchangeError> {
        let v: Value = serde_json::from_slice(env.bytes())
            .map_err(|e| ExchangeError::Invalid(e.to_string()))?;
        let event: Event = serde_json::from_value(v["payload"]["event"].clone())
            .map_err(|e| ExchangeError::Invalid(e.to_string()))?;
        let reference = match &event.kind {
            EventKind::Submitted { request, .. } => request.reference.clone(),
            _ => self
                .node
                .store()
                .request(&state.request_id.to_string())?
                .map(|r| r.reference)
                .unwrap_or_default(),
        };
        let fmt = |t: &time::Timestamp| time::format(t);
        let row = RequestRow {
            id: state.request_id.to_string(),
            direction,
            peer: peer.to_string(),
            kind: state.request_type,
            urgency: state.urgency,
            tlp: state.tlp,
            reference,
            status: state.status,
            submitted_at: fmt(&state.submitted_at),
            acknowledge_by: fmt(&state.deadlines.acknowledge_by),
            answer_by: fmt(&state.deadlines.answer_by),
            acknowledged_at: state.acknowledged_at.as_ref().map(fmt),
            closed_at: state.closed_at.as_ref().map(fmt),
            updated_at: fmt(&state.last_event_at),
            delivered_at: state.delivered_at.as_ref().map(fmt),
            decline_ground: state.decline_ground,
        };
        let seq = state.event_count().saturating_sub(1) as u64;
        let ev = EventRow {
            request_id: row.id.clone(),
            seq,
            event_id: event.id.to_string(),
            actor: v["origin"].as_str().unwrap_or_default().to_string(),
            kind: event.kind.name().to_string(),
            at: env.time().to_string(),
            log_index,
            envelope: env.bytes().to_vec(),
            receipt: None,
        };
        let by_peer = ev.actor == peer;
        let cites: Vec<ExchangeWrite> = event
            .kind
            .attachments()
            .iter()
            .map(|a| {
                ExchangeWrite::Cite(CitationRow {
                    sha256: a.sha256.clone(),
                    event_id: ev.event_id.clone(),
                    request_id: ev.request_id.clone(),
                    peer: peer.to_string(),
                    by_peer,
                    size: a.size,
                    media_type: a.media_type.clone(),
                })
            })
            .collect();
        let mut writes = vec![ExchangeWrite::RecordEvent(Box::new(row), Box::new(ev))];
        writes.extend(cites);
        Ok(writes)
    }

    /// A request with its timeline and delivery attempts.
    /// A request as the API shows it: overdue as its lifecycle says.
    pub fn show(&self, request_id: &str) -> Result<Value, ExchangeError> {
        let (state, row, events) = self.state(request_id)?;
        let outbox = self.node.store().outbox(request_id)?;
        let now = self.now();
        let mut v = RequestView::new(&row, &events, &outbox, &now);
        v.summary.overdue = state.is_overdue(now);
        Ok(serde_json::to_value(v).unwrap_or(Value::Null))
    }

    /// A request as stored, for pages: built from its rows without replaying
    /// the lifecycle, so a page costs a few reads.
    pub fn view(&self, request_id: &str) -> Result<RequestView, ExchangeError> {
        let store = self.node.store();
        let row = store
            .request(request_id)?
            .ok_or_else(|| ExchangeError::NotFound(format!("no request {request_id}")))?;
        let events = store.events(request_id)?;
        let outbox = store.outbox(request_id)?;
        Ok(RequestView::new(&row, &events, &outbox, &self.now()))
    }

    pub fn list(&self, filter: &RequestFilter) -> Result<Vec<RequestSummary>, ExchangeError> {
        let now = self.now();
        let rows = self.node.store().requests(filter)?;
        Ok(rows.iter().map(|r| RequestSummary::new(r, &now)).collect())
    }

    /// Handles an envelope a peer delivered; returns the response (receipt) JSON.
    /// Idempotent: a redelivered envelope gets the response it got the first time.
    ///
    /// Runs as its own task, to completion even when the caller is dropped (the
    /// peer hung up, e.g. it was killed mid-delivery): cancelled between its
    /// append and its commit, it would release the request's lock with the
    /// envelope logged, or still queued to be, and its rows never written, and
    /// the peer's redelivery would then be taken for a new envelope.
    pub async fn receive(
        self: &Arc<Self>,
        peer_origin: &str,
        bytes: &[u8],
    ) -> Result<String, ExchangeError> {
        let (this, peer, bytes) = (self.clone(), peer_origin.to_string(), bytes.to_vec());
        tokio::spawn(async move { this.receive_now(&peer, &bytes).await })
            .await
            .map_err(|e| NodeError::Append(format!("handling a delivery failed: {e}")))?
    }

    async fn receive_now(&self, peer_origin: &str, bytes: &[u8]) -> Result<String, ExchangeError> {
        let peer = self
            .node
            .peer(peer_origin)?
            .ok_or_else(|| ExchangeError::Refused(format!("{peer_origin} is not a peer")))?;
        let parsed = parse_envelope(bytes, &peer.key)?;
        if parsed.origin != peer_origin {
            return Err(ExchangeError::Refused(format!(
                "the envelope is signed by {}, not by the calling peer",
                parsed.origin
            )));
        }
        let request_id = parsed.event.request_id.to_string();
        let _guard = self.lock_request(&request_id).await?;
        if let Some(stored) = self.node.store().inbox_get(parsed.envelope.digest())? {
            return Ok(stored);
        }
        self.check_not_ahead(&parsed, peer_origin)?;
        let (response, index, mut writes) = match &parsed.event.kind {
            EventKind::Submitted { .. } => self.receive_submission(&parsed, peer_origin).await?,
            _ => self.receive_event(&parsed, peer_origin).await?,
        };
        writes.push(ExchangeWrite::InboxPut {
            digest: *parsed.envelope.digest(),
            peer: peer_origin.to_string(),
            log_index: index,
            response: response.clone(),
        });
        self.persist(writes).await?;
        if matches!(parsed.event.kind, EventKind::Submitted { .. }) {
            self.node
                .notify(crate::notify::Notice::inbound(&request_id));
        }
        Ok(response)
    }

    /// A peer's envelope dated beyond the clock tolerance ahead of this node's
    /// clock is refused: accepted, it would date the record by the peer's say.
    /// The refusal is logged, so it is on the record too. (Retried later, the
    /// envelope is accepted once its date is no longer ahead.)
    fn check_not_ahead(&self, parsed: &Parsed, peer: &str) -> Result<(), ExchangeError> {
        let now = self.now();
        let tolerance = chrono::TimeDelta::seconds(CLOCK_TOLERANCE_SECS as i64);
        if parsed.at <= now + tolerance {
            return Ok(());
        }
        let why = format!(
            "envelope dated {}, more than {CLOCK_TOLERANCE_SECS} s ahead of this node's clock ({})",
            time::format(&parsed.at),
            time::format(&now)
        );
        self.node.record_detached(
            "exchange.refused",
            json!({ "peer": peer, "envelope": hex::encode(parsed.envelope.digest()),
                    "request_id": parsed.event.request_id, "reason": why }),
        )?;
        Err(ExchangeError::Refused(why))
    }

    /// A later event of a request this node and the peer are the parties to.
    /// Who acted is the side the peer holds in the stored request; a node that
    /// is not a party gets the same answer as for an unknown request.
    async fn receive_event(
        &self,
        parsed: &Parsed,
        peer: &str,
    ) -> Result<(String, u64, Vec<ExchangeWrite>), ExchangeError> {
        let request_id = parsed.event.request_id.to_string();
        let row = self
            .node
            .store()
            .request(&request_id)?
            .filter(|r| r.peer == peer)
            .ok_or_else(|| ExchangeError::NotFound(format!("no request {request_id}")))?;
        let state = self.state_of(&row)?.0;
        let parties = row_parties(&self.node.config().origin, &row);
        let timed = parsed.timed(&parties)?;
        let next = apply(&state, &timed.event, timed.actor, timed.at)?;
        let (index, cp) = self.node.append_once(parsed.envelope.clone()).await?;
        let w = self.event_write(&next, row.direction, peer, &parsed.envelope, index)?;
        Ok((self.receipt(&cp, index, &parsed.envelope, &[])?, index, w))
    }

    /// Handles several envelopes from one peer together: they are checked
    /// and logged at the same time (one sequencer batch, one commit), and each
    /// gets its own answer, in order. Envelopes of one request are applied in
    /// the order given.
    pub async fn receive_batch(
        self: &Arc<Self>,
        peer_origin: &str,
        envelopes: &[Vec<u8>],
    ) -> Vec<Result<String, ExchangeError>> {
        futures::future::join_all(envelopes.iter().map(|b| self.receive(peer_origin, b))).await
    }

    /// A new request arrives: log it together with this node's signed
    /// `delivered`. If the log already holds it (this node crashed before
    /// recording what it had logged), both entries are recorded as logged and
    /// nothing is logged again.
    async fn receive_submission(
        &self,
        parsed: &Parsed,
        peer: &str,
    ) -> Result<(String, u64, Vec<ExchangeWrite>), ExchangeError> {
        let request_id = parsed.event.request_id;
        let parties = parsed.submission_parties()?;
        if parties.requester != peer || parties.recipient != self.node.config().origin {
            return Err(ExchangeError::Refused(
                "a submission to this node must be signed by its requester and addressed to this node".into(),
            ));
        }
        if self
            .node
            .store()
            .request(&request_id.to_string())?
            .is_some()
        {
            return Err(TransitionError::AlreadySubmitted { request_id }.into());
        }
        let timed = parsed.timed(&parties)?;
        timed
            .event
            .validate(&self.limits)
            .map_err(|e| ExchangeError::Invalid(e.to_string()))?;
        self.check_deadlines(&timed)?;
        let opened = RequestState::open(&timed.event, timed.actor, timed.at)?;
        let logged = self.node.store().exchange_entry(parsed.envelope.digest())?;
        let (i, d, env, next, cp) = match logged {
            Some(i) => {
                let (env, next) = self.logged_delivered(&opened, parsed, i + 1)?;
                (i, i + 1, env, next, self.node.published())
            }
            None => {
                let (env, next) = self.new_delivered(&opened, parsed)?;
                let appended = self
                    .node
                    .append(vec![parsed.envelope.clone(), env.clone()])
                    .await?;
                let (i, d) = (appended.indices[0], appended.indices[1]);
                (i, d, env, next, appended.checkpoint)
            }
        };
        let mut writes =
            self.event_write(&opened, Direction::Inbound, peer, &parsed.envelope, i)?;
        writes.extend(self.event_write(&next, Direction::Inbound, peer, &env, d)?);
        Ok((
            self.receipt(&cp, i, &parsed.envelope, std::slice::from_ref(&env))?,
            i,
            writes,
        ))
    }

    /// Deadlines come from policy, not from the counterpart's say-so: a
    /// submission whose deadlines are shorter than this node's own policy for
    /// its type and urgency is refused; longer ones stand.
    fn check_deadlines(&self, timed: &TimedEvent) -> Result<(), ExchangeError> {
        let EventKind::Submitted { request, deadlines } = &timed.event.kind else {
            return Ok(());
        };
        let (t, u) = (request.request_type, request.urgency);
        let least = self.policy.deadline_for(t, u, timed.at);
        let clocks = self.policy.clocks(t, u);
        let short =
            |what: &str, got: &time::Timestamp, min: &time::Timestamp, clock: chrono::TimeDelta| {
                ExchangeError::Invalid(format!(
                "{what} {} is earlier than this node's deadline policy allows for a {} {} request: \
                 at least {} after submission, {}",
                time::format(got),
                u.as_str(),
                t.as_str(),
                humanize(clock),
                time::format(min)
            ))
            };
        if deadlines.acknowledge_by < least.acknowledge_by {
            return Err(short(
                "acknowledge_by",
                &deadlines.acknowledge_by,
                &least.acknowledge_by,
                clocks.acknowledge,
            ));
        }
        if deadlines.answer_by < least.answer_by {
            return Err(short(
                "answer_by",
                &deadlines.answer_by,
                &least.answer_by,
                clocks.answer,
            ));
        }
        Ok(())
    }

    /// This node's `delivered` for a submission, signed but not yet logged.
    fn new_delivered(
        &self,
        opened: &RequestState,
        parsed: &Parsed,
    ) -> Result<(SignedEnvelope, RequestState), ExchangeError> {
        let delivered = Event {
            id: EventId::random(),
            request_id: parsed.event.request_id,
            kind: EventKind::Delivered {},
        };
        // Dated by this node's clock; never before the submission, which may
        // be up to the clock tolerance ahead.
        let at = opened.next_event_time(Side::Recipient, self.now());
        let next = apply(opened, &delivered, Side::Recipient, at)?;
        let me = self.node.config().origin.clone();
        let env = self.node.sign_at(
            "request.delivered",
            payload(&delivered, &parsed.sender, &me),
            at,
        )?;
        Ok((env, next))
    }

    /// The `delivered` this node logged at `index`, right after the submission
    /// (one batch), before it crashed.
    fn logged_delivered(
        &self,
        opened: &RequestState,
        parsed: &Parsed,
        index: u64,
    ) -> Result<(SignedEnvelope, RequestState), ExchangeError> {
        let me = self.node.config().origin.to_string();
        let own = match self.node.entry(index)? {
            Some(row) => Some(parse_own(&row.envelope)?),
            None => None,
        };
        match own {
            Some(own)
                if own.origin == me
                    && own.event.request_id == parsed.event.request_id
                    && matches!(own.event.kind, EventKind::Delivered {}) =>
            {
                let next = apply(opened, &own.event, Side::Recipient, own.at)?;
                Ok((own.envelope, next))
            }
            _ => Err(NodeError::Integrity(format!(
                "the log holds request {} at {} without this node's delivered after it",
                parsed.event.request_id,
                index - 1
            ))
            .into()),
        }
    }

    /// `{"receipt": <tlog-proof of the envelope in this log>, "envelopes": [...]}`.
    fn receipt(
        &self,
        cp: &Published,
        index: u64,
        env: &SignedEnvelope,
        replies: &[SignedEnvelope],
    ) -> Result<String, ExchangeError> {
        let proof = ProofFile {
            extra: Some(env.leaf().to_vec()),
            index,
            proof: self.node.inclusion_proof(index, cp.size)?,
            checkpoint: cp.note.clone(),
        };
        let replies: Vec<String> = replies.iter().map(|e| B64.encode(e.bytes())).collect();
        Ok(json!({ "receipt": proof.format(), "envelopes": replies }).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use detente_requests::{RequestType, Urgency};

    #[test]
    fn a_node_can_ship_its_own_deadline_policy() {
        let d = tempfile::tempdir().unwrap();
        let default = deadline_policy(d.path()).unwrap();
        assert_eq!(
            default
                .clocks(RequestType::TrafficData, Urgency::Normal)
                .answer,
            chrono::TimeDelta::days(10)
        );
        std::fs::write(d.path().join("deadlines.toml"), "[default.normal]\nacknowledge = \"1d\"\nanswer = \"3d\"\n\n[default.emergency]\nacknowledge = \"1h\"\nanswer = \"4h\"\n").unwrap();
        let own = deadline_policy(d.path()).unwrap();
        assert_eq!(
            own.clocks(RequestType::TrafficData, Urgency::Normal).answer,
            chrono::TimeDelta::days(3)
        );
        std::fs::write(
            d.path().join("deadlines.toml"),
            "[default.normal]\nanswer = \"soon\"\n",
        )
        .unwrap();
        assert!(deadline_policy(d.path())
            .unwrap_err()
            .to_string()
            .contains("deadlines.toml"));
    }
}
