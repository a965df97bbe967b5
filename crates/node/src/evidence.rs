//! Evidence bundles: everything a third party needs to recompute a node's
//! reciprocity report offline and check every count — the request envelopes
//! (signed by whichever node acted), their inclusion proofs in this node's log,
//! the receipts peers gave (proofs in the peers' logs), the node's signed
//! checkpoint (with witness cosignatures where it has them), and a signed
//! `report.issued` envelope that fixes the claimed report and the exact set of
//! envelopes it rests on, so a dropped envelope is caught.
//!
//! Cosignature times are the third party's word on *when*: for every entry the
//! bundle carries the first checkpoint a witness (a peer) cosigned that
//! contains it, and the last one that did not yet, each with a consistency
//! proof to the bundle's checkpoint. So a recipient that witnessed the
//! sender's log cannot deny that the sender's requests were there by the time
//! it cosigned, and a node cannot date its own envelope earlier than a
//! witness saw its log without it (backdating) without the verifier noticing.
//!
//! The verifier trusts keys only from its caller, never from the bundle.

use crate::report::{items_from_envelopes, reports_json};
use crate::{Node, NodeError};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use detente_domain::{leaf_for, sha256, time, SignedEnvelope, VerifierKey};
use detente_log::merkle::verify_consistency;
use detente_log::merkle::{hash_leaf, verify_inclusion, Hash};
use detente_log::proof_file::{parse_hash, ProofFile};
use detente_log::{cosignature, Checkpoint};
use detente_storage::EventRow;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

pub const FORMAT: &str = "detente-evidence/v1";

fn entry_json(
    node: &Node,
    index: u64,
    envelope: &[u8],
    size: u64,
    receipt: Option<&str>,
) -> Result<Value, NodeError> {
    let proof: Vec<String> = node
        .inclusion_proof(index, size)?
        .iter()
        .map(|h| B64.encode(h))
        .collect();
    Ok(
        json!({ "envelope": B64.encode(envelope), "index": index, "proof": proof, "receipt": receipt }),
    )
}

/// Writes the report into the log and returns the bundle. `peer` and `since`
/// narrow the report as `detente report` does.
pub async fn bundle(
    node: &Node,
    peer: Option<&str>,
    since: Option<time::Timestamp>,
    now: time::Timestamp,
) -> Result<Value, NodeError> {
    let mut rows: Vec<EventRow> = Vec::new();
    node.store().scan_events(&mut |e| {
        rows.push(e);
        Ok(())
    })?;
    // The report is computed from exactly these envelopes, as the verifier
    // will, and as of a time no earlier than any of them (a peer's clock may
    // run ahead of ours), so events recorded meanwhile cannot make the two
    // differ.
    let now = rows
        .iter()
        .filter_map(|r| time::parse(&r.at))
        .fold(now, |latest, t| latest.max(t));
    let me = node.config().origin.to_string();
    let items = crate::report::items_from_recorded(
        &me,
        rows.iter()
            .map(|r| (r.request_id.clone(), r.envelope.as_slice())),
    )
    .map_err(NodeError::Integrity)?;
    let report = reports_json(&me, &items, peer, since, now);
    issue(node, &rows, report, peer, since).await
}

/// Logs a `report.issued` claim of `report` over exactly `rows` and writes
/// the bundle that proves it.
async fn issue(
    node: &Node,
    rows: &[EventRow],
    report: Value,
    peer: Option<&str>,
    since: Option<time::Timestamp>,
) -> Result<Value, NodeError> {
    let digests: BTreeSet<String> = rows
        .iter()
        .map(|r| hex::encode(sha256(&r.envelope)))
        .collect();
    let claim = json!({ "report": report, "peer": peer, "since": since.map(|s| time::format(&s)), "envelopes": digests });
    let (env, appended) = node.record("report.issued", claim).await?;
    let cp = appended.checkpoint.clone();
    let indexes: Vec<u64> = rows.iter().map(|r| r.log_index).collect();
    let witnessed = witnessed_checkpoints(node, &indexes, cp.size)?;
    let entries = rows
        .iter()
        .map(|r| {
            entry_json(
                node,
                r.log_index,
                &r.envelope,
                cp.size,
                r.receipt.as_deref(),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({
        "format": FORMAT,
        "node": node.config().origin,
        "checkpoint": node.checkpoint_with_cosignatures(cp.size)?.unwrap_or_else(|| cp.note.clone()),
        "cosigned_checkpoint": node.cosigned_checkpoint()?,
        "report_entry": entry_json(node, appended.first_index, env.bytes(), cp.size, None)?,
        "entries": entries,
        "witnessed": witnessed,
    }))
}

/// For every entry, the first checkpoint a witness cosigned that contains
/// it and the last one that does not, each with a consistency proof from it to
/// the bundle's checkpoint of `size`.
fn witnessed_checkpoints(node: &Node, indexes: &[u64], size: u64) -> Result<Vec<Value>, NodeError> {
    let sizes: Vec<u64> = node
        .store()
        .cosigned_sizes()?
        .into_iter()
        .filter(|&s| s <= size)
        .collect();
    let needed: BTreeSet<u64> = indexes
        .iter()
        .flat_map(|&i| {
            let first_with = sizes.partition_point(|&s| s <= i);
            let last_without = first_with.checked_sub(1).map(|k| sizes[k]);
            [last_without, sizes.get(first_with).copied()]
        })
        .flatten()
        .collect();
    needed
        .into_iter()
        .map(|s| {
            let note = node
                .checkpoint_with_cosignatures(s)?
                .ok_or_else(|| NodeError::Integrity(format!("no checkpoint of size {s}")))?;
            let proof: Vec<String> = node
                .consistency_proof(s, size)?
                .iter()
                .map(|h| B64.encode(h))
                .collect();
            Ok(json!({ "checkpoint": note, "consistency": proof }))
        })
        .collect()
}

/// What an offline verification established.
#[derive(Debug)]
pub struct Verified {
    pub node: String,
    pub report: Value,
    pub envelopes: usize,
    pub receipts: usize,
    /// Witness names whose cosignature on the node's checkpoint verified.
    pub cosigners: Vec<String>,
    /// Envelopes under a checkpoint a trusted witness cosigned.
    pub witnessed: usize,
    /// Per peer: requests this node sent it that were under a checkpoint the
    /// peer itself cosigned, and the latest such cosignature (Unix seconds).
    pub sent_seen_by_recipient: BTreeMap<String, (usize, u64)>,
    /// This node's envelopes dated more than [`CLOCK_TOLERANCE_SECS`] before a
    /// trusted witness cosigned a checkpoint that did not yet hold them: they
    /// were signed later than they say.
    pub backdated: usize,
}

/// How far a node's clock, and a witness's delay in cosigning a checkpoint it
/// was sent, may put an envelope's date before a cosignature of the log
/// without it. Witnesses cosign within seconds and organisations keep their
/// clocks by NTP; ten minutes covers both with room.
pub const CLOCK_TOLERANCE_SECS: u64 = 600;

/// A checkpoint of the node's log cosigned by trusted witnesses: its size,
/// and each witness with its cosignature's time.
struct Witnessed {
    size: u64,
    times: BTreeMap<String, u64>,
}

/// The bundle's witnessed checkpoints that verify: signed by the node,
/// cosigned by a trusted key, consistent with the bundle's checkpoint.
fn witnessed(
    bundle: &Value,
    node_key: &VerifierKey,
    keys: &[VerifierKey],
    cp: &Checkpoint,
) -> Result<Vec<Witnessed>, String> {
    let mut out = Vec::new();
    for w in bundle["witnessed"].as_array().into_iter().flatten() {
        let note = w["checkpoint"]
            .as_str()
            .ok_or("witnessed entry without checkpoint")?;
        let (c, signed) = Checkpoint::open(note, std::slice::from_ref(node_key))
            .map_err(|e| format!("witnessed checkpoint: {e}"))?;
        let proof = w["consistency"]
            .as_array()
            .ok_or("witnessed checkpoint without consistency proof")?
            .iter()
            .map(|h| parse_hash(h.as_str().unwrap_or("")))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        verify_consistency(c.size, cp.size, &c.root, &cp.root, &proof).map_err(|e| {
            format!(
                "witnessed checkpoint of size {} is not a prefix of the log: {e}",
                c.size
            )
        })?;
        let times: BTreeMap<String, u64> = signed
            .sigs
            .iter()
            .filter_map(|s| {
                let k = keys
                    .iter()
                    .find(|k| k.name() == s.name && k.name() != node_key.name())?;
                cosignature::verify(k, &c.body(), s).map(|t| (s.name.clone(), t))
            })
            .collect();
        if !times.is_empty() {
            out.push(Witnessed {
                size: c.size,
                times,
            });
        }
    }
    out.sort_by_key(|w| w.size);
    Ok(out)
}

struct Ctx<'a> {
    keys: &'a [VerifierKey],
    size: u64,
    root: Hash,
}

impl Ctx<'_> {
    fn key(&self, origin: &str) -> Result<&VerifierKey, String> {
        self.keys
            .iter()
            .find(|k| k.name() == origin)
            .ok_or_else(|| format!("no trusted key for {origin} (give it with --key)"))
    }

    /// Checks one entry's signature and inclusion; returns the envelope bytes.
    fn entry(&self, e: &Value) -> Result<(Vec<u8>, SignedEnvelope), String> {
        let bytes = B64
            .decode(e["envelope"].as_str().ok_or("entry without envelope")?)
            .map_err(|e| e.to_string())?;
        let origin = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v["origin"].as_str().map(str::to_string))
            .ok_or("envelope without origin")?;
        let (env, _) = SignedEnvelope::verify(&bytes, self.key(&origin)?)
            .map_err(|err| format!("envelope by {origin}: {err}"))?;
        let index = e["index"].as_u64().ok_or("entry without index")?;
        let proof = e["proof"]
            .as_array()
            .ok_or("entry without proof")?
            .iter()
            .map(|h| parse_hash(h.as_str().unwrap_or("")))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        verify_inclusion(
            index,
            self.size,
            &hash_leaf(&env.leaf()),
            &proof,
            &self.root,
        )
        .map_err(|err| format!("entry {index} is not in the log: {err}"))?;
        Ok((bytes, env))
    }
}

/// Verifies a bundle against trusted keys and recomputes its report.
pub fn verify(bundle: &Value, keys: &[VerifierKey]) -> Result<Verified, String> {
    if bundle["format"] != FORMAT {
        return Err(format!("not a {FORMAT} bundle"));
    }
    let node = bundle["node"]
        .as_str()
        .ok_or("bundle without node")?
        .to_string();
    let node_key = keys
        .iter()
        .find(|k| k.name() == node)
        .ok_or_else(|| format!("no trusted key for {node}"))?;
    let note = bundle["checkpoint"]
        .as_str()
        .ok_or("bundle without checkpoint")?;
    let (cp, signed) = Checkpoint::open(note, std::slice::from_ref(node_key))
        .map_err(|e| format!("checkpoint: {e}"))?;
    let cosigners = signed
        .sigs
        .iter()
        .filter_map(|s| {
            let k = keys
                .iter()
                .find(|k| k.name() == s.name && k.name() != node)?;
            cosignature::verify(k, &cp.body(), s).map(|_| s.name.clone())
        })
        .collect();
    let witnessed = witnessed(bundle, node_key, keys, &cp)?;
    let ctx = Ctx {
        keys,
        size: cp.size,
        root: cp.root,
    };
    let mut witnessed_entries = 0;
    let mut backdated = 0;
    let mut sent_seen: BTreeMap<String, (usize, u64)> = BTreeMap::new();
    // seen_without[k]: the latest trusted cosignature among witnessed[..k].
    let seen_without: Vec<u64> = std::iter::once(0)
        .chain(witnessed.iter().scan(0, |latest, w| {
            *latest = w.times.values().copied().fold(*latest, u64::max);
            Some(*latest)
        }))
        .collect();

    let (_, report_env) = ctx.entry(&bundle["report_entry"])?;
    let claim: Value =
        serde_json::from_slice::<Value>(report_env.bytes()).map_err(|e| e.to_string())?;
    if claim["origin"] != node.as_str() || claim["type"] != "report.issued" {
        return Err("the report entry is not this node's report".into());
    }
    let claim = &claim["payload"];

    let mut seen = BTreeSet::new();
    let mut envelopes: Vec<(String, Vec<u8>)> = Vec::new();
    let mut receipts = 0;
    for e in bundle["entries"]
        .as_array()
        .ok_or("bundle without entries")?
    {
        let (bytes, env) = ctx.entry(e)?;
        if !seen.insert(hex::encode(env.digest())) {
            return Err("an envelope appears twice".into());
        }
        let parsed = serde_json::from_slice::<Value>(&bytes).map_err(|e| e.to_string())?;
        let index = e["index"].as_u64().unwrap_or(u64::MAX);
        let first_with = witnessed.partition_point(|w| w.size <= index);
        let after = &witnessed[first_with..];
        if !after.is_empty() {
            witnessed_entries += 1;
        }
        if parsed["origin"] == node.as_str() {
            let dated = parsed["time"]
                .as_str()
                .and_then(time::parse)
                .ok_or("envelope without a valid time")?
                .timestamp()
                .max(0) as u64;
            if dated + CLOCK_TOLERANCE_SECS < seen_without[first_with] {
                backdated += 1;
            }
        }
        if parsed["origin"] == node.as_str() && parsed["type"] == "request.submitted" {
            let recipient = parsed["payload"]["recipient"].as_str().unwrap_or_default();
            if let Some(t) = after.iter().find_map(|w| w.times.get(recipient)) {
                let seen = sent_seen.entry(recipient.to_string()).or_default();
                seen.0 += 1;
                seen.1 = seen.1.max(*t);
            }
        }
        let request_id = parsed["payload"]["event"]["request_id"]
            .as_str()
            .ok_or("not a request event")?
            .to_string();
        if let Some(receipt) = e["receipt"].as_str() {
            check_receipt(&ctx, &node, &parsed, env.digest(), receipt)?;
            receipts += 1;
        }
        envelopes.push((request_id, bytes));
    }
    let claimed: BTreeSet<String> = claim["envelopes"]
        .as_array()
        .ok_or("report without envelope list")?
        .iter()
        .filter_map(|d| d.as_str().map(str::to_string))
        .collect();
    if claimed != seen {
        return Err(format!(
            "the bundle's envelopes differ from those the report was issued over ({} missing, {} extra)",
            claimed.difference(&seen).count(),
            seen.difference(&claimed).count()
        ));
    }
    let key_of = |o: &str| keys.iter().find(|k| k.name() == o).cloned();
    let items = items_from_envelopes(
        &node,
        envelopes.iter().map(|(id, b)| (id.clone(), b.as_slice())),
        &key_of,
    )?;
    let stated = &claim["report"];
    let now = time::parse(
        stated["generated_at"]
            .as_str()
            .ok_or("report without time")?,
    )
    .ok_or("bad report time")?;
    let since = claim["since"].as_str().and_then(time::parse);
    let recomputed = reports_json(&node, &items, claim["peer"].as_str(), since, now);
    if &recomputed != stated {
        return Err("the recomputed report differs from the signed one".into());
    }
    Ok(Verified {
        node,
        report: recomputed,
        envelopes: envelopes.len(),
        receipts,
        cosigners,
        witnessed: witnessed_entries,
        sent_seen_by_recipient: sent_seen,
        backdated,
    })
}

/// A receipt is a tlog-proof of this node's envelope in the counterpart's log.
fn check_receipt(
    ctx: &Ctx,
    node: &str,
    parsed: &Value,
    digest: &Hash,
    receipt: &str,
) -> Result<(), String> {
    let payload = &parsed["payload"];
    let counterpart = if payload["sender"] == node {
        &payload["recipient"]
    } else {
        &payload["sender"]
    };
    let counterpart = counterpart.as_str().ok_or("event without parties")?;
    let pf = ProofFile::parse(receipt).map_err(|e| format!("receipt: {e}"))?;
    let leaf = leaf_for(digest);
    pf.verify(&leaf, ctx.key(counterpart)?)
        .map_err(|e| format!("receipt from {counterpart}: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datadir;
    use detente_domain::{Country, Envelope, NodeKey, Origin};
    use detente_requests::{Direction, ReportItem, Side, TimedEvent, Timeline};

    const A: &str = "cert-a.example";
    const B: &str = "cert-b.example";

    fn payload(kind: Value, request_id: &str, sender: &str, recipient: &str) -> Value {
        json!({ "event": { "id": uuid::Uuid::now_v7().to_string(), "request_id": request_id, "kind": kind },
                "sender": sender, "recipient": recipient })
    }

    fn signed_by(key: &NodeKey, kind: &str, payload: Value) -> SignedEnvelope {
        Envelope::new(kind, Origin::parse(key.name()).unwrap(), payload)
            .unwrap()
            .sign(key)
            .unwrap()
    }

    /// A's log holds A's request to B, B's `delivered` and `acknowledged`, and
    /// an `answered`
    /// signed by A or B naming `sender -> recipient`; A issues a report
    /// claiming the request answered, over exactly those envelopes.
    async fn bundle_with_answer(
        node: &Node,
        b: &NodeKey,
        answered_by_a: bool,
        sender: &str,
        recipient: &str,
    ) -> (Value, SignedEnvelope) {
        let id = uuid::Uuid::now_v7().to_string();
        let now = time::now();
        let request = json!({ "type": "consultation", "reference": "REF-1", "issuing_authority": "National CERT",
            "facts": "Which hosting provider operates the address block?", "urgency": "normal",
            "tlp": "green", "recipient": B });
        let deadlines = json!({ "acknowledge_by": time::format(&(now + chrono::TimeDelta::days(2))),
                                "answer_by": time::format(&(now + chrono::TimeDelta::days(10))) });
        let submitted = node
            .sign(
                "request.submitted",
                payload(
                    json!({ "type": "submitted", "request": request, "deadlines": deadlines }),
                    &id,
                    A,
                    B,
                ),
            )
            .unwrap();
        let delivered = signed_by(
            b,
            "request.delivered",
            payload(json!({ "type": "delivered" }), &id, A, B),
        );
        let acknowledged = signed_by(
            b,
            "request.acknowledged",
            payload(json!({ "type": "acknowledged" }), &id, A, B),
        );
        let answer = payload(
            json!({ "type": "answered", "note": "see annex" }),
            &id,
            sender,
            recipient,
        );
        let answered = if answered_by_a {
            node.sign("request.answered", answer).unwrap()
        } else {
            signed_by(b, "request.answered", answer)
        };
        let envs = vec![submitted, delivered, acknowledged, answered.clone()];
        let first = node.append(envs.clone()).await.unwrap().first_index;
        let rows: Vec<EventRow> = envs
            .iter()
            .enumerate()
            .map(|(i, e)| EventRow {
                request_id: id.clone(),
                seq: i as u64,
                event_id: String::new(),
                actor: String::new(),
                kind: e.kind().to_string(),
                at: e.time().to_string(),
                log_index: first + i as u64,
                envelope: e.bytes().to_vec(),
                receipt: None,
            })
            .collect();
        // What the report claims: the request answered by its recipient.
        let events = envs
            .iter()
            .zip([
                Side::Sender,
                Side::Recipient,
                Side::Recipient,
                Side::Recipient,
            ])
            .map(|(e, actor)| {
                let v: Value = serde_json::from_slice(e.bytes()).unwrap();
                TimedEvent {
                    at: time::parse(e.time()).unwrap(),
                    actor,
                    event: serde_json::from_value(v["payload"]["event"].clone()).unwrap(),
                }
            })
            .collect();
        let item = ReportItem {
            direction: Direction::Outbound,
            peer: Origin::parse(B).unwrap(),
            timeline: Timeline { events },
        };
        let report = reports_json(A, &[item], None, None, time::now());
        (
            issue(node, &rows, report, None, None).await.unwrap(),
            answered,
        )
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_bundle_with_an_event_signed_by_a_party_not_entitled_to_it_fails() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("a");
        datadir::init(
            &dir,
            &Origin::parse(A).unwrap(),
            Some(Country::parse("RU").unwrap()),
        )
        .unwrap();
        let node = Node::open(&dir).unwrap();
        let b = NodeKey::generate(B).unwrap();
        let keys = [node.verifier(), b.verifier()];

        // The honest record: B answers its request. It verifies.
        let (honest, _) = bundle_with_answer(&node, &b, false, A, B).await;
        let ok = verify(&honest, &keys).unwrap();
        assert_eq!(ok.report["reports"][0]["outbound"]["answered"], 1);

        // A answers its own request in B's place, naming itself the recipient.
        let (forged, answered) = bundle_with_answer(&node, &b, true, B, A).await;
        let err = verify(&forged, &keys).unwrap_err();
        assert!(err.contains(&hex::encode(answered.digest())), "{err}");
        assert!(err.contains("request.answered by cert-a.example"), "{err}");
        // Naming the real parties does not help: answering is the recipient's.
        let (forged, answered) = bundle_with_answer(&node, &b, true, A, B).await;
        let err = verify(&forged, &keys).unwrap_err();
        assert!(err.contains(&hex::encode(answered.digest())), "{err}");
        assert!(err.contains("only the recipient may answer"), "{err}");
    }
}
