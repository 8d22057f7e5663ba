//! A host app's own provider, through the flows in-process.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;

use super::*;
use crate::flow::registration::RegistrationSubmission;
use crate::flow::{FlowContext, FlowType};

/// A provider that approves the code `good` as one fixed user.
struct Fixed(ProviderConfig);

#[async_trait]
impl OidcProvider for Fixed {
    fn config(&self) -> &ProviderConfig {
        &self.0
    }

    async fn uses_pkce(&self) -> Result<bool, FlowError> {
        Ok(true)
    }

    async fn authorization_url(
        &self,
        request: &AuthorizationRequest<'_>,
    ) -> Result<String, FlowError> {
        let mut url = url::Url::parse("https://idp.example/authorize").unwrap();
        url.query_pairs_mut()
            .append_pair("state", request.state)
            .append_pair("redirect_uri", request.redirect_uri)
            .append_pair("pkce", &request.pkce_verifier.is_some().to_string());
        Ok(url.to_string())
    }

    async fn exchange(&self, exchange: &CodeExchange<'_>) -> Result<ProviderAnswer, FlowError> {
        if exchange.code != "good" || exchange.pkce_verifier.is_none_or(str::is_empty) {
            return Err(provider_error(
                ProviderFailure::Upstream,
                "the code was refused",
            ));
        }
        Ok(ProviderAnswer {
            claims: Claims {
                sub: "fixed-1".into(),
                email: Some("fixed@example.org".into()),
                ..Default::default()
            },
            tokens: ProviderTokens::default(),
        })
    }
}

fn kratos() -> Kratos {
    let config = crate::config::Config::from_yaml_str(
        "secrets:\n  default: [\"a-secret-of-at-least-sixteen\"]\n\
         serve: {public: {base_url: \"https://auth.example.org/\"}}\n\
         selfservice:\n  methods:\n    password: {config: {haveibeenpwned_enabled: false}}\n    \
         oidc: {enabled: true}\n  flows:\n    registration:\n      after:\n        oidc:\n          \
         hooks: [{hook: session}]\n",
    )
    .unwrap();
    let schema = crate::identity::IdentitySchema::from_value(
        "default",
        json!({"properties": {"traits": {"type": "object", "properties": {
            "email": {"type": "string", "format": "email"}
        }, "required": ["email"]}}}),
    )
    .unwrap();
    let provider: ProviderConfig = serde_json::from_value(json!({
        "id": "fixed", "provider": "fixed", "client_id": "c",
        "mapper_url": format!("base64://{}", base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            "{identity: {traits: {email: std.extVar('claims').email}}}",
        )),
    }))
    .unwrap();
    let method = Arc::new(
        OidcMethod::from_config(&config)
            .unwrap()
            .with_provider(Arc::new(Fixed(provider)))
            .unwrap(),
    );
    Kratos::builder(config)
        .schema(schema)
        .login_method(method.clone())
        .registration_method(method.clone())
        .settings_method(method)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_host_apps_provider_signs_up_through_the_flows() {
    let kratos = kratos();
    let ctx = FlowContext::default();
    let flow = kratos
        .registration()
        .create(FlowType::Api, &ctx)
        .await
        .unwrap();
    let button = flow.ui.node("provider").expect("the provider's button");
    assert_eq!(button.meta.label.as_ref().unwrap().id, 1040002);
    let started = kratos
        .registration()
        .submit(
            flow.id,
            &json!({"method": "oidc", "provider": "fixed"}),
            &ctx,
        )
        .await;
    let Err(FlowError::BrowserLocationChangeRequired {
        redirect_browser_to,
    }) = started
    else {
        panic!("a redirect to the provider: {started:?}");
    };
    let url = url::Url::parse(&redirect_browser_to).unwrap();
    let param = |k: &str| {
        url.query_pairs()
            .find(|(n, _)| n == k)
            .unwrap()
            .1
            .into_owned()
    };
    assert_eq!(param("pkce"), "true");
    assert_eq!(
        param("redirect_uri"),
        "https://auth.example.org/self-service/methods/oidc/callback/fixed"
    );
    let state = param("state");
    let target = callback_target(&kratos, Some(&state), Some("fixed")).unwrap();
    assert_eq!(
        (target.flow_id, target.kind),
        (flow.id, CallbackFlow::Registration)
    );

    // A refused code leaves the flow's state in place for nothing else: the error is the
    // provider's.
    let refused = kratos
        .registration()
        .submit(
            flow.id,
            &CallbackParams {
                state: Some(state.clone()),
                code: Some("bad".into()),
                ..Default::default()
            }
            .into_payload("fixed"),
            &ctx,
        )
        .await;
    assert!(
        matches!(
            refused,
            Err(FlowError::Provider {
                kind: ProviderFailure::Upstream,
                ..
            })
        ),
        "{refused:?}"
    );

    let done = kratos
        .registration()
        .submit(
            flow.id,
            &CallbackParams {
                state: Some(state),
                code: Some("good".into()),
                ..Default::default()
            }
            .into_payload("fixed"),
            &ctx,
        )
        .await
        .unwrap();
    let RegistrationSubmission::Completed(done) = done else {
        panic!("registered");
    };
    assert_eq!(done.identity.traits, json!({"email": "fixed@example.org"}));
    let session = done.session.expect("the session hook ran");
    assert_eq!(
        session.authentication_methods[0].provider.as_deref(),
        Some("fixed")
    );
}

#[test]
fn a_state_from_another_secret_or_garbage_is_refused() {
    let kratos = kratos();
    for state in ["", "zz", "00112233"] {
        let e = callback_target(&kratos, Some(state), None).unwrap_err();
        assert!(matches!(
            e,
            FlowError::Provider {
                kind: ProviderFailure::BadRequest,
                ..
            }
        ));
    }
    let e = callback_target(&kratos, None, None).unwrap_err();
    assert!(e.to_string().contains("did not return the state"));
}
