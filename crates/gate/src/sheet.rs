//! XLSX worksheets streamed as CSV. calamine loads a whole sheet into a
//! `Range` of cells before the first byte is scanned (a 16 MiB sheet took
//! a quarter of a GiB and ran at a few MB/s); here each sheet's XML is read
//! event by event straight from its zip entry and written out as CSV rows
//! that the CSV scanner reads as they come. Only the shared-string table is
//! held in memory, bounded by [`crate::read::Limits::max_document`].

use crate::scan::{Format, Out};
use quick_xml::events::{BytesStart, Event};
use std::io::{BufRead, BufReader, Read, Seek};

/// The workbook's shared strings, one buffer and an end offset per string.
#[derive(Default)]
pub(crate) struct Strings {
    data: Vec<u8>,
    ends: Vec<usize>,
}

impl Strings {
    fn get(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.data[start..end])
    }
}

fn xml_err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Appends the character a `&name;` or `&#n;` reference stands for.
fn push_ref(out: &mut Vec<u8>, r: &quick_xml::events::BytesRef<'_>) {
    match r.resolve_char_ref() {
        Ok(Some(c)) => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        _ => out.push(match &**r {
            b"amp" => b'&',
            b"lt" => b'<',
            b"gt" => b'>',
            b"quot" => b'"',
            b"apos" => b'\'',
            _ => b' ',
        }),
    }
}

/// Reads `sharedStrings.xml`: the text of each `<si>` (rich-text runs
/// joined, phonetic hints left out).
pub(crate) fn shared_strings(r: impl BufRead, max: u64) -> Result<Strings, String> {
    let mut xml = quick_xml::Reader::from_reader(r);
    let mut buf = Vec::new();
    let mut s = Strings::default();
    let (mut in_t, mut in_rph) = (false, false);
    loop {
        match xml.read_event_into(&mut buf).map_err(xml_err)? {
            Event::Start(e) => match e.local_name().as_ref() {
                b"t" => in_t = true,
                b"rPh" => in_rph = true,
                _ => {}
            },
            Event::End(e) => match e.local_name().as_ref() {
                b"t" => in_t = false,
                b"rPh" => in_rph = false,
                b"si" => s.ends.push(s.data.len()),
                _ => {}
            },
            Event::Empty(e) if e.local_name().as_ref() == b"si" => s.ends.push(s.data.len()),
            Event::Text(t) if in_t && !in_rph => s.data.extend_from_slice(&t),
            Event::CData(t) if in_t && !in_rph => s.data.extend_from_slice(&t),
            Event::GeneralRef(r) if in_t && !in_rph => push_ref(&mut s.data, &r),
            Event::Eof => return Ok(s),
            _ => {}
        }
        if s.data.len() as u64 > max {
            return Err(format!(
                "shared strings over {max} bytes (limit max_document)"
            ));
        }
        buf.clear();
    }
}

/// Column index of a cell reference (`B7` is 1), if it has one.
fn column(reference: &[u8]) -> Option<usize> {
    let letters = reference.iter().take_while(|b| b.is_ascii_alphabetic());
    let mut n = 0usize;
    let mut any = false;
    for &b in letters {
        n = n
            .checked_mul(26)?
            .checked_add(usize::from(b.to_ascii_uppercase() - b'A') + 1)?;
        any = true;
    }
    (any && n <= 1 << 14).then(|| n - 1)
}

/// How a cell's value is stored (`t` attribute).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cell {
    Shared,
    Inline,
    Plain,
}

/// A worksheet's XML as a stream of CSV rows.
pub(crate) struct SheetCsv<'s, R: BufRead> {
    xml: quick_xml::Reader<R>,
    buf: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    strings: &'s Strings,
    max_cell: usize,
    /// Fields written in the current row.
    col: usize,
    cell: Cell,
    cell_col: Option<usize>,
    value: Vec<u8>,
    in_v: bool,
    in_t: bool,
    in_rph: bool,
    done: bool,
}

impl<'s, R: BufRead> SheetCsv<'s, R> {
    pub(crate) fn new(r: R, strings: &'s Strings, max_cell: usize) -> Self {
        SheetCsv {
            xml: quick_xml::Reader::from_reader(r),
            buf: Vec::new(),
            out: Vec::with_capacity(128 << 10),
            pos: 0,
            strings,
            max_cell,
            col: 0,
            cell: Cell::Plain,
            cell_col: None,
            value: Vec::new(),
            in_v: false,
            in_t: false,
            in_rph: false,
            done: false,
        }
    }

    fn start_cell(&mut self, e: &BytesStart<'_>) {
        self.cell = Cell::Plain;
        self.cell_col = None;
        self.value.clear();
        for a in e.attributes().flatten() {
            match a.key.local_name().as_ref() {
                b"t" => {
                    self.cell = match &*a.value {
                        b"s" => Cell::Shared,
                        b"inlineStr" => Cell::Inline,
                        _ => Cell::Plain,
                    }
                }
                b"r" => self.cell_col = column(&a.value),
                _ => {}
            }
        }
    }

    /// Writes the finished cell as a CSV field at its column, padding the
    /// cells the sheet left out so that columns stay under their header.
    fn end_cell(&mut self) {
        let at = self.cell_col.unwrap_or(self.col).max(self.col);
        let commas = at - self.col + usize::from(self.col > 0);
        self.out.extend(std::iter::repeat_n(b',', commas));
        self.col = at + 1;
        let v: &[u8] = match self.cell {
            Cell::Shared => std::str::from_utf8(&self.value)
                .ok()
                .and_then(|i| i.trim().parse::<usize>().ok())
                .and_then(|i| self.strings.get(i))
                .unwrap_or(b""),
            _ => &self.value,
        };
        if v.iter().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
            self.out.push(b'"');
            for &b in v {
                if b == b'"' {
                    self.out.push(b'"');
                }
                self.out.push(b);
            }
            self.out.push(b'"');
        } else {
            self.out.extend_from_slice(v);
        }
    }

    fn capturing(&self) -> bool {
        self.in_v || (self.cell == Cell::Inline && self.in_t && !self.in_rph)
    }

    /// Reads events until some CSV is ready or the sheet ends.
    fn pump(&mut self) -> Result<(), String> {
        let mut buf = std::mem::take(&mut self.buf);
        let r = self.pump_with(&mut buf);
        self.buf = buf;
        r
    }

    fn pump_with(&mut self, buf: &mut Vec<u8>) -> Result<(), String> {
        while self.out.len() < (64 << 10) && !self.done {
            buf.clear();
            match self.xml.read_event_into(buf).map_err(xml_err)? {
                Event::Start(e) => match e.local_name().as_ref() {
                    b"row" => self.col = 0,
                    b"c" => self.start_cell(&e),
                    b"v" => self.in_v = true,
                    b"t" => self.in_t = true,
                    b"rPh" => self.in_rph = true,
                    _ => {}
                },
                Event::End(e) => match e.local_name().as_ref() {
                    b"row" => self.out.push(b'\n'),
                    b"c" => self.end_cell(),
                    b"v" => self.in_v = false,
                    b"t" => self.in_t = false,
                    b"rPh" => self.in_rph = false,
                    _ => {}
                },
                Event::Text(t) if self.capturing() => self.value.extend_from_slice(&t),
                Event::CData(t) if self.capturing() => self.value.extend_from_slice(&t),
                Event::GeneralRef(r) if self.capturing() => push_ref(&mut self.value, &r),
                Event::Eof => self.done = true,
                _ => {}
            }
            if self.value.len() > self.max_cell {
                return Err(format!(
                    "cell over {} bytes (limit max_record)",
                    self.max_cell
                ));
            }
        }
        Ok(())
    }
}

impl<R: BufRead> Read for SheetCsv<'_, R> {
    fn read(&mut self, dst: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.out.len() {
            self.out.clear();
            self.pos = 0;
            self.pump().map_err(std::io::Error::other)?;
        }
        let n = dst.len().min(self.out.len() - self.pos);
        dst[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Sheet names and their parts, in workbook order (the workbook and its
/// relationships), else every part under `xl/worksheets/`.
fn sheets<R: Read + Seek>(zip: &mut zip::ZipArchive<R>) -> Vec<(String, String)> {
    let attrs = |zip: &mut zip::ZipArchive<R>, part: &str, tag: &[u8], keys: [&[u8]; 2]| {
        let mut found = Vec::new();
        let Ok(entry) = zip.by_name(part) else {
            return found;
        };
        let mut xml = quick_xml::Reader::from_reader(BufReader::new(entry.take(16 << 20)));
        let mut buf = Vec::new();
        while let Ok(ev) = xml.read_event_into(&mut buf) {
            match ev {
                Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == tag => {
                    let mut v = [String::new(), String::new()];
                    for a in e.attributes().flatten() {
                        for (slot, key) in v.iter_mut().zip(keys) {
                            if a.key.as_ref() == key || a.key.local_name().as_ref() == key {
                                *slot = a
                                    .decode_and_unescape_value(xml.decoder())
                                    .map(|c| c.into_owned())
                                    .unwrap_or_default();
                            }
                        }
                    }
                    found.push(v);
                }
                Event::Eof => break,
                _ => {}
            }
            buf.clear();
        }
        found
    };
    let names = attrs(zip, "xl/workbook.xml", b"sheet", [b"name", b"r:id"]);
    let rels = attrs(
        zip,
        "xl/_rels/workbook.xml.rels",
        b"Relationship",
        [b"Id", b"Target"],
    );
    let mut out: Vec<(String, String)> = names
        .iter()
        .filter_map(|[name, id]| {
            let [_, target] = rels.iter().find(|[rid, _]| rid == id)?;
            let part = match target.strip_prefix('/') {
                Some(abs) => abs.to_string(),
                None => format!("xl/{target}"),
            };
            zip.index_for_name(&part)
                .is_some()
                .then(|| (name.clone(), part))
        })
        .collect();
    if out.is_empty() {
        let mut parts: Vec<String> = zip
            .file_names()
            .filter(|n| n.starts_with("xl/worksheets/") && n.ends_with(".xml"))
            .map(String::from)
            .collect();
        parts.sort();
        out = parts
            .into_iter()
            .map(|p| (p["xl/worksheets/".len()..p.len() - 4].to_string(), p))
            .collect();
    }
    out
}

/// Reads every worksheet of an XLSX as a CSV member named after the sheet.
pub(crate) fn xlsx<R: Read + Seek>(out: &mut Out<'_>, zip: &mut zip::ZipArchive<R>) {
    let limits = out.scanner.limits;
    let strings = match zip.by_name("xl/sharedStrings.xml") {
        Ok(entry) => match shared_strings(BufReader::new(entry), limits.max_document) {
            Ok(s) => s,
            Err(e) => return out.unreadable_here(&format!("corrupt spreadsheet: {e}")),
        },
        Err(_) => Strings::default(),
    };
    let list = sheets(zip);
    if list.is_empty() {
        return out.unreadable_here("corrupt spreadsheet: no worksheets");
    }
    let max_cell = out.scanner.max_record;
    for (name, part) in list {
        match zip.by_name(&part) {
            Ok(entry) => {
                let compressed = std::rc::Rc::new(std::cell::Cell::new(entry.compressed_size()));
                let bounded = out.bounded(entry, compressed);
                let mut csv = SheetCsv::new(BufReader::new(bounded), &strings, max_cell);
                out.member(&name, &mut csv, Some(Format::Csv));
            }
            Err(e) => out.unreadable_here(&format!("{part}: corrupt spreadsheet part: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(sheet: &str, strings: &Strings) -> String {
        let mut s = String::new();
        SheetCsv::new(sheet.as_bytes(), strings, 1 << 20)
            .read_to_string(&mut s)
            .unwrap();
        s
    }

    #[test]
    fn cells_become_csv_rows_in_their_columns() {
        let strings = shared_strings(
            &br#"<sst><si><t>name</t></si><si><r><t>Ann </t></r><r><t>Smith</t></r><rPh><t>x</t></rPh></si><si><t>a,"b"</t></si></sst>"#[..],
            1 << 20,
        )
        .unwrap();
        let sheet = r#"<worksheet><sheetData>
            <row r="1"><c r="A1" t="s"><v>0</v></c><c r="C1" t="inlineStr"><is><t>card</t></is></c></row>
            <row r="2"><c r="A2" t="s"><v>1</v></c><c r="C2"><v>4111111111111111</v></c></row>
            <row r="3"><c r="B3" t="s"><v>2</v></c><c r="C3" t="str"><f>A1</f><v>x &amp; y</v></c></row>
        </sheetData></worksheet>"#;
        assert_eq!(
            csv(sheet, &strings),
            "name,,card\nAnn Smith,,4111111111111111\n,\"a,\"\"b\"\"\",x & y\n"
        );
    }

    #[test]
    fn column_letters() {
        assert_eq!(column(b"A1"), Some(0));
        assert_eq!(column(b"AA10"), Some(26));
        assert_eq!(column(b"12"), None);
    }
}
