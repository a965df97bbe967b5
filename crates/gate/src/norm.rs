//! Unicode normalisation ahead of the byte-oriented recognizers.
//!
//! Every recognised entity is ASCII, so text that writes its digits another
//! way (fullwidth `４１１１`, Arabic-Indic digits, digits with zero-width
//! spaces between them, an en dash as group separator, a JSON `\uFF14`
//! escape) would pass unseen. [`normalise`] rewrites such text into the ASCII
//! the recognizers read and keeps, for every output byte, the offset of the
//! input byte it came from, so findings still point into the original (which
//! redaction needs). Pure-ASCII input, the common case, is left alone at the
//! cost of one `is_ascii` pass.

use unicode_normalization::UnicodeNormalization;

/// A rewritten copy and, per stretch of output, the input offsets it came
/// from. The map is sparse (one entry per copied stretch or rewritten
/// character, not per byte): a chunk of prose with a few fullwidth commas
/// would otherwise cost four bytes of map per byte of text.
#[derive(Default)]
pub struct Normalised {
    pub bytes: Vec<u8>,
    map: Vec<Seg>,
    input_len: usize,
}

/// Output from `out` on came from input `inp` on: byte for byte when
/// `copy`, else every byte from the one character at `inp`.
#[derive(Clone, Copy)]
struct Seg {
    out: u32,
    inp: u32,
    copy: bool,
}

impl Normalised {
    fn seg_end(&self, k: usize) -> usize {
        self.map
            .get(k + 1)
            .map_or(self.bytes.len(), |s| s.out as usize)
    }

    /// Origin of the last output byte of segment `k`.
    fn seg_last(&self, k: usize) -> usize {
        let s = self.map[k];
        if s.copy {
            s.inp as usize + (self.seg_end(k) - s.out as usize) - 1
        } else {
            s.inp as usize
        }
    }

    /// Input offset of output offset `i` (`i` may be the end).
    pub fn origin(&self, i: usize) -> usize {
        if i >= self.bytes.len() {
            return self.input_len;
        }
        let k = self.map.partition_point(|s| s.out as usize <= i) - 1;
        let s = self.map[k];
        if s.copy {
            s.inp as usize + (i - s.out as usize)
        } else {
            s.inp as usize
        }
    }

    /// Input span of output span `s..e`: from the first source byte to the
    /// end of the last source character.
    pub fn span(&self, input: &[u8], s: usize, e: usize) -> (usize, usize) {
        if e == 0 || e <= s {
            let o = self.origin(s);
            return (o, o);
        }
        let last = self.origin(e - 1);
        (self.origin(s), last + char_len(input, last))
    }

    /// First output offset whose origin is at or after input offset `o`.
    pub fn position(&self, o: usize) -> usize {
        let mut lo = 0;
        let mut hi = self.map.len();
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.seg_last(mid) < o {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        match self.map.get(lo) {
            None => self.bytes.len(),
            Some(s) if s.copy => s.out as usize + o.saturating_sub(s.inp as usize),
            Some(s) => s.out as usize,
        }
    }

    /// Appends input bytes `at..at + bytes.len()` unchanged.
    fn copy(&mut self, at: usize, bytes: &[u8]) {
        let out = self.bytes.len();
        let joins = self
            .map
            .last()
            .is_some_and(|s| s.copy && s.inp as usize + (out - s.out as usize) == at);
        if !joins {
            self.map.push(Seg {
                out: out as u32,
                inp: at as u32,
                copy: true,
            });
        }
        self.bytes.extend_from_slice(bytes);
    }

    /// Appends the rewrite of the character at `at`.
    fn emit(&mut self, at: usize, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.map.push(Seg {
            out: self.bytes.len() as u32,
            inp: at as u32,
            copy: false,
        });
        self.bytes.extend_from_slice(bytes);
    }
}

/// Length of the source unit at `at`: a UTF-8 character, a JSON `\u`
/// escape (two for a surrogate pair), or one byte.
fn char_len(input: &[u8], at: usize) -> usize {
    if input.get(at) == Some(&b'\\') && input.get(at + 1) == Some(&b'u') {
        return if is_high_surrogate_escape(&input[at..]) {
            12
        } else {
            6
        };
    }
    match input.get(at) {
        Some(b) if *b >= 0xf0 => 4,
        Some(b) if *b >= 0xe0 => 3,
        Some(b) if *b >= 0xc0 => 2,
        _ => 1,
    }
    .min(input.len().saturating_sub(at))
    .max(1)
}

fn is_high_surrogate_escape(s: &[u8]) -> bool {
    parse_hex4(s.get(2..6)).is_some_and(|h| (0xd800..0xdc00).contains(&h))
        && s.get(6..8) == Some(b"\\u")
        && parse_hex4(s.get(8..12)).is_some_and(|l| (0xdc00..0xe000).contains(&l))
}

fn parse_hex4(s: Option<&[u8]>) -> Option<u32> {
    let s = std::str::from_utf8(s?).ok()?;
    u32::from_str_radix(s, 16).ok()
}

/// Invisible format characters (Unicode category Cf and kin) that split a
/// number for the eye of a regex but not for a reader.
fn is_invisible(c: char) -> bool {
    matches!(c as u32,
        0x00ad | 0x034f | 0x061c | 0x115f | 0x1160 | 0x17b4 | 0x17b5 | 0x180b..=0x180f
        | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x206f | 0x3164 | 0xfe00..=0xfe0f
        | 0xfeff | 0xffa0 | 0xfff0..=0xfffb | 0x1d173..=0x1d17a | 0xe0000..=0xe0fff)
}

/// Starts of the decimal digit blocks of scripts in common use (each holds
/// 0-9 in order); NFKC leaves these alone.
const DIGIT_BLOCKS: &[u32] = &[
    0x0660, 0x06f0, 0x07c0, 0x0966, 0x09e6, 0x0a66, 0x0ae6, 0x0b66, 0x0be6, 0x0c66, 0x0ce6, 0x0d66,
    0x0de6, 0x0e50, 0x0ed0, 0x0f20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90,
    0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620, 0xa8d0, 0xa900, 0xa9d0, 0xaa50, 0xabf0,
];

fn ascii_of(c: char) -> Option<u8> {
    let u = c as u32;
    let digit_range = (0x0660..0x1c5a).contains(&u) || (0xa620..0xabfa).contains(&u);
    if let Some(start) = digit_range
        .then(|| DIGIT_BLOCKS.iter().find(|&&s| (s..s + 10).contains(&u)))
        .flatten()
    {
        return Some(b'0' + (u - start) as u8);
    }
    match u {
        0x2010..=0x2015 | 0x2212 | 0xfe58 | 0xfe63 | 0xff0d => Some(b'-'),
        0x2000..=0x200a | 0x202f | 0x205f | 0x3000 | 0x00a0 => Some(b' '),
        0x2024 | 0xff0e | 0x3002 => Some(b'.'),
        0x2044 | 0x2215 | 0xff0f => Some(b'/'),
        _ => None,
    }
}

/// Lead bytes of the characters [`normalise`] may rewrite: Latin-1
/// symbols (NBSP, soft hyphen, superscripts), the digit blocks, general
/// punctuation and symbols (U+2000-U+2FFF), CJK symbols, fullwidth forms,
/// and the astral planes (mathematical digits, tags). Cyrillic, Greek or
/// CJK ideographs alone need no rewrite, so their text skips the copy.
fn may_change(b: u8) -> bool {
    matches!(
        b,
        0xc2 | 0xcd | 0xd8..=0xdf | 0xe0..=0xe3 | 0xea | 0xef..=0xf4
    )
}

/// The first byte at or after `i` that may start a rewrite; ASCII is
/// skipped eight bytes at a time outside JSON strings (where `\\` counts).
fn next_special(input: &[u8], mut i: usize, json: bool) -> usize {
    let n = input.len();
    while i < n {
        if !json {
            while let Some(w) = input.get(i..i + 8) {
                let w = u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
                if w & 0x8080_8080_8080_8080 != 0 {
                    break;
                }
                i += 8;
            }
            if i >= n {
                break;
            }
        }
        let b = input[i];
        if may_change(b) || (json && b == b'\\') {
            return i;
        }
        i += 1;
    }
    n
}

/// Whether `input` could change under [`normalise`]: a byte leading such a
/// character, or (for JSON strings) a `\u` escape.
pub fn needed(input: &[u8], json: bool) -> bool {
    (!input.is_ascii() && input.iter().any(|&b| may_change(b)))
        || (json && memchr::memmem::find(input, b"\\u").is_some())
}

/// Rewrites `input`, or `None` when nothing would change. `json` decodes
/// `\uXXXX` escapes (the input is the inside of a JSON string).
pub fn normalise(input: &[u8], json: bool) -> Option<Normalised> {
    let mut n = Normalised {
        bytes: Vec::new(),
        map: Vec::new(),
        input_len: 0,
    };
    normalise_into(input, json, &mut n).then_some(n)
}

/// [`normalise`] into `n`, reusing its buffers (the scanner calls this
/// once per chunk); false when nothing would change.
pub fn normalise_into(input: &[u8], json: bool, n: &mut Normalised) -> bool {
    if !needed(input, json) {
        return false;
    }
    n.bytes.clear();
    n.map.clear();
    n.bytes.reserve(input.len());
    n.input_len = input.len();
    let mut changed = false;
    let mut i = 0;
    while i < input.len() {
        // Everything up to the next byte that may start a rewrite is copied
        // as is: ASCII, and the letters of most scripts.
        let j = next_special(input, i, json);
        if j > i {
            n.copy(i, &input[i..j]);
            i = j;
            continue;
        }
        let b = input[i];
        if b == b'\\' && json && input.get(i + 1) == Some(&b'u') {
            if let Some(c) = json_escape(&input[i..]) {
                push_char(n, c, i, None);
                changed = true;
                i += char_len(input, i);
                continue;
            }
        }
        if b < 0x80 {
            n.copy(i, &[b]);
            i += 1;
            continue;
        }
        let len = char_len(input, i);
        match std::str::from_utf8(&input[i..i + len]) {
            Ok(s) => {
                let c = s.chars().next().unwrap_or('\u{fffd}');
                changed |= push_char(n, c, i, Some(&input[i..i + len]));
            }
            Err(_) => {
                n.copy(i, &[b]);
                i += 1;
                continue;
            }
        }
        i += len;
    }
    changed
}

fn json_escape(s: &[u8]) -> Option<char> {
    let h = parse_hex4(s.get(2..6))?;
    if is_high_surrogate_escape(s) {
        let l = parse_hex4(s.get(8..12))?;
        return char::from_u32(0x10000 + ((h - 0xd800) << 10) + (l - 0xdc00));
    }
    char::from_u32(h)
}

/// Blocks holding characters whose NFKC form is ASCII (fullwidth forms,
/// super- and subscripts, enclosed and mathematical alphanumerics,
/// ligatures, compatibility spaces): NFKC is asked only about these, which
/// keeps Cyrillic or CJK text at the speed of a copy.
fn has_ascii_compat(c: char) -> bool {
    matches!(c as u32,
        0x00a0..=0x00bf | 0x02b0..=0x02ff | 0x2000..=0x2bff | 0x3000..=0x33ff
        | 0xfb00..=0xfb06 | 0xfe10..=0xfe6f | 0xff00..=0xffef | 0x1d400..=0x1d7ff
        | 0x1f100..=0x1f1ff)
}

/// Appends the ASCII reading of `c` (nothing for an invisible character),
/// else `raw` (its own bytes); returns whether the output differs.
fn push_char(n: &mut Normalised, c: char, at: usize, raw: Option<&[u8]>) -> bool {
    let mut emit = |bytes: &[u8]| match raw {
        Some(r) if r == bytes => n.copy(at, bytes),
        _ => n.emit(at, bytes),
    };
    if is_invisible(c) {
        return true;
    }
    if let Some(a) = ascii_of(c) {
        emit(&[a]);
        return true;
    }
    if !has_ascii_compat(c) {
        let mut tmp = [0u8; 4];
        emit(raw.unwrap_or_else(|| c.encode_utf8(&mut tmp).as_bytes()));
        return raw.is_none();
    }
    let mut folded = [0u8; 8];
    let mut len = 0;
    let mut ascii = true;
    for f in std::iter::once(c).nfkc() {
        if !f.is_ascii() || len == folded.len() {
            ascii = false;
            break;
        }
        folded[len] = f as u8;
        len += 1;
    }
    if ascii && len > 0 {
        emit(&folded[..len]);
        return true;
    }
    let mut tmp = [0u8; 4];
    emit(raw.unwrap_or_else(|| c.encode_utf8(&mut tmp).as_bytes()));
    raw.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        String::from_utf8(normalise(s.as_bytes(), true).unwrap().bytes).unwrap()
    }

    #[test]
    fn rewrites_what_hides_digits() {
        assert_eq!(norm("４１１１－１１１１"), "4111-1111");
        assert_eq!(norm("4111\u{200b}1111\u{2060}1111"), "411111111111");
        assert_eq!(norm("٤١١١ 1111"), "4111 1111");
        assert_eq!(norm("4111\u{2013}1111\u{00a0}x"), "4111-1111 x");
        assert_eq!(norm(r"\uff14\uff11 \ud835\udfce"), "41 0");
        assert_eq!(norm("Москва ４"), "Москва 4");
        assert!(normalise(b"plain ascii", false).is_none());
        assert!(normalise("Москва".as_bytes(), false).is_none());
    }

    #[test]
    fn maps_back_to_the_input() {
        let input = "ab４１\u{200b}1".as_bytes();
        let n = normalise(input, false).unwrap();
        assert_eq!(n.bytes, b"ab411");
        assert_eq!(n.span(input, 2, 5), (2, input.len()));
        assert_eq!(n.span(input, 0, 2), (0, 2));
        assert_eq!(n.position(5), 3);
    }

    /// The sparse map answers as a map of every output byte would.
    #[test]
    fn sparse_map_agrees_with_a_byte_map() {
        let input = "a，b ４1\u{200b}2 Москва ﬁ x\u{2013}y ٣".as_bytes();
        let n = normalise(input, false).unwrap();
        let byte_map: Vec<usize> = (0..n.bytes.len()).map(|i| n.origin(i)).collect();
        assert!(byte_map.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(n.origin(n.bytes.len()), input.len());
        for o in 0..=input.len() {
            let want = byte_map.partition_point(|&m| m < o);
            assert_eq!(n.position(o), want, "position({o})");
        }
    }
}
