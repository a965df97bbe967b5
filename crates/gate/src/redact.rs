//! Redacted copies of a payload.
//!
//! The copy is streamed: the scanner reads the input once, and a second
//! reader over the same file copies the bytes between findings, so memory
//! stays flat. Replacements keep the container valid: nothing they contain
//! needs quoting in CSV or escaping in JSON, and a bare JSON number is
//! replaced by a number. Coordinates are coarsened to one decimal (about
//! 11 km) instead of hidden, which keeps them useful and takes them out of
//! "precise geolocation" (28 CFR 202.242).

use crate::columns::FieldClass;
use crate::entity::{EntityType, Finding};
use crate::error::GateError;
use crate::scan::{FileSummary, Scanner, Sink};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::io::{Read, Write};
use std::path::Path;

/// How values are replaced.
#[derive(Clone)]
pub enum RedactMode {
    /// `[email]`, `[redacted]`: nothing of the value survives.
    Mask,
    /// `email_3f9a1c0b2d`: HMAC-SHA256 under a key drawn per transfer, so
    /// the recipient can correlate records within the transfer but not
    /// across transfers or back to the value.
    Pseudonym { key: [u8; 32] },
}

impl RedactMode {
    /// A pseudonym mode with a fresh random key.
    pub fn fresh_pseudonym() -> Result<RedactMode, GateError> {
        let mut key = [0u8; 32];
        getrandom::getrandom(&mut key).map_err(|e| GateError::Io {
            path: "getrandom".into(),
            source: std::io::Error::other(e.to_string()),
        })?;
        Ok(RedactMode::Pseudonym { key })
    }

    fn tag(&self, label: &str, value: &[u8]) -> Option<[u8; 32]> {
        let RedactMode::Pseudonym { key } = self else {
            return None;
        };
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
        mac.update(label.as_bytes());
        mac.update(&[0]);
        mac.update(value);
        Some(mac.finalize().into_bytes().into())
    }

    /// The replacement for `value`; `in_string` tells whether the value
    /// sits inside quotes (so any text is safe) or may be a bare number.
    pub fn replacement(&self, label: &str, value: &[u8], in_string: bool) -> Vec<u8> {
        let numeric = !value.is_empty()
            && value
                .iter()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+'));
        if label == EntityType::GeoCoordinate.as_str() && numeric {
            return coarsen(value);
        }
        if numeric && !in_string {
            // A leading zero would make an invalid JSON number, hence 1-9 first.
            let tag = self.tag(label, value);
            let mut first = true;
            return value
                .iter()
                .enumerate()
                .map(|(i, &b)| {
                    if !b.is_ascii_digit() {
                        return b;
                    }
                    let r = tag.map_or(8, |t| t[i % 32]);
                    let lead = std::mem::replace(&mut first, false);
                    if lead {
                        b'1' + r % 9
                    } else {
                        b'0' + r % 10
                    }
                })
                .collect();
        }
        match self.tag(label, value) {
            Some(t) => format!("{label}_{}", hex::encode(&t[..5])).into_bytes(),
            None => format!("[{label}]").into_bytes(),
        }
    }
}

/// Keeps one decimal: 55.7558 -> 55.7.
fn coarsen(value: &[u8]) -> Vec<u8> {
    match value.iter().position(|&b| b == b'.') {
        Some(p) => value[..(p + 2).min(value.len())].to_vec(),
        None => value.to_vec(),
    }
}

struct Span {
    start: u64,
    end: u64,
    label: String,
    value: Vec<u8>,
}

struct Redactor<'a, R, W> {
    source: R,
    out: W,
    mode: &'a RedactMode,
    pending: Vec<Span>,
    copied: u64,
    last_byte: u8,
    error: Option<std::io::Error>,
    /// Members entered (a zip entry, a decoded run): findings there have no
    /// place in the copied bytes, so the copy fails rather than leak them.
    members: Vec<String>,
}

impl<R: Read, W: Write> Redactor<'_, R, W> {
    /// A finding inside a container cannot be masked in a byte copy.
    fn nested(&mut self) -> bool {
        if let Some(m) = self.members.last() {
            let msg = format!("sensitive data inside {m}: redaction cannot reach into containers or encoded content");
            self.error.get_or_insert(std::io::Error::other(msg));
            return true;
        }
        false
    }

    fn copy_to(&mut self, upto: u64) -> std::io::Result<()> {
        let n = upto.saturating_sub(self.copied);
        if n == 0 {
            return Ok(());
        }
        let mut limited = (&mut self.source).take(n);
        let mut buf = [0u8; 8192];
        loop {
            let k = limited.read(&mut buf)?;
            if k == 0 {
                break;
            }
            self.last_byte = buf[k - 1];
            self.out.write_all(&buf[..k])?;
        }
        self.copied = upto;
        Ok(())
    }

    fn skip_to(&mut self, upto: u64) -> std::io::Result<()> {
        let n = upto.saturating_sub(self.copied);
        std::io::copy(&mut (&mut self.source).take(n), &mut std::io::sink())?;
        self.copied = upto;
        Ok(())
    }

    /// Writes every pending span that ends at or before `upto`. Spans that
    /// overlap (a finding inside a sensitive field) collapse into the outer
    /// one.
    fn flush(&mut self, upto: u64) -> std::io::Result<()> {
        self.pending
            .sort_by_key(|s| (s.start, std::cmp::Reverse(s.end)));
        let mut keep = Vec::new();
        for span in std::mem::take(&mut self.pending) {
            if span.end > upto {
                keep.push(span);
                continue;
            }
            if span.start < self.copied {
                continue;
            }
            self.copy_to(span.start)?;
            let in_string = self.last_byte == b'"';
            let rep = self.mode.replacement(&span.label, &span.value, in_string);
            self.out.write_all(&rep)?;
            self.skip_to(span.end)?;
        }
        self.pending = keep;
        Ok(())
    }

    fn note(&mut self, r: std::io::Result<()>) {
        if let Err(e) = r {
            self.error.get_or_insert(e);
        }
    }
}

impl<R: Read, W: Write> Sink for Redactor<'_, R, W> {
    fn finding(&mut self, f: Finding, value: &[u8]) {
        if self.nested() {
            return;
        }
        self.pending.push(Span {
            start: f.start,
            end: f.end,
            label: f.entity.as_str().into(),
            value: value.to_vec(),
        });
    }

    fn field(&mut self, class: &FieldClass, start: u64, end: u64, value: &[u8]) {
        if self.nested() {
            return;
        }
        let label = class.category.map_or("redacted", |c| c.as_str());
        self.pending.push(Span {
            start,
            end,
            label: label.into(),
            value: value.to_vec(),
        });
    }

    fn progress(&mut self, consumed: u64) {
        let r = self.flush(consumed);
        self.note(r);
    }

    fn enter(&mut self, member: &str) {
        self.members.push(member.to_string());
    }

    fn leave(&mut self) {
        self.members.pop();
    }
}

/// Writes a redacted copy of `input` to `output` and returns the scan
/// summary of the original.
pub fn redact_file(
    scanner: &Scanner,
    input: &Path,
    output: &Path,
    mode: &RedactMode,
) -> Result<FileSummary, GateError> {
    let scan_in = std::fs::File::open(input).map_err(|source| io_err(input, source))?;
    let copy_in = std::io::BufReader::new(
        std::fs::File::open(input).map_err(|source| io_err(input, source))?,
    );
    let out = std::io::BufWriter::new(
        std::fs::File::create(output).map_err(|source| io_err(output, source))?,
    );
    let mut r = Redactor {
        source: copy_in,
        out,
        mode,
        pending: Vec::new(),
        copied: 0,
        last_byte: 0,
        error: None,
        members: Vec::new(),
    };
    let summary = scanner.scan_reader(
        &input.display().to_string(),
        Some(input),
        scan_in,
        None,
        &mut r,
    )?;
    finish(&mut r, u64::MAX).map_err(|source| io_err(output, source))?;
    Ok(summary)
}

fn io_err(path: &Path, source: std::io::Error) -> GateError {
    GateError::Io {
        path: path.into(),
        source,
    }
}

/// In-memory variant for payloads already held by the caller.
pub fn redact_bytes(
    scanner: &Scanner,
    name: &str,
    input: &[u8],
    mode: &RedactMode,
) -> Result<(Vec<u8>, FileSummary), GateError> {
    let mut r = Redactor {
        source: input,
        out: Vec::new(),
        mode,
        pending: Vec::new(),
        copied: 0,
        last_byte: 0,
        error: None,
        members: Vec::new(),
    };
    let summary = scanner.scan_reader(name, Some(Path::new(name)), input, None, &mut r)?;
    finish(&mut r, u64::MAX).map_err(|source| GateError::Io {
        path: name.into(),
        source,
    })?;
    Ok((r.out, summary))
}

fn finish<R: Read, W: Write>(r: &mut Redactor<'_, R, W>, end: u64) -> std::io::Result<()> {
    if let Some(e) = r.error.take() {
        return Err(e);
    }
    r.flush(end)?;
    std::io::copy(&mut r.source, &mut r.out)?;
    r.out.flush()
}
