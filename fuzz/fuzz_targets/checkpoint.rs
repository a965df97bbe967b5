#![no_main]
use detente_log::checkpoint::Checkpoint;
use libfuzzer_sys::fuzz_target;

// Checkpoint bodies: parse -> body -> parse is stable.
fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(cp) = Checkpoint::parse_body(s) {
            let again =
                Checkpoint::parse_body(&cp.body()).expect("re-serialised checkpoint parses");
            assert_eq!(again.body(), cp.body());
        }
    }
});
