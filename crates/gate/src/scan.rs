//! Streaming scanner over files and readers.
//!
//! Input is read in fixed-size chunks; memory stays flat whatever the input
//! size (one chunk, one structured record or token at most, and the capped
//! distinct-key sets of [`Counts`]). Text is scanned as raw bytes; a chunk is
//! scanned only up to [`text::MAX_CANDIDATE`] bytes before its end so that
//! a match straddling the boundary is seen whole in the next round, which
//! keeps [`text::LOOKBACK`] bytes for boundary and context checks.

use crate::columns::{self, FieldClass};
use crate::entity::{EntityType, Finding};
use crate::error::GateError;
use crate::records::{CategoryCount, Counts, RecordAcc};
use crate::text::{Region, LOOKBACK, MAX_CANDIDATE};
use crate::Category;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// Input formats. Structured formats are read as records so that field
/// names can classify values that carry no pattern (diagnoses, genotypes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Text,
    Csv,
    Tsv,
    /// JSON documents and NDJSON / JSON Lines (a stream of JSON values).
    Json,
    /// Containers and documents, read by [`crate::read`].
    Zip,
    Gzip,
    Tar,
    Xlsx,
    Ods,
    Docx,
    Odt,
    Pptx,
    Pdf,
    Email,
    /// Binary content of no format the gate reads.
    Binary,
}

impl Format {
    /// Chooses by file extension, else by the first bytes: `{`/`[` is JSON,
    /// a first line with tabs or commas and no spaces-heavy prose is CSV.
    pub fn detect(path: Option<&Path>, head: &[u8]) -> Format {
        let ext = path
            .and_then(|p| p.extension())
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv") => return Format::Csv,
            Some("tsv" | "tab") => return Format::Tsv,
            Some("json" | "ndjson" | "jsonl" | "geojson") => return Format::Json,
            Some("txt" | "log" | "md" | "eml") => return Format::Text,
            _ => {}
        }
        let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
        match head.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{' | b'[') => Format::Json,
            _ => sniff_delimited(head),
        }
    }

    pub(crate) fn delimiter(self) -> u8 {
        if self == Format::Tsv {
            b'\t'
        } else {
            b','
        }
    }
}

/// A delimited file has the same number of delimiters on its first two
/// lines and few spaces; prose with commas rarely has both. Misreading
/// prose as CSV would turn a stray quote into a parse error, so the bar is
/// high and anything doubtful is scanned as text.
fn sniff_delimited(head: &[u8]) -> Format {
    let mut lines = head.split(|&b| b == b'\n');
    let (Some(first), Some(second)) = (lines.next(), lines.next()) else {
        return Format::Text;
    };
    let count = |line: &[u8], c: u8| line.iter().filter(|&&b| b == c).count();
    let consistent = |c: u8, min: usize| {
        let n = count(first, c);
        n >= min && n == count(second, c) && count(first, b' ') <= n
    };
    if consistent(b'\t', 1) {
        Format::Tsv
    } else if consistent(b',', 2) {
        Format::Csv
    } else {
        Format::Text
    }
}

/// Receives what the scanner finds, in increasing offset order within a
/// record or chunk.
pub trait Sink {
    /// A recognised value; `value` is its raw bytes.
    fn finding(&mut self, f: Finding, value: &[u8]);
    /// A structured field whose name marks it sensitive (for redaction).
    fn field(&mut self, _class: &FieldClass, _start: u64, _end: u64, _value: &[u8]) {}
    /// Bytes of input consumed so far.
    fn progress(&mut self, _consumed: u64) {}
    /// The scan descends into a member of a container or a decoded run
    /// (`2021/jan.csv`, `base64@120`); findings until the matching
    /// [`Sink::leave`] have offsets into that member.
    fn enter(&mut self, _member: &str) {}
    fn leave(&mut self) {}
    /// The next finding sits in this row (1-based, after the header) and
    /// column of a table.
    fn located(&mut self, _row: u64, _column: &str) {}
    /// Content the gate could not read (`member` is empty for the input
    /// itself): the gate holds it for review.
    fn unreadable(&mut self, _member: &str, _reason: &str) {}
    /// Whether the sink ignores every event: then the members of a
    /// container may be read in parallel, their events left unsaid.
    fn summary_only(&self) -> bool {
        false
    }
}

/// Discards everything: for callers that only want the summary.
pub struct NullSink;

impl Sink for NullSink {
    fn finding(&mut self, _f: Finding, _value: &[u8]) {}
    fn summary_only(&self) -> bool {
        true
    }
}

/// Keeps every finding in memory: for payloads of bounded size.
#[derive(Default)]
pub struct CollectSink(pub Vec<Finding>);

impl Sink for CollectSink {
    fn finding(&mut self, f: Finding, _value: &[u8]) {
        self.0.push(f);
    }
}

/// Per-input result: what was found and how many distinct persons/devices
/// each category covers.
#[derive(Debug, Clone, Serialize)]
pub struct FileSummary {
    pub file: String,
    pub format: Format,
    pub bytes: u64,
    pub records: u64,
    pub findings: BTreeMap<EntityType, u64>,
    pub categories: BTreeMap<Category, CategoryCount>,
    /// Distinct persons with any sensitive category (combined data set).
    pub persons_any: u64,
    /// Records holding any personal data, sensitive or not.
    pub personal_records: u64,
    pub warnings: Vec<String>,
    /// What could not be read: never judged harmless.
    pub unreadable: Vec<Unreadable>,
}

/// Content the reader could not read, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    /// Container path below the input (`2021/jan.csv`, `a.zip!/b.pdf`);
    /// empty for the input itself.
    pub member: String,
    pub reason: String,
}

impl FileSummary {
    /// `file!/member: reason` for each unreadable part.
    pub fn unreadable_lines(&self) -> impl Iterator<Item = String> + '_ {
        self.unreadable.iter().map(|u| {
            if u.member.is_empty() {
                format!("{}: {}", self.file, u.reason)
            } else {
                format!("{}!/{}: {}", self.file, u.member, u.reason)
            }
        })
    }
}

impl FileSummary {
    pub fn total_findings(&self) -> u64 {
        self.findings.values().sum()
    }
}

/// Tunables; the defaults suit both the CLI and the gate.
#[derive(Debug, Clone, Copy)]
pub struct Scanner {
    pub chunk: usize,
    /// Longest CSV record or JSON token accepted: structured input is read a
    /// record at a time, so this bounds memory for pathological lines.
    pub max_record: usize,
    /// Bounds on containers and decoded content.
    pub limits: crate::read::Limits,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner {
            chunk: 1 << 20,
            max_record: 16 << 20,
            limits: crate::read::Limits::default(),
        }
    }
}

pub(crate) struct Feed<R> {
    pub(crate) reader: R,
    pub(crate) buf: Vec<u8>,
    pub(crate) base: u64,
    pub(crate) eof: bool,
    pub(crate) name: String,
    /// Offset of the first NUL byte read: binary data, wherever it starts.
    pub(crate) nul: Option<u64>,
}

impl<R: Read> Feed<R> {
    pub(crate) fn fill(&mut self, want: usize) -> Result<(), GateError> {
        while !self.eof && self.buf.len() < want {
            let len = self.buf.len();
            // Grown in steps: a small member must not cost a zeroed chunk.
            self.buf.resize(want.min(len * 2 + (64 << 10)), 0);
            match self.reader.read(&mut self.buf[len..]) {
                Ok(0) => {
                    self.buf.truncate(len);
                    self.eof = true;
                }
                Ok(n) => {
                    self.buf.truncate(len + n);
                    if self.nul.is_none() {
                        if let Some(p) = memchr::memchr(0, &self.buf[len..]) {
                            self.nul = Some(self.base + (len + p) as u64);
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => self.buf.truncate(len),
                Err(source) => {
                    self.buf.truncate(len);
                    return Err(GateError::Io {
                        path: self.name.clone().into(),
                        source,
                    });
                }
            }
        }
        Ok(())
    }

    fn drop_front(&mut self, n: usize) {
        self.buf.drain(..n);
        self.base += n as u64;
    }

    fn malformed(&self, format: &'static str, at: usize, detail: &str) -> GateError {
        GateError::Malformed {
            name: self.name.clone(),
            format,
            offset: self.base + at as u64,
            detail: detail.into(),
        }
    }
}

/// The state of one scan, shared by every document nested in the input:
/// one set of distinct counts, one budget of expansion.
pub(crate) struct Out<'a> {
    pub(crate) sink: &'a mut dyn Sink,
    pub(crate) findings: BTreeMap<EntityType, u64>,
    pub(crate) counts: Counts,
    pub(crate) scanner: Scanner,
    /// Container path of the document being read, outermost first.
    pub(crate) path: Vec<String>,
    pub(crate) warnings: Vec<String>,
    pub(crate) unreadable: Vec<Unreadable>,
    pub(crate) budget: crate::read::Budget,
    pub(crate) records: u64,
    /// Row, column and header of the table being read, for [`Sink::located`].
    pub(crate) row: u64,
    pub(crate) col: Option<usize>,
    pub(crate) columns: Vec<String>,
    /// Inside a decoded run: small binary results are noise, not news.
    pub(crate) quiet: bool,
    /// Where text scanning resumes after malformed structured input.
    pub(crate) resume: usize,
}

impl<'a> Out<'a> {
    pub(crate) fn new(sink: &'a mut dyn Sink, scanner: Scanner) -> Out<'a> {
        Out {
            sink,
            findings: BTreeMap::new(),
            counts: Counts::default(),
            scanner,
            path: Vec::new(),
            warnings: Vec::new(),
            unreadable: Vec::new(),
            budget: crate::read::Budget::default(),
            records: 0,
            row: 0,
            col: None,
            columns: Vec::new(),
            quiet: false,
            resume: 0,
        }
    }
}

impl Out<'_> {
    /// One recognised value at `s..e` of the input (`value` as read, after
    /// normalisation).
    fn finding(
        &mut self,
        base: u64,
        value: &[u8],
        t: EntityType,
        s: usize,
        e: usize,
        acc: &mut RecordAcc,
    ) {
        *self.findings.entry(t).or_default() += 1;
        acc.entity(t, value);
        if let Some(c) = self.col.and_then(|c| self.columns.get(c)) {
            self.sink.located(self.row, c);
        }
        self.sink.finding(
            Finding {
                entity: t,
                start: base + s as u64,
                end: base + e as u64,
            },
            value,
        );
    }

    /// Scans one structured value and records it in the current record.
    fn value(
        &mut self,
        base: u64,
        buf: &[u8],
        (fs, fe): (usize, usize),
        class: &FieldClass,
        acc: &mut RecordAcc,
        json: bool,
    ) {
        let region = Region {
            buf: &buf[..fe],
            floor: fs,
            hint: class.hint,
        };
        region.scan_normalised(fs, fe, json, &mut |t, s, e, v| {
            self.finding(base, v, t, s, e, acc)
        });
        if fe - fs >= self.scanner.limits.decode_min {
            self.decode_runs(base, &buf[..fe], fs, json);
        }
        acc.field(class, &buf[fs..fe]);
        if class.is_sensitive() && fe > fs {
            self.sink
                .field(class, base + fs as u64, base + fe as u64, &buf[fs..fe]);
        }
    }
}

impl Scanner {
    /// Scans a file, choosing the format by extension and content.
    pub fn scan_path(&self, path: &Path, sink: &mut dyn Sink) -> Result<FileSummary, GateError> {
        let mut file = std::fs::File::open(path).map_err(|source| GateError::Io {
            path: path.into(),
            source,
        })?;
        let name = path.display().to_string();
        self.scan_src(&name, crate::read::Src::File(&mut file), None, sink)
    }

    /// Scans bytes held in memory (a payload part): containers need no copy.
    pub fn scan_bytes(
        &self,
        name: &str,
        bytes: &[u8],
        format: Option<Format>,
        sink: &mut dyn Sink,
    ) -> Result<FileSummary, GateError> {
        self.scan_src(name, crate::read::Src::Bytes(bytes), format, sink)
    }

    /// Scans any reader. `format` overrides detection (`path` only lends
    /// its extension to detection).
    pub fn scan_reader(
        &self,
        name: &str,
        path: Option<&Path>,
        mut reader: impl Read,
        format: Option<Format>,
        sink: &mut dyn Sink,
    ) -> Result<FileSummary, GateError> {
        let hint = path
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned());
        let mut out = Out::new(sink, *self);
        let format = out.document(
            name,
            hint.as_deref().unwrap_or(""),
            crate::read::Src::Stream(&mut reader),
            format,
        )?;
        Ok(out.summary(name, format))
    }

    fn scan_src(
        &self,
        name: &str,
        src: crate::read::Src<'_>,
        format: Option<Format>,
        sink: &mut dyn Sink,
    ) -> Result<FileSummary, GateError> {
        let mut out = Out::new(sink, *self);
        let format = out.document(name, name, src, format)?;
        Ok(out.summary(name, format))
    }
}

impl Out<'_> {
    fn summary(self, name: &str, format: Format) -> FileSummary {
        let bytes = self.budget.top_bytes.get();
        self.sink.progress(bytes);
        FileSummary {
            file: name.into(),
            format,
            bytes,
            records: self.records,
            findings: self.findings,
            categories: self.counts.categories(),
            persons_any: self.counts.persons_any(),
            personal_records: self.counts.personal_records(),
            warnings: self.warnings,
            unreadable: self.unreadable,
        }
    }
}

impl Scanner {
    /// Text, a chunk at a time. Runs of base64 or hex are decoded and read
    /// as documents of their own; a NUL byte anywhere ends the text as
    /// binary data, which is unreadable.
    pub(crate) fn text<R: Read>(
        &self,
        feed: &mut Feed<R>,
        out: &mut Out<'_>,
    ) -> Result<u64, GateError> {
        let from = std::mem::take(&mut out.resume).min(feed.buf.len());
        let mut pos = from;
        let mut last = from;
        let mut newlines = 0u64;
        let mut nl_done = from;
        let mut utf8_done = from;
        let mut utf8_ok = true;
        let mut acc = RecordAcc::default();
        let mut runs = crate::read::RunScan::default();
        let mut rpos = from;
        loop {
            feed.fill(pos.max(rpos) + self.chunk + MAX_CANDIDATE)?;
            let nul = feed
                .nul
                .map(|n| (n - feed.base) as usize)
                .filter(|&n| n <= feed.buf.len());
            let len = nul.unwrap_or(feed.buf.len());
            let end = feed.eof || nul.is_some();
            let limit = if end { len } else { len - MAX_CANDIDATE };
            if utf8_ok {
                utf8_ok = check_utf8(
                    &feed.buf[..len],
                    &mut utf8_done,
                    limit,
                    end,
                    feed.base,
                    &feed.name,
                    &mut out.warnings,
                );
            }
            let region = Region {
                buf: &feed.buf[..len],
                floor: 0,
                hint: 0,
            };
            let base = feed.base;
            let buf = &feed.buf;
            let resume = region.scan_normalised(pos, limit, false, &mut |t, s, e, v| {
                if memchr::memchr(b'\n', &buf[last.min(s)..s]).is_some() {
                    out.counts.finish(std::mem::take(&mut acc));
                }
                out.finding(base, v, t, s, e, &mut acc);
                last = e;
            });
            let counted_to = resume.min(len);
            let mut found = Vec::new();
            runs.scan(
                &feed.buf[..len],
                rpos,
                counted_to,
                end,
                self.limits.decode_min,
                &mut found,
            );
            for (s, e) in found {
                out.decode_run(base, &feed.buf[..len], s, e);
            }
            newlines += memchr::memchr_iter(b'\n', &feed.buf[nl_done..counted_to]).count() as u64;
            out.progress(base + counted_to as u64);
            if end {
                let trailing = len > 0 && feed.buf[len - 1] != b'\n';
                if !acc.is_empty() {
                    out.counts.finish(acc);
                }
                if let Some(n) = nul {
                    out.unreadable_here(&format!(
                        "binary data (a NUL byte) at byte {} of text",
                        base + n as u64
                    ));
                }
                return Ok(newlines + u64::from(trailing));
            }
            let mut keep_from = counted_to.saturating_sub(LOOKBACK);
            if let Some(rs) = runs.start {
                if counted_to - rs > self.max_record {
                    out.unreadable_here(&format!(
                        "encoded run at byte {} longer than {} bytes (limit max_record)",
                        base + rs as u64,
                        self.max_record
                    ));
                    runs = crate::read::RunScan::default();
                } else {
                    keep_from = keep_from.min(rs);
                }
            }
            feed.drop_front(keep_from);
            runs.shift(keep_from);
            pos = counted_to - keep_from;
            rpos = pos;
            nl_done = pos;
            last = last.saturating_sub(keep_from);
            utf8_done = utf8_done.saturating_sub(keep_from);
        }
    }

    /// The first non-blank row is taken as the header: classification
    /// relies on column names, and a file without them is still scanned for
    /// patterns (its first row is then classified as names, harmlessly).
    pub(crate) fn delimited<R: Read>(
        &self,
        feed: &mut Feed<R>,
        delim: u8,
        out: &mut Out<'_>,
    ) -> Result<u64, GateError> {
        let mut pos = 0;
        let mut header: Option<Vec<FieldClass>> = None;
        let mut fields = Vec::new();
        let mut records = 0;
        if feed.buf.starts_with(b"\xef\xbb\xbf") {
            pos = 3;
        }
        loop {
            match csv_record(&feed.buf, pos, delim, feed.eof, &mut fields) {
                Ok(Some(next)) => {
                    let blank = fields.len() == 1 && fields[0].0 == fields[0].1;
                    match &header {
                        _ if blank => {}
                        None => {
                            let names: Vec<String> = fields
                                .iter()
                                .map(|&(s, e)| {
                                    String::from_utf8_lossy(&feed.buf[s..e]).into_owned()
                                })
                                .collect();
                            header = Some(names.iter().map(|n| columns::classify(n)).collect());
                            out.columns = names;
                        }
                        Some(h) => {
                            records += 1;
                            out.row = records;
                            let mut acc = RecordAcc::default();
                            for (i, &span) in fields.iter().enumerate() {
                                let class = h.get(i).copied().unwrap_or_default();
                                out.col = Some(i);
                                out.value(feed.base, &feed.buf, span, &class, &mut acc, false);
                            }
                            out.col = None;
                            out.counts.finish(acc);
                        }
                    }
                    pos = next;
                }
                Ok(None) => return Ok(records),
                Err(CsvErr::Incomplete) => {
                    feed.drop_front(pos);
                    pos = 0;
                    if feed.buf.len() >= self.max_record {
                        return Err(GateError::TooLong {
                            name: feed.name.clone(),
                            what: "CSV record",
                            offset: feed.base,
                            limit: self.max_record,
                        });
                    }
                    out.progress(feed.base);
                    feed.fill(feed.buf.len() + self.chunk)?;
                    if let Some(n) = feed.nul {
                        let at = (n - feed.base) as usize;
                        out.resume = 0;
                        return Err(feed.malformed("CSV", at, "NUL byte"));
                    }
                }
                Err(CsvErr::Malformed(at, detail)) => {
                    out.resume = pos;
                    return Err(feed.malformed("CSV", at, detail));
                }
            }
        }
    }
}

/// Forward-only UTF-8 check; returns false once the first invalid sequence
/// has been reported, since one warning per file is enough and invalid bytes
/// do not stop the (byte-oriented) scan.
fn check_utf8(
    buf: &[u8],
    done: &mut usize,
    limit: usize,
    eof: bool,
    base: u64,
    name: &str,
    warnings: &mut Vec<String>,
) -> bool {
    let end = if eof { buf.len() } else { limit };
    if *done >= end {
        return true;
    }
    match std::str::from_utf8(&buf[*done..end]) {
        Ok(_) => *done = end,
        Err(e) if e.error_len().is_none() && !eof => *done += e.valid_up_to(),
        Err(e) => {
            let at = base + (*done + e.valid_up_to()) as u64;
            warnings.push(format!(
                "{name}: invalid UTF-8 at byte {at}; scanned as bytes"
            ));
            return false;
        }
    }
    true
}

enum CsvErr {
    Incomplete,
    Malformed(usize, &'static str),
}

/// Parses one RFC 4180 record starting at `pos`, filling `fields` with the
/// raw spans (inside the quotes for quoted fields). Returns the start of the
/// next record, `None` at end of input.
fn csv_record(
    buf: &[u8],
    pos: usize,
    delim: u8,
    eof: bool,
    fields: &mut Vec<(usize, usize)>,
) -> Result<Option<usize>, CsvErr> {
    let len = buf.len();
    if pos >= len {
        return if eof {
            Ok(None)
        } else {
            Err(CsvErr::Incomplete)
        };
    }
    let more =
        |at_end: Result<Option<usize>, CsvErr>| if eof { at_end } else { Err(CsvErr::Incomplete) };
    fields.clear();
    let mut i = pos;
    loop {
        if buf.get(i) == Some(&b'"') {
            let close = quoted_end(buf, i + 1, eof)?;
            fields.push((i + 1, close));
            i = close + 1;
            match buf.get(i) {
                Some(&b) if b == delim => i += 1,
                Some(b'\n') => return Ok(Some(i + 1)),
                Some(b'\r') => return record_end_cr(buf, i, eof),
                None => return more(Ok(Some(len))),
                Some(_) => {
                    return Err(CsvErr::Malformed(
                        i,
                        "unexpected character after closing quote",
                    ))
                }
            }
            continue;
        }
        match memchr::memchr3(delim, b'\n', b'\r', &buf[i..]) {
            None => {
                fields.push((i, len));
                return more(Ok(Some(len)));
            }
            Some(p) => {
                let p = i + p;
                fields.push((i, p));
                match buf[p] {
                    b'\n' => return Ok(Some(p + 1)),
                    b'\r' => return record_end_cr(buf, p, eof),
                    _ => i = p + 1,
                }
            }
        }
    }
}

fn quoted_end(buf: &[u8], mut j: usize, eof: bool) -> Result<usize, CsvErr> {
    loop {
        match memchr::memchr(b'"', &buf[j..]) {
            None if eof => {
                return Err(CsvErr::Malformed(
                    j.saturating_sub(1),
                    "unterminated quoted field",
                ))
            }
            None => return Err(CsvErr::Incomplete),
            Some(q) => {
                let q = j + q;
                match buf.get(q + 1) {
                    Some(b'"') => j = q + 2,
                    None if !eof => return Err(CsvErr::Incomplete),
                    _ => return Ok(q),
                }
            }
        }
    }
}

fn record_end_cr(buf: &[u8], p: usize, eof: bool) -> Result<Option<usize>, CsvErr> {
    match buf.get(p + 1) {
        Some(b'\n') => Ok(Some(p + 2)),
        Some(_) => Ok(Some(p + 1)),
        None if eof => Ok(Some(p + 1)),
        None => Err(CsvErr::Incomplete),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    Value,
    ValueOrClose,
    Key,
    KeyOrClose,
    Colon,
    CommaOrClose,
}

struct Frame {
    array: bool,
    /// Class of the values inside: the current key's class in an object,
    /// inherited from the enclosing key in an array.
    class: FieldClass,
    record: bool,
}

/// Streaming JSON / NDJSON walker. Records are top-level objects, or the
/// object elements of a top-level array or of an array directly inside a
/// top-level object (`{"records": [{...}, ...]}`), in which case the outer
/// object is a mere container and not counted.
struct Json {
    stack: Vec<Frame>,
    expect: Expect,
    recs: Vec<(RecordAcc, bool)>,
    records: u64,
}

#[derive(Clone, Copy)]
enum Tok {
    Punct(u8),
    Str(usize, usize),
    Scalar(usize, usize),
}

enum JsonErr {
    Incomplete,
    Malformed(usize, &'static str),
}

fn json_token(buf: &[u8], i: usize, eof: bool) -> Result<(Tok, usize), JsonErr> {
    let b = buf[i];
    match b {
        b'{' | b'}' | b'[' | b']' | b':' | b',' => Ok((Tok::Punct(b), i + 1)),
        b'"' => {
            let mut j = i + 1;
            loop {
                match memchr::memchr2(b'"', b'\\', &buf[j..]) {
                    None if eof => return Err(JsonErr::Malformed(i, "unterminated string")),
                    None => return Err(JsonErr::Incomplete),
                    Some(p) if buf[j + p] == b'\\' => {
                        j += p + 2;
                        if j > buf.len() {
                            return Err(if eof {
                                JsonErr::Malformed(i, "unterminated string")
                            } else {
                                JsonErr::Incomplete
                            });
                        }
                    }
                    Some(p) => return Ok((Tok::Str(i + 1, j + p), j + p + 1)),
                }
            }
        }
        b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
            let e = i + buf[i..]
                .iter()
                .position(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'-')))
                .unwrap_or(buf.len() - i);
            if e == buf.len() && !eof {
                return Err(JsonErr::Incomplete);
            }
            let lit = &buf[i..e];
            let ok = matches!(lit, b"true" | b"false" | b"null")
                || (b == b'-' || b.is_ascii_digit())
                    && lit.iter().all(|c| {
                        c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-')
                    });
            if ok {
                Ok((Tok::Scalar(i, e), e))
            } else {
                Err(JsonErr::Malformed(i, "invalid literal"))
            }
        }
        _ => Err(JsonErr::Malformed(i, "unexpected character")),
    }
}

impl Json {
    fn after_value(&mut self) {
        self.expect = if self.stack.is_empty() {
            Expect::Value
        } else {
            Expect::CommaOrClose
        };
    }

    fn value_class(&self) -> FieldClass {
        self.stack.last().map(|f| f.class).unwrap_or_default()
    }

    fn open(&mut self, array: bool) {
        let d = self.stack.len();
        let record = !array
            && (d == 0
                || (self.stack[d - 1].array && (d == 1 || (d == 2 && !self.stack[0].array))));
        if record && d == 2 {
            if let Some(outer) = self.recs.first_mut() {
                outer.1 = true;
            }
        }
        let class = if array {
            self.value_class()
        } else {
            FieldClass::default()
        };
        self.stack.push(Frame {
            array,
            class,
            record,
        });
        if record {
            self.recs.push((RecordAcc::default(), false));
        }
        self.expect = if array {
            Expect::ValueOrClose
        } else {
            Expect::KeyOrClose
        };
    }

    fn close(&mut self, array: bool, counts: &mut Counts) -> Result<(), &'static str> {
        let frame = self.stack.pop().ok_or("unbalanced close")?;
        if frame.array != array {
            return Err("mismatched bracket");
        }
        if frame.record {
            if let Some((acc, container)) = self.recs.pop() {
                if !container {
                    self.records += 1;
                    counts.finish(acc);
                }
            }
        }
        self.after_value();
        Ok(())
    }

    fn step(
        &mut self,
        tok: &Tok,
        buf: &[u8],
        base: u64,
        out: &mut Out<'_>,
    ) -> Result<(), &'static str> {
        use Expect as E;
        match (*tok, self.expect) {
            (Tok::Punct(b'{'), E::Value | E::ValueOrClose) => self.open(false),
            (Tok::Punct(b'['), E::Value | E::ValueOrClose) => self.open(true),
            (Tok::Punct(b'}'), E::KeyOrClose | E::CommaOrClose) => {
                self.close(false, &mut out.counts)?
            }
            (Tok::Punct(b']'), E::ValueOrClose | E::CommaOrClose) => {
                self.close(true, &mut out.counts)?
            }
            (Tok::Punct(b':'), E::Colon) => self.expect = E::Value,
            (Tok::Punct(b','), E::CommaOrClose) => {
                self.expect = if self.stack.last().is_some_and(|f| f.array) {
                    E::Value
                } else {
                    E::Key
                }
            }
            (Tok::Str(s, e), E::Key | E::KeyOrClose) => {
                let class = columns::classify(&String::from_utf8_lossy(&buf[s..e]));
                if let Some(f) = self.stack.last_mut() {
                    f.class = class;
                }
                self.expect = E::Colon;
            }
            (Tok::Str(s, e) | Tok::Scalar(s, e), E::Value | E::ValueOrClose) => {
                let class = self.value_class();
                match self.recs.last_mut() {
                    Some((acc, _)) => out.value(base, buf, (s, e), &class, acc, true),
                    None => {
                        let mut acc = RecordAcc::default();
                        out.value(base, buf, (s, e), &class, &mut acc, true);
                        self.records += 1;
                        out.counts.finish(acc);
                    }
                }
                self.after_value();
            }
            _ => return Err("unexpected token"),
        }
        Ok(())
    }
}

impl Scanner {
    pub(crate) fn json<R: Read>(
        &self,
        feed: &mut Feed<R>,
        out: &mut Out<'_>,
    ) -> Result<u64, GateError> {
        let mut st = Json {
            stack: Vec::new(),
            expect: Expect::Value,
            recs: Vec::new(),
            records: 0,
        };
        let mut pos = if feed.buf.starts_with(b"\xef\xbb\xbf") {
            3
        } else {
            0
        };
        loop {
            while pos < feed.buf.len() && feed.buf[pos].is_ascii_whitespace() {
                pos += 1;
            }
            if pos == feed.buf.len() {
                if feed.eof {
                    if !st.stack.is_empty() {
                        out.resume = pos;
                        return Err(feed.malformed("JSON", pos, "unexpected end of input"));
                    }
                    return Ok(st.records);
                }
                self.refill(feed, &mut pos, out)?;
                continue;
            }
            match json_token(&feed.buf, pos, feed.eof) {
                Ok((tok, next)) => {
                    if let Err(d) = st.step(&tok, &feed.buf, feed.base, out) {
                        out.resume = pos;
                        return Err(feed.malformed("JSON", pos, d));
                    }
                    pos = next;
                }
                Err(JsonErr::Incomplete) => self.refill(feed, &mut pos, out)?,
                Err(JsonErr::Malformed(at, d)) => {
                    out.resume = pos;
                    return Err(feed.malformed("JSON", at, d));
                }
            }
        }
    }

    fn refill<R: Read>(
        &self,
        feed: &mut Feed<R>,
        pos: &mut usize,
        out: &mut Out<'_>,
    ) -> Result<(), GateError> {
        feed.drop_front(*pos);
        *pos = 0;
        if feed.buf.len() >= self.max_record {
            return Err(GateError::TooLong {
                name: feed.name.clone(),
                what: "JSON token",
                offset: feed.base,
                limit: self.max_record,
            });
        }
        out.progress(feed.base);
        feed.fill(feed.buf.len() + self.chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing() {
        assert_eq!(Format::detect(None, b"a,b,c\n1,2,3\n"), Format::Csv);
        assert_eq!(Format::detect(None, b"a\tb\n1\t2\n"), Format::Tsv);
        assert_eq!(
            Format::detect(None, b"Hello, world, and you\nBye now\n"),
            Format::Text
        );
        assert_eq!(Format::detect(None, b"  [1,2]"), Format::Json);
        assert_eq!(
            Format::detect(Some(Path::new("x.NDJSON")), b"a,b,c\n1,2,3\n"),
            Format::Json
        );
    }
}
