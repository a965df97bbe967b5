//! Documents the reader parses whole: Office and OpenDocument files (zip
//! containers of XML), legacy OLE files, PDF and e-mail. Each hands its text
//! to the scanners as members of the document, so a finding's path says
//! where it was (`report.docx!/word/document.xml`, `export.xlsx!/Sheet1`).

use crate::scan::{Format, Out};
use crate::xml::{unescape_into, Tok, Tokens};
use std::io::{Cursor, Read, Seek};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// The Office/OpenDocument flavour of a zip, by its parts.
pub(crate) fn office_kind<R: Read + Seek>(zip: &mut zip::ZipArchive<R>) -> Option<Format> {
    let has = |n: &str| zip.index_for_name(n).is_some();
    if has("[Content_Types].xml") {
        if has("xl/workbook.xml") {
            return Some(Format::Xlsx);
        }
        if has("word/document.xml") {
            return Some(Format::Docx);
        }
        if has("ppt/presentation.xml") {
            return Some(Format::Pptx);
        }
    }
    let mut mime = String::new();
    let mut entry = zip.by_name("mimetype").ok()?;
    (&mut entry).take(100).read_to_string(&mut mime).ok()?;
    match mime.trim() {
        "application/vnd.oasis.opendocument.spreadsheet" => Some(Format::Ods),
        "application/vnd.oasis.opendocument.text" => Some(Format::Odt),
        "application/vnd.oasis.opendocument.presentation" => Some(Format::Odt),
        _ => None,
    }
}

/// Parts that hold a document's text; embedded files are read as members,
/// pictures are not (the gate reads no images).
fn text_part(format: Format, name: &str) -> bool {
    let xml = name.ends_with(".xml");
    match format {
        Format::Docx => {
            xml && name.starts_with("word/")
                && [
                    "document",
                    "header",
                    "footer",
                    "footnotes",
                    "endnotes",
                    "comments",
                ]
                .iter()
                .any(|p| name["word/".len()..].starts_with(p))
        }
        Format::Pptx => {
            xml && (name.starts_with("ppt/slides/slide")
                || name.starts_with("ppt/notesSlides/")
                || name.starts_with("ppt/comments/"))
        }
        _ => name == "content.xml" || name == "styles.xml",
    }
}

fn embedded(name: &str) -> bool {
    [
        "word/embeddings/",
        "ppt/embeddings/",
        "xl/embeddings/",
        "Object ",
    ]
    .iter()
    .any(|p| name.starts_with(p))
}

use calamine::Reader as _;
use mail_parser::MimeHeaders as _;

pub(crate) fn office(
    out: &mut Out<'_>,
    mut zip: zip::ZipArchive<crate::read::At<'_>>,
    format: Format,
) -> Format {
    let workers = crate::par::workers(out);
    for i in 0..zip.len() {
        let Some(name) = zip.name_for_index(i).map(String::from) else {
            continue;
        };
        if embedded(&name) {
            out.zip_entry(&mut zip, i);
            continue;
        }
        if matches!(format, Format::Xlsx | Format::Ods) || !text_part(format, &name) {
            continue;
        }
        let size = match zip.by_index(i) {
            Ok(entry) => entry.compressed_size(),
            Err(e) => {
                out.unreadable_here(&format!("{name}: corrupt document part: {e}"));
                continue;
            }
        };
        let source = Arc::new(AtomicU64::new(size));
        if workers > 1 {
            // Inflated and parsed on a thread of its own, scanned on this one.
            let (mut zip, bounder) = (zip.clone(), out.bounder());
            let produce = move |pipe: &mut crate::par::Pipe| match zip.by_index(i) {
                Ok(entry) => pipe.copy(&mut XmlText::new(bounder.wrap(entry, source))),
                Err(e) => pipe.fail(std::io::Error::other(e)),
            };
            crate::par::piped(produce, |r| out.member(&name, r, Some(Format::Text)));
        } else if let Ok(entry) = zip.by_index(i) {
            let mut text = XmlText::new(out.bounded(entry, source));
            out.member(&name, &mut text, Some(Format::Text));
        }
    }
    match format {
        Format::Xlsx => crate::sheet::xlsx(out, &mut zip),
        Format::Ods => {
            let sheets = calamine::Ods::new(zip.into_inner())
                .map_err(|e| e.to_string())
                .map(|mut w| w.worksheets());
            sheets_to_csv(out, sheets);
        }
        _ => {}
    }
    format
}

fn sheets_to_csv(
    out: &mut Out<'_>,
    sheets: Result<Vec<(String, calamine::Range<calamine::Data>)>, String>,
) {
    let sheets = match sheets {
        Ok(s) => s,
        Err(e) => return out.unreadable_here(&format!("corrupt spreadsheet: {e}")),
    };
    for (name, range) in sheets {
        let mut csv = Vec::new();
        for row in range.rows() {
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    csv.push(b',');
                }
                let v = cell.to_string();
                if v.contains([',', '"', '\n', '\r']) {
                    csv.push(b'"');
                    csv.extend(v.replace('"', "\"\"").bytes());
                    csv.push(b'"');
                } else {
                    csv.extend(v.bytes());
                }
            }
            csv.push(b'\n');
        }
        out.extracted(&name, &csv, Format::Csv);
    }
}

/// The character data of an XML part as a stream, with a line break after
/// each paragraph or row and a tab after each cell, so that runs split by
/// the editor (`<w:t>4111</w:t><w:t>1111</w:t>`) join again. Streamed so
/// that a document's size costs no memory.
pub(crate) struct XmlText<R: Read> {
    xml: Tokens<R>,
    text: Vec<u8>,
    pos: usize,
    done: bool,
}

impl<R: Read> XmlText<R> {
    pub(crate) fn new(r: R) -> Self {
        XmlText {
            xml: Tokens::new(r),
            text: Vec::with_capacity(128 << 10),
            pos: 0,
            done: false,
        }
    }

    fn pump(&mut self) -> Result<(), String> {
        let text = &mut self.text;
        while text.len() < (64 << 10) && !self.done {
            let tok = self
                .xml
                .next_checked()
                .map_err(|e| format!("corrupt document part: {e}"))?;
            let Some(tok) = tok else {
                self.done = true;
                break;
            };
            match tok {
                Tok::Text(a, b) => unescape_into(self.xml.bytes((a, b)), text),
                Tok::CData(a, b) => text.extend_from_slice(self.xml.bytes((a, b))),
                Tok::End { name } => match self.xml.bytes(name) {
                    b"p" | b"h" | b"tr" | b"table-row" | b"li" => text.push(b'\n'),
                    b"tc" | b"table-cell" => text.push(b'\t'),
                    _ => {}
                },
                Tok::Start {
                    name, empty: true, ..
                } => match self.xml.bytes(name) {
                    b"tab" => text.push(b'\t'),
                    b"br" | b"cr" | b"line-break" => text.push(b'\n'),
                    b"s" => text.push(b' '),
                    _ => {}
                },
                Tok::Start { .. } => {}
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for XmlText<R> {
    fn read(&mut self, dst: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.text.len() {
            self.text.clear();
            self.pos = 0;
            self.pump().map_err(std::io::Error::other)?;
        }
        let n = dst.len().min(self.text.len() - self.pos);
        dst[..n].copy_from_slice(&self.text[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// OLE compound files: legacy Excel is read; Word/PowerPoint binaries and
/// encrypted OOXML (which Office stores in OLE) are not.
pub(crate) fn ole<R: Read + Seek>(out: &mut Out<'_>, r: R) {
    match calamine::Xls::new(r) {
        Ok(mut wb) => {
            let sheets = wb.worksheets();
            sheets_to_csv(out, Ok(sheets));
        }
        Err(_) => out.unreadable_here(
            "OLE compound file (encrypted Office document, or legacy Word/PowerPoint): format not supported",
        ),
    }
}

/// PDF text, page by page. lopdf rather than pdf-extract: one dependency
/// that also writes the test fixtures, no panics on fonts it does not know
/// (pdf-extract's common failure), and per-page extraction that keeps
/// memory to one page of text; pages without a text layer (scans) yield
/// nothing and are reported as unreadable.
pub(crate) fn pdf(out: &mut Out<'_>, bytes: &[u8]) {
    let doc = match std::panic::catch_unwind(|| lopdf::Document::load_mem(bytes)) {
        Ok(Ok(d)) => d,
        Ok(Err(lopdf::Error::Decryption(_))) => {
            return out.unreadable_here("encrypted PDF (no password)")
        }
        Ok(Err(e)) => return out.unreadable_here(&format!("corrupt PDF: {e}")),
        Err(_) => return out.unreadable_here("corrupt PDF: the parser failed"),
    };
    if doc.is_encrypted() && doc.encryption_state.is_none() {
        return out.unreadable_here("encrypted PDF (no password)");
    }
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    let mut blank = 0;
    for p in &pages {
        let text =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| doc.extract_text(&[*p])));
        match text {
            Ok(Ok(t)) if t.trim().is_empty() => blank += 1,
            Ok(Ok(t)) => out.extracted(&format!("page {p}"), t.as_bytes(), Format::Text),
            Ok(Err(e)) => out.unreadable_here(&format!("page {p}: text not extractable: {e}")),
            Err(_) => out.unreadable_here(&format!("page {p}: text not extractable")),
        }
    }
    if blank > 0 && blank == pages.len() {
        out.unreadable_here("PDF without a text layer (scanned pages?)");
    }
}

/// E-mail: the header block, every text and HTML body, every attachment
/// (a forwarded message is an attachment and is read the same way).
pub(crate) fn mail(out: &mut Out<'_>, _hint: &str, bytes: &[u8]) {
    let Some(msg) = mail_parser::MessageParser::default().parse(bytes) else {
        out.unreadable_here("corrupt e-mail message");
        return;
    };
    let header_end = memchr::memmem::find(bytes, b"\r\n\r\n")
        .or_else(|| memchr::memmem::find(bytes, b"\n\n"))
        .unwrap_or(bytes.len());
    out.extracted("headers", &bytes[..header_end], Format::Text);
    for (i, part) in msg.text_bodies().chain(msg.html_bodies()).enumerate() {
        if let Some(t) = part.text_contents() {
            out.extracted(&format!("body {}", i + 1), t.as_bytes(), Format::Text);
        }
    }
    for (i, part) in msg.attachments().enumerate() {
        let name = part
            .attachment_name()
            .map(String::from)
            .unwrap_or_else(|| format!("attachment {}", i + 1));
        let contents = match part.message() {
            Some(m) => m.raw_message(),
            None => part.contents(),
        };
        let c = Cursor::new(contents);
        out.attachment(&name, c.into_inner());
    }
}

#[cfg(test)]
mod tests {
    use super::XmlText;
    use std::io::Read as _;

    #[test]
    fn xml_text_streams_joined_runs_and_fails_on_broken_xml() {
        let para = "<w:p><w:r><w:t>4111</w:t></w:r><w:r><w:t>1111&amp;</w:t></w:r></w:p>";
        let doc = format!(
            "<w:document><w:body>{}</w:body></w:document>",
            para.repeat(20_000)
        );
        let mut text = String::new();
        XmlText::new(doc.as_bytes())
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "41111111&\n".repeat(20_000));
        let mut sink = Vec::new();
        let err = XmlText::new(&b"<w:p><w:t>x</w:p>"[..]).read_to_end(&mut sink);
        assert!(err
            .unwrap_err()
            .to_string()
            .contains("corrupt document part"));
    }
}
