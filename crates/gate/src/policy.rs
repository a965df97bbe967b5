//! Jurisdiction profiles and transfer decisions.
//!
//! Profiles are data (TOML) so that legal changes are reviewed as data, not
//! code: the three built-in ones are embedded from `profiles/` and any of
//! them can be replaced by a file. The engine kinds encode the *shape* of a
//! regime (recipient-based DSP, origin-based GDPR, none); the countries,
//! thresholds, citations and actions come from the profile.

use crate::entity::Category;
use crate::error::GateError;
use crate::scan::FileSummary;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

mod describe;
pub use describe::{ProfileSummary, RuleSummary};

/// What the gate does with a payload. Ordered by severity: the decision is
/// the most severe action any rule asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Allow,
    /// Send only a redacted copy.
    Redact,
    /// A reviewer must approve before the payload leaves.
    Hold,
    Block,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Redact => "redact",
            Action::Hold => "hold",
            Action::Block => "block",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Engine {
    Dsp,
    Gdpr,
    Allow,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Countries {
    of_concern: Vec<String>,
    rule: String,
    #[serde(default)]
    aliases: BTreeMap<String, String>,
    #[serde(default)]
    alias_rule: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Threshold {
    category: String,
    more_than: u64,
    rule: String,
    action: Action,
    action_rule: String,
    action_text: String,
}

#[derive(Debug, Clone, Deserialize)]
struct RuleAction {
    rule: String,
    action: Action,
    text: String,
    #[serde(default)]
    categories: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct CombinedRule {
    rule: String,
    action: Action,
    action_text: String,
}

#[derive(Debug, Clone, Deserialize)]
struct GovRule {
    rule: String,
    action: Action,
    action_text: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Exemption {
    id: String,
    rule: String,
    requires_legal_basis: bool,
    keywords: Vec<String>,
    text: String,
    note: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Adequacy {
    countries: Vec<String>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct LegalBasis {
    rule: String,
    keywords: Vec<String>,
    action: Action,
    text: String,
}

/// A jurisdiction profile, as loaded from TOML.
#[derive(Debug, Clone, Deserialize)]
pub struct Profile {
    pub id: String,
    pub name: String,
    engine: Engine,
    #[serde(default)]
    aggregation_days: i64,
    #[serde(default)]
    aggregation_rule: String,
    #[serde(default)]
    countries: Countries,
    #[serde(default)]
    thresholds: Vec<Threshold>,
    combined: Option<CombinedRule>,
    government_related: Option<GovRule>,
    #[serde(default)]
    exemptions: Vec<Exemption>,
    #[serde(default)]
    eea: Vec<String>,
    #[serde(default)]
    adequacy: Vec<Adequacy>,
    #[serde(default)]
    legal_bases: Vec<LegalBasis>,
    no_basis: Option<RuleAction>,
    special_categories: Option<RuleAction>,
}

const BUILTIN: &[(&str, &str)] = &[
    ("us-dsp", include_str!("../profiles/us-dsp.toml")),
    ("eu-gdpr-ch5", include_str!("../profiles/eu-gdpr-ch5.toml")),
    ("none", include_str!("../profiles/none.toml")),
];

impl Profile {
    pub fn builtin_names() -> impl Iterator<Item = &'static str> {
        BUILTIN.iter().map(|(n, _)| *n)
    }

    pub fn builtin(name: &str) -> Result<Profile, GateError> {
        let (_, text) = BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| GateError::UnknownProfile(name.into()))?;
        Profile::from_toml(name, text)
    }

    pub fn from_toml(name: &str, text: &str) -> Result<Profile, GateError> {
        let p: Profile = toml::from_str(text).map_err(|e| GateError::Profile {
            name: name.into(),
            detail: e.to_string().replace('\n', " "),
        })?;
        p.check(name)?;
        Ok(p)
    }

    /// A built-in name, or else a path to a profile file.
    pub fn resolve(name_or_path: &str) -> Result<Profile, GateError> {
        if BUILTIN.iter().any(|(n, _)| *n == name_or_path) {
            return Profile::builtin(name_or_path);
        }
        let path = Path::new(name_or_path);
        if !path.exists() {
            return Err(GateError::UnknownProfile(name_or_path.into()));
        }
        let text = std::fs::read_to_string(path).map_err(|source| GateError::Io {
            path: path.into(),
            source,
        })?;
        Profile::from_toml(name_or_path, &text)
    }

    fn check(&self, name: &str) -> Result<(), GateError> {
        let bad = |detail: String| GateError::Profile {
            name: name.into(),
            detail,
        };
        for t in &self.thresholds {
            if Category::parse(&t.category).is_none() {
                return Err(bad(format!("unknown category {:?}", t.category)));
            }
        }
        if let Some(s) = &self.special_categories {
            if let Some(c) = s.categories.iter().find(|c| Category::parse(c).is_none()) {
                return Err(bad(format!("unknown category {c:?}")));
            }
        }
        let all = self
            .countries
            .of_concern
            .iter()
            .chain(&self.eea)
            .chain(self.adequacy.iter().flat_map(|a| &a.countries));
        if let Some(c) = all.into_iter().find(|c| !valid_country(c)) {
            return Err(bad(format!("invalid country code {c:?}")));
        }
        Ok(())
    }
}

fn valid_country(c: &str) -> bool {
    c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase())
}

/// Normalises an ISO 3166-1 alpha-2 code (case-insensitive input).
pub fn country(code: &str) -> Result<String, GateError> {
    let c = code.trim().to_ascii_uppercase();
    if valid_country(&c) {
        Ok(c)
    } else {
        Err(GateError::Country(code.into()))
    }
}

/// Past transfer volumes, for aggregation over the preceding 12 months
/// between the same sender and recipient (202.205). The node implements this
/// on its store; [`MemoryLedger`] serves tests and one-shot CLI checks.
/// Both methods take `&self` so a pooled store can be shared; a failing
/// store fails the check ([`GateError::Ledger`]) rather than reading as zero.
pub trait VolumeLedger {
    /// Sum of counts recorded for this pair and category at or after `since`.
    fn prior_volume(
        &self,
        sender: &str,
        recipient: &str,
        category: Category,
        since: DateTime<Utc>,
    ) -> Result<u64, GateError>;
    /// Records a completed transfer's count for one category.
    fn record(
        &self,
        sender: &str,
        recipient: &str,
        category: Category,
        count: u64,
        at: DateTime<Utc>,
    ) -> Result<(), GateError>;
}

type LedgerEntry = (String, String, Category, u64, DateTime<Utc>);

#[derive(Debug, Default)]
pub struct MemoryLedger {
    entries: std::sync::Mutex<Vec<LedgerEntry>>,
}

impl MemoryLedger {
    fn entries(&self) -> std::sync::MutexGuard<'_, Vec<LedgerEntry>> {
        // A panic while holding the lock leaves the Vec intact.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl VolumeLedger for MemoryLedger {
    fn prior_volume(
        &self,
        sender: &str,
        recipient: &str,
        category: Category,
        since: DateTime<Utc>,
    ) -> Result<u64, GateError> {
        Ok(self
            .entries()
            .iter()
            .filter(|(s, r, c, _, at)| {
                s == sender && r == recipient && *c == category && *at >= since
            })
            .map(|e| e.3)
            .sum())
    }

    fn record(
        &self,
        sender: &str,
        recipient: &str,
        category: Category,
        count: u64,
        at: DateTime<Utc>,
    ) -> Result<(), GateError> {
        self.entries()
            .push((sender.into(), recipient.into(), category, count, at));
        Ok(())
    }
}

/// Who sends what to whom, under which legal basis.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Transfer {
    pub sender: String,
    pub recipient: String,
    /// ISO 3166-1 alpha-2 of the recipient.
    pub destination: String,
    pub legal_basis: Option<String>,
    /// The sender marks the data as government-related (202.222), which
    /// no scan can tell on its own.
    pub government_related: bool,
    pub at: DateTime<Utc>,
}

/// Category counts of a payload, summed over its files. Summing distinct
/// counts across files over-counts persons present in several files, which
/// errs on the side of caution.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Volume {
    pub categories: BTreeMap<Category, u64>,
    pub persons_any: u64,
    pub personal_records: u64,
    /// What the scanner could not read (`file!/member: reason`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
}

impl Volume {
    pub fn from_summaries(files: &[FileSummary]) -> Volume {
        let mut v = Volume::default();
        for f in files {
            for (c, n) in &f.categories {
                *v.categories.entry(*c).or_default() += n.count;
            }
            v.persons_any += f.persons_any;
            v.personal_records += f.personal_records;
            v.unreadable.extend(f.unreadable_lines());
        }
        v
    }
}

/// The rule that holds what the gate could not read.
pub const UNREADABLE_RULE: &str = "gate: unreadable content";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    pub rule: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategoryVolume {
    pub current: u64,
    /// Recorded for the same sender/recipient in the aggregation window.
    pub prior: u64,
    pub total: u64,
    pub unit: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bulk_if_more_than: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedExemption {
    pub id: String,
    pub rule: String,
    pub legal_basis: String,
}

/// The gate's verdict, with the rules that produced it; recorded in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub decision: Action,
    pub reasons: Vec<Reason>,
    pub counts: BTreeMap<Category, CategoryVolume>,
    pub profile: String,
    pub destination: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exemption: Option<AppliedExemption>,
}

struct Builder {
    action: Action,
    reasons: Vec<Reason>,
}

impl Builder {
    fn add(&mut self, action: Action, rule: &str, text: String) {
        self.action = self.action.max(action);
        self.reasons.push(Reason {
            rule: rule.into(),
            text,
        });
    }
}

fn mentions(basis: &str, keywords: &[String]) -> bool {
    let lower = basis.to_lowercase();
    keywords.iter().any(|k| lower.contains(&k.to_lowercase()))
}

/// Judges a payload with volume `volume` for `transfer` under `profile`.
/// Does not record anything: call [`commit`] once the payload has actually
/// been sent (allowed, redacted copy sent, or hold approved).
pub fn evaluate(
    profile: &Profile,
    transfer: &Transfer,
    volume: &Volume,
    ledger: &dyn VolumeLedger,
) -> Result<Decision, GateError> {
    let dest = country(&transfer.destination)?;
    let since = transfer.at - Duration::days(profile.aggregation_days.max(0));
    let counts = volume_table(profile, transfer, volume, ledger, since)?;
    let mut b = Builder {
        action: Action::Allow,
        reasons: Vec::new(),
    };
    let exemption = match profile.engine {
        Engine::Allow => {
            b.add(
                Action::Allow,
                &profile.id,
                format!("profile {} places no restriction on transfers", profile.id),
            );
            None
        }
        Engine::Dsp => dsp(profile, transfer, &dest, volume, &counts, &mut b),
        Engine::Gdpr => {
            gdpr(profile, transfer, &dest, volume, &mut b);
            None
        }
    };
    if profile.engine != Engine::Allow {
        for u in volume.unreadable.iter().take(10) {
            b.add(
                Action::Hold,
                UNREADABLE_RULE,
                format!("unreadable content: {u}"),
            );
        }
        if volume.unreadable.len() > 10 {
            let more = volume.unreadable.len() - 10;
            b.add(
                Action::Hold,
                UNREADABLE_RULE,
                format!("unreadable content: {more} more parts"),
            );
        }
    }
    Ok(Decision {
        decision: b.action,
        reasons: b.reasons,
        counts,
        profile: profile.id.clone(),
        destination: dest,
        exemption,
    })
}

fn volume_table(
    profile: &Profile,
    t: &Transfer,
    volume: &Volume,
    ledger: &dyn VolumeLedger,
    since: DateTime<Utc>,
) -> Result<BTreeMap<Category, CategoryVolume>, GateError> {
    let mut out = BTreeMap::new();
    for c in Category::ALL {
        let current = volume.categories.get(&c).copied().unwrap_or(0);
        let prior = if profile.engine == Engine::Dsp {
            ledger.prior_volume(&t.sender, &t.recipient, c, since)?
        } else {
            0
        };
        if current == 0 && prior == 0 {
            continue;
        }
        let bulk = profile
            .thresholds
            .iter()
            .find(|th| th.category == c.as_str())
            .map(|th| th.more_than);
        out.insert(
            c,
            CategoryVolume {
                current,
                prior,
                total: current + prior,
                unit: c.unit(),
                bulk_if_more_than: bulk,
            },
        );
    }
    Ok(out)
}

fn dsp(
    p: &Profile,
    t: &Transfer,
    dest: &str,
    volume: &Volume,
    counts: &BTreeMap<Category, CategoryVolume>,
    b: &mut Builder,
) -> Option<AppliedExemption> {
    let effective = p.countries.aliases.get(dest).map_or(dest, String::as_str);
    if !p.countries.of_concern.iter().any(|c| c == effective) {
        b.add(
            Action::Allow,
            &p.countries.rule,
            format!("{dest} is not a country of concern"),
        );
        return None;
    }
    if effective != dest {
        b.add(
            Action::Allow,
            &p.countries.alias_rule,
            format!("{dest} is treated as {effective}"),
        );
    }
    if let Some(ex) = dsp_exemption(p, t, b) {
        return Some(ex);
    }
    let gov = t.government_related || counts.contains_key(&Category::GovernmentRelated);
    if let (true, Some(g)) = (gov, &p.government_related) {
        b.add(
            g.action,
            &g.rule,
            format!("government-related data to {effective}: {}", g.action_text),
        );
    }
    let mut present = Vec::new();
    for th in &p.thresholds {
        let Some(c) = Category::parse(&th.category) else {
            continue;
        };
        let Some(v) = counts.get(&c) else { continue };
        present.push((th, v.total));
        if v.total > th.more_than {
            let text = format!(
                "{c}: {} {} in 12 months exceeds the bulk threshold of {} ({})",
                v.total,
                c.unit(),
                th.more_than,
                th.rule
            );
            b.add(th.action, &th.rule, text);
            b.add(th.action, &th.action_rule, th.action_text.clone());
        }
    }
    dsp_combined(p, volume, counts, &present, b);
    if b.action == Action::Allow {
        let text = if present.is_empty() {
            "no sensitive personal data found".to_string()
        } else {
            "sensitive personal data below every bulk threshold".to_string()
        };
        b.add(Action::Allow, &p.aggregation_rule, text);
    }
    None
}

fn dsp_exemption(p: &Profile, t: &Transfer, b: &mut Builder) -> Option<AppliedExemption> {
    let basis = t
        .legal_basis
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())?;
    let ex = p.exemptions.iter().find(|e| mentions(basis, &e.keywords))?;
    let bare = ex
        .keywords
        .iter()
        .any(|k| k.eq_ignore_ascii_case(basis.trim_start_matches("28 CFR ")));
    if ex.requires_legal_basis && bare {
        b.add(
            Action::Hold,
            &ex.rule,
            format!(
                "exemption {} claimed without a legal-basis reference",
                ex.id
            ),
        );
        return None;
    }
    b.add(
        Action::Allow,
        &ex.rule,
        format!("exempt: {} (legal basis: {basis})", ex.text),
    );
    b.add(Action::Allow, &ex.rule, ex.note.clone());
    Some(AppliedExemption {
        id: ex.id.clone(),
        rule: ex.rule.clone(),
        legal_basis: basis.into(),
    })
}

/// 202.205(g): a data set holding several categories is bulk when its
/// persons exceed the lowest threshold among those categories. Prior
/// transfers are folded in through the largest prior category volume, a
/// lower bound of the prior union.
fn dsp_combined(
    p: &Profile,
    volume: &Volume,
    counts: &BTreeMap<Category, CategoryVolume>,
    present: &[(&Threshold, u64)],
    b: &mut Builder,
) {
    let (Some(rule), true) = (&p.combined, present.len() >= 2) else {
        return;
    };
    let Some(lowest) = present
        .iter()
        .map(|(th, _)| th)
        .min_by_key(|th| th.more_than)
    else {
        return;
    };
    let already = present.iter().any(|(th, total)| total > &th.more_than);
    let prior = counts.values().map(|v| v.prior).max().unwrap_or(0);
    let combined =
        (volume.persons_any + prior).max(present.iter().map(|(_, t)| *t).max().unwrap_or(0));
    if !already && combined > lowest.more_than {
        let names: Vec<&str> = present.iter().map(|(th, _)| th.category.as_str()).collect();
        let text = format!("combined data set ({}) covers {combined} persons, more than the lowest threshold {} ({}): {}", names.join(", "), lowest.more_than, lowest.category, rule.action_text);
        b.add(rule.action, &rule.rule, text);
    }
}

fn gdpr(p: &Profile, t: &Transfer, dest: &str, volume: &Volume, b: &mut Builder) {
    if p.eea.iter().any(|c| c == dest) {
        b.add(
            Action::Allow,
            "GDPR Art. 44",
            format!("{dest} is in the EU/EEA: no third-country transfer"),
        );
        return;
    }
    if volume.personal_records == 0 && volume.categories.is_empty() {
        b.add(
            Action::Allow,
            "GDPR Art. 44",
            "no personal data found".into(),
        );
        return;
    }
    if let Some(a) = p
        .adequacy
        .iter()
        .find(|a| a.countries.iter().any(|c| c == dest))
    {
        let note = a
            .note
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        b.add(
            Action::Allow,
            "GDPR Art. 45",
            format!("adequacy decision for {dest}{note}"),
        );
        return;
    }
    let basis = t
        .legal_basis
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if let Some(lb) = basis.and_then(|basis| {
        p.legal_bases
            .iter()
            .find(|lb| mentions(basis, &lb.keywords))
    }) {
        b.add(
            lb.action,
            &lb.rule,
            format!("{}: {}", lb.text, basis.unwrap_or_default()),
        );
        return;
    }
    let special = p.special_categories.as_ref().filter(|s| {
        s.categories
            .iter()
            .any(|c| Category::parse(c).is_some_and(|c| volume.categories.contains_key(&c)))
    });
    if let Some(s) = special {
        b.add(s.action, &s.rule, s.text.clone());
    }
    if let Some(nb) = &p.no_basis {
        b.add(
            nb.action,
            &nb.rule,
            format!("{dest} has no adequacy decision; {}", nb.text),
        );
    }
}

/// Records the payload's volumes once it has left, for later aggregation.
pub fn commit(
    transfer: &Transfer,
    volume: &Volume,
    ledger: &dyn VolumeLedger,
) -> Result<(), GateError> {
    for (c, n) in &volume.categories {
        if *n > 0 {
            ledger.record(&transfer.sender, &transfer.recipient, *c, *n, transfer.at)?;
        }
    }
    Ok(())
}
