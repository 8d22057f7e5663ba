//! The identity-store conformance suite on the in-memory store.

use std::sync::Arc;

use kratos_core::store::{MemoryStore, Persister};

async fn store() -> Option<Arc<dyn Persister>> {
    Some(Arc::new(MemoryStore::new()))
}

kratos_core::store_conformance!(store);

/// Two handles over one in-memory store: the instances suite's baseline.
async fn two_instances() -> Option<(Arc<dyn Persister>, Arc<dyn Persister>)> {
    let store: Arc<dyn Persister> = Arc::new(MemoryStore::new());
    Some((store.clone(), store))
}

mod instances {
    use super::*;
    kratos_core::instances_conformance!(two_instances);
}
