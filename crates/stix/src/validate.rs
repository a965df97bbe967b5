use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::StixError;

/// The three families of STIX objects differ in which common properties they
/// carry (SCOs have no created/modified, marking definitions are never
/// modified), so validation dispatches on the family first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// Domain objects, relationship objects, language content, extension
    /// definitions and custom objects: all carry created and modified.
    Versioned,
    /// Cyber-observable objects: deterministic ids, no created/modified.
    Observable,
    /// Marking definitions: created but immutable, so no modified.
    Marking,
}

const SCO_TYPES: &[&str] = &[
    "artifact",
    "autonomous-system",
    "directory",
    "domain-name",
    "email-addr",
    "email-message",
    "file",
    "ipv4-addr",
    "ipv6-addr",
    "mac-addr",
    "mutex",
    "network-traffic",
    "process",
    "software",
    "url",
    "user-account",
    "windows-registry-key",
    "x509-certificate",
];

/// Properties holding timestamps besides created/modified; checked wherever they
/// appear at the top level so that a malformed date never reaches a consumer.
const TIMESTAMP_PROPERTIES: &[&str] = &[
    "first_seen",
    "last_seen",
    "valid_from",
    "valid_until",
    "published",
    "first_observed",
    "last_observed",
    "start_time",
    "stop_time",
    "analysis_started",
    "analysis_ended",
    "submitted",
];

impl ObjectKind {
    pub fn of(object_type: &str) -> ObjectKind {
        if object_type == "marking-definition" {
            ObjectKind::Marking
        } else if SCO_TYPES.contains(&object_type) {
            ObjectKind::Observable
        } else {
            ObjectKind::Versioned
        }
    }
}

/// Checks one STIX 2.1 object (not a bundle) as received in a TAXII envelope.
pub fn validate(value: &Value) -> Result<(), StixError> {
    let obj = value.as_object().ok_or(StixError::NotAnObject)?;
    let object_type = required_str(obj, "type")?;
    check_type_name(object_type)?;
    let kind = ObjectKind::of(object_type);
    check_spec_version(obj, kind)?;
    check_id(obj, object_type)?;
    check_common_timestamps(obj, kind)?;
    check_common_optionals(obj)?;
    check_references(value, "")?;
    check_type_specific(obj, object_type)
}

/// The TAXII version of an object: `modified`, else `created`. SCOs have
/// neither; the caller decides how to version them.
pub fn version_of(value: &Value) -> Option<&str> {
    value
        .get("modified")
        .or_else(|| value.get("created"))
        .and_then(Value::as_str)
}

/// Parses a STIX timestamp. STIX requires RFC 3339 in UTC with an upper-case
/// `T` and `Z`; chrono alone would also accept offsets and a space separator.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let bytes = text.as_bytes();
    if bytes.len() < 20 || bytes[10] != b'T' || !text.ends_with('Z') {
        return None;
    }
    let fraction_ok = match text.get(19..text.len() - 1) {
        Some("") => true,
        Some(frac) => {
            frac.len() >= 2
                && frac.starts_with('.')
                && frac[1..].bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    };
    if !fraction_ok {
        return None;
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn required_str<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<&'a str, StixError> {
    match obj.get(key) {
        None => Err(StixError::Missing(key.to_string())),
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(StixError::invalid(key, "must be a non-empty string")),
    }
}

fn require(obj: &Map<String, Value>, key: &str) -> Result<(), StixError> {
    if obj.contains_key(key) {
        Ok(())
    } else {
        Err(StixError::Missing(key.to_string()))
    }
}

fn require_any(obj: &Map<String, Value>, keys: &[&str]) -> Result<(), StixError> {
    if keys.iter().any(|k| obj.contains_key(*k)) {
        Ok(())
    } else {
        Err(StixError::Missing(keys.join(" or ")))
    }
}

fn check_type_name(t: &str) -> Result<(), StixError> {
    let charset_ok = t
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !(3..=250).contains(&t.len()) || !charset_ok || t.contains("--") {
        return Err(StixError::invalid(
            "type",
            "must be 3-250 characters of a-z, 0-9 and single hyphens",
        ));
    }
    Ok(())
}

fn check_spec_version(obj: &Map<String, Value>, kind: ObjectKind) -> Result<(), StixError> {
    match (obj.get("spec_version"), kind) {
        (None, ObjectKind::Observable) => Ok(()),
        (None, _) => Err(StixError::Missing("spec_version".into())),
        (Some(Value::String(v)), _) if v == "2.1" => Ok(()),
        (Some(_), _) => Err(StixError::invalid("spec_version", "must be \"2.1\"")),
    }
}

fn check_id(obj: &Map<String, Value>, object_type: &str) -> Result<(), StixError> {
    let id = required_str(obj, "id")?;
    if !is_identifier(id) {
        return Err(StixError::invalid("id", "must be <type>--<UUID>"));
    }
    if id.split_once("--").map(|(t, _)| t) != Some(object_type) {
        return Err(StixError::invalid("id", "type prefix must equal 'type'"));
    }
    Ok(())
}

/// A STIX identifier: `<object type>--<RFC 4122 UUID>` in canonical lower-case form.
pub(crate) fn is_identifier(text: &str) -> bool {
    let Some((t, uuid)) = text.split_once("--") else {
        return false;
    };
    check_type_name(t).is_ok()
        && uuid.len() == 36
        && uuid
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b'-')
        && uuid::Uuid::parse_str(uuid).is_ok()
}

fn timestamp(obj: &Map<String, Value>, key: &str) -> Result<Option<DateTime<Utc>>, StixError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => parse_timestamp(s).map(Some).ok_or_else(|| {
            StixError::invalid(key, "must be an RFC 3339 UTC timestamp ending in Z")
        }),
        Some(_) => Err(StixError::invalid(key, "must be a timestamp string")),
    }
}

fn check_common_timestamps(obj: &Map<String, Value>, kind: ObjectKind) -> Result<(), StixError> {
    let created = timestamp(obj, "created")?;
    let modified = timestamp(obj, "modified")?;
    match kind {
        ObjectKind::Versioned => {
            let created = created.ok_or_else(|| StixError::Missing("created".into()))?;
            let modified = modified.ok_or_else(|| StixError::Missing("modified".into()))?;
            if modified < created {
                return Err(StixError::invalid("modified", "is earlier than created"));
            }
        }
        ObjectKind::Marking => {
            if created.is_none() {
                return Err(StixError::Missing("created".into()));
            }
        }
        ObjectKind::Observable => {}
    }
    for key in TIMESTAMP_PROPERTIES {
        timestamp(obj, key)?;
    }
    Ok(())
}

fn check_common_optionals(obj: &Map<String, Value>) -> Result<(), StixError> {
    if let Some(v) = obj.get("revoked") {
        if !v.is_boolean() {
            return Err(StixError::invalid("revoked", "must be a boolean"));
        }
    }
    if let Some(v) = obj.get("confidence") {
        if v.as_u64().is_none_or(|c| c > 100) {
            return Err(StixError::invalid("confidence", "must be an integer 0-100"));
        }
    }
    for key in ["labels", "object_marking_refs"] {
        if let Some(v) = obj.get(key) {
            if !is_nonempty_string_list(v) {
                return Err(StixError::invalid(
                    key,
                    "must be a non-empty list of strings",
                ));
            }
        }
    }
    if let Some(v) = obj.get("created_by_ref") {
        if !v.as_str().is_some_and(|s| s.starts_with("identity--")) {
            return Err(StixError::invalid(
                "created_by_ref",
                "must reference an identity",
            ));
        }
    }
    if let Some(v) = obj.get("external_references") {
        if !v
            .as_array()
            .is_some_and(|a| a.iter().all(|e| e.get("source_name").is_some()))
        {
            return Err(StixError::invalid(
                "external_references",
                "each entry needs source_name",
            ));
        }
    }
    Ok(())
}

fn is_nonempty_string_list(v: &Value) -> bool {
    v.as_array()
        .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string))
}

/// Every `*_ref` must be an identifier and every `*_refs` a non-empty list of
/// them, at any depth (extensions and granular markings carry references too).
fn check_references(value: &Value, path: &str) -> Result<(), StixError> {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                let here = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                check_reference_property(key, v, &here)?;
                check_references(v, &here)?;
            }
            Ok(())
        }
        Value::Array(items) => items
            .iter()
            .try_for_each(|item| check_references(item, path)),
        _ => Ok(()),
    }
}

fn check_reference_property(key: &str, v: &Value, path: &str) -> Result<(), StixError> {
    if key.ends_with("_ref") && !v.as_str().is_some_and(is_identifier) {
        return Err(StixError::invalid(path, "must be a STIX identifier"));
    }
    if key.ends_with("_refs") {
        let ok = v.as_array().is_some_and(|a| {
            !a.is_empty() && a.iter().all(|r| r.as_str().is_some_and(is_identifier))
        });
        if !ok {
            return Err(StixError::invalid(
                path,
                "must be a non-empty list of STIX identifiers",
            ));
        }
    }
    Ok(())
}

fn check_type_specific(obj: &Map<String, Value>, object_type: &str) -> Result<(), StixError> {
    match object_type {
        "attack-pattern" | "campaign" | "course-of-action" | "incident" | "infrastructure"
        | "intrusion-set" | "threat-actor" | "tool" | "vulnerability" | "identity" => {
            required_str(obj, "name").map(drop)
        }
        "indicator" => check_indicator(obj),
        "malware" => check_malware(obj),
        "report" => {
            required_str(obj, "name")?;
            require(obj, "published")?;
            require(obj, "object_refs")
        }
        "grouping" => {
            required_str(obj, "context")?;
            require(obj, "object_refs")
        }
        "note" => {
            required_str(obj, "content")?;
            require(obj, "object_refs")
        }
        "opinion" => {
            required_str(obj, "opinion")?;
            require(obj, "object_refs")
        }
        "observed-data" => check_observed_data(obj),
        "location" => require_any(obj, &["region", "country", "latitude"]),
        "malware-analysis" => {
            required_str(obj, "product")?;
            require_any(obj, &["result", "analysis_sco_refs"])
        }
        "relationship" => {
            required_str(obj, "relationship_type")?;
            require(obj, "source_ref")?;
            require(obj, "target_ref")
        }
        "sighting" => check_sighting(obj),
        "marking-definition" => require_any(obj, &["definition_type", "extensions"]),
        "language-content" => {
            require(obj, "object_ref")?;
            require(obj, "contents")
        }
        "extension-definition" => {
            for key in [
                "created_by_ref",
                "name",
                "schema",
                "version",
                "extension_types",
            ] {
                require(obj, key)?;
            }
            Ok(())
        }
        other => check_observable(obj, other),
    }
}

fn check_indicator(obj: &Map<String, Value>) -> Result<(), StixError> {
    let pattern = required_str(obj, "pattern")?;
    if required_str(obj, "pattern_type")? == "stix" {
        crate::check_pattern(pattern).map_err(|e| StixError::invalid("pattern", e))?;
    }
    let from = timestamp(obj, "valid_from")?.ok_or(StixError::Missing("valid_from".into()))?;
    if let Some(until) = timestamp(obj, "valid_until")? {
        if until <= from {
            return Err(StixError::invalid(
                "valid_until",
                "must be later than valid_from",
            ));
        }
    }
    Ok(())
}

fn check_malware(obj: &Map<String, Value>) -> Result<(), StixError> {
    match obj.get("is_family") {
        None => Err(StixError::Missing("is_family".into())),
        Some(Value::Bool(true)) => required_str(obj, "name").map(drop),
        Some(Value::Bool(false)) => Ok(()),
        Some(_) => Err(StixError::invalid("is_family", "must be a boolean")),
    }
}

fn check_observed_data(obj: &Map<String, Value>) -> Result<(), StixError> {
    let first =
        timestamp(obj, "first_observed")?.ok_or(StixError::Missing("first_observed".into()))?;
    let last =
        timestamp(obj, "last_observed")?.ok_or(StixError::Missing("last_observed".into()))?;
    if last < first {
        return Err(StixError::invalid(
            "last_observed",
            "is earlier than first_observed",
        ));
    }
    if !obj
        .get("number_observed")
        .and_then(Value::as_u64)
        .is_some_and(|n| (1..=999_999_999).contains(&n))
    {
        return Err(StixError::invalid("number_observed", "must be 1-999999999"));
    }
    require_any(obj, &["objects", "object_refs"])
}

fn check_sighting(obj: &Map<String, Value>) -> Result<(), StixError> {
    require(obj, "sighting_of_ref")?;
    if let Some(count) = obj.get("count") {
        if count.as_u64().is_none_or(|c| c > 999_999_999) {
            return Err(StixError::invalid("count", "must be 0-999999999"));
        }
    }
    Ok(())
}

fn check_observable(obj: &Map<String, Value>, object_type: &str) -> Result<(), StixError> {
    match object_type {
        "domain-name" | "ipv4-addr" | "ipv6-addr" | "url" | "email-addr" | "mac-addr" => {
            required_str(obj, "value").map(drop)
        }
        "mutex" | "software" => required_str(obj, "name").map(drop),
        "directory" => required_str(obj, "path").map(drop),
        "autonomous-system" => match obj.get("number") {
            Some(n) if n.is_u64() => Ok(()),
            Some(_) => Err(StixError::invalid("number", "must be an integer")),
            None => Err(StixError::Missing("number".into())),
        },
        "file" => require_any(obj, &["hashes", "name"]),
        "artifact" => require_any(obj, &["payload_bin", "url"]),
        "email-message" => match obj.get("is_multipart") {
            Some(Value::Bool(_)) => Ok(()),
            Some(_) => Err(StixError::invalid("is_multipart", "must be a boolean")),
            None => Err(StixError::Missing("is_multipart".into())),
        },
        "network-traffic" => require(obj, "protocols"),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn indicator() -> Value {
        json!({
            "type": "indicator",
            "spec_version": "2.1",
            "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "created": "2016-04-06T20:03:48.000Z",
            "modified": "2016-04-06T20:03:48.000Z",
            "pattern": "[ipv4-addr:value = '198.51.100.1']",
            "pattern_type": "stix",
            "valid_from": "2016-01-01T00:00:00Z",
            "object_marking_refs": ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]
        })
    }

    fn with(mut v: Value, key: &str, new: Value) -> Value {
        v[key] = new;
        v
    }

    fn without(mut v: Value, key: &str) -> Value {
        v.as_object_mut().unwrap().remove(key);
        v
    }

    #[test]
    fn accepts_valid_indicator() {
        assert_eq!(validate(&indicator()), Ok(()));
    }

    #[test]
    fn rejects_non_object() {
        assert_eq!(validate(&json!([1])), Err(StixError::NotAnObject));
    }

    #[test]
    fn requires_common_properties() {
        for key in ["type", "spec_version", "id", "created", "modified"] {
            assert_eq!(
                validate(&without(indicator(), key)),
                Err(StixError::Missing(key.into())),
                "{key}"
            );
        }
    }

    #[test]
    fn requires_indicator_properties() {
        for key in ["pattern", "pattern_type", "valid_from"] {
            assert_eq!(
                validate(&without(indicator(), key)),
                Err(StixError::Missing(key.into()))
            );
        }
    }

    #[test]
    fn rejects_wrong_spec_version() {
        assert!(validate(&with(indicator(), "spec_version", json!("2.0"))).is_err());
    }

    #[test]
    fn rejects_id_of_other_type() {
        let v = with(
            indicator(),
            "id",
            json!("malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"),
        );
        assert!(
            matches!(validate(&v), Err(StixError::Invalid { property, .. }) if property == "id")
        );
    }

    #[test]
    fn rejects_malformed_ids() {
        for id in [
            "indicator--not-a-uuid",
            "indicator-8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "indicator--8E2E2D2B-17D4-4CBF-938F-98EE46B3CD3F",
        ] {
            assert!(
                validate(&with(indicator(), "id", json!(id))).is_err(),
                "{id}"
            );
        }
    }

    #[test]
    fn rejects_bad_timestamps() {
        for t in [
            "2016-04-06T20:03:48+01:00",
            "2016-04-06 20:03:48Z",
            "2016-04-06",
            "2016-04-06T20:03:48.Z",
            "2016-13-06T20:03:48Z",
        ] {
            assert!(
                validate(&with(indicator(), "created", json!(t))).is_err(),
                "{t}"
            );
        }
    }

    #[test]
    fn rejects_unparsable_stix_pattern() {
        assert!(validate(&with(indicator(), "pattern", json!("garbage"))).is_err());
        let sigma = with(
            with(indicator(), "pattern_type", json!("sigma")),
            "pattern",
            json!("title: anything"),
        );
        assert_eq!(validate(&sigma), Ok(()));
    }

    #[test]
    fn rejects_modified_before_created() {
        let v = with(indicator(), "modified", json!("2015-01-01T00:00:00Z"));
        assert!(validate(&v).is_err());
    }

    #[test]
    fn rejects_valid_until_before_valid_from() {
        let v = with(indicator(), "valid_until", json!("2015-01-01T00:00:00Z"));
        assert!(validate(&v).is_err());
    }

    #[test]
    fn rejects_bad_references() {
        assert!(validate(&with(
            indicator(),
            "created_by_ref",
            json!("malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")
        ))
        .is_err());
        assert!(validate(&with(
            indicator(),
            "object_marking_refs",
            json!(["tlp-green"])
        ))
        .is_err());
        assert!(validate(&with(indicator(), "object_marking_refs", json!([]))).is_err());
        let nested = with(
            indicator(),
            "granular_markings",
            json!([{"marking_ref": "nope", "selectors": ["pattern"]}]),
        );
        assert!(validate(&nested).is_err());
    }

    #[test]
    fn relationship_needs_endpoints() {
        let rel = json!({
            "type": "relationship", "spec_version": "2.1",
            "id": "relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad",
            "created": "2016-04-06T20:06:37.000Z", "modified": "2016-04-06T20:06:37.000Z",
            "relationship_type": "indicates",
            "source_ref": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "target_ref": "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"
        });
        assert_eq!(validate(&rel), Ok(()));
        assert!(validate(&without(rel.clone(), "target_ref")).is_err());
        assert!(validate(&with(rel, "source_ref", json!("x"))).is_err());
    }

    #[test]
    fn malware_family_needs_name() {
        let m = json!({
            "type": "malware", "spec_version": "2.1",
            "id": "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b",
            "created": "2016-04-06T20:07:09.000Z", "modified": "2016-04-06T20:07:09.000Z",
            "is_family": true, "name": "Poison Ivy"
        });
        assert_eq!(validate(&m), Ok(()));
        assert!(validate(&without(m.clone(), "name")).is_err());
        assert!(validate(&without(m.clone(), "is_family")).is_err());
        assert_eq!(
            validate(&without(with(m, "is_family", json!(false)), "name")),
            Ok(())
        );
    }

    #[test]
    fn sighting_and_report_requirements() {
        let s = json!({
            "type": "sighting", "spec_version": "2.1",
            "id": "sighting--ee20065d-2555-424f-ad9e-0f8428623c75",
            "created": "2016-04-06T20:08:31.000Z", "modified": "2016-04-06T20:08:31.000Z",
            "sighting_of_ref": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
        });
        assert_eq!(validate(&s), Ok(()));
        assert!(validate(&without(s, "sighting_of_ref")).is_err());
        let r = json!({
            "type": "report", "spec_version": "2.1",
            "id": "report--84e4d88f-44ea-4bcd-bbf3-b2c1c320bcb3",
            "created": "2015-12-21T19:59:11.000Z", "modified": "2015-12-21T19:59:11.000Z",
            "name": "The Black Vine Cyberespionage Group",
            "published": "2016-01-20T17:00:00.000Z",
            "object_refs": ["indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]
        });
        assert_eq!(validate(&r), Ok(()));
        assert!(validate(&without(r.clone(), "published")).is_err());
        assert!(validate(&without(r, "object_refs")).is_err());
    }

    #[test]
    fn observables_have_no_created() {
        let ip = json!({
            "type": "ipv4-addr", "spec_version": "2.1",
            "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd",
            "value": "198.51.100.3"
        });
        assert_eq!(validate(&ip), Ok(()));
        assert_eq!(validate(&without(ip.clone(), "spec_version")), Ok(()));
        assert!(validate(&without(ip, "value")).is_err());
    }

    #[test]
    fn marking_definition_needs_created_only() {
        let m = json!({
            "type": "marking-definition", "spec_version": "2.1",
            "id": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
            "created": "2017-01-20T00:00:00.000Z",
            "definition_type": "tlp", "name": "TLP:GREEN",
            "definition": {"tlp": "green"}
        });
        assert_eq!(validate(&m), Ok(()));
        assert!(validate(&without(m, "created")).is_err());
    }

    #[test]
    fn identity_needs_name() {
        let i = json!({
            "type": "identity", "spec_version": "2.1",
            "id": "identity--311b2d2d-f010-4473-83ec-1edf84858f4c",
            "created": "2015-12-21T19:59:11Z", "modified": "2015-12-21T19:59:11Z",
            "name": "Cole Powers", "identity_class": "individual"
        });
        assert_eq!(validate(&i), Ok(()));
        assert!(validate(&without(i, "name")).is_err());
    }

    #[test]
    fn rejects_bad_type_names() {
        for t in ["IN", "Indicator", "a--b", "x_y"] {
            assert!(
                validate(&with(indicator(), "type", json!(t))).is_err(),
                "{t}"
            );
        }
    }

    #[test]
    fn version_prefers_modified() {
        assert_eq!(version_of(&indicator()), Some("2016-04-06T20:03:48.000Z"));
        let m = json!({"created": "2017-01-20T00:00:00.000Z"});
        assert_eq!(version_of(&m), Some("2017-01-20T00:00:00.000Z"));
        assert_eq!(version_of(&json!({})), None);
    }
}
