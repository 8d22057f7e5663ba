//! Every imported password-hash format's parser: a hash is accepted or refused, never a
//! panic, and nothing is computed while parsing.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(hash) = std::str::from_utf8(data) {
        let _ = kratos_hash::validate_import(hash);
    }
});
