//! Serde adapters so every timestamp and origin in request JSON has exactly one
//! spelling: envelopes are canonicalised (RFC 8785) and hashed, so two spellings of
//! the same instant would be two different records.

/// Timestamps as `detente_domain::time::format` writes them (RFC 3339, UTC,
/// microseconds). Parsing accepts any RFC 3339 offset and normalises to UTC.
pub mod ts {
    use chrono::{DateTime, Utc};
    use detente_domain::time;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&time::format(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        time::parse(&s).ok_or_else(|| D::Error::custom(format!("invalid RFC 3339 timestamp {s:?}")))
    }
}

/// `Option<DateTime<Utc>>` in the same form as [`ts`], `null` when absent.
pub mod ts_opt {
    use chrono::{DateTime, Utc};
    use detente_domain::time;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&time::format(t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) => time::parse(&s)
                .map(Some)
                .ok_or_else(|| D::Error::custom(format!("invalid RFC 3339 timestamp {s:?}"))),
        }
    }
}

/// A peer origin as its plain string, checked with `Origin::parse` on the way in.
pub mod origin {
    use detente_domain::Origin;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(o: &Origin, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(o.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Origin, D::Error> {
        let s = String::deserialize(d)?;
        Origin::parse(&s).map_err(D::Error::custom)
    }
}
