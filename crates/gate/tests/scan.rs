use detente_gate::cli::{run_scan, ScanArgs};
use detente_gate::redact::{redact_bytes, RedactMode};
use detente_gate::scan::{CollectSink, Format, NullSink, Scanner};
use detente_gate::{Category, EntityType};
use std::io::Write;

fn scan(name: &str, data: &[u8]) -> (Vec<detente_gate::Finding>, detente_gate::FileSummary) {
    let mut sink = CollectSink::default();
    let s = Scanner::default()
        .scan_reader(name, Some(name.as_ref()), data, None, &mut sink)
        .unwrap();
    (sink.0, s)
}

fn text_of<'a>(data: &'a [u8], f: &detente_gate::Finding) -> &'a str {
    std::str::from_utf8(&data[f.start as usize..f.end as usize]).unwrap()
}

#[test]
fn chunk_boundaries_do_not_change_findings() {
    let mut data = Vec::new();
    detente_gate::gen::write_text(&mut data, 40_000, 99).unwrap();
    let (reference, _) = scan("a.txt", &data);
    assert!(reference.len() > 50);
    for chunk in [1, 7, 64, 333, 1000, 4096] {
        let mut sink = CollectSink::default();
        let sc = Scanner {
            chunk,
            ..Scanner::default()
        };
        sc.scan_reader("a.txt", None, &data[..], Some(Format::Text), &mut sink)
            .unwrap();
        assert_eq!(sink.0, reference, "chunk {chunk}");
    }
}

#[test]
fn csv_columns_classify_values() {
    let data =
        b"Patient Name,SSN,Diagnosis,genotype,fingerprint_template,home_lat,home_lon,notes\n\
Ann Lee,536-22-1234,E11.9,rs429358 CT,AAECAwQ=,40.7128,-74.0060,\"call +1 415 555 2671, thanks\"\n\
Bo Chen,536-22-1235,,rs7412 CC,,40.71,-74.00,\"\"\"quoted\"\" text\"\n";
    let (f, s) = scan("p.csv", data);
    let types: Vec<_> = f.iter().map(|f| (f.entity, text_of(data, f))).collect();
    assert_eq!(
        types,
        vec![
            (EntityType::UsSsn, "536-22-1234"),
            (EntityType::GeoCoordinate, "40.7128"),
            (EntityType::GeoCoordinate, "-74.0060"),
            (EntityType::Phone, "+1 415 555 2671"),
            (EntityType::UsSsn, "536-22-1235"),
        ]
    );
    assert_eq!(s.records, 2);
    let c = |cat| s.categories.get(&cat).map(|c| c.count).unwrap_or(0);
    assert_eq!(c(Category::Health), 1);
    assert_eq!(c(Category::HumanGenomic), 2);
    assert_eq!(c(Category::Biometric), 1);
    assert_eq!(c(Category::PreciseGeolocation), 1);
    assert_eq!(c(Category::CoveredPersonalIdentifiers), 2);
}

#[test]
fn tsv_and_ndjson() {
    let (f, s) = scan("x.tsv", b"email\tlat\nann@example.org\t51.5074\n");
    assert_eq!((f.len(), s.format), (2, Format::Tsv));
    let nd = b"{\"user\":{\"email\":\"a@b.io\"},\"lat\":48.8566,\"lon\":2.3522}\n{\"diagnosis\":\"J45\",\"ssn\":\"536221234\"}\n";
    let (f, s) = scan("x.ndjson", nd);
    let got: Vec<_> = f.iter().map(|f| text_of(nd, f)).collect();
    assert_eq!(got, vec!["a@b.io", "48.8566", "2.3522", "536221234"]);
    assert_eq!(s.records, 2);
    assert_eq!(s.categories[&Category::Health].count, 1);
}

#[test]
fn json_container_of_records() {
    let data = br#"{"export":"x","records":[{"name":"A","passport":"123456789","phone":"4155552671"},{"name":"B","imei":"490154203237518"}]}"#;
    let (f, s) = scan("r.json", data);
    let types: Vec<_> = f.iter().map(|f| f.entity).collect();
    assert_eq!(
        types,
        vec![EntityType::UsPassport, EntityType::Phone, EntityType::Imei]
    );
    assert_eq!(s.records, 2);
}

#[test]
fn bad_inputs_are_read_or_reported() {
    let sc = Scanner::default();
    let run = |name: &str, data: &[u8]| {
        sc.scan_reader(name, Some(name.as_ref()), data, None, &mut NullSink)
    };
    let small = run("b.bin", b"\x7fELF\0\0\x01binary").unwrap();
    assert_eq!(small.format, Format::Binary);
    assert!(small.unreadable.is_empty());
    assert!(small.warnings[0].contains("binary content skipped"));
    let mut big = b"\x7fELF\0\0\x01".to_vec();
    big.resize(40_000, 7);
    let big = run("b.bin", &big).unwrap();
    assert!(
        big.unreadable[0].reason.contains("limit binary_allowance"),
        "{:?}",
        big.unreadable
    );
    for (name, bad) in [
        ("u.csv", &b"a,b\n\"open,1\n"[..]),
        ("q.csv", b"a,b\n\"x\"y,1\n"),
        ("m.json", b"{\"a\": }"),
        ("m.json", b"[1, 2"),
        ("m.json", b"{\"a\" 1}"),
        ("m.json", b"[1,]x"),
        ("m.json", b"{\"a\":tru}"),
    ] {
        let s = run(name, bad).unwrap();
        assert!(
            s.warnings[0].contains("scanned as text"),
            "{:?}",
            s.warnings
        );
        assert!(!s.warnings[0].contains('\n'));
    }
    let s = run("m.json", b"{\"a\": [\"ssn 536-22-1234\",}").unwrap();
    assert_eq!(s.findings[&EntityType::UsSsn], 1);
    let mut invalid = b"caf\xe9 ssn 536-22-1234 \xff\xfe end".to_vec();
    invalid.extend_from_slice(b"\n");
    let s = run("i.txt", &invalid).unwrap();
    assert_eq!(s.findings[&EntityType::UsSsn], 1);
    assert!(
        s.warnings[0].contains("invalid UTF-8 at byte 3"),
        "{:?}",
        s.warnings
    );
}

#[test]
fn fifty_megabyte_single_line() {
    let mut line = vec![b'x'; 50 << 20];
    for i in (0..line.len()).step_by(4096) {
        line[i] = b' ';
    }
    let tail = b" card 4111111111111111";
    line.extend_from_slice(tail);
    let s = Scanner::default()
        .scan_reader("long.txt", None, &line[..], None, &mut NullSink)
        .unwrap();
    assert_eq!(s.findings[&EntityType::PaymentCard], 1);
    assert_eq!(s.records, 1);
    let small = Scanner {
        max_record: 1 << 20,
        ..Scanner::default()
    };
    let mut csv = b"notes\n".to_vec();
    csv.extend_from_slice(&line[..3 << 20]);
    csv.extend_from_slice(b" ssn 536-22-1234\n");
    let s = small
        .scan_reader(
            "long.csv",
            Some("long.csv".as_ref()),
            &csv[..],
            None,
            &mut NullSink,
        )
        .unwrap();
    assert!(s.warnings[0].contains("longer than 1048576 bytes; the rest is scanned as text"));
    assert_eq!(s.findings[&EntityType::UsSsn], 1);
}

#[test]
fn redaction_masks_and_pseudonyms_are_consistent() {
    let data = b"email,lat,diagnosis\nann@x.org,55.7558,E11.9\nann@x.org,10.1234,I10\n";
    let (masked, _) = redact_bytes(&Scanner::default(), "r.csv", data, &RedactMode::Mask).unwrap();
    assert_eq!(
        String::from_utf8(masked).unwrap(),
        "email,lat,diagnosis\n[email],55.7,[health]\n[email],10.1,[health]\n"
    );
    let mode = RedactMode::Pseudonym { key: [7; 32] };
    let (p, _) = redact_bytes(&Scanner::default(), "r.csv", data, &mode).unwrap();
    let p = String::from_utf8(p).unwrap();
    let rows: Vec<&str> = p
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(rows[0], rows[1]);
    assert!(rows[0].starts_with("email_") && !p.contains("ann@x.org"));
    let other = RedactMode::Pseudonym { key: [8; 32] };
    let (q, _) = redact_bytes(&Scanner::default(), "r.csv", data, &other).unwrap();
    assert_ne!(String::from_utf8(q).unwrap(), p);
    let json = br#"[{"card_number":4111111111111111,"lat":48.85661}]"#;
    let (j, _) = redact_bytes(&Scanner::default(), "r.json", json, &RedactMode::Mask).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&j).expect("redacted JSON stays valid");
    assert_eq!(v[0]["lat"], serde_json::json!(48.8));
}

#[test]
fn run_scan_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.txt");
    std::fs::write(&clean, "nothing to see, version 1.2.3.4\n").unwrap();
    let code = |paths: Vec<std::path::PathBuf>| {
        format!(
            "{:?}",
            run_scan(ScanArgs {
                json: true,
                format: None,
                paths
            })
            .unwrap()
        )
    };
    let ok = format!("{:?}", std::process::ExitCode::from(0));
    assert_eq!(code(vec![clean.clone()]), ok);
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let mut f = std::fs::File::create(sub.join("hit.txt")).unwrap();
    writeln!(f, "mail me: a.b@example.com").unwrap();
    assert_eq!(
        code(vec![dir.path().into()]),
        format!("{:?}", std::process::ExitCode::from(1))
    );
    std::fs::write(dir.path().join("bin.dat"), b"\0\0\0").unwrap();
    assert_eq!(
        code(vec![dir.path().into()]),
        format!("{:?}", std::process::ExitCode::from(1))
    );
    std::fs::write(dir.path().join("broken.json"), b"{\"a\": [1, }").unwrap();
    assert_eq!(code(vec![dir.path().join("broken.json")]), ok);
    let unreadable = dir.path().join("blob.bin");
    std::fs::write(&unreadable, vec![0u8; 100_000]).unwrap();
    assert_eq!(
        code(vec![unreadable]),
        format!("{:?}", std::process::ExitCode::from(1))
    );
    assert_eq!(
        code(vec![dir.path().join("missing")]),
        format!("{:?}", std::process::ExitCode::from(2))
    );
}

/// Inputs built to make a naive recognizer rescan the same run from every
/// start position; each must stay linear (a quadratic scan would not finish).
#[test]
fn pathological_runs_stay_linear() {
    for unit in [&b"a:"[..], b"1.", b"a.", b"1 ", b"12-", b"ab@", b"-1.123,"] {
        let data: Vec<u8> = unit.iter().copied().cycle().take(2 << 20).collect();
        let s = Scanner::default()
            .scan_reader("p.txt", None, &data[..], Some(Format::Text), &mut NullSink)
            .unwrap();
        assert_eq!(s.bytes, data.len() as u64);
    }
    let mut long_domain = b"x@".to_vec();
    long_domain.extend(std::iter::repeat_n(b'a', 2 << 20));
    let (f, _) = scan("d.txt", &long_domain);
    assert!(f.is_empty());
}
