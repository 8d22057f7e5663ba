//! Keto's write API: create, patch and delete relation tuples.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use axum::{Json, Router};
use keto_core::{RelationTuple, SnapToken, Subject, Tenant, TupleDelta};

use super::error::KetoError;
use super::params::{Params, body as read_body, json_body};
use super::{KetoOptions, SNAPTOKEN_HEADER};

pub(crate) fn router(options: &KetoOptions) -> Router<Tenant> {
    Router::new()
        .route(
            "/admin/relation-tuples",
            put(create).patch(patch).delete(delete),
        )
        .layer(DefaultBodyLimit::max(options.body_limit))
}

fn snaptoken_header(token: SnapToken) -> (HeaderName, HeaderValue) {
    (
        HeaderName::from_static(SNAPTOKEN_HEADER),
        HeaderValue::from_str(&token.to_string()).expect("a snapshot token is ASCII"),
    )
}

/// Where the created tuple can be read back: the list endpoint filtered to it.
fn location(t: &RelationTuple) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("namespace", &t.namespace)
        .append_pair("object", &t.object)
        .append_pair("relation", &t.relation);
    match &t.subject {
        Subject::Id(id) => {
            q.append_pair("subject_id", id);
        }
        Subject::Set(s) => {
            q.append_pair("subject_set.namespace", &s.namespace)
                .append_pair("subject_set.object", &s.object)
                .append_pair("subject_set.relation", &s.relation);
        }
    }
    format!("/relation-tuples?{}", q.finish())
}

async fn create(
    State(t): State<Tenant>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, KetoError> {
    let body = read_body(body)?;
    let tuple: RelationTuple = json_body(&headers, &body)?;
    let token = t.insert([tuple.clone()]).await?;
    let loc = HeaderValue::from_str(&location(&tuple))
        .map_err(|_| KetoError::bad_request("the tuple cannot be expressed as a URL"))?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, loc), snaptoken_header(token)],
        Json(tuple),
    )
        .into_response())
}

async fn patch(
    State(t): State<Tenant>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, KetoError> {
    let body = read_body(body)?;
    let deltas: Vec<TupleDelta> = json_body(&headers, &body)?;
    let token = t.transact(&deltas).await?;
    Ok((StatusCode::NO_CONTENT, [snaptoken_header(token)]).into_response())
}

async fn delete(
    State(t): State<Tenant>,
    RawQuery(q): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, KetoError> {
    let body = read_body(body)?;
    let params = Params::parse(q.as_deref());
    // A mistyped filter key must not widen the delete to more tuples than meant.
    params.only_filter_keys(&[])?;
    if !body.iter().all(u8::is_ascii_whitespace) {
        return Err(KetoError::bad_request(
            "the filter is given in the query; the request body must be empty",
        ));
    }
    let query = params.query()?;
    if query.namespace.is_none() {
        return Err(KetoError::bad_request(
            "query parameter \"namespace\" is required",
        ));
    }
    let (_, token) = t.delete_all(&query).await?;
    Ok((StatusCode::NO_CONTENT, [snaptoken_header(token)]).into_response())
}
