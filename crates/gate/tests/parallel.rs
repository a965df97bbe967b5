//! Containers read on several cores (zip entries, blocks of a worksheet's
//! rows) give the summary that one pass over the same content gives: a
//! sink that wants every event is fed by one pass, [`NullSink`] by many.

use detente_gate::scan::{CollectSink, NullSink};
use detente_gate::{FileSummary, Scanner};

/// Rows of one person per SSN where `keyed`, the others without any key
/// (each its own person); SSNs repeat across entries and blocks (counted
/// once).
fn rows(n: usize, from: usize, keyed: impl Fn(usize) -> bool) -> Vec<Vec<String>> {
    let mut v = vec![vec!["diagnosis".into(), "ssn".into(), "notes".into()]];
    for i in from..from + n {
        let ssn = match keyed(i) {
            true => format!("536-22-{:04}", 1 + i % 500),
            false => String::new(),
        };
        v.push(vec!["E11.9".into(), ssn, "follow-up".into()]);
    }
    v
}

fn csv(rows: &[Vec<String>]) -> Vec<u8> {
    rows.iter()
        .map(|r| r.join(",") + "\n")
        .collect::<String>()
        .into_bytes()
}

fn both(name: &str, bytes: &[u8]) -> (FileSummary, FileSummary) {
    let s = Scanner::default();
    let parallel = s.scan_bytes(name, bytes, None, &mut NullSink).unwrap();
    let serial = s
        .scan_bytes(name, bytes, None, &mut CollectSink::default())
        .unwrap();
    (parallel, serial)
}

fn assert_same(name: &str, bytes: &[u8], records: u64) {
    let (p, s) = both(name, bytes);
    assert!(p.unreadable.is_empty() && s.unreadable.is_empty());
    assert_eq!(p.records, records);
    assert_eq!(p.records, s.records);
    assert_eq!(p.findings, s.findings);
    assert_eq!(p.categories, s.categories);
    assert_eq!(p.persons_any, s.persons_any);
    assert_eq!(p.personal_records, s.personal_records);
}

#[test]
fn zip_entries_read_in_parallel_count_as_one_pass() {
    let parts: Vec<(String, Vec<u8>)> = (0..6)
        .map(|k| {
            (
                format!("logs/{k}.csv"),
                csv(&rows(3000, k * 3000, |i| i % 3 != 0)),
            )
        })
        .collect();
    let entries: Vec<(&str, &[u8])> = parts
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let zip = detente_gate::gen::zip_archive(&entries);
    assert_same("logs.zip", &zip, 18_000);
}

#[test]
fn sheet_blocks_read_in_parallel_count_as_one_pass() {
    // 2.5 MB of CSV: several blocks of rows.
    let xlsx = detente_gate::gen::xlsx(&rows(150_000, 0, |i| i % 10 == 1));
    assert_same("export.xlsx", &xlsx, 150_000);
    let (p, _) = both("export.xlsx", &xlsx);
    // 15,000 rows with one of 50 SSNs, 135,000 rows without a key.
    assert_eq!(p.persons_any, 135_050);
}

/// A DOCX part inflated and parsed on another thread than the one that
/// scans it: the same findings, and a broken part is still unreadable
/// (the error crosses the threads).
#[test]
fn document_parts_read_on_a_pipe_count_as_one_pass() {
    let lines: Vec<String> = (0..3000)
        .map(|i| {
            let card = detente_gate::gen::with_luhn(&format!("4111{:011}", i * 7919));
            format!("Line {i} of the report, card {card} & more.")
        })
        .collect();
    let docx = detente_gate::gen::docx(&lines);
    let (p, s) = both("report.docx", &docx);
    assert!(p.unreadable.is_empty());
    assert_eq!(p.findings, s.findings);
    assert_eq!(p.categories, s.categories);
    assert_eq!(p.findings.values().sum::<u64>(), 3000);
    let broken = detente_gate::gen::zip_archive(&[
        ("[Content_Types].xml", b"<Types/>"),
        (
            "word/document.xml",
            b"<w:document><w:p><w:t>x</w:p></w:document>",
        ),
    ]);
    for summary in [both("b.docx", &broken).0, both("b.docx", &broken).1] {
        let why = &summary.unreadable[0];
        assert_eq!(why.member, "word/document.xml");
        assert!(why.reason.contains("corrupt document part"), "{why:?}");
    }
}
