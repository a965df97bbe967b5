//! The closed vocabularies of a cooperation request. Every name here appears in
//! signed envelopes, so the snake_case spellings are part of the record format and
//! must never change; adding a variant is a format change for peers too.

use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;
use uuid::Uuid;

/// What is being asked. The legal instrument matters to the recipient's officer:
/// it decides which grounds for refusal apply and which clock runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestType {
    Preservation,
    SubscriberInformation,
    TrafficData,
    ContentData,
    EmergencyDisclosure,
    IncidentNotification,
    Consultation,
}

impl RequestType {
    pub const ALL: [RequestType; 7] = [
        RequestType::Preservation,
        RequestType::SubscriberInformation,
        RequestType::TrafficData,
        RequestType::ContentData,
        RequestType::EmergencyDisclosure,
        RequestType::IncidentNotification,
        RequestType::Consultation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestType::Preservation => "preservation",
            RequestType::SubscriberInformation => "subscriber_information",
            RequestType::TrafficData => "traffic_data",
            RequestType::ContentData => "content_data",
            RequestType::EmergencyDisclosure => "emergency_disclosure",
            RequestType::IncidentNotification => "incident_notification",
            RequestType::Consultation => "consultation",
        }
    }

    /// The instrument a request of this type usually rests on, for display next to
    /// the request. The request's own `legal_basis` field is what binds.
    pub fn legal_instrument(self) -> &'static str {
        match self {
            RequestType::Preservation => {
                "Budapest Convention Art. 29 (expedited preservation of stored computer data); \
                 EU e-Evidence Regulation 2023/1543 (European Preservation Order)"
            }
            RequestType::SubscriberInformation => {
                "Budapest Convention Art. 31; Second Additional Protocol (CETS 224) Art. 7"
            }
            RequestType::TrafficData => {
                "Budapest Convention Art. 31 (preserved traffic data: Art. 30)"
            }
            RequestType::ContentData => {
                "Budapest Convention Art. 31 (mutual assistance regarding stored computer data)"
            }
            RequestType::EmergencyDisclosure => {
                "Second Additional Protocol (CETS 224) Art. 9, via the 24/7 network (Budapest Art. 35)"
            }
            RequestType::IncidentNotification => {
                "CERT cooperation; ENISA Reference Incident Classification Taxonomy; IODEF v2 (RFC 7970)"
            }
            RequestType::Consultation => "Expert consultation (no binding instrument)",
        }
    }

    /// Types that ask for data about people: they need an offence, the data sought
    /// and its link to the offence, because every instrument above makes these the
    /// conditions of lawful disclosure.
    pub fn is_evidence_request(self) -> bool {
        matches!(
            self,
            RequestType::Preservation
                | RequestType::SubscriberInformation
                | RequestType::TrafficData
                | RequestType::ContentData
                | RequestType::EmergencyDisclosure
        )
    }
}

impl fmt::Display for RequestType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// ENISA Reference Incident Classification Taxonomy, top-level classes. CERTs
/// triage on these, so an incident notification without one is not actionable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentClass {
    AbusiveContent,
    MaliciousCode,
    InformationGathering,
    IntrusionAttempts,
    Intrusions,
    Availability,
    InformationContentSecurity,
    Fraud,
    Vulnerable,
    Other,
}

impl IncidentClass {
    pub const ALL: [IncidentClass; 10] = [
        IncidentClass::AbusiveContent,
        IncidentClass::MaliciousCode,
        IncidentClass::InformationGathering,
        IncidentClass::IntrusionAttempts,
        IncidentClass::Intrusions,
        IncidentClass::Availability,
        IncidentClass::InformationContentSecurity,
        IncidentClass::Fraud,
        IncidentClass::Vulnerable,
        IncidentClass::Other,
    ];

    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentClass::AbusiveContent => "abusive_content",
            IncidentClass::MaliciousCode => "malicious_code",
            IncidentClass::InformationGathering => "information_gathering",
            IncidentClass::IntrusionAttempts => "intrusion_attempts",
            IncidentClass::Intrusions => "intrusions",
            IncidentClass::Availability => "availability",
            IncidentClass::InformationContentSecurity => "information_content_security",
            IncidentClass::Fraud => "fraud",
            IncidentClass::Vulnerable => "vulnerable",
            IncidentClass::Other => "other",
        }
    }
}

/// `emergency` means a risk to life or physical safety (Second Protocol Art. 9,
/// e-Evidence Art. 10(4)); it switches every clock to hours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Normal,
    Emergency,
}

impl Urgency {
    pub const ALL: [Urgency; 2] = [Urgency::Normal, Urgency::Emergency];

    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Normal => "normal",
            Urgency::Emergency => "emergency",
        }
    }
}

/// FIRST Traffic Light Protocol 2.0. The JSON form is snake_case (`amber_strict`);
/// [`Tlp::parse`] also takes the label as people write it (`TLP:AMBER+STRICT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tlp {
    Clear,
    Green,
    Amber,
    AmberStrict,
    Red,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum TlpError {
    #[error("{0:?} is TLP 1.0; TLP 2.0 renamed TLP:WHITE to TLP:CLEAR")]
    White(String),
    #[error(
        "{0:?} is not a TLP 2.0 label (TLP:CLEAR, TLP:GREEN, TLP:AMBER, TLP:AMBER+STRICT, TLP:RED)"
    )]
    Unknown(String),
}

impl Tlp {
    pub const ALL: [Tlp; 5] = [
        Tlp::Clear,
        Tlp::Green,
        Tlp::Amber,
        Tlp::AmberStrict,
        Tlp::Red,
    ];

    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Tlp::Clear => "clear",
            Tlp::Green => "green",
            Tlp::Amber => "amber",
            Tlp::AmberStrict => "amber_strict",
            Tlp::Red => "red",
        }
    }

    /// Accepts `TLP:AMBER+STRICT`, `amber+strict`, `amber_strict`, `AMBER STRICT`,
    /// with or without the `TLP:` prefix, in any case. `WHITE` is refused with a
    /// pointer to `CLEAR` rather than mapped silently, because a 1.0 label on a
    /// 2.0 record means the sender used the wrong scheme.
    pub fn parse(s: &str) -> Result<Tlp, TlpError> {
        let t = s.trim().to_ascii_lowercase();
        let t = t.strip_prefix("tlp:").unwrap_or(&t).trim();
        let norm: String = t
            .chars()
            .map(|c| {
                if c == '+' || c == ' ' || c == '-' {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        match norm.as_str() {
            "clear" => Ok(Tlp::Clear),
            "green" => Ok(Tlp::Green),
            "amber" => Ok(Tlp::Amber),
            "amber_strict" => Ok(Tlp::AmberStrict),
            "red" => Ok(Tlp::Red),
            "white" => Err(TlpError::White(s.to_string())),
            _ => Err(TlpError::Unknown(s.to_string())),
        }
    }

    /// The label as FIRST prints it.
    pub fn label(self) -> &'static str {
        match self {
            Tlp::Clear => "TLP:CLEAR",
            Tlp::Green => "TLP:GREEN",
            Tlp::Amber => "TLP:AMBER",
            Tlp::AmberStrict => "TLP:AMBER+STRICT",
            Tlp::Red => "TLP:RED",
        }
    }

    /// The OASIS TLP 2.0 marking-definition id, so STIX exports carry the same
    /// label as the request.
    pub fn stix_marking_definition(self) -> &'static str {
        match self {
            Tlp::Clear => "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
            Tlp::Green => "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
            Tlp::Amber => "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
            Tlp::AmberStrict => "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
            Tlp::Red => "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
        }
    }
}

impl fmt::Display for Tlp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl std::str::FromStr for Tlp {
    type Err = TlpError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tlp::parse(s)
    }
}

/// Why a recipient refuses. A fixed list so the reciprocity report can say *why*
/// requests were refused; the first four are the e-Evidence Art. 12 grounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclineGround {
    ImmunityOrPrivilege,
    FundamentalRights,
    NeBisInIdem,
    NoDualCriminality,
    InsufficientInformation,
    NotWithinCompetence,
    DataNotAvailable,
    Disproportionate,
    Other,
}

impl DeclineGround {
    pub const ALL: [DeclineGround; 9] = [
        DeclineGround::ImmunityOrPrivilege,
        DeclineGround::FundamentalRights,
        DeclineGround::NeBisInIdem,
        DeclineGround::NoDualCriminality,
        DeclineGround::InsufficientInformation,
        DeclineGround::NotWithinCompetence,
        DeclineGround::DataNotAvailable,
        DeclineGround::Disproportionate,
        DeclineGround::Other,
    ];

    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DeclineGround::ImmunityOrPrivilege => "immunity_or_privilege",
            DeclineGround::FundamentalRights => "fundamental_rights",
            DeclineGround::NeBisInIdem => "ne_bis_in_idem",
            DeclineGround::NoDualCriminality => "no_dual_criminality",
            DeclineGround::InsufficientInformation => "insufficient_information",
            DeclineGround::NotWithinCompetence => "not_within_competence",
            DeclineGround::DataNotAvailable => "data_not_available",
            DeclineGround::Disproportionate => "disproportionate",
            DeclineGround::Other => "other",
        }
    }
}

/// Which party of one request acts. Authority over a transition follows the side,
/// not the node, because the same node is sender of some requests and recipient
/// of others.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Sender,
    Recipient,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Sender => "sender",
            Side::Recipient => "recipient",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request seen from one node: `outbound` when the node sent it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Outbound,
    Inbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Outbound => "outbound",
            Direction::Inbound => "inbound",
        }
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("{value:?} is not a {what}: expected a lowercase hyphenated UUID (version 7 or 4)")]
pub struct IdError {
    pub what: &'static str,
    pub value: String,
}

fn parse_uuid(s: &str, what: &'static str) -> Result<Uuid, IdError> {
    let err = || IdError {
        what,
        value: s.to_string(),
    };
    // Exactly one spelling (36 chars, lowercase, hyphens) so that ids compare and
    // hash the same everywhere they are written.
    if s.len() != 36 || s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(err());
    }
    let u = Uuid::parse_str(s).map_err(|_| err())?;
    if !matches!(u.get_version_num(), 4 | 7) || u.hyphenated().to_string() != s {
        return Err(err());
    }
    Ok(u)
}

macro_rules! uuid_id {
    ($name:ident, $what:literal) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, IdError> {
                parse_uuid(s, $what).map($name)
            }

            /// A fresh id: UUIDv7, so ids sort by creation time and the
            /// database indexes keyed by them grow at one end instead of
            /// dirtying a random page per insert. The only impure function of
            /// the crate; logic never calls it, callers pass ids in.
            pub fn random() -> Self {
                $name(Uuid::now_v7())
            }

            /// Builds a v4 id from 16 bytes (version and variant bits are forced),
            /// for deterministic tests and synthetic data.
            pub fn from_bytes(b: [u8; 16]) -> Self {
                $name(uuid::Builder::from_random_bytes(b).into_uuid())
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(&self.0.hyphenated())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

uuid_id!(RequestId, "request id");
uuid_id!(EventId, "event id");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_documented_snake_case() {
        let names: Vec<String> = RequestType::ALL
            .iter()
            .map(|t| {
                serde_json::to_value(t)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(
            names,
            [
                "preservation",
                "subscriber_information",
                "traffic_data",
                "content_data",
                "emergency_disclosure",
                "incident_notification",
                "consultation"
            ]
        );
        for t in RequestType::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
            assert!(!t.legal_instrument().is_empty());
        }
        let classes: Vec<String> = IncidentClass::ALL
            .iter()
            .map(|t| {
                serde_json::to_value(t)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(
            classes,
            [
                "abusive_content",
                "malicious_code",
                "information_gathering",
                "intrusion_attempts",
                "intrusions",
                "availability",
                "information_content_security",
                "fraud",
                "vulnerable",
                "other"
            ]
        );
        let grounds: Vec<String> = DeclineGround::ALL
            .iter()
            .map(|t| {
                serde_json::to_value(t)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(
            grounds,
            [
                "immunity_or_privilege",
                "fundamental_rights",
                "ne_bis_in_idem",
                "no_dual_criminality",
                "insufficient_information",
                "not_within_competence",
                "data_not_available",
                "disproportionate",
                "other"
            ]
        );
        assert_eq!(
            serde_json::to_value(Tlp::AmberStrict).unwrap(),
            "amber_strict"
        );
        assert_eq!(
            serde_json::to_value(Urgency::Emergency).unwrap(),
            "emergency"
        );
        assert_eq!(serde_json::to_value(Side::Recipient).unwrap(), "recipient");
        assert_eq!(serde_json::to_value(Direction::Inbound).unwrap(), "inbound");
        assert!(serde_json::from_value::<RequestType>("Preservation".into()).is_err());
        for t in Tlp::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        for c in IncidentClass::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
        for g in DeclineGround::ALL {
            assert_eq!(serde_json::to_value(g).unwrap(), g.as_str());
        }
        for d in [Direction::Outbound, Direction::Inbound] {
            assert_eq!(serde_json::to_value(d).unwrap(), d.as_str());
        }
        for u in Urgency::ALL {
            assert_eq!(serde_json::to_value(u).unwrap(), u.as_str());
        }
    }

    #[test]
    fn tlp_parses_labels_as_people_write_them() {
        for (s, want) in [
            ("TLP:AMBER+STRICT", Tlp::AmberStrict),
            ("tlp:amber+strict", Tlp::AmberStrict),
            ("amber_strict", Tlp::AmberStrict),
            ("AMBER STRICT", Tlp::AmberStrict),
            (" TLP:CLEAR ", Tlp::Clear),
            ("green", Tlp::Green),
            ("TLP:AMBER", Tlp::Amber),
            ("Red", Tlp::Red),
        ] {
            assert_eq!(Tlp::parse(s), Ok(want), "{s}");
        }
        for t in Tlp::ALL {
            assert_eq!(Tlp::parse(t.label()), Ok(t));
            assert_eq!(t.to_string(), t.label());
        }
        assert!(matches!(Tlp::parse("TLP:WHITE"), Err(TlpError::White(_))));
        for bad in [
            "",
            "TLP:",
            "amber+",
            "TLP:AMBERSTRICT",
            "yellow",
            "TLP:RED:1",
        ] {
            assert!(
                matches!(Tlp::parse(bad), Err(TlpError::Unknown(_))),
                "{bad}"
            );
        }
        assert_eq!(
            Tlp::AmberStrict.stix_marking_definition(),
            "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
        );
    }

    #[test]
    fn ids_are_canonical_uuids() {
        let id = RequestId::random();
        assert_eq!(RequestId::parse(&id.to_string()), Ok(id));
        assert_eq!(id.as_uuid().get_version_num(), 7);
        assert!(RequestId::random() > id, "new ids sort after older ones");
        let v7 = "01964f3a-7b2c-7d4e-8f00-0016d3cca427";
        assert_eq!(RequestId::parse(v7).unwrap().to_string(), v7);
        let ok = "1b4e28ba-2fa1-41d2-883f-0016d3cca427";
        assert_eq!(RequestId::parse(ok).unwrap().to_string(), ok);
        for bad in [
            "",
            "1B4E28BA-2FA1-41D2-883F-0016D3CCA427",
            "1b4e28ba2fa141d2883f0016d3cca427",
            "{1b4e28ba-2fa1-41d2-883f-0016d3cca427}",
            "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
            "1b4e28ba-2fa1-51d2-883f-0016d3cca427",
            "urn:uuid:1b4e28ba-2fa1-41d2-883f-0016d3cca427",
        ] {
            assert!(EventId::parse(bad).is_err(), "{bad}");
        }
        let json = serde_json::to_string(&EventId::from_bytes([7; 16])).unwrap();
        let back: EventId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, EventId::from_bytes([7; 16]));
        assert!(serde_json::from_str::<EventId>("\"nope\"").is_err());
    }
}
