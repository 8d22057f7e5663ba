//! Keto's `/health/alive`, `/health/ready` and `/version`, served on the Keto routers when
//! [`super::KetoOptions::operations`] is on. The readiness check pings the tuple store
//! (`keto_core::TupleStore::ping`) and withholds its error's text, as Keto's ports do.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use keto_core::Tenant;

use crate::meta::{Errors, alive, readiness, version};

/// The routes, before the tenant is applied.
pub(crate) fn router() -> Router<Tenant> {
    Router::new()
        .route("/health/alive", get(alive))
        .route("/health/ready", get(ready))
        .route("/version", get(version))
}

async fn ready(State(tenant): State<Tenant>) -> Response {
    readiness(tenant.engine().store().ping().await, Errors::Withheld)
}
