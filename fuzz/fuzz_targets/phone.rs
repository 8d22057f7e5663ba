//! Phone numbers as identity traits and code addresses: no panic on any input, and a number
//! that normalises is in E.164 and normalises to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(e164) = kratos_core::identity::normalize_phone(text)
    {
        assert!(e164.starts_with('+') && e164[1..].bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(kratos_core::identity::normalize_phone(&e164).as_deref(), Ok(e164.as_str()));
    }
});
