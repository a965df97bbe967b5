//! URL parameters of the listing endpoints.

use crate::store::VersionSel;

/// The filters an endpoint understands; others are ignored, as the standard
/// lets servers do with parameters they do not support.
pub(crate) const OBJECTS: &[&str] = &[
    "added_after",
    "match[id]",
    "match[type]",
    "match[version]",
    "match[spec_version]",
];
pub(crate) const OBJECT: &[&str] = &["added_after", "match[version]", "match[spec_version]"];
pub(crate) const VERSIONS: &[&str] = &["added_after", "match[spec_version]"];
pub(crate) const DELETE: &[&str] = &["match[version]", "match[spec_version]"];

/// Bounds the SQL a single request can generate (one bound parameter per value).
const MAX_FILTER_VALUES: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listing {
    /// Applicable filter parameters, sorted, values as given.
    pub filters: Vec<(String, String)>,
    pub limit: Option<usize>,
    pub next: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Filters {
    pub added_after_us: Option<i64>,
    pub ids: Vec<String>,
    pub types: Vec<String>,
    pub versions: Vec<VersionSel>,
    pub spec_versions: Vec<String>,
}

pub(crate) fn split(params: Vec<(String, String)>, allowed: &[&str]) -> Result<Listing, String> {
    let mut listing = Listing {
        filters: Vec::new(),
        limit: None,
        next: None,
    };
    for (name, value) in params {
        match name.as_str() {
            "limit" => listing.limit = Some(parse_limit(&value)?),
            "next" => listing.next = Some(value),
            n if allowed.contains(&n) => listing.filters.push((name, value)),
            _ => {}
        }
    }
    listing.filters.sort();
    Ok(listing)
}

fn parse_limit(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("limit must be a positive integer, got {value:?}")),
    }
}

fn values(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|v| !v.is_empty())
}

/// Parses filter parameters; repeated parameters add to the comma-separated
/// values.
pub(crate) fn parse_filters(
    filters: &[(String, String)],
    default_version: VersionSel,
) -> Result<Filters, String> {
    let mut f = Filters::default();
    for (name, value) in filters {
        match name.as_str() {
            "added_after" => {
                let t = detente_stix::parse_timestamp(value)
                    .ok_or_else(|| format!("added_after is not a timestamp: {value:?}"))?;
                f.added_after_us = Some(t.timestamp_micros());
            }
            "match[id]" => f.ids.extend(values(value).map(String::from)),
            "match[type]" => f.types.extend(values(value).map(String::from)),
            "match[spec_version]" => f.spec_versions.extend(values(value).map(String::from)),
            "match[version]" => {
                for v in values(value) {
                    f.versions.push(parse_version(v)?);
                }
            }
            _ => {}
        }
    }
    let values = f.ids.len() + f.types.len() + f.spec_versions.len() + f.versions.len();
    if values > MAX_FILTER_VALUES {
        return Err(format!(
            "too many filter values ({values}); at most {MAX_FILTER_VALUES}"
        ));
    }
    if f.versions.is_empty() {
        f.versions.push(default_version);
    }
    Ok(f)
}

fn parse_version(v: &str) -> Result<VersionSel, String> {
    match v {
        "last" => Ok(VersionSel::Last),
        "first" => Ok(VersionSel::First),
        "all" => Ok(VersionSel::All),
        t => detente_stix::parse_timestamp(t)
            .map(|t| VersionSel::At(t.timestamp_micros()))
            .ok_or_else(|| {
                format!("match[version] value {t:?} is not last, first, all or a timestamp")
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn splits_and_sorts() {
        let l = split(
            p(&[
                ("match[type]", "a"),
                ("limit", "5"),
                ("added_after", "x"),
                ("foo", "1"),
                ("next", "n"),
            ]),
            OBJECTS,
        )
        .unwrap();
        assert_eq!(l.limit, Some(5));
        assert_eq!(l.next.as_deref(), Some("n"));
        assert_eq!(l.filters, p(&[("added_after", "x"), ("match[type]", "a")]));
        assert_eq!(
            split(p(&[("match[id]", "a")]), VERSIONS).unwrap().filters,
            vec![]
        );
    }

    #[test]
    fn rejects_bad_limits() {
        for v in ["0", "-1", "abc", ""] {
            assert!(split(p(&[("limit", v)]), OBJECTS).is_err(), "{v}");
        }
    }

    #[test]
    fn parses_filters() {
        let f = parse_filters(
            &p(&[
                ("match[id]", "a,b"),
                ("match[id]", "c"),
                ("match[version]", "first,2020-01-01T00:00:00Z"),
                ("match[spec_version]", "2.1"),
            ]),
            VersionSel::Last,
        )
        .unwrap();
        assert_eq!(f.ids, vec!["a", "b", "c"]);
        assert_eq!(
            f.versions,
            vec![VersionSel::First, VersionSel::At(1_577_836_800_000_000)]
        );
        assert_eq!(f.spec_versions, vec!["2.1"]);
        let d = parse_filters(&[], VersionSel::All).unwrap();
        assert_eq!(d.versions, vec![VersionSel::All]);
    }

    #[test]
    fn rejects_bad_filter_values() {
        assert!(parse_filters(&p(&[("added_after", "yesterday")]), VersionSel::Last).is_err());
        assert!(parse_filters(&p(&[("match[version]", "newest")]), VersionSel::Last).is_err());
        let many = vec!["indicator--x"; MAX_FILTER_VALUES + 1].join(",");
        assert!(parse_filters(&p(&[("match[id]", &many)]), VersionSel::Last).is_err());
    }
}
