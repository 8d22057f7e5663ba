//! The labels the forms take from the identity schema: trait fields carry Kratos's 1070002
//! with `{title, name}`, and the login identifier is named after the schema's identifier
//! trait.

use std::sync::Arc;

use kratos_core::flow::login::{LoginOptions, LoginSubmission};
use kratos_core::flow::registration::RegistrationSubmission;
use kratos_core::flow::ui::{UiContainer, text};
use kratos_core::flow::{FlowContext, FlowType};
use kratos_core::identity::IdentitySchema;
use kratos_core::{Config, Kratos};
use serde_json::{Value, json};

const QUICKSTART: &str = include_str!("../schemas/quickstart-email-password.identity.schema.json");

fn kratos() -> Kratos {
    let config = Config::from_yaml_str(concat!(
        "secrets:\n  default: [\"ui-labels-test-secret-0123456789\"]\n",
        "hashers:\n  algorithm: bcrypt\n  bcrypt:\n    cost: 4\n",
        "selfservice:\n  methods:\n    code:\n      passwordless_enabled: true\n",
        "  flows:\n    registration:\n      after:\n        password:\n          hooks: [{hook: session}]\n",
    ))
    .unwrap();
    Kratos::builder(kratos_core::testsuite::without_hibp(config))
        .schema(IdentitySchema::from_json_str("default", QUICKSTART).unwrap())
        .store(Arc::new(kratos_core::store::MemoryStore::new()))
        .build()
        .unwrap()
}

/// The serialised label of the node named `name`.
fn label(ui: &UiContainer, name: &str) -> Value {
    let node = ui.node(name).unwrap_or_else(|| panic!("no node {name}"));
    serde_json::to_value(node).unwrap()["meta"]["label"].clone()
}

fn generated(title: &str, name: &str) -> Value {
    json!({
        "id": 1070002,
        "text": title,
        "type": "info",
        "context": {"title": title, "name": name},
    })
}

#[tokio::test]
async fn trait_fields_carry_title_and_name() {
    let k = kratos();
    let ctx = FlowContext::default();
    let flow = k.registration().create(FlowType::Api, &ctx).await.unwrap();
    assert_eq!(
        label(&flow.ui, "traits.email"),
        generated("E-Mail", "traits.email")
    );
    assert_eq!(
        label(&flow.ui, "traits.name.first"),
        generated("First Name", "traits.name.first")
    );
    assert_eq!(
        label(&flow.ui, "traits.name.last"),
        generated("Last Name", "traits.name.last")
    );

    // Settings builds the profile form from the same schema.
    let RegistrationSubmission::Completed(done) = k
        .registration()
        .submit(
            flow.id,
            &json!({"method": "password", "traits": {"email": "ada@example.com"},
                    "password": "an unusual passphrase 93"}),
            &ctx,
        )
        .await
        .unwrap()
    else {
        panic!("registration refused")
    };
    let token = done.session_token.expect("the session hook issues a token");
    let settings_ctx = FlowContext {
        session_token: Some(token.expose().to_owned()),
        ..FlowContext::default()
    };
    let settings = k
        .settings()
        .create(FlowType::Api, &settings_ctx)
        .await
        .unwrap();
    assert_eq!(
        label(&settings.ui, "traits.email"),
        generated("E-Mail", "traits.email")
    );
    assert_eq!(
        label(&settings.ui, "traits.name.first"),
        generated("First Name", "traits.name.first")
    );
}

#[tokio::test]
async fn the_login_identifier_is_named_after_the_identifier_trait() {
    let k = kratos();
    let ctx = FlowContext::default();
    let flow = k
        .login()
        .create(FlowType::Api, &ctx, LoginOptions::default())
        .await
        .unwrap();
    assert_eq!(
        label(&flow.ui, "identifier"),
        generated("E-Mail", "traits.email")
    );
    assert_eq!(
        label(&flow.ui, "identifier"),
        serde_json::to_value(text::default_login_identifier_label(k.schemas())).unwrap()
    );

    // The code method's second step keeps the identifier, with its label.
    let LoginSubmission::Retry(sent) = k
        .login()
        .submit(
            flow.id,
            &json!({"method": "code", "identifier": "ada@example.com"}),
            &ctx,
        )
        .await
        .unwrap()
    else {
        panic!("a code login does not complete on sending")
    };
    assert!(sent.ui.node("code").is_some(), "{:?}", sent.ui);
    assert_eq!(
        label(&sent.ui, "identifier"),
        generated("E-Mail", "traits.email")
    );
}

#[tokio::test]
async fn the_login_identifier_is_id_without_one_titled_identifier() {
    // The suite's schema has two identifiers (email and username) and no titles.
    let config =
        Config::from_yaml_str("secrets:\n  default: [\"ui-labels-test-secret-0123456789\"]\n")
            .unwrap();
    let k = Kratos::builder(kratos_core::testsuite::without_hibp(config))
        .schema(kratos_core::testsuite::test_schema())
        .store(Arc::new(kratos_core::store::MemoryStore::new()))
        .build()
        .unwrap();
    let flow = k
        .login()
        .create(
            FlowType::Api,
            &FlowContext::default(),
            LoginOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        label(&flow.ui, "identifier"),
        json!({"id": 1070004, "text": "ID", "type": "info"})
    );
}
