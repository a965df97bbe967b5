//! Checksum and structure validators.
//!
//! Patterns alone produce many lookalikes (reference numbers, hashes, version
//! strings); every recognizer therefore confirms its candidate here before it
//! becomes a finding. All functions take ASCII bytes and never allocate on the
//! hot path except the Base58 decoder, which only runs on rare candidates.

use sha2::{Digest, Sha256};

/// Luhn mod-10 over ASCII digits; used by payment cards and IMEIs.
pub fn luhn(digits: &[u8]) -> bool {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut sum = 0u32;
    for (i, &b) in digits.iter().rev().enumerate() {
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

/// Card networks we recognise by issuer identification number (IIN) range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardNetwork {
    Visa,
    Mastercard,
    Amex,
    Discover,
    Jcb,
    Diners,
    UnionPay,
    Mir,
    Maestro,
}

fn prefix_num(digits: &[u8], n: usize) -> u32 {
    digits[..n]
        .iter()
        .fold(0u32, |acc, &b| acc * 10 + u32::from(b - b'0'))
}

/// Returns the network whose IIN range and length admit `digits`, if any.
/// A Luhn-valid number outside every range is far more likely an internal
/// reference than a card, so it is rejected.
pub fn card_network(digits: &[u8]) -> Option<CardNetwork> {
    let len = digits.len();
    if !(12..=19).contains(&len) || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let p2 = prefix_num(digits, 2);
    let p3 = prefix_num(digits, 3);
    let p4 = prefix_num(digits, 4);
    let p6 = prefix_num(digits, 6);
    use CardNetwork::*;
    let net = if digits[0] == b'4' && matches!(len, 13 | 16 | 19) {
        Visa
    } else if ((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && len == 16 {
        Mastercard
    } else if (2200..=2204).contains(&p4) && (16..=19).contains(&len) {
        Mir
    } else if (p2 == 34 || p2 == 37) && len == 15 {
        Amex
    } else if (p4 == 6011 || (644..=649).contains(&p3) || p2 == 65) && (16..=19).contains(&len) {
        Discover
    } else if (3528..=3589).contains(&p4) && (16..=19).contains(&len) {
        Jcb
    } else if ((300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39)
        && (14..=19).contains(&len)
    {
        Diners
    } else if (622126..=622925).contains(&p6) || p2 == 62 && (16..=19).contains(&len) {
        UnionPay
    } else if (p2 == 50 || (56..=69).contains(&p2)) && (12..=19).contains(&len) {
        Maestro
    } else {
        return None;
    };
    Some(net)
}

/// A payment card number: known IIN range, valid length, Luhn.
pub fn payment_card(digits: &[u8]) -> bool {
    card_network(digits).is_some() && luhn(digits)
}

/// IMEI: 15 digits with a Luhn check digit and a plausible reporting-body
/// prefix (the first two TAC digits are allocated by GSMA bodies).
pub fn imei(digits: &[u8]) -> bool {
    digits.len() == 15 && luhn(digits) && imei_reporting_body(digits)
}

fn imei_reporting_body(digits: &[u8]) -> bool {
    matches!(
        prefix_num(digits, 2),
        1 | 10 | 30 | 33 | 35 | 44 | 45 | 49 | 50 | 51 | 52 | 53 | 54 | 86 | 91 | 98 | 99
    )
}

/// US SSN rules (SSA randomisation era): area not 000, 666 or 900-999, group
/// not 00, serial not 0000, plus the numbers the SSA voided after they were
/// printed in advertising.
pub fn us_ssn(area: u32, group: u32, serial: u32) -> bool {
    if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
        return false;
    }
    !matches!(
        (area, group, serial),
        (78, 5, 1120) | (219, 9, 9999) | (123, 45, 6789)
    )
}

/// IBAN length per country (SWIFT IBAN registry).
pub fn iban_length(country: &[u8]) -> Option<usize> {
    let len = match country {
        b"AD" => 24,
        b"AE" => 23,
        b"AL" => 28,
        b"AT" => 20,
        b"AZ" => 28,
        b"BA" => 20,
        b"BE" => 16,
        b"BG" => 22,
        b"BH" => 22,
        b"BR" => 29,
        b"BY" => 28,
        b"CH" => 21,
        b"CR" => 22,
        b"CY" => 28,
        b"CZ" => 24,
        b"DE" => 22,
        b"DK" => 18,
        b"DO" => 28,
        b"EE" => 20,
        b"EG" => 29,
        b"ES" => 24,
        b"FI" => 18,
        b"FO" => 18,
        b"FR" => 27,
        b"GB" => 22,
        b"GE" => 22,
        b"GI" => 23,
        b"GL" => 18,
        b"GR" => 27,
        b"GT" => 28,
        b"HR" => 21,
        b"HU" => 28,
        b"IE" => 22,
        b"IL" => 23,
        b"IQ" => 23,
        b"IS" => 26,
        b"IT" => 27,
        b"JO" => 30,
        b"KW" => 30,
        b"KZ" => 20,
        b"LB" => 28,
        b"LC" => 32,
        b"LI" => 21,
        b"LT" => 20,
        b"LU" => 20,
        b"LV" => 21,
        b"MC" => 27,
        b"MD" => 24,
        b"ME" => 22,
        b"MK" => 19,
        b"MR" => 27,
        b"MT" => 31,
        b"MU" => 30,
        b"NL" => 18,
        b"NO" => 15,
        b"PK" => 24,
        b"PL" => 28,
        b"PS" => 29,
        b"PT" => 25,
        b"QA" => 29,
        b"RO" => 24,
        b"RS" => 22,
        b"RU" => 33,
        b"SA" => 24,
        b"SC" => 31,
        b"SE" => 24,
        b"SI" => 19,
        b"SK" => 24,
        b"SM" => 27,
        b"ST" => 25,
        b"SV" => 28,
        b"TL" => 23,
        b"TN" => 24,
        b"TR" => 26,
        b"UA" => 29,
        b"VA" => 22,
        b"VG" => 24,
        b"XK" => 20,
        _ => return None,
    };
    Some(len)
}

/// IBAN in compact form (no spaces, upper case): country length and ISO 7064
/// mod-97 == 1.
pub fn iban(compact: &[u8]) -> bool {
    if compact.len() < 15 || compact.len() > 34 {
        return false;
    }
    if !compact[..2].iter().all(u8::is_ascii_uppercase)
        || !compact[2..4].iter().all(u8::is_ascii_digit)
        || !compact[4..]
            .iter()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    {
        return false;
    }
    if iban_length(&compact[..2]) != Some(compact.len()) {
        return false;
    }
    let mut rem = 0u32;
    for &b in compact[4..].iter().chain(&compact[..4]) {
        if b.is_ascii_digit() {
            rem = (rem * 10 + u32::from(b - b'0')) % 97;
        } else {
            rem = (rem * 100 + u32::from(b - b'A') + 10) % 97;
        }
    }
    rem == 1
}

const B58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

fn b58_value(b: u8) -> Option<u8> {
    B58.iter().position(|&c| c == b).map(|p| p as u8)
}

/// Decodes Base58 into a fixed 25-byte buffer (the size of a P2PKH/P2SH
/// address), refusing anything that does not fit.
fn base58_decode_25(s: &[u8]) -> Option<[u8; 25]> {
    let mut out = [0u8; 25];
    for &c in s {
        let mut carry = u32::from(b58_value(c)?);
        for byte in out.iter_mut().rev() {
            carry += u32::from(*byte) * 58;
            *byte = (carry & 0xff) as u8;
            carry >>= 8;
        }
        if carry != 0 {
            return None;
        }
    }
    let leading_ones = s.iter().take_while(|&&c| c == b'1').count();
    let leading_zeros = out.iter().take_while(|&&b| b == 0).count();
    (leading_ones == leading_zeros).then_some(out)
}

/// Legacy Bitcoin mainnet address: Base58Check, version 0x00 (P2PKH) or
/// 0x05 (P2SH), checksum = first four bytes of double SHA-256.
pub fn btc_base58(s: &[u8]) -> bool {
    if !(26..=35).contains(&s.len()) || !(s[0] == b'1' || s[0] == b'3') {
        return false;
    }
    let Some(raw) = base58_decode_25(s) else {
        return false;
    };
    if raw[0] != 0x00 && raw[0] != 0x05 {
        return false;
    }
    let digest = Sha256::digest(Sha256::digest(&raw[..21]));
    digest[..4] == raw[21..]
}

const BECH32_CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

fn bech32_polymod(values: impl Iterator<Item = u8>) -> u32 {
    const GEN: [u32; 5] = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
    let mut chk: u32 = 1;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x1ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

/// SegWit mainnet address (BIP 173 bech32 for v0, BIP 350 bech32m for v1+),
/// including witness version and program length rules.
pub fn btc_bech32(s: &[u8]) -> bool {
    if !(14..=74).contains(&s.len()) {
        return false;
    }
    let lower = s.iter().any(u8::is_ascii_lowercase);
    let upper = s.iter().any(u8::is_ascii_uppercase);
    if lower && upper {
        return false;
    }
    let s: Vec<u8> = s.iter().map(u8::to_ascii_lowercase).collect();
    if &s[..3] != b"bc1" {
        return false;
    }
    let mut data = Vec::with_capacity(s.len() - 3);
    for &c in &s[3..] {
        match BECH32_CHARSET.iter().position(|&x| x == c) {
            Some(p) => data.push(p as u8),
            None => return false,
        }
    }
    if data.len() < 7 {
        return false;
    }
    let hrp_expand = [3u8, 3, 0, 2, 3];
    let check = bech32_polymod(hrp_expand.iter().copied().chain(data.iter().copied()));
    let version = data[0];
    let expected = if version == 0 { 1 } else { 0x2bc8_30a3 };
    if check != expected || version > 16 {
        return false;
    }
    let prog_bits = (data.len() - 7) * 5;
    let prog_len = prog_bits / 8;
    if prog_bits % 8 >= 5 || !(2..=40).contains(&prog_len) {
        return false;
    }
    version != 0 || prog_len == 20 || prog_len == 32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_known() {
        assert!(luhn(b"4111111111111111"));
        assert!(luhn(b"79927398713"));
        assert!(!luhn(b"4111111111111112"));
        assert!(!luhn(b""));
        assert!(!luhn(b"41a1"));
    }

    #[test]
    fn cards() {
        for ok in [
            "4111111111111111",
            "5500005555555559",
            "378282246310005",
            "6011111111111117",
            "3530111333300000",
            "2200000000000004",
            "30569309025904",
            "4222222222222",
            "2223003122003222",
            "6200000000000005",
        ] {
            assert!(payment_card(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "4111111111111112",
            "1234567890123452",
            "9999999999999995",
            "411111111111",
        ] {
            assert!(!payment_card(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn imeis() {
        assert!(imei(b"490154203237518"));
        assert!(imei(b"356938035643809"));
        assert!(!imei(b"490154203237519"));
        assert!(!imei(b"770154203237516"));
    }

    #[test]
    fn ssns() {
        assert!(us_ssn(536, 22, 1234));
        assert!(us_ssn(899, 99, 9999));
        assert!(!us_ssn(0, 22, 1234));
        assert!(!us_ssn(666, 22, 1234));
        assert!(!us_ssn(912, 22, 1234));
        assert!(!us_ssn(536, 0, 1234));
        assert!(!us_ssn(536, 22, 0));
        assert!(!us_ssn(78, 5, 1120));
    }

    #[test]
    fn ibans() {
        for ok in [
            "DE89370400440532013000",
            "GB82WEST12345698765432",
            "FR1420041010050500013M02606",
            "CH9300762011623852957",
            "NL91ABNA0417164300",
            "RU0204452560040702810412345678901",
        ] {
            assert!(iban(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "DE89370400440532013001",
            "GB82WEST1234569876543",
            "XX89370400440532013000",
            "de89370400440532013000",
        ] {
            assert!(!iban(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn btc() {
        assert!(btc_base58(b"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"));
        assert!(btc_base58(b"3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"));
        assert!(!btc_base58(b"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"));
        assert!(!btc_base58(b"3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLz"));
        assert!(btc_bech32(b"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"));
        assert!(btc_bech32(b"BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4"));
        assert!(btc_bech32(
            b"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"
        ));
        assert!(!btc_bech32(b"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"));
        assert!(!btc_bech32(b"bc1Qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"));
        // v1 program encoded with bech32 instead of bech32m (BIP 350 test vector)
        assert!(!btc_bech32(
            b"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd"
        ));
    }
}
