#![no_main]
use libfuzzer_sys::fuzz_target;

// Signed notes: parsing arbitrary text must never panic; a parsed note parses again.
fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(n) = detente_log::note::parse(s) {
            assert_eq!(detente_log::note::parse(s).ok(), Some(n));
        }
    }
});
