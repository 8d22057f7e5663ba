//! The last net under every router: a handler that panics answers 500 with Kratos's error
//! body, and the process keeps serving.
//!
//! Nothing is meant to reach it: inputs are bounded and errors are answered before a panic
//! could happen. It exists so that a fault still costs one request, not a connection or a
//! worker. The panic's message is not put in the response (it may hold request data) and is
//! logged only as its length.

use std::any::Any;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::ApiError;

/// The layer every router of this crate is wrapped in.
pub(crate) fn layer() -> CatchPanicLayer<fn(Box<dyn Any + Send + 'static>) -> Response> {
    CatchPanicLayer::custom(answer as fn(Box<dyn Any + Send + 'static>) -> Response)
}

fn answer(payload: Box<dyn Any + Send + 'static>) -> Response {
    let len = payload
        .downcast_ref::<String>()
        .map(String::len)
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.len()))
        .unwrap_or(0);
    tracing::error!(
        message_len = len,
        "a request handler panicked; answered 500"
    );
    ApiError::with_status(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_server_error",
        "An internal server error occurred, please contact the system administrator.",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panicking_handler_answers_500_with_kratos_error_body() {
        async fn boom() -> &'static str {
            panic!("secret-detail")
        }
        let app = axum::Router::new()
            .route("/boom", get(boom))
            .layer(super::layer());
        let res = app
            .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), 500);
        let body = http_body_util::BodyExt::collect(res.into_body())
            .await
            .unwrap()
            .to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], 500);
        assert_eq!(v["error"]["id"], "internal_server_error");
        assert!(!String::from_utf8_lossy(&body).contains("secret-detail"));
    }
}
