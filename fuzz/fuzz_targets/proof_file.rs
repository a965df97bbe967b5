#![no_main]
use detente_log::proof_file::ProofFile;
use libfuzzer_sys::fuzz_target;

// tlog-proof files: parse -> format -> parse is stable.
fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(p) = ProofFile::parse(s) {
            let again = ProofFile::parse(&p.format()).expect("re-serialised proof parses");
            assert_eq!(again, p);
        }
    }
});
