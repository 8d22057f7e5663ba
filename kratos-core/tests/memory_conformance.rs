//! The identity-store conformance suite on the in-memory store.

use std::sync::Arc;

use kratos_core::store::{MemoryStore, Persister};

async fn store() -> Option<Arc<dyn Persister>> {
    Some(Arc::new(MemoryStore::new()))
}

kratos_core::store_conformance!(store);
