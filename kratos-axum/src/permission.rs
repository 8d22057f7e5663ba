//! A permission guard for an app's own routes, on keto-core: the request's identity must hold
//! a relation (or permission) on an object the request names.
//!
//! ```
//! use axum::{Router, routing::get};
//! use kratos_axum::{Permission, PermissionGuard, require_permission};
//!
//! fn documents(kratos: kratos_core::Kratos, keto: keto_core::Tenant) -> Router {
//!     let can_view = Permission::new(keto, "Document", "view")
//!         .object_from_path("id")
//!         .subject_namespace("User");
//!     Router::new()
//!         .route("/documents/{id}", get(|| async { "the document" }))
//!         .route_layer(axum::middleware::from_fn_with_state(
//!             PermissionGuard::new(kratos, can_view),
//!             require_permission,
//!         ))
//! }
//! ```
//!
//! The guard answers 401 `session_inactive` without an active session (as [`Session`]
//! does), 403 `forbidden` when the check does not say *member* (an *unknown* answer, because a
//! depth or width limit was hit, is a denial), 404 when the object's path parameter is
//! missing or empty, and 500 when the check fails. A request that passes carries its session,
//! so a [`Session`] extractor in the handler does not look it up again.
//!
//! [`Session`]: crate::Session

use std::sync::Arc;

use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use keto_core::{CheckOptions, RelationTuple, Subject};
use kratos_core::Kratos;

use crate::error::ApiError;

type ObjectFn = Arc<dyn Fn(&Parts) -> Option<String> + Send + Sync>;

/// Where the checked object comes from.
#[derive(Clone)]
enum ObjectSource {
    /// A path parameter of the matched route.
    PathParam(String),
    /// Always this object.
    Fixed(String),
    /// Computed from the request.
    Custom(ObjectFn),
}

/// What a route requires: `relation` on an object of `namespace`, held by the request's
/// identity (the subject id is the identity id, or the subject set
/// `<subject_namespace>:<identity id>`).
#[derive(Clone)]
pub struct Permission {
    keto: keto_core::Tenant,
    namespace: String,
    relation: String,
    object: ObjectSource,
    subject_namespace: Option<String>,
}

impl std::fmt::Debug for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let object = match &self.object {
            ObjectSource::PathParam(p) => format!("path parameter `{p}`"),
            ObjectSource::Fixed(o) => format!("`{o}`"),
            ObjectSource::Custom(_) => "computed".to_owned(),
        };
        f.debug_struct("Permission")
            .field("namespace", &self.namespace)
            .field("relation", &self.relation)
            .field("object", &object)
            .field("subject_namespace", &self.subject_namespace)
            .finish()
    }
}

impl Permission {
    /// `relation` on an object of `namespace`, checked in `keto`'s tenant. The object is the
    /// path parameter `id` unless set otherwise.
    pub fn new(
        keto: keto_core::Tenant,
        namespace: impl Into<String>,
        relation: impl Into<String>,
    ) -> Self {
        Self {
            keto,
            namespace: namespace.into(),
            relation: relation.into(),
            object: ObjectSource::PathParam("id".into()),
            subject_namespace: None,
        }
    }

    /// The object is the path parameter `name` of the matched route.
    pub fn object_from_path(mut self, name: impl Into<String>) -> Self {
        self.object = ObjectSource::PathParam(name.into());
        self
    }

    /// The object is always `object` (a permission on the whole area, e.g. `App:admin`).
    pub fn object(mut self, object: impl Into<String>) -> Self {
        self.object = ObjectSource::Fixed(object.into());
        self
    }

    /// The object is computed from the request (`None`: 404).
    pub fn object_with(
        mut self,
        f: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.object = ObjectSource::Custom(Arc::new(f));
        self
    }

    /// The subject is the subject set `<namespace>:<identity id>` (as OPL models users,
    /// e.g. `User`) instead of the bare identity id.
    pub fn subject_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.subject_namespace = Some(namespace.into());
        self
    }

    fn subject(&self, identity_id: &str) -> Subject {
        match &self.subject_namespace {
            Some(ns) => Subject::set(ns.clone(), identity_id, ""),
            None => Subject::id(identity_id),
        }
    }

    async fn object_of(&self, parts: &mut Parts) -> Option<String> {
        let object = match &self.object {
            ObjectSource::Fixed(o) => Some(o.clone()),
            ObjectSource::Custom(f) => f(parts),
            ObjectSource::PathParam(name) => RawPathParams::from_request_parts(parts, &())
                .await
                .ok()
                .and_then(|params| {
                    params
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.to_owned())
                }),
        };
        object.filter(|o| !o.is_empty())
    }

    /// Whether the identity holds the permission on `object`.
    pub async fn allows(
        &self,
        identity_id: uuid::Uuid,
        object: &str,
    ) -> Result<bool, keto_core::EngineError> {
        let tuple = RelationTuple::new(
            &self.namespace,
            object,
            &self.relation,
            self.subject(&identity_id.to_string()),
        );
        let result = self.keto.check(&tuple, &CheckOptions::default()).await?;
        Ok(result.allowed())
    }
}

/// The state of a [`require_permission`] middleware: the registry that resolves sessions and
/// the permission to check.
#[derive(Clone, Debug)]
pub struct PermissionGuard {
    kratos: Kratos,
    permission: Permission,
}

impl PermissionGuard {
    /// A guard for `permission`, resolving sessions with `kratos`.
    pub fn new(kratos: Kratos, permission: Permission) -> Self {
        Self { kratos, permission }
    }
}

/// A middleware that lets a request through only when its identity holds the guard's
/// permission on the object the request names (see the [module docs](self)). Use it with
/// `route_layer`, so path parameters are known.
pub async fn require_permission(
    State(guard): State<PermissionGuard>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let session = match crate::extract::authenticate(&guard.kratos, &mut parts).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let Some(object) = guard.permission.object_of(&mut parts).await else {
        return ApiError::not_found("The requested resource could not be found.").into_response();
    };
    match guard.permission.allows(session.identity_id, &object).await {
        Ok(true) => next.run(Request::from_parts(parts, body)).await,
        Ok(false) => ApiError::with_status(
            StatusCode::FORBIDDEN,
            "forbidden",
            "The identity lacks the permission this resource needs.",
        )
        .into_response(),
        Err(e) => ApiError::with_status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            format!("The permission check failed: {e}"),
        )
        .into_response(),
    }
}
