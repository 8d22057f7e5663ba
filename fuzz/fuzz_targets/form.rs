//! Form bodies decoded to JSON as the self-service endpoints read them.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = kratos_axum::negotiate::form_to_json(data) {
        assert!(value.is_object());
        assert!(!kratos_core::json::exceeds_depth(
            &value,
            kratos_core::json::MAX_DEPTH + 1
        ));
        // What was decoded serialises (a recursive walk) without trouble.
        let _ = serde_json::to_vec(&value).expect("serialises");
    }
});
