//! The `return_to` allow-list check: any candidate is allowed (and then on an allowed
//! origin) or refused, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

const DEFAULT: &str = "https://app.example.com/welcome";

fuzz_target!(|data: &[u8]| {
    if let Ok(candidate) = std::str::from_utf8(data) {
        let allowed = vec![
            "https://app.example.com/".to_owned(),
            "https://*.example.org/callback".to_owned(),
            "http://localhost:3000".to_owned(),
        ];
        if let Ok(url) = kratos_core::flow::check_return_to(candidate, DEFAULT, &allowed) {
            let parsed = url::Url::parse(&url).expect("an allowed return_to is a URL");
            assert!(matches!(parsed.scheme(), "https" | "http"), "{url}");
            // The security property: an allowed URL is on an allowed host.
            let host = parsed.host_str().expect("an allowed return_to has a host");
            assert!(
                host == "app.example.com" || host == "localhost" || host.ends_with(".example.org"),
                "{candidate:?} was allowed to {url}"
            );
        }
    }
});
