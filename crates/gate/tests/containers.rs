//! The generated corpus of issue 10: every evasion, container format,
//! nesting, bomb, encrypted and corrupt file, and benign controls, built by
//! code at test time. Each is judged through `check_payload` (the path of
//! request attachments and TAXII objects) for a recipient in RU under
//! us-dsp and one in DE under eu-gdpr-ch5.

use base64::Engine as _;
use chrono::Utc;
use detente_gate::gen::{docx, pdf, with_luhn, xlsx, zip_archive as zip};
use detente_gate::policy::{Action, MemoryLedger, Profile, Transfer};
use detente_gate::read::Limits;
use detente_gate::scan::{CollectSink, NullSink, Scanner};
use detente_gate::{check_payload, Assessment, Category, FileSummary};
use std::io::Write;

const BULK: usize = 12_000;

fn cards(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| with_luhn(&format!("4{:014}", i + 1)))
        .collect()
}

fn ssn(i: usize) -> String {
    format!(
        "{:03}-{:02}-{:04}",
        123 + i / 9999 % 500,
        1 + i / 9999 % 98,
        1 + i % 9999
    )
}

fn card_csv(n: usize) -> Vec<u8> {
    let mut s = String::from("name,ssn,card\n");
    for (i, c) in cards(n).iter().enumerate() {
        s.push_str(&format!("Person {i},{},{c}\n", ssn(i)));
    }
    s.into_bytes()
}

fn card_lines(n: usize) -> String {
    cards(n).join("\n")
}

fn transfer(to: &str) -> Transfer {
    Transfer {
        sender: "us-node".into(),
        recipient: format!("peer-{to}"),
        destination: to.into(),
        legal_basis: None,
        government_related: false,
        at: Utc::now(),
    }
}

fn judge_one(profile: &str, to: &str, parts: &[(&str, &[u8])]) -> Assessment {
    let p = Profile::builtin(profile).unwrap();
    check_payload(&p, &transfer(to), parts, &MemoryLedger::default()).unwrap()
}

/// (decision for RU under us-dsp, decision for DE under eu-gdpr-ch5).
fn judge(name: &str, bytes: &[u8]) -> (Assessment, Action, Action) {
    let ru = judge_one("us-dsp", "RU", &[(name, bytes)]);
    let de = judge_one("eu-gdpr-ch5", "DE", &[(name, bytes)]);
    let (a, b) = (ru.decision.decision, de.decision.decision);
    (ru, a, b)
}

fn financial(a: &Assessment) -> u64 {
    a.decision
        .counts
        .get(&Category::Financial)
        .map_or(0, |c| c.current)
}

fn unreadable(a: &Assessment) -> Vec<String> {
    a.files
        .iter()
        .flat_map(FileSummary::unreadable_lines)
        .collect()
}

/// Bulk cards: held under us-dsp for RU, allowed inside the EU.
fn assert_bulk(name: &str, bytes: &[u8]) {
    let (a, ru, de) = judge(name, bytes);
    assert_eq!(
        financial(&a),
        BULK as u64,
        "{name}: {:?}",
        a.decision.counts
    );
    assert_eq!((ru, de), (Action::Hold, Action::Allow), "{name}");
    assert!(unreadable(&a).is_empty(), "{name}: {:?}", unreadable(&a));
}

/// Unreadable: held for review under both profiles, with the reason.
fn assert_unreadable(name: &str, bytes: &[u8], why: &str) {
    let (a, ru, de) = judge(name, bytes);
    assert_eq!((ru, de), (Action::Hold, Action::Hold), "{name}");
    let lines = unreadable(&a);
    assert!(lines.iter().any(|l| l.contains(why)), "{name}: {lines:?}");
    assert!(a
        .decision
        .reasons
        .iter()
        .any(|r| r.text.starts_with("unreadable content: ") && r.text.contains(why)));
}

fn assert_benign(name: &str, bytes: &[u8]) {
    let (a, ru, de) = judge(name, bytes);
    assert_eq!(
        (ru, de),
        (Action::Allow, Action::Allow),
        "{name}: {:?}",
        a.decision
    );
    assert!(unreadable(&a).is_empty(), "{name}: {:?}", unreadable(&a));
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn tar(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn eml(body: &str, attachment: (&str, &[u8])) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(attachment.1);
    let wrapped: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "From: Officer <officer@police.example>\r\nTo: peer@example.org\r\nSubject: production\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\n{body}\r\n--XX\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"{}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--XX--\r\n",
        attachment.0,
        wrapped.join("\r\n")
    )
    .into_bytes()
}

#[test]
fn counting_by_distinct_identifiers() {
    let json = format!(r#"{{"cards": {:?}}}"#, cards(BULK));
    assert_bulk("cards.json", json.as_bytes());
    let stix = format!(
        r#"{{"type":"indicator","spec_version":"2.1","id":"indicator--1","description":"leaked: {}"}}"#,
        cards(BULK).join(" ")
    );
    assert_bulk("object.json", stix.as_bytes());
    // A row is one person; rows of the same customer count once.
    let (a, _, _) = judge("rows.csv", &card_csv(50));
    assert_eq!(financial(&a), 50);
    assert_eq!(
        a.decision.counts[&Category::CoveredPersonalIdentifiers].current,
        50
    );
    let mut same = String::from("customer_id,card,amount\n");
    for c in cards(30) {
        same.push_str(&format!("C-77,{c},10\n"));
    }
    let (a, _, _) = judge("same.csv", same.as_bytes());
    assert_eq!(financial(&a), 1);
    let ndjson: String = cards(20)
        .iter()
        .map(|c| format!("{{\"subscriber_id\":\"S1\",\"card\":\"{c}\"}}\n"))
        .collect();
    let (a, _, _) = judge("s.ndjson", ndjson.as_bytes());
    assert_eq!(financial(&a), 1);
}

#[test]
fn evasions_of_the_issue() {
    let b64 = base64::engine::general_purpose::STANDARD.encode(card_csv(BULK));
    let artifact = format!(
        r#"{{"type":"artifact","spec_version":"2.1","id":"artifact--1","mime_type":"text/csv","payload_bin":"{b64}"}}"#
    );
    assert_bulk("object.json", artifact.as_bytes());
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(card_lines(BULK));
    assert_bulk("b64url.txt", format!("data: {url} end").as_bytes());
    assert_bulk("hex.txt", hex::encode(card_lines(BULK)).as_bytes());
    let dotted: Vec<String> = cards(BULK)
        .iter()
        .map(|c| format!("{}.{}.{}.{}", &c[..4], &c[4..8], &c[8..12], &c[12..]))
        .collect();
    assert_bulk("dotted.txt", dotted.join("\n").as_bytes());
    let split: Vec<String> = cards(BULK)
        .iter()
        .map(|c| format!("card {}\n{} ok", &c[..8], &c[8..]))
        .collect();
    assert_bulk("split.txt", split.join("\n").as_bytes());
    let fullwidth: String = card_lines(BULK)
        .chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => char::from_u32(0xff10 + d).unwrap(),
            None => c,
        })
        .collect();
    assert_bulk("fullwidth.txt", fullwidth.as_bytes());
    let zw: Vec<String> = cards(BULK)
        .iter()
        .map(|c| c.chars().map(|d| format!("{d}\u{200b}")).collect())
        .collect();
    assert_bulk("zw.txt", zw.join("\n").as_bytes());
    let escaped: String = card_lines(BULK)
        .chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => format!("\\u{:04x}", 0xff10 + d),
            None => "\\n".into(),
        })
        .collect();
    assert_bulk("esc.json", format!(r#"{{"notes":"{escaped}"}}"#).as_bytes());
    // Binary after text is seen wherever it starts, not only in the first
    // 8 KiB (or the first chunk).
    for text in [9_000, 3 << 20] {
        let mut appended = "x ".repeat(text / 2).into_bytes();
        appended.extend(gz(card_lines(BULK).as_bytes()));
        assert_unreadable("notes.txt", &appended, "binary");
    }
    let mut appended = "x ".repeat(3 << 19).into_bytes();
    appended.extend(gz(card_lines(BULK).as_bytes()));
    assert_unreadable("notes.txt", &appended, "NUL byte) at byte 3145731");
}

#[test]
fn every_container_format() {
    let csv = card_csv(BULK);
    assert_bulk("logs.csv.gz", &gz(&csv));
    let thirds: Vec<Vec<u8>> = cards(BULK)
        .chunks(BULK / 3)
        .map(|c| format!("card\n{}\n", c.join("\n")).into_bytes())
        .collect();
    let logs = zip(&[
        ("2021/jan.csv", &thirds[0]),
        ("2021/feb.csv", &thirds[1]),
        ("2021/mar.csv", &thirds[2]),
    ]);
    assert_bulk("logs.zip", &logs);
    assert_bulk(
        "logs.tar",
        &tar(&[
            ("a/jan.csv", &thirds[0]),
            ("b.csv", &thirds[1]),
            ("c.csv", &thirds[2]),
        ]),
    );
    assert_bulk("logs.tgz", &gz(&tar(&[("all.csv", &csv)])));
    assert_bulk(
        "outer.zip",
        &zip(&[("readme.txt", b"see inner"), ("inner.zip", &logs)]),
    );
    let mut rows = vec![vec!["name".to_string(), "card".to_string()]];
    rows.extend(
        cards(BULK)
            .into_iter()
            .enumerate()
            .map(|(i, c)| vec![format!("P{i}"), c]),
    );
    assert_bulk("export.xlsx", &xlsx(&rows));
    let lines: Vec<String> = cards(BULK).iter().map(|c| format!("Card: {c}")).collect();
    assert_bulk("report.docx", &docx(&lines));
    assert_bulk("production.pdf", &pdf(&lines));
    assert_bulk(
        "mail.eml",
        &eml("please find the logs attached", ("logs.zip", &logs)),
    );
}

#[test]
fn container_paths_rows_and_columns() {
    let logs = zip(&[("2021/jan.csv", b"name,card\nAnn,4111111111111111\n")]);
    let mut sink = PathSink::default();
    Scanner::default()
        .scan_bytes("logs.zip", &logs, None, &mut sink)
        .unwrap();
    assert_eq!(sink.0, vec!["2021/jan.csv row 1 column card".to_string()]);
}

#[derive(Default)]
struct PathSink(Vec<String>, Vec<String>, Option<(u64, String)>);

impl detente_gate::Sink for PathSink {
    fn finding(&mut self, _f: detente_gate::Finding, _v: &[u8]) {
        let (r, c) = self.2.take().unwrap_or_default();
        self.0
            .push(format!("{} row {r} column {c}", self.1.join("!/")));
    }
    fn enter(&mut self, m: &str) {
        self.1.push(m.into());
    }
    fn leave(&mut self) {
        self.1.pop();
    }
    fn located(&mut self, row: u64, column: &str) {
        self.2 = Some((row, column.into()));
    }
}

fn scan_with(limits: Limits, name: &str, bytes: &[u8]) -> FileSummary {
    let sc = Scanner {
        limits,
        ..Scanner::default()
    };
    sc.scan_bytes(name, bytes, None, &mut NullSink).unwrap()
}

fn reasons(s: &FileSummary) -> String {
    s.unreadable_lines().collect::<Vec<_>>().join("; ")
}

#[test]
fn bombs_are_refused_naming_the_limit() {
    let zeros = vec![b'a'; 64 << 20];
    let bomb = zip(&[("zeros.txt", &zeros)]);
    assert!(bomb.len() < 1 << 20);
    assert_unreadable("bomb.zip", &bomb, "limit max_ratio");
    assert_unreadable("bomb.gz", &gz(&zeros), "limit max_ratio");
    let mut nested = zip(&[("a.csv", b"card\n4111111111111111\n")]);
    for i in 0..6 {
        nested = zip(&[(&format!("level{i}.zip"), &nested)]);
    }
    assert_unreadable("deep.zip", &nested, "limit max_depth");
    let many: Vec<(String, Vec<u8>)> = (0..30)
        .map(|i| (format!("f{i}.txt"), b"hi".to_vec()))
        .collect();
    let many: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let limits = Limits {
        max_entries: 10,
        ..Limits::default()
    };
    assert!(reasons(&scan_with(limits, "many.zip", &zip(&many))).contains("limit max_entries"));
    let limits = Limits {
        max_expanded: 1 << 20,
        ..Limits::default()
    };
    let big = vec![b'a'; 4 << 20];
    let s = scan_with(limits, "big.gz", &gz(&big));
    assert!(
        reasons(&s).contains("limit max_expanded"),
        "{}",
        reasons(&s)
    );
}

#[test]
fn encrypted_and_corrupt_files_are_held() {
    let mut enc = zip(&[("secret.csv", b"card\n4111111111111111\n")]);
    // Set the "encrypted" flag bit in the local and the central header.
    enc[6] |= 1;
    let cd = memchr::memmem::find(&enc, b"PK\x01\x02").unwrap();
    enc[cd + 8] |= 1;
    assert_unreadable("secret.zip", &enc, "encrypted archive entry");
    let logs = zip(&[("a.csv", &card_csv(100))]);
    assert_unreadable("cut.zip", &logs[..logs.len() / 2], "corrupt zip");
    let g = gz(&card_csv(2000));
    assert_unreadable("cut.gz", &g[..g.len() / 2], "corrupt or unreadable");
    assert_unreadable(
        "broken.pdf",
        b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage",
        "PDF",
    );
    let mut ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1".to_vec();
    ole.resize(4096, 0);
    assert_unreadable("protected.docx", &ole, "OLE compound file");
    assert_unreadable(
        "archive.7z",
        b"7z\xbc\xaf\x27\x1c\x00\x04rest",
        "7z archive",
    );
    let mut blob = vec![0u8, 1, 2, 3];
    blob.extend((0..100_000u32).map(|i| (i * 7919 % 251) as u8));
    assert_unreadable("blob.bin", &blob, "limit binary_allowance");
}

#[test]
fn benign_controls_are_allowed() {
    let report: Vec<String> = [
        "Incident report 2026-114",
        "Scanning observed from 203.0.113.45 and 198.51.100.7 between 10:20 and 11:05 UTC.",
        "C2 at 192.0.2.10:443; sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "Build 4.2.1.1077 of the agent, release 2024.0115.1020.3012.",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_benign("report.pdf", &pdf(&report));
    let mut rows = vec![vec![
        "name".to_string(),
        "email".to_string(),
        "phone".to_string(),
    ]];
    rows.extend((0..20).map(|i| {
        vec![
            format!("Contact {i}"),
            format!("c{i}@example.org"),
            format!("+1 415 555 {:04}", 1000 + i),
        ]
    }));
    assert_benign("contacts.xlsx", &xlsx(&rows));
    assert_benign(
        "notes.zip",
        &zip(&[
            ("a.txt", b"meeting at 10:00, version 1.2.3"),
            ("b.txt", b"nothing to see"),
        ]),
    );
    assert_benign("report.docx", &docx(&report));
    let png_in_b64 = base64::engine::general_purpose::STANDARD.encode([
        0x89u8, b'P', b'N', b'G', 13, 10, 26, 10, 0, 0, 0, 13, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
        12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
        35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50,
    ]);
    assert_benign(
        "icon.json",
        format!(r#"{{"icon":"{png_in_b64}"}}"#).as_bytes(),
    );
}

#[test]
fn findings_inside_containers_are_not_redacted_in_place() {
    let logs = zip(&[("a.csv", b"card\n4111111111111111\n")]);
    let r = detente_gate::redact::redact_bytes(
        &Scanner::default(),
        "logs.zip",
        &logs,
        &detente_gate::redact::RedactMode::Mask,
    );
    assert!(r.unwrap_err().to_string().contains("inside a.csv"));
    let mut sink = CollectSink::default();
    Scanner::default()
        .scan_bytes("logs.zip", &logs, None, &mut sink)
        .unwrap();
    assert_eq!(sink.0.len(), 1);
}
