//! Keto-compatible REST routers on the embedded `keto-core` engine; the routes, status codes
//! and differences from Keto are described on [`keto_router`].

mod error;
mod operations;
mod params;
mod read;
mod write;

use axum::Router;
use keto_core::Tenant;

/// Response header carrying the snapshot token of a write; pass its value back as the
/// `snaptoken` query parameter of a check, expand or list to read at least that write.
pub const SNAPTOKEN_HEADER: &str = "keto-snaptoken";

/// The largest request body the Keto routers read by default (1 MiB); larger bodies are
/// answered with 413. See [`KetoOptions`] to change it.
pub const KETO_DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Options of the Keto routers.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct KetoOptions {
    /// The largest request body read, in bytes; a larger one is answered with 413 in Keto's
    /// error shape before any of it is parsed (default [`KETO_DEFAULT_BODY_LIMIT`]).
    pub body_limit: usize,
    /// Whether the routers also serve Keto's `/health/alive`, `/health/ready` (503 with
    /// `{"errors":{"database":…}}` when the tuple store does not answer its ping) and
    /// `/version`, as each of Keto's ports does (default off, so the Keto routers merge with
    /// the Kratos routers, which serve these paths themselves).
    pub operations: bool,
}

impl Default for KetoOptions {
    fn default() -> Self {
        Self {
            body_limit: KETO_DEFAULT_BODY_LIMIT,
            operations: false,
        }
    }
}

impl KetoOptions {
    /// Sets the body limit, in bytes.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Turns Keto's health and version endpoints on or off (see [`KetoOptions::operations`]).
    pub fn operations(mut self, on: bool) -> Self {
        self.operations = on;
        self
    }
}

/// The routes of a Keto router with its options' extras (the health and version endpoints).
fn with_operations(router: Router<Tenant>, options: &KetoOptions) -> Router<Tenant> {
    if options.operations {
        router.merge(operations::router())
    } else {
        router
    }
}

/// Keto's read API (Keto's port 4466): checks, batch check, expand, list, namespaces and
/// the OPL syntax check, served for one tenant, with bodies up to
/// [`KETO_DEFAULT_BODY_LIMIT`]. See [`keto_router`] for routes and answers.
pub fn keto_read_router(tenant: Tenant) -> Router {
    keto_read_router_with(tenant, KetoOptions::default())
}

/// [`keto_read_router`] with options (the body limit).
pub fn keto_read_router_with(tenant: Tenant, options: KetoOptions) -> Router {
    with_operations(read::router(&options), &options)
        .layer(crate::panic::layer())
        .with_state(tenant)
}

/// Keto's write API (Keto's port 4467): `PUT`, `PATCH` and `DELETE /admin/relation-tuples`,
/// served for one tenant, with bodies up to [`KETO_DEFAULT_BODY_LIMIT`]. Bind it where only
/// trusted callers reach it. See [`keto_router`] for routes and answers.
pub fn keto_write_router(tenant: Tenant) -> Router {
    keto_write_router_with(tenant, KetoOptions::default())
}

/// [`keto_write_router`] with options (the body limit).
pub fn keto_write_router_with(tenant: Tenant, options: KetoOptions) -> Router {
    with_operations(write::router(&options), &options)
        .layer(crate::panic::layer())
        .with_state(tenant)
}

/// Keto's read and write APIs on one router.
///
/// The Keto routers serve one tenant: they take a [`keto_core::Tenant`] (`keto.tenant(nid)`),
/// the engine bound to one network id, so every request reads and writes that tenant only.
/// Paths, query parameters, status codes and bodies follow Keto's REST API:
///
/// | route | answer |
/// |---|---|
/// | `GET`/`POST /relation-tuples/check` | 200 `{"allowed":true}`, 403 `{"allowed":false}` |
/// | `GET`/`POST /relation-tuples/check/openapi` | 200 `{"allowed":bool}` |
/// | `POST /relation-tuples/batch/check` | 200 `{"results":[{"allowed","error"?}]}` |
/// | `GET /relation-tuples/expand` | 200 tree, 404 when nothing is stored |
/// | `GET /relation-tuples` | 200 `{"relation_tuples":[…],"next_page_token":""}` |
/// | `GET /namespaces` | 200 `{"namespaces":[{"name"}]}` |
/// | `POST /opl/syntax/check` | 200 `{"errors":[{"message","start","end"}]}` |
/// | `PUT /admin/relation-tuples` | 201 with the tuple and a `Location` |
/// | `PATCH /admin/relation-tuples` | 204 |
/// | `DELETE /admin/relation-tuples` | 204 |
///
/// Checks and expand take `max-depth` (clamped to `limit.max_read_depth` as Keto does). As in
/// Keto, a check naming an unknown namespace is a denial, while list, expand and writes answer
/// 404; an undeclared relation answers 400, and in strict mode a check stopped by a limit
/// answers 422. Errors use Keto's `{"error":{"code","status","message","reason"}}` body:
/// `message` is the generic text of the status, `reason` says what was wrong. Malformed
/// tuples, malformed JSON and bad parameters answer 400 (the reason names the parameter).
/// List pages hold 100 tuples unless `page_size` (at most 500) says otherwise. Request bodies
/// larger than [`KETO_DEFAULT_BODY_LIMIT`] (or [`KetoOptions::body_limit`]) answer 413.
///
/// # Beyond Keto
///
/// Keto answers snapshot tokens with a placeholder. Here every write answers with a
/// `keto-snaptoken` header (the bodies stay Keto's), and checks, expand and list accept that
/// token as `?snaptoken=`: the read then sees at least that write, or answers 503.
///
/// # Differences from Keto
///
/// - `DELETE /admin/relation-tuples` refuses unknown query parameters and a non-empty body,
///   so a mistyped filter cannot delete more than meant.
/// - Health and version endpoints (`/health/alive`, `/health/ready`, `/version`) are served
///   only with [`KetoOptions::operations`], so by default the routers merge with the Kratos
///   routers (which serve those paths) without clashing.
/// - A body whose `Content-Type` is declared and is not JSON answers 400 (Keto ignores the
///   header); a body without `Content-Type` is read as JSON.
/// - Positions in OPL syntax errors count lines and columns from 1.
/// - OPL expressions are limited in height as well as in nesting (see
///   [`keto_core::opl::parse`]); request bodies are limited in size (Keto reads any size).
/// - `max-depth` outside 0..=65535 answers 400 (Keto uses its configured maximum instead).
///
/// ```
/// use std::sync::Arc;
/// use keto_core::{Config, Keto, MemoryStore, Schema};
///
/// let schema = Schema::from_opl("class User implements Namespace {}").unwrap();
/// let keto = Keto::new(schema, Arc::new(MemoryStore::new()), Config::default()).unwrap();
/// let tenant = keto.tenant(uuid::Uuid::nil());
/// // Keto's two ports: the read API publicly, the write API on an internal address.
/// let read: axum::Router = kratos_axum::keto_read_router(tenant.clone());
/// let write: axum::Router = kratos_axum::keto_write_router(tenant.clone());
/// // Or both on one router.
/// let all: axum::Router = kratos_axum::keto_router(tenant);
/// # let _ = (read, write, all);
/// ```
pub fn keto_router(tenant: Tenant) -> Router {
    keto_router_with(tenant, KetoOptions::default())
}

/// [`keto_router`] with options (the body limit).
pub fn keto_router_with(tenant: Tenant, options: KetoOptions) -> Router {
    with_operations(
        read::router(&options).merge(write::router(&options)),
        &options,
    )
    .layer(crate::panic::layer())
    .with_state(tenant)
}
