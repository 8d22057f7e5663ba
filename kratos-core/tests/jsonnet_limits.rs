//! The process-wide bound on Jsonnet evaluations: templates that never end hold at most
//! `MAX_CONCURRENT_EVALUATIONS` threads, and a further evaluation fails at once instead of
//! starting another thread. (Its own test binary: the bound is per process.)
#![cfg(feature = "jsonnet")]

use std::time::{Duration, Instant};

use kratos_core::jsonnet::{
    JsonnetError, JsonnetTemplate, MAX_CONCURRENT_EVALUATIONS, running_evaluations,
};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_templates_hold_a_bounded_number_of_threads() {
    // 2^60 calls, 60 deep: within the call-depth bound, and it never ends.
    let endless = JsonnetTemplate::compile(
        "endless",
        "function(ctx) local f(n) = if n == 0 then 0 else f(n - 1) + f(n - 1); { n: f(60) }",
    )
    .unwrap();
    for _ in 0..MAX_CONCURRENT_EVALUATIONS {
        let t = endless.clone();
        tokio::spawn(async move { t.evaluate(&json!({})).await });
    }
    let quick = JsonnetTemplate::compile("quick", "function(ctx) { ok: true }").unwrap();
    // Wait until every slot is taken by an endless evaluation (nothing else evaluates in
    // this test binary).
    let deadline = Instant::now() + Duration::from_secs(30);
    while running_evaluations() < MAX_CONCURRENT_EVALUATIONS {
        assert!(
            Instant::now() < deadline,
            "only {} endless evaluations started",
            running_evaluations()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A further evaluation is refused at once.
    let started = Instant::now();
    match quick.evaluate(&json!({})).await {
        Err(JsonnetError::Failed(reason)) => {
            assert!(reason.contains("running already"), "{reason}");
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "refused at once"
            );
        }
        other => panic!("the bound did not refuse an evaluation: {other:?}"),
    }
    // Evaluations whose callers gave up keep their slots: still refused after the wait.
    tokio::time::sleep(kratos_core::jsonnet::EVAL_TIMEOUT + Duration::from_millis(200)).await;
    assert_eq!(running_evaluations(), MAX_CONCURRENT_EVALUATIONS);
    assert!(quick.evaluate(&json!({})).await.is_err());
}
