//! What `config.toml` says about notifications (`[[notify]]`, `[smtp]`), and
//! who gets which kind when nobody said.

use crate::NodeError;
use serde::{Deserialize, Serialize};
use std::fmt;

pub use detente_storage::notify::{Kind, Settings};

/// Who gets what unless configured otherwise: the role whose work it is.
/// Officers answer requests, reviewers release held transfers, admins look
/// after federation; auditors only read, so get nothing.
pub fn defaults_for(role: &str) -> Vec<Kind> {
    match role {
        "officer" => vec![Kind::RequestInbound, Kind::DeadlineSoon],
        "reviewer" => vec![Kind::TransferHeld],
        "admin" => vec![Kind::DeliveryRefused],
        _ => Vec::new(),
    }
}

/// One user's `[[notify]]` entry. In-interface notifications need none;
/// e-mail and webhook are sent only where an address is given.
#[derive(Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub user: String,
    /// Absent: the defaults of the user's role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinds: Option<Vec<Kind>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    /// Key of the HMAC-SHA256 signature of each webhook call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

/// Secrets never reach a log line, so Debug leaves them out.
impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rule")
            .field("user", &self.user)
            .field("kinds", &self.kinds)
            .field("email", &self.email)
            .field("webhook", &self.webhook)
            .field("webhook_secret", &self.webhook_secret.as_ref().map(|_| "…"))
            .finish()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP, for a relay on the same host or network.
    None,
    /// STARTTLS on the submission port (587 by default).
    #[default]
    Starttls,
    /// Implicit TLS (465 by default).
    Tls,
}

/// The mail relay (`[smtp]`).
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    /// Absent: 25, 587 or 465 by `tls`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default)]
    pub tls: SmtpTls,
    /// The sender, e.g. `detente <detente@cert.example>`.
    pub from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_timeout() -> u64 {
    20
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("from", &self.from)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .finish()
    }
}

impl SmtpConfig {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        })
    }
}

/// What `user` receives by the config: their `[[notify]]` entry, else the
/// defaults of the role.
pub fn from_config(rules: &[Rule], user: &str, role: &str) -> Settings {
    match rules.iter().find(|r| r.user == user) {
        Some(r) => Settings {
            kinds: r.kinds.clone().unwrap_or_else(|| defaults_for(role)),
            email: r.email.clone(),
            webhook: r.webhook.clone(),
            webhook_secret: r.webhook_secret.clone(),
        },
        None => Settings {
            kinds: defaults_for(role),
            ..Settings::default()
        },
    }
}

/// Smallest webhook secret accepted: the MAC is only as strong as its key.
pub const MIN_SECRET: usize = 16;

/// An e-mail address as lettre reads it (`a@b.example`).
pub fn check_email(s: &str) -> Result<(), String> {
    s.parse::<lettre::Address>()
        .map(|_| ())
        .map_err(|e| format!("{s:?} is not an e-mail address ({e})"))
}

/// A webhook is called at an `http` or `https` URL with a host; nothing else
/// (no `file:`, no `ftp:`), so a setting cannot make the node read elsewhere.
pub fn check_webhook(s: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(s).map_err(|e| format!("{s:?} is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{s:?} must be an http:// or https:// URL"));
    }
    if url.host_str().is_none() {
        return Err(format!("{s:?} has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{s:?}: put no credentials in the URL"));
    }
    Ok(url)
}

pub fn check_secret(s: &str) -> Result<(), String> {
    if s.chars().count() < MIN_SECRET {
        return Err(format!(
            "the webhook secret must be at least {MIN_SECRET} characters"
        ));
    }
    Ok(())
}

/// Checks `[[notify]]` and `[smtp]`; each error is one line naming the entry.
pub fn validate(rules: &[Rule], smtp: Option<&SmtpConfig>) -> Result<(), NodeError> {
    if let Some(s) = smtp {
        if s.host.trim().is_empty() {
            return Err(NodeError::Config("smtp.host is empty".into()));
        }
        s.from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| NodeError::Config(format!("smtp.from {:?}: {e}", s.from)))?;
        if s.username.is_some() != s.password.is_some() {
            return Err(NodeError::Config(
                "smtp: give both username and password, or neither".into(),
            ));
        }
    }
    let mut seen = std::collections::HashSet::new();
    for (i, r) in rules.iter().enumerate() {
        let bad =
            |why: String| NodeError::Config(format!("notify[{i}] (user {:?}): {why}", r.user));
        if r.user.trim().is_empty() {
            return Err(bad("user is empty".into()));
        }
        if !seen.insert(r.user.as_str()) {
            return Err(bad("a second entry for this user".into()));
        }
        if let Some(e) = &r.email {
            check_email(e).map_err(|w| bad(format!("email {w}")))?;
            if smtp.is_none() {
                return Err(bad("an email is given but config.toml has no [smtp]".into()));
            }
        }
        if let Some(w) = &r.webhook {
            check_webhook(w).map_err(|w| bad(format!("webhook {w}")))?;
            let secret = r.webhook_secret.as_deref().unwrap_or_default();
            check_secret(secret).map_err(bad)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(user: &str) -> Rule {
        Rule {
            user: user.into(),
            ..Rule::default()
        }
    }

    #[test]
    fn refuses_bad_entries_in_one_line() {
        let smtp: SmtpConfig =
            toml::from_str("host = \"127.0.0.1\"\nfrom = \"d@x.example\"").unwrap();
        let cases = [
            (
                Rule {
                    webhook: Some("ftp://x.example/h".into()),
                    webhook_secret: Some("s".repeat(20)),
                    ..rule("a")
                },
                "http:// or https://",
            ),
            (
                Rule {
                    webhook: Some("https://x.example/h".into()),
                    webhook_secret: Some("short".into()),
                    ..rule("a")
                },
                "at least 16",
            ),
            (
                Rule {
                    email: Some("not an address".into()),
                    ..rule("a")
                },
                "not an e-mail address",
            ),
        ];
        for (r, want) in cases {
            let e = validate(std::slice::from_ref(&r), Some(&smtp))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(want) && e.contains("notify[0] (user \"a\")"),
                "{e}"
            );
            assert!(!e.contains('\n'), "{e}");
        }
        let mail = Rule {
            email: Some("a@x.example".into()),
            ..rule("a")
        };
        assert!(validate(std::slice::from_ref(&mail), None)
            .unwrap_err()
            .to_string()
            .contains("no [smtp]"));
        assert!(validate(&[rule("a"), rule("a")], None).is_err());
        assert!(validate(&[mail], Some(&smtp)).is_ok());
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let r = Rule {
            webhook_secret: Some("hunter2hunter2hunter2".into()),
            ..rule("a")
        };
        let s: SmtpConfig = toml::from_str("host = \"h\"\nfrom = \"d@x.example\"\nusername = \"u\"\npassword = \"pa55word-secret\"").unwrap();
        let out = format!("{r:?} {s:?}");
        assert!(
            !out.contains("hunter2") && !out.contains("pa55word"),
            "{out}"
        );
    }

    #[test]
    fn roles_get_their_work_by_default() {
        let rules = [Rule {
            kinds: Some(vec![Kind::TransferHeld]),
            ..rule("bob")
        }];
        assert_eq!(
            from_config(&rules, "alice", "officer").kinds,
            [Kind::RequestInbound, Kind::DeadlineSoon]
        );
        assert_eq!(
            from_config(&rules, "bob", "officer").kinds,
            [Kind::TransferHeld]
        );
        assert!(from_config(&rules, "carol", "auditor").kinds.is_empty());
    }
}
