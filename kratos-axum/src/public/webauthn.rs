//! `GET /.well-known/ory/webauthn.js`: the browser script of the WebAuthn and passkey forms
//! (Kratos's path and content type), whose `sha512` the forms' `webauthn_script` node pins.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use kratos_core::Kratos;
use kratos_core::strategy::passkey::{SCRIPT, SCRIPT_PATH};

pub(crate) fn router() -> Router<Kratos> {
    Router::new().route(SCRIPT_PATH, get(script))
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=UTF-8")],
        SCRIPT,
    )
}
