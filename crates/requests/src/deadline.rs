//! Deadlines come from a policy file rather than code because the applicable
//! clocks differ by legal instrument and change with law (e-Evidence applies from
//! August 2026); a node can ship its own table without a new release.

use crate::serde_util::ts;
use crate::types::{RequestType, Urgency};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

/// The shipped policy, documented with sources in the file itself.
pub const DEFAULT_POLICY_TOML: &str = include_str!("../policy/deadlines.toml");

/// The longest clock a policy may set: beyond a year a deadline stops meaning
/// anything for the reciprocity report.
const MAX_CLOCK_DAYS: i64 = 366;

/// When the recipient must have acknowledged and answered. Recorded in the
/// `submitted` event so auditors never need the policy that produced it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deadlines {
    #[serde(with = "ts")]
    pub acknowledge_by: DateTime<Utc>,
    #[serde(with = "ts")]
    pub answer_by: DateTime<Utc>,
}

/// The two clocks of one (type, urgency) cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clocks {
    pub acknowledge: TimeDelta,
    pub answer: TimeDelta,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("deadline policy is not valid TOML for this schema: {0}")]
    Toml(String),
    #[error("{at}: {value:?} is not a duration such as 10d, 8h, 30m or 90s")]
    Duration { at: String, value: String },
    #[error("{at}: {value:?} must be more than zero and at most {MAX_CLOCK_DAYS} days")]
    OutOfRange { at: String, value: String },
    #[error("{at}: acknowledge ({ack}) must not be later than answer ({answer})")]
    AckAfterAnswer {
        at: String,
        ack: String,
        answer: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileClocks {
    acknowledge: String,
    answer: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDefault {
    normal: FileClocks,
    emergency: FileClocks,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileType {
    normal: Option<FileClocks>,
    emergency: Option<FileClocks>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    default: FileDefault,
    #[serde(default)]
    types: BTreeMap<RequestType, FileType>,
}

/// A complete table: every (type, urgency) has clocks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    table: [[Clocks; 2]; 7],
}

fn parse_duration(at: &str, s: &str) -> Result<TimeDelta, PolicyError> {
    let bad = || PolicyError::Duration {
        at: at.to_string(),
        value: s.to_string(),
    };
    let unit = s.chars().last().ok_or_else(bad)?;
    let digits = &s[..s.len() - unit.len_utf8()];
    if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: i64 = digits.parse().map_err(|_| bad())?;
    let d = match unit {
        'd' => TimeDelta::days(n),
        'h' => TimeDelta::hours(n),
        'm' => TimeDelta::minutes(n),
        's' => TimeDelta::seconds(n),
        _ => return Err(bad()),
    };
    if d <= TimeDelta::zero() || d > TimeDelta::days(MAX_CLOCK_DAYS) {
        return Err(PolicyError::OutOfRange {
            at: at.to_string(),
            value: s.to_string(),
        });
    }
    Ok(d)
}

fn clocks(at: &str, c: &FileClocks) -> Result<Clocks, PolicyError> {
    let acknowledge = parse_duration(&format!("{at}.acknowledge"), &c.acknowledge)?;
    let answer = parse_duration(&format!("{at}.answer"), &c.answer)?;
    if acknowledge > answer {
        return Err(PolicyError::AckAfterAnswer {
            at: at.to_string(),
            ack: c.acknowledge.clone(),
            answer: c.answer.clone(),
        });
    }
    Ok(Clocks {
        acknowledge,
        answer,
    })
}

fn type_index(t: RequestType) -> usize {
    RequestType::ALL.iter().position(|x| *x == t).unwrap_or(0)
}

fn urgency_index(u: Urgency) -> usize {
    match u {
        Urgency::Normal => 0,
        Urgency::Emergency => 1,
    }
}

impl Policy {
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let file: File = toml::from_str(text).map_err(|e| PolicyError::Toml(e.to_string()))?;
        let defaults = [
            clocks("default.normal", &file.default.normal)?,
            clocks("default.emergency", &file.default.emergency)?,
        ];
        let mut table = [defaults; 7];
        for (t, per) in &file.types {
            let row = &mut table[type_index(*t)];
            if let Some(c) = &per.normal {
                row[0] = clocks(&format!("types.{t}.normal"), c)?;
            }
            if let Some(c) = &per.emergency {
                row[1] = clocks(&format!("types.{t}.emergency"), c)?;
            }
        }
        Ok(Policy { table })
    }

    pub fn clocks(&self, t: RequestType, u: Urgency) -> Clocks {
        self.table[type_index(t)][urgency_index(u)]
    }

    pub fn deadline_for(
        &self,
        t: RequestType,
        u: Urgency,
        submitted_at: DateTime<Utc>,
    ) -> Deadlines {
        let c = self.clocks(t, u);
        Deadlines {
            acknowledge_by: submitted_at + c.acknowledge,
            answer_by: submitted_at + c.answer,
        }
    }
}

impl Default for Policy {
    /// The shipped `policy/deadlines.toml`. A test proves it parses, so this
    /// cannot fail at run time.
    fn default() -> Self {
        Policy::from_toml(DEFAULT_POLICY_TOML).expect("shipped deadline policy is valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        detente_domain::time::parse("2021-05-07T10:00:00Z").unwrap()
    }

    #[test]
    fn shipped_policy_has_the_documented_clocks() {
        let p = Policy::from_toml(DEFAULT_POLICY_TOML).unwrap();
        assert_eq!(p, Policy::default());
        let h = TimeDelta::hours;
        let d = TimeDelta::days;
        let want = |t, u, ack, ans| {
            assert_eq!(
                p.clocks(t, u),
                Clocks {
                    acknowledge: ack,
                    answer: ans
                },
                "{t} {u:?}"
            )
        };
        use RequestType::*;
        use Urgency::*;
        for t in [SubscriberInformation, TrafficData, ContentData] {
            want(t, Normal, d(2), d(10));
            want(t, Emergency, h(1), h(8));
        }
        want(Preservation, Normal, h(24), d(60));
        want(Preservation, Emergency, h(1), h(8));
        want(EmergencyDisclosure, Emergency, h(1), h(8));
        want(EmergencyDisclosure, Normal, h(1), h(8));
        want(IncidentNotification, Normal, h(24), d(30));
        want(IncidentNotification, Emergency, h(1), h(72));
        want(Consultation, Normal, d(2), d(30));
        want(Consultation, Emergency, h(1), h(8));
    }

    #[test]
    fn deadline_for_adds_the_clocks_to_submission_time() {
        let p = Policy::default();
        let dl = p.deadline_for(RequestType::TrafficData, Urgency::Emergency, t0());
        assert_eq!(
            detente_domain::time::format(&dl.acknowledge_by),
            "2021-05-07T11:00:00.000000Z"
        );
        assert_eq!(
            detente_domain::time::format(&dl.answer_by),
            "2021-05-07T18:00:00.000000Z"
        );
        let json = serde_json::to_value(dl).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"acknowledge_by": "2021-05-07T11:00:00.000000Z",
                               "answer_by": "2021-05-07T18:00:00.000000Z"})
        );
    }

    #[test]
    fn custom_policy_overrides_and_falls_back() {
        let p = Policy::from_toml(
            r#"
            [default.normal]
            acknowledge = "3d"
            answer = "20d"
            [default.emergency]
            acknowledge = "30m"
            answer = "4h"
            [types.consultation.emergency]
            acknowledge = "90s"
            answer = "1d"
            "#,
        )
        .unwrap();
        assert_eq!(
            p.clocks(RequestType::Consultation, Urgency::Emergency),
            Clocks {
                acknowledge: TimeDelta::seconds(90),
                answer: TimeDelta::days(1)
            }
        );
        assert_eq!(
            p.clocks(RequestType::Consultation, Urgency::Normal).answer,
            TimeDelta::days(20)
        );
        assert_eq!(
            p.clocks(RequestType::Preservation, Urgency::Emergency)
                .acknowledge,
            TimeDelta::minutes(30)
        );
    }

    #[test]
    fn bad_policies_say_where_and_why() {
        let base = |ack: &str, ans: &str| {
            format!(
                "[default.normal]\nacknowledge = \"{ack}\"\nanswer = \"{ans}\"\n\
                 [default.emergency]\nacknowledge = \"1h\"\nanswer = \"8h\"\n"
            )
        };
        for (ack, ans, want) in [
            (
                "2w",
                "10d",
                "default.normal.acknowledge: \"2w\" is not a duration",
            ),
            (
                "",
                "10d",
                "default.normal.acknowledge: \"\" is not a duration",
            ),
            ("-1d", "10d", "is not a duration"),
            ("1.5d", "10d", "is not a duration"),
            ("0h", "10d", "must be more than zero"),
            (
                "1d",
                "367d",
                "default.normal.answer: \"367d\" must be more than zero and at most 366 days",
            ),
            (
                "11d",
                "10d",
                "default.normal: acknowledge (11d) must not be later than answer (10d)",
            ),
        ] {
            let err = Policy::from_toml(&base(ack, ans)).unwrap_err().to_string();
            assert!(err.contains(want), "{ack}/{ans}: {err}");
        }
        assert!(Policy::from_toml(&base("1d", "366d")).is_ok());
        let unknown_type = format!(
            "{}[types.espionage.normal]\nacknowledge = \"1d\"\nanswer = \"2d\"\n",
            base("1d", "2d")
        );
        assert!(matches!(
            Policy::from_toml(&unknown_type),
            Err(PolicyError::Toml(_))
        ));
        let unknown_key = format!("{}[default.normal.x]\n", base("1d", "2d"));
        assert!(matches!(
            Policy::from_toml(&unknown_key),
            Err(PolicyError::Toml(_))
        ));
        let missing_emergency = "[default.normal]\nacknowledge = \"1d\"\nanswer = \"2d\"\n";
        assert!(matches!(
            Policy::from_toml(missing_emergency),
            Err(PolicyError::Toml(_))
        ));
    }
}
