//! The transfer gate in the product: every payload a node sends to another party
//! passes [`Outbound::check`], which scans it, judges it by the node's
//! jurisdiction profile with the volumes already sent to that recipient in the
//! last 12 months, and records the decision as a `gate.decision` envelope. Held
//! payloads wait for a reviewer ([`Outbound::resolve`], a `gate.review` envelope).

use crate::{Node, NodeError};
use chrono::{DateTime, Utc};
use detente_domain::{time, Country};
use detente_gate::redact::{redact_bytes, RedactMode};
use detente_gate::{
    check_payload, Action, Category, GateError, Profile, Scanner, Transfer, Volume, VolumeLedger,
};
use detente_storage::{HoldRow, TransferStore};
use serde_json::json;
use std::sync::Arc;

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
        Ok(Outbound { node, profile })
    }

    fn store(&self) -> &dyn TransferStore {
        self.node.store().as_ref()
    }

    /// Judges `parts` (name, bytes) leaving for `recipient` in `country`;
    /// `subject` names the payload (stable across retries, so a hold is reused).
    pub fn check(
        &self,
        recipient: &str,
        country: Country,
        subject: &str,
        parts: &[(&str, &[u8])],
        legal_basis: Option<&str>,
    ) -> Result<Verdict, NodeError> {
        if let Some(h) = self.store().find_hold(recipient, subject)? {
            return Ok(match h.status.as_str() {
                "approved" => Verdict::Send(None),
                _ => Verdict::Withhold {
                    reason: format!("hold {} is {}", h.id, h.status),
                    hold: Some(h.id),
                },
            });
        }
        let transfer = Transfer {
            sender: self.node.config().origin.clone(),
            recipient: recipient.to_string(),
            destination: country.to_string(),
            legal_basis: legal_basis.map(str::to_string),
            government_related: false,
            at: Utc::now(),
        };
        let ledger = Ledger(self.store());
        let assessment =
            check_payload(&self.profile, &transfer, parts, &ledger).map_err(gate_failure)?;
        let decision = &assessment.decision;
        let verdict = match decision.decision {
            Action::Allow => {
                detente_gate::commit(
                    &transfer,
                    &Volume::from_summaries(&assessment.files),
                    &ledger,
                )
                .map_err(gate_failure)?;
                Verdict::Send(None)
            }
            Action::Redact => Verdict::Send(Some(self.redact(parts)?)),
            Action::Hold => {
                let hold = self.hold(recipient, country, subject, decision)?;
                Verdict::Withhold {
                    reason: "held for review".into(),
                    hold: Some(hold.id),
                }
            }
            Action::Block => Verdict::Withhold {
                reason: "blocked by the transfer policy".into(),
                hold: None,
            },
        };
        let hold_id = match &verdict {
            Verdict::Withhold { hold, .. } => hold.clone(),
            _ => None,
        };
        self.node.record_detached(
            "gate.decision",
            json!({ "recipient": recipient, "country": country.as_str(), "subject": subject,
                    "hold": hold_id, "decision": decision }),
        )?;
        Ok(verdict)
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

    fn hold(
        &self,
        recipient: &str,
        country: Country,
        subject: &str,
        d: &detente_gate::Decision,
    ) -> Result<HoldRow, NodeError> {
        let row = HoldRow {
            id: uuid::Uuid::new_v4().to_string(),
            recipient: recipient.to_string(),
            country: country.to_string(),
            subject: subject.to_string(),
            decision: serde_json::to_string(d).unwrap_or_default(),
            status: "held".into(),
            created: time::format(&time::now()),
            resolved_by: None,
            reason: None,
        };
        Ok(self.store().hold(&row)?)
    }

    /// A reviewer approves or rejects a held payload; recorded in the log.
    pub async fn resolve(
        &self,
        id: &str,
        approve: bool,
        reviewer: &str,
        reason: &str,
    ) -> Result<Option<HoldRow>, NodeError> {
        let status = if approve { "approved" } else { "rejected" };
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

fn gate_failure(e: GateError) -> NodeError {
    NodeError::Gate(e.to_string())
}
