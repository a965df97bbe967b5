//! Single-pass recognizer over raw bytes.
//!
//! Every entity we look for is ASCII, so the scanner works on bytes and is
//! indifferent to the script around it (Cyrillic, CJK, ...). It walks the
//! input once, stops only at the start of an ASCII alphanumeric run that sits
//! on a word boundary (or at `+`/`(` for phone numbers), and dispatches on a
//! few cheap features of that run. Validators run only on the few candidates
//! that survive, which keeps the common path at a table lookup per byte.

use crate::context::{self, Ctx};
use crate::entity::EntityType;
use crate::norm;
use crate::validate;

const ALNUM: u8 = 1;
const DIGIT: u8 = 2;
const HEX: u8 = 4;
const UPPER: u8 = 8;
const LOCAL: u8 = 16;
const TRIGGER: u8 = 32;
const COLON: u8 = 64;

const fn build_classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let mut c = 0;
        if b.is_ascii_alphanumeric() {
            c |= ALNUM | LOCAL;
        }
        if b.is_ascii_digit() {
            c |= DIGIT;
        }
        if b.is_ascii_hexdigit() {
            c |= HEX;
        }
        if b.is_ascii_uppercase() {
            c |= UPPER;
        }
        if matches!(b, b'.' | b'_' | b'%' | b'+' | b'-') {
            c |= LOCAL;
        }
        if matches!(b, b'+' | b'(' | b':') {
            c |= TRIGGER;
        }
        if b == b':' {
            c |= COLON;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static CLASS: [u8; 256] = build_classes();

/// The longest candidate any recognizer accepts (an e-mail address). Chunked
/// readers keep at least this much look-ahead past the scan limit.
pub const MAX_CANDIDATE: usize = 320;

/// Look-back a chunked reader must retain for boundaries and context words.
pub const LOOKBACK: usize = 64;

#[inline]
fn class(b: u8) -> u8 {
    CLASS[usize::from(b)]
}

/// A view of the input: the bytes, where a field starts (context never
/// reaches before it) and hints from the field's name.
pub struct Region<'a> {
    pub buf: &'a [u8],
    pub floor: usize,
    pub hint: Ctx,
}

impl Region<'_> {
    #[inline]
    fn at(&self, i: usize) -> u8 {
        self.buf.get(i).copied().unwrap_or(0)
    }

    #[inline]
    fn is(&self, i: usize, c: u8) -> bool {
        class(self.at(i)) & c != 0
    }

    /// The letter of an escape (`\n`) starting a run: skip just the letter.
    fn escape_letter(&self, i: usize) -> bool {
        i > self.floor
            && self.buf[i - 1] == b'\\'
            && matches!(self.buf[i], b'n' | b't' | b'r')
            && self.is(i + 1, ALNUM)
    }

    /// A run glued to a preceding word is not a candidate, except after a
    /// JSON/C escape such as `\n`, which stands for a separator.
    fn word_before(&self, i: usize) -> bool {
        let glued = i > self.floor && (self.is(i - 1, ALNUM) || self.buf[i - 1] == b'_');
        let escape = i >= self.floor + 2
            && self.buf[i - 2] == b'\\'
            && matches!(self.buf[i - 1], b'n' | b't' | b'r');
        glued && !escape
    }

    /// [`Region::run`], also returning the union of the classes it saw.
    fn run_classes(&self, mut i: usize, c: u8) -> (usize, u8) {
        let mut seen = 0;
        while i < self.buf.len() {
            let k = class(self.buf[i]);
            if k & c == 0 {
                break;
            }
            seen |= k;
            i += 1;
        }
        (i, seen)
    }

    fn run(&self, mut i: usize, c: u8) -> usize {
        while i < self.buf.len() && class(self.buf[i]) & c != 0 {
            i += 1;
        }
        i
    }

    /// Digits right after `digit.` or `digit-` belong to a number that was
    /// already tried from its first group (`1.2.3.4.5`, `2024-01-15`);
    /// trying again from the middle would only find fragments of it.
    /// Likewise a hex group after `hex:` or `::` belongs to an address
    /// tried from its first group (`2001:db8::1::2` must not yield `1::2`).
    fn continues_number(&self, i: usize, atom_end: usize) -> bool {
        if i < self.floor + 2 {
            return false;
        }
        let (p, pp) = (self.buf[i - 1], self.buf[i - 2]);
        if self.is(i, DIGIT) && matches!(p, b'.' | b'-') && pp.is_ascii_digit() {
            return true;
        }
        if p != b':' || !self.buf[i..atom_end].iter().all(u8::is_ascii_hexdigit) {
            return false;
        }
        let mut k = i - 1;
        while k > self.floor && self.buf[k - 1].is_ascii_hexdigit() && i - k <= 5 {
            k -= 1;
        }
        let group = i - 1 - k;
        pp == b':' || ((1..=4).contains(&group) && (k == self.floor || !self.is(k - 1, ALNUM)))
    }

    /// `.` followed by a digit continues a number; a sentence-final `.`
    /// does not.
    fn dot_digit(&self, i: usize) -> bool {
        self.at(i) == b'.' && self.is(i + 1, DIGIT)
    }

    /// `/24` after an address makes it a network prefix, not a host.
    fn cidr(&self, i: usize) -> bool {
        self.at(i) == b'/' && self.is(i + 1, DIGIT)
    }

    fn ctx(&self, start: usize) -> Ctx {
        self.hint | context::around(self.buf, self.floor, start)
    }

    /// Scans candidates that start in `from..limit`; candidates may extend
    /// past `limit` up to the end of `buf`. Returns where the next call must
    /// resume (never before `limit`, possibly after it when a match or a
    /// non-candidate run crossed it).
    pub fn scan(
        &self,
        from: usize,
        limit: usize,
        emit: &mut impl FnMut(EntityType, usize, usize),
    ) -> usize {
        let buf = self.buf;
        let mut i = from;
        while i < limit {
            let c = class(buf[i]);
            if c & (ALNUM | TRIGGER) == 0 {
                i += 1;
                continue;
            }
            if c & ALNUM == 0 {
                let (t, found) = if c & COLON != 0 {
                    (EntityType::IpAddress, self.leading_colons(i))
                } else {
                    (EntityType::Phone, self.trigger(i))
                };
                match found {
                    Some(end) => {
                        emit(t, i, end);
                        i = end;
                    }
                    None => i += 1,
                }
                continue;
            }
            if self.escape_letter(i) {
                i += 1;
                continue;
            }
            let (atom_end, seen) = self.run_classes(i, ALNUM);
            if self.word_before(i) || self.continues_number(i, atom_end) {
                i = atom_end;
                continue;
            }
            // A word without digits is a candidate only as the start of an
            // e-mail address or of a hex group (`dead:beef::1`): everything
            // else recognised holds a digit.
            if seen & DIGIT == 0 {
                let next = self.at(atom_end);
                if class(next) & LOCAL == 0 && next != b'@' && next != b':' {
                    i = atom_end;
                    continue;
                }
            }
            match self.atom(i, atom_end) {
                Some((t, s, e)) => {
                    emit(t, s, e);
                    i = e.max(atom_end);
                }
                None => i = atom_end,
            }
        }
        i
    }

    /// [`Region::scan`] over the [`norm`] rewrite of the region when it has
    /// one: `emit` gets spans of the original bytes and the value as read
    /// (ASCII). `json` decodes `\u` escapes (the region is a JSON string).
    pub fn scan_normalised(
        &self,
        from: usize,
        limit: usize,
        json: bool,
        emit: &mut impl FnMut(EntityType, usize, usize, &[u8]),
    ) -> usize {
        thread_local! {
            static SCRATCH: std::cell::RefCell<norm::Normalised> = Default::default();
        }
        let input = &self.buf[self.floor..];
        if !norm::needed(input, json) {
            return self.scan(from, limit, &mut |t, s, e| emit(t, s, e, &self.buf[s..e]));
        }
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut n) => self.scan_rewritten(&mut n, from, limit, json, emit),
            Err(_) => self.scan_rewritten(&mut Default::default(), from, limit, json, emit),
        })
    }

    fn scan_rewritten(
        &self,
        n: &mut norm::Normalised,
        from: usize,
        limit: usize,
        json: bool,
        emit: &mut impl FnMut(EntityType, usize, usize, &[u8]),
    ) -> usize {
        let input = &self.buf[self.floor..];
        if !norm::normalise_into(input, json, n) {
            return self.scan(from, limit, &mut |t, s, e| emit(t, s, e, &self.buf[s..e]));
        }
        let f = self.floor;
        let view = Region {
            buf: &n.bytes,
            floor: 0,
            hint: self.hint,
        };
        let resume = view.scan(
            n.position(from.saturating_sub(f)),
            n.position(limit.saturating_sub(f)),
            &mut |t, s, e| {
                let (os, oe) = n.span(input, s, e);
                emit(t, f + os, f + oe, &n.bytes[s..e]);
            },
        );
        (f + n.origin(resume)).max(limit)
    }

    fn trigger(&self, i: usize) -> Option<usize> {
        if !self.is(i + 1, DIGIT) || self.word_before(i) {
            return None;
        }
        self.phone(i)
    }

    /// `::1`, `::ffff:...`: the only addresses that start with a colon.
    fn leading_colons(&self, i: usize) -> Option<usize> {
        let prev_ok = i == self.floor || !(self.is(i - 1, HEX) || self.buf[i - 1] == b':');
        (prev_ok && self.at(i + 1) == b':' && self.is(i + 2, HEX))
            .then(|| self.ipv6(i))
            .flatten()
    }

    fn atom(&self, s: usize, a_end: usize) -> Option<(EntityType, usize, usize)> {
        if let Some(e) = self.email(s) {
            return Some((EntityType::Email, s, e));
        }
        let atom = &self.buf[s..a_end];
        let next = self.at(a_end);
        let all_hex = atom.iter().all(|&b| class(b) & HEX != 0);
        if all_hex {
            if let Some(found) = self.hex_led(s, a_end, next) {
                return Some(found);
            }
        }
        if atom.iter().all(u8::is_ascii_digit) {
            return self.numeric(s);
        }
        self.mixed(s, a_end).map(|(t, e)| (t, s, e))
    }

    fn hex_led(&self, s: usize, a_end: usize, next: u8) -> Option<(EntityType, usize, usize)> {
        let alen = a_end - s;
        if alen == 2 && (next == b':' || next == b'-') {
            if let Some(e) = self.mac(s, next) {
                return Some((EntityType::MacAddress, s, e));
            }
        }
        if alen == 4 && next == b'.' {
            if let Some(e) = self.mac_dotted(s) {
                return Some((EntityType::MacAddress, s, e));
            }
        }
        if alen <= 4 && next == b':' {
            if let Some(e) = self.ipv6(s) {
                return Some((EntityType::IpAddress, s, e));
            }
        }
        None
    }

    fn mixed(&self, s: usize, a_end: usize) -> Option<(EntityType, usize)> {
        let atom = &self.buf[s..a_end];
        let alen = atom.len();
        if alen >= 14 && atom[..3].eq_ignore_ascii_case(b"bc1") && validate::btc_bech32(atom) {
            return Some((EntityType::BtcAddress, a_end));
        }
        if (atom[0] == b'1' || atom[0] == b'3')
            && (26..=35).contains(&alen)
            && validate::btc_base58(atom)
        {
            return Some((EntityType::BtcAddress, a_end));
        }
        if alen >= 4
            && atom[..2].iter().all(u8::is_ascii_uppercase)
            && atom[2..4].iter().all(u8::is_ascii_digit)
        {
            if let Some(e) = self.iban(s, a_end) {
                return Some((EntityType::Iban, e));
            }
        }
        if alen == 9
            && atom[0].is_ascii_uppercase()
            && atom[1..].iter().all(u8::is_ascii_digit)
            && self.ctx(s) & context::PASSPORT != 0
        {
            return Some((EntityType::UsPassport, a_end));
        }
        None
    }

    fn email(&self, s: usize) -> Option<usize> {
        let max = (s + 64).min(self.buf.len());
        let mut j = s;
        while j < max && class(self.buf[j]) & LOCAL != 0 {
            j += 1;
        }
        if self.at(j) != b'@' || self.at(j - 1) == b'.' {
            return None;
        }
        let end = self.domain(j + 1)?;
        let after = self.at(end);
        (class(after) & ALNUM == 0 && after != b'@' && after != b'_').then_some(end)
    }

    fn domain(&self, mut j: usize) -> Option<usize> {
        let start = j;
        let mut labels = 0;
        loop {
            let ls = j;
            while (class(self.at(j)) & ALNUM != 0 || self.at(j) == b'-') && j - ls < 64 {
                j += 1;
            }
            let label = &self.buf[ls..j];
            if label.is_empty()
                || label.len() > 63
                || label[0] == b'-'
                || label[label.len() - 1] == b'-'
            {
                return None;
            }
            labels += 1;
            if self.at(j) == b'.' && self.is(j + 1, ALNUM) && j - start < 253 {
                j += 1;
                continue;
            }
            let tld_ok = label.len() >= 2
                && label.iter().all(u8::is_ascii_alphabetic)
                && !is_file_extension(label);
            return (labels >= 2 && tld_ok).then_some(j);
        }
    }

    fn mac(&self, s: usize, sep: u8) -> Option<usize> {
        let mut j = s;
        let mut bytes = [0u8; 6];
        for (i, slot) in bytes.iter_mut().enumerate() {
            if !(self.is(j, HEX) && self.is(j + 1, HEX)) {
                return None;
            }
            *slot = hex_pair(self.at(j), self.at(j + 1));
            j += 2;
            if i < 5 {
                if self.at(j) != sep {
                    return None;
                }
                j += 1;
            }
        }
        if self.is(j, ALNUM) || (self.at(j) == sep && self.is(j + 1, HEX)) {
            return None;
        }
        let trivial = bytes.iter().all(|&b| b == 0) || bytes.iter().all(|&b| b == 0xff);
        (!trivial).then_some(j)
    }

    fn mac_dotted(&self, s: usize) -> Option<usize> {
        let mut j = s;
        for i in 0..3 {
            if self.run(j, HEX) != j + 4 {
                return None;
            }
            j += 4;
            if i < 2 {
                if self.at(j) != b'.' {
                    return None;
                }
                j += 1;
            }
        }
        let has_letter = self.buf[s..j].iter().any(u8::is_ascii_alphabetic);
        (!self.is(j, ALNUM) && self.at(j) != b'.' && has_letter).then_some(j)
    }

    fn ipv6(&self, s: usize) -> Option<usize> {
        let mut j = s;
        let mut groups = 0;
        let leading = self.at(s) == b':';
        let mut compressed = leading;
        if leading {
            j += 2;
        }
        loop {
            let h = self.run(j, HEX) - j;
            if h == 0 || h > 4 {
                return None;
            }
            groups += 1;
            if groups > 8 {
                return None;
            }
            j += h;
            if self.at(j) != b':' {
                break;
            }
            if self.at(j + 1) == b':' {
                if compressed {
                    return None;
                }
                compressed = true;
                j += 2;
                if !self.is(j, HEX) {
                    break;
                }
            } else if self.is(j + 1, HEX) {
                j += 1;
            } else {
                break;
            }
        }
        let count_ok = if compressed { groups <= 7 } else { groups == 8 };
        let after = self.at(j);
        let ends = class(after) & ALNUM == 0 && !self.dot_digit(j) && after != b':';
        (count_ok && ends && !self.cidr(j)).then_some(j)
    }

    fn iban(&self, s: usize, a_end: usize) -> Option<usize> {
        let expected = validate::iban_length(&self.buf[s..s + 2])?;
        let alen = a_end - s;
        if alen == expected {
            return validate::iban(&self.buf[s..a_end]).then_some(a_end);
        }
        if alen != 4 {
            return None;
        }
        let mut compact = [0u8; 34];
        compact[..4].copy_from_slice(&self.buf[s..a_end]);
        let mut have = 4;
        let mut j = a_end;
        let sep = self.at(j);
        if !matches!(sep, b' ' | b'-' | b'.' | b'/') {
            return None;
        }
        while have < expected {
            if self.at(j) != sep {
                return None;
            }
            let gs = j + 1;
            let ge = self.run(gs, ALNUM);
            let g = &self.buf[gs..ge];
            let len = g.len();
            if len == 0 || len > 4 || have + len > expected || (len < 4 && have + len != expected) {
                return None;
            }
            if !g
                .iter()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
            {
                return None;
            }
            compact[have..have + len].copy_from_slice(g);
            have += len;
            j = ge;
        }
        validate::iban(&compact[..expected]).then_some(j)
    }
}

/// `icon@2x.png` names an asset, not a mailbox; no TLD is one of these.
fn is_file_extension(label: &[u8]) -> bool {
    const EXT: &[&[u8]] = &[
        b"png", b"jpg", b"jpeg", b"gif", b"svg", b"webp", b"pdf", b"js", b"css", b"txt", b"json",
        b"html", b"htm", b"ico", b"bmp", b"tif", b"tiff",
    ];
    EXT.iter().any(|e| label.eq_ignore_ascii_case(e))
}

fn hex_pair(a: u8, b: u8) -> u8 {
    fn v(x: u8) -> u8 {
        match x {
            b'0'..=b'9' => x - b'0',
            b'a'..=b'f' => x - b'a' + 10,
            _ => x - b'A' + 10,
        }
    }
    v(a) << 4 | v(b)
}

/// Digit groups joined by single separators, e.g. `4111 1111 1111 1111`.
struct Groups {
    start: [usize; 8],
    end: [usize; 8],
    sep: [u8; 8],
    n: usize,
}

impl Groups {
    fn len(&self, i: usize) -> usize {
        self.end[i] - self.start[i]
    }
    fn digits(&self, k: usize) -> usize {
        (0..k).map(|i| self.len(i)).sum()
    }
    fn seps_all(&self, k: usize, sep: u8) -> bool {
        (0..k.saturating_sub(1)).all(|i| self.sep[i] == sep)
    }
    fn lens(&self, k: usize, want: &[usize]) -> bool {
        k == want.len() && (0..k).all(|i| self.len(i) == want[i])
    }
}

impl Region<'_> {
    fn groups(&self, s: usize) -> Groups {
        let mut g = Groups {
            start: [0; 8],
            end: [0; 8],
            sep: [0; 8],
            n: 0,
        };
        let mut j = s;
        loop {
            let e = self.run(j, DIGIT);
            g.start[g.n] = j;
            g.end[g.n] = e;
            let crlf = self.at(e) == b'\r' && self.at(e + 1) == b'\n';
            let width = 1 + usize::from(crlf);
            let sep = if crlf { b'\n' } else { self.at(e) };
            g.sep[g.n] = sep;
            g.n += 1;
            if g.n == 8
                || e - s > 40
                || !matches!(sep, b' ' | b'-' | b'.' | b'/' | b'\n')
                || !self.is(e + width, DIGIT)
            {
                return g;
            }
            j = e + width;
        }
    }

    fn numeric(&self, s: usize) -> Option<(EntityType, usize, usize)> {
        let g = self.groups(s);
        let last_end = g.end[g.n - 1];
        let full_ok = !self.is(last_end, ALNUM) && self.at(last_end) != b'_';
        for k in (1..=g.n).rev() {
            let allowed = if k == g.n {
                full_ok
            } else {
                matches!(g.sep[k - 1], b' ' | b'\n')
            };
            if !allowed {
                continue;
            }
            if let Some(found) = self.classify(&g, k) {
                return Some(found);
            }
        }
        self.phone(s).map(|e| (EntityType::Phone, s, e))
    }

    fn classify(&self, g: &Groups, k: usize) -> Option<(EntityType, usize, usize)> {
        let s = g.start[0];
        let e = g.end[k - 1];
        if g.sep[..k - 1].contains(&b'\n') {
            return self.split_card(g, k).map(|t| (t, s, e));
        }
        if k == 4 && g.seps_all(4, b'.') {
            if let Some(()) = self.ipv4(g) {
                return Some((EntityType::IpAddress, s, e));
            }
            if !(g.lens(4, &[4, 4, 4, 4]) || g.lens(4, &[4, 4, 4, 3])) {
                return None;
            }
        }
        if k == 2 && g.sep[0] == b'.' {
            return self
                .coordinate(g)
                .map(|(cs, ce)| (EntityType::GeoCoordinate, cs, ce));
        }
        let d = g.digits(k);
        if !(9..=19).contains(&d) && !(7..=8).contains(&d) {
            return None;
        }
        let mut digits = [0u8; 19];
        let mut n = 0;
        for i in 0..k {
            for &b in &self.buf[g.start[i]..g.end[i]] {
                if n < 19 {
                    digits[n] = b;
                }
                n += 1;
            }
        }
        let digits = &digits[..n.min(19)];
        let slashed = g.sep[..k - 1].contains(&b'/');
        self.ssn(g, k, digits)
            .or_else(|| self.card_or_imei(g, k, digits))
            .or_else(|| self.passport(g, k, digits))
            .or_else(|| (!slashed).then(|| self.grouped_phone(g, k)).flatten())
            .map(|t| (t, s, e))
    }

    /// A card number broken over two lines (`41111111` / `11111111`, or
    /// `4111 1111` / `1111 1111`): one line break, the other separators
    /// uniform, and a valid card with the usual 15 or 16 digits.
    fn split_card(&self, g: &Groups, k: usize) -> Option<EntityType> {
        let seps = &g.sep[..k - 1];
        if seps.iter().filter(|&&c| c == b'\n').count() != 1 {
            return None;
        }
        let mut other = seps.iter().filter(|&&c| c != b'\n');
        let first = other.next().copied();
        if other.any(|&c| Some(c) != first) || (0..k).any(|i| g.len(i) < 4) {
            return None;
        }
        if !matches!(g.digits(k), 15 | 16) || (k > 2 && !card_grouping(g, k)) {
            return None;
        }
        let digits: Vec<u8> = (0..k)
            .flat_map(|i| self.buf[g.start[i]..g.end[i]].iter().copied())
            .collect();
        validate::payment_card(&digits).then_some(EntityType::PaymentCard)
    }

    fn ipv4(&self, g: &Groups) -> Option<()> {
        let s = g.start[0];
        if s > self.floor && self.buf[s - 1] == b'.' {
            return None;
        }
        for i in 0..4 {
            let oct = &self.buf[g.start[i]..g.end[i]];
            if oct.len() > 3 || parse_u32(oct) > 255 {
                return None;
            }
        }
        (!context::version_before(self.buf, s) && !self.cidr(g.end[3])).then_some(())
    }

    fn ssn(&self, g: &Groups, k: usize, digits: &[u8]) -> Option<EntityType> {
        let dashed = g.lens(k, &[3, 2, 4]) && g.seps_all(k, b'-');
        let spaced = g.lens(k, &[3, 2, 4])
            && (g.seps_all(k, b' ') || g.seps_all(k, b'.') || g.seps_all(k, b'/'));
        let compact = k == 1 && digits.len() == 9;
        if !(dashed || spaced || compact) {
            return None;
        }
        if !dashed && self.ctx(g.start[0]) & context::SSN == 0 {
            return None;
        }
        let ok = validate::us_ssn(
            parse_u32(&digits[..3]),
            parse_u32(&digits[3..5]),
            parse_u32(&digits[5..9]),
        );
        ok.then_some(EntityType::UsSsn)
    }

    fn card_or_imei(&self, g: &Groups, k: usize, digits: &[u8]) -> Option<EntityType> {
        let d = digits.len();
        if !(12..=19).contains(&d) {
            return None;
        }
        let uniform = k == 1 || [b' ', b'-', b'.', b'/'].iter().any(|&c| g.seps_all(k, c));
        if !uniform {
            return None;
        }
        let imei_layout = k == 1 || g.lens(k, &[2, 6, 6, 1]) || g.lens(k, &[8, 6, 1]);
        let card_layout = k == 1 || card_grouping(g, k);
        if d == 15
            && imei_layout
            && self.ctx(g.start[0]) & context::IMEI != 0
            && validate::imei(digits)
        {
            return Some(EntityType::Imei);
        }
        if card_layout && validate::payment_card(digits) {
            return Some(EntityType::PaymentCard);
        }
        (d == 15 && imei_layout && validate::imei(digits)).then_some(EntityType::Imei)
    }

    fn passport(&self, g: &Groups, k: usize, digits: &[u8]) -> Option<EntityType> {
        (k == 1 && digits.len() == 9 && self.ctx(g.start[0]) & context::PASSPORT != 0)
            .then_some(EntityType::UsPassport)
    }

    fn grouped_phone(&self, g: &Groups, k: usize) -> Option<EntityType> {
        let d = g.digits(k);
        let nanp = g.lens(k, &[3, 3, 4])
            && (g.seps_all(k, b'-') || g.seps_all(k, b'.'))
            && self.buf[g.start[0]] >= b'2'
            && self.buf[g.start[1]] >= b'2';
        if nanp {
            return Some(EntityType::Phone);
        }
        let shape = (7..=15).contains(&d)
            && (1..k).all(|i| g.len(i) >= 2)
            && !(k > 1 && g.seps_all(k, b'.'));
        (shape && self.ctx(g.start[0]) & context::PHONE != 0).then_some(EntityType::Phone)
    }

    /// Phone numbers with `+`, parentheses or mixed separators, which the
    /// digit-group classifier does not cover.
    fn phone(&self, s: usize) -> Option<usize> {
        let plus = self.at(s) == b'+';
        let mut j = s + usize::from(plus);
        let mut digits = 0;
        let mut paren = false;
        let first = self.at(j);
        loop {
            let open = self.at(j) == b'(';
            if open {
                if paren {
                    return None;
                }
                j += 1;
            }
            let e = self.run(j, DIGIT);
            if e == j {
                return None;
            }
            digits += e - j;
            j = e;
            if open {
                if self.at(j) != b')' {
                    return None;
                }
                paren = true;
                j += 1;
                if self.is(j, DIGIT) {
                    continue;
                }
            }
            let c = self.at(j);
            let joins = matches!(c, b' ' | b'-' | b'.')
                && (self.is(j + 1, DIGIT) || (c == b' ' && self.at(j + 1) == b'(' && !paren));
            if !joins || j - s > 24 {
                break;
            }
            j += 1;
        }
        if self.is(j, ALNUM) || !(7..=15).contains(&digits) {
            return None;
        }
        let intl = plus && digits >= 8 && first != b'0';
        let national = paren && (10..=12).contains(&digits);
        (intl || national || self.ctx(s) & context::PHONE != 0).then_some(j)
    }

    fn coordinate(&self, g: &Groups) -> Option<(usize, usize)> {
        let (s, e) = (g.start[0], g.end[1]);
        if g.len(0) > 3 || g.len(1) < 3 || g.len(1) > 15 {
            return None;
        }
        let neg = s > self.floor
            && self.buf[s - 1] == b'-'
            && !(s - 1 > self.floor && self.is(s - 2, ALNUM));
        let cs = if neg { s - 1 } else { s };
        if cs > self.floor && matches!(self.buf[cs - 1], b'.' | b'$' | b'#')
            || context::version_before(self.buf, cs)
        {
            return None;
        }
        let value = parse_u32(&self.buf[s..g.end[0]]);
        if value > 180 || (value == 180 && self.buf[g.start[1]..e].iter().any(|&b| b != b'0')) {
            return None;
        }
        let ctx = self.ctx(cs);
        let lat_only = ctx & context::LAT != 0 && ctx & context::LON == 0;
        if lat_only && value > 90 {
            return None;
        }
        let evidence = ctx & context::GEO != 0
            || self.buf[e..].starts_with("°".as_bytes())
            || (value <= 90 && self.decimal_after(e))
            || self.decimal_before(cs);
        evidence.then_some((cs, e))
    }

    /// A second precise decimal right after (", 37.6173"): a coordinate pair.
    fn decimal_after(&self, e: usize) -> bool {
        let mut j = e;
        if self.at(j) == b',' || self.at(j) == b';' {
            j += 1;
        }
        while self.at(j) == b' ' && j < e + 3 {
            j += 1;
        }
        if j == e {
            return false;
        }
        if self.at(j) == b'-' {
            j += 1;
        }
        let ie = self.run(j, DIGIT);
        if ie == j || ie - j > 3 || self.at(ie) != b'.' {
            return false;
        }
        let fe = self.run(ie + 1, DIGIT);
        fe - ie > 3
            && !self.is(fe, ALNUM)
            && !self.dot_digit(fe)
            && parse_u32(&self.buf[j..ie]) <= 180
    }

    /// The mirror of [`Region::decimal_after`] for the second value of a pair.
    fn decimal_before(&self, cs: usize) -> bool {
        let mut j = cs;
        while j > self.floor && self.buf[j - 1] == b' ' && cs - j < 3 {
            j -= 1;
        }
        if j > self.floor && matches!(self.buf[j - 1], b',' | b';') {
            j -= 1;
        }
        if j == cs {
            return false;
        }
        let fe = j;
        let mut fs = fe;
        while fs > self.floor && self.buf[fs - 1].is_ascii_digit() {
            fs -= 1;
        }
        if fe - fs < 3 || fs <= self.floor || self.buf[fs - 1] != b'.' {
            return false;
        }
        let ie = fs - 1;
        let mut is = ie;
        while is > self.floor && self.buf[is - 1].is_ascii_digit() {
            is -= 1;
        }
        let before_ok = is == self.floor
            || !(self.buf[is - 1].is_ascii_alphanumeric() || self.buf[is - 1] == b'.');
        (1..=3).contains(&(ie - is)) && before_ok && parse_u32(&self.buf[is..ie]) <= 90
    }
}

fn card_grouping(g: &Groups, k: usize) -> bool {
    let fours = (0..k - 1).all(|i| g.len(i) == 4) && (1..=4).contains(&g.len(k - 1));
    fours || g.lens(k, &[4, 6, 5]) || g.lens(k, &[4, 6, 4])
}

fn parse_u32(d: &[u8]) -> u32 {
    d.iter()
        .take(9)
        .fold(0u32, |acc, &b| acc * 10 + u32::from(b.wrapping_sub(b'0')))
}

/// Convenience for tests and small inputs: all findings in one slice.
pub fn scan_slice(buf: &[u8]) -> Vec<(EntityType, usize, usize)> {
    let mut out = Vec::new();
    Region {
        buf,
        floor: 0,
        hint: 0,
    }
    .scan_normalised(0, buf.len(), false, &mut |t, s, e, _| out.push((t, s, e)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(String, String)> {
        scan_slice(text.as_bytes())
            .into_iter()
            .map(|(t, s, e)| (t.as_str().to_string(), text[s..e].to_string()))
            .collect()
    }

    fn one(text: &str, t: &str, v: &str) {
        let f = found(text);
        assert_eq!(f, vec![(t.to_string(), v.to_string())], "in {text:?}");
    }

    fn none(text: &str) {
        assert!(
            found(text).is_empty(),
            "unexpected {:?} in {text:?}",
            found(text)
        );
    }

    #[test]
    fn positives() {
        one("SSN 536-22-1234.", "us_ssn", "536-22-1234");
        one("ssn: 536221234", "us_ssn", "536221234");
        one(
            "card 4111 1111 1111 1111 exp",
            "payment_card",
            "4111 1111 1111 1111",
        );
        one(
            "Karte: 5500-0055-5555-5559",
            "payment_card",
            "5500-0055-5555-5559",
        );
        one("amex 378282246310005", "payment_card", "378282246310005");
        one(
            "IBAN DE89 3704 0044 0532 0130 00 bitte",
            "iban",
            "DE89 3704 0044 0532 0130 00",
        );
        one(
            "iban:GB82WEST12345698765432",
            "iban",
            "GB82WEST12345698765432",
        );
        one(
            "Почта: ivan.petrov@mail.ru.",
            "email",
            "ivan.petrov@mail.ru",
        );
        one("Телефон: +7 495 123-45-67", "phone", "+7 495 123-45-67");
        one("call (415) 555-2671 now", "phone", "(415) 555-2671");
        one("电话：13800138000", "phone", "13800138000");
        one("from 203.0.113.45:443", "ip_address", "203.0.113.45");
        one(
            "src 2001:db8:85a3::8a2e:370:7334 dst",
            "ip_address",
            "2001:db8:85a3::8a2e:370:7334",
        );
        one("mac 00:1A:2B:3C:4D:5E", "mac_address", "00:1A:2B:3C:4D:5E");
        one("IMEI 490154203237518", "imei", "490154203237518");
        one("device 356938035643809 seen", "imei", "356938035643809");
        one("Passport No. 123456789", "us_passport", "123456789");
        one("паспорт A12345678", "us_passport", "A12345678");
        one(
            "btc 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
            "btc_address",
            "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
        );
        one(
            "to bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4.",
            "btc_address",
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        );
        one("lat 55.7558", "geo_coordinate", "55.7558");
        one(
            r"line1\n4111111111111111",
            "payment_card",
            "4111111111111111",
        );
        one("loopback ::1 only", "ip_address", "::1");
        one(
            "host fe80::1ff:fe23:4567:890a.",
            "ip_address",
            "fe80::1ff:fe23:4567:890a",
        );
        one("cisco 0019.e3d4.2f11 port", "mac_address", "0019.e3d4.2f11");
        one("gw 10.0.0.1:8080", "ip_address", "10.0.0.1");
        one("to x@example.travel", "email", "x@example.travel");
        one("Fax +1 (202) 555-0125", "phone", "+1 (202) 555-0125");
        one(
            "bc1 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
            "btc_address",
            "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
        );
        one("Breite: -33.8688°", "geo_coordinate", "-33.8688");
        one(
            "card 4111.1111.1111.1111 exp",
            "payment_card",
            "4111.1111.1111.1111",
        );
        one(
            "card 4111/1111/1111/1111 exp",
            "payment_card",
            "4111/1111/1111/1111",
        );
        one(
            "card 41111111\n11111111 ok",
            "payment_card",
            "41111111\n11111111",
        );
        one(
            "card 4111 1111\r\n1111 1111 ok",
            "payment_card",
            "4111 1111\r\n1111 1111",
        );
        one(
            "Karte ４１１１１１１１１１１１１１１１",
            "payment_card",
            "４１１１１１１１１１１１１１１１",
        );
        one(
            "card 4111\u{200b}1111\u{200b}1111\u{200b}1111 x",
            "payment_card",
            "4111\u{200b}1111\u{200b}1111\u{200b}1111",
        );
        one("SSN 536.22.1234", "us_ssn", "536.22.1234");
        one(
            "IBAN DE89-3704-0044-0532-0130-00",
            "iban",
            "DE89-3704-0044-0532-0130-00",
        );
        assert_eq!(found("at 55.7558, 37.6173 today").len(), 2);
        assert_eq!(found("Координаты: 55.751244 37.618423").len(), 2);
    }

    #[test]
    fn negatives() {
        none("ref 4111111111111112 and 1234567890123456");
        none("SSN 000-12-3456, 666-12-3456, 912-34-5678");
        none("version 1.2.3.4 and v 10.0.0.1");
        none("addr 256.1.1.1 or 10.0.0.300");
        none("sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        none("at 2024-01-15T10:20:30Z and 2024-01-15 10:20:30 and 1700000000000");
        none("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb");
        none("lat 55.75, lon 37.61");
        none("pi is 3.14159 and e is 2.71828");
        none("the latency was 12.345 ms");
        none("DE89 3704 0044 0532 0130 01");
        none("id abc4111111111111111 x");
        none("price 1234567");
        none("uuid 550e8400-e29b-41d4-a716-446655440000");
        none("bad v6 2001:db8::1::2 and 1:2:3:4:5:6:7:8:9 and 12:30:45");
        none("mac 00:00:00:00:00:00 ff:ff:ff:ff:ff:ff 00:1A:2B:3C:4D");
        none("net 192.0.2.0/24, 2001:db8::/32");
        none("mail user@localhost, icon@2x.png, a@b.c");
        none("lat 95.1234 and lon 181.1234");
        none("booking 123456789 and seat A12345678");
        none("IBAN GB82 WEST 1234 5698 7654 3");
        none("release 2024.0115.1020.3012 and build 1.2.3.4567");
        none("dates 2024/01/15 01/15/2024 and 12/31/1999 at 10:20");
        none("ids 12345678\n87654321 and 20240115\n20240116");
        none("ref 536/22/1234 and 536.22.1234 without context");
        none("sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709 md5 d41d8cd98f00b204e9800998ecf8427e");
    }
}
