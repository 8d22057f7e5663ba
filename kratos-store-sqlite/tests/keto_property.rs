//! Property tests: on random tuple graphs (with random deletes), the SQLite store answers
//! every store call and every engine question exactly as the in-memory store does.
//!
//! The reference is keto-core's `MemoryStore` twice over: behind a wrapper that hides its
//! synchronous fast path (so the engine takes the same level-batched path as on SQL, and any
//! difference is the SQL store's) and as is (the engine's fast path).

#[path = "keto/property.rs"]
mod common;

use proptest::prelude::*;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime")
    })
}

fn store() -> &'static kratos_store_sqlite::SqlStore {
    static STORE: std::sync::OnceLock<kratos_store_sqlite::SqlStore> = std::sync::OnceLock::new();
    STORE.get_or_init(|| {
        runtime().block_on(async {
            let s = kratos_store_sqlite::in_memory()
                .await
                .expect("sqlite opens");
            s.migrate().await.expect("migrations apply");
            s
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn sqlite_answers_like_memory(graph in common::graph()) {
        let sql = std::sync::Arc::new(store().clone());
        runtime().block_on(common::compare(sql, &graph));
    }
}
