//! Synthetic input for the throughput benchmark: multilingual prose and
//! CSV rows with realistic density of sensitive values and lookalikes.
//! Deterministic (seeded) so runs are comparable. Not used to tune or to
//! evaluate recognizers: the quality corpus is written separately.

use std::io::Write;

/// xorshift64*: enough randomness for test data, no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

/// Appends the Luhn check digit to `body`.
pub fn with_luhn(body: &str) -> String {
    let mut s = body.to_string();
    for d in 0..10u8 {
        s.push(char::from(b'0' + d));
        if crate::validate::luhn(s.as_bytes()) {
            return s;
        }
        s.pop();
    }
    unreachable!("one of ten check digits always satisfies Luhn")
}

pub fn card(rng: &mut Rng) -> String {
    let body = format!("4{}", rng.digits(14));
    with_luhn(&body)
}

fn ssn(rng: &mut Rng) -> String {
    format!(
        "{:03}-{:02}-{:04}",
        1 + rng.below(665),
        1 + rng.below(98),
        1 + rng.below(9998)
    )
}

const PROSE: &[&str] = &[
    "The incident response team reviewed the logs from the affected servers and found no further activity after the patch was applied.",
    "Следователь запросил сведения об абоненте и журналы подключений за указанный период, ответ ожидается в течение тридцати дней.",
    "Die Anfrage wurde am Montag übermittelt; die zuständige Behörde bestätigte den Eingang und kündigte eine Antwort an.",
    "La demande d'entraide a été transmise au point de contact national, qui a accusé réception le jour même.",
    "该请求已通过国家联络点转交，对方已确认收到并将在规定期限内答复。",
    "Build 4.2.1.7 of the agent was deployed; checksum e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 verified.",
    "Ticket 2024-03-15T10:22:31Z closed, reference 1234567890123456, version 10.0.19041.1 noted, total 19.99 EUR.",
];

fn sensitive(rng: &mut Rng) -> String {
    match rng.below(9) {
        0 => format!("SSN {}", ssn(rng)),
        1 => format!("card {}", card(rng)),
        2 => format!("contact user{}@example.org", rng.below(100_000)),
        3 => format!(
            "tel +7 495 {}-{}-{}",
            rng.digits(3),
            rng.digits(2),
            rng.digits(2)
        ),
        4 => format!("from 198.51.{}.{}", rng.below(256), rng.below(256)),
        5 => format!(
            "lat {}.{} lon {}.{}",
            rng.below(90),
            rng.digits(5),
            rng.below(180),
            rng.digits(5)
        ),
        6 => format!("IMEI {}", with_luhn(&format!("35{}", rng.digits(12)))),
        7 => "IBAN DE89 3704 0044 0532 0130 00".to_string(),
        _ => format!(
            "mac 00:1a:2b:{:02x}:{:02x}:{:02x}",
            rng.below(256),
            rng.below(256),
            rng.below(256)
        ),
    }
}

/// Writes about `bytes` of text, one sensitive value every few lines.
pub fn write_text(w: &mut impl Write, bytes: u64, seed: u64) -> std::io::Result<()> {
    let mut rng = Rng::new(seed);
    let mut written = 0u64;
    while written < bytes {
        let mut line = rng.pick(PROSE).to_string();
        if rng.below(3) == 0 {
            line.push(' ');
            line.push_str(&sensitive(&mut rng));
            line.push('.');
        }
        line.push('\n');
        w.write_all(line.as_bytes())?;
        written += line.len() as u64;
    }
    Ok(())
}

/// Writes about `bytes` of prose that does not repeat itself: sentences of
/// words drawn from [`PROSE`], one sensitive value every few lines as in
/// [`write_text`]. Seven sentences repeated compress 23:1 inside a DOCX,
/// which no report does; drawn words compress about as prose does.
pub fn write_prose(w: &mut impl Write, bytes: u64, seed: u64) -> std::io::Result<()> {
    let words: Vec<&str> = PROSE.iter().flat_map(|p| p.split(' ')).collect();
    let mut rng = Rng::new(seed);
    let mut written = 0u64;
    while written < bytes {
        let n = 8 + rng.below(14) as usize;
        let mut line: Vec<&str> = (0..n).map(|_| rng.pick(&words)).collect();
        let extra = (rng.below(3) == 0).then(|| sensitive(&mut rng));
        if let Some(v) = &extra {
            line.push(v);
        }
        let line = format!("{}.\n", line.join(" "));
        w.write_all(line.as_bytes())?;
        written += line.len() as u64;
    }
    Ok(())
}

/// Writes about `bytes` of CSV with identifier, health and location columns.
pub fn write_csv(w: &mut impl Write, bytes: u64, seed: u64) -> std::io::Result<()> {
    let mut rng = Rng::new(seed);
    let header = "id,name,email,phone,ssn,dob,diagnosis,lat,lon,card_number,ip,notes\n";
    w.write_all(header.as_bytes())?;
    let mut written = header.len() as u64;
    let names = [
        "Ann Smith",
        "Иван Петров",
        "Jürgen Müller",
        "Zoé Martin",
        "王伟",
    ];
    let dx = ["E11.9", "I10", "J45.909", "F32.A", "none"];
    let mut id = 0u64;
    while written < bytes {
        id += 1;
        let row = format!(
            "{id},{},user{}@example.org,+1 415 555 {},{},19{}-0{}-1{},{},{}.{},-{}.{},{},10.{}.{}.{},\"note, {}\"\n",
            rng.pick(&names),
            rng.below(1_000_000),
            rng.digits(4),
            ssn(&mut rng),
            10 + rng.below(89),
            1 + rng.below(9),
            rng.below(10),
            rng.pick(&dx),
            rng.below(90),
            rng.digits(4),
            rng.below(180),
            rng.digits(4),
            card(&mut rng),
            rng.below(256),
            rng.below(256),
            rng.below(256),
            rng.pick(PROSE).split(' ').next().unwrap_or(""),
        );
        w.write_all(row.as_bytes())?;
        written += row.len() as u64;
    }
    Ok(())
}

/// A deflated zip of `entries` (name, content).
pub fn zip_archive(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;")
}

/// A one-sheet XLSX of inline strings, the first row a header.
pub fn xlsx(rows: &[Vec<String>]) -> Vec<u8> {
    let mut sheet = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
    );
    for (r, row) in rows.iter().enumerate() {
        sheet.push_str(&format!(r#"<row r="{}">"#, r + 1));
        for v in row {
            sheet.push_str(&format!(
                r#"<c t="inlineStr"><is><t>{}</t></is></c>"#,
                xml_escape(v)
            ));
        }
        sheet.push_str("</row>");
    }
    sheet.push_str("</sheetData></worksheet>");
    zip_archive(&[
        ("[Content_Types].xml", br#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#),
        ("_rels/.rels", br#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#),
        ("xl/workbook.xml", br#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#),
        ("xl/_rels/workbook.xml.rels", br#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#),
        ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
    ])
}

/// A DOCX whose paragraphs split each line into two runs, as Word does.
pub fn docx(lines: &[String]) -> Vec<u8> {
    let mut doc = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>"#,
    );
    for l in lines {
        let mid = l
            .char_indices()
            .nth(l.chars().count() / 2)
            .map_or(0, |(i, _)| i);
        let (a, b) = l.split_at(mid);
        doc.push_str(&format!(
            "<w:p><w:r><w:t>{}</w:t></w:r><w:r><w:t>{}</w:t></w:r></w:p>",
            xml_escape(a),
            xml_escape(b)
        ));
    }
    doc.push_str("</w:body></w:document>");
    zip_archive(&[
        ("[Content_Types].xml", br#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>"#),
        ("word/document.xml", doc.as_bytes()),
        ("word/media/image1.png", &[0x89, b'P', b'N', b'G', 0, 0, 0, 0][..]),
    ])
}

/// A PDF of `lines`, 60 to a page, in a standard font (a text layer).
pub fn pdf(lines: &[String]) -> Vec<u8> {
    use lopdf::content::{Content, Operation};
    use lopdf::{dictionary, Document, Object, Stream};
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Courier",
    });
    let resources = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font } });
    let mut kids = Vec::new();
    for page in lines.chunks(60) {
        let mut ops = vec![
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec!["F1".into(), 10.into()]),
            Operation::new("TL", vec![12.into()]),
            Operation::new("Td", vec![40.into(), 800.into()]),
        ];
        for l in page {
            ops.push(Operation::new(
                "Tj",
                vec![Object::string_literal(l.as_str())],
            ));
            ops.push(Operation::new("T*", vec![]));
        }
        ops.push(Operation::new("ET", vec![]));
        let content = Content { operations: ops }.encode().unwrap();
        let c = doc.add_object(Stream::new(dictionary! {}, content));
        kids.push(Object::from(doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => c,
        })));
    }
    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => kids, "Count" => count, "Resources" => resources,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}
