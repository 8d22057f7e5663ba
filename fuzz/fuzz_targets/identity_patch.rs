//! RFC 6902 JSON Patch documents applied to an identity through the admin API: each is
//! applied or refused with an error, never a panic or a stack overflow, and a refused patch
//! leaves the identity as it was.
#![no_main]

use std::sync::{Arc, OnceLock};

use kratos_core::Kratos;
use kratos_core::identity::CreateIdentityBody;
use libfuzzer_sys::fuzz_target;
use serde_json::json;

struct Env {
    rt: tokio::runtime::Runtime,
    kratos: Kratos,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| Env {
        rt: tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime"),
        kratos: kratos_core::testsuite::kratos(Arc::new(kratos_core::store::MemoryStore::new())),
    })
}

fuzz_target!(|data: &[u8]| {
    // As the HTTP layer reads it: JSON with serde_json's own depth limit.
    let Ok(patch) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let env = env();
    env.rt.block_on(async {
        let identities = env.kratos.identities();
        let created = identities
            .create(CreateIdentityBody {
                traits: json!({ "email": format!("{}@example.com", uuid::Uuid::new_v4()) }),
                metadata_public: Some(json!({ "a": [1, {"b": "c"}] })),
                ..Default::default()
            })
            .await
            .expect("identity");
        let before = identities.get(created.id).await.expect("stored");
        match identities.patch(created.id, &patch).await {
            Ok(patched) => {
                assert_eq!(patched.id, created.id);
                let _ = serde_json::to_vec(&patched).expect("serialises");
            }
            Err(_) => {
                let after = identities.get(created.id).await.expect("still stored");
                assert_eq!(
                    serde_json::to_value(&after).ok(),
                    serde_json::to_value(&before).ok()
                );
            }
        }
        identities.delete(created.id).await.expect("deleted");
    });
});
