//! Property tests on MySQL: on random tuple graphs (with random deletes), the store
//! answers every store call and every engine question exactly as the in-memory store does.
//! Skipped (with a message) without `KRATOS_TEST_MYSQL_URL`; see `keto_conformance.rs`.

#[path = "../../kratos-store-sqlite/tests/keto/property.rs"]
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

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A store on a fresh database of this run, or `None` (skip) without a server.
fn store() -> Option<&'static kratos_store_mysql::SqlStore> {
    static STORE: std::sync::OnceLock<Option<kratos_store_mysql::SqlStore>> =
        std::sync::OnceLock::new();
    STORE
        .get_or_init(|| {
            let base = match std::env::var("KRATOS_TEST_MYSQL_URL") {
                Ok(url) if !url.is_empty() => url,
                _ if ci() => panic!(
                    "CI=true but KRATOS_TEST_MYSQL_URL is not set: MySQL tests cannot be skipped in CI"
                ),
                _ => {
                    eprintln!("KRATOS_TEST_MYSQL_URL is not set: skipping MySQL test");
                    return None;
                }
            };
            runtime().block_on(async {
                let url = match kratos_store_mysql::create_test_database(&base).await {
                    Ok(url) => url,
                    Err(e) if ci() => panic!("CI=true and MySQL is unreachable: {e}"),
                    Err(e) => {
                        eprintln!("MySQL is unreachable ({e}): skipping MySQL test");
                        return None;
                    }
                };
                Some(
                    kratos_store_mysql::connect(&url)
                        .await
                        .expect("connect to the test database"),
                )
            })
        })
        .as_ref()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn mysql_answers_like_memory(graph in common::graph()) {
        let Some(store) = store() else { return Ok(()) };
        let sql = std::sync::Arc::new(store.clone());
        runtime().block_on(common::compare(sql, &graph));
    }
}
