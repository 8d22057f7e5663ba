//! The claims a provider gives about its user, normalised as Kratos hands them to the
//! claims mapper (`std.extVar('claims')`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A provider's claims about the user. `sub` is required; the rest are OpenID Connect's
/// standard claims where the provider has them, and `raw_claims` everything it sent.
#[derive(Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Claims {
    /// `iss`
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub iss: String,
    /// `sub`: the user's stable id at the provider.
    pub sub: String,
    /// `name`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `given_name`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// `family_name`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// `middle_name`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    /// `nickname`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// `preferred_username`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// `profile`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// `picture`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    /// `website`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// `email`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `email_verified` (a boolean, or the strings `"true"` / `"false"` some providers send).
    #[serde(
        default,
        deserialize_with = "convertible_bool",
        skip_serializing_if = "is_false"
    )]
    pub email_verified: bool,
    /// `gender`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// `birthdate`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthdate: Option<String>,
    /// `zoneinfo`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zoneinfo: Option<String>,
    /// `locale`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// `phone_number`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// `phone_number_verified`
    #[serde(
        default,
        deserialize_with = "convertible_bool",
        skip_serializing_if = "is_false"
    )]
    pub phone_number_verified: bool,
    /// `hd`: Google's hosted domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hd: Option<String>,
    /// `acr`: the authentication context class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// `amr`: the authentication methods used at the provider.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// Every claim as the provider sent it.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub raw_claims: Map<String, Value>,
}

impl std::fmt::Debug for Claims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Claims are personal data: only which ones are there.
        f.debug_struct("Claims")
            .field("iss", &self.iss)
            .field("claims", &self.raw_claims.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn convertible_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    })
}

impl Claims {
    /// Reads standard claims out of a JSON object (an ID token's payload, a userinfo
    /// answer), keeping the whole object as `raw_claims`. `amr` may be a string or a list.
    ///
    /// # Errors
    ///
    /// When `sub` is missing or empty, or the value is no object.
    pub fn from_object(object: Map<String, Value>) -> Result<Self, String> {
        let mut view = object.clone();
        // `sub` as a number (GitHub ids are numbers) becomes its decimal text.
        if let Some(Value::Number(n)) = view.get("sub") {
            let text = n.to_string();
            view.insert("sub".into(), Value::String(text));
        }
        if let Some(Value::String(one)) = view.get("amr") {
            let list = vec![Value::String(one.clone())];
            view.insert("amr".into(), Value::Array(list));
        }
        // Claims of unexpected types are dropped from the typed view (kept in raw_claims).
        for key in [
            "iss",
            "name",
            "given_name",
            "family_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "website",
            "email",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "phone_number",
            "hd",
            "acr",
        ] {
            if view.get(key).is_some_and(|v| !v.is_string()) {
                view.remove(key);
            }
        }
        if view
            .get("amr")
            .is_some_and(|v| !v.as_array().is_some_and(|a| a.iter().all(Value::is_string)))
        {
            view.remove("amr");
        }
        view.remove("raw_claims");
        let mut claims: Claims = serde_json::from_value(Value::Object(view))
            .map_err(|_| "the claims have no subject (sub)".to_owned())?;
        if claims.sub.is_empty() {
            return Err("the claims have no subject (sub)".into());
        }
        claims.raw_claims = object;
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_standard_claims_and_keeps_the_raw_ones() {
        let Value::Object(o) = json!({
            "sub": 42, "email": "a@example.org", "email_verified": "true",
            "amr": "pwd", "name": {"odd": true}, "custom": [1]
        }) else {
            unreachable!()
        };
        let c = Claims::from_object(o).unwrap();
        assert_eq!(c.sub, "42");
        assert_eq!(c.email.as_deref(), Some("a@example.org"));
        assert!(c.email_verified);
        assert_eq!(c.amr, vec!["pwd".to_owned()]);
        assert_eq!(c.name, None);
        assert_eq!(c.raw_claims["custom"], json!([1]));
        assert!(!format!("{c:?}").contains("a@example.org"));
    }

    #[test]
    fn refuses_claims_without_a_subject() {
        for v in [json!({}), json!({"sub": ""}), json!({"sub": null})] {
            let Value::Object(o) = v else { unreachable!() };
            assert!(Claims::from_object(o).is_err());
        }
    }
}
