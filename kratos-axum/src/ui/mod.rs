//! HTML for the self-service flows (cargo feature `ui`): a [`Renderer`] that turns a flow's
//! typed [`UiContainer`] into accessible forms, and [`SelfServicePages`], mountable sign-up,
//! sign-in, settings, verification, recovery, error and sessions pages that use it.
//!
//! The markup is [minijinja](https://docs.rs/minijinja) templates, each replaceable by name
//! (see [`TEMPLATES`]): `kratos/layout.html` (the page around every page: put your own layout
//! here), `kratos/nodes.html` (the macros that render each node type), `kratos/flow.html`,
//! `kratos/forms.html` (a flow's forms alone, for [`Renderer::render_ui`]),
//! `kratos/error.html`, `kratos/sessions.html` and `kratos/style.css` (a plain default style,
//! light and dark). Every node type Kratos describes renders: inputs (text, email, tel,
//! password, checkbox, hidden, submit and script buttons), images (a TOTP QR code), texts
//! (a TOTP secret, backup codes), links, divisions and scripts (WebAuthn's `webauthn.js`, with
//! its `onclickTrigger` / `onloadTrigger` calls as Ory's own UIs make them).
//!
//! Accessibility: every field has a `<label for>`; a field's messages have ids its
//! `aria-describedby` names, and `aria-invalid="true"` marks a field with an error; the
//! form's messages are `role="alert"` (errors) or `role="status"`; inputs carry Kratos's
//! `autocomplete` values; browser flows carry their CSRF token as a hidden field.
//!
//! ```
//! use kratos_axum::ui::Renderer;
//!
//! let renderer = Renderer::builder()
//!     .template(
//!         "kratos/layout.html",
//!         "<!doctype html><title>{{ title }}</title><main>{% block content %}{% endblock %}</main>",
//!     )
//!     .build()
//!     .expect("the templates compile and render");
//! # let _ = renderer;
//! ```
//!
//! A template with a syntax error, or one that fails to render a sample of every page, is
//! refused by [`RendererBuilder::build`] with a [`UiError`] naming the template and line,
//! so a broken override stops the app at start-up instead of failing a visitor.

mod forms;
pub mod pages;

use std::sync::Arc;

use kratos_core::flow::ui::UiContainer;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;
use serde_json::{Value, json};

pub use forms::{FlowKind, FormSpec, forms_of};
pub use pages::{PagePaths, SelfServicePages};

/// The default templates, by name: `(name, source)`. Override any with
/// [`RendererBuilder::template`].
pub const TEMPLATES: &[(&str, &str)] = &[
    ("kratos/layout.html", include_str!("templates/layout.html")),
    ("kratos/nodes.html", include_str!("templates/nodes.html")),
    ("kratos/flow.html", include_str!("templates/flow.html")),
    ("kratos/error.html", include_str!("templates/error.html")),
    (
        "kratos/sessions.html",
        include_str!("templates/sessions.html"),
    ),
    ("kratos/forms.html", include_str!("templates/forms.html")),
    ("kratos/style.css", include_str!("templates/style.css")),
];

/// A template that does not compile or render.
#[derive(Debug)]
pub struct UiError {
    template: String,
    detail: String,
}

impl UiError {
    fn new(template: &str, error: &minijinja::Error) -> Self {
        let mut detail = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(s) = source {
            detail.push_str(": ");
            detail.push_str(&s.to_string());
            source = s.source();
        }
        UiError {
            template: template.to_owned(),
            detail,
        }
    }

    /// The template's name.
    pub fn template(&self) -> &str {
        &self.template
    }
}

impl std::fmt::Display for UiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "template `{}`: {}", self.template, self.detail)
    }
}

impl std::error::Error for UiError {}

/// Builds a [`Renderer`]: the default templates, with the ones given here in their place.
#[derive(Debug, Default)]
pub struct RendererBuilder {
    overrides: Vec<(String, String)>,
}

impl RendererBuilder {
    /// Replaces (or adds) the template `name` with `source`. Checked by
    /// [`RendererBuilder::build`].
    pub fn template(mut self, name: impl Into<String>, source: impl Into<String>) -> Self {
        self.overrides.push((name.into(), source.into()));
        self
    }

    /// Compiles the templates and renders a sample of every page with them.
    ///
    /// # Errors
    ///
    /// [`UiError`] for the first template that does not compile, or for a page that does not
    /// render (an undefined macro, a filter applied to the wrong type, …), naming the
    /// template and, where minijinja knows it, the line.
    pub fn build(self) -> Result<Renderer, UiError> {
        let mut env = Environment::new();
        // An undefined variable renders as nothing, as Jinja does, so an optional field of a
        // node needs no guard; calling or iterating something undefined is still an error.
        env.set_undefined_behavior(UndefinedBehavior::Lenient);
        // Every value is HTML-escaped, whatever a template is named; only the style sheet
        // is not.
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".css") {
                AutoEscape::None
            } else {
                AutoEscape::Html
            }
        });
        for (name, source) in TEMPLATES {
            if !self.overrides.iter().any(|(n, _)| n == name) {
                env.add_template(name, source)
                    .map_err(|e| UiError::new(name, &e))?;
            }
        }
        for (name, source) in self.overrides {
            env.add_template_owned(name.clone(), source)
                .map_err(|e| UiError::new(&name, &e))?;
        }
        let renderer = Renderer { env: Arc::new(env) };
        renderer.smoke_test()?;
        Ok(renderer)
    }
}

/// Renders flows and the self-service pages to HTML. Cheap to clone.
#[derive(Clone)]
pub struct Renderer {
    env: Arc<Environment<'static>>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer")
            .field("templates", &self.env.templates().count())
            .finish()
    }
}

impl Default for Renderer {
    /// The default templates.
    fn default() -> Self {
        Self::new()
    }
}

impl Renderer {
    /// The renderer with the default templates.
    pub fn new() -> Self {
        // The default templates are part of this crate and rendered by its tests
        // (`ui::tests::default_templates_render`): they cannot fail here.
        #[allow(clippy::expect_used)]
        RendererBuilder::default()
            .build()
            .expect("the default templates compile and render")
    }

    /// A builder, to replace templates.
    pub fn builder() -> RendererBuilder {
        RendererBuilder::default()
    }

    /// Renders the template `name` with `context`.
    ///
    /// # Errors
    ///
    /// [`UiError`] when there is no such template or it fails to render.
    pub fn render(&self, name: &str, context: impl Serialize) -> Result<String, UiError> {
        let template = self
            .env
            .get_template(name)
            .map_err(|e| UiError::new(name, &e))?;
        template
            .render(minijinja::Value::from(minijinja::value::Serde(&context)))
            .map_err(|e| UiError::new(name, &e))
    }

    /// The forms of a flow's `ui` (and its scripts), without a page around them, for an app
    /// that puts them in its own page: one form per method, or, for `login` and
    /// `registration` at the first factor, one form offering every method (see
    /// [`forms_of`]; `second_factor` for a login flow whose `requested_aal` is `aal2`).
    ///
    /// # Errors
    ///
    /// [`UiError`] when `kratos/nodes.html` fails to render.
    pub fn render_ui(
        &self,
        kind: FlowKind,
        ui: &UiContainer,
        second_factor: bool,
    ) -> Result<String, UiError> {
        let forms = forms_of(kind, ui, second_factor);
        self.render("kratos/forms.html", json!({ "ui": ui, "forms": forms }))
    }

    /// Renders a sample of every page, so a broken template is found at start-up.
    fn smoke_test(&self) -> Result<(), UiError> {
        let ui: UiContainer = serde_json::from_value(sample_ui()).map_err(|e| UiError {
            template: "kratos/nodes.html".into(),
            detail: e.to_string(),
        })?;
        let links = sample_links();
        for kind in FlowKind::ALL {
            let forms = forms_of(kind, &ui, false);
            self.render(
                "kratos/flow.html",
                json!({
                    "kind": kind.as_str(), "title": kind.title(), "flow": {"id": "x"},
                    "ui": &ui, "forms": forms, "links": &links, "signed_in": true,
                }),
            )?;
        }
        self.render_ui(FlowKind::Login, &ui, false)?;
        self.render(
            "kratos/error.html",
            json!({"title": "t", "message": "m", "error": {"id": "x"}, "restart": "/", "links": &links}),
        )?;
        self.render(
            "kratos/sessions.html",
            json!({
                "title": "Sessions", "links": &links, "signed_in": true,
                "revoke_action": "/r", "revoke_others_action": "/o", "notice": "n",
                "sessions": [{"id": "a", "current": true, "user_agent": "u", "ip_address": "i",
                              "authenticated_at": "t", "expires_at": "t"},
                             {"id": "b", "current": false}],
            }),
        )?;
        Ok(())
    }
}

fn sample_links() -> Value {
    json!({
        "login": "/login", "registration": "/registration", "settings": "/settings",
        "recovery": "/recovery", "verification": "/verification", "sessions": "/sessions",
        "logout": "/logout",
    })
}

/// A `ui` container with a node of every type and messages on the form and a field.
fn sample_ui() -> Value {
    let input = |group: &str, name: &str, ty: &str, value: Value| {
        json!({"type": "input", "group": group, "messages": [], "meta": {},
               "attributes": {"name": name, "type": ty, "value": value, "disabled": false,
                              "node_type": "input"}})
    };
    let mut email = input("default", "identifier", "email", json!("a@example.com"));
    email["messages"] = json!([{"id": 4000001, "type": "error", "text": "bad"}]);
    json!({
        "action": "/self-service/login?flow=x", "method": "POST",
        "messages": [{"id": 4000006, "type": "error", "text": "bad"}],
        "nodes": [
            input("default", "csrf_token", "hidden", json!("t")),
            email,
            input("password", "password", "password", Value::Null),
            input("password", "method", "submit", json!("password")),
            input("code", "method", "submit", json!("code")),
            input("profile", "traits.newsletter", "checkbox", json!(true)),
            {"type": "img", "group": "totp", "messages": [], "meta": {},
             "attributes": {"id": "totp_qr", "src": "data:image/png;base64,AA", "width": 256,
                            "height": 256, "node_type": "img"}},
            {"type": "text", "group": "lookup_secret", "messages": [], "meta": {},
             "attributes": {"id": "lookup_secret_codes", "node_type": "text",
                            "text": {"id": 1050015, "type": "info", "text": "a, b",
                                     "context": {"secrets": [{"id": 1050009, "type": "info", "text": "a"}]}}}},
            {"type": "a", "group": "default", "messages": [], "meta": {},
             "attributes": {"id": "link", "href": "/x", "node_type": "a",
                            "title": {"id": 1, "type": "info", "text": "Go"}}},
            {"type": "script", "group": "webauthn", "messages": [], "meta": {},
             "attributes": {"id": "webauthn_script", "src": "/.well-known/ory/webauthn.js",
                            "async": true, "type": "text/javascript", "integrity": "",
                            "crossorigin": "anonymous", "referrerpolicy": "no-referrer",
                            "nonce": "n", "node_type": "script"}},
            {"type": "div", "group": "captcha", "messages": [], "meta": {},
             "attributes": {"id": "captcha", "class": "c", "node_type": "div"}},
        ],
    })
}

#[cfg(test)]
mod tests;
