//! The development SMS outbox (`/sms-outbox`), the text-message twin of the mailbox.
//!
//! In development mode (`--dev`) and without an `sms` channel in `courier.channels` the
//! courier delivers text messages into a [`MemoryOutbox`] and `/sms-outbox` lists them, so a
//! developer can read a code sent to a phone number without an SMS provider. Like the
//! mailbox it shows the codes to anyone who opens it: it is served only in development mode.
//! Without development mode and without a channel, text messages stay queued in the database
//! until a channel is configured.

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use kratos_core::courier::{CourierConfig, MemoryOutbox};
use serde_json::{Value, json};

use crate::AppState;
use crate::mailbox::{at, body_parts};
use crate::pages::viewer;

/// The outbox text messages go to: in development mode (`dev`) when `courier.channels`
/// configures no `sms` channel, none otherwise.
pub(crate) fn outbox_for(courier: &CourierConfig, dev: bool) -> Option<MemoryOutbox> {
    (dev && courier.sms_channel().is_none()).then(MemoryOutbox::new)
}

/// A sentence for the start-up output: where text messages go.
pub(crate) fn describe(
    outbox: Option<&MemoryOutbox>,
    courier: &CourierConfig,
    base_url: &str,
) -> String {
    match (outbox, courier.sms_channel()) {
        (Some(_), _) => format!(
            "{base_url}/sms-outbox (development SMS outbox: texts are not sent, anyone can read them)"
        ),
        (None, Some(_)) => "through the `sms` courier channel".to_owned(),
        (None, None) => {
            "not sent: no `sms` channel in courier.channels (texts stay queued)".to_owned()
        }
    }
}

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/sms-outbox", get(sms_outbox_page))
}

async fn sms_outbox_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let viewer = match viewer(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let messages: Vec<Value> = state
        .sms
        .as_ref()
        .map(|outbox| {
            outbox
                .messages()
                .iter()
                .rev()
                .map(|m| {
                    json!({
                        "id": m.id,
                        "recipient": m.recipient,
                        "at": at(m.created_at),
                        "body": body_parts(&m.body),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    state.views.page(
        "sms_outbox.html",
        json!({
            "title": "Development SMS outbox",
            "nav": "sms-outbox",
            "viewer": viewer.as_ref().map(|v| &v.nav),
            "messages": messages,
            "channel": state.sms.is_none(),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outbox_is_used_only_in_dev_mode_without_an_sms_channel() {
        let mut config = CourierConfig::default();
        assert!(outbox_for(&config, true).is_some());
        assert!(outbox_for(&config, false).is_none());
        let outbox = outbox_for(&config, true);
        assert!(describe(outbox.as_ref(), &config, "http://x").starts_with("http://x/sms-outbox"));
        assert!(describe(None, &config, "http://x").contains("stay queued"));
        config = serde_json::from_value(serde_json::json!({"channels": [
            {"id": "sms", "request_config": {"url": "https://sms.example.com/"}}
        ]}))
        .unwrap();
        for dev in [false, true] {
            assert!(outbox_for(&config, dev).is_none());
        }
        assert_eq!(
            describe(None, &config, "http://x"),
            "through the `sms` courier channel"
        );
    }
}
