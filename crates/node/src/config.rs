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
        }
    }
}

impl Config {
    pub fn new(origin: &Origin, country: Option<Country>) -> Self {
        Config {
            origin: origin.to_string(),
            country: country.map(|c| c.to_string()),
            listen: default_listen(),
            database: default_database(),
            log: LogConfig::default(),
            limits: Limits::default(),
            gate: GateConfig::default(),
            federation: FederationConfig::default(),
            tls: None,
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
        if self.limits.requests_per_second == 0 || self.limits.burst == 0 {
            return Err(NodeError::Config(
                "limits.requests_per_second and limits.burst must be positive".into(),
            ));
        }
        Ok(())
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
}
