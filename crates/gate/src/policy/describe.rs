//! A profile as an administrator reads it: its rules in order, and what
//! applies to a recipient in a given country before any payload is read.
//! Read-only; the decisions themselves are [`super::evaluate`]'s.

use super::{Engine, Profile};
use serde::Serialize;

/// One rule of a profile: when it applies, what the gate does, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleSummary {
    /// The citation, e.g. `28 CFR 202.205(a)` or `GDPR Art. 45`.
    pub rule: String,
    pub when: String,
    /// `allow`, `redact`, `hold`, `block`, or a word for rules that only
    /// route the decision (`judge`).
    pub action: String,
    pub text: String,
}

/// The whole profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileSummary {
    pub id: String,
    pub name: String,
    /// How the regime is shaped: by recipient country, by origin, or none.
    pub shape: String,
    pub rules: Vec<RuleSummary>,
}

fn line(rule: &str, when: String, action: &str, text: &str) -> RuleSummary {
    RuleSummary {
        rule: rule.into(),
        when,
        action: action.into(),
        text: text.into(),
    }
}

impl Profile {
    pub fn summary(&self) -> ProfileSummary {
        let (shape, rules) = match self.engine {
            Engine::Allow => (
                "no restriction: every transfer is allowed; the scan still runs and is recorded",
                vec![line(
                    &self.id,
                    "any transfer".into(),
                    "allow",
                    "no restriction",
                )],
            ),
            Engine::Dsp => (
                "by recipient country (volumes aggregated per recipient)",
                self.dsp_rules(),
            ),
            Engine::Gdpr => ("by origin: data leaving the EU/EEA", self.gdpr_rules()),
        };
        ProfileSummary {
            id: self.id.clone(),
            name: self.name.clone(),
            shape: shape.into(),
            rules,
        }
    }

    fn dsp_rules(&self) -> Vec<RuleSummary> {
        let c = &self.countries;
        let mut out = vec![line(
            &c.rule,
            format!("recipient in {}", c.of_concern.join(", ")),
            "judge",
            "country of concern: the thresholds below apply",
        )];
        for (from, to) in &c.aliases {
            out.push(line(
                &c.alias_rule,
                format!("recipient in {from}"),
                "judge",
                &format!("treated as {to}"),
            ));
        }
        for t in &self.thresholds {
            let when = format!(
                "{} above {} within {} days",
                t.category, t.more_than, self.aggregation_days
            );
            out.push(RuleSummary {
                rule: format!("{} / {}", t.rule, t.action_rule),
                when,
                action: t.action.as_str().into(),
                text: t.action_text.clone(),
            });
        }
        if let Some(r) = &self.combined {
            let when = "several categories together, above the lowest of their thresholds";
            out.push(line(
                &r.rule,
                when.into(),
                r.action.as_str(),
                &r.action_text,
            ));
        }
        if let Some(r) = &self.government_related {
            let when = "government-related data, any volume";
            out.push(line(
                &r.rule,
                when.into(),
                r.action.as_str(),
                &r.action_text,
            ));
        }
        for e in &self.exemptions {
            let when = format!("legal basis mentions {}", e.keywords.join(" / "));
            out.push(line(
                &e.rule,
                when,
                "allow",
                &format!("{} {}", e.text, e.note),
            ));
        }
        out
    }

    fn gdpr_rules(&self) -> Vec<RuleSummary> {
        let mut out = vec![line(
            "GDPR Art. 44",
            format!("recipient in {}", self.eea.join(", ")),
            "allow",
            "EU/EEA: no third-country transfer",
        )];
        for a in &self.adequacy {
            let note = a.note.as_deref().unwrap_or("adequacy decision");
            let when = format!("recipient in {}", a.countries.join(", "));
            out.push(line("GDPR Art. 45", when, "allow", note));
        }
        for b in &self.legal_bases {
            let when = format!("legal basis mentions {}", b.keywords.join(" / "));
            out.push(line(&b.rule, when, b.action.as_str(), &b.text));
        }
        if let Some(s) = &self.special_categories {
            let when = format!("no basis, and {}", s.categories.join(", "));
            out.push(line(&s.rule, when, s.action.as_str(), &s.text));
        }
        if let Some(n) = &self.no_basis {
            let when = "any other third country, no basis given".to_string();
            out.push(line(&n.rule, when, n.action.as_str(), &n.text));
        }
        out
    }

    /// What applies to a recipient in `country` (ISO 3166-1 alpha-2)
    /// whatever the payload: the rule that routes it.
    pub fn regime_for(&self, country: &str) -> RuleSummary {
        let when = format!("recipient in {country}");
        match self.engine {
            Engine::Allow => line(&self.id, when, "allow", "no restriction"),
            Engine::Dsp => {
                let c = &self.countries;
                let effective = c.aliases.get(country).map_or(country, String::as_str);
                if c.of_concern.iter().any(|x| x == effective) {
                    let text = format!(
                        "country of concern{}: bulk thresholds apply, aggregated over {} days",
                        match effective == country {
                            true => String::new(),
                            false => format!(" (as {effective})"),
                        },
                        self.aggregation_days
                    );
                    line(&c.rule, when, "judge", &text)
                } else {
                    line(&c.rule, when, "allow", "not a country of concern")
                }
            }
            Engine::Gdpr => {
                if self.eea.iter().any(|c| c == country) {
                    return line(
                        "GDPR Art. 44",
                        when,
                        "allow",
                        "EU/EEA: no third-country transfer",
                    );
                }
                if let Some(a) = self
                    .adequacy
                    .iter()
                    .find(|a| a.countries.iter().any(|c| c == country))
                {
                    let text = a.note.as_deref().unwrap_or("adequacy decision");
                    return line("GDPR Art. 45", when, "allow", text);
                }
                let action = self.no_basis.as_ref().map_or("hold", |n| n.action.as_str());
                let text = "third country without adequacy: personal data needs a legal basis (Art. 46-49)";
                line("GDPR Art. 44", when, action, text)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_builtin_profile_describes_its_rules_and_routes_countries() {
        let dsp = Profile::builtin("us-dsp").unwrap();
        let s = dsp.summary();
        assert!(s
            .rules
            .iter()
            .any(|r| r.rule.starts_with("28 CFR 202.205(a)") && r.action == "block"));
        assert_eq!(dsp.regime_for("CN").action, "judge");
        assert!(dsp.regime_for("HK").text.contains("as CN"));
        assert_eq!(dsp.regime_for("FR").action, "allow");

        let gdpr = Profile::builtin("eu-gdpr-ch5").unwrap();
        assert!(gdpr
            .summary()
            .rules
            .iter()
            .any(|r| r.rule == "GDPR Art. 49" && r.action == "hold"));
        assert_eq!(gdpr.regime_for("FR").rule, "GDPR Art. 44");
        assert_eq!(gdpr.regime_for("FR").action, "allow");
        assert_eq!(gdpr.regime_for("JP").rule, "GDPR Art. 45");
        assert!(gdpr
            .regime_for("US")
            .text
            .contains("Data Privacy Framework"));
        assert_eq!(gdpr.regime_for("BR").action, "redact");

        let none = Profile::builtin("none").unwrap();
        assert_eq!(none.summary().rules.len(), 1);
        assert_eq!(none.regime_for("KP").action, "allow");
    }
}
