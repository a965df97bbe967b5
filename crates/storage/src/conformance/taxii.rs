use super::*;
use crate::taxii::*;

pub(super) const CHECKS: &[Check] = &[
    (
        "collections_are_unique_by_id_and_alias",
        collections_are_unique_by_id_and_alias,
    ),
    (
        "ingest_into_a_missing_collection_stores_nothing",
        ingest_into_a_missing_collection_stores_nothing,
    ),
    (
        "the_sequence_increases_and_is_never_reused",
        the_sequence_increases_and_is_never_reused,
    ),
    (
        "pages_follow_date_added_and_say_when_more_follow",
        pages_follow_date_added_and_say_when_more_follow,
    ),
    (
        "versions_are_selected_first_last_all_or_at",
        versions_are_selected_first_last_all_or_at,
    ),
    (
        "a_versionless_object_keeps_its_first_submission",
        a_versionless_object_keeps_its_first_submission,
    ),
    (
        "readers_see_only_their_tlp_and_filters",
        readers_see_only_their_tlp_and_filters,
    ),
    (
        "deletes_judge_versions_before_any_goes",
        deletes_judge_versions_before_any_goes,
    ),
    ("statuses_are_pruned_by_age", statuses_are_pruned_by_age),
    ("the_first_cursor_key_stands", the_first_cursor_key_stands),
    (
        "counts_and_citations_page_by_request_id",
        counts_and_citations_page_by_request_id,
    ),
];

fn collection(id: &str, title: &str, alias: Option<&str>) -> Collection {
    Collection {
        id: id.into(),
        title: title.into(),
        description: Some(format!("about {id}")),
        alias: alias.map(String::from),
        read: vec!["*".into()],
        write: vec!["alice".into(), "peer.example".into()],
        red_recipients: vec!["bob".into()],
    }
}

fn object(id: &str, version_us: Option<i64>) -> NewObject {
    NewObject {
        id: id.into(),
        object_type: "indicator".into(),
        spec_version: "2.1".into(),
        version_us,
        version: version_us.map(|v| format!("v{v}")),
        tlp: 1,
        body: format!("{{\"id\":\"{id}\",\"v\":{}}}", version_us.unwrap_or(0)),
        cites: vec![],
    }
}

fn query(collection: &str) -> ObjectQuery {
    ObjectQuery {
        collection: collection.into(),
        object_id: None,
        after_seq: 0,
        ids: vec![],
        types: vec![],
        versions: vec![VersionSel::All],
        spec_versions: vec![],
        tlp: vec![1],
        limit: 100,
        with_body: false,
    }
}

/// Ingests `objects` into `collection` with a status of `{}`; the outcomes.
fn ingest(s: &dyn Store, collection: &str, status_id: &str, objects: &[NewObject]) -> Vec<Stored> {
    let mut outcomes = Vec::new();
    let body = s
        .ingest(collection, objects, status_id, "alice", &mut |stored, _| {
            outcomes = stored.to_vec();
            "{}".into()
        })
        .unwrap();
    assert_eq!(body.as_deref(), Some("{}"));
    outcomes
}

/// `(id, version)` of the rows `q` selects, in order.
fn listed(s: &dyn Store, q: &ObjectQuery) -> Vec<(String, String)> {
    let page = s.query_objects(q).unwrap();
    page.rows.into_iter().map(|r| (r.id, r.version)).collect()
}

fn pair(id: &str, version: &str) -> (String, String) {
    (id.into(), version.into())
}

fn collections_are_unique_by_id_and_alias(s: &dyn Store) {
    let a = collection("a", "zeta", Some("x"));
    s.create_collection(&a).unwrap();
    let taken_id = s.create_collection(&collection("a", "other", None));
    assert!(matches!(taken_id, Err(StorageError::Conflict(_))));
    let taken_alias = s.create_collection(&collection("b", "other", Some("x")));
    assert!(matches!(taken_alias, Err(StorageError::Conflict(_))));
    s.create_collection(&collection("c", "alpha", None))
        .unwrap();
    assert_eq!(s.collection("x").unwrap(), Some(a.clone()));
    assert_eq!(s.collection("a").unwrap(), Some(a));
    assert_eq!(s.collection("b").unwrap(), None);
    let ids: Vec<String> = s.collections().unwrap().into_iter().map(|c| c.id).collect();
    assert_eq!(ids, ["c", "a"], "ordered by title");
    assert!(s.remove_collection("a").unwrap());
    assert!(!s.remove_collection("a").unwrap());
    assert_eq!(s.collection("x").unwrap(), None);
}

fn ingest_into_a_missing_collection_stores_nothing(s: &dyn Store) {
    let r = s.ingest(
        "nope",
        &[object("indicator--1", Some(1))],
        "s1",
        "alice",
        &mut |_, _| "{}".into(),
    );
    assert_eq!(r.unwrap(), None);
    assert_eq!(s.taxii_status("s1").unwrap(), None);
}

fn the_sequence_increases_and_is_never_reused(s: &dyn Store) {
    s.create_collection(&collection("a", "t", None)).unwrap();
    let all = |n: usize| {
        let objs: Vec<NewObject> = (0..n)
            .map(|i| object(&format!("indicator--{i}"), Some(i as i64 + 1)))
            .collect();
        ingest(s, "a", &format!("s{n}"), &objs)
    };
    all(3);
    let q = query("a");
    let max = s.query_objects(&q).unwrap().rows.last().unwrap().seq;
    let del = ObjectQuery {
        object_id: Some("indicator--2".into()),
        ..q.clone()
    };
    assert_eq!(s.delete_objects(&del).unwrap(), 1);
    let outcomes = all(5);
    let inserted: Vec<bool> = outcomes.iter().map(|o| o.inserted).collect();
    assert_eq!(inserted, [false, false, true, true, true]);
    // --0 and --1 are unchanged resubmissions; --2 was deleted and comes back
    // after everything earlier; --3 and --4 are new.
    let after = ObjectQuery {
        after_seq: max,
        ..q.clone()
    };
    let ids: Vec<String> = listed(s, &after).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, ["indicator--2", "indicator--3", "indicator--4"]);
    let seqs: Vec<i64> = s
        .query_objects(&q)
        .unwrap()
        .rows
        .iter()
        .map(|r| r.seq)
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert!(seqs[2] > max, "a deleted position is not handed out again");
}

fn pages_follow_date_added_and_say_when_more_follow(s: &dyn Store) {
    s.create_collection(&collection("a", "t", None)).unwrap();
    for i in 0..5 {
        ingest(
            s,
            "a",
            &format!("s{i}"),
            &[object(&format!("indicator--{i}"), Some(1))],
        );
    }
    let mut q = ObjectQuery {
        limit: 2,
        with_body: true,
        ..query("a")
    };
    let mut seen = Vec::new();
    loop {
        let page = s.query_objects(&q).unwrap();
        assert!(page.rows.len() <= 2);
        for r in &page.rows {
            assert_eq!(
                r.body.as_deref(),
                Some(&*format!("{{\"id\":\"{}\",\"v\":1}}", r.id))
            );
            seen.push(r.id.clone());
        }
        if !page.more {
            break;
        }
        q.after_seq = page.rows.last().unwrap().seq;
    }
    let all: Vec<String> = (0..5).map(|i| format!("indicator--{i}")).collect();
    assert_eq!(seen, all, "in the order they were added, each once");
    q.with_body = false;
    q.after_seq = 0;
    assert!(s
        .query_objects(&q)
        .unwrap()
        .rows
        .iter()
        .all(|r| r.body.is_none()));
    q.limit = 5;
    assert!(!s.query_objects(&q).unwrap().more, "exactly a page left");
}

fn versions_are_selected_first_last_all_or_at(s: &dyn Store) {
    s.create_collection(&collection("a", "t", None)).unwrap();
    // Versions arrive out of order: 20, then 10, then 30.
    ingest(
        s,
        "a",
        "s1",
        &[
            object("indicator--1", Some(20)),
            object("indicator--2", Some(5)),
        ],
    );
    ingest(s, "a", "s2", &[object("indicator--1", Some(10))]);
    let with = |versions: Vec<VersionSel>| {
        listed(
            s,
            &ObjectQuery {
                versions,
                ..query("a")
            },
        )
    };
    assert_eq!(
        with(vec![VersionSel::Last]),
        [pair("indicator--1", "v20"), pair("indicator--2", "v5")]
    );
    assert_eq!(
        with(vec![VersionSel::First]),
        [pair("indicator--2", "v5"), pair("indicator--1", "v10")]
    );
    ingest(s, "a", "s3", &[object("indicator--1", Some(30))]);
    assert_eq!(
        with(vec![VersionSel::Last]),
        [pair("indicator--2", "v5"), pair("indicator--1", "v30")],
        "a newer version supersedes the one seen before"
    );
    assert_eq!(
        with(vec![VersionSel::At(20), VersionSel::First]),
        [
            pair("indicator--1", "v20"),
            pair("indicator--2", "v5"),
            pair("indicator--1", "v10")
        ]
    );
    assert_eq!(with(vec![]).len(), 4, "no selector: every version");
    let versions = ObjectQuery {
        object_id: Some("indicator--1".into()),
        ..query("a")
    };
    let v: Vec<String> = listed(s, &versions).into_iter().map(|(_, v)| v).collect();
    assert_eq!(v, ["v20", "v10", "v30"]);
}

fn a_versionless_object_keeps_its_first_submission(s: &dyn Store) {
    s.create_collection(&collection("a", "t", None)).unwrap();
    let sco = NewObject {
        object_type: "ipv4-addr".into(),
        ..object("ipv4-addr--1", None)
    };
    let first = ingest(s, "a", "s1", std::slice::from_ref(&sco));
    assert!(first[0].inserted);
    let again = ingest(s, "a", "s2", &[sco]);
    assert!(!again[0].inserted);
    assert_eq!(again[0].version, first[0].version);
    let rows = s.query_objects(&query("a")).unwrap().rows;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].version,
        format_timestamp(rows[0].seq),
        "dated by date_added"
    );
    assert_eq!(rows[0].version, first[0].version);
}

fn readers_see_only_their_tlp_and_filters(s: &dyn Store) {
    s.create_collection(&collection("a", "t", None)).unwrap();
    let red = NewObject {
        tlp: 4,
        ..object("indicator--red", Some(1))
    };
    let malware = NewObject {
        object_type: "malware".into(),
        spec_version: "2.0".into(),
        ..object("malware--1", Some(1))
    };
    ingest(
        s,
        "a",
        "s1",
        &[object("indicator--1", Some(1)), red, malware],
    );
    let ids =
        |q: ObjectQuery| -> Vec<String> { listed(s, &q).into_iter().map(|(i, _)| i).collect() };
    assert_eq!(ids(query("a")), ["indicator--1", "malware--1"]);
    let all_tlp = ObjectQuery {
        tlp: vec![1, 4],
        ..query("a")
    };
    assert_eq!(ids(all_tlp.clone()).len(), 3);
    let typed = ObjectQuery {
        types: vec!["malware".into()],
        ..all_tlp.clone()
    };
    assert_eq!(ids(typed), ["malware--1"]);
    let by_id = ObjectQuery {
        ids: vec!["indicator--red".into(), "indicator--1".into()],
        ..all_tlp.clone()
    };
    assert_eq!(ids(by_id), ["indicator--1", "indicator--red"]);
    let spec = ObjectQuery {
        spec_versions: vec!["2.1".into()],
        ..all_tlp
    };
    assert_eq!(ids(spec), ["indicator--1", "indicator--red"]);
    assert!(!s.object_exists("a", "indicator--red", &[1]).unwrap());
    assert!(s.object_exists("a", "indicator--red", &[1, 4]).unwrap());
    assert!(!s.object_exists("b", "indicator--1", &[1]).unwrap());
    assert!(ids(query("b")).is_empty(), "no such collection: nothing");
}

fn deletes_judge_versions_before_any_goes(s: &dyn Store) {
    s.create_collection(&collection("a", "t", None)).unwrap();
    let v = |us| object("indicator--1", Some(us));
    ingest(s, "a", "s1", &[v(1), v(2), v(3)]);
    let of_one = |versions| ObjectQuery {
        object_id: Some("indicator--1".into()),
        versions,
        ..query("a")
    };
    // "last" and "first" together take v3 and v1, not v2 after v3 went.
    let both = of_one(vec![VersionSel::Last, VersionSel::First]);
    assert_eq!(s.delete_objects(&both).unwrap(), 2);
    assert_eq!(
        listed(s, &of_one(vec![VersionSel::All])),
        [pair("indicator--1", "v2")]
    );
    assert_eq!(
        listed(s, &of_one(vec![VersionSel::Last])),
        [pair("indicator--1", "v2")],
        "the newest remaining version is the latest"
    );
    assert_eq!(s.delete_objects(&of_one(vec![VersionSel::All])).unwrap(), 1);
    assert!(!s.object_exists("a", "indicator--1", &[1]).unwrap());
}

fn statuses_are_pruned_by_age(s: &dyn Store) {
    s.create_collection(&collection("a", "t", None)).unwrap();
    let mut at = 0;
    let body = s
        .ingest("a", &[], "s1", "alice", &mut |_, request_us| {
            at = request_us;
            "{\"status\":1}".into()
        })
        .unwrap();
    assert_eq!(body.as_deref(), Some("{\"status\":1}"));
    assert_eq!(
        s.taxii_status("s1").unwrap(),
        Some(("{\"status\":1}".into(), "alice".into()))
    );
    assert_eq!(
        s.prune_statuses(at).unwrap(),
        0,
        "not older than its own time"
    );
    assert_eq!(s.prune_statuses(at + 1).unwrap(), 1);
    assert_eq!(s.taxii_status("s1").unwrap(), None);
}

fn the_first_cursor_key_stands(s: &dyn Store) {
    assert_eq!(s.cursor_key([1; 32]).unwrap(), [1; 32]);
    assert_eq!(s.cursor_key([2; 32]).unwrap(), [1; 32]);
}

fn counts_and_citations_page_by_request_id(s: &dyn Store) {
    s.create_collection(&collection("a", "t", None)).unwrap();
    s.create_collection(&collection("b", "t", None)).unwrap();
    let citing = |id: &str, us, cites: &[&str]| NewObject {
        cites: cites.iter().map(|c| c.to_string()).collect(),
        ..object(id, Some(us))
    };
    let objs = [
        citing("indicator--1", 1, &["r2", "r1"]),
        citing("indicator--1", 2, &["r2"]),
        citing("indicator--2", 1, &["r2", "r3"]),
        object("indicator--3", Some(1)),
    ];
    ingest(s, "a", "s1", &objs);
    // A resubmission stores nothing and counts nothing.
    ingest(s, "a", "s2", &objs[..1]);
    let c = s.object_counts("a").unwrap();
    assert_eq!((c.objects, c.versions), (3, 4));
    assert_eq!(s.object_counts("b").unwrap(), ObjectCounts::default());
    let page = |after: &str| -> Vec<(String, u64)> {
        s.citing_requests("a", after, 2)
            .unwrap()
            .into_iter()
            .map(|c| (c.request_id, c.objects))
            .collect()
    };
    assert_eq!(page(""), [("r1".into(), 1), ("r2".into(), 2)]);
    assert_eq!(page("r2"), [("r3".to_string(), 1)]);
    assert!(s.citing_requests("b", "", 10).unwrap().is_empty());
    // Deleting versions takes them out of both.
    let q = ObjectQuery {
        object_id: Some("indicator--2".into()),
        ..query("a")
    };
    assert_eq!(s.delete_objects(&q).unwrap(), 1);
    let c = s.object_counts("a").unwrap();
    assert_eq!((c.objects, c.versions), (2, 3));
    assert_eq!(page("r2"), []);
    assert_eq!(page(""), [("r1".into(), 1), ("r2".into(), 1)]);
    assert!(s.remove_collection("a").unwrap());
    assert_eq!(s.object_counts("a").unwrap(), ObjectCounts::default());
    assert!(s.citing_requests("a", "", 10).unwrap().is_empty());
}
