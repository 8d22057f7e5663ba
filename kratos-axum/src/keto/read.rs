//! Keto's read API: checks, expand, list, namespaces and the OPL syntax check.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use keto_core::opl::{self, Position};
use keto_core::{
    CheckOptions, Consistency, EngineError, RelationTuple, SnapToken, SubjectSet, Tenant,
};
use serde::{Deserialize, Serialize};

use super::KetoOptions;
use super::error::{KetoError, status_message};
use super::params::{Params, body as read_body, json_body};

pub(crate) fn router(options: &KetoOptions) -> Router<Tenant> {
    Router::new()
        .route("/relation-tuples/check", get(check_get).post(check_post))
        .route(
            "/relation-tuples/check/openapi",
            get(check_openapi_get).post(check_openapi_post),
        )
        .route("/relation-tuples/batch/check", post(batch_check))
        .route("/relation-tuples/expand", get(expand))
        .route("/relation-tuples", get(list))
        .route("/namespaces", get(namespaces))
        .route("/opl/syntax/check", post(opl_syntax_check))
        .layer(DefaultBodyLimit::max(options.body_limit))
}

#[derive(Serialize)]
struct Allowed {
    allowed: bool,
}

/// Answers 503 when the store has not reached the write that returned `token`.
async fn ensure_fresh(tenant: &Tenant, token: Option<SnapToken>) -> Result<(), KetoError> {
    if let Some(tok) = token {
        let current = tenant
            .engine()
            .store()
            .version(tenant.nid())
            .await
            .map_err(EngineError::from)?;
        if current < tok.0 {
            return Err(EngineError::SnapshotUnavailable {
                requested: tok.0,
                current,
            }
            .into());
        }
    }
    Ok(())
}

fn options(params: &Params) -> Result<CheckOptions, KetoError> {
    Ok(CheckOptions {
        max_depth: params.max_depth()?,
        consistency: params
            .snaptoken()?
            .map_or(Consistency::MinimizeLatency, Consistency::AtLeastAsFresh),
        ..CheckOptions::default()
    })
}

/// Runs one check. An unknown namespace is a denial, as in Keto; other errors are errors.
async fn decide(
    tenant: &Tenant,
    tuple: &RelationTuple,
    opts: &CheckOptions,
) -> Result<bool, KetoError> {
    match tenant.is_allowed(tuple, opts).await {
        Ok(allowed) => Ok(allowed),
        Err(EngineError::UnknownNamespace(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// 200 `{"allowed":true}` or, when `or_error`, 403 `{"allowed":false}` for a denial.
fn allowed_response(allowed: bool, or_error: bool) -> Response {
    let status = if allowed || !or_error {
        StatusCode::OK
    } else {
        StatusCode::FORBIDDEN
    };
    (status, Json(Allowed { allowed })).into_response()
}

async fn check_query(tenant: &Tenant, raw: Option<String>) -> Result<bool, KetoError> {
    let params = Params::parse(raw.as_deref());
    let opts = options(&params)?;
    let tuple = params.tuple()?;
    decide(tenant, &tuple, &opts).await
}

async fn check_body(
    tenant: &Tenant,
    raw: Option<String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<bool, KetoError> {
    let params = Params::parse(raw.as_deref());
    let opts = options(&params)?;
    let tuple: RelationTuple = json_body(headers, body)?;
    decide(tenant, &tuple, &opts).await
}

async fn check_get(State(t): State<Tenant>, RawQuery(q): RawQuery) -> Result<Response, KetoError> {
    Ok(allowed_response(check_query(&t, q).await?, true))
}

async fn check_openapi_get(
    State(t): State<Tenant>,
    RawQuery(q): RawQuery,
) -> Result<Response, KetoError> {
    Ok(allowed_response(check_query(&t, q).await?, false))
}

async fn check_post(
    State(t): State<Tenant>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, KetoError> {
    let body = read_body(body)?;
    Ok(allowed_response(
        check_body(&t, q, &headers, &body).await?,
        true,
    ))
}

async fn check_openapi_post(
    State(t): State<Tenant>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, KetoError> {
    let body = read_body(body)?;
    Ok(allowed_response(
        check_body(&t, q, &headers, &body).await?,
        false,
    ))
}

#[derive(Deserialize)]
struct BatchBody {
    #[serde(default)]
    tuples: Vec<RelationTuple>,
}

#[derive(Serialize)]
struct BatchItem {
    allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize)]
struct BatchResult {
    results: Vec<BatchItem>,
}

async fn batch_check(
    State(t): State<Tenant>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<BatchResult>, KetoError> {
    let body = read_body(body)?;
    let params = Params::parse(q.as_deref());
    let opts = options(&params)?;
    let body: BatchBody = json_body(&headers, &body)?;
    let results = t
        .batch_check(&body.tuples, &opts)
        .await?
        .into_iter()
        .map(|r| match r {
            Ok(r) => BatchItem {
                allowed: r.allowed(),
                error: None,
            },
            Err(e) => BatchItem {
                allowed: false,
                error: Some(match e {
                    EngineError::UnknownNamespace(_) => {
                        status_message(StatusCode::NOT_FOUND).to_owned()
                    }
                    other => other.to_string(),
                }),
            },
        })
        .collect();
    Ok(Json(BatchResult { results }))
}

async fn expand(State(t): State<Tenant>, RawQuery(q): RawQuery) -> Result<Response, KetoError> {
    let params = Params::parse(q.as_deref());
    let depth = params.max_depth()?;
    ensure_fresh(&t, params.snaptoken()?).await?;
    let (Some(ns), Some(obj), Some(rel)) = (
        params.get("namespace"),
        params.get("object"),
        params.get("relation"),
    ) else {
        return Err(KetoError::bad_request(
            "query parameters \"namespace\", \"object\" and \"relation\" are required",
        ));
    };
    let set = SubjectSet::new(ns, obj, rel);
    match t.expand(&set, depth).await? {
        Some(tree) => Ok(Json(tree).into_response()),
        None => Err(KetoError::not_found(format!(
            "no relation tuples found for {set}"
        ))),
    }
}

async fn list(
    State(t): State<Tenant>,
    RawQuery(q): RawQuery,
) -> Result<Json<keto_core::ListResponse>, KetoError> {
    let params = Params::parse(q.as_deref());
    let query = params.query()?;
    let size = params.page_size()?;
    ensure_fresh(&t, params.snaptoken()?).await?;
    Ok(Json(t.list(&query, size, params.get("page_token")).await?))
}

#[derive(Serialize)]
struct NamespaceName {
    name: String,
}

#[derive(Serialize)]
struct Namespaces {
    namespaces: Vec<NamespaceName>,
}

async fn namespaces(State(t): State<Tenant>) -> Json<Namespaces> {
    Json(Namespaces {
        namespaces: t
            .engine()
            .namespaces()
            .into_iter()
            .map(|name| NamespaceName { name })
            .collect(),
    })
}

/// A source position as Keto spells it (`Line` capitalised, `column` not).
#[derive(Serialize)]
struct SourcePosition {
    #[serde(rename = "Line")]
    line: u32,
    column: u32,
}

impl From<Position> for SourcePosition {
    fn from(p: Position) -> Self {
        Self {
            line: p.line,
            column: p.column,
        }
    }
}

#[derive(Serialize)]
struct ParseError {
    message: String,
    start: SourcePosition,
    end: SourcePosition,
}

#[derive(Serialize)]
struct SyntaxResult {
    errors: Vec<ParseError>,
}

/// Parses the body as OPL. The parser takes any input without deep recursion (see
/// [`opl::parse`]); the body limit bounds its time and memory.
async fn opl_syntax_check(
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SyntaxResult>, KetoError> {
    let body = read_body(body)?;
    let source = std::str::from_utf8(&body)
        .map_err(|_| KetoError::bad_request("the OPL document must be UTF-8 text"))?;
    let out = opl::parse(source);
    Ok(Json(SyntaxResult {
        errors: out
            .errors()
            .map(|d| ParseError {
                message: d.message.clone(),
                start: d.start.into(),
                end: d.end.into(),
            })
            .collect(),
    }))
}
