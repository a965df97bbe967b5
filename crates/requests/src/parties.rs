//! Who may sign what. A request's two parties are fixed by its submission: the
//! requester is the origin that signed the `submitted` envelope, the recipient
//! the origin the request is addressed to. Every later envelope counts only
//! when its signer holds the role its event kind belongs to; the `sender` and
//! `recipient` an envelope names are claims, checked against the parties and
//! never used to decide who acted.

use crate::lifecycle::{Event, EventKind};
use crate::types::Side;
use thiserror::Error;

/// The requester and the recipient of one request, as origins.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Parties {
    pub requester: String,
    pub recipient: String,
}

#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum PartyError {
    #[error("the first envelope of request {request_id} is {kind}, not its submission")]
    NotSubmission {
        request_id: String,
        kind: &'static str,
    },
    #[error(
        "a submission names its recipient {named}, but the envelope is addressed to {claimed}"
    )]
    Misaddressed { named: String, claimed: String },
    #[error("{signer} signed a submission that names {claimed} as its sender")]
    NotItsOwnSubmission { signer: String, claimed: String },
    #[error("{signer} is not a party to request {request_id}")]
    NotAParty { signer: String, request_id: String },
    #[error("the envelope names {claimed_sender} -> {claimed_recipient}, but request {request_id} is {requester} -> {recipient}")]
    WrongParties {
        request_id: String,
        requester: String,
        recipient: String,
        claimed_sender: String,
        claimed_recipient: String,
    },
    #[error("{signer} is the {side} of request {request_id}; only the {allowed} may {verb} it")]
    WrongRole {
        signer: String,
        request_id: String,
        side: Side,
        allowed: Side,
        verb: &'static str,
    },
}

impl Parties {
    /// The parties a submission fixes. `signer` signed the envelope;
    /// `claimed_sender` and `claimed_recipient` are the names it carries.
    pub fn of_submission(
        signer: &str,
        claimed_sender: &str,
        claimed_recipient: &str,
        event: &Event,
    ) -> Result<Parties, PartyError> {
        let EventKind::Submitted { request, .. } = &event.kind else {
            return Err(PartyError::NotSubmission {
                request_id: event.request_id.to_string(),
                kind: event.kind.name(),
            });
        };
        if claimed_sender != signer {
            return Err(PartyError::NotItsOwnSubmission {
                signer: signer.to_string(),
                claimed: claimed_sender.to_string(),
            });
        }
        if request.recipient.as_str() != claimed_recipient {
            return Err(PartyError::Misaddressed {
                named: request.recipient.to_string(),
                claimed: claimed_recipient.to_string(),
            });
        }
        Ok(Parties {
            requester: signer.to_string(),
            recipient: claimed_recipient.to_string(),
        })
    }

    /// The side `origin` holds in this request, if it is a party.
    pub fn side_of(&self, origin: &str) -> Option<Side> {
        if origin == self.requester {
            Some(Side::Sender)
        } else if origin == self.recipient {
            Some(Side::Recipient)
        } else {
            None
        }
    }

    /// The origin holding `side`.
    pub fn origin_of(&self, side: Side) -> &str {
        match side {
            Side::Sender => &self.requester,
            Side::Recipient => &self.recipient,
        }
    }

    /// The side that signed a later event of this request, checked: the signer
    /// must be a party, the envelope must name these parties, and the event
    /// kind must belong to the signer's role.
    pub fn actor(
        &self,
        signer: &str,
        claimed_sender: &str,
        claimed_recipient: &str,
        event: &Event,
    ) -> Result<Side, PartyError> {
        let request_id = event.request_id.to_string();
        let side = self.side_of(signer).ok_or_else(|| PartyError::NotAParty {
            signer: signer.to_string(),
            request_id: request_id.clone(),
        })?;
        if claimed_sender != self.requester || claimed_recipient != self.recipient {
            return Err(PartyError::WrongParties {
                request_id,
                requester: self.requester.clone(),
                recipient: self.recipient.clone(),
                claimed_sender: claimed_sender.to_string(),
                claimed_recipient: claimed_recipient.to_string(),
            });
        }
        match event.kind.allowed_actor() {
            Some(allowed) if allowed != side => Err(PartyError::WrongRole {
                signer: signer.to_string(),
                request_id,
                side,
                allowed,
                verb: event.kind.verb(),
            }),
            _ => Ok(side),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventId, RequestId};

    fn event(kind: EventKind) -> Event {
        Event {
            id: EventId::random(),
            request_id: RequestId::random(),
            kind,
        }
    }

    fn parties() -> Parties {
        Parties {
            requester: "a.example".into(),
            recipient: "b.example".into(),
        }
    }

    #[test]
    fn each_kind_belongs_to_its_role() {
        let p = parties();
        let withdraw = event(EventKind::Withdrawn { reason: None });
        let ack = event(EventKind::Acknowledged {});
        let msg = event(EventKind::Message {
            text: "hi".into(),
            attachments: vec![],
            proposed_answer_by: None,
        });
        let ab = ("a.example", "b.example");
        assert_eq!(
            p.actor("a.example", ab.0, ab.1, &withdraw),
            Ok(Side::Sender)
        );
        assert_eq!(p.actor("b.example", ab.0, ab.1, &ack), Ok(Side::Recipient));
        assert_eq!(p.actor("b.example", ab.0, ab.1, &msg), Ok(Side::Recipient));
        assert!(matches!(
            p.actor("b.example", ab.0, ab.1, &withdraw),
            Err(PartyError::WrongRole {
                allowed: Side::Sender,
                ..
            })
        ));
        assert!(matches!(
            p.actor("a.example", ab.0, ab.1, &ack),
            Err(PartyError::WrongRole {
                allowed: Side::Recipient,
                ..
            })
        ));
    }

    #[test]
    fn claims_do_not_choose_the_role() {
        let p = parties();
        let withdraw = event(EventKind::Withdrawn { reason: None });
        // The recipient names itself as sender to withdraw the request.
        assert!(matches!(
            p.actor("b.example", "b.example", "a.example", &withdraw),
            Err(PartyError::WrongParties { .. })
        ));
        // A third node names itself as the requester.
        assert!(matches!(
            p.actor("c.example", "c.example", "b.example", &withdraw),
            Err(PartyError::NotAParty { .. })
        ));
    }
}
