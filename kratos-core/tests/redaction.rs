//! A registry built with every kind of secret the configuration holds shows none of them in
//! its `Debug` output (which includes the whole configuration), nor in its serialised
//! configuration.

use std::sync::Arc;

use kratos_core::store::MemoryStore;
use kratos_core::{Config, Kratos};

/// Jsonnet body templates holding a key: `{key: 'registry-courier-body-8'}` and
/// `{key: 'registry-hook-body-9'}`, in base64.
const COURIER_BODY: &str = "base64://e2tleTogJ3JlZ2lzdHJ5LWNvdXJpZXItYm9keS04J30=";
const HOOK_BODY: &str = "base64://e2tleTogJ3JlZ2lzdHJ5LWhvb2stYm9keS05J30=";

const SECRETS: [&str; 7] = [
    "registry-default-secret-1",
    "registry-cookie-secret-2",
    "registry-cipher-secret-3-0123456",
    "registry-smtp-password-4",
    "registry-hook-api-key-5",
    "registry-hook-basic-pw-6",
    "registry-courier-http-pw-7",
];

#[test]
fn a_registry_shows_no_secret_in_debug() {
    let yaml = format!(
        "secrets:\n  default: [\"{}\"]\n  cookie: [\"{}\"]\n  cipher: [\"{}\"]\n\
         ciphers:\n  algorithm: xchacha20-poly1305\n\
         hashers:\n  algorithm: bcrypt\n  bcrypt:\n    cost: 4\n\
         courier:\n  smtp:\n    connection_uri: smtps://mailer:{}@mail.example.com:465/\n  \
         http:\n    request_config:\n      url: https://mail.example.com/send\n      \
         auth: {{type: basic_auth, config: {{user: mailer, password: {}}}}}\n      \
         body: {COURIER_BODY}\n\
         selfservice:\n  flows:\n    registration:\n      after:\n        password:\n          hooks:\n\
         \x20           - hook: web_hook\n              config:\n                url: https://hooks.example.com/a\n\
         \x20               auth: {{type: api_key, config: {{name: X-Key, value: {}, in: header}}}}\n\
         \x20               body: {HOOK_BODY}\n\
         \x20           - hook: web_hook\n              config:\n                url: https://hooks.example.com/b\n\
         \x20               auth: {{type: basic_auth, config: {{user: hooks, password: {}}}}}\n",
        SECRETS[0], SECRETS[1], SECRETS[2], SECRETS[3], SECRETS[6], SECRETS[4], SECRETS[5],
    );
    let config = Config::from_yaml_str(&yaml).unwrap();
    let kratos = Kratos::builder(kratos_core::testsuite::without_hibp(config))
        .store(Arc::new(MemoryStore::new()))
        .schema(kratos_core::testsuite::test_schema())
        .build()
        .unwrap();
    let debug = format!("{kratos:?}");
    let written = serde_json::to_string(kratos.config()).unwrap();
    for secret in SECRETS {
        assert!(!debug.contains(secret), "Debug shows {secret}");
        assert!(!written.contains(secret), "serialisation writes {secret}");
    }
    // Base64 body templates are left out of Debug output (and a hook's out of its
    // serialisation, as its header values are).
    for body in [COURIER_BODY, HOOK_BODY] {
        assert!(!debug.contains(&body[9..]), "Debug shows a base64 body");
    }
    assert!(!written.contains(&HOOK_BODY[9..]));
    // The values are there for the code that uses them.
    assert_eq!(
        kratos.config().secrets.default[0].expose(),
        "registry-default-secret-1"
    );
    assert!(
        debug.contains("hooks.example.com"),
        "the rest stays readable"
    );
}
