//! The Ory Permission Language parser and type checker: any text gives diagnostics or a
//! schema, never a panic or a stack overflow.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(source) = std::str::from_utf8(data) {
        let _ = keto_core::opl::parse(source);
        let _ = keto_core::Schema::from_opl(source);
    }
});
