use chrono::{Duration, TimeZone, Utc};
use detente_gate::policy::{
    commit, evaluate, Action, MemoryLedger, Profile, Transfer, Volume, VolumeLedger,
};
use detente_gate::scan::{NullSink, Scanner};
use detente_gate::Category;
use std::io::Write;

fn transfer(to: &str, basis: Option<&str>) -> Transfer {
    Transfer {
        sender: "cert.example.org".into(),
        recipient: "peer.example.net".into(),
        destination: to.into(),
        legal_basis: basis.map(String::from),
        government_related: false,
        at: Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap(),
    }
}

fn volume(items: &[(Category, u64)]) -> Volume {
    let mut v = Volume::default();
    for (c, n) in items {
        v.categories.insert(*c, *n);
        v.persons_any = v.persons_any.max(*n);
        v.personal_records = v.personal_records.max(*n);
    }
    v
}

fn dsp() -> Profile {
    Profile::builtin("us-dsp").unwrap()
}

fn rules(d: &detente_gate::Decision) -> Vec<String> {
    d.reasons.iter().map(|r| r.rule.clone()).collect()
}

#[test]
fn geolocation_threshold_edge_to_ru() {
    let ledger = MemoryLedger::default();
    let at_1000 = evaluate(
        &dsp(),
        &transfer("RU", None),
        &volume(&[(Category::PreciseGeolocation, 1000)]),
        &ledger,
    )
    .unwrap();
    assert_eq!(at_1000.decision, Action::Allow);
    let at_1001 = evaluate(
        &dsp(),
        &transfer("ru", None),
        &volume(&[(Category::PreciseGeolocation, 1001)]),
        &ledger,
    )
    .unwrap();
    assert_eq!(at_1001.decision, Action::Hold);
    assert!(
        rules(&at_1001).contains(&"28 CFR 202.205(c)".to_string()),
        "{:?}",
        at_1001.reasons
    );
    assert!(rules(&at_1001).contains(&"28 CFR 202.401".to_string()));
    assert_eq!(at_1001.counts[&Category::PreciseGeolocation].total, 1001);
}

#[test]
fn genomic_to_hong_kong_is_china() {
    let ledger = MemoryLedger::default();
    let d = evaluate(
        &dsp(),
        &transfer("HK", None),
        &volume(&[(Category::HumanGenomic, 101)]),
        &ledger,
    )
    .unwrap();
    assert_eq!(d.decision, Action::Block);
    let r = rules(&d);
    assert!(
        r.contains(&"28 CFR 202.208".to_string()) && r.contains(&"28 CFR 202.303".to_string()),
        "{r:?}"
    );
    let d = evaluate(
        &dsp(),
        &transfer("MO", None),
        &volume(&[(Category::HumanGenomic, 100)]),
        &ledger,
    )
    .unwrap();
    assert_eq!(d.decision, Action::Allow);
}

#[test]
fn international_agreement_exemption_needs_a_reference() {
    let ledger = MemoryLedger::default();
    let v = volume(&[(Category::HumanGenomic, 5000)]);
    let basis = "28 CFR 202.507: U.S.-PRC mutual legal assistance agreement, request 2026-117";
    let d = evaluate(&dsp(), &transfer("CN", Some(basis)), &v, &ledger).unwrap();
    assert_eq!(d.decision, Action::Allow);
    let ex = d.exemption.expect("exemption recorded");
    assert_eq!(ex.id, "202.507");
    assert_eq!(ex.legal_basis, basis);
    let bare = evaluate(&dsp(), &transfer("CN", Some("202.507")), &v, &ledger).unwrap();
    assert_eq!(bare.decision, Action::Block);
    assert!(bare.exemption.is_none());
    assert!(rules(&bare).contains(&"28 CFR 202.507".to_string()));
}

#[test]
fn non_covered_country_is_allowed() {
    let ledger = MemoryLedger::default();
    let v = volume(&[
        (Category::HumanGenomic, 5000),
        (Category::PreciseGeolocation, 50_000),
    ]);
    let d = evaluate(&dsp(), &transfer("FR", None), &v, &ledger).unwrap();
    assert_eq!(d.decision, Action::Allow);
    assert_eq!(rules(&d), vec!["28 CFR 202.601".to_string()]);
}

#[test]
fn aggregation_over_twelve_months() {
    let ledger = MemoryLedger::default();
    let now = transfer("RU", None);
    let mut old = now.clone();
    old.at = now.at - Duration::days(200);
    commit(
        &old,
        &volume(&[(Category::PreciseGeolocation, 600)]),
        &ledger,
    )
    .unwrap();
    let mut ancient = now.clone();
    ancient.at = now.at - Duration::days(400);
    commit(
        &ancient,
        &volume(&[(Category::PreciseGeolocation, 5000)]),
        &ledger,
    )
    .unwrap();
    let d = evaluate(
        &dsp(),
        &now,
        &volume(&[(Category::PreciseGeolocation, 401)]),
        &ledger,
    )
    .unwrap();
    assert_eq!(d.decision, Action::Hold);
    assert_eq!(d.counts[&Category::PreciseGeolocation].prior, 600);
    let d = evaluate(
        &dsp(),
        &now,
        &volume(&[(Category::PreciseGeolocation, 400)]),
        &ledger,
    )
    .unwrap();
    assert_eq!(d.decision, Action::Allow);
    let mut other = now.clone();
    other.recipient = "someone.else".into();
    assert_eq!(
        ledger
            .prior_volume(
                &other.sender,
                &other.recipient,
                Category::PreciseGeolocation,
                now.at - Duration::days(365)
            )
            .unwrap(),
        0
    );
}

#[test]
fn combined_set_uses_lowest_threshold() {
    let ledger = MemoryLedger::default();
    let v = volume(&[
        (Category::Health, 5000),
        (Category::PreciseGeolocation, 900),
    ]);
    let d = evaluate(&dsp(), &transfer("IR", None), &v, &ledger).unwrap();
    assert_eq!(d.decision, Action::Hold);
    assert!(rules(&d).contains(&"28 CFR 202.205(g)".to_string()));
    let alone = evaluate(
        &dsp(),
        &transfer("IR", None),
        &volume(&[(Category::Health, 5000)]),
        &ledger,
    )
    .unwrap();
    assert_eq!(alone.decision, Action::Allow);
}

#[test]
fn government_related_has_no_threshold() {
    let mut t = transfer("KP", None);
    t.government_related = true;
    let d = evaluate(
        &dsp(),
        &t,
        &volume(&[(Category::CoveredPersonalIdentifiers, 1)]),
        &MemoryLedger::default(),
    )
    .unwrap();
    assert_eq!(d.decision, Action::Block);
    assert!(rules(&d).contains(&"28 CFR 202.222".to_string()));
}

#[test]
fn gdpr_chapter_five() {
    let p = Profile::builtin("eu-gdpr-ch5").unwrap();
    let ledger = MemoryLedger::default();
    let ids = volume(&[(Category::CoveredPersonalIdentifiers, 10)]);
    let case = |to: &str, basis: Option<&str>, v: &Volume| {
        evaluate(&p, &transfer(to, basis), v, &ledger).unwrap()
    };
    assert_eq!(case("DE", None, &ids).decision, Action::Allow);
    let jp = case("JP", None, &ids);
    assert_eq!(
        (jp.decision, rules(&jp)),
        (Action::Allow, vec!["GDPR Art. 45".to_string()])
    );
    assert_eq!(case("CN", None, &ids).decision, Action::Redact);
    assert_eq!(
        case("CN", None, &volume(&[(Category::Health, 3)])).decision,
        Action::Block
    );
    let scc = case("CN", Some("Art. 46(2)(c) SCC 2021/914"), &ids);
    assert_eq!(
        (scc.decision, rules(&scc)),
        (Action::Allow, vec!["GDPR Art. 46".to_string()])
    );
    let mlat = case("RU", Some("MLAT request under the 1959 Convention"), &ids);
    assert_eq!(rules(&mlat), vec!["GDPR Art. 48".to_string()]);
    assert_eq!(
        case(
            "BR",
            Some("Art. 49(1)(d) important reasons of public interest"),
            &ids
        )
        .decision,
        Action::Hold
    );
    assert_eq!(case("CN", None, &Volume::default()).decision, Action::Allow);
}

#[test]
fn none_profile_allows() {
    let p = Profile::builtin("none").unwrap();
    let d = evaluate(
        &p,
        &transfer("KP", None),
        &volume(&[(Category::HumanGenomic, 1_000_000)]),
        &MemoryLedger::default(),
    )
    .unwrap();
    assert_eq!(d.decision, Action::Allow);
}

#[test]
fn profile_override_and_errors() {
    let text = detente_gate::policy::Profile::builtin("us-dsp")
        .map(|_| include_str!("../profiles/us-dsp.toml"))
        .unwrap();
    let stricter = text.replacen(
        "more_than = 1000\nrule = \"28 CFR 202.205(c)\"",
        "more_than = 10\nrule = \"28 CFR 202.205(c)\"",
        1,
    );
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(stricter.as_bytes()).unwrap();
    let p = Profile::resolve(f.path().to_str().unwrap()).unwrap();
    let d = evaluate(
        &p,
        &transfer("RU", None),
        &volume(&[(Category::PreciseGeolocation, 11)]),
        &MemoryLedger::default(),
    )
    .unwrap();
    assert_eq!(d.decision, Action::Hold);
    assert!(Profile::resolve("no-such-profile").is_err());
    assert!(Profile::from_toml("bad", "id = \"x\"\nname = \"x\"\nengine = \"dsp\"\n[[thresholds]]\ncategory = \"nonsense\"\nmore_than = 1\nrule = \"r\"\naction = \"block\"\naction_rule = \"r\"\naction_text = \"t\"\n").is_err());
    assert!(evaluate(
        &p,
        &transfer("Russia", None),
        &Volume::default(),
        &MemoryLedger::default()
    )
    .is_err());
}

/// End to end: a CSV of 1,001 devices with precise coordinates goes to RU.
#[test]
fn scanned_csv_of_devices_to_russia() {
    let make = |n: usize| {
        let mut s = String::from("device_id,lat,lon\n");
        for i in 0..n {
            s.push_str(&format!(
                "dev-{i},{}.{:04},{}.{:04}\n",
                40 + i % 10,
                i % 10_000,
                70 + i % 50,
                (i * 7) % 10_000
            ));
        }
        s
    };
    for (n, want) in [(1000, Action::Allow), (1001, Action::Hold)] {
        let data = make(n);
        let s = Scanner::default()
            .scan_reader(
                "devices.csv",
                Some("devices.csv".as_ref()),
                data.as_bytes(),
                None,
                &mut NullSink,
            )
            .unwrap();
        assert_eq!(s.categories[&Category::PreciseGeolocation].count, n as u64);
        let v = Volume::from_summaries(&[s]);
        let d = evaluate(&dsp(), &transfer("RU", None), &v, &MemoryLedger::default()).unwrap();
        assert_eq!(d.decision, want, "{n} devices");
    }
}

#[test]
fn check_payload_in_memory() {
    let csv = b"ssn,genotype\n536-22-1234,rs429358 CT\n";
    let stix = br#"{"type":"indicator","pattern":"[ipv4-addr:value = '198.51.100.7']"}"#;
    let a = detente_gate::check_payload(
        &dsp(),
        &transfer("CN", None),
        &[("a.csv", csv), ("b.json", stix)],
        &MemoryLedger::default(),
    )
    .unwrap();
    assert_eq!(a.decision.decision, Action::Allow);
    assert_eq!(a.files.len(), 2);
    assert_eq!(a.decision.counts[&Category::HumanGenomic].current, 1);
    // Truncated JSON is still read (as text, with a warning): an officer's
    // slightly broken export must not be refused outright.
    let broken = detente_gate::check_payload(
        &dsp(),
        &transfer("CN", None),
        &[("x.json", b"{\"ssn\": \"536-22-1234\", \"a\":")],
        &MemoryLedger::default(),
    )
    .unwrap();
    assert_eq!(broken.decision.decision, Action::Allow);
    assert_eq!(broken.files[0].findings.values().sum::<u64>(), 1);
    assert!(broken.files[0].warnings[0].contains("scanned as text"));
}
