//! Closed vocabularies stored as TEXT columns. The spellings are the on-disk
//! format (the same as the signed record's), so a driver maps them here, once,
//! and a value no variant spells is reported rather than guessed.

use crate::StorageError;
use detente_requests::lifecycle::Status;
use detente_requests::types::{DeclineGround, Direction, RequestType, Tlp, Urgency};

/// A value kept in a TEXT column under one fixed spelling per variant.
pub trait StoredText: Sized + Copy + 'static {
    /// What the column holds, for the error message.
    const WHAT: &'static str;
    /// Every variant, so parsing cannot drift from [`StoredText::as_text`].
    const ALL: &'static [Self];

    fn as_text(self) -> &'static str;

    /// The variant stored as `s`; `Integrity` if there is none, since the
    /// node only ever writes [`StoredText::as_text`] spellings.
    fn from_text(s: &str) -> Result<Self, StorageError> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.as_text() == s)
            .ok_or_else(|| StorageError::Integrity(format!("unknown {} {s:?} stored", Self::WHAT)))
    }
}

/// [`StoredText::from_text`] of a nullable column.
pub fn from_text_opt<T: StoredText>(s: Option<&str>) -> Result<Option<T>, StorageError> {
    s.map(T::from_text).transpose()
}

/// Where a held transfer stands: `held` until a reviewer approves or rejects it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldStatus {
    Held,
    Approved,
    Rejected,
}

impl HoldStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldStatus::Held => "held",
            HoldStatus::Approved => "approved",
            HoldStatus::Rejected => "rejected",
        }
    }

    /// The status spelled `s` (as stored, and as reviewers type it).
    pub fn parse(s: &str) -> Option<HoldStatus> {
        HoldStatus::from_text(s).ok()
    }
}

impl std::fmt::Display for HoldStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, so listings can align it (`{:<8}`).
        f.pad(self.as_str())
    }
}

impl StoredText for HoldStatus {
    const WHAT: &'static str = "hold status";
    const ALL: &'static [Self] = &[HoldStatus::Held, HoldStatus::Approved, HoldStatus::Rejected];
    fn as_text(self) -> &'static str {
        self.as_str()
    }
}

impl StoredText for Direction {
    const WHAT: &'static str = "request direction";
    const ALL: &'static [Self] = &[Direction::Outbound, Direction::Inbound];
    fn as_text(self) -> &'static str {
        self.as_str()
    }
}

impl StoredText for Status {
    const WHAT: &'static str = "request status";
    const ALL: &'static [Self] = &[
        Status::Submitted,
        Status::Delivered,
        Status::Acknowledged,
        Status::PartiallyAnswered,
        Status::Answered,
        Status::Declined,
        Status::Withdrawn,
    ];
    fn as_text(self) -> &'static str {
        self.as_str()
    }
}

impl StoredText for RequestType {
    const WHAT: &'static str = "request type";
    const ALL: &'static [Self] = &RequestType::ALL;
    fn as_text(self) -> &'static str {
        self.as_str()
    }
}

impl StoredText for Urgency {
    const WHAT: &'static str = "urgency";
    const ALL: &'static [Self] = &Urgency::ALL;
    fn as_text(self) -> &'static str {
        self.as_str()
    }
}

/// Stored in its JSON spelling (`amber_strict`), not the label people write.
impl StoredText for Tlp {
    const WHAT: &'static str = "TLP";
    const ALL: &'static [Self] = &Tlp::ALL;
    fn as_text(self) -> &'static str {
        self.as_str()
    }
}

impl StoredText for DeclineGround {
    const WHAT: &'static str = "decline ground";
    const ALL: &'static [Self] = &DeclineGround::ALL;
    fn as_text(self) -> &'static str {
        self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stored spelling is the serde one the signed record uses, so rows
    /// written before this type existed read back.
    fn round_trips<T: StoredText + serde::Serialize + PartialEq + std::fmt::Debug>() {
        for v in T::ALL {
            let serde = serde_json::to_value(v).unwrap();
            assert_eq!(serde.as_str(), Some(v.as_text()));
            assert_eq!(T::from_text(v.as_text()).unwrap(), *v);
        }
        match T::from_text("no such value") {
            Err(StorageError::Integrity(m)) => assert!(m.contains("no such value"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    /// Fails to compile when a variant is added without adding it to `ALL`
    /// above (the other vocabularies' `ALL` lists live beside their enums).
    #[allow(dead_code)]
    fn all_lists_are_complete(d: Direction, s: Status) {
        match d {
            Direction::Outbound | Direction::Inbound => {}
        }
        match s {
            Status::Submitted
            | Status::Delivered
            | Status::Acknowledged
            | Status::PartiallyAnswered
            | Status::Answered
            | Status::Declined
            | Status::Withdrawn => {}
        }
    }

    #[test]
    fn vocabularies_round_trip_and_refuse_unknown_values() {
        round_trips::<Direction>();
        round_trips::<Status>();
        round_trips::<RequestType>();
        round_trips::<Urgency>();
        round_trips::<Tlp>();
        round_trips::<DeclineGround>();
        round_trips::<HoldStatus>();
        assert_eq!(HoldStatus::parse("approved"), Some(HoldStatus::Approved));
        assert!(matches!(
            HoldStatus::from_text("Held"),
            Err(StorageError::Integrity(_))
        ));
    }
}
