//! Builders shared by the integration tests.
#![allow(dead_code)]

use chrono::{DateTime, TimeDelta, Utc};
use detente_domain::Origin;
use detente_requests::*;

pub fn ts(s: &str) -> DateTime<Utc> {
    detente_domain::time::parse(s).unwrap()
}

pub fn origin(s: &str) -> Origin {
    Origin::parse(s).unwrap()
}

pub fn request(t: RequestType, recipient: &Origin) -> NewRequest {
    let evidence = t.is_evidence_request();
    let emergency = t == RequestType::EmergencyDisclosure;
    NewRequest {
        request_type: t,
        incident_class: (t == RequestType::IncidentNotification).then_some(IncidentClass::Fraud),
        reference: "REF-1".into(),
        issuing_authority: "National Cybercrime Unit".into(),
        legal_basis: evidence.then(|| "Budapest Convention Art. 31".into()),
        offence: evidence.then(|| "Ransomware extortion".into()),
        facts: "Systems encrypted; ransom demanded.".into(),
        data_requested: evidence.then(|| "Subscriber of 198.51.100.4".into()),
        link_to_offence: evidence.then(|| "Address used for the payment portal".into()),
        urgency: if emergency {
            Urgency::Emergency
        } else {
            Urgency::Normal
        },
        emergency_justification: emergency.then(|| "Threat to life".into()),
        tlp: Tlp::Amber,
        custodian: (t == RequestType::Preservation).then(|| "Example ISP".into()),
        necessity: (t == RequestType::Preservation).then(|| "Logs rotate".into()),
        follow_up_mla: (t == RequestType::Preservation).then_some(true),
        related_requests: vec![],
        attachments: vec![],
        recipient: recipient.clone(),
    }
}

/// Deterministic ids: request `n`, event `k` of that request.
pub fn request_id(n: u64) -> RequestId {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&n.to_be_bytes());
    RequestId::from_bytes(b)
}

pub fn event_id(n: u64, k: u8) -> EventId {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&n.to_be_bytes());
    b[8] = k;
    b[9] = 0xE0;
    EventId::from_bytes(b)
}

/// Builds timelines event by event with policy deadlines.
pub struct Tl {
    pub n: u64,
    pub k: u8,
    pub timeline: Timeline,
}

impl Tl {
    pub fn submit(n: u64, t: RequestType, recipient: &Origin, at: DateTime<Utc>) -> Tl {
        let req = request(t, recipient);
        let deadlines = Policy::default().deadline_for(t, req.urgency, at);
        let mut tl = Tl {
            n,
            k: 0,
            timeline: Timeline::default(),
        };
        tl.push(
            at,
            Side::Sender,
            EventKind::Submitted {
                request: Box::new(req),
                deadlines,
            },
        );
        tl
    }

    pub fn push(&mut self, at: DateTime<Utc>, actor: Side, kind: EventKind) -> &mut Tl {
        self.timeline.events.push(TimedEvent {
            at,
            actor,
            event: Event {
                id: event_id(self.n, self.k),
                request_id: request_id(self.n),
                kind,
            },
        });
        self.k += 1;
        self
    }

    pub fn after(&mut self, secs: i64, actor: Side, kind: EventKind) -> &mut Tl {
        let at = self.timeline.events[0].at + TimeDelta::seconds(secs);
        self.push(at, actor, kind)
    }

    pub fn delivered(&mut self, secs: i64) -> &mut Tl {
        self.after(secs, Side::Recipient, EventKind::Delivered {})
    }

    pub fn acknowledged(&mut self, secs: i64) -> &mut Tl {
        self.after(secs, Side::Recipient, EventKind::Acknowledged {})
    }

    pub fn answered(&mut self, secs: i64) -> &mut Tl {
        self.after(
            secs,
            Side::Recipient,
            EventKind::Answered {
                note: None,
                attachments: vec![],
            },
        )
    }

    pub fn partial(&mut self, secs: i64) -> &mut Tl {
        self.after(
            secs,
            Side::Recipient,
            EventKind::PartiallyAnswered {
                note: None,
                attachments: vec![],
            },
        )
    }

    pub fn declined(&mut self, secs: i64, ground: DeclineGround) -> &mut Tl {
        self.after(
            secs,
            Side::Recipient,
            EventKind::Declined {
                ground,
                text: Some("reason".into()),
            },
        )
    }

    pub fn withdrawn(&mut self, secs: i64) -> &mut Tl {
        self.after(secs, Side::Sender, EventKind::Withdrawn { reason: None })
    }

    pub fn item(&self, direction: Direction, peer: &Origin) -> ReportItem {
        ReportItem {
            direction,
            peer: peer.clone(),
            timeline: self.timeline.clone(),
        }
    }
}
