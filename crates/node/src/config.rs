//! The node's configuration file, `config.toml` in the data directory.

use crate::NodeError;
use detente_domain::{Country, Origin};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Log origin and signing key name, e.g. `cert.example.org`.
    pub origin: String,
    /// ISO 3166-1 alpha-2 country of the organisation running the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Address `detente serve` listens on unless `--listen` is given.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The URLs peers reach this node at (as they configured it), e.g.
    /// `["https://cert-a.example"]`. A signed peer call must name one of
    /// their authorities, so a call signed for another node is refused here.
    /// Empty: the address each connection came in on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_urls: Vec<String>,
    /// Database URL; a relative sqlite path is inside the data directory.
    #[serde(default = "default_database")]
    pub database: String,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub gate: GateConfig,
    #[serde(default, skip_serializing_if = "FederationConfig::is_default")]
    pub federation: FederationConfig,
    /// Serve HTTPS with this certificate and key instead of plain HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    /// The mail relay notifications are sent through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp: Option<crate::notify::SmtpConfig>,
    /// Who receives which notifications, and where (see [`crate::notify`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<crate::notify::Rule>,
    /// The IANA time zone of each peer, by origin (`"cert-a.example" =
    /// "Europe/Moscow"`): the web interface then shows deadlines in the
    /// counterpart's local time as well. A country does not name one zone.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub peer_time_zones: std::collections::BTreeMap<String, String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first; relative to the data directory.
    pub cert: String,
    /// PEM private key (mode 0600); relative to the data directory.
    pub key: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FederationConfig {
    /// Extra trust anchors (PEM) for `https` peer URLs, e.g. a national or
    /// network CA; relative to the data directory. The public web PKI roots
    /// are trusted as well.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
}

impl FederationConfig {
    fn is_default(&self) -> bool {
        self == &FederationConfig::default()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    /// Jurisdiction profile for everything leaving the node: a built-in name
    /// (`us-dsp`, `eu-gdpr-ch5`, `none`), a TOML file, or `auto` (by the node's
    /// country: US -> us-dsp, EU/EEA -> eu-gdpr-ch5, else none).
    #[serde(default = "auto")]
    pub profile: String,
}

fn auto() -> String {
    "auto".into()
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig { profile: auto() }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Serve checkpoints, tiles and proofs without authentication. Leaves reveal
    /// only the volume of activity, and witnesses and auditors must read them.
    #[serde(default = "yes")]
    pub public: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    #[serde(default = "default_body")]
    pub max_body_bytes: usize,
    /// Sustained requests per second per client address.
    #[serde(default = "default_rate")]
    pub requests_per_second: u64,
    #[serde(default = "default_burst")]
    pub burst: u32,
    #[serde(default = "default_timeout")]
    pub request_timeout_secs: u64,
    /// Time a client has to send a request's headers, counted from when the
    /// server starts waiting for it (so it also bounds idle keep-alive).
    #[serde(default = "default_header_timeout")]
    pub header_timeout_secs: u64,
    /// A connection on which nothing moves for this long is closed.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_secs: u64,
    /// Open connections one client address may hold (IPv6: per /64).
    #[serde(default = "default_connections")]
    pub connections_per_address: usize,
    /// Password checks (argon2) run at once; 0 = half the CPU cores, at
    /// least one. The rest of the node keeps the other cores.
    #[serde(default)]
    pub password_checks: usize,
    /// Password checks that may wait for a turn; beyond, 503 and Retry-After.
    #[serde(default = "default_password_queue")]
    pub password_queue: usize,
    /// Failed logins (any user) one client address may make per minute.
    #[serde(default = "default_login_failures")]
    pub login_failures_per_address: u32,
    /// Failed logins per user and address per minute before 429.
    #[serde(default = "default_user_failures")]
    pub login_failures_per_user: u32,
}

fn yes() -> bool {
    true
}
fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_database() -> String {
    "sqlite://detente.db".into()
}
fn default_body() -> usize {
    10 * 1024 * 1024
}
fn default_rate() -> u64 {
    1000
}
fn default_burst() -> u32 {
    2000
}
fn default_timeout() -> u64 {
    30
}
fn default_header_timeout() -> u64 {
    10
}
fn default_idle_timeout() -> u64 {
    60
}
fn default_connections() -> usize {
    256
}
fn default_password_queue() -> usize {
    64
}
fn default_login_failures() -> u32 {
    50
}
fn default_user_failures() -> u32 {
    5
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { public: true }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: default_body(),
            requests_per_second: default_rate(),
            burst: default_burst(),
            request_timeout_secs: default_timeout(),
            header_timeout_secs: default_header_timeout(),
            idle_timeout_secs: default_idle_timeout(),
            connections_per_address: default_connections(),
            password_checks: 0,
            password_queue: default_password_queue(),
            login_failures_per_address: default_login_failures(),
            login_failures_per_user: default_user_failures(),
        }
    }
}

impl Config {
    pub fn new(origin: &Origin, country: Option<Country>) -> Self {
        Config {
            origin: origin.to_string(),
            country: country.map(|c| c.to_string()),
            listen: default_listen(),
            public_urls: Vec::new(),
            database: default_database(),
            log: LogConfig::default(),
            limits: Limits::default(),
            gate: GateConfig::default(),
            federation: FederationConfig::default(),
            tls: None,
            smtp: None,
            notify: Vec::new(),
            peer_time_zones: Default::default(),
        }
    }

    pub fn load(path: &Path) -> Result<Self, NodeError> {
        let text = std::fs::read_to_string(path).map_err(|e| NodeError::io(path, e))?;
        let cfg: Config = toml::from_str(&text)
            .map_err(|e| NodeError::Config(format!("{}: {}", path.display(), e.message())))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<(), NodeError> {
        self.origin()?;
        self.country()?;
        self.public_authorities()?;
        crate::notify::settings::validate(&self.notify, self.smtp.as_ref())?;
        for (peer, zone) in &self.peer_time_zones {
            check_time_zone(zone).map_err(|why| {
                NodeError::Config(format!("peer_time_zones: {peer} = {zone:?}: {why}"))
            })?;
        }
        if self.limits.requests_per_second == 0 || self.limits.burst == 0 {
            return Err(NodeError::Config(
                "limits.requests_per_second and limits.burst must be positive".into(),
            ));
        }
        Ok(())
    }

    /// The `@authority` values (RFC 9421: host, and port unless default) that
    /// name this node in `public_urls`; lower case. A URL on its scheme's
    /// default port gives both forms, which name the same endpoint.
    pub fn public_authorities(&self) -> Result<Vec<String>, NodeError> {
        let mut out = Vec::new();
        for u in &self.public_urls {
            let bad = |why: &str| NodeError::Config(format!("public_urls: {u:?}: {why}"));
            let url = reqwest::Url::parse(u).map_err(|e| bad(&e.to_string()))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(bad("must be http(s)://host[:port]"));
            }
            let host = url.host_str().ok_or_else(|| bad("no host"))?;
            match url.port() {
                Some(p) => out.push(format!("{host}:{p}")),
                None => {
                    out.push(host.to_string());
                    if let Some(p) = url.port_or_known_default() {
                        out.push(format!("{host}:{p}"));
                    }
                }
            }
        }
        Ok(out)
    }

    pub fn origin(&self) -> Result<Origin, NodeError> {
        Ok(Origin::parse(&self.origin)?)
    }

    pub fn country(&self) -> Result<Option<Country>, NodeError> {
        Ok(self.country.as_deref().map(Country::parse).transpose()?)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config serialises")
    }

    /// The SQLite file of the node in `dir`: it also holds the users, the
    /// TAXII collections and the witness state. `None` for other databases.
    pub fn sqlite_file(&self, dir: &Path) -> Option<std::path::PathBuf> {
        self.database_url(dir)
            .strip_prefix("sqlite://")
            .map(std::path::PathBuf::from)
    }

    /// The database URL with a relative SQLite path resolved against `dir`.
    pub fn database_url(&self, dir: &Path) -> String {
        match self.database.strip_prefix("sqlite://") {
            Some(p) if !Path::new(p).is_absolute() => format!("sqlite://{}", dir.join(p).display()),
            _ => self.database.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_bad_values() {
        let o = Origin::parse("cert.example.org").unwrap();
        let c = Config::new(&o, Some(Country::parse("de").unwrap()));
        let back: Config = toml::from_str(&c.to_toml()).unwrap();
        assert_eq!(back, c);
        let bad: Config = toml::from_str("origin = \"x.y\"\ncountry = \"XX\"\n").unwrap();
        assert!(bad.validate().is_err());
        assert!(toml::from_str::<Config>("origin = \"x.y\"\nunknown = 1\n").is_err());
    }

    #[test]
    fn public_urls_give_authorities() {
        let o = Origin::parse("cert.example.org").unwrap();
        let mut c = Config::new(&o, None);
        assert!(c.public_authorities().unwrap().is_empty());
        c.public_urls = vec![
            "https://Cert.Example.org/".into(),
            "http://10.0.0.5:8080/detente".into(),
        ];
        assert_eq!(
            c.public_authorities().unwrap(),
            ["cert.example.org", "cert.example.org:443", "10.0.0.5:8080"]
        );
        c.public_urls = vec!["ftp://x.example".into()];
        assert!(c.validate().is_err());
    }
}

/// An IANA zone name's shape (`Area/Location`, or `UTC`); whether the zone
/// exists is the browser's to know, which shows nothing for an unknown one.
fn check_time_zone(zone: &str) -> Result<(), &'static str> {
    let chars_ok = zone
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c));
    match (
        chars_ok,
        zone == "UTC" || zone.contains('/'),
        zone.len() <= 64,
    ) {
        (true, true, true) => Ok(()),
        _ => Err("not an IANA time zone such as Europe/Paris"),
    }
}

#[cfg(test)]
mod time_zone_tests {
    use super::check_time_zone;

    #[test]
    fn zone_names_have_the_iana_shape() {
        for ok in [
            "Europe/Moscow",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+3",
            "UTC",
        ] {
            assert!(check_time_zone(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Moscow",
            "Europe/Mo\"scow",
            "<script>/x",
            "Europe/Paris; rm",
        ] {
            assert!(check_time_zone(bad).is_err(), "{bad}");
        }
    }
}
