//! Two-step verification: the security page (`/security`), where a signed-in user links an
//! authenticator app (TOTP) and manages backup codes through a settings flow, and the
//! second-factor form of the sign-in page (the login flow at `aal2` a sign-in continues with
//! when the account has a second factor).
//!
//! Kratos has one settings UI URL (`/settings`); the security page starts its settings flows
//! with a mark in the request (`?page=security`), which Kratos keeps in the flow's
//! `request_url`, and the settings page passes such flows on to `/security`. So every step a
//! flow of this page takes (a wrong code, the new backup codes to confirm, "saved") comes back
//! here.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use kratos_core::flow::{FlowContext, FlowError};
use kratos_core::session::Aal;
use serde_json::{Value, json};

use crate::AppState;
use crate::pages::{
    FlowQuery, Viewer, Visitor, csrf_token_of, encode, friendly, see_other, visitor,
};

/// The settings groups the security page shows (and the settings page leaves to it).
pub(crate) const GROUPS: &[&str] = &["totp", "lookup_secret", "webauthn"];

/// Where the security page starts a settings flow: the mark `page=security` stays in the
/// flow's `request_url`.
const START: &str = "/self-service/settings/browser?page=security";

/// The security page, for signed-in people only.
pub(crate) fn router(kratos: &kratos_core::Kratos) -> Router<AppState> {
    Router::new()
        .route("/security", get(security_page))
        .route_layer(kratos_axum::LoginRequired::new(kratos))
}

/// The sign-in that steps a session up to `aal2` (the second factor), coming back to
/// `return_to` afterwards (else to the default return URL, the home page).
pub(crate) fn step_up_url(return_to: Option<&str>) -> String {
    let mut url = "/self-service/login/browser?aal=aal2".to_owned();
    if let Some(r) = return_to.filter(|r| !r.is_empty()) {
        url.push_str("&return_to=");
        url.push_str(&encode(r));
    }
    url
}

/// Whether a login flow asks for the second factor (`requested_aal` is `aal2`).
pub(crate) fn is_step_up(flow: &Value) -> bool {
    flow.get("requested_aal").and_then(Value::as_str) == Some("aal2")
}

/// Whether a settings flow was started by the security page (its `request_url` carries the
/// mark of [`START`]).
pub(crate) fn started_on_security_page(flow: &Value) -> bool {
    flow.get("request_url")
        .and_then(Value::as_str)
        .and_then(|url| url.split_once('?'))
        .is_some_and(|(_, query)| {
            form_urlencoded::parse(query.as_bytes()).any(|(k, v)| k == "page" && v == "security")
        })
}

/// Whether a flow's UI has a node named `name` (an input), or with the id `name` (a text or
/// an image).
fn has_node(ui: &Value, name: &str) -> bool {
    ui.get("nodes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|n| {
            n.pointer("/attributes/name").and_then(Value::as_str) == Some(name)
                || n.pointer("/attributes/id").and_then(Value::as_str) == Some(name)
        })
}

/// The groups (other than `default`) of a flow's nodes, in the order they first appear.
fn groups_of(ui: &Value) -> Vec<String> {
    let mut groups: Vec<String> = Vec::new();
    for n in ui
        .get("nodes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(g) = n.get("group").and_then(Value::as_str)
            && g != "default"
            && !groups.iter().any(|x| x == g)
        {
            groups.push(g.to_owned());
        }
    }
    groups
}

/// How many nodes named `name` a flow's UI has (one `webauthn_remove` button per security key).
fn count_nodes(ui: &Value, name: &str) -> usize {
    ui.get("nodes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|n| n.pointer("/attributes/name").and_then(Value::as_str) == Some(name))
        .count()
}

/// Whether `group` has a `method` node of its own (a submit button choosing it). Kratos's
/// backup-code buttons (`lookup_secret_regenerate`, …) and the TOTP unlink button carry no
/// method; the form adds it as a hidden input, since kratos-rs picks the strategy by `method`.
fn group_has_method(ui: &Value, group: &str) -> bool {
    ui.get("nodes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|n| {
            n.get("group").and_then(Value::as_str) == Some(group)
                && n.pointer("/attributes/name").and_then(Value::as_str) == Some("method")
        })
}

/// `/security`: the settings flow's authenticator-app and backup-code forms. Without a flow
/// (or with an unknown or expired one, or one started in another browser) it starts one; a
/// session that needs its second factor steps up first and comes back.
async fn security_page(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Query(query): Query<FlowQuery>,
) -> Response {
    let Some(id) = query.id() else {
        return see_other(START);
    };
    let ctx = FlowContext {
        request_url: None,
        session_token: Some(viewer.token.clone()),
        client: Default::default(),
    };
    let flow = match state.kratos.settings().get(id, &ctx).await {
        Ok(flow) => serde_json::to_value(flow).unwrap_or_default(),
        Err(FlowError::NotFound | FlowError::Expired { .. } | FlowError::IdentityMismatch) => {
            return see_other(START);
        }
        Err(e) => {
            let body = kratos_core::error::KratosError::to_body(&e);
            let (title, message) = friendly(&body.error.id, body.error.code, &body.error.reason);
            let status =
                StatusCode::from_u16(body.error.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return state.views.error(
                status,
                Some(&viewer.nav),
                &title,
                &message,
                Some((START, "Start again")),
            );
        }
    };
    // Only a browser flow of this browser: its CSRF cookie vouches for the flow's token.
    let vouched = flow.get("type").and_then(Value::as_str) == Some("browser")
        && csrf_token_of(&flow).is_some_and(|token| {
            kratos_axum::cookie::csrf_cookie_vouches_for(&state.kratos, &headers, &token)
        });
    if !vouched {
        return see_other(START);
    }
    let ui = flow.get("ui").cloned().unwrap_or_default();
    let groups = groups_of(&ui);
    let methods: Vec<&str> = viewer
        .session
        .authentication_methods
        .iter()
        .map(|m| m.method.as_str())
        .collect();
    state.views.page(
        "security.html",
        json!({
            "title": "Two-step verification",
            "nav": "security",
            "viewer": viewer.nav,
            "ui": ui,
            "aal2": viewer.session.authenticator_assurance_level >= Aal::Aal2,
            "session_methods": methods,
            "totp_offered": groups.iter().any(|g| g == "totp"),
            "totp_linked": has_node(&ui, "totp_unlink"),
            "codes_offered": groups.iter().any(|g| g == "lookup_secret"),
            "codes_saved": has_node(&ui, "lookup_secret_reveal"),
            "codes_to_confirm": has_node(&ui, "lookup_secret_confirm"),
            "codes_shown": has_node(&ui, "lookup_secret_codes"),
            "keys_offered": groups.iter().any(|g| g == "webauthn"),
            "keys": count_nodes(&ui, "webauthn_remove"),
            "hidden_method": {
                "totp": !group_has_method(&ui, "totp"),
                "lookup_secret": !group_has_method(&ui, "lookup_secret"),
                "webauthn": !group_has_method(&ui, "webauthn"),
            },
        }),
    )
}

/// The second-factor form of the sign-in page: a login flow at `aal2`, one form per method
/// (the authenticator app's code, a backup code). A session waiting for it is named, with a
/// way to sign out (for someone without their second factor at hand).
pub(crate) async fn second_factor_page(
    state: &AppState,
    headers: &HeaderMap,
    flow: &Value,
) -> Response {
    let (viewer, pending) = match visitor(state, headers).await {
        Ok(Visitor::SignedIn(v)) => (Some(v.nav), None),
        Ok(Visitor::NeedsSecondFactor(v)) => (None, Some(v.nav)),
        Ok(Visitor::Anonymous) => (None, None),
        Err(r) => return r,
    };
    let ui = flow.get("ui").cloned().unwrap_or_default();
    let groups = groups_of(&ui);
    let offers = |g: &str| groups.iter().any(|x| x == g);
    // One titled form per second factor, rendered with kratos-axum's node templates.
    let forms = serde_json::from_value::<kratos_core::flow::ui::UiContainer>(ui.clone())
        .map(|ui| kratos_axum::ui::forms_of(kratos_axum::ui::FlowKind::Login, &ui, true))
        .unwrap_or_default();
    let lead = match (offers("totp"), offers("lookup_secret")) {
        _ if offers("webauthn") => {
            "Use your security key, or another second factor you have set up."
        }
        (true, true) => {
            "Enter the 6-digit code your authenticator app shows, or one of your backup codes."
        }
        (true, false) => "Enter the 6-digit code your authenticator app shows.",
        (false, true) => "Enter one of your backup codes.",
        (false, false) => "This account has no second factor that can be used here.",
    };
    state.views.page(
        "second_factor.html",
        json!({
            "title": "Two-step verification",
            "lead": lead,
            "nav": "login",
            "viewer": viewer,
            "pending": pending,
            "ui": ui,
            "forms": forms,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_step_up_url_carries_the_way_back() {
        assert_eq!(step_up_url(None), "/self-service/login/browser?aal=aal2");
        assert_eq!(
            step_up_url(Some("http://127.0.0.1:4455/security?flow=x")),
            "/self-service/login/browser?aal=aal2&return_to=http%3A%2F%2F127.0.0.1%3A4455%2Fsecurity%3Fflow%3Dx"
        );
    }

    #[test]
    fn security_flows_are_told_apart_by_their_request_url() {
        let flow = |url: &str| json!({ "request_url": url });
        assert!(started_on_security_page(&flow(
            "http://127.0.0.1:4455/self-service/settings/browser?page=security"
        )));
        assert!(started_on_security_page(&flow(
            "http://127.0.0.1:4455/self-service/settings/browser?return_to=x&page=security"
        )));
        assert!(!started_on_security_page(&flow(
            "http://127.0.0.1:4455/self-service/settings/browser"
        )));
        assert!(!started_on_security_page(&flow(
            "http://127.0.0.1:4455/self-service/settings/browser?return_to=page%3Dsecurity"
        )));
        assert!(!started_on_security_page(&json!({})));
    }

    #[test]
    fn buttons_without_a_method_get_one_from_their_group() {
        let ui = json!({"nodes": [
            {"group": "default", "attributes": {"name": "csrf_token"}},
            {"group": "totp", "attributes": {"name": "totp_code"}},
            {"group": "totp", "attributes": {"name": "method", "value": "totp"}},
            {"group": "lookup_secret", "attributes": {"name": "lookup_secret_regenerate"}},
        ]});
        assert!(group_has_method(&ui, "totp"));
        assert!(!group_has_method(&ui, "lookup_secret"));
        assert_eq!(groups_of(&ui), ["totp", "lookup_secret"]);
        assert!(has_node(&ui, "totp_code") && !has_node(&ui, "totp_unlink"));
        assert_eq!(count_nodes(&ui, "totp_code"), 1);
        assert_eq!(count_nodes(&ui, "webauthn_remove"), 0);
    }
}
