//! The one reader every path goes through (`detente scan`, `gate check`,
//! request attachments, STIX objects served over TAXII): it recognises
//! containers and documents by their first bytes, opens them within
//! [`Limits`], and hands what they hold to the text, CSV and JSON scanners
//! with one set of distinct counts for the whole input.
//!
//! Read: gzip, zip, tar (nested to [`Limits::max_depth`]); XLSX (streamed
//! sheet by sheet as CSV, [`crate::sheet`]), XLS and ODS (calamine); DOCX, PPTX, ODT, ODP (the text of
//! their XML parts); PDF text (lopdf); e-mail (mail-parser: headers,
//! bodies, attachments); base64, base64url and hex runs of at least
//! [`Limits::decode_min`] characters in text and in field values (STIX
//! `payload_bin` among them). What cannot be read (an encrypted entry, a
//! format not supported, binary content above a small size, a corrupt
//! document, a limit reached) is recorded as unreadable, which the policy
//! holds for review: nothing is dropped silently.

use crate::error::GateError;
use crate::scan::{Feed, Format, Out};
use crate::text::MAX_CANDIDATE;
use std::cell::Cell;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// Bounds on what the reader expands; each refusal names the limit.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Containers inside containers (a zip in a zip is depth 2).
    pub max_depth: usize,
    /// Members (archive entries, attachments, decoded runs) per input.
    pub max_entries: u64,
    /// Bytes produced by decompression and decoding, per input.
    pub max_expanded: u64,
    /// Expansion of one compressed stream over its compressed size...
    pub max_ratio: u64,
    /// ...once it has produced this many bytes (small files compress well).
    pub ratio_after: u64,
    /// Binary content of no known format up to this size is skipped (a hash,
    /// a key, an icon); above it, it is unreadable.
    pub binary_allowance: u64,
    /// Documents parsed whole (PDF, spreadsheets, e-mail, decoded runs).
    pub max_document: u64,
    /// Shortest base64/hex run that is decoded.
    pub decode_min: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 4,
            max_entries: 100_000,
            max_expanded: 16 << 30,
            max_ratio: 200,
            ratio_after: 1 << 20,
            binary_allowance: 16 << 10,
            max_document: 256 << 20,
            decode_min: 64,
        }
    }
}

/// What one input has used of its [`Limits`]. The totals are shared with
/// the workers that read members in parallel ([`crate::par`]), so the
/// limits hold for the whole input whichever thread reads.
#[derive(Default)]
pub(crate) struct Budget {
    pub(crate) top_bytes: Cell<u64>,
    pub(crate) expanded: Arc<AtomicU64>,
    pub(crate) entries: Arc<AtomicU64>,
    /// The limit a [`Bounded`] reader tripped, to name it in the refusal.
    pub(crate) tripped: Arc<Mutex<Option<String>>>,
}

impl Budget {
    fn take_tripped(&self) -> Option<String> {
        self.tripped.lock().map(|mut t| t.take()).unwrap_or(None)
    }
}

/// Where a document's bytes are: whole in memory or a file can be seeked
/// (a zip's directory is at its end); a stream is spooled when it must be.
pub(crate) enum Src<'r> {
    Bytes(&'r [u8]),
    File(&'r mut std::fs::File),
    Stream(&'r mut dyn Read),
}

/// A document parsed whole, which threads can share: a slice, or a file
/// read at positions (a zip's entries are read on several cores).
#[derive(Clone, Copy)]
pub(crate) enum Whole<'a> {
    Bytes(&'a [u8]),
    File(&'a std::fs::File),
}

/// A seekable reader of a [`Whole`] with a position of its own.
#[derive(Clone)]
pub(crate) struct At<'a> {
    src: Whole<'a>,
    pos: u64,
}

impl<'a> At<'a> {
    fn new(src: Whole<'a>) -> At<'a> {
        At { src, pos: 0 }
    }

    fn len(&self) -> std::io::Result<u64> {
        match self.src {
            Whole::Bytes(b) => Ok(b.len() as u64),
            Whole::File(f) => f.metadata().map(|m| m.len()),
        }
    }
}

impl Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = match self.src {
            Whole::Bytes(b) => {
                let rest = b.get(self.pos as usize..).unwrap_or(&[]);
                let n = rest.len().min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                n
            }
            Whole::File(f) => std::os::unix::fs::FileExt::read_at(f, buf, self.pos)?,
        };
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for At<'_> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let (base, off) = match to {
            SeekFrom::Start(p) => (0, p as i64),
            SeekFrom::End(d) => (self.len()?, d),
            SeekFrom::Current(d) => (self.pos, d),
        };
        self.pos = base
            .checked_add_signed(off)
            .ok_or_else(|| std::io::Error::other("seek before the start"))?;
        Ok(self.pos)
    }
}

enum Kind {
    Zip,
    Gzip,
    Tar,
    Pdf,
    Ole,
    Mail,
    Unsupported(&'static str),
    Plain,
}

fn sniff(head: &[u8], hint: &str) -> Kind {
    let starts = |m: &[u8]| head.starts_with(m);
    if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") || starts(b"PK\x07\x08") {
        return Kind::Zip;
    }
    if starts(b"\x1f\x8b") {
        return Kind::Gzip;
    }
    if head.len() >= 262 && &head[257..262] == b"ustar" {
        return Kind::Tar;
    }
    if memchr::memmem::find(&head[..head.len().min(1024)], b"%PDF-").is_some() {
        return Kind::Pdf;
    }
    if starts(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") {
        return Kind::Ole;
    }
    const OTHER: &[(&[u8], &str)] = &[
        (b"7z\xbc\xaf\x27\x1c", "7z archive"),
        (b"Rar!\x1a\x07", "RAR archive"),
        (b"BZh", "bzip2 stream"),
        (b"\xfd7zXZ\x00", "xz stream"),
        (b"\x28\xb5\x2f\xfd", "zstd stream"),
    ];
    if let Some((_, what)) = OTHER.iter().find(|(m, _)| starts(m)) {
        return Kind::Unsupported(what);
    }
    let eml = hint.to_ascii_lowercase().ends_with(".eml");
    if eml || looks_like_mail(head) {
        return Kind::Mail;
    }
    Kind::Plain
}

/// An RFC 5322 header block: every line a `Name: value` field or its
/// continuation, with the fields a message has.
fn looks_like_mail(head: &[u8]) -> bool {
    let mut known = 0;
    for line in head.split(|&b| b == b'\n').take(200) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return known >= 2;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            continue;
        }
        let Some(colon) = memchr::memchr(b':', line) else {
            return false;
        };
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-') {
            return false;
        }
        const FIELDS: &[&str] = &[
            "from",
            "to",
            "subject",
            "date",
            "received",
            "message-id",
            "mime-version",
            "return-path",
            "content-type",
        ];
        if FIELDS
            .iter()
            .any(|f| name.eq_ignore_ascii_case(f.as_bytes()))
        {
            known += 1;
        }
    }
    false
}

/// Binary by its first bytes: a NUL, or more control characters than text
/// in any encoding has.
fn looks_binary(head: &[u8]) -> bool {
    if memchr::memchr(0, head).is_some() {
        return true;
    }
    let sample = &head[..head.len().min(8192)];
    let controls = sample
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c) || b == 0x7f)
        .count();
    controls * 20 > sample.len()
}

/// Counts bytes read through it (compressed input consumed, for ratios).
struct Counting<R> {
    inner: R,
    n: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n.fetch_add(k as u64, Relaxed);
        Ok(k)
    }
}

/// Enforces the expansion limits on a decompressing reader.
pub(crate) struct Bounded<R> {
    inner: R,
    produced: u64,
    /// Compressed bytes behind what was produced so far.
    source: Arc<AtomicU64>,
    total: Arc<AtomicU64>,
    tripped: Arc<Mutex<Option<String>>>,
    limits: crate::read::Limits,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.produced += k as u64;
        let total = self.total.fetch_add(k as u64, Relaxed) + k as u64;
        let l = &self.limits;
        let why = if total > l.max_expanded {
            Some(format!(
                "expands to more than {} bytes in all (limit max_expanded)",
                l.max_expanded
            ))
        } else if self.produced > l.ratio_after
            && self.produced / self.source.load(Relaxed).max(1) > l.max_ratio
        {
            Some(format!(
                "expands more than {} times its compressed size (limit max_ratio)",
                l.max_ratio
            ))
        } else {
            None
        };
        match why {
            Some(w) => {
                if let Ok(mut t) = self.tripped.lock() {
                    *t = Some(w.clone());
                }
                Err(std::io::Error::other(w))
            }
            None => Ok(k),
        }
    }
}

/// Makes [`Bounded`] readers for one input, on any thread.
#[derive(Clone)]
pub(crate) struct Bounder {
    total: Arc<AtomicU64>,
    tripped: Arc<Mutex<Option<String>>>,
    limits: Limits,
}

impl Bounder {
    pub(crate) fn wrap<R: Read>(&self, inner: R, source: Arc<AtomicU64>) -> Bounded<R> {
        Bounded {
            inner,
            produced: 0,
            source,
            total: self.total.clone(),
            tripped: self.tripped.clone(),
            limits: self.limits,
        }
    }
}

/// Disk for a stream that must be seeked or parsed whole; memory first.
fn spool(head: &[u8], rest: &mut dyn Read, limit: u64) -> std::io::Result<Spooled> {
    let mut mem = head.to_vec();
    (&mut *rest).take(8 << 20).read_to_end(&mut mem)?;
    let mut probe = [0u8; 1];
    let n = rest.read(&mut probe)?;
    if n == 0 {
        return Ok(Spooled::Mem(mem));
    }
    let mut f = tempfile::tempfile()?;
    f.write_all(&mem)?;
    f.write_all(&probe[..n])?;
    std::io::copy(&mut rest.take(limit), &mut f)?;
    f.seek(SeekFrom::Start(0))?;
    Ok(Spooled::File(f))
}

enum Spooled {
    Mem(Vec<u8>),
    File(std::fs::File),
}

/// Base64/hex runs in text, tracked across chunks.
#[derive(Debug, Default)]
pub(crate) struct RunScan {
    pub(crate) start: Option<usize>,
    line: usize,
    chars: usize,
}

const fn b64_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_');
        i += 1;
    }
    t
}

static B64: [bool; 256] = b64_table();

impl RunScan {
    /// Finds runs in `from..to` of `buf`; a run still open at `to` stays
    /// open unless `end`. Lines of a wrapped block (MIME, PEM: at least 60
    /// characters, a multiple of 4) continue the run across the break.
    pub(crate) fn scan(
        &mut self,
        buf: &[u8],
        from: usize,
        to: usize,
        end: bool,
        min: usize,
        found: &mut Vec<(usize, usize)>,
    ) {
        // Every run reported holds `window` encoded bytes in a row (a
        // wrapped block's first line has at least 60), so outside a run
        // the scan may look `window` bytes ahead: if that byte is not
        // base64, no run starts before it.
        let window = min.clamp(1, 60);
        let mut i = from;
        while i < to {
            if self.start.is_none() && i + window <= to {
                let probe = i + window - 1;
                if !B64[usize::from(buf[probe])] {
                    i = probe + 1;
                    continue;
                }
                let mut s = probe;
                while s > i && B64[usize::from(buf[s - 1])] {
                    s -= 1;
                }
                i = s;
            }
            let b = buf[i];
            if B64[usize::from(b)] {
                if self.start.is_none() {
                    self.start = Some(i);
                    self.chars = 0;
                    self.line = 0;
                }
                self.chars += 1;
                self.line += 1;
                i += 1;
                continue;
            }
            if self.start.is_some() {
                if matches!(b, b'\n' | b'\r') && self.line >= 60 && self.line.is_multiple_of(4) {
                    let j = i + 1 + usize::from(b == b'\r' && buf.get(i + 1) == Some(&b'\n'));
                    if buf
                        .get(j)
                        .is_some_and(|&c| B64[usize::from(c)] && c != b'=')
                    {
                        self.line = 0;
                        i = j;
                        continue;
                    }
                }
                self.close(i, min, found);
            }
            i += 1;
        }
        if end && self.start.is_some() {
            self.close(to, min, found);
        }
    }

    fn close(&mut self, i: usize, min: usize, found: &mut Vec<(usize, usize)>) {
        if let Some(s) = self.start.take() {
            if self.chars >= min {
                found.push((s, i));
            }
        }
    }

    pub(crate) fn shift(&mut self, by: usize) {
        if let Some(s) = &mut self.start {
            *s -= by;
        }
    }
}

/// Decodes a run: hex when it is all hex digits of even length, else
/// base64 or base64url, padded or not. `None` when it decodes to nothing.
fn decode(encoded: &[u8]) -> Option<(Vec<u8>, &'static str)> {
    use base64::engine::{general_purpose::GeneralPurpose, DecodePaddingMode};
    use base64::Engine as _;
    let chars: Vec<u8> = encoded
        .iter()
        .copied()
        .filter(|b| !matches!(b, b'\n' | b'\r'))
        .collect();
    if chars.len().is_multiple_of(2) && chars.iter().all(u8::is_ascii_hexdigit) {
        return hex::decode(&chars).ok().map(|d| (d, "hex"));
    }
    let mut b64: Vec<u8> = chars
        .iter()
        .filter(|&&b| b != b'=')
        .map(|&b| match b {
            b'-' => b'+',
            b'_' => b'/',
            other => other,
        })
        .collect();
    if b64.len() % 4 == 1 {
        b64.pop();
    }
    let engine = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireNone),
    );
    engine
        .decode(&b64)
        .ok()
        .filter(|d| !d.is_empty())
        .map(|d| (d, "base64"))
}

fn basename(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name)
}

impl Out<'_> {
    /// Emits nothing at depth 0 only: nested offsets are not the input's.
    pub(crate) fn progress(&mut self, at: u64) {
        if self.path.is_empty() {
            self.sink.progress(at);
        }
    }

    fn member_path(&self) -> String {
        self.path.join("!/")
    }

    /// Records that the current document (or part of it) is unreadable.
    pub(crate) fn unreadable_here(&mut self, reason: &str) {
        let member = self.member_path();
        self.sink.unreadable(&member, reason);
        if self.unreadable.len() >= 1000 {
            return;
        }
        self.unreadable.push(crate::scan::Unreadable {
            member,
            reason: reason.to_string(),
        });
    }

    /// Reads a document: `name` labels it in messages, `hint` lends its
    /// extension to format detection.
    pub(crate) fn document(
        &mut self,
        name: &str,
        hint: &str,
        src: Src<'_>,
        forced: Option<Format>,
    ) -> Result<Format, GateError> {
        let top = self.path.is_empty();
        let (format, size) = match src {
            Src::Bytes(b) => {
                let mut r = b;
                (
                    self.doc(name, hint, &mut r, Some(b), None, forced)?,
                    b.len() as u64,
                )
            }
            Src::File(f) => {
                let size = f.metadata().map(|m| m.len()).unwrap_or(0);
                let mut clone = f.try_clone().map_err(|source| GateError::Io {
                    path: name.into(),
                    source,
                })?;
                (
                    self.doc(name, hint, &mut clone, None, Some(f), forced)?,
                    size,
                )
            }
            Src::Stream(r) => {
                let n = Arc::new(AtomicU64::new(0));
                let mut c = Counting {
                    inner: r,
                    n: n.clone(),
                };
                let f = self.doc(name, hint, &mut c, None, None, forced)?;
                (f, n.load(Relaxed))
            }
        };
        if top {
            self.budget.top_bytes.set(size);
        }
        Ok(format)
    }

    fn doc(
        &mut self,
        name: &str,
        hint: &str,
        reader: &mut dyn Read,
        bytes: Option<&[u8]>,
        file: Option<&mut std::fs::File>,
        forced: Option<Format>,
    ) -> Result<Format, GateError> {
        let sc = self.scanner;
        let mut feed = Feed {
            reader,
            buf: Vec::with_capacity(sc.chunk + MAX_CANDIDATE),
            base: 0,
            eof: false,
            name: name.into(),
            nul: None,
        };
        feed.fill(sc.chunk.max(2 * MAX_CANDIDATE))?;
        let kind = match forced {
            Some(_) => Kind::Plain,
            None => sniff(&feed.buf, hint),
        };
        let io = |source| GateError::Io {
            path: name.into(),
            source,
        };
        match kind {
            Kind::Plain => self.leaf(&mut feed, hint, forced),
            Kind::Unsupported(what) => {
                self.unreadable_here(&format!("{what}: format not supported"));
                Ok(Format::Binary)
            }
            Kind::Gzip => {
                let consumed = Arc::new(AtomicU64::new(0));
                let chain = Counting {
                    inner: (&feed.buf[..]).chain(&mut feed.reader),
                    n: consumed.clone(),
                };
                let mut r = self.bounded(flate2::read::MultiGzDecoder::new(chain), consumed);
                let inner = basename(hint);
                let inner = inner
                    .strip_suffix(".tgz")
                    .map(|s| format!("{s}.tar"))
                    .or_else(|| inner.strip_suffix(".gz").map(String::from))
                    .unwrap_or_else(|| "gunzip".into());
                self.member(&inner, &mut r, None);
                Ok(Format::Gzip)
            }
            Kind::Tar => {
                let chain = (&feed.buf[..]).chain(&mut feed.reader);
                self.tar(chain);
                Ok(Format::Tar)
            }
            Kind::Zip | Kind::Pdf | Kind::Ole | Kind::Mail => {
                if let Some(b) = bytes {
                    return self.whole(kind, hint, Whole::Bytes(b));
                }
                if let Some(f) = file {
                    return self.whole(kind, hint, Whole::File(f));
                }
                let limit = match kind {
                    Kind::Zip => sc.limits.max_expanded,
                    _ => sc.limits.max_document,
                };
                match spool(&feed.buf, &mut feed.reader, limit).map_err(io)? {
                    Spooled::Mem(m) => self.whole(kind, hint, Whole::Bytes(&m)),
                    Spooled::File(f) => self.whole(kind, hint, Whole::File(&f)),
                }
            }
        }
    }

    pub(crate) fn bounded<R: Read>(&self, inner: R, source: Arc<AtomicU64>) -> Bounded<R> {
        self.bounder().wrap(inner, source)
    }

    /// What wraps readers in this input's limits, for another thread.
    pub(crate) fn bounder(&self) -> Bounder {
        Bounder {
            total: self.budget.expanded.clone(),
            tripped: self.budget.tripped.clone(),
            limits: self.scanner.limits,
        }
    }

    /// Text, CSV or JSON; binary content is skipped when small, else
    /// unreadable. Malformed CSV/JSON is read on as text from where it broke.
    fn leaf(
        &mut self,
        feed: &mut Feed<&mut dyn Read>,
        hint: &str,
        forced: Option<Format>,
    ) -> Result<Format, GateError> {
        let sc = self.scanner;
        if forced.is_none() && looks_binary(&feed.buf) {
            return self.binary(feed);
        }
        let format = forced.unwrap_or_else(|| {
            let head = &feed.buf[..feed.buf.len().min(8192)];
            Format::detect(Some(Path::new(hint)), head)
        });
        let r = match format {
            Format::Csv | Format::Tsv => sc.delimited(feed, format.delimiter(), self),
            Format::Json => sc.json(feed, self),
            _ => sc.text(feed, self),
        };
        let records = match r {
            Ok(n) => n,
            Err(e @ (GateError::Malformed { .. } | GateError::TooLong { .. })) => {
                self.warnings
                    .push(format!("{e}; the rest is scanned as text"));
                sc.text(feed, self)?
            }
            Err(e) => return Err(e),
        };
        self.records += records;
        Ok(if format == Format::Binary {
            Format::Text
        } else {
            format
        })
    }

    fn binary(&mut self, feed: &mut Feed<&mut dyn Read>) -> Result<Format, GateError> {
        let allowance = self.scanner.limits.binary_allowance;
        let mut size = feed.buf.len() as u64;
        if !feed.eof && size <= allowance {
            size += std::io::copy(
                &mut (&mut feed.reader).take(allowance + 1 - size),
                &mut std::io::sink(),
            )
            .map_err(|source| GateError::Io {
                path: feed.name.clone().into(),
                source,
            })?;
        }
        if size > allowance {
            self.unreadable_here(&format!(
                "binary content of no format the gate reads (more than {allowance} bytes, limit binary_allowance)"
            ));
        } else if !self.quiet {
            self.warnings.push(format!(
                "{}: {size} bytes of binary content skipped",
                feed.name
            ));
        }
        Ok(Format::Binary)
    }

    /// Reads one member of a container as a document of its own, within
    /// the depth and entry limits; what fails inside it is unreadable, and
    /// the container's other members are still read.
    pub(crate) fn member(&mut self, member: &str, reader: &mut dyn Read, forced: Option<Format>) {
        self.member_src(member, Src::Stream(reader), forced);
    }

    fn member_src(&mut self, member: &str, src: Src<'_>, forced: Option<Format>) {
        self.enter_member(member, |out| {
            out.document(member, member, src, forced).map(|_| ())
        });
    }

    /// Reads a member with `read` inside the member's path, within the
    /// depth and entry limits; an error makes the member unreadable.
    pub(crate) fn enter_member(
        &mut self,
        member: &str,
        read: impl FnOnce(&mut Self) -> Result<(), GateError>,
    ) {
        let l = self.scanner.limits;
        if self.path.len() >= l.max_depth {
            self.unreadable_here(&format!(
                "{member}: nested deeper than {} containers (limit max_depth)",
                l.max_depth
            ));
            return;
        }
        let entries = self
            .budget
            .entries
            .fetch_add(u64::from(!self.quiet), Relaxed)
            + u64::from(!self.quiet);
        if entries > l.max_entries {
            if entries == l.max_entries + 1 {
                self.unreadable_here(&format!(
                    "more than {} members (limit max_entries)",
                    l.max_entries
                ));
            }
            return;
        }
        self.path.push(member.to_string());
        self.sink.enter(member);
        let saved = (std::mem::take(&mut self.columns), self.col.take(), self.row);
        let r = read(self);
        (self.columns, self.col, self.row) = saved;
        if let Err(e) = r {
            let reason = self
                .budget
                .take_tripped()
                .unwrap_or_else(|| format!("corrupt or unreadable: {e}"));
            self.unreadable_here(&reason);
        }
        self.sink.leave();
        self.path.pop();
    }

    /// Decodes the base64/hex run at `s..e` of `buf` and reads the result.
    pub(crate) fn decode_run(&mut self, base: u64, buf: &[u8], s: usize, e: usize) {
        let l = self.scanner.limits;
        if (e - s) as u64 > l.max_document {
            self.unreadable_here(&format!(
                "encoded run at byte {} longer than {} bytes (limit max_document)",
                base + s as u64,
                l.max_document
            ));
            return;
        }
        let Some((decoded, how)) = decode(&buf[s..e]) else {
            return;
        };
        let small = decoded.len() as u64 <= l.binary_allowance;
        if small && looks_binary(&decoded) && matches!(sniff(&decoded, ""), Kind::Plain) {
            return; // a hash, a key, a token: nothing to read
        }
        let total = self
            .budget
            .expanded
            .fetch_add(decoded.len() as u64, Relaxed)
            + decoded.len() as u64;
        if total > l.max_expanded {
            self.unreadable_here(&format!(
                "decoded content over {} bytes in all (limit max_expanded)",
                l.max_expanded
            ));
            return;
        }
        let quiet = std::mem::replace(&mut self.quiet, true);
        self.member_src(
            &format!("{how}@{}", base + s as u64),
            Src::Bytes(&decoded),
            None,
        );
        self.quiet = quiet;
    }

    /// Base64/hex runs inside one field value (`floor..buf.len()`).
    pub(crate) fn decode_runs(&mut self, base: u64, buf: &[u8], floor: usize, _json: bool) {
        let mut found = Vec::new();
        RunScan::default().scan(
            buf,
            floor,
            buf.len(),
            true,
            self.scanner.limits.decode_min,
            &mut found,
        );
        for (s, e) in found {
            self.decode_run(base, buf, s, e);
        }
    }

    fn tar(&mut self, r: impl Read) {
        let mut ar = tar::Archive::new(r);
        let entries = match ar.entries() {
            Ok(e) => e,
            Err(e) => return self.unreadable_here(&format!("corrupt tar archive: {e}")),
        };
        for entry in entries {
            let mut entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let why = self
                        .budget
                        .take_tripped()
                        .unwrap_or_else(|| format!("corrupt tar archive: {e}"));
                    return self.unreadable_here(&why);
                }
            };
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let name = entry
                .path()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "?".into());
            self.member(&name, &mut entry, None);
        }
    }

    /// Formats parsed from the whole document.
    fn whole(&mut self, kind: Kind, hint: &str, src: Whole<'_>) -> Result<Format, GateError> {
        let mut r = At::new(src);
        match kind {
            Kind::Zip => Ok(self.zip(r)),
            Kind::Ole => {
                crate::office::ole(self, r);
                Ok(Format::Binary)
            }
            _ => {
                let mut bytes = Vec::new();
                let max = self.scanner.limits.max_document;
                let read = (&mut r).take(max + 1).read_to_end(&mut bytes);
                if read.is_err() || bytes.len() as u64 > max {
                    self.unreadable_here(&format!(
                        "document larger than {max} bytes (limit max_document)"
                    ));
                    return Ok(Format::Binary);
                }
                if matches!(kind, Kind::Pdf) {
                    crate::office::pdf(self, &bytes);
                    Ok(Format::Pdf)
                } else {
                    crate::office::mail(self, hint, &bytes);
                    Ok(Format::Email)
                }
            }
        }
    }

    fn zip(&mut self, r: At<'_>) -> Format {
        let mut zip = match zip::ZipArchive::new(r) {
            Ok(z) => z,
            Err(e) => {
                self.unreadable_here(&format!("corrupt zip archive: {e}"));
                return Format::Zip;
            }
        };
        let l = self.scanner.limits;
        if zip.len() as u64 > l.max_entries {
            self.unreadable_here(&format!(
                "{} entries, more than {} (limit max_entries)",
                zip.len(),
                l.max_entries
            ));
            return Format::Zip;
        }
        if let Some(f) = crate::office::office_kind(&mut zip) {
            return crate::office::office(self, zip, f);
        }
        let workers = crate::par::workers(self).min(zip.len());
        if workers > 1 {
            let mut entries = 0..zip.len();
            crate::par::ordered(
                self,
                workers,
                || entries.next(),
                |ctx, i| ctx.run(|out| out.zip_entry(&mut zip.clone(), i)),
            );
        } else {
            for i in 0..zip.len() {
                self.zip_entry(&mut zip, i);
            }
        }
        Format::Zip
    }

    pub(crate) fn zip_entry<R: Read + Seek>(&mut self, zip: &mut zip::ZipArchive<R>, i: usize) {
        let (name, encrypted) = match zip.by_index_raw(i) {
            Ok(e) => (e.name().to_string(), e.encrypted()),
            Err(e) => return self.unreadable_here(&format!("corrupt zip entry {i}: {e}")),
        };
        if name.ends_with('/') {
            return;
        }
        if encrypted {
            self.path.push(name);
            self.unreadable_here("encrypted archive entry (no password)");
            self.path.pop();
            return;
        }
        match zip.by_index(i) {
            Ok(entry) => {
                let compressed = Arc::new(AtomicU64::new(entry.compressed_size()));
                let mut r = self.bounded(entry, compressed);
                self.member(&name, &mut r, None);
            }
            Err(e) => {
                self.path.push(name);
                self.unreadable_here(&format!("zip entry not readable: {e}"));
                self.path.pop();
            }
        }
    }

    /// An e-mail attachment, read like any document.
    pub(crate) fn attachment(&mut self, name: &str, bytes: &[u8]) {
        self.member_src(name, Src::Bytes(bytes), None);
    }

    /// Reads text extracted from a document (PDF pages, Office XML parts,
    /// sheets as CSV) as a member named `member`.
    pub(crate) fn extracted(&mut self, member: &str, text: &[u8], format: Format) {
        self.member_src(member, Src::Bytes(text), Some(format));
    }
}

#[cfg(test)]
mod tests {
    use super::RunScan;

    fn runs(text: &[u8], min: usize) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        RunScan::default().scan(text, 0, text.len(), true, min, &mut found);
        found
    }

    /// The look-ahead skip finds every run where a byte-by-byte scan does:
    /// right after short words, at the very start and end, and wrapped.
    #[test]
    fn runs_are_found_whatever_precedes_them() {
        let run = "QUJD".repeat(16);
        for pad in 0..70 {
            let words: String = "ab.cdef.g.".chars().cycle().take(pad).collect();
            let text = format!("{words} {run} tail");
            assert_eq!(
                runs(text.as_bytes(), 64),
                vec![(pad + 1, pad + 65)],
                "pad {pad}"
            );
        }
        assert_eq!(runs(run.as_bytes(), 64), vec![(0, 64)]);
        assert!(runs(&run.as_bytes()[..63], 64).is_empty());
        let wrapped = format!("a {}\n{}\nb", "QUJD".repeat(15), "QUJD");
        assert_eq!(runs(wrapped.as_bytes(), 64), vec![(2, 67)]);
        assert_eq!(runs(b"ab cd abcdefgh ij", 8), vec![(6, 14)]);
    }
}
