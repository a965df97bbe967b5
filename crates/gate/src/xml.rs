//! A small streaming XML tokenizer for the parts whose text the gate reads
//! (worksheets, shared strings, Word and OpenDocument bodies). These parts
//! are mostly markup; finding `<` and `>` with memchr and handing out
//! ranges of one buffer costs a fraction of a general parser's events,
//! which made the parsing, not the scan, the cost of an XLSX or DOCX.
//! Still checked: every end tag closes the element it should, comments,
//! CDATA and processing instructions are recognised, entities are
//! decoded ([`unescape_into`]), and input that ends inside a tag or an
//! element is an error (the document is then unreadable, never skipped).

use std::io::Read;

/// One token; ranges index [`Tokens::bytes`] until the next call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    /// `<name attrs>`; `empty` for `<name attrs/>`. `name` is the local
    /// name (the prefix dropped).
    Start {
        name: (usize, usize),
        attrs: (usize, usize),
        empty: bool,
    },
    End {
        name: (usize, usize),
    },
    /// Character data with its entities still encoded.
    Text(usize, usize),
    /// The inside of `<![CDATA[...]]>`, literal.
    CData(usize, usize),
}

/// Longest single tag or CDATA section accepted: bounds the buffer.
const MAX_TOKEN: usize = 16 << 20;

pub(crate) struct Tokens<R> {
    r: R,
    /// Input read so far is `buf[pos..end]`.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    eof: bool,
    /// Names of the open elements, end to end, and where each ends.
    names: Vec<u8>,
    ends: Vec<usize>,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// End of a tag opened at 0: the first `>` outside quoted values. Tags
/// are short: a loop beats a memchr call per quote.
fn tag_end(t: &[u8]) -> Option<usize> {
    let mut quote = 0u8;
    for (i, &b) in t.iter().enumerate().skip(1) {
        match b {
            b'>' if quote == 0 => return Some(i),
            b'"' | b'\'' if quote == 0 => quote = b,
            _ if b == quote => quote = 0,
            _ => {}
        }
    }
    None
}

fn local(name: &[u8]) -> usize {
    name.iter().rposition(|&b| b == b':').map_or(0, |c| c + 1)
}

/// Start of the next `<`: cell values and runs are short, so the first
/// bytes are looked at before memchr is called.
fn next_lt(t: &[u8]) -> Option<usize> {
    match t.iter().take(32).position(|&b| b == b'<') {
        Some(p) => Some(p),
        None if t.len() <= 32 => None,
        None => memchr::memchr(b'<', &t[32..]).map(|p| p + 32),
    }
}

impl<R: Read> Tokens<R> {
    pub(crate) fn new(r: R) -> Self {
        Tokens {
            r,
            buf: Vec::new(),
            pos: 0,
            end: 0,
            eof: false,
            names: Vec::new(),
            ends: Vec::new(),
        }
    }

    pub(crate) fn bytes(&self, (s, e): (usize, usize)) -> &[u8] {
        &self.buf[s..e]
    }

    /// Reads more input after what is left; false at the end of input.
    /// The buffer is zeroed once, when it grows: the decompressors behind
    /// it hand out a few KiB per read.
    fn fill(&mut self) -> Result<bool, String> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        if self.end == self.buf.len() {
            if self.end >= MAX_TOKEN {
                return Err(format!("XML token over {MAX_TOKEN} bytes"));
            }
            let want = (self.end * 2).clamp(256 << 10, MAX_TOKEN);
            self.buf.resize(want, 0);
        }
        loop {
            match self.r.read(&mut self.buf[self.end..]) {
                Ok(n) => {
                    self.end += n;
                    self.eof = n == 0;
                    return Ok(n > 0);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    /// The next token, `None` at the end of a well-formed input.
    pub(crate) fn next(&mut self) -> Result<Option<Tok>, String> {
        loop {
            let rest = &self.buf[self.pos..self.end];
            if rest.is_empty() {
                if !self.fill()? {
                    return match self.ends.is_empty() {
                        true => Ok(None),
                        false => Err("unexpected end of input inside an element".into()),
                    };
                }
                continue;
            }
            if rest[0] != b'<' {
                let p = self.pos;
                let len = match next_lt(rest) {
                    Some(n) => n,
                    None if self.eof => rest.len(),
                    // Long text: hand out what cannot end inside an entity.
                    None if rest.len() >= 64 << 10 => match memchr::memrchr(b'&', rest) {
                        Some(a) if memchr::memchr(b';', &rest[a..]).is_none() && a > 0 => a,
                        _ => rest.len(),
                    },
                    None => {
                        self.fill()?;
                        continue;
                    }
                };
                self.pos += len;
                return Ok(Some(Tok::Text(p, p + len)));
            }
            match self.markup() {
                Some(tok) => match tok {
                    Markup::Skip(n) => self.pos += n,
                    Markup::Tok(t, n) => {
                        self.pos += n;
                        return Ok(Some(t));
                    }
                },
                None => {
                    if !self.fill()? {
                        return Err("unexpected end of input inside a tag".into());
                    }
                }
            }
        }
    }

    /// The markup at the start of `t`, `None` if it is not complete yet.
    fn markup(&mut self) -> Option<Markup> {
        let base = self.pos;
        let t = &self.buf[base..self.end];
        if t.len() < 2 {
            return None;
        }
        match t[1] {
            b'!' if t.starts_with(b"<!--") => {
                find(&t[4..], b"-->").map(|e| Markup::Skip(4 + e + 3))
            }
            b'!' if t.starts_with(b"<![CDATA[") => find(&t[9..], b"]]>")
                .map(|e| Markup::Tok(Tok::CData(base + 9, base + 9 + e), 9 + e + 3)),
            b'!' if t.len() < 9 && !self.eof => None,
            b'?' => find(t, b"?>").map(|e| Markup::Skip(e + 2)),
            b'!' => {
                let close = memchr::memchr(b'>', t)?;
                match memchr::memchr(b'[', &t[..close]) {
                    Some(_) => find(t, b"]>").map(|e| Markup::Skip(e + 2)),
                    None => Some(Markup::Skip(close + 1)),
                }
            }
            _ => {
                let e = tag_end(t)?;
                let tok = element(&mut self.names, &mut self.ends, &t[..e], base);
                Some(Markup::Tok(tok, e + 1))
            }
        }
    }

    /// Whether an end tag did not match its element (checked by callers
    /// after each end tag, see [`Tokens::next_checked`]).
    fn broken(&self) -> bool {
        self.ends.last() == Some(&usize::MAX)
    }

    /// [`Tokens::next`], with mismatched end tags as errors.
    pub(crate) fn next_checked(&mut self) -> Result<Option<Tok>, String> {
        let t = self.next()?;
        if self.broken() {
            return Err("end tag does not match its element".into());
        }
        Ok(t)
    }
}

/// `<...` without its `>`: a start, empty or end tag. Checks nesting.
fn element(names: &mut Vec<u8>, ends: &mut Vec<usize>, t: &[u8], base: usize) -> Tok {
    let end = t[1] == b'/';
    let from = 1 + usize::from(end);
    let n = t[from..]
        .iter()
        .position(|b| b.is_ascii_whitespace() || *b == b'/')
        .map_or(t.len(), |p| from + p);
    let qname = &t[from..n];
    let l = local(qname);
    let name = (base + from + l, base + n);
    if end {
        let start = ends.len().checked_sub(2).map_or(0, |i| ends[i]);
        let open = ends.last().map(|&e| &names[start..e]);
        if open != Some(qname) {
            ends.push(usize::MAX); // poisons: reported by the caller
        } else {
            ends.pop();
            names.truncate(start);
        }
        return Tok::End { name };
    }
    let empty = t.last() == Some(&b'/');
    if !empty {
        names.extend_from_slice(qname);
        ends.push(names.len());
    }
    Tok::Start {
        name,
        attrs: (base + n, base + t.len() - usize::from(empty)),
        empty,
    }
}

enum Markup {
    Skip(usize),
    Tok(Tok, usize),
}

/// The value of attribute `key` (local name) in a tag's attribute bytes,
/// entities left encoded.
pub(crate) fn attr<'a>(attrs: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let mut i = 0;
    while i < attrs.len() {
        let eq = i + attrs[i..].iter().position(|&b| b == b'=')?;
        let name = attrs[i..eq].trim_ascii();
        let q = eq
            + 1
            + attrs[eq + 1..]
                .iter()
                .position(|b| !b.is_ascii_whitespace())?;
        let quote = attrs[q];
        if quote != b'"' && quote != b'\'' {
            return None;
        }
        let close = q + 1 + attrs[q + 1..].iter().position(|&b| b == quote)?;
        if &name[local(name)..] == key {
            return Some(&attrs[q + 1..close]);
        }
        i = close + 1;
    }
    None
}

/// Appends `raw` with its entities decoded: the five named ones and
/// character references; any other becomes a space.
pub(crate) fn unescape_into(raw: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while let Some(a) = memchr::memchr(b'&', &raw[i..]) {
        out.extend_from_slice(&raw[i..i + a]);
        let s = i + a + 1;
        let Some(semi) = raw[s..].iter().take(12).position(|&b| b == b';') else {
            out.push(b'&');
            i = s;
            continue;
        };
        let name = &raw[s..s + semi];
        match name {
            b"amp" => out.push(b'&'),
            b"lt" => out.push(b'<'),
            b"gt" => out.push(b'>'),
            b"quot" => out.push(b'"'),
            b"apos" => out.push(b'\''),
            _ => match char_ref(name) {
                Some(c) => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
                None => out.push(b' '),
            },
        }
        i = s + semi + 1;
    }
    out.extend_from_slice(&raw[i..]);
}

fn char_ref(name: &[u8]) -> Option<char> {
    let n = name.strip_prefix(b"#")?;
    let s = std::str::from_utf8(n).ok()?;
    let v = match s.strip_prefix(['x', 'X']) {
        Some(h) => u32::from_str_radix(h, 16).ok()?,
        None => s.parse().ok()?,
    };
    char::from_u32(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(xml: &[u8]) -> Result<Vec<String>, String> {
        let mut t = Tokens::new(xml);
        let mut v = Vec::new();
        while let Some(tok) = t.next_checked()? {
            v.push(match tok {
                Tok::Start { name, attrs, empty } => format!(
                    "<{}|{}{}",
                    String::from_utf8_lossy(t.bytes(name)),
                    String::from_utf8_lossy(t.bytes(attrs)).trim(),
                    if empty { "/" } else { "" }
                ),
                Tok::End { name } => format!("/{}", String::from_utf8_lossy(t.bytes(name))),
                Tok::Text(s, e) => format!("T{}", String::from_utf8_lossy(t.bytes((s, e)))),
                Tok::CData(s, e) => format!("C{}", String::from_utf8_lossy(t.bytes((s, e)))),
            });
        }
        Ok(v)
    }

    #[test]
    fn tokens_of_a_part() {
        let xml = br#"<?xml version="1.0"?><!-- a > b --><w:p a="x>y"><w:t>1&amp;2</w:t><w:br/><![CDATA[<c>]]></w:p>"#;
        assert_eq!(
            all(xml).unwrap(),
            [
                "<p|a=\"x>y\"",
                "<t|",
                "T1&amp;2",
                "/t",
                "<br|/",
                "C<c>",
                "/p"
            ]
        );
        assert!(all(b"<w:p><w:t>x</w:p>").is_err());
        assert!(all(b"<a><b>x</b>").is_err());
        assert!(all(b"<a><b x=\"1").is_err());
    }

    #[test]
    fn entities_and_attributes() {
        let mut out = Vec::new();
        unescape_into(b"a&lt;b&#x34;&#49;&nbsp;&amp", &mut out);
        assert_eq!(out, b"a<b41 &amp");
        assert_eq!(attr(br#" r="B7" t='s'"#, b"t"), Some(&b"s"[..]));
        assert_eq!(attr(br#" x:r="B7""#, b"r"), Some(&b"B7"[..]));
        assert_eq!(attr(br#" r="B7""#, b"t"), None);
    }

    /// A tokenizer fed one byte at a time sees the same tokens.
    #[test]
    fn tokens_across_reads() {
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(1).min(b.len());
                b[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let xml = br#"<r><c t="s"><v>12</v></c><!--x--><![CDATA[y]]></r>"#;
        let mut t = Tokens::new(Trickle(xml));
        let mut n = 0;
        while t.next_checked().unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 8);
    }
}
