//! The default templates, overrides and the markup of each node type.

use super::*;

fn ui() -> UiContainer {
    serde_json::from_value(sample_ui()).unwrap()
}

#[test]
fn default_templates_render() {
    let r = Renderer::new();
    // minijinja escapes `/` in values too (`&#x2f;`), which browsers read as `/`.
    let html = r
        .render_ui(FlowKind::Login, &ui(), false)
        .unwrap()
        .replace("&#x2f;", "/");
    // A CSRF field, labels tied to their inputs, messages tied to their field.
    assert!(
        html.contains(r#"<input type="hidden" name="csrf_token" value="t">"#),
        "{html}"
    );
    assert!(html.contains(r#"<label for="kr-identifier">"#), "{html}");
    assert!(
        html.contains(r#"aria-describedby="kr-identifier-msg-1""#),
        "{html}"
    );
    assert!(html.contains(r#"id="kr-identifier-msg-1""#), "{html}");
    assert!(html.contains(r#"aria-invalid="true""#), "{html}");
    // The form's own error is announced.
    assert!(
        html.contains(r#"role="alert" data-message-id="4000006""#),
        "{html}"
    );
    // A password input never shows a value and asks for the current password.
    assert!(
        html.contains(r#"type="password" name="password" autocomplete="current-password""#),
        "{html}"
    );
    // Images, texts (a list of backup codes), links, divisions and scripts.
    assert!(
        html.contains(
            r#"<img id="totp_qr" src="data:image/png;base64,AA" width="256" height="256""#
        ),
        "{html}"
    );
    assert!(html.contains("<li><code>a</code></li>"), "{html}");
    assert!(
        html.contains(r#"<a class="kr-btn" href="/x" id="link">Go</a>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<div id="captcha" class="c"></div>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<script src="/.well-known/ory/webauthn.js""#),
        "{html}"
    );
    assert!(html.contains(r#"nonce="n""#), "{html}");
}

#[test]
fn sign_in_offers_its_methods_in_one_form() {
    let ui = ui();
    let forms = forms_of(FlowKind::Login, &ui, false);
    assert_eq!(forms.len(), 1, "{forms:?}");
    assert_eq!(
        forms[0].group,
        "password code profile totp lookup_secret captcha"
    );
    // The shared nodes and the first method first; the script in no form.
    let names: Vec<&str> = forms[0]
        .nodes
        .iter()
        .map(|&i| ui.nodes[i].attributes.id())
        .collect();
    assert_eq!(
        names,
        ["csrf_token", "identifier", "link", "password", "method"]
    );
    assert!(
        forms[0]
            .secondary
            .iter()
            .all(|&i| ui.nodes[i].node_type != kratos_core::flow::ui::NodeType::Script)
    );
    // Settings: one titled form per method, each with the CSRF token.
    let settings = forms_of(FlowKind::Settings, &ui, false);
    assert_eq!(settings.len(), 6);
    assert_eq!(settings[0].title, Some("Password"));
    assert!(settings.iter().all(|f| f.nodes.contains(&0)));
}

#[test]
fn second_factors_get_a_form_each() {
    let mut ui = ui();
    ui.nodes
        .retain(|n| matches!(n.group.as_str(), "default" | "totp" | "lookup_secret"));
    let forms = forms_of(FlowKind::Login, &ui, false);
    assert_eq!(forms.len(), 2);
    assert_eq!(forms[0].title, Some("Authenticator app"));
    assert_eq!(forms[1].title, Some("Backup codes"));
}

#[test]
fn values_are_escaped() {
    let mut ui = ui();
    ui.set_value(
        "identifier",
        serde_json::json!("\"><script>alert(1)</script>"),
    );
    let html = Renderer::new()
        .render_ui(FlowKind::Login, &ui, false)
        .unwrap();
    assert!(!html.contains("<script>alert(1)"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)"), "{html}");
}

#[test]
fn an_override_replaces_a_template() {
    let r = Renderer::builder()
        .template(
            "kratos/layout.html",
            "<!doctype html><title>{{ title }}</title><main id=mine>{% block content %}{% endblock %}</main>",
        )
        .build()
        .unwrap();
    let html = r
        .render(
            "kratos/error.html",
            serde_json::json!({"title": "Oops", "message": "m"}),
        )
        .unwrap();
    assert!(html.contains("<main id=mine>"), "{html}");
    assert!(html.contains("<h1>Oops</h1>"), "{html}");
}

#[test]
fn a_broken_override_is_refused_at_build_naming_it() {
    let e = Renderer::builder()
        .template(
            "kratos/error.html",
            "{% extends 'kratos/layout.html' %}{% block content %}{{ oops(}{% endblock %}",
        )
        .build()
        .unwrap_err();
    assert_eq!(e.template(), "kratos/error.html");
    assert!(e.to_string().contains("kratos/error.html"), "{e}");
    // A template that compiles but fails to render (an unknown macro) is refused too.
    let e = Renderer::builder()
        .template(
            "kratos/flow.html",
            "{% import 'kratos/nodes.html' as k %}{{ k.nope(ui) }}",
        )
        .build()
        .unwrap_err();
    assert_eq!(e.template(), "kratos/flow.html", "{e}");
    // And a page whose layout is missing.
    let e = Renderer::builder()
        .template(
            "kratos/sessions.html",
            "{% extends 'kratos/nothing.html' %}",
        )
        .build()
        .unwrap_err();
    assert_eq!(e.template(), "kratos/sessions.html", "{e}");
}

#[test]
fn an_aal2_login_with_a_code_and_totp_is_one_form_each() {
    let mut ui = ui();
    ui.nodes
        .retain(|n| matches!(n.group.as_str(), "default" | "code" | "totp"));
    // Offered together at the first factor, they would share a form; as second factors not.
    assert_eq!(forms_of(FlowKind::Login, &ui, false).len(), 1);
    let forms = forms_of(FlowKind::Login, &ui, true);
    assert_eq!(forms.len(), 2);
    assert_eq!(forms[0].title, Some("One-time code"));
    assert!(forms.iter().all(|f| f.secondary.is_empty()));
}

/// A flow's UI from `(group, name, type, value)` inputs.
fn ui_of(nodes: &[(&str, &str, &str, &str)]) -> UiContainer {
    let nodes: Vec<serde_json::Value> = nodes
        .iter()
        .map(|(group, name, ty, value)| {
            serde_json::json!({"type": "input", "group": group, "messages": [], "meta": {},
                "attributes": {"name": name, "type": ty, "value": value, "disabled": false,
                               "node_type": "input"}})
        })
        .collect();
    serde_json::from_value(serde_json::json!({
        "action": "/self-service/registration?flow=x", "method": "POST", "nodes": nodes,
    }))
    .unwrap()
}

/// The `name=value` of each node of a form, in order: its own, then after the "or".
fn named(ui: &UiContainer, form: &FormSpec) -> (Vec<String>, Vec<String>) {
    let of = |list: &[usize]| {
        list.iter()
            .map(|&i| {
                let n = &ui.nodes[i];
                let value = serde_json::to_value(&n.attributes).unwrap()["value"].clone();
                format!(
                    "{}={}",
                    n.attributes.id(),
                    value.as_str().unwrap_or_default()
                )
            })
            .collect()
    };
    (of(&form.nodes), of(&form.secondary))
}

#[test]
fn provider_buttons_follow_the_other_methods_in_the_sign_up_form_with_its_csrf_token() {
    let ui = ui_of(&[
        ("default", "csrf_token", "hidden", "t"),
        ("default", "traits.email", "email", ""),
        ("oidc", "provider", "submit", "node"),
        ("oidc", "provider", "submit", "github"),
        ("password", "password", "password", ""),
        ("password", "method", "submit", "password"),
    ]);
    let forms = forms_of(FlowKind::Registration, &ui, false);
    assert_eq!(forms.len(), 1, "{forms:?}");
    assert_eq!(forms[0].group, "password oidc");
    let (nodes, secondary) = named(&ui, &forms[0]);
    assert_eq!(
        nodes,
        [
            "csrf_token=t",
            "traits.email=",
            "password=",
            "method=password"
        ]
    );
    assert_eq!(secondary, ["provider=node", "provider=github"]);
    let html = Renderer::new()
        .render_ui(FlowKind::Registration, &ui, false)
        .unwrap();
    // One form: the CSRF token goes with every button; a provider's skips the field checks.
    assert_eq!(html.matches("<form").count(), 1, "{html}");
    assert!(
        html.contains(r#"name="provider" value="node" formnovalidate"#),
        "{html}"
    );
}

#[test]
fn the_continue_form_after_a_provider_is_its_own_form() {
    let ui = ui_of(&[
        ("default", "csrf_token", "hidden", "t"),
        ("oidc", "traits.email", "email", "ada@example.test"),
        ("oidc", "traits.name", "text", ""),
        ("oidc", "provider", "submit", "node"),
    ]);
    let forms = forms_of(FlowKind::Registration, &ui, false);
    assert_eq!(forms.len(), 1, "{forms:?}");
    assert_eq!(forms[0].group, "oidc");
    assert_eq!(forms[0].title, None);
    let (nodes, secondary) = named(&ui, &forms[0]);
    assert_eq!(
        nodes,
        [
            "csrf_token=t",
            "traits.email=ada@example.test",
            "traits.name=",
            "provider=node"
        ]
    );
    assert!(secondary.is_empty());
}

#[test]
fn settings_link_and_unlink_providers_in_a_form_of_their_own() {
    let ui = ui_of(&[
        ("default", "csrf_token", "hidden", "t"),
        ("profile", "traits.email", "email", "ada@example.test"),
        ("profile", "method", "submit", "profile"),
        ("oidc", "unlink", "submit", "node"),
        ("oidc", "link", "submit", "github"),
    ]);
    let forms = forms_of(FlowKind::Settings, &ui, false);
    assert_eq!(forms.len(), 2, "{forms:?}");
    assert_eq!(forms[1].group, "oidc");
    assert_eq!(forms[1].title, Some("Linked accounts"));
    let (nodes, _) = named(&ui, &forms[1]);
    assert_eq!(nodes, ["csrf_token=t", "unlink=node", "link=github"]);
    let html = Renderer::new()
        .render_ui(FlowKind::Settings, &ui, false)
        .unwrap();
    assert!(
        html.contains(r#"name="unlink" value="node" formnovalidate"#),
        "{html}"
    );
    assert!(
        html.contains(r#"name="link" value="github" formnovalidate"#),
        "{html}"
    );
}
