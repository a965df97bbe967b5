//! TLP 2.0 as applied to STIX objects served by this node.
//!
//! The rule implemented by [`Tlp::may_read`], for a reader who has already
//! authenticated to the node (a local user or a peer node):
//!
//! | label | who may read |
//! |---|---|
//! | CLEAR (TLP 1.0 WHITE) | anyone, even unauthenticated |
//! | GREEN | any authenticated principal: local users and peers |
//! | AMBER | any authenticated principal: local users and peers (the peer node is the recipient organisation and must itself restrict onward sharing) |
//! | AMBER+STRICT | local users only: the owning organisation; never a peer |
//! | RED | only principals named in the collection's explicit recipient list (user names or peer origins); nobody if the list is empty |
//!
//! An object with no TLP marking is treated as GREEN: it was shared into a
//! community collection without a restriction. An object carrying several TLP
//! markings (directly or as granular markings) takes the most restrictive.

use serde_json::Value;

/// TLP labels ordered from least to most restrictive, so `max` picks the
/// strictest of several markings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tlp {
    Clear,
    Green,
    Amber,
    AmberStrict,
    Red,
}

const MARKINGS: &[(&str, Tlp)] = &[
    (
        "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        Tlp::Clear,
    ),
    (
        "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        Tlp::Green,
    ),
    (
        "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        Tlp::Amber,
    ),
    (
        "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        Tlp::AmberStrict,
    ),
    (
        "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
        Tlp::Red,
    ),
    // TLP 1.0 definitions, still common in STIX 2.1 feeds.
    (
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
        Tlp::Clear,
    ),
    (
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
        Tlp::Green,
    ),
    (
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
        Tlp::Amber,
    ),
    (
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
        Tlp::Red,
    ),
];

/// Who is asking to read. Kept independent of the auth crate so that the rule
/// can be tested and reused without a user database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader<'a> {
    Anonymous,
    LocalUser { name: &'a str },
    Peer { origin: &'a str },
}

impl Tlp {
    /// The TLP label for a marking-definition identifier, if it is one of the
    /// OASIS TLP 2.0 or TLP 1.0 definitions.
    pub fn from_marking_id(id: &str) -> Option<Tlp> {
        MARKINGS.iter().find(|(m, _)| *m == id).map(|(_, t)| *t)
    }

    pub fn marking_id(self) -> &'static str {
        MARKINGS
            .iter()
            .find(|(_, t)| *t == self)
            .map(|(m, _)| *m)
            .expect("every label has a TLP 2.0 id")
    }

    pub fn label(self) -> &'static str {
        match self {
            Tlp::Clear => "TLP:CLEAR",
            Tlp::Green => "TLP:GREEN",
            Tlp::Amber => "TLP:AMBER",
            Tlp::AmberStrict => "TLP:AMBER+STRICT",
            Tlp::Red => "TLP:RED",
        }
    }

    /// Stable small integer for storage; `from_code` inverts it.
    pub fn code(self) -> i64 {
        self as i64
    }

    pub fn from_code(code: i64) -> Option<Tlp> {
        [
            Tlp::Clear,
            Tlp::Green,
            Tlp::Amber,
            Tlp::AmberStrict,
            Tlp::Red,
        ]
        .get(usize::try_from(code).ok()?)
        .copied()
    }

    /// See the module documentation for the rule. `red_recipients` is the
    /// collection's explicit list of user names and peer origins.
    pub fn may_read(self, reader: Reader<'_>, red_recipients: &[String]) -> bool {
        match (self, reader) {
            (Tlp::Clear, _) => true,
            (_, Reader::Anonymous) => false,
            (Tlp::Green | Tlp::Amber, _) => true,
            (Tlp::AmberStrict, Reader::LocalUser { .. }) => true,
            (Tlp::AmberStrict, Reader::Peer { .. }) => false,
            (Tlp::Red, Reader::LocalUser { name }) => red_recipients.iter().any(|r| r == name),
            (Tlp::Red, Reader::Peer { origin }) => red_recipients.iter().any(|r| r == origin),
        }
    }
}

/// The effective TLP of an object: the strictest TLP marking among
/// `object_marking_refs` and granular markings, GREEN when there is none.
pub fn tlp_of(object: &Value) -> Tlp {
    let direct = object
        .get("object_marking_refs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    let granular = object
        .get("granular_markings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|g| g.get("marking_ref"));
    direct
        .chain(granular)
        .filter_map(Value::as_str)
        .filter_map(Tlp::from_marking_id)
        .max()
        .unwrap_or(Tlp::Green)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn marked(ids: &[&str]) -> Value {
        json!({ "type": "indicator", "object_marking_refs": ids })
    }

    #[test]
    fn parses_tlp2_and_tlp1_ids() {
        for (id, tlp) in MARKINGS {
            assert_eq!(tlp_of(&marked(&[id])), *tlp);
        }
    }

    #[test]
    fn unmarked_is_green() {
        assert_eq!(tlp_of(&json!({"type": "indicator"})), Tlp::Green);
        assert_eq!(
            tlp_of(&marked(&[
                "marking-definition--00000000-0000-4000-8000-000000000000"
            ])),
            Tlp::Green
        );
    }

    #[test]
    fn strictest_marking_wins() {
        let v = json!({
            "object_marking_refs": [Tlp::Clear.marking_id()],
            "granular_markings": [{"marking_ref": Tlp::AmberStrict.marking_id(), "selectors": ["name"]}]
        });
        assert_eq!(tlp_of(&v), Tlp::AmberStrict);
        assert_eq!(
            tlp_of(&marked(&[Tlp::Red.marking_id(), Tlp::Green.marking_id()])),
            Tlp::Red
        );
    }

    #[test]
    fn codes_round_trip() {
        for t in [
            Tlp::Clear,
            Tlp::Green,
            Tlp::Amber,
            Tlp::AmberStrict,
            Tlp::Red,
        ] {
            assert_eq!(Tlp::from_code(t.code()), Some(t));
        }
        assert_eq!(Tlp::from_code(5), None);
        assert_eq!(Tlp::from_code(-1), None);
    }

    #[test]
    fn access_rules() {
        let user = Reader::LocalUser { name: "alice" };
        let peer = Reader::Peer {
            origin: "cert.example.org",
        };
        let none: Vec<String> = vec![];
        assert!(Tlp::Clear.may_read(Reader::Anonymous, &none));
        assert!(!Tlp::Green.may_read(Reader::Anonymous, &none));
        assert!(Tlp::Green.may_read(peer, &none));
        assert!(Tlp::Amber.may_read(peer, &none));
        assert!(Tlp::AmberStrict.may_read(user, &none));
        assert!(!Tlp::AmberStrict.may_read(peer, &none));
        assert!(!Tlp::Red.may_read(user, &none));
        assert!(!Tlp::Red.may_read(peer, &none));
        let named = vec!["alice".to_string(), "cert.example.org".to_string()];
        assert!(Tlp::Red.may_read(user, &named));
        assert!(Tlp::Red.may_read(peer, &named));
        assert!(!Tlp::Red.may_read(Reader::LocalUser { name: "bob" }, &named));
    }
}
