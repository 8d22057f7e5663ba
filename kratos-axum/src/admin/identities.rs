//! `/admin/identities`: the identity admin API, with Kratos's paths, parameters and codes.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use kratos_core::Kratos;
use kratos_core::identity::{
    CreateIdentityBody, CredentialType, IdentityPatch, ListIdentitiesParams, UpdateIdentityBody,
};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::{ApiError, parse_json};

pub(crate) fn router() -> Router<Kratos> {
    Router::new()
        .route("/admin/identities", get(list).post(create).patch(batch))
        .route(
            "/admin/identities/{id}",
            get(get_one).put(update).patch(patch_one).delete(delete_one),
        )
        .route(
            "/admin/identities/by/external/{external_id}",
            get(by_external_id),
        )
        .route(
            "/admin/identities/{id}/credentials/{type}",
            delete(delete_credential),
        )
}

fn pairs(query: &Option<String>) -> Vec<(String, String)> {
    query
        .as_deref()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

fn parse_uuid(field: &str, v: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(v).map_err(|_| ApiError::bad_request(field, format!("`{v}` is not a UUID")))
}

fn include_credentials(pairs: &[(String, String)]) -> Result<Vec<CredentialType>, ApiError> {
    pairs
        .iter()
        .filter(|(k, _)| k == "include_credential")
        .map(|(_, v)| {
            CredentialType::parse(v).ok_or_else(|| {
                ApiError::bad_request(
                    "include_credential",
                    format!("unknown credential type `{v}`"),
                )
            })
        })
        .collect()
}

async fn list(State(k): State<Kratos>, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let pairs = pairs(&query);
    let mut params = ListIdentitiesParams {
        include_credential: include_credentials(&pairs)?,
        ..Default::default()
    };
    for (key, value) in &pairs {
        match key.as_str() {
            "page_size" | "per_page" => {
                params.page_size = Some(value.parse().map_err(|_| {
                    ApiError::bad_request("page_size", format!("`{value}` is not a number"))
                })?)
            }
            "page_token" => params.page_token = Some(value.clone()),
            "ids" => params.ids.push(parse_uuid("ids", value)?),
            "credentials_identifier" => params.credentials_identifier = Some(value.clone()),
            "preview_credentials_identifier_similar" => {
                params.preview_credentials_identifier_similar = Some(value.clone())
            }
            "organization_id" => {
                params.organization_id = Some(parse_uuid("organization_id", value)?)
            }
            _ => {}
        }
    }
    let page_size = params
        .page_size
        .unwrap_or(kratos_core::identity::DEFAULT_PAGE_SIZE);
    let page = k.identities().list(params).await?;
    let mut headers = HeaderMap::new();
    let mut link = format!("</admin/identities?page_size={page_size}>; rel=\"first\"");
    if let Some(next) = &page.next_page_token {
        link.push_str(&format!(
            ",</admin/identities?page_size={page_size}&page_token={next}>; rel=\"next\""
        ));
    }
    if let Ok(v) = HeaderValue::from_str(&link) {
        headers.insert(header::LINK, v);
    }
    Ok((headers, Json(page.identities)).into_response())
}

async fn create(State(k): State<Kratos>, body: Bytes) -> Result<Response, ApiError> {
    let body: CreateIdentityBody = parse_json(&body)?;
    let identity = k.identities().create(body).await?;
    let location = format!("/admin/identities/{}", identity.id);
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, v);
    }
    Ok((StatusCode::CREATED, headers, Json(identity)).into_response())
}

#[derive(Deserialize)]
struct BatchBody {
    identities: Vec<IdentityPatch>,
}

async fn batch(State(k): State<Kratos>, body: Bytes) -> Result<Response, ApiError> {
    let body: BatchBody = parse_json(&body)?;
    let results = k.identities().batch_create(body.identities).await?;
    Ok(Json(serde_json::json!({ "identities": results })).into_response())
}

async fn get_one(
    State(k): State<Kratos>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let id = parse_uuid("id", &id)?;
    let include = include_credentials(&pairs(&query))?;
    let identity = if include.is_empty() {
        k.identities().get(id).await?
    } else {
        let identity = k.identities().get_with_credentials(id, &include).await?;
        k.identities().declassify(identity)
    };
    Ok(Json(identity).into_response())
}

async fn by_external_id(
    State(k): State<Kratos>,
    Path(external_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let include = include_credentials(&pairs(&query))?;
    let identity = k.identities().get_by_external_id(&external_id).await?;
    let identity = if include.is_empty() {
        identity
    } else {
        let identity = k
            .identities()
            .get_with_credentials(identity.id, &include)
            .await?;
        k.identities().declassify(identity)
    };
    Ok(Json(identity).into_response())
}

async fn update(
    State(k): State<Kratos>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = parse_uuid("id", &id)?;
    let body: UpdateIdentityBody = parse_json(&body)?;
    Ok(Json(k.identities().update(id, body).await?).into_response())
}

async fn patch_one(
    State(k): State<Kratos>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = parse_uuid("id", &id)?;
    let patch: serde_json::Value = parse_json(&body)?;
    Ok(Json(k.identities().patch(id, &patch).await?).into_response())
}

async fn delete_one(State(k): State<Kratos>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_uuid("id", &id)?;
    k.identities().delete(id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn delete_credential(
    State(k): State<Kratos>,
    Path((id, credential_type)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let id = parse_uuid("id", &id)?;
    let t = CredentialType::parse(&credential_type).ok_or_else(|| {
        ApiError::bad_request(
            "type",
            format!("unknown credential type `{credential_type}`"),
        )
    })?;
    let pairs = pairs(&query);
    let identifier = pairs
        .iter()
        .find(|(k, _)| k == "identifier")
        .map(|(_, v)| v.as_str());
    k.identities().delete_credential(id, t, identifier).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
