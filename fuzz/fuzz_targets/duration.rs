//! Durations in Kratos's (Go's) grammar: checked arithmetic, no panic, and the signed and
//! unsigned parsers agree.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let signed = kratos_core::duration::parse_nanos(text);
        let unsigned = kratos_core::duration::parse_std(text);
        match (signed, unsigned) {
            (Ok(n), Ok(d)) => assert_eq!(u128::try_from(n).ok(), Some(d.as_nanos())),
            (Ok(n), Err(_)) => assert!(n < 0),
            (Err(a), Err(b)) => assert_eq!(a, b),
            (Err(_), Ok(_)) => panic!("parse_std accepted what parse_nanos refused"),
        }
        if let Ok(d) = kratos_core::config::KratosDuration::parse(text) {
            let _ = d.as_chrono();
        }
    }
});
