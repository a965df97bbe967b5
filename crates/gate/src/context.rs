//! Nearby-word context for recognizers whose pattern alone is ambiguous
//! (passport numbers, bare phone numbers, coordinates, unformatted SSNs).
//!
//! Context is only computed for candidates that need it, so the keyword
//! search can stay simple: a lower-cased look-back window and a substring
//! search with a word-boundary check on the ASCII side.

use std::sync::OnceLock;

pub type Ctx = u8;
pub const PASSPORT: Ctx = 1;
pub const PHONE: Ctx = 2;
pub const GEO: Ctx = 4;
pub const SSN: Ctx = 8;
pub const IMEI: Ctx = 16;
pub const LAT: Ctx = 32;
pub const LON: Ctx = 64;

/// How far back a keyword may stand from the value it qualifies.
const WINDOW: usize = 40;

struct Keyword {
    word: &'static [u8],
    ctx: Ctx,
    /// Short ASCII words must be whole words ("lat" but not "latency").
    exact: bool,
}

const fn kw(word: &'static str, ctx: Ctx, exact: bool) -> Keyword {
    Keyword {
        word: word.as_bytes(),
        ctx,
        exact,
    }
}

const KEYWORDS: &[Keyword] = &[
    kw("passport", PASSPORT, false),
    kw("паспорт", PASSPORT, false),
    kw("Паспорт", PASSPORT, false),
    kw("reisepass", PASSPORT, false),
    kw("passeport", PASSPORT, false),
    kw("pasaporte", PASSPORT, false),
    kw("护照", PASSPORT, false),
    kw("phone", PHONE, false),
    kw("telephone", PHONE, false),
    kw("tel", PHONE, true),
    kw("mobile", PHONE, false),
    kw("cell", PHONE, true),
    kw("fax", PHONE, true),
    kw("call", PHONE, true),
    kw("telefon", PHONE, false),
    kw("téléphone", PHONE, false),
    kw("tél", PHONE, true),
    kw("portable", PHONE, true),
    kw("handy", PHONE, true),
    kw("mobil", PHONE, true),
    kw("телефон", PHONE, false),
    kw("Телефон", PHONE, false),
    kw("тел", PHONE, false),
    kw("Тел", PHONE, false),
    kw("моб", PHONE, false),
    kw("Моб", PHONE, false),
    kw("电话", PHONE, false),
    kw("手机", PHONE, false),
    kw("whatsapp", PHONE, false),
    kw("msisdn", PHONE, false),
    kw("lat", GEO | LAT, true),
    kw("latitude", GEO | LAT, false),
    kw("lon", GEO | LON, true),
    kw("lng", GEO | LON, true),
    kw("long", GEO | LON, true),
    kw("longitude", GEO | LON, false),
    kw("coord", GEO, false),
    kw("gps", GEO, false),
    kw("geo", GEO, false),
    kw("location", GEO, false),
    kw("position", GEO, false),
    kw("standort", GEO, false),
    kw("breite", GEO | LAT, false),
    kw("länge", GEO | LON, false),
    kw("koordinat", GEO, false),
    kw("широт", GEO | LAT, false),
    kw("Широт", GEO | LAT, false),
    kw("долгот", GEO | LON, false),
    kw("Долгот", GEO | LON, false),
    kw("координат", GEO, false),
    kw("Координат", GEO, false),
    kw("местоположен", GEO, false),
    kw("纬度", GEO | LAT, false),
    kw("经度", GEO | LON, false),
    kw("坐标", GEO, false),
    kw("位置", GEO, false),
    kw("ssn", SSN, false),
    kw("social security", SSN, false),
    kw("soc sec", SSN, false),
    kw("imei", IMEI, false),
];

/// Keyword indices grouped by first byte, so the window scan only compares
/// keywords that can start at a given position.
fn by_first_byte() -> &'static [Vec<u8>; 256] {
    static TABLE: OnceLock<[Vec<u8>; 256]> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t: [Vec<u8>; 256] = std::array::from_fn(|_| Vec::new());
        for (i, k) in KEYWORDS.iter().enumerate() {
            t[usize::from(k.word[0])].push(i as u8);
        }
        t
    })
}

/// Keywords in the window of `buf` that ends at `start` and does not reach
/// before `floor` (the start of the current field in structured input).
pub fn around(buf: &[u8], floor: usize, start: usize) -> Ctx {
    let from = start.saturating_sub(WINDOW).max(floor).min(start);
    let mut lower = [0u8; WINDOW];
    let win = &buf[from..start];
    for (d, s) in lower.iter_mut().zip(win) {
        *d = s.to_ascii_lowercase();
    }
    let win = &lower[..win.len()];
    let table = by_first_byte();
    let mut ctx = 0;
    for (i, &b) in win.iter().enumerate() {
        for &k in &table[usize::from(b)] {
            let k = &KEYWORDS[usize::from(k)];
            if ctx & k.ctx != k.ctx && word_at(win, i, k.word, k.exact) {
                ctx |= k.ctx;
            }
        }
    }
    ctx
}

fn word_at(hay: &[u8], i: usize, word: &[u8], exact: bool) -> bool {
    if !hay[i..].starts_with(word) {
        return false;
    }
    let before_ok = i == 0 || !hay[i - 1].is_ascii_alphabetic();
    let after = i + word.len();
    let after_ok = !exact || after >= hay.len() || !hay[after].is_ascii_alphabetic();
    before_ok && after_ok
}

/// True when a dotted number is introduced as a version ("version 1.2.3.4",
/// "v 10.0.0.1", "firmware 4.4.2.1"), which rules out IP and coordinate.
pub fn version_before(buf: &[u8], start: usize) -> bool {
    let from = start.saturating_sub(12);
    let mut lower = [0u8; 12];
    let win = &buf[from..start];
    for (d, s) in lower.iter_mut().zip(win) {
        *d = s.to_ascii_lowercase();
    }
    let win = &lower[..win.len()];
    let trimmed = trim_end(win);
    [
        &b"version"[..],
        b"ver",
        b"v",
        b"build",
        b"release",
        b"firmware",
        b"rev",
        b"\xd0\xb2\xd0\xb5\xd1\x80\xd1\x81\xd0\xb8\xd1\x8f",
    ]
    .iter()
    .any(|w| {
        trimmed.ends_with(w)
            && (trimmed.len() == w.len()
                || !trimmed[trimmed.len() - w.len() - 1].is_ascii_alphabetic())
    })
}

fn trim_end(mut s: &[u8]) -> &[u8] {
    while let Some((&last, rest)) = s.split_last() {
        if matches!(last, b' ' | b':' | b'=' | b'\t' | b'.' | b'#') {
            s = rest;
        } else {
            break;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords() {
        assert_eq!(around(b"Passport No: ", 0, 13) & PASSPORT, PASSPORT);
        assert_eq!(around("Паспорт ".as_bytes(), 0, 15) & PASSPORT, PASSPORT);
        assert_eq!(around(b"latency ", 0, 8), 0);
        assert_eq!(around(b"home_lat=", 0, 9) & LAT, LAT);
        assert_eq!(around(b"tel: ", 0, 5) & PHONE, PHONE);
        assert_eq!(around(b"hotel ", 0, 6) & PHONE, 0);
    }

    #[test]
    fn versions() {
        assert!(version_before(b"version ", 8));
        assert!(version_before(b"Firmware: ", 10));
        assert!(!version_before(b"server ", 7));
        assert!(!version_before(b"host ", 5));
    }
}
