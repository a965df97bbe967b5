use crate::DomainError;
use std::fmt;

/// A node's origin: the name of its log and of its signing key (C2SP
/// tlog-checkpoint), e.g. `cert.example.org` or `example.org/detente`.
///
/// Kept to a host name with an optional path so it is unambiguous in checkpoint
/// bodies, signed-note key names (no spaces or `+`) and URLs.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin(String);

impl Origin {
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let err = |why| Err(DomainError::Origin(s.to_string(), why));
        if s.is_empty() || s.len() > 253 {
            return err("must be 1 to 253 characters");
        }
        let (host, path) = match s.split_once('/') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        };
        if !host.contains('.') {
            return err("must start with a DNS name such as cert.example.org");
        }
        for label in host.split('.') {
            let ok_chars = label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if label.is_empty() || label.len() > 63 || !ok_chars {
                return err("host labels must be 1-63 lowercase letters, digits or '-'");
            }
            if label.starts_with('-') || label.ends_with('-') {
                return err("host labels must not start or end with '-'");
            }
        }
        if let Some(path) = path {
            let ok = path.split('/').all(|seg| {
                !seg.is_empty()
                    && seg
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
            });
            if !ok {
                return err("path segments must be non-empty and use only A-Z a-z 0-9 - . _ ~");
            }
        }
        Ok(Origin(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Origin {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Origin::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_hosts_and_paths() {
        for ok in [
            "cert.example.org",
            "a.b",
            "example.org/detente/log1",
            "x-1.example",
        ] {
            assert!(Origin::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_what_would_break_notes_or_urls() {
        for bad in [
            "",
            "localhost",
            "Cert.example.org",
            "a b.org",
            "a+b.org",
            "a..org",
            "-a.org",
            "a.org/",
            "a.org//x",
            "a.org/x y",
            "a.org\n",
            "\u{2014}.org",
        ] {
            assert!(Origin::parse(bad).is_err(), "{bad:?}");
        }
    }
}
