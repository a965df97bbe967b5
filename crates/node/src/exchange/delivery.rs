//! The sending side of the exchange: the outbox worker. Due envelopes are
//! grouped per peer into batches; a batch is one signed POST to the peer's
//! `/federation/v1/batch`, so one HTTP signature, one log batch and one
//! commit on the peer serve many envelopes. Each envelope still gets its own
//! verdict: a receipt (checked: a proof that exactly this envelope is in the
//! peer's log under the peer's signed checkpoint), a refusal for good, or a
//! retry later.

use super::{parse_envelope, parse_own, Exchange, ExchangeError, B64};
use crate::peers::Peer;
use base64::Engine;
use detente_domain::{leaf_for, time};
use detente_federation::Signed;
use detente_log::proof_file::ProofFile;
use detente_log::Checkpoint;
use detente_requests::{apply, EventKind};
use detente_storage::{wake, ExchangeWrite, Hash, OutboxRow, Topic};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::{self, JoinSet};

/// Envelopes under way at once, across peers.
const IN_FLIGHT: usize = 512;

/// How long a claimed delivery is this replica's before another may try it
/// (only replicas on a shared database lease; see
/// `ExchangeStore::outbox_claim`). It is also how long a replica killed
/// mid-delivery delays its envelopes. Shorter than the peer client's 30 s
/// timeout, so a slow peer may get an envelope twice; its inbox answers the
/// second copy as the first, and the log holds it once.
const DELIVERY_LEASE: chrono::Duration = chrono::Duration::seconds(15);

/// Envelopes per POST: request events are small (attachments travel on
/// their own), so a batch stays far below a peer's body limit.
pub const BATCH: usize = 64;

/// The outbox entries being delivered, by the task delivering them. An entry
/// is freed when its task ends however it ends, so one that panicked is
/// tried again at the next pass rather than held until a restart.
#[derive(Default)]
struct UnderWay {
    tasks: JoinSet<()>,
    by_task: HashMap<task::Id, Vec<Hash>>,
    digests: HashSet<Hash>,
}

impl UnderWay {
    fn finished(&mut self, done: Result<(task::Id, ()), task::JoinError>) {
        let id = match done {
            Ok((id, ())) => id,
            Err(e) => {
                tracing::error!(error = %e, "a delivery task failed");
                e.id()
            }
        };
        for digest in self.by_task.remove(&id).unwrap_or_default() {
            self.digests.remove(&digest);
        }
    }
}

/// A peer's answer for one envelope.
#[derive(serde::Deserialize)]
struct Reply {
    receipt: String,
    #[serde(default)]
    envelopes: Vec<String>,
}

/// Why a delivery did not go through.
enum Failed {
    /// Worth trying again: the peer was unreachable, busy, or did not know us yet.
    Retry(String),
    /// The peer judged the envelope itself and refused it; sending the same
    /// bytes again cannot succeed.
    Refused(String),
}

/// 400, 409, 413, 415 and 422 are verdicts on the envelope itself. 401 (the
/// peer may not have added us yet), 403 and 404 (a wrong peer URL or
/// configuration, which an administrator can fix), 408, 429 and 5xx are not.
fn refused_for_good(status: u16) -> bool {
    matches!(status, 400 | 409 | 413 | 415 | 422)
}

impl Exchange {
    /// Delivers due outbox entries until shutdown, up to [`IN_FLIGHT`] at a
    /// time and one per request (so a request's events arrive in order). New
    /// entries start as soon as they are queued or a batch finishes, without
    /// waiting for the others. Failures back off exponentially (1 s doubling
    /// up to 5 minutes); every attempt is recorded.
    pub async fn run_delivery(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut under_way = UnderWay::default();
        // Other replicas' new envelopes, where they share the store.
        let mut added = self
            .node
            .store()
            .subscribe(Topic::Outbox)
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "no wakeups for other replicas' envelopes; polling");
                None
            });
        if let Err(e) = self.release_approved().await {
            tracing::error!(error = %e, "could not release approved transfers");
        }
        loop {
            if let Err(e) = self.start_due(&mut under_way) {
                tracing::error!(error = %e, "outbox pass failed");
            }
            tokio::select! {
                Some(done) = under_way.tasks.join_next_with_id(), if !under_way.tasks.is_empty() => {
                    under_way.finished(done);
                    while let Some(more) = under_way.tasks.try_join_next_with_id() {
                        under_way.finished(more);
                    }
                }
                _ = self.wake.notified() => {}
                _ = wake::rung(&mut added) => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Starts batches for due entries that are not already under way.
    fn start_due(self: &Arc<Self>, under_way: &mut UnderWay) -> Result<(), ExchangeError> {
        let room = IN_FLIGHT.saturating_sub(under_way.digests.len());
        if room == 0 {
            return Ok(());
        }
        let now = time::now();
        let due = self.node.store().outbox_claim(
            &time::format(&now),
            &time::format(&(now + DELIVERY_LEASE)),
            (room + under_way.digests.len()) as u64,
        )?;
        let mut by_peer: BTreeMap<String, Vec<OutboxRow>> = BTreeMap::new();
        for row in due
            .into_iter()
            .filter(|r| !under_way.digests.contains(&r.digest))
            .take(room)
        {
            by_peer.entry(row.peer.clone()).or_default().push(row);
        }
        for mut rows in by_peer.into_values() {
            while !rows.is_empty() {
                let batch: Vec<OutboxRow> = rows.drain(..rows.len().min(BATCH)).collect();
                let digests: Vec<Hash> = batch.iter().map(|r| r.digest).collect();
                let this = self.clone();
                let task = under_way
                    .tasks
                    .spawn(async move { this.deliver_batch(batch).await });
                under_way.digests.extend(&digests);
                under_way.by_task.insert(task.id(), digests);
            }
        }
        Ok(())
    }

    /// Delivers one batch to one peer and records every envelope's outcome.
    async fn deliver_batch(self: Arc<Self>, rows: Vec<OutboxRow>) {
        let verdicts = match self.post_batch(&rows).await {
            Ok(v) => v,
            Err(why) => rows
                .iter()
                .map(|_| Err(Failed::Retry(why.clone())))
                .collect(),
        };
        if verdicts.iter().any(Result::is_ok) {
            self.peer_reachable(&rows[0].peer).await;
        } else if verdicts.iter().any(|v| matches!(v, Err(Failed::Retry(_)))) {
            self.unreachable
                .lock()
                .expect("lock")
                .insert(rows[0].peer.clone());
        }
        let mut writes = vec![contact(&rows[0].peer, &verdicts)];
        let mut accepted = Vec::new();
        for (row, verdict) in rows.iter().zip(verdicts) {
            match verdict {
                Ok(reply) => accepted.push(self.accept_reply(row, reply)),
                Err(failed) => writes.push(self.failure(row, failed)),
            }
        }
        let (applied, recorded) =
            tokio::join!(futures::future::join_all(accepted), self.persist(writes));
        for e in applied.into_iter().filter_map(Result::err) {
            tracing::error!(error = %e, "could not apply a peer's reply");
        }
        if let Err(e) = recorded {
            tracing::error!(error = %e, "could not record failed deliveries");
        }
    }

    /// A peer that failed to answer is back (it called us, or took a
    /// delivery): its envelopes waiting out a backoff (up to five minutes
    /// each) are sent now, not when each one's wait ends.
    pub async fn peer_reachable(&self, origin: &str) {
        if !self.unreachable.lock().expect("lock").remove(origin) {
            return;
        }
        let due = ExchangeWrite::OutboxDueNow {
            peer: origin.to_string(),
            at: time::format(&time::now()),
        };
        match self.persist(vec![due]).await {
            Ok(()) => self.wake.notify_one(),
            Err(e) => {
                tracing::error!(error = %e, peer = %origin, "could not reschedule deliveries")
            }
        }
    }

    /// The record of an attempt that did not deliver.
    fn failure(&self, row: &OutboxRow, failed: Failed) -> ExchangeWrite {
        match failed {
            Failed::Refused(why) => {
                tracing::warn!(peer = %row.peer, error = %why, "the peer refused an envelope; not retrying");
                self.node.notify(crate::notify::Notice::refused(row, &why));
                ExchangeWrite::OutboxRefused {
                    digest: row.digest,
                    at: time::format(&time::now()),
                    error: why,
                }
            }
            Failed::Retry(why) => {
                let wait = 1u64 << row.attempts.min(8);
                let next = time::now() + chrono::TimeDelta::seconds(wait.min(300) as i64);
                tracing::warn!(peer = %row.peer, attempts = row.attempts + 1, error = %why, "delivery failed; will retry");
                ExchangeWrite::OutboxFailed {
                    digest: row.digest,
                    next_attempt: time::format(&next),
                    error: why,
                }
            }
        }
    }

    /// POSTs a batch, signed, and judges the peer's answer for each envelope.
    /// An error means the batch as a whole did not go through.
    async fn post_batch(&self, rows: &[OutboxRow]) -> Result<Vec<Result<Reply, Failed>>, String> {
        let peer = self
            .node
            .peer(&rows[0].peer)
            .map_err(|e| e.to_string())?
            .ok_or("peer removed")?;
        let envelopes: Vec<String> = rows.iter().map(|r| B64.encode(&r.envelope)).collect();
        let body = json!({ "envelopes": envelopes }).to_string().into_bytes();
        let text = self
            .signed_call(&peer, reqwest::Method::POST, "/federation/v1/batch", body)
            .await?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        #[derive(serde::Deserialize)]
        struct Answer {
            results: Vec<Value>,
        }
        let answer: Answer =
            serde_json::from_str(&text).map_err(|e| format!("bad batch answer: {e}"))?;
        if answer.results.len() != rows.len() {
            return Err(format!(
                "the peer answered {} of {} envelopes",
                answer.results.len(),
                rows.len()
            ));
        }
        let mut opened = HashMap::new();
        Ok(rows
            .iter()
            .zip(answer.results)
            .map(|(row, item)| judge(row, item, &peer, &mut opened))
            .collect())
    }

    /// Calls `path` on the peer, signed with this node's key (RFC 9421); the
    /// response when its status is a success.
    pub(super) async fn signed_call(
        &self,
        peer: &Peer,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
    ) -> Result<reqwest::Response, String> {
        let url = reqwest::Url::parse(&format!("{}{path}", peer.url)).map_err(|e| e.to_string())?;
        let authority = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or("")),
            None => url.host_str().unwrap_or("").to_string(),
        };
        let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
        let signed = Signed {
            method: method.as_str(),
            authority: &authority,
            path: url.path(),
            query: &query,
            body: &body,
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let headers = detente_federation::sign(self.node.key(), &signed, now);
        let mut req = self.http.request(method.clone(), url.clone());
        if !body.is_empty() {
            req = req.header("content-type", "application/json").body(body);
        }
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let resp = req.send().await.map_err(|e| with_causes(&e))?;
        let status = resp.status();
        if !status.is_success() {
            let text = resp.text().await.unwrap_or_default();
            return Err(format!(
                "{status}: {}",
                text.chars().take(300).collect::<String>()
            ));
        }
        Ok(resp)
    }

    /// Records a receipt together with the envelopes the peer sent back with
    /// it (its `delivered`), in one commit under the request's lock: after a
    /// crash either both are there or the entry is still pending, is
    /// delivered again, and the peer answers the same. A reply that cannot be
    /// applied is logged; the receipt is kept regardless, as the delivery
    /// happened.
    async fn accept_reply(&self, row: &OutboxRow, reply: Reply) -> Result<(), ExchangeError> {
        let parsed = parse_own(&row.envelope)?;
        let peer = self
            .node
            .peer(&row.peer)?
            .ok_or_else(|| ExchangeError::Refused("peer removed".into()))?;
        let guard = self.lock_request(&row.request_id).await?;
        let mut writes = match self.reply_writes(row, &peer, &reply.envelopes).await {
            Ok(w) => w,
            // This node could not record them (its store or log failed):
            // the delivery is not done, and is tried again once its lease
            // lapses; the peer answers the same from its inbox.
            Err(e @ ExchangeError::Node(_)) => return Err(e),
            // The peer's own envelopes do not stand; the receipt still does.
            Err(e) => {
                tracing::error!(error = %e, peer = %row.peer, "could not apply what the peer sent with its receipt");
                Vec::new()
            }
        };
        writes.push(ExchangeWrite::SetReceipt {
            event_id: parsed.event.id.to_string(),
            receipt: reply.receipt,
        });
        writes.push(ExchangeWrite::OutboxDelivered {
            digest: row.digest,
            at: time::format(&time::now()),
        });
        self.persist(writes).await?;
        drop(guard);
        if matches!(parsed.event.kind, EventKind::Submitted { .. }) {
            let _ = self.delivered.send(row.request_id.clone());
        }
        Ok(())
    }

    /// Checks and logs the peer's reply envelopes (events of the same
    /// request, e.g. its `delivered`); returns the writes that record them.
    async fn reply_writes(
        &self,
        row: &OutboxRow,
        peer: &Peer,
        replies: &[String],
    ) -> Result<Vec<ExchangeWrite>, ExchangeError> {
        let mut writes = Vec::new();
        if replies.is_empty() {
            return Ok(writes);
        }
        let (mut state, request, _) = self.state(&row.request_id)?;
        let parties = super::row_parties(&self.node.config().origin, &request);
        for b64 in replies {
            let bytes = B64
                .decode(b64)
                .map_err(|e| ExchangeError::Invalid(e.to_string()))?;
            let p = parse_envelope(&bytes, &peer.key)?;
            if p.event.request_id.to_string() != row.request_id {
                return Err(ExchangeError::Invalid(
                    "a reply about another request".into(),
                ));
            }
            let event_id = p.event.id.to_string();
            if self.node.store().event_by_id(&event_id)?.is_some() {
                continue;
            }
            self.check_not_ahead(&p, &row.peer)?;
            let timed = p.timed(&parties)?;
            state = apply(&state, &timed.event, timed.actor, timed.at)?;
            let (index, _) = self.node.append_once(p.envelope.clone()).await?;
            writes.extend(self.event_write(
                &state,
                request.direction,
                &row.peer,
                &p.envelope,
                index,
            )?);
        }
        Ok(writes)
    }
}

/// The record of one batch's outcome for its peer: delivered if any envelope
/// was, and the first error if any was not.
fn contact(peer: &str, verdicts: &[Result<Reply, Failed>]) -> ExchangeWrite {
    let error = verdicts.iter().find_map(|v| match v {
        Err(Failed::Retry(why) | Failed::Refused(why)) => Some(why.clone()),
        Ok(_) => None,
    });
    ExchangeWrite::PeerContact {
        peer: peer.to_string(),
        at: time::format(&time::now()),
        delivered: verdicts.iter().any(Result::is_ok),
        error,
    }
}

/// An error with its chain of causes, on one line: "error sending request"
/// alone does not tell an operator that the peer's certificate was refused.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// The peer's answer for one envelope: a problem (RFC 9457) or a receipt,
/// which must prove that exactly this envelope is in the peer's log. Receipts
/// of one batch mostly share a checkpoint, so each distinct checkpoint's
/// signature is checked once (`opened`).
fn judge(
    row: &OutboxRow,
    item: Value,
    peer: &Peer,
    opened: &mut HashMap<String, Checkpoint>,
) -> Result<Reply, Failed> {
    if let Some(problem) = item.get("problem") {
        let status = problem["status"].as_u64().unwrap_or(0) as u16;
        let detail = problem["detail"].as_str().unwrap_or("refused");
        let why = format!("{status}: {detail}");
        return Err(if refused_for_good(status) {
            Failed::Refused(why)
        } else {
            Failed::Retry(why)
        });
    }
    let bad = |e: String| Failed::Retry(format!("bad receipt: {e}"));
    let reply: Reply = serde_json::from_value(item).map_err(|e| bad(e.to_string()))?;
    let proof = ProofFile::parse(&reply.receipt).map_err(|e| bad(e.to_string()))?;
    let leaf = leaf_for(&detente_domain::sha256(&row.envelope));
    if proof.extra.as_deref() != Some(&leaf[..]) {
        return Err(bad("it is for another envelope".into()));
    }
    if !opened.contains_key(&proof.checkpoint) {
        let (cp, _) = Checkpoint::open(&proof.checkpoint, std::slice::from_ref(&peer.key))
            .map_err(|e| bad(e.to_string()))?;
        opened.insert(proof.checkpoint.clone(), cp);
    }
    proof
        .verify_under(&leaf, &opened[&proof.checkpoint])
        .map_err(|e| bad(format!("does not verify: {e}")))?;
    Ok(reply)
}
