//! The Jsonnet claims mapper (`mapper_url`), run as Kratos runs it: external variables
//! `claims` (the normalised claims) and `identity` (`{traits, metadata_public,
//! metadata_admin}`, empty objects for a new identity), the output read at
//! `identity.traits`, `identity.metadata_public`, `identity.metadata_admin` and
//! `identity.verified_addresses`.

use serde_json::{Map, Value, json};

use super::claims::Claims;
use super::provider::provider_error;
use crate::flow::{FlowError, ProviderFailure};
use crate::jsonnet::body::BodyTemplate;

/// An address the mapper says the provider verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedAddress {
    /// `email` or `sms`.
    pub via: String,
    /// The address.
    pub value: String,
}

/// What a mapper made of the claims.
#[derive(Clone, Debug, Default)]
pub struct Mapped {
    /// `identity.traits`
    pub traits: Map<String, Value>,
    /// `identity.metadata_public`, when the mapper set it.
    pub metadata_public: Option<Value>,
    /// `identity.metadata_admin`, when the mapper set it.
    pub metadata_admin: Option<Value>,
    /// `identity.verified_addresses`
    pub verified_addresses: Vec<VerifiedAddress>,
}

fn misconfigured(reason: impl Into<String>) -> FlowError {
    provider_error(ProviderFailure::Misconfigured, reason)
}

/// Runs `mapper` over `claims` for a new identity (or `identity`, `{traits,
/// metadata_public, metadata_admin}`, for an existing one).
///
/// # Errors
///
/// A misconfiguration error when the template fails or does not return an object at
/// `identity.traits` (Kratos's wording); the message names no claim value.
pub async fn map_claims(
    mapper: &BodyTemplate,
    claims: &Claims,
    identity: Option<&Value>,
) -> Result<Mapped, FlowError> {
    let template = mapper.template().await.map_err(|e| {
        misconfigured(format!(
            "The OpenID Connect Jsonnet mapper could not be loaded: {e}"
        ))
    })?;
    let claims = serde_json::to_value(claims)
        .map_err(|_| misconfigured("The claims could not be encoded"))?;
    let empty = json!({"traits": {}, "metadata_public": {}, "metadata_admin": {}});
    let identity = identity.unwrap_or(&empty);
    let out = template
        .evaluate_ext_vars(&[("claims", &claims), ("identity", identity)])
        .await
        .map_err(|e| misconfigured(format!("The OpenID Connect Jsonnet mapper failed: {e}")))?;
    let out: Value = serde_json::from_str(&out)
        .map_err(|_| misconfigured("The OpenID Connect Jsonnet mapper returned no JSON"))?;
    let Some(Value::Object(traits)) = out.pointer("/identity/traits").cloned() else {
        return Err(misconfigured(
            "OpenID Connect Jsonnet mapper did not return an object for key identity.traits. \
             Please check your Jsonnet code!",
        ));
    };
    let metadata = |key: &str| -> Result<Option<Value>, FlowError> {
        match out.pointer(&format!("/identity/{key}")) {
            None | Some(Value::Null) => Ok(None),
            Some(v @ Value::Object(_)) => Ok(Some(v.clone())),
            Some(_) => Err(misconfigured(format!(
                "OpenID Connect Jsonnet mapper did not return an object for key identity.{key}. \
                 Please check your Jsonnet code!"
            ))),
        }
    };
    let mut verified_addresses = Vec::new();
    if let Some(list) = out.pointer("/identity/verified_addresses") {
        let Some(list) = list.as_array() else {
            return Err(misconfigured(
                "OpenID Connect Jsonnet mapper did not return an array for key \
                 identity.verified_addresses. Please check your Jsonnet code!",
            ));
        };
        for item in list {
            let (Some(via), Some(value)) = (
                item.get("via").and_then(Value::as_str),
                item.get("value").and_then(Value::as_str),
            ) else {
                return Err(misconfigured(
                    "Each of identity.verified_addresses needs a `via` and a `value`",
                ));
            };
            verified_addresses.push(VerifiedAddress {
                via: via.to_owned(),
                value: value.to_owned(),
            });
        }
    }
    Ok(Mapped {
        traits,
        metadata_public: metadata("metadata_public")?,
        metadata_admin: metadata("metadata_admin")?,
        verified_addresses,
    })
}

/// The traits the form sent merged over the mapper's: the form's values win, objects are
/// merged key by key (as Kratos merges them).
pub fn merge_traits(form: &Value, mapped: Map<String, Value>) -> Value {
    let mut base = Value::Object(mapped);
    if let Value::Object(form) = form {
        merge_into(&mut base, form);
    }
    base
}

/// The mapper's traits merged over the ones the form sent: the form only fills what the
/// mapper left out. For sign-ups whose form and provider sign-in may not come from the same
/// person (an api flow's callback, which no cookie binds to the app that made the flow).
pub fn merge_traits_under(form: &Value, mapped: Map<String, Value>) -> Value {
    match form {
        Value::Object(_) => {
            let mut base = form.clone();
            merge_into(&mut base, &mapped);
            base
        }
        _ => Value::Object(mapped),
    }
}

fn merge_into(base: &mut Value, over: &Map<String, Value>) {
    let Value::Object(target) = base else { return };
    for (k, v) in over {
        match (target.get_mut(k), v) {
            (Some(existing @ Value::Object(_)), Value::Object(inner)) => {
                merge_into(existing, inner)
            }
            (_, Value::Null) => {}
            (_, v) => {
                target.insert(k.clone(), v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_an_unbound_sign_up_the_mappers_traits_win() {
        let Value::Object(mapped) = json!({"email": "a@x.org", "name": {"first": "A"}}) else {
            unreachable!()
        };
        let merged = merge_traits_under(&json!({"email": "victim@x.org", "tos": true}), mapped);
        assert_eq!(
            merged,
            json!({"email": "a@x.org", "name": {"first": "A"}, "tos": true})
        );
    }

    #[test]
    fn form_traits_win_over_the_mappers() {
        let Value::Object(mapped) =
            json!({"email": "a@x.org", "name": {"first": "A", "last": "B"}})
        else {
            unreachable!()
        };
        let merged = merge_traits(&json!({"name": {"first": "C"}, "tos": true}), mapped);
        assert_eq!(
            merged,
            json!({"email": "a@x.org", "name": {"first": "C", "last": "B"}, "tos": true})
        );
    }

    #[tokio::test]
    async fn a_mapper_gets_claims_and_an_empty_identity() {
        let mapper = BodyTemplate::from_source(
            "m.jsonnet",
            "local claims = std.extVar('claims');\n\
             local id = std.extVar('identity');\n\
             { identity: { traits: { email: claims.email, had: std.length(id.traits) },\n\
               metadata_public: { sub: claims.sub },\n\
               verified_addresses: [{ via: 'email', value: claims.email }] } }",
        )
        .unwrap();
        let claims = Claims {
            sub: "s1".into(),
            email: Some("a@x.org".into()),
            ..Default::default()
        };
        let m = map_claims(&mapper, &claims, None).await.unwrap();
        assert_eq!(
            Value::Object(m.traits),
            json!({"email": "a@x.org", "had": 0})
        );
        assert_eq!(m.metadata_public, Some(json!({"sub": "s1"})));
        assert_eq!(m.metadata_admin, None);
        assert_eq!(m.verified_addresses[0].value, "a@x.org");
    }

    #[tokio::test]
    async fn a_mapper_without_traits_or_that_fails_is_a_misconfiguration() {
        for source in [
            "{ identity: {} }",
            "error 'boom ' + std.extVar('claims').sub",
        ] {
            let mapper = BodyTemplate::from_source("m.jsonnet", source).unwrap();
            let claims = Claims {
                sub: "secret-subject".into(),
                ..Default::default()
            };
            let e = map_claims(&mapper, &claims, None).await.unwrap_err();
            assert!(
                matches!(
                    e,
                    FlowError::Provider {
                        kind: ProviderFailure::Misconfigured,
                        ..
                    }
                ),
                "{e:?}"
            );
            assert!(!e.to_string().contains("secret-subject"));
        }
    }
}
