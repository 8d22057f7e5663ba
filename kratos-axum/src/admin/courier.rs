//! `/admin/courier/messages…`: the courier's queue for operators.
//!
//! Messages are answered in Kratos's `message` shape: the subject (empty for a text message)
//! and the body (which carries the code or link, as Kratos's admin API shows it), the `type`
//! (`email` or `sms`) and the `channel` it goes through (the same name, as Kratos sets it),
//! but not the values the template was rendered with nor the HTML body.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kratos_core::Kratos;
use kratos_core::courier::{CourierError, Message, MessageQuery, MessageStatus};
use kratos_core::store::StoreError;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::ApiError;
use crate::public::{FlowRequest, Reply};

pub(crate) fn router() -> Router<Kratos> {
    Router::new()
        .route("/admin/courier/messages", get(list))
        .route("/admin/courier/messages/{id}", get(get_one))
}

const DEFAULT_PAGE_SIZE: usize = 250;
const MAX_PAGE_SIZE: usize = 1000;

/// A message in Kratos's `message` shape.
fn message_json(m: &Message) -> Value {
    json!({
        "id": m.id,
        "status": m.status,
        "type": m.message_type,
        "channel": m.message_type,
        "recipient": m.recipient,
        "subject": m.subject,
        "body": m.body,
        "template_type": m.template_type,
        "send_count": m.send_count,
        "created_at": m.created_at,
        "updated_at": m.updated_at,
    })
}

fn courier_error(e: CourierError) -> ApiError {
    match e {
        CourierError::Store(StoreError::NotFound) => {
            ApiError::not_found("The requested courier message does not exist.")
        }
        _ => ApiError::with_status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            "The courier's messages could not be read.",
        ),
    }
}

/// `GET /admin/courier/messages?status=&recipient=&page_size=&page_token=`: messages, newest
/// first, in pages of `page_size` (default 250, at most 1000). When more follow, the `Link`
/// header points to the next page (`rel="next"`, with `rel="first"` beside it); its
/// `page_token` is the id of the last message of the page.
async fn list(State(k): State<Kratos>, req: FlowRequest) -> Result<Response, ApiError> {
    let size = match req.param("page_size") {
        None => DEFAULT_PAGE_SIZE,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(
                    "page_size",
                    format!("`{v}` is not a page size between 1 and {MAX_PAGE_SIZE}"),
                ));
            }
        },
    };
    let after = req
        .param("page_token")
        .map(|t| {
            Uuid::parse_str(&t)
                .map_err(|_| ApiError::bad_request("page_token", "The page token is malformed."))
        })
        .transpose()?;
    let status = req
        .param("status")
        .map(|s| {
            MessageStatus::parse(&s).ok_or_else(|| {
                ApiError::bad_request(
                    "status",
                    format!(
                        "`{s}` is not a message status: use queued, sent, processing or abandoned"
                    ),
                )
            })
        })
        .transpose()?;
    let recipient = req.param("recipient");
    // One more than the page tells whether another page follows.
    let mut page = k
        .courier()
        .list(&MessageQuery {
            status,
            recipient: recipient.clone(),
            limit: size + 1,
            after,
        })
        .await
        .map_err(courier_error)?;
    let more = page.len() > size;
    page.truncate(size);
    let mut filters = form_urlencoded::Serializer::new(String::new());
    filters.append_pair("page_size", &size.to_string());
    if let Some(s) = status {
        filters.append_pair("status", s.as_str());
    }
    if let Some(r) = &recipient {
        filters.append_pair("recipient", r);
    }
    let filters = filters.finish();
    let mut link = format!("</admin/courier/messages?{filters}>; rel=\"first\"");
    if more && let Some(last) = page.last() {
        link.push_str(&format!(
            ",</admin/courier/messages?{filters}&page_token={}>; rel=\"next\"",
            last.id
        ));
    }
    let body = Value::Array(page.iter().map(message_json).collect());
    let mut reply = Reply::json(StatusCode::OK, body);
    if let Ok(v) = HeaderValue::from_str(&link) {
        reply = reply.header(header::LINK, v);
    }
    Ok(reply.into_response())
}

/// `GET /admin/courier/messages/{id}`: one message; 400 for an id that is not a UUID, 404 for
/// an unknown one.
async fn get_one(State(k): State<Kratos>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = Uuid::parse_str(&id)
        .map_err(|_| ApiError::bad_request("id", format!("`{id}` is not a message id")))?;
    let message = k.courier().get(id).await.map_err(courier_error)?;
    Ok(Reply::json(StatusCode::OK, message_json(&message)).into_response())
}
