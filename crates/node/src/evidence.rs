//! Evidence bundles: everything a third party needs to recompute a node's
//! reciprocity report offline and check every count — the request envelopes
//! (signed by whichever node acted), their inclusion proofs in this node's log,
//! the receipts peers gave (proofs in the peers' logs), the node's signed
//! checkpoint (with witness cosignatures where it has them), and a signed
//! `report.issued` envelope that fixes the claimed report and the exact set of
//! envelopes it rests on, so a dropped envelope is caught.
//!
//! The verifier trusts keys only from its caller, never from the bundle.

use crate::report::{items_from_envelopes, reports_json};
use crate::{Node, NodeError};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use detente_domain::{leaf_for, sha256, time, SignedEnvelope, VerifierKey};
use detente_log::merkle::{hash_leaf, verify_inclusion, Hash};
use detente_log::proof_file::{parse_hash, ProofFile};
use detente_log::{cosignature, Checkpoint};
use detente_storage::EventRow;
use serde_json::{json, Value};
use std::collections::BTreeSet;

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
    let report = crate::report::build(node, peer, since, now)?;
    let mut rows: Vec<EventRow> = Vec::new();
    node.store().scan_events(&mut |e| {
        rows.push(e);
        Ok(())
    })?;
    let digests: BTreeSet<String> = rows
        .iter()
        .map(|r| hex::encode(sha256(&r.envelope)))
        .collect();
    let claim = json!({ "report": report, "peer": peer, "since": since.map(|s| time::format(&s)), "envelopes": digests });
    let (env, appended) = node.record("report.issued", claim).await?;
    let cp = appended.checkpoint.clone();
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
    }))
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
    let ctx = Ctx {
        keys,
        size: cp.size,
        root: cp.root,
    };

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
