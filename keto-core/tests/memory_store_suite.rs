//! The store conformance suite against the in-memory store, directly and through a wrapper
//! that hides the synchronous fast path (so the engine reads level by level).
#![cfg(feature = "testsuite")]

use std::sync::Arc;

use keto_core::MemoryStore;

async fn memory() -> Arc<MemoryStore> {
    Arc::new(MemoryStore::new())
}

keto_core::tuple_store_tests!(memory);
