//! Registration applies the password policy: length, similarity to the identifier, breaches.

use std::sync::Arc;

use kratos_core::flow::registration::RegistrationSubmission;
use kratos_core::flow::{FlowContext, FlowType};
use kratos_core::strategy::password::OfflineBreachList;
use kratos_core::{Config, Kratos};
use serde_json::json;

async fn submit(k: &Kratos, email: &str, password: &str) -> Vec<u32> {
    let ctx = FlowContext::default();
    let flow = k.registration().create(FlowType::Api, &ctx).await.unwrap();
    match k
        .registration()
        .submit(
            flow.id,
            &json!({"method": "password", "traits": {"email": email}, "password": password}),
            &ctx,
        )
        .await
        .unwrap()
    {
        RegistrationSubmission::Completed(_) => Vec::new(),
        RegistrationSubmission::Retry(f) => {
            f.ui.node("password")
                .unwrap()
                .messages
                .iter()
                .map(|m| m.id)
                .collect()
        }
    }
}

#[tokio::test]
async fn registration_rejects_weak_similar_and_breached_passwords() {
    let config = Config::from_yaml_str(
        "secrets:\n  default: [\"policy-test-secret-0123456789\"]\nhashers:\n  algorithm: bcrypt\n  bcrypt:\n    cost: 4\n",
    )
    .unwrap();
    let breached = OfflineBreachList::from_passwords(["correct horse battery staple"]);
    // A checker set on the builder replaces the configured Have I Been Pwned check, so the
    // default `haveibeenpwned_enabled: true` needs no `hibp` feature here.
    let k = Kratos::builder(config)
        .schema(kratos_core::testsuite::test_schema())
        .breach_checker(Arc::new(breached))
        .store(Arc::new(kratos_core::store::MemoryStore::new()))
        .build()
        .unwrap();
    assert_eq!(submit(&k, "ada@example.com", "short").await, vec![4000032]);
    assert_eq!(
        submit(&k, "ada@example.com", "ada@example.com1").await,
        vec![4000031]
    );
    assert_eq!(
        submit(&k, "ada@example.com", "correct horse battery staple").await,
        vec![4000034]
    );
    assert_eq!(
        submit(&k, "ada@example.com", "an unusual passphrase 93").await,
        Vec::<u32>::new()
    );
}
