//! Field-name classification for structured input.
//!
//! Health, 'omic, biometric and most financial data carry no recognisable
//! pattern; what marks them is the column or key they sit under. Names are
//! normalised (camelCase and punctuation to snake_case) and matched as whole
//! underscore-separated tokens, so `home_lat` matches `lat` but `zip` does
//! not match `ip`.

use crate::context::{self, Ctx};
use crate::entity::{Category, IdentifierKind};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FieldClass {
    pub category: Option<Category>,
    pub ident: Option<IdentifierKind>,
    pub hint: Ctx,
    /// Lower is a better person key (SSN beats e-mail beats name).
    pub key_rank: u8,
    pub device_key: bool,
}

impl FieldClass {
    /// Fields whose whole value is redacted, not just recognised patterns.
    pub fn is_sensitive(&self) -> bool {
        self.category.is_some() || self.ident.is_some()
    }
}

const fn ident(kind: IdentifierKind, hint: Ctx, key_rank: u8, device_key: bool) -> FieldClass {
    FieldClass {
        category: None,
        ident: Some(kind),
        hint,
        key_rank,
        device_key,
    }
}

const fn cat(c: Category, hint: Ctx) -> FieldClass {
    FieldClass {
        category: Some(c),
        ident: None,
        hint,
        key_rank: 0,
        device_key: false,
    }
}

const fn fin_account(key_rank: u8) -> FieldClass {
    FieldClass {
        category: Some(Category::Financial),
        ident: Some(IdentifierKind::FinancialAccount),
        hint: 0,
        key_rank,
        device_key: false,
    }
}

/// A column naming whose record it is (subscriber, customer, account id):
/// the best person key, and nothing sensitive in itself.
const fn person_key() -> FieldClass {
    FieldClass {
        category: None,
        ident: None,
        hint: 0,
        key_rank: 1,
        device_key: false,
    }
}

/// A geolocation column only tells where to look: a value counts as precise
/// geolocation when the scanner finds a coordinate precise to 1,000 m in it.
const fn geo(hint: Ctx) -> FieldClass {
    FieldClass {
        category: None,
        ident: None,
        hint,
        key_rank: 0,
        device_key: false,
    }
}

use Category as C;
use IdentifierKind as I;

const RULES: &[(&[&str], FieldClass)] = &[
    (
        &[
            "ssn",
            "social_security",
            "social_security_number",
            "sozialversicherungsnummer",
        ],
        ident(I::Government, context::SSN, 1, false),
    ),
    (
        &[
            "passport",
            "passport_no",
            "passport_number",
            "reisepass",
            "passeport",
            "pasaporte",
        ],
        ident(I::Government, context::PASSPORT, 2, false),
    ),
    (
        &[
            "driver_license",
            "drivers_license",
            "driving_licence",
            "national_id",
            "alien_number",
            "tax_id",
            "state_id",
        ],
        ident(I::Government, 0, 2, false),
    ),
    (
        &["email", "e_mail", "mail", "email_address"],
        ident(I::Contact, 0, 3, false),
    ),
    (
        &[
            "phone",
            "telephone",
            "tel",
            "mobile",
            "msisdn",
            "cell",
            "telefon",
        ],
        ident(I::Contact, context::PHONE, 4, false),
    ),
    (
        &[
            "username",
            "user_name",
            "login",
            "password",
            "passwd",
            "security_answer",
            "user_id",
        ],
        ident(I::Authentication, 0, 4, false),
    ),
    (
        &[
            "name",
            "full_name",
            "first_name",
            "last_name",
            "surname",
            "given_name",
            "family_name",
            "patient",
            "fio",
        ],
        ident(I::Demographic, 0, 5, false),
    ),
    (
        &[
            "dob",
            "date_of_birth",
            "birth_date",
            "birthdate",
            "birthday",
            "place_of_birth",
        ],
        ident(I::Demographic, 0, 0, false),
    ),
    (
        &[
            "address",
            "street",
            "zip",
            "zipcode",
            "zip_code",
            "postal_code",
            "postcode",
        ],
        ident(I::Demographic, 0, 0, false),
    ),
    (
        &["imei", "imeisv"],
        ident(I::Device, context::IMEI, 0, true),
    ),
    (
        &[
            "mac",
            "mac_address",
            "device_id",
            "deviceid",
            "udid",
            "android_id",
            "sim",
            "iccid",
            "imsi",
        ],
        ident(I::Device, 0, 0, true),
    ),
    (
        &["idfa", "gaid", "maid", "advertising_id", "ad_id", "adid"],
        ident(I::Advertising, 0, 0, true),
    ),
    (
        &[
            "ip",
            "ip_address",
            "ipaddr",
            "client_ip",
            "src_ip",
            "remote_addr",
            "cookie",
        ],
        ident(I::Network, 0, 0, false),
    ),
    (
        &["lat", "latitude", "breite", "shirota"],
        geo(context::GEO | context::LAT),
    ),
    (
        &["lon", "lng", "long", "longitude", "laenge", "dolgota"],
        geo(context::GEO | context::LON),
    ),
    (
        &[
            "location",
            "gps",
            "coordinates",
            "coords",
            "geo",
            "geolocation",
            "latlon",
            "latlng",
            "position",
        ],
        geo(context::GEO),
    ),
    (
        &[
            "card_number",
            "cc_number",
            "credit_card",
            "pan",
            "card",
            "account_number",
            "account_no",
            "iban",
            "bank_account",
            "routing_number",
            "wallet",
            "btc_address",
        ],
        fin_account(6),
    ),
    (
        &[
            "balance",
            "transaction",
            "transaction_amount",
            "purchase",
            "purchases",
            "payment",
            "payments",
            "salary",
            "income",
            "credit_score",
            "credit_report",
            "statement",
            "loan",
            "debt",
            "spend",
        ],
        cat(C::Financial, 0),
    ),
    (
        &[
            "genotype",
            "genome",
            "genomic",
            "snp",
            "rsid",
            "allele",
            "alleles",
            "dna",
            "dna_sequence",
            "vcf",
            "variant",
            "haplotype",
            "chromosome",
            "genetic",
            "gene",
            "brca1",
            "brca2",
        ],
        cat(C::HumanGenomic, 0),
    ),
    (
        &[
            "proteome",
            "proteomic",
            "protein",
            "protein_expression",
            "transcript",
            "transcriptome",
            "transcriptomic",
            "rna",
            "rna_seq",
            "mrna",
            "expression_level",
            "methylation",
            "epigenome",
            "epigenomic",
            "metabolome",
            "metabolite",
            "microbiome",
        ],
        cat(C::OtherOmic, 0),
    ),
    (
        &[
            "fingerprint",
            "fingerprint_template",
            "face_template",
            "face_image",
            "faceprint",
            "face_embedding",
            "iris",
            "iris_scan",
            "retina",
            "voiceprint",
            "voice_print",
            "palm",
            "palmprint",
            "gait",
            "keystroke",
            "biometric",
            "biometrics",
        ],
        cat(C::Biometric, 0),
    ),
    (
        &[
            "diagnosis",
            "diagnoses",
            "icd10",
            "icd_10",
            "icd",
            "condition",
            "medication",
            "medications",
            "prescription",
            "drug",
            "allergy",
            "allergies",
            "blood_type",
            "blood_pressure",
            "bmi",
            "lab_result",
            "symptom",
            "symptoms",
            "treatment",
            "disease",
            "medical",
            "health",
            "clinical",
            "hiv_status",
            "pregnancy",
            "vaccination",
            "disability",
            "diagnoz",
        ],
        cat(C::Health, 0),
    ),
    (
        &[
            "security_clearance",
            "clearance",
            "clearance_level",
            "gov_agency",
            "agency",
            "federal_employee",
            "military_rank",
            "military_unit",
            "government_employer",
        ],
        cat(C::GovernmentRelated, 0),
    ),
    // Last, so that `customer_email` is an e-mail column: these only say
    // whose record it is, so rows about one subscriber count once.
    (
        &[
            "subscriber_id",
            "subscriber",
            "customer_id",
            "customer",
            "customer_no",
            "customer_number",
            "account_id",
            "participant_id",
            "participant",
            "person_id",
            "client_id",
            "member_id",
            "patient_id",
            "subject_id",
        ],
        person_key(),
    ),
];

/// Normalises `firstName`, `First Name`, `first-name` to `first_name`.
pub fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let mut prev_lower = false;
    for ch in name.trim().chars() {
        if ch.is_alphanumeric() {
            if ch.is_uppercase() && prev_lower {
                out.push('_');
            }
            prev_lower = ch.is_lowercase() || ch.is_ascii_digit();
            out.extend(ch.to_lowercase());
        } else {
            if !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
            prev_lower = false;
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// Every rule key with the index of the first rule that lists it; earlier
/// rules win, as in the table.
static RULE_INDEX: std::sync::LazyLock<std::collections::HashMap<&'static str, usize>> =
    std::sync::LazyLock::new(|| {
        let mut m = std::collections::HashMap::new();
        for (i, (keys, _)) in RULES.iter().enumerate() {
            for k in keys.iter() {
                m.entry(*k).or_insert(i);
            }
        }
        m
    });

/// The class of a column or key name; the default class (nothing) for names
/// that say nothing about sensitivity. An exact match wins; otherwise the
/// earliest rule with a key that is a whole run of the name's `_` tokens
/// (`home_lat` matches `lat`, `zipper` does not match `zip`). Every JSON key
/// an outbound event carries comes through here, so this is a few hash
/// lookups rather than a substring search per rule key.
pub fn classify(raw: &str) -> FieldClass {
    let name = normalise(raw);
    if name.is_empty() {
        return FieldClass::default();
    }
    if let Some(&i) = RULE_INDEX.get(name.as_str()) {
        return RULES[i].1;
    }
    let starts: Vec<usize> = std::iter::once(0)
        .chain(name.match_indices('_').map(|(i, _)| i + 1))
        .collect();
    let ends: Vec<usize> = name
        .match_indices('_')
        .map(|(i, _)| i)
        .chain(std::iter::once(name.len()))
        .collect();
    let mut best: Option<usize> = None;
    for (a, &start) in starts.iter().enumerate() {
        for &end in &ends[a..] {
            if let Some(&i) = RULE_INDEX.get(&name[start..end]) {
                best = Some(best.map_or(i, |b| b.min(i)));
            }
        }
    }
    best.map(|i| RULES[i].1).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The plain definition `classify` implements with lookups: the first
    /// rule with a key equal to the name, else the first rule with a key that
    /// occurs in the name between `_` boundaries.
    fn classify_by_search(raw: &str) -> FieldClass {
        let name = normalise(raw);
        let bounded = |k: &str| {
            name.match_indices(k).any(|(at, _)| {
                let end = at + k.len();
                (at == 0 || name.as_bytes()[at - 1] == b'_')
                    && (end == name.len() || name.as_bytes()[end] == b'_')
            })
        };
        let exact = RULES.iter().find(|(keys, _)| keys.contains(&name.as_str()));
        exact
            .or_else(|| {
                RULES
                    .iter()
                    .find(|(keys, _)| keys.iter().any(|k| bounded(k)))
            })
            .map(|(_, c)| *c)
            .unwrap_or_default()
    }

    proptest! {
        #[test]
        fn lookups_agree_with_the_search(parts in proptest::collection::vec(
            prop_oneof![
                proptest::sample::select(RULES.iter().flat_map(|(k, _)| k.iter().map(|k| k.to_string())).collect::<Vec<_>>()),
                "[a-z]{1,6}".prop_map(String::from),
            ], 1..5)) {
            let name = parts.join("_");
            prop_assert_eq!(classify(&name), classify_by_search(&name));
        }
    }

    #[test]
    fn names() {
        assert_eq!(normalise("firstName"), "first_name");
        assert_eq!(normalise(" Date of Birth "), "date_of_birth");
        assert_eq!(classify("lat").hint & context::LAT, context::LAT);
        assert_eq!(classify("home_lat").hint & context::LAT, context::LAT);
        assert_eq!(classify("zip").ident, Some(I::Demographic));
        assert_eq!(classify("genotype").category, Some(C::HumanGenomic));
        assert_eq!(
            classify("fingerprint_template").category,
            Some(C::Biometric)
        );
        assert_eq!(classify("primaryDiagnosis").category, Some(C::Health));
        assert_eq!(classify("patient_name").ident, Some(I::Demographic));
        assert_eq!(classify("cardNumber").category, Some(C::Financial));
        assert_eq!(classify("quantity"), FieldClass::default());
        assert_eq!(classify("zipper_ip_x").ident, Some(I::Network));
        assert_eq!(classify("shipping"), FieldClass::default());
    }
}
