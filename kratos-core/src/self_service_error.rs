//! Self-service errors kept for an error page, as Kratos's error manager keeps them
//! (`selfservice/errorx`): a browser whose self-service request failed is sent to
//! `selfservice.flows.error.ui_url?id=<id>`, and that page reads the error back by its id.
//!
//! [`SelfServiceErrors::create`] stores an error under a new random id;
//! [`SelfServiceErrors::get`] reads it. Errors are deleted by the cleanup
//! ([`crate::cleanup`], `database.cleanup.self_service_errors_older_than`).
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use kratos_core::KratosError;
//!
//! let config = kratos_core::Config::from_yaml_str("dev: true").unwrap();
//! let schema = kratos_core::identity::IdentitySchema::from_value(
//!     "default",
//!     serde_json::json!({"properties": {"traits": {"type": "object",
//!         "properties": {"email": {"type": "string"}}}}}),
//! )
//! .unwrap();
//! let kratos = kratos_core::Kratos::builder(config)
//!     .schema(schema)
//!     .build()
//!     .unwrap();
//! let body = kratos_core::flow::FlowError::NotFound.to_body();
//! let stored = kratos.self_service_errors().create(&body.error).await.unwrap();
//! let read = kratos.self_service_errors().get(stored.id).await.unwrap();
//! assert_eq!(read.error["id"], "not_found");
//! # });
//! ```

use uuid::Uuid;

use crate::Kratos;
use crate::error::GenericError;
use crate::store::{SelfServiceError, StoreError};

/// The self-service errors of one tenant; from [`Kratos::self_service_errors`].
#[derive(Clone, Debug)]
pub struct SelfServiceErrors {
    kratos: Kratos,
}

impl Kratos {
    /// The self-service errors of this handle's tenant.
    pub fn self_service_errors(&self) -> SelfServiceErrors {
        SelfServiceErrors {
            kratos: self.clone(),
        }
    }
}

impl SelfServiceErrors {
    /// Stores `error` under a new random (v4) id, created now; answers what was stored.
    /// Fails with the store's error.
    pub async fn create(&self, error: &GenericError) -> Result<SelfServiceError, StoreError> {
        let now = crate::clock::truncate_micros(self.kratos.clock().now());
        let stored = SelfServiceError {
            id: Uuid::new_v4(),
            error: serde_json::to_value(error).map_err(|e| StoreError::Backend(Box::new(e)))?,
            created_at: now,
            updated_at: now,
        };
        self.kratos
            .store()
            .insert_self_service_error(self.kratos.nid(), &stored)
            .await?;
        Ok(stored)
    }

    /// The error stored under `id`; [`StoreError::NotFound`] when there is none in this
    /// tenant.
    pub async fn get(&self, id: Uuid) -> Result<SelfServiceError, StoreError> {
        self.kratos
            .store()
            .get_self_service_error(self.kratos.nid(), id)
            .await
    }
}
