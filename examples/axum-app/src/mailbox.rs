//! Where mail goes, and the development mailbox (`/mailbox`).
//!
//! In development mode (`--dev`) and without an SMTP server the courier delivers into a
//! [`MemoryOutbox`] and `/mailbox` lists what it received, so a developer can read a
//! verification or recovery code without any mail set-up. The page shows the codes to anyone
//! who opens it: it is served only in development mode, and lists mail only while no SMTP
//! server (or other courier channel) is configured. Without development mode and without a
//! channel the app does not start: mail would be lost.

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use kratos_core::courier::{CourierConfig, MemoryOutbox};
use serde_json::{Value, json};

use crate::AppState;
use crate::pages::viewer;

/// Where the courier delivers mail.
pub(crate) enum Delivery {
    /// Into the in-memory outbox the development mailbox shows.
    Mailbox(MemoryOutbox),
    /// Through an SMTP server (described without credentials).
    Smtp(String),
    /// Through another configured channel (`courier.delivery_strategy`).
    Other(String),
}

impl Delivery {
    /// The delivery the courier configuration asks for; when it configures none, the
    /// development mailbox in development mode (`dev`).
    ///
    /// Errors when neither a channel nor development mode is given: the mail would be lost,
    /// or its codes shown to anyone.
    pub(crate) fn for_config(courier: &CourierConfig, dev: bool) -> Result<Delivery, String> {
        if courier.delivery_strategy != "smtp" && !courier.delivery_strategy.is_empty() {
            return Ok(Delivery::Other(courier.delivery_strategy.clone()));
        }
        match &courier.smtp.connection_uri {
            Some(uri) => Ok(Delivery::Smtp(smtp_server(uri.expose()))),
            None if dev => Ok(Delivery::Mailbox(MemoryOutbox::new())),
            None => Err(NO_DELIVERY.into()),
        }
    }

    /// The outbox, when mail goes to the development mailbox.
    pub(crate) fn outbox(&self) -> Option<&MemoryOutbox> {
        match self {
            Delivery::Mailbox(outbox) => Some(outbox),
            _ => None,
        }
    }

    /// A sentence for the start-up output: where mail goes.
    pub(crate) fn describe(&self, base_url: &str) -> String {
        match self {
            Delivery::Mailbox(_) => format!(
                "{base_url}/mailbox (development mailbox: mail is not sent, anyone can read it; use --smtp)"
            ),
            Delivery::Smtp(server) => format!("through {server}"),
            Delivery::Other(strategy) => format!("through the `{strategy}` courier channel"),
        }
    }
}

/// Why the app does not start without a way to deliver mail.
pub(crate) const NO_DELIVERY: &str = "no way to deliver mail (verification and recovery codes): \
pass --smtp URL (or set courier.smtp.connection_uri in --config) to send it, or --dev to try the \
app with the development mailbox at /mailbox, which shows every code to anyone";

/// An SMTP URL without its user, password and query: `smtp://host:587`.
pub(crate) fn smtp_server(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("smtp", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    format!("{scheme}://{host}")
}

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/mailbox", get(mailbox_page))
}

/// A plain-text body as text and links (`http://` and `https://` URLs), so the links in a
/// message (such as a verification link) can be followed from the mailbox.
pub(crate) fn body_parts(body: &str) -> Vec<Value> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = body;
    while let Some(at) = ["http://", "https://"]
        .iter()
        .filter_map(|scheme| rest.find(scheme))
        .min()
    {
        text.push_str(&rest[..at]);
        let end = rest[at..]
            .find(char::is_whitespace)
            .map_or(rest.len(), |e| e + at);
        if !text.is_empty() {
            parts.push(json!({ "text": std::mem::take(&mut text) }));
        }
        parts.push(json!({ "text": &rest[at..end], "href": &rest[at..end] }));
        rest = &rest[end..];
    }
    text.push_str(rest);
    if !text.is_empty() {
        parts.push(json!({ "text": text }));
    }
    parts
}

/// A timestamp to the second (several messages arrive within a minute).
pub(crate) fn at(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

async fn mailbox_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let viewer = match viewer(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (messages, delivery) = match &*state.mail {
        Delivery::Mailbox(outbox) => {
            let messages: Vec<Value> = outbox
                .messages()
                .iter()
                .rev()
                .map(|m| {
                    json!({
                        "id": m.id,
                        "recipient": m.recipient,
                        "subject": m.subject,
                        "at": at(m.created_at),
                        "body": body_parts(&m.body),
                    })
                })
                .collect();
            (messages, None)
        }
        Delivery::Smtp(server) => (Vec::new(), Some(format!("the SMTP server {server}"))),
        Delivery::Other(strategy) => (
            Vec::new(),
            Some(format!("the `{strategy}` courier channel")),
        ),
    };
    state.views.page(
        "mailbox.html",
        json!({
            "title": "Development mailbox",
            "nav": "mailbox",
            "viewer": viewer.as_ref().map(|v| &v.nav),
            "messages": messages,
            "delivery": delivery,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_server_leaves_out_credentials_and_options() {
        assert_eq!(
            smtp_server("smtps://user:p%40ss@mail.example.com:465/?server_name=x"),
            "smtps://mail.example.com:465"
        );
        assert_eq!(
            smtp_server("smtp://mail.example.com"),
            "smtp://mail.example.com"
        );
    }

    #[test]
    fn links_in_a_body_are_followable() {
        let parts = body_parts("Code:\n  123456\nOr open http://x/v?flow=1&code=2\nBye");
        assert_eq!(
            parts,
            vec![
                json!({"text": "Code:\n  123456\nOr open "}),
                json!({"text": "http://x/v?flow=1&code=2", "href": "http://x/v?flow=1&code=2"}),
                json!({"text": "\nBye"}),
            ]
        );
        assert_eq!(
            body_parts("javascript:alert(1)"),
            vec![json!({"text": "javascript:alert(1)"})]
        );
    }

    #[test]
    fn the_mailbox_is_used_only_in_dev_mode_without_a_channel() {
        let mut config = CourierConfig::default();
        assert!(
            Delivery::for_config(&config, true)
                .unwrap()
                .outbox()
                .is_some()
        );
        let refused = Delivery::for_config(&config, false).err().unwrap();
        assert!(
            refused.contains("--dev") && refused.contains("--smtp"),
            "{refused}"
        );
        config.smtp.connection_uri = Some(kratos_core::config::Secret::new(
            "smtp://u:secret@localhost:2525/",
        ));
        for dev in [false, true] {
            let smtp = Delivery::for_config(&config, dev).unwrap();
            assert!(smtp.outbox().is_none());
            let text = smtp.describe("http://x");
            assert_eq!(text, "through smtp://localhost:2525");
        }
        config.delivery_strategy = "http".into();
        assert!(
            Delivery::for_config(&config, false)
                .unwrap()
                .outbox()
                .is_none()
        );
    }
}
