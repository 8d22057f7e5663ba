//! Server-rendered pages: minijinja templates compiled into the binary, and the stylesheet.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::Environment;
use minijinja::value::Serde;
use serde_json::{Value, json};

/// The stylesheet served at `/static/app.css`.
pub(crate) const CSS: &str = include_str!("../static/app.css");

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("flow.html", include_str!("../templates/flow.html")),
    ("home.html", include_str!("../templates/home.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("sessions.html", include_str!("../templates/sessions.html")),
    ("security.html", include_str!("../templates/security.html")),
    (
        "second_factor.html",
        include_str!("../templates/second_factor.html"),
    ),
    (
        "documents.html",
        include_str!("../templates/documents.html"),
    ),
    ("document.html", include_str!("../templates/document.html")),
    (
        "document_form.html",
        include_str!("../templates/document_form.html"),
    ),
    ("groups.html", include_str!("../templates/groups.html")),
    ("group.html", include_str!("../templates/group.html")),
    ("mailbox.html", include_str!("../templates/mailbox.html")),
    (
        "sms_outbox.html",
        include_str!("../templates/sms_outbox.html"),
    ),
];

/// What every page may need to know about the app's set-up.
pub(crate) struct Globals {
    /// Mail goes to the development mailbox (`/mailbox`).
    pub(crate) dev_mailbox: bool,
    /// Text messages go to the development SMS outbox (`/sms-outbox`).
    pub(crate) dev_sms_outbox: bool,
    /// Email verification is on.
    pub(crate) verification: bool,
    /// Account recovery is on.
    pub(crate) recovery: bool,
}

/// The template environment.
pub(crate) struct Views {
    env: Environment<'static>,
}

impl Views {
    /// Compiles the templates (they are part of the binary, so a syntax error is a bug caught
    /// by the tests).
    pub(crate) fn new(globals: Globals) -> Self {
        let mut env = Environment::new();
        env.add_global("dev_mailbox", globals.dev_mailbox);
        env.add_global("dev_sms_outbox", globals.dev_sms_outbox);
        env.add_global("verification_enabled", globals.verification);
        env.add_global("recovery_enabled", globals.recovery);
        // The flows' nodes render with kratos-axum's templates (`kratos/nodes.html`).
        for (name, source) in TEMPLATES.iter().chain(kratos_axum::ui::TEMPLATES) {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("template {name}: {e}"));
        }
        Views { env }
    }

    /// Renders a page with status 200.
    pub(crate) fn page(&self, name: &str, ctx: Value) -> Response {
        self.page_with_status(StatusCode::OK, name, ctx)
    }

    /// Renders a page with a status.
    pub(crate) fn page_with_status(&self, status: StatusCode, name: &str, ctx: Value) -> Response {
        let rendered = self
            .env
            .get_template(name)
            .and_then(|t| t.render(minijinja::Value::from(Serde(&ctx))));
        match rendered {
            Ok(html) => {
                let mut response = (status, Html(html)).into_response();
                response.headers_mut().insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("private, no-store"),
                );
                response
            }
            Err(e) => {
                tracing::error!("rendering {name}: {e:#}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Html("<!doctype html><title>Error</title><p>This page could not be shown."),
                )
                    .into_response()
            }
        }
    }

    /// A friendly error page.
    pub(crate) fn error(
        &self,
        status: StatusCode,
        viewer: Option<&Value>,
        title: &str,
        message: &str,
        action: Option<(&str, &str)>,
    ) -> Response {
        self.page_with_status(
            status,
            "error.html",
            json!({
                "viewer": viewer,
                "title": title,
                "message": message,
                "status": status.as_u16(),
                "action": action.map(|(href, label)| json!({"href": href, "label": label})),
            }),
        )
    }
}
