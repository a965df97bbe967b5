use detente_gate::gen::with_luhn;
use detente_gate::text::scan_slice;
use detente_gate::EntityType;
use proptest::prelude::*;

fn cards_in(text: &str) -> Vec<String> {
    scan_slice(text.as_bytes())
        .into_iter()
        .filter(|(t, _, _)| *t == EntityType::PaymentCard)
        .map(|(_, s, e)| text[s..e].to_string())
        .collect()
}

/// IIN prefixes and lengths of the networks we recognise.
fn card_strategy() -> impl Strategy<Value = String> {
    let prefixes = prop_oneof![
        Just(("4", 16)),
        Just(("4", 13)),
        Just(("51", 16)),
        Just(("55", 16)),
        Just(("2221", 16)),
        Just(("34", 15)),
        Just(("37", 15)),
        Just(("6011", 16)),
        Just(("3530", 16)),
        Just(("2200", 16)),
    ];
    (prefixes, proptest::collection::vec(0u8..10, 19)).prop_map(|((p, len), digits)| {
        let mut body = p.to_string();
        for d in digits.iter().take(len - 1 - p.len()) {
            body.push(char::from(b'0' + d));
        }
        with_luhn(&body)
    })
}

proptest! {
    #[test]
    fn every_luhn_valid_card_is_found(card in card_strategy(), sep in prop_oneof![Just(""), Just(" "), Just("-")]) {
        let formatted = if sep.is_empty() {
            card.clone()
        } else {
            card.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(sep)
        };
        let text = format!("Zahlung mit Karte {formatted}, danke.");
        prop_assert_eq!(cards_in(&text), vec![formatted]);
    }

    #[test]
    fn single_digit_corruption_is_not_found(card in card_strategy(), pos in 0usize..19, delta in 1u8..10) {
        let mut bytes = card.into_bytes();
        let pos = pos % bytes.len();
        bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
        let corrupted = String::from_utf8(bytes).unwrap();
        let text = format!("ref {corrupted} end");
        prop_assert!(cards_in(&text).is_empty(), "{} found", corrupted);
    }

    #[test]
    fn scanner_never_panics_and_spans_are_sane(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
        for (_, s, e) in scan_slice(&data) {
            prop_assert!(s < e && e <= data.len());
        }
    }

    #[test]
    fn dense_ascii_never_panics(s in "[0-9a-fA-F:.@ +()\\-,]{0,400}") {
        for (_, a, b) in scan_slice(s.as_bytes()) {
            prop_assert!(a < b && b <= s.len());
        }
    }
}
