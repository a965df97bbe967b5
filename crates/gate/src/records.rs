//! Per-record aggregation: which categories a record holds and whose record
//! it is, so the summary can count distinct persons and devices.

use crate::columns::FieldClass;
use crate::entity::{Category, CategorySet, EntityType, IdentifierKind};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::hash::Hasher;

/// Distinct keys kept per category. Above every bulk threshold (the highest
/// is 100,000) with margin, and small enough to keep memory flat: once
/// reached the count is reported as saturated ("more than").
pub const DISTINCT_CAP: usize = 250_000;

/// Rank given to keys derived from recognised values rather than columns.
fn entity_rank(t: EntityType) -> u8 {
    match t {
        EntityType::UsSsn => 1,
        EntityType::UsPassport => 2,
        EntityType::Email => 3,
        EntityType::Phone => 4,
        EntityType::PaymentCard | EntityType::Iban => 6,
        _ => u8::MAX,
    }
}

/// The key a value is counted under. foldhash with a per-process random
/// seed: a tenth of the cost of SipHash per CSV field, and values crafted
/// to collide (and so be counted as fewer persons) cannot be prepared
/// without the seed.
pub fn hash_value(v: &[u8]) -> u64 {
    use std::hash::BuildHasher as _;
    static SEED: std::sync::OnceLock<foldhash::quality::SeedableRandomState> =
        std::sync::OnceLock::new();
    SEED.get_or_init(foldhash::quality::SeedableRandomState::random)
        .hash_one(v)
}

/// The value a distinct count keys on: digit-group separators do not make
/// `4111 1111 1111 1111` another card than `4111111111111111`, nor case
/// another mailbox.
pub fn canonical_hash(t: EntityType, value: &[u8]) -> u64 {
    use EntityType as E;
    let mut canon = [0u8; 64];
    let mut n = 0;
    let digits_only = matches!(
        t,
        E::PaymentCard | E::UsSsn | E::Iban | E::Phone | E::Imei | E::UsPassport
    );
    for &b in value {
        if digits_only && !b.is_ascii_alphanumeric() {
            continue;
        }
        if n == canon.len() {
            return hash_value(value);
        }
        canon[n] = if digits_only {
            b.to_ascii_uppercase()
        } else {
            b.to_ascii_lowercase()
        };
        n += 1;
    }
    hash_value(&canon[..n])
}

/// Distinct values of one entity type within a record. The first is kept
/// inline; a set is built only once a second distinct value appears, which
/// rows (one value per kind) never need.
#[derive(Debug, Default)]
struct Values {
    first: Option<u64>,
    more: Option<HashSet<u64>>,
}

impl Values {
    fn insert(&mut self, h: u64) {
        match (self.first, &mut self.more) {
            (None, _) => self.first = Some(h),
            (Some(f), None) if f == h => {}
            (Some(f), None) => self.more = Some(HashSet::from([f, h])),
            (Some(_), Some(set)) => {
                if set.len() < DISTINCT_CAP {
                    set.insert(h);
                }
            }
        }
    }
}

/// What one record (CSV row, JSON object, text line) contains.
#[derive(Debug, Default)]
pub struct RecordAcc {
    cats: CategorySet,
    idents: u16,
    person: Option<(u8, u64)>,
    device: Option<u64>,
    values: [Values; EntityType::ALL.len()],
}

impl RecordAcc {
    fn ident(&mut self, k: IdentifierKind) {
        self.idents |= 1 << (k as u16);
    }

    fn key(&mut self, rank: u8, hash: u64) {
        if rank == 0 || rank == u8::MAX {
            return;
        }
        if self.person.is_none_or(|(r, _)| rank < r) {
            self.person = Some((rank, hash));
        }
    }

    pub fn field(&mut self, class: &FieldClass, value: &[u8]) {
        let v = trim(value);
        if v.is_empty() || v == b"null" {
            return;
        }
        if let Some(c) = class.category {
            self.cats.insert(c);
        }
        if let Some(k) = class.ident {
            self.ident(k);
        }
        let rank = class.key_rank;
        if rank != 0 && rank != u8::MAX && self.person.is_none_or(|(r, _)| rank < r) {
            self.key(rank, hash_value(v));
        }
        if class.device_key && self.device.is_none() {
            self.device = Some(hash_value(v));
        }
    }

    pub fn entity(&mut self, t: EntityType, value: &[u8]) {
        if let Some(k) = t.identifier_kind() {
            self.ident(k);
        }
        match t {
            EntityType::GeoCoordinate => self.cats.insert(Category::PreciseGeolocation),
            EntityType::PaymentCard | EntityType::Iban | EntityType::BtcAddress => {
                self.cats.insert(Category::Financial)
            }
            EntityType::Imei | EntityType::MacAddress if self.device.is_none() => {
                self.device = Some(hash_value(value))
            }
            _ => {}
        }
        let h = canonical_hash(t, value);
        self.key(entity_rank(t), h);
        if t != EntityType::GeoCoordinate {
            self.values[t as usize].insert(h);
        }
    }

    /// Entity types of which this record holds several distinct values: a
    /// list (`{"cards": [...]}`, a field of many numbers, a long line), so
    /// each value stands for a person of its own.
    fn lists(&self) -> impl Iterator<Item = (EntityType, &HashSet<u64>)> {
        EntityType::ALL
            .into_iter()
            .zip(&self.values)
            .filter_map(|(t, v)| v.more.as_ref().map(|set| (t, set)))
    }

    /// 202.212: identifiers count only in combination, and contact or
    /// demographic data linked only to each other does not.
    fn covered_identifiers(&self) -> bool {
        let kinds = self.idents.count_ones();
        let contact_only = [IdentifierKind::Contact, IdentifierKind::Demographic]
            .iter()
            .fold(self.idents, |acc, k| acc & !(1 << (*k as u16)))
            == 0;
        kinds >= 2 && !contact_only
    }

    pub fn is_empty(&self) -> bool {
        self.cats.is_empty() && self.idents == 0
    }
}

fn trim(v: &[u8]) -> &[u8] {
    let s = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let e = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(s, |p| p + 1);
    &v[s..e]
}

/// Hashes keys that are already hashes: a folded multiply with per-process
/// random keys, so that values chosen to collide in the table's bits cannot
/// be prepared in advance (SipHash again would cost as much as the lookup).
#[derive(Clone, Copy)]
struct KeyMix {
    xor: u64,
    mul: u64,
}

impl Default for KeyMix {
    fn default() -> Self {
        use std::hash::BuildHasher as _;
        let s = std::collections::hash_map::RandomState::new();
        KeyMix {
            xor: s.hash_one(1u64),
            mul: s.hash_one(2u64) | 1,
        }
    }
}

impl std::hash::BuildHasher for KeyMix {
    type Hasher = MixHasher;
    fn build_hasher(&self) -> MixHasher {
        MixHasher {
            keys: *self,
            state: 0,
        }
    }
}

struct MixHasher {
    keys: KeyMix,
    state: u64,
}

impl Hasher for MixHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.state = self.state.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.state ^= v;
    }
    fn finish(&self) -> u64 {
        let m = u128::from(self.state ^ self.keys.xor) * u128::from(self.keys.mul);
        (m as u64) ^ ((m >> 64) as u64)
    }
}

/// Distinct keys of one category: a count that stops at [`DISTINCT_CAP`].
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    count: u64,
    saturated: bool,
    used: bool,
}

/// Bit of [`Counts::seen`] for persons with any sensitive category.
const ANY: u16 = 1 << 15;

/// Distinct persons (devices for geolocation) per category across records.
/// One table maps each key to the categories it was counted for, so a row
/// costs one lookup per key rather than one per category.
pub struct Counts {
    records: u64,
    personal: u64,
    seen: std::collections::HashMap<u64, u16, KeyMix>,
    per: [Tally; Category::ALL.len()],
    any: Tally,
    /// Start of the keys of records without one: random, so that counts
    /// made apart (members read in parallel) do not share them on merging.
    fallback: u64,
}

impl Default for Counts {
    fn default() -> Self {
        use std::hash::BuildHasher as _;
        Counts {
            records: 0,
            personal: 0,
            seen: Default::default(),
            per: Default::default(),
            any: Tally::default(),
            fallback: std::collections::hash_map::RandomState::new().hash_one(0u64),
        }
    }
}

impl std::fmt::Debug for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counts")
            .field("records", &self.records)
            .field("keys", &self.seen.len())
            .finish()
    }
}

impl Counts {
    /// Counts `key` for the categories in `bits` (and [`ANY`]) it was not
    /// yet counted for; a saturated category takes no new keys.
    fn mark(&mut self, key: u64, bits: u16) {
        let open = Category::ALL
            .iter()
            .filter(|c| bits & (1 << c.index()) != 0 && !self.per[c.index()].saturated)
            .fold(0u16, |acc, c| acc | (1 << c.index()))
            | if bits & ANY != 0 && !self.any.saturated {
                ANY
            } else {
                0
            };
        if open == 0 {
            return;
        }
        let slot = self.seen.entry(key).or_default();
        let new = open & !*slot;
        *slot |= new;
        for c in Category::ALL {
            if new & (1 << c.index()) != 0 {
                Self::bump(&mut self.per[c.index()]);
            }
        }
        if new & ANY != 0 {
            Self::bump(&mut self.any);
        }
    }

    fn bump(t: &mut Tally) {
        t.count += 1;
        t.used = true;
        if t.count >= DISTINCT_CAP as u64 {
            t.saturated = true;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CategoryCount {
    pub count: u64,
    pub unit: &'static str,
    /// The count hit the tracking cap: the true figure is at least `count`.
    pub saturated: bool,
}

impl Counts {
    /// Counts one record. A record is one person (its best key, else a key
    /// of its own) where the structure says so; distinct values of one
    /// identifier kind listed in the same record are a lower bound on the
    /// persons behind them, so each also counts for the categories it
    /// implies (financial for accounts, covered identifiers when the record
    /// combines kinds).
    pub fn finish(&mut self, rec: RecordAcc) {
        self.records += 1;
        if !rec.is_empty() {
            self.personal += 1;
        }
        let mut cats = rec.cats;
        if rec.covered_identifiers() {
            cats.insert(Category::CoveredPersonalIdentifiers);
        }
        if cats.is_empty() {
            return;
        }
        let listed = rec
            .lists()
            .next()
            .and_then(|(t, _)| rec.values[t as usize].first);
        let fallback = listed.unwrap_or(self.fallback.wrapping_add(self.records));
        let person = rec.person.map_or(fallback, |(_, h)| h);
        let bits = |set: CategorySet| set.iter().fold(0u16, |a, c| a | (1 << c.index()));
        let geo = 1 << Category::PreciseGeolocation.index();
        let all = bits(cats);
        match rec.device {
            Some(d) if all & geo != 0 && d != person => {
                self.mark(d, geo);
                self.mark(person, (all & !geo) | ANY);
            }
            _ => self.mark(person, all | ANY),
        }
        for (t, set) in rec.lists() {
            let mut implied = CategorySet::default();
            if matches!(
                t,
                EntityType::PaymentCard | EntityType::Iban | EntityType::BtcAddress
            ) {
                implied.insert(Category::Financial);
            }
            if cats.contains(Category::CoveredPersonalIdentifiers) && t.identifier_kind().is_some()
            {
                implied.insert(Category::CoveredPersonalIdentifiers);
            }
            if !implied.is_empty() {
                let b = bits(implied) | ANY;
                set.iter().for_each(|&h| self.mark(h, b));
            }
        }
    }

    /// Adds counts made apart, as if their records had been counted here:
    /// a key counts once per category whichever part saw it.
    pub fn merge(&mut self, other: Counts) {
        self.records += other.records;
        self.personal += other.personal;
        for (key, bits) in other.seen {
            self.mark(key, bits);
        }
    }

    /// Records holding any personal data at all (GDPR's notion, wider than
    /// the DSP categories).
    pub fn personal_records(&self) -> u64 {
        self.personal
    }

    pub fn records(&self) -> u64 {
        self.records
    }

    pub fn categories(&self) -> BTreeMap<Category, CategoryCount> {
        Category::ALL
            .into_iter()
            .filter(|c| self.per[c.index()].used)
            .map(|c| {
                let t = self.per[c.index()];
                (
                    c,
                    CategoryCount {
                        count: t.count,
                        unit: c.unit(),
                        saturated: t.saturated,
                    },
                )
            })
            .collect()
    }

    /// Distinct persons with any sensitive category, for combined data sets
    /// (202.205(g)).
    pub fn persons_any(&self) -> u64 {
        self.any.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::columns::classify;

    #[test]
    fn combined_identifiers() {
        let mut c = Counts::default();
        let mut r = RecordAcc::default();
        r.field(&classify("name"), b"Ann");
        r.field(&classify("email"), b"a@x.org");
        c.finish(r);
        let mut r = RecordAcc::default();
        r.field(&classify("name"), b"Bob");
        r.entity(EntityType::UsSsn, b"536-22-1234");
        c.finish(r);
        let cats = c.categories();
        assert_eq!(cats[&Category::CoveredPersonalIdentifiers].count, 1);
        assert_eq!(c.records(), 2);
    }

    /// Counts merged from parts equal the counts of one pass over the same
    /// records, rows without a key included (they must not collide).
    #[test]
    fn merged_counts_equal_one_pass() {
        let row = |i: u64, c: &mut Counts| {
            let mut r = RecordAcc::default();
            if !i.is_multiple_of(3) {
                r.field(&classify("ssn"), format!("536-22-{:04}", i % 50).as_bytes());
            }
            r.field(&classify("diagnosis"), b"E11.9");
            c.finish(r);
        };
        let mut whole = Counts::default();
        (0..300).for_each(|i| row(i, &mut whole));
        let mut merged = Counts::default();
        for part in (0..300).collect::<Vec<_>>().chunks(70) {
            let mut c = Counts::default();
            part.iter().for_each(|&i| row(i, &mut c));
            merged.merge(c);
        }
        assert_eq!(merged.categories(), whole.categories());
        assert_eq!(merged.persons_any(), whole.persons_any());
        assert_eq!(merged.records(), 300);
    }

    #[test]
    fn distinct_persons() {
        let mut c = Counts::default();
        for _ in 0..3 {
            let mut r = RecordAcc::default();
            r.field(&classify("ssn"), b"536-22-1234");
            r.field(&classify("diagnosis"), b"E11.9");
            c.finish(r);
        }
        assert_eq!(c.categories()[&Category::Health].count, 1);
    }
}
