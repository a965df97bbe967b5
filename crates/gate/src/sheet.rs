//! XLSX worksheets streamed as CSV. calamine loads a whole sheet into a
//! `Range` of cells before the first byte is scanned (a 16 MiB sheet took
//! a quarter of a GiB and ran at a few MB/s); here each sheet's XML is read
//! event by event straight from its zip entry and written out as CSV rows
//! that the CSV scanner reads as they come. Only the shared-string table is
//! held in memory, bounded by [`crate::read::Limits::max_document`].

use crate::error::GateError;
use crate::read::Src;
use crate::scan::{Format, Out};
use crate::xml::{unescape_into, Tok, Tokens};
use quick_xml::events::Event;
use std::io::{BufReader, Read, Seek};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

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

/// Reads `sharedStrings.xml`: the text of each `<si>` (rich-text runs
/// joined, phonetic hints left out).
pub(crate) fn shared_strings(r: impl Read, max: u64) -> Result<Strings, String> {
    let mut xml = Tokens::new(r);
    let mut s = Strings::default();
    let (mut in_t, mut in_rph) = (false, false);
    while let Some(tok) = xml.next_checked()? {
        match tok {
            Tok::Start { name, empty, .. } => match (xml.bytes(name), empty) {
                (b"t", false) => in_t = true,
                (b"rPh", false) => in_rph = true,
                (b"si", true) => s.ends.push(s.data.len()),
                _ => {}
            },
            Tok::End { name } => match xml.bytes(name) {
                b"t" => in_t = false,
                b"rPh" => in_rph = false,
                b"si" => s.ends.push(s.data.len()),
                _ => {}
            },
            Tok::Text(a, b) if in_t && !in_rph => unescape_into(xml.bytes((a, b)), &mut s.data),
            Tok::CData(a, b) if in_t && !in_rph => s.data.extend_from_slice(xml.bytes((a, b))),
            _ => {}
        }
        if s.data.len() as u64 > max {
            return Err(format!(
                "shared strings over {max} bytes (limit max_document)"
            ));
        }
    }
    Ok(s)
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
pub(crate) struct SheetCsv<'s, R: Read> {
    xml: Tokens<R>,
    out: Vec<u8>,
    pos: usize,
    /// End of the last complete row in `out`.
    row_end: usize,
    /// The first row with cells: the header a block of rows is read under.
    header: Option<Vec<u8>>,
    /// A block was handed out: the next ones begin with the header.
    blocks: bool,
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

impl<'s, R: Read> SheetCsv<'s, R> {
    pub(crate) fn new(r: R, strings: &'s Strings, max_cell: usize) -> Self {
        SheetCsv {
            xml: Tokens::new(r),
            out: Vec::with_capacity(128 << 10),
            pos: 0,
            row_end: 0,
            header: None,
            blocks: false,
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

    fn start_cell(&mut self, attrs: (usize, usize)) {
        let attrs = self.xml.bytes(attrs);
        self.cell = match crate::xml::attr(attrs, b"t") {
            Some(b"s") => Cell::Shared,
            Some(b"inlineStr") => Cell::Inline,
            _ => Cell::Plain,
        };
        self.cell_col = crate::xml::attr(attrs, b"r").and_then(column);
        self.value.clear();
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
        if memchr::memchr3(b',', b'"', b'\n', v).is_some() || memchr::memchr(b'\r', v).is_some() {
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

    fn end_row(&mut self) {
        self.out.push(b'\n');
        if self.header.is_none() && self.col > 0 {
            self.header = Some(self.out[self.row_end..].to_vec());
        }
        self.row_end = self.out.len();
    }

    fn capturing(&self) -> bool {
        self.in_v || (self.cell == Cell::Inline && self.in_t && !self.in_rph)
    }

    /// Reads tokens until `want` bytes of CSV are ready or the sheet ends.
    fn pump(&mut self, want: usize) -> Result<(), String> {
        while self.out.len() < want && !self.done {
            let Some(tok) = self.xml.next_checked()? else {
                self.done = true;
                break;
            };
            match tok {
                Tok::Start { name, attrs, empty } => match self.xml.bytes(name) {
                    b"row" if empty => self.end_row(),
                    b"row" => self.col = 0,
                    b"c" => {
                        self.start_cell(attrs);
                        if empty {
                            self.end_cell();
                        }
                    }
                    b"v" => self.in_v = !empty,
                    b"t" => self.in_t = !empty,
                    b"rPh" => self.in_rph = !empty,
                    _ => {}
                },
                Tok::End { name } => match self.xml.bytes(name) {
                    b"row" => self.end_row(),
                    b"c" => self.end_cell(),
                    b"v" => self.in_v = false,
                    b"t" => self.in_t = false,
                    b"rPh" => self.in_rph = false,
                    _ => {}
                },
                Tok::Text(a, b) if self.capturing() => {
                    unescape_into(self.xml.bytes((a, b)), &mut self.value)
                }
                Tok::CData(a, b) if self.capturing() => {
                    self.value.extend_from_slice(self.xml.bytes((a, b)))
                }
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

    /// The next block of whole rows, about `want` bytes, for a worker: the
    /// blocks after the first begin with the header row, so that each is
    /// a CSV file of its own under the sheet's columns.
    pub(crate) fn block(&mut self, want: usize) -> Result<Option<Vec<u8>>, String> {
        while self.row_end < want && !self.done {
            let more = self.out.len() + (64 << 10);
            self.pump(more)?;
        }
        let cut = if self.done {
            self.out.len()
        } else {
            self.row_end
        };
        if cut == 0 {
            return Ok(None);
        }
        let header = match &self.header {
            Some(h) if self.blocks => &h[..],
            _ => &[],
        };
        let mut block = Vec::with_capacity(header.len() + cut);
        block.extend_from_slice(header);
        block.extend_from_slice(&self.out[..cut]);
        self.out.drain(..cut);
        self.row_end -= cut.min(self.row_end);
        self.blocks = true;
        Ok(Some(block))
    }
}

impl<R: Read> Read for SheetCsv<'_, R> {
    fn read(&mut self, dst: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.out.len() {
            self.out.clear();
            self.pos = 0;
            self.row_end = 0;
            self.pump(64 << 10).map_err(std::io::Error::other)?;
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
                let compressed = Arc::new(AtomicU64::new(entry.compressed_size()));
                let bounded = out.bounded(entry, compressed);
                let mut csv = SheetCsv::new(bounded, &strings, max_cell);
                let workers = crate::par::workers(out);
                if workers > 1 {
                    out.enter_member(&name, |out| blocks(out, &mut csv, workers, &name));
                } else {
                    out.member(&name, &mut csv, Some(Format::Csv));
                }
            }
            Err(e) => out.unreadable_here(&format!("{part}: corrupt spreadsheet part: {e}")),
        }
    }
}

/// Rows of one sheet read on `workers` cores, in blocks of whole rows
/// made here as the sheet's XML is read.
fn blocks<R: Read>(
    out: &mut Out<'_>,
    csv: &mut SheetCsv<'_, R>,
    workers: usize,
    name: &str,
) -> Result<(), GateError> {
    let mut failed = None;
    let next = || match csv.block(1 << 20) {
        Ok(b) => b,
        Err(e) => {
            failed = Some(e);
            None
        }
    };
    crate::par::ordered(out, workers, next, |ctx, block: Vec<u8>| {
        ctx.run(|o| {
            if let Err(e) = o.document(name, name, Src::Bytes(&block), Some(Format::Csv)) {
                o.unreadable_here(&format!("corrupt or unreadable: {e}"));
            }
        })
    });
    match failed {
        Some(e) => Err(GateError::Io {
            path: name.into(),
            source: std::io::Error::other(e),
        }),
        None => Ok(()),
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
