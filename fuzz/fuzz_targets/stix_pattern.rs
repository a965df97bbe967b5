#![no_main]
use libfuzzer_sys::fuzz_target;

// STIX patterns: checking arbitrary text never panics.
fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = detente_stix::check_pattern(s);
    }
});
