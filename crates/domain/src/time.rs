//! Timestamps as detente writes them: RFC 3339, UTC, microsecond precision — the
//! form TAXII 2.1 requires, and a fixed width so strings sort by time.

use chrono::{DateTime, SecondsFormat, Utc};

pub type Timestamp = DateTime<Utc>;

pub fn now() -> Timestamp {
    Utc::now()
}

pub fn format(t: &Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn parse(s: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips_with_microseconds() {
        let t = super::parse("2021-05-07T10:00:00.123456Z").unwrap();
        assert_eq!(super::format(&t), "2021-05-07T10:00:00.123456Z");
        assert!(super::parse("yesterday").is_none());
    }
}
