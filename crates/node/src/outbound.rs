//! The transfer gate in the product: every payload a node sends to another party
//! passes [`Outbound::check`], which scans it, judges it by the node's
//! jurisdiction profile with the volumes already sent to that recipient in the
//! last 12 months, and records the decision as a `gate.decision` envelope. Held
//! payloads wait for a reviewer ([`Outbound::resolve`], a `gate.review` envelope).

use crate::{Node, NodeError};
use chrono::{DateTime, Utc};
use detente_domain::{sha256, time, Country};
use detente_gate::redact::{redact_bytes, RedactMode};
use detente_gate::{
    check_payload, Action, Category, GateError, Profile, Scanner, Transfer, Volume, VolumeLedger,
};
use detente_storage::{HoldRow, HoldStatus, TransferStore};
use serde_json::json;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

const EU_EEA: &[&str] = &[
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
];

/// What to do with one outbound payload.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// Send it; `Some` replaces it with a redacted copy.
    Send(Option<Vec<u8>>),
    /// Do not send it. `hold` names the hold a reviewer can approve.
    Withhold {
        reason: String,
        hold: Option<String>,
    },
}

pub struct Outbound {
    node: Arc<Node>,
    profile: Profile,
    /// Checking the 12-month volumes and committing a transfer's are one step
    /// per recipient (sharded by recipient): two transfers judged at once could
    /// otherwise pass a threshold together.
    decide: Vec<Mutex<()>>,
    /// Payloads allowed with nothing to count, already logged in this run:
    /// their decisions are not stored (that would cost a commit per object
    /// served), so this keeps repeated reads from being logged again.
    logged: Mutex<HashSet<[u8; 32]>>,
}

/// Bound on `Outbound::logged`; past it the set starts again (a payload then
/// is at worst logged once more).
const LOGGED_CAPACITY: usize = 1 << 20;

/// One payload about to leave the node.
pub struct Outgoing<'a> {
    pub recipient: &'a str,
    pub country: Country,
    /// Names the payload, stable across retries and reads (a STIX object
    /// version, a digest of a request event's content), so it is judged,
    /// logged and counted once per recipient and a hold is found again.
    pub subject: &'a str,
    /// (name, bytes) of each part.
    pub parts: &'a [(&'a str, &'a [u8])],
    pub legal_basis: Option<&'a str>,
    /// Kept with a hold: what an approval releases, and who asked.
    pub release: Option<String>,
    pub requested_by: Option<&'a str>,
}

/// The profile a node applies: the configured one, or by the node's country.
pub fn profile_for(node: &Node) -> Result<Profile, NodeError> {
    let name = match node.config().gate.profile.as_str() {
        "auto" => match node.config().country()? {
            Some(c) if c.as_str() == "US" => "us-dsp",
            Some(c) if EU_EEA.contains(&c.as_str()) => "eu-gdpr-ch5",
            _ => "none",
        }
        .to_string(),
        other => other.to_string(),
    };
    Profile::resolve(&name).map_err(|e| NodeError::Config(format!("gate profile {name}: {e}")))
}

/// The 12-month volume ledger of 28 CFR 202.205, kept in the node's store.
struct Ledger<'a>(&'a dyn TransferStore);

fn gate_err(e: impl std::fmt::Display) -> GateError {
    GateError::Ledger(e.to_string())
}

impl VolumeLedger for Ledger<'_> {
    fn prior_volume(
        &self,
        _: &str,
        recipient: &str,
        c: Category,
        since: DateTime<Utc>,
    ) -> Result<u64, GateError> {
        self.0
            .prior_volume(recipient, c.as_str(), &time::format(&since))
            .map_err(gate_err)
    }

    fn record(
        &self,
        _: &str,
        recipient: &str,
        c: Category,
        n: u64,
        at: DateTime<Utc>,
    ) -> Result<(), GateError> {
        self.0
            .record_volume(recipient, c.as_str(), n, &time::format(&at))
            .map_err(gate_err)
    }
}

impl Outbound {
    pub fn new(node: Arc<Node>) -> Result<Self, NodeError> {
        let profile = profile_for(&node)?;
        Ok(Outbound {
            node,
            profile,
            decide: (0..64).map(|_| Mutex::new(())).collect(),
            logged: Mutex::default(),
        })
    }

    fn store(&self) -> &dyn TransferStore {
        self.node.store().as_ref()
    }

    /// The jurisdiction profile loaded at start, which every decision uses.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Judges a payload leaving the node. The first decision on a payload for
    /// a recipient is logged (`gate.decision`) and its volumes counted; the
    /// same payload again gets the same verdict, unlogged and uncounted.
    pub fn check(&self, out: &Outgoing) -> Result<Verdict, NodeError> {
        let key = sha256(format!("{}\n{}", out.recipient, out.subject).as_bytes());
        if self.lock(&self.logged)?.contains(&key) {
            return Ok(Verdict::Send(None));
        }
        let first = self.assess(out)?;
        if first.decision.decision == Action::Allow && counts(&first.files).is_empty() {
            // Nothing to count: the volumes play no part, so no lock.
            let mut logged = self.lock(&self.logged)?;
            if logged.len() >= LOGGED_CAPACITY {
                logged.clear();
            }
            logged.insert(key);
            drop(logged);
            self.log(out, &first.decision, None)?;
            return Ok(Verdict::Send(None));
        }
        let _one_at_a_time = self.lock(self.shard(out.recipient))?;
        if let Some(h) = self.store().find_hold(out.recipient, out.subject)? {
            return self.held(out, h);
        }
        if let Some(action) = self.store().decision(out.recipient, out.subject)? {
            return self.decided_before(out, &action);
        }
        // Judged again against the volumes as they stand under the lock.
        let assessment = self.assess(out)?;
        let decision = &assessment.decision;
        let (verdict, action) = match decision.decision {
            Action::Allow => (Verdict::Send(None), Some("allow")),
            Action::Redact => (Verdict::Send(Some(self.redact(out.parts)?)), Some("redact")),
            Action::Hold => {
                let hold = self.hold(out, decision)?;
                self.node.notify(crate::notify::Notice::held(&hold));
                let verdict = Verdict::Withhold {
                    reason: "held for review".into(),
                    hold: Some(hold.id),
                };
                (verdict, None)
            }
            Action::Block => (blocked(), Some("block")),
        };
        if let Some(action) = action {
            let counted = match action {
                "allow" => counts(&assessment.files),
                _ => Vec::new(),
            };
            self.commit(out, Some(action), &counted)?;
        }
        let hold_id = match &verdict {
            Verdict::Withhold { hold, .. } => hold.clone(),
            _ => None,
        };
        self.log(out, decision, hold_id)?;
        Ok(verdict)
    }

    fn assess(&self, out: &Outgoing) -> Result<detente_gate::Assessment, NodeError> {
        let ledger = Ledger(self.store());
        check_payload(&self.profile, &self.transfer(out), out.parts, &ledger).map_err(gate_failure)
    }

    fn log(
        &self,
        out: &Outgoing,
        decision: &detente_gate::Decision,
        hold: Option<String>,
    ) -> Result<(), NodeError> {
        self.node.record_detached(
            "gate.decision",
            json!({ "recipient": out.recipient, "country": out.country.as_str(), "subject": out.subject,
                    "hold": hold, "decision": decision }),
        )
    }

    /// The lock serialising the volume check and commit of one recipient.
    fn shard(&self, recipient: &str) -> &Mutex<()> {
        let h = sha256(recipient.as_bytes());
        &self.decide[h[0] as usize % self.decide.len()]
    }

    fn lock<'a, T>(&self, m: &'a Mutex<T>) -> Result<std::sync::MutexGuard<'a, T>, NodeError> {
        m.lock().map_err(|_| NodeError::Closed)
    }

    /// The transfer's volumes and the decision, in one transaction.
    fn commit(
        &self,
        out: &Outgoing,
        decision: Option<&str>,
        counted: &[(&str, u64)],
    ) -> Result<(), NodeError> {
        let at = time::format(&time::now());
        Ok(self
            .store()
            .commit_transfer(out.recipient, out.subject, decision, counted, &at)?)
    }

    /// What the gate would decide on a payload now, with nothing logged,
    /// counted or held: the preview an officer sees before sending.
    pub fn preview(&self, out: &Outgoing) -> Result<detente_gate::Assessment, NodeError> {
        let transfer = self.transfer(out);
        check_payload(&self.profile, &transfer, out.parts, &Ledger(self.store()))
            .map_err(gate_failure)
    }

    fn transfer(&self, out: &Outgoing) -> Transfer {
        Transfer {
            sender: self.node.config().origin.clone(),
            recipient: out.recipient.to_string(),
            destination: out.country.to_string(),
            legal_basis: out.legal_basis.map(str::to_string),
            government_related: false,
            at: Utc::now(),
        }
    }

    /// A payload a reviewer has seen: approved, it is sent, and its volumes
    /// are counted the first time it leaves; otherwise it stays withheld.
    fn held(&self, out: &Outgoing, h: HoldRow) -> Result<Verdict, NodeError> {
        match h.status {
            HoldStatus::Approved => {
                if h.released_at.is_none() {
                    let assessment = self.assess(out)?;
                    self.commit(out, None, &counts(&assessment.files))?;
                    self.store()
                        .release_hold(&h.id, &time::format(&time::now()))?;
                }
                Ok(Verdict::Send(None))
            }
            HoldStatus::Rejected => Ok(Verdict::Withhold {
                reason: format!(
                    "hold {} was rejected by {}: {}",
                    h.id,
                    h.resolved_by.as_deref().unwrap_or("a reviewer"),
                    h.reason.as_deref().unwrap_or("")
                ),
                hold: Some(h.id),
            }),
            HoldStatus::Held => Ok(Verdict::Withhold {
                reason: format!("hold {} is held", h.id),
                hold: Some(h.id),
            }),
        }
    }

    fn decided_before(&self, out: &Outgoing, action: &str) -> Result<Verdict, NodeError> {
        Ok(match action {
            "allow" => Verdict::Send(None),
            // Pseudonyms are fresh per copy, so the copy is made again.
            "redact" => Verdict::Send(Some(self.redact(out.parts)?)),
            _ => blocked(),
        })
    }

    fn redact(&self, parts: &[(&str, &[u8])]) -> Result<Vec<u8>, NodeError> {
        let mode = RedactMode::fresh_pseudonym().map_err(gate_failure)?;
        let scanner = Scanner::default();
        let mut out = Vec::new();
        for (name, bytes) in parts {
            out.extend(
                redact_bytes(&scanner, name, bytes, &mode)
                    .map_err(gate_failure)?
                    .0,
            );
        }
        Ok(out)
    }

    fn hold(&self, out: &Outgoing, d: &detente_gate::Decision) -> Result<HoldRow, NodeError> {
        let row = HoldRow {
            id: uuid::Uuid::new_v4().to_string(),
            recipient: out.recipient.to_string(),
            country: out.country.to_string(),
            subject: out.subject.to_string(),
            decision: serde_json::to_string(d).unwrap_or_default(),
            status: HoldStatus::Held,
            created: time::format(&time::now()),
            resolved_by: None,
            reason: None,
            requested_by: out.requested_by.map(str::to_string),
            payload: out.release.clone(),
            released_at: None,
        };
        Ok(self.store().hold(&row)?)
    }

    /// A reviewer approves or rejects a held payload; recorded in the log. The
    /// reviewer may not be the officer whose action was held (four eyes).
    pub async fn resolve(
        &self,
        id: &str,
        approve: bool,
        reviewer: &str,
        reason: &str,
    ) -> Result<Option<HoldRow>, NodeError> {
        let Some(pending) = self.store().hold_by_id(id)? else {
            return Ok(None);
        };
        if pending.requested_by.as_deref() == Some(reviewer) {
            return Err(NodeError::FourEyes(format!(
                "{reviewer} asked for this transfer and cannot review it; another reviewer must"
            )));
        }
        let status = if approve {
            HoldStatus::Approved
        } else {
            HoldStatus::Rejected
        };
        let Some(h) = self.store().resolve_hold(id, status, reviewer, reason)? else {
            return Ok(None);
        };
        self.node
            .record("gate.review", json!({ "hold": id, "status": status, "reviewer": reviewer,
                                           "reason": reason, "recipient": h.recipient, "subject": h.subject }))
            .await?;
        Ok(Some(h))
    }
}

/// What a transfer adds to the 12-month volumes, per category.
fn counts(files: &[detente_gate::FileSummary]) -> Vec<(&'static str, u64)> {
    Volume::from_summaries(files)
        .categories
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(c, n)| (c.as_str(), *n))
        .collect()
}

fn blocked() -> Verdict {
    Verdict::Withhold {
        reason: "blocked by the transfer policy".into(),
        hold: None,
    }
}

fn gate_failure(e: GateError) -> NodeError {
    NodeError::Gate(e.to_string())
}
