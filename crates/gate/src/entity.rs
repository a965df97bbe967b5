//! Vocabulary shared by the scanner, the policy engine and the CLI.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Kinds of sensitive value the pattern recognizers emit. The snake_case
/// names are part of the JSON output and must stay stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityType {
    UsSsn,
    UsPassport,
    PaymentCard,
    Iban,
    Email,
    Phone,
    IpAddress,
    MacAddress,
    Imei,
    GeoCoordinate,
    BtcAddress,
}

impl EntityType {
    pub const ALL: [EntityType; 11] = [
        EntityType::UsSsn,
        EntityType::UsPassport,
        EntityType::PaymentCard,
        EntityType::Iban,
        EntityType::Email,
        EntityType::Phone,
        EntityType::IpAddress,
        EntityType::MacAddress,
        EntityType::Imei,
        EntityType::GeoCoordinate,
        EntityType::BtcAddress,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::UsSsn => "us_ssn",
            EntityType::UsPassport => "us_passport",
            EntityType::PaymentCard => "payment_card",
            EntityType::Iban => "iban",
            EntityType::Email => "email",
            EntityType::Phone => "phone",
            EntityType::IpAddress => "ip_address",
            EntityType::MacAddress => "mac_address",
            EntityType::Imei => "imei",
            EntityType::GeoCoordinate => "geo_coordinate",
            EntityType::BtcAddress => "btc_address",
        }
    }

    pub fn parse(s: &str) -> Option<EntityType> {
        EntityType::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// The 28 CFR 202.234 listed-identifier family, used to decide whether a
    /// record combines identifiers (202.212). `None` for values that are not
    /// listed identifiers (coordinates are their own category).
    pub fn identifier_kind(self) -> Option<IdentifierKind> {
        use IdentifierKind as K;
        Some(match self {
            EntityType::UsSsn | EntityType::UsPassport => K::Government,
            EntityType::PaymentCard | EntityType::Iban => K::FinancialAccount,
            EntityType::Email | EntityType::Phone => K::Contact,
            EntityType::IpAddress => K::Network,
            EntityType::MacAddress | EntityType::Imei => K::Device,
            EntityType::GeoCoordinate | EntityType::BtcAddress => return None,
        })
    }
}

impl fmt::Display for EntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Families of listed identifiers (28 CFR 202.234 (a)-(h)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdentifierKind {
    Government,
    FinancialAccount,
    Device,
    Contact,
    Demographic,
    Advertising,
    Authentication,
    Network,
}

impl IdentifierKind {
    /// Contact and demographic data linked only to each other is excluded
    /// from covered personal identifiers (202.212(b)).
    pub fn is_contact_or_demographic(self) -> bool {
        matches!(self, IdentifierKind::Contact | IdentifierKind::Demographic)
    }
}

/// Sensitive personal data categories of 28 CFR 202.249, plus
/// government-related data (202.222), which has no bulk threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    CoveredPersonalIdentifiers,
    PreciseGeolocation,
    Biometric,
    HumanGenomic,
    OtherOmic,
    Health,
    Financial,
    GovernmentRelated,
}

impl Category {
    pub const ALL: [Category; 8] = [
        Category::CoveredPersonalIdentifiers,
        Category::PreciseGeolocation,
        Category::Biometric,
        Category::HumanGenomic,
        Category::OtherOmic,
        Category::Health,
        Category::Financial,
        Category::GovernmentRelated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::CoveredPersonalIdentifiers => "covered_personal_identifiers",
            Category::PreciseGeolocation => "precise_geolocation",
            Category::Biometric => "biometric",
            Category::HumanGenomic => "human_genomic",
            Category::OtherOmic => "other_omic",
            Category::Health => "health",
            Category::Financial => "financial",
            Category::GovernmentRelated => "government_related",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Geolocation is counted in devices, everything else in persons (202.205).
    pub fn unit(self) -> &'static str {
        if self == Category::PreciseGeolocation {
            "devices"
        } else {
            "persons"
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A small fixed set of categories, cheap to build per record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CategorySet(u16);

impl CategorySet {
    pub fn insert(&mut self, c: Category) {
        self.0 |= 1 << c.index();
    }
    pub fn contains(self, c: Category) -> bool {
        self.0 & (1 << c.index()) != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = Category> {
        Category::ALL.into_iter().filter(move |c| self.contains(*c))
    }
}

/// One recognised value: byte offsets into the original input, end exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    #[serde(rename = "type")]
    pub entity: EntityType,
    pub start: u64,
    pub end: u64,
}
