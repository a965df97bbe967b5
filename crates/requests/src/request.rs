//! A new cooperation request as the sender's officer fills it in, and the rules it
//! must meet before it is signed. Validation collects every problem at once, each
//! with the JSON path of the field, so a form can mark all of them in one round.

use crate::types::{IncidentClass, RequestId, RequestType, Tlp, Urgency};
use detente_domain::Origin;
use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// A file the request or an answer refers to. Only the reference travels in the
/// envelope: the content is fetched separately and checked against `sha256`, so
/// the signed record commits to the exact bytes without carrying them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentRef {
    /// A file name, no path.
    pub name: String,
    /// An RFC 6838 media type, e.g. `application/pdf`.
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content, 64 lowercase hex digits.
    pub sha256: String,
}

/// The fields of a request. Optional fields are required or forbidden depending
/// on `request_type` and `urgency`; see [`NewRequest::validate`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    #[serde(rename = "type")]
    pub request_type: RequestType,
    /// Required for, and only allowed on, `incident_notification`.
    #[serde(default)]
    pub incident_class: Option<IncidentClass>,
    /// The sender's own file or case number.
    pub reference: String,
    /// The authority issuing (and, where the law requires, validating) the request.
    pub issuing_authority: String,
    /// The provision(s) the request rests on.
    #[serde(default)]
    pub legal_basis: Option<String>,
    /// The offence under investigation.
    #[serde(default)]
    pub offence: Option<String>,
    /// A summary of the facts (for a consultation: the question).
    pub facts: String,
    /// The data asked for (for preservation: the data to preserve).
    #[serde(default)]
    pub data_requested: Option<String>,
    /// Why that data bears on the offence.
    #[serde(default)]
    pub link_to_offence: Option<String>,
    pub urgency: Urgency,
    /// Required when `urgency` is `emergency`, forbidden otherwise.
    #[serde(default)]
    pub emergency_justification: Option<String>,
    pub tlp: Tlp,
    /// Preservation only: the custodian of the data or the location of the system.
    #[serde(default)]
    pub custodian: Option<String>,
    /// Preservation only: why the data must be preserved now.
    #[serde(default)]
    pub necessity: Option<String>,
    /// Preservation only: the sender intends to follow with a mutual assistance
    /// request (Budapest Art. 29(2)(f)); must be `true`.
    #[serde(default)]
    pub follow_up_mla: Option<bool>,
    #[serde(default)]
    pub related_requests: Vec<RequestId>,
    #[serde(default)]
    pub attachments: Vec<AttachmentRef>,
    #[serde(with = "crate::serde_util::origin")]
    pub recipient: Origin,
}

/// Node-configurable bounds. Defaults fit what peers can be expected to accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_attachment_size: u64,
    pub max_attachments: usize,
    pub max_related_requests: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_attachment_size: 10 * 1024 * 1024,
            max_attachments: 20,
            max_related_requests: 50,
        }
    }
}

/// Maximum lengths in characters (Unicode scalar values). Bounded so a single
/// envelope stays small enough to sign, log and send without streaming.
pub mod max_len {
    pub const REFERENCE: usize = 128;
    pub const AUTHORITY: usize = 256;
    pub const LEGAL_BASIS: usize = 2_000;
    pub const OFFENCE: usize = 500;
    pub const FACTS: usize = 20_000;
    pub const DATA_REQUESTED: usize = 10_000;
    pub const LINK_TO_OFFENCE: usize = 10_000;
    pub const JUSTIFICATION: usize = 5_000;
    pub const CUSTODIAN: usize = 1_000;
    pub const NECESSITY: usize = 5_000;
    pub const ATTACHMENT_NAME: usize = 255;
    pub const MEDIA_TYPE: usize = 255;
    /// Messages, answer notes, decline and withdrawal reasons.
    pub const MESSAGE: usize = 20_000;
}

/// Why one field was refused. `field` is a JSON path such as
/// `attachments[1].sha256`.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ValidationError {
    #[error("{field}: required{why}")]
    Missing { field: String, why: &'static str },
    #[error("{field}: not allowed{why}")]
    NotAllowed { field: String, why: &'static str },
    #[error("{field}: {actual} characters, at most {max} allowed")]
    TooLong {
        field: String,
        max: usize,
        actual: usize,
    },
    #[error("{field}: contains a control character (U+{code:04X}) at character {index}")]
    ControlCharacter {
        field: String,
        code: u32,
        index: usize,
    },
    #[error("{field}: {actual} items, at most {max} allowed")]
    TooMany {
        field: String,
        max: usize,
        actual: usize,
    },
    #[error("{field}: duplicate {what}")]
    Duplicate { field: String, what: &'static str },
    #[error("{field}: {why}")]
    Invalid { field: String, why: String },
}

impl ValidationError {
    pub fn field(&self) -> &str {
        match self {
            ValidationError::Missing { field, .. }
            | ValidationError::NotAllowed { field, .. }
            | ValidationError::TooLong { field, .. }
            | ValidationError::ControlCharacter { field, .. }
            | ValidationError::TooMany { field, .. }
            | ValidationError::Duplicate { field, .. }
            | ValidationError::Invalid { field, .. } => field,
        }
    }
}

/// Every problem found, in field order. Never empty.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl ValidationErrors {
    pub fn fields(&self) -> Vec<&str> {
        self.0.iter().map(|e| e.field()).collect()
    }
}

/// Single-line fields (names, numbers) refuse every control character;
/// multi-line fields allow tab, line feed and carriage return only.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lines {
    Single,
    Multi,
}

/// Checks a present text value: not blank, bounded, no control characters. Bidi
/// overrides and other format characters are refused too, because they can make
/// a signed text read differently from what it says.
pub(crate) fn check_text(
    errs: &mut Vec<ValidationError>,
    field: &str,
    value: &str,
    max: usize,
    lines: Lines,
) {
    if value.trim().is_empty() {
        errs.push(ValidationError::Missing {
            field: field.to_string(),
            why: " (blank)",
        });
        return;
    }
    let mut count = 0usize;
    let mut bad: Option<(u32, usize)> = None;
    for (i, c) in value.chars().enumerate() {
        count += 1;
        if bad.is_none() {
            let allowed_ws = lines == Lines::Multi && matches!(c, '\n' | '\r' | '\t');
            let bidi = matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
            if (c.is_control() && !allowed_ws) || bidi {
                bad = Some((c as u32, i));
            }
        }
    }
    if count > max {
        errs.push(ValidationError::TooLong {
            field: field.to_string(),
            max,
            actual: count,
        });
    }
    if let Some((code, index)) = bad {
        errs.push(ValidationError::ControlCharacter {
            field: field.to_string(),
            code,
            index,
        });
    }
}

fn require(
    errs: &mut Vec<ValidationError>,
    field: &str,
    value: &Option<String>,
    why: &'static str,
    max: usize,
    lines: Lines,
) {
    match value {
        None => errs.push(ValidationError::Missing {
            field: field.to_string(),
            why,
        }),
        Some(v) => check_text(errs, field, v, max, lines),
    }
}

fn optional(
    errs: &mut Vec<ValidationError>,
    field: &str,
    value: &Option<String>,
    max: usize,
    lines: Lines,
) {
    if let Some(v) = value {
        check_text(errs, field, v, max, lines);
    }
}

fn forbid<T>(errs: &mut Vec<ValidationError>, field: &str, value: &Option<T>, why: &'static str) {
    if value.is_some() {
        errs.push(ValidationError::NotAllowed {
            field: field.to_string(),
            why,
        });
    }
}

fn is_restricted_name(s: &str) -> bool {
    // RFC 6838 section 4.2 restricted-name.
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 127
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(c))
}

/// Checks a list of attachment references under `field` (`attachments`).
pub(crate) fn check_attachments(
    errs: &mut Vec<ValidationError>,
    field: &str,
    list: &[AttachmentRef],
    limits: &Limits,
) {
    if list.len() > limits.max_attachments {
        errs.push(ValidationError::TooMany {
            field: field.to_string(),
            max: limits.max_attachments,
            actual: list.len(),
        });
    }
    for (i, a) in list.iter().enumerate() {
        let f = |sub: &str| format!("{field}[{i}].{sub}");
        check_text(
            errs,
            &f("name"),
            &a.name,
            max_len::ATTACHMENT_NAME,
            Lines::Single,
        );
        if a.name.contains(['/', '\\']) || a.name == "." || a.name == ".." {
            errs.push(ValidationError::Invalid {
                field: f("name"),
                why: "must be a file name without a path".into(),
            });
        }
        let mt_ok = a.media_type.len() <= max_len::MEDIA_TYPE
            && match a.media_type.split_once('/') {
                Some((t, s)) => is_restricted_name(t) && is_restricted_name(s),
                None => false,
            };
        if !mt_ok {
            errs.push(ValidationError::Invalid {
                field: f("media_type"),
                why: format!(
                    "{:?} is not a media type such as application/pdf (RFC 6838, no parameters)",
                    a.media_type
                ),
            });
        }
        if a.size == 0 {
            errs.push(ValidationError::Invalid {
                field: f("size"),
                why: "an empty attachment is almost certainly a failed upload".into(),
            });
        } else if a.size > limits.max_attachment_size {
            errs.push(ValidationError::Invalid {
                field: f("size"),
                why: format!(
                    "{} bytes exceeds the limit of {} bytes",
                    a.size, limits.max_attachment_size
                ),
            });
        }
        let hex_ok = a.sha256.len() == 64
            && a.sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex_ok {
            errs.push(ValidationError::Invalid {
                field: f("sha256"),
                why: "must be 64 lowercase hex digits".into(),
            });
        }
        if list[..i].iter().any(|b| b.sha256 == a.sha256) {
            errs.push(ValidationError::Duplicate {
                field: f("sha256"),
                what: "attachment content",
            });
        }
        if list[..i].iter().any(|b| b.name == a.name) {
            errs.push(ValidationError::Duplicate {
                field: f("name"),
                what: "attachment name",
            });
        }
    }
}

pub(crate) fn finish(errs: Vec<ValidationError>) -> Result<(), ValidationErrors> {
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors(errs))
    }
}

impl NewRequest {
    /// Checks every rule and returns all violations. `own_id`, when known, is
    /// refused in `related_requests` (a request cannot relate to itself).
    pub fn validate(&self, limits: &Limits) -> Result<(), ValidationErrors> {
        self.validate_with_id(None, limits)
    }

    pub fn validate_with_id(
        &self,
        own_id: Option<RequestId>,
        limits: &Limits,
    ) -> Result<(), ValidationErrors> {
        use Lines::*;
        let mut e = Vec::new();
        let t = self.request_type;
        let evidence = t.is_evidence_request();

        match (t, self.incident_class) {
            (RequestType::IncidentNotification, None) => e.push(ValidationError::Missing {
                field: "incident_class".into(),
                why: " for incident_notification (ENISA taxonomy class)",
            }),
            (RequestType::IncidentNotification, Some(_)) => {}
            (_, Some(_)) => e.push(ValidationError::NotAllowed {
                field: "incident_class".into(),
                why: " except on incident_notification",
            }),
            (_, None) => {}
        }
        check_text(
            &mut e,
            "reference",
            &self.reference,
            max_len::REFERENCE,
            Single,
        );
        check_text(
            &mut e,
            "issuing_authority",
            &self.issuing_authority,
            max_len::AUTHORITY,
            Single,
        );
        if evidence {
            require(
                &mut e,
                "legal_basis",
                &self.legal_basis,
                " for a request for data",
                max_len::LEGAL_BASIS,
                Multi,
            );
            require(
                &mut e,
                "offence",
                &self.offence,
                " for a request for data",
                max_len::OFFENCE,
                Single,
            );
        } else {
            optional(
                &mut e,
                "legal_basis",
                &self.legal_basis,
                max_len::LEGAL_BASIS,
                Multi,
            );
            optional(&mut e, "offence", &self.offence, max_len::OFFENCE, Single);
        }
        check_text(&mut e, "facts", &self.facts, max_len::FACTS, Multi);
        if evidence {
            let why = if t == RequestType::Preservation {
                " for preservation (the data to preserve)"
            } else {
                " for a request for data"
            };
            require(
                &mut e,
                "data_requested",
                &self.data_requested,
                why,
                max_len::DATA_REQUESTED,
                Multi,
            );
            require(
                &mut e,
                "link_to_offence",
                &self.link_to_offence,
                " for a request for data",
                max_len::LINK_TO_OFFENCE,
                Multi,
            );
        } else {
            optional(
                &mut e,
                "data_requested",
                &self.data_requested,
                max_len::DATA_REQUESTED,
                Multi,
            );
            optional(
                &mut e,
                "link_to_offence",
                &self.link_to_offence,
                max_len::LINK_TO_OFFENCE,
                Multi,
            );
        }
        if t == RequestType::EmergencyDisclosure && self.urgency != Urgency::Emergency {
            e.push(ValidationError::Invalid {
                field: "urgency".into(),
                why: "emergency_disclosure is for emergencies only (Second Protocol Art. 9)".into(),
            });
        }
        match self.urgency {
            Urgency::Emergency => require(
                &mut e,
                "emergency_justification",
                &self.emergency_justification,
                " when urgency is emergency",
                max_len::JUSTIFICATION,
                Multi,
            ),
            Urgency::Normal => forbid(
                &mut e,
                "emergency_justification",
                &self.emergency_justification,
                " when urgency is normal",
            ),
        }
        if t == RequestType::Preservation {
            require(
                &mut e,
                "custodian",
                &self.custodian,
                " for preservation (custodian or location of the system)",
                max_len::CUSTODIAN,
                Multi,
            );
            require(
                &mut e,
                "necessity",
                &self.necessity,
                " for preservation (why the data must be preserved)",
                max_len::NECESSITY,
                Multi,
            );
            match self.follow_up_mla {
                Some(true) => {}
                Some(false) => e.push(ValidationError::Invalid {
                    field: "follow_up_mla".into(),
                    why: "preservation is only granted on the intent to follow with a mutual \
                          assistance request (Budapest Art. 29(2)(f))"
                        .into(),
                }),
                None => e.push(ValidationError::Missing {
                    field: "follow_up_mla".into(),
                    why: " for preservation (intent to follow with mutual assistance)",
                }),
            }
        } else {
            forbid(
                &mut e,
                "custodian",
                &self.custodian,
                " except on preservation",
            );
            forbid(
                &mut e,
                "necessity",
                &self.necessity,
                " except on preservation",
            );
            forbid(
                &mut e,
                "follow_up_mla",
                &self.follow_up_mla,
                " except on preservation",
            );
        }
        if self.related_requests.len() > limits.max_related_requests {
            e.push(ValidationError::TooMany {
                field: "related_requests".into(),
                max: limits.max_related_requests,
                actual: self.related_requests.len(),
            });
        }
        for (i, r) in self.related_requests.iter().enumerate() {
            if self.related_requests[..i].contains(r) {
                e.push(ValidationError::Duplicate {
                    field: format!("related_requests[{i}]"),
                    what: "request id",
                });
            }
            if Some(*r) == own_id {
                e.push(ValidationError::Invalid {
                    field: format!("related_requests[{i}]"),
                    why: "a request cannot relate to itself".into(),
                });
            }
        }
        check_attachments(&mut e, "attachments", &self.attachments, limits);
        finish(e)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn sample(t: RequestType) -> NewRequest {
        let evidence = t.is_evidence_request();
        let emergency = t == RequestType::EmergencyDisclosure;
        let s = |v: &str| Some(v.to_string());
        NewRequest {
            request_type: t,
            incident_class: (t == RequestType::IncidentNotification)
                .then_some(IncidentClass::MaliciousCode),
            reference: "2021/CC/0042".into(),
            issuing_authority: "Public Prosecutor's Office, Cybercrime Unit".into(),
            legal_basis: evidence.then(|| "Budapest Convention Art. 29; CCP s. 100".into()),
            offence: evidence.then(|| "Extortion by ransomware".into()),
            facts: "On 7 May 2021 a pipeline operator's billing systems were encrypted.\nRansom: 75 BTC.".into(),
            data_requested: evidence.then(|| "Subscriber records of 203.0.113.7, 2021-05-01 to 2021-05-08".into()),
            link_to_offence: evidence.then(|| "The address controlled the ransom negotiation portal".into()),
            urgency: if emergency { Urgency::Emergency } else { Urgency::Normal },
            emergency_justification: if emergency { s("Threat to life: hospital systems") } else { None },
            tlp: Tlp::AmberStrict,
            custodian: (t == RequestType::Preservation).then(|| "Example Hosting Ltd".into()),
            necessity: (t == RequestType::Preservation).then(|| "Logs rotate after 7 days".into()),
            follow_up_mla: (t == RequestType::Preservation).then_some(true),
            related_requests: vec![],
            attachments: vec![AttachmentRef {
                name: "facts.pdf".into(),
                media_type: "application/pdf".into(),
                size: 1234,
                sha256: "ab".repeat(32),
            }],
            recipient: Origin::parse("cert.peer.example").unwrap(),
        }
    }

    fn fields_of(r: &NewRequest) -> Vec<String> {
        match r.validate(&Limits::default()) {
            Ok(()) => vec![],
            Err(e) => e.fields().into_iter().map(String::from).collect(),
        }
    }

    fn errors_of(r: &NewRequest) -> Vec<ValidationError> {
        r.validate(&Limits::default())
            .err()
            .map(|e| e.0)
            .unwrap_or_default()
    }

    #[test]
    fn samples_of_every_type_are_valid() {
        for t in RequestType::ALL {
            assert_eq!(sample(t).validate(&Limits::default()), Ok(()), "{t}");
        }
    }

    #[test]
    fn json_shape_round_trips_and_refuses_unknown_fields() {
        let r = sample(RequestType::IncidentNotification);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["type"], "incident_notification");
        assert_eq!(v["incident_class"], "malicious_code");
        assert_eq!(v["tlp"], "amber_strict");
        assert_eq!(v["recipient"], "cert.peer.example");
        let back: NewRequest = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(back, r);
        let mut extra = v.clone();
        extra["colour"] = "blue".into();
        let err = serde_json::from_value::<NewRequest>(extra)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `colour`"), "{err}");
        let mut bad_origin = v;
        bad_origin["recipient"] = "Not An Origin".into();
        assert!(serde_json::from_value::<NewRequest>(bad_origin).is_err());
    }

    #[test]
    fn common_text_fields_are_required_bounded_and_clean() {
        let mut r = sample(RequestType::Consultation);
        r.reference = "  ".into();
        assert_eq!(
            errors_of(&r),
            vec![ValidationError::Missing {
                field: "reference".into(),
                why: " (blank)"
            }]
        );
        r.reference = "x".repeat(max_len::REFERENCE);
        assert_eq!(fields_of(&r), Vec::<String>::new());
        r.reference = "x".repeat(max_len::REFERENCE + 1);
        assert_eq!(
            errors_of(&r),
            vec![ValidationError::TooLong {
                field: "reference".into(),
                max: 128,
                actual: 129
            }]
        );
        // Characters, not bytes.
        r.reference = "é".repeat(max_len::REFERENCE);
        assert_eq!(fields_of(&r), Vec::<String>::new());
        r.reference = "A\n1".into();
        assert_eq!(
            errors_of(&r),
            vec![ValidationError::ControlCharacter {
                field: "reference".into(),
                code: 0x0A,
                index: 1
            }]
        );
        r.reference = "ok".into();
        r.issuing_authority = "Office\u{202E}evil".into();
        assert_eq!(fields_of(&r), ["issuing_authority"]);
        r.issuing_authority = "Office".into();
        r.facts = "line one\r\nline\ttwo".into();
        assert_eq!(fields_of(&r), Vec::<String>::new());
        r.facts = "bell\u{7}".into();
        assert_eq!(fields_of(&r), ["facts"]);
        r.facts = "x".repeat(max_len::FACTS + 1);
        assert_eq!(fields_of(&r), ["facts"]);
        r.facts = String::new();
        assert_eq!(fields_of(&r), ["facts"]);
    }

    #[test]
    fn every_problem_is_reported_at_once_in_field_order() {
        let mut r = sample(RequestType::SubscriberInformation);
        r.reference = String::new();
        r.legal_basis = None;
        r.offence = Some("\0".into());
        r.link_to_offence = None;
        r.attachments[0].sha256 = "XYZ".into();
        assert_eq!(
            fields_of(&r),
            [
                "reference",
                "legal_basis",
                "offence",
                "link_to_offence",
                "attachments[0].sha256"
            ]
        );
        let msg = r.validate(&Limits::default()).unwrap_err().to_string();
        assert!(
            msg.contains("legal_basis: required for a request for data"),
            "{msg}"
        );
    }

    #[test]
    fn evidence_requests_need_legal_basis_offence_data_and_link() {
        for t in RequestType::ALL
            .into_iter()
            .filter(|t| t.is_evidence_request())
        {
            let mut r = sample(t);
            r.legal_basis = None;
            r.offence = None;
            r.data_requested = None;
            r.link_to_offence = None;
            assert_eq!(
                fields_of(&r),
                [
                    "legal_basis",
                    "offence",
                    "data_requested",
                    "link_to_offence"
                ],
                "{t}"
            );
        }
        for t in [RequestType::IncidentNotification, RequestType::Consultation] {
            let mut r = sample(t);
            assert_eq!(fields_of(&r), Vec::<String>::new());
            r.legal_basis = Some("NIS2 Art. 23".into());
            r.offence = Some("".into());
            assert_eq!(
                fields_of(&r),
                ["offence"],
                "optional but checked when given"
            );
        }
    }

    #[test]
    fn preservation_needs_custodian_necessity_and_mla_intent() {
        let mut r = sample(RequestType::Preservation);
        r.custodian = None;
        r.necessity = None;
        r.follow_up_mla = None;
        assert_eq!(fields_of(&r), ["custodian", "necessity", "follow_up_mla"]);
        r = sample(RequestType::Preservation);
        r.follow_up_mla = Some(false);
        assert!(matches!(
            &errors_of(&r)[..],
            [ValidationError::Invalid { field, .. }] if field == "follow_up_mla"
        ));
        r = sample(RequestType::Preservation);
        r.data_requested = None;
        let msg = r.validate(&Limits::default()).unwrap_err().to_string();
        assert_eq!(
            msg,
            "data_requested: required for preservation (the data to preserve)"
        );
        let mut other = sample(RequestType::TrafficData);
        other.custodian = Some("x".into());
        other.necessity = Some("x".into());
        other.follow_up_mla = Some(true);
        assert_eq!(
            fields_of(&other),
            ["custodian", "necessity", "follow_up_mla"]
        );
    }

    #[test]
    fn incident_class_required_on_notifications_only() {
        let mut r = sample(RequestType::IncidentNotification);
        r.incident_class = None;
        assert_eq!(
            r.validate(&Limits::default()).unwrap_err().to_string(),
            "incident_class: required for incident_notification (ENISA taxonomy class)"
        );
        for c in IncidentClass::ALL {
            r.incident_class = Some(c);
            assert_eq!(fields_of(&r), Vec::<String>::new());
        }
        let mut c = sample(RequestType::Consultation);
        c.incident_class = Some(IncidentClass::Fraud);
        assert_eq!(fields_of(&c), ["incident_class"]);
    }

    #[test]
    fn emergency_needs_justification_and_normal_forbids_it() {
        let mut r = sample(RequestType::ContentData);
        r.urgency = Urgency::Emergency;
        assert_eq!(
            r.validate(&Limits::default()).unwrap_err().to_string(),
            "emergency_justification: required when urgency is emergency"
        );
        r.emergency_justification = Some("Kidnapping in progress".into());
        assert_eq!(fields_of(&r), Vec::<String>::new());
        r.urgency = Urgency::Normal;
        assert_eq!(fields_of(&r), ["emergency_justification"]);
        let mut d = sample(RequestType::EmergencyDisclosure);
        d.urgency = Urgency::Normal;
        d.emergency_justification = None;
        assert_eq!(fields_of(&d), ["urgency"]);
    }

    #[test]
    fn related_requests_are_bounded_unique_and_not_self() {
        let mut r = sample(RequestType::TrafficData);
        let a = RequestId::from_bytes([1; 16]);
        let b = RequestId::from_bytes([2; 16]);
        r.related_requests = vec![a, b, a];
        assert_eq!(fields_of(&r), ["related_requests[2]"]);
        r.related_requests = vec![a, b];
        assert_eq!(
            r.validate_with_id(Some(b), &Limits::default())
                .unwrap_err()
                .fields(),
            ["related_requests[1]"]
        );
        let limits = Limits {
            max_related_requests: 1,
            ..Limits::default()
        };
        assert_eq!(
            r.validate(&limits).unwrap_err().0,
            vec![ValidationError::TooMany {
                field: "related_requests".into(),
                max: 1,
                actual: 2
            }]
        );
    }

    #[test]
    fn attachments_are_content_addressed_and_bounded() {
        let base = sample(RequestType::ContentData);
        let att = |name: &str, mt: &str, size: u64, sha: &str| AttachmentRef {
            name: name.into(),
            media_type: mt.into(),
            size,
            sha256: sha.into(),
        };
        let h1 = "0123456789abcdef".repeat(4);
        let h2 = "f".repeat(64);
        let cases: Vec<(AttachmentRef, Vec<&str>)> = vec![
            (att("a.pdf", "application/pdf", 1, &h1), vec![]),
            (
                att("a.pdf", "application/pdf", 10 * 1024 * 1024, &h1),
                vec![],
            ),
            (
                att("a.pdf", "application/pdf", 10 * 1024 * 1024 + 1, &h1),
                vec!["attachments[0].size"],
            ),
            (
                att("a.pdf", "application/pdf", 0, &h1),
                vec!["attachments[0].size"],
            ),
            (
                att("../a.pdf", "application/pdf", 1, &h1),
                vec!["attachments[0].name"],
            ),
            (
                att("dir\\a.pdf", "application/pdf", 1, &h1),
                vec!["attachments[0].name"],
            ),
            (
                att("", "application/pdf", 1, &h1),
                vec!["attachments[0].name"],
            ),
            (
                att("a\tb", "application/pdf", 1, &h1),
                vec!["attachments[0].name"],
            ),
            (
                att("a.pdf", "pdf", 1, &h1),
                vec!["attachments[0].media_type"],
            ),
            (
                att("a.pdf", "text/plain; charset=utf-8", 1, &h1),
                vec!["attachments[0].media_type"],
            ),
            (att("a.pdf", "application/vnd.ms-excel", 1, &h1), vec![]),
            (
                att("a.pdf", "application/pdf", 1, &h1.to_uppercase()),
                vec!["attachments[0].sha256"],
            ),
            (
                att("a.pdf", "application/pdf", 1, &h1[..63]),
                vec!["attachments[0].sha256"],
            ),
            (
                att("a.pdf", "application/pdf", 1, &format!("{}g", &h1[..63])),
                vec!["attachments[0].sha256"],
            ),
        ];
        for (a, want) in cases {
            let mut r = base.clone();
            r.attachments = vec![a.clone()];
            assert_eq!(fields_of(&r), want, "{a:?}");
        }
        let mut r = base.clone();
        r.attachments = vec![
            att("a.pdf", "application/pdf", 1, &h1),
            att("b.pdf", "application/pdf", 1, &h1),
            att("a.pdf", "application/pdf", 1, &h2),
        ];
        assert_eq!(
            fields_of(&r),
            ["attachments[1].sha256", "attachments[2].name"]
        );
        let limits = Limits {
            max_attachments: 1,
            max_attachment_size: 100,
            ..Limits::default()
        };
        r.attachments = vec![
            att("a.pdf", "application/pdf", 101, &h1),
            att("b.pdf", "application/pdf", 1, &h2),
        ];
        assert_eq!(
            r.validate(&limits).unwrap_err().fields(),
            ["attachments", "attachments[0].size"]
        );
    }
}
