#![no_main]
use detente_domain::SignedEnvelope;
use libfuzzer_sys::fuzz_target;

// Signed envelopes from outside bytes: reading never panics, and an envelope
// that reads once reads again to the same bytes.
fuzz_target!(|data: &[u8]| {
    if let Ok((s, _)) = SignedEnvelope::read_own(data) {
        let (again, _) = SignedEnvelope::read_own(s.bytes()).expect("re-read");
        assert_eq!(again.bytes(), s.bytes());
    }
});
