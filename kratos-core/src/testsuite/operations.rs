//! Conformance of the operations traits: the ping, and the self-service errors kept for the
//! error page (stored, read back as written, per tenant, deleted by the cleanup once old).

use std::sync::Arc;

use chrono::Duration;
use serde_json::json;
use uuid::Uuid;

use super::courier::kratos_with_outbox;
use crate::KratosError;
use crate::cleanup::CleanupOptions;
use crate::clock::truncate_micros;
use crate::flow::FlowError;
use crate::store::{Persister, SelfServiceError, StoreError};

pub async fn ping_answers(store: Arc<dyn Persister>) {
    store
        .ping()
        .await
        .expect("a working store answers its ping");
    // Again: a ping leaves the store as it was.
    store.ping().await.expect("and answers it again");
}

pub async fn self_service_errors_are_stored_and_read_per_tenant(store: Arc<dyn Persister>) {
    let (k, _, _) = kratos_with_outbox(store.clone(), "");
    let other = Uuid::new_v4();
    let t = truncate_micros(k.clock().now());
    let error = SelfServiceError {
        id: Uuid::new_v4(),
        error: json!({
            "id": "security_csrf_violation",
            "code": 403,
            "status": "Forbidden",
            "reason": "A security violation was detected.",
            "message": "The requested action was forbidden",
            "details": {"nested": {"list": [1, "two", null]}, "unicode": "é ✓ 😀"},
        }),
        created_at: t,
        updated_at: t,
    };
    store
        .insert_self_service_error(k.nid(), &error)
        .await
        .expect("insert");
    let read = store
        .get_self_service_error(k.nid(), error.id)
        .await
        .expect("read back");
    assert_eq!(read, error, "read back exactly as written");
    assert!(
        matches!(
            store.get_self_service_error(other, error.id).await,
            Err(StoreError::NotFound)
        ),
        "another tenant does not see it"
    );
    assert!(matches!(
        store.get_self_service_error(k.nid(), Uuid::new_v4()).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        matches!(
            store.insert_self_service_error(k.nid(), &error).await,
            Err(StoreError::Conflict(_))
        ),
        "an id is stored once"
    );

    // Through the registry: a flow error's body, under a new id, read back.
    let body = FlowError::CsrfViolation.to_body();
    let created = k.self_service_errors().create(&body.error).await.unwrap();
    assert_ne!(created.id, error.id);
    assert_eq!(created.created_at, t);
    let read = k.self_service_errors().get(created.id).await.unwrap();
    assert_eq!(read.error["id"], "security_csrf_violation");
    assert_eq!(read.error["code"], 403);
    assert_eq!(read, created);
    assert!(matches!(
        k.tenant(other).self_service_errors().get(created.id).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn self_service_errors_cleanup_deletes_old_ones(store: Arc<dyn Persister>) {
    let (k, _, clock) = kratos_with_outbox(store.clone(), "");
    let other = k.tenant(Uuid::new_v4());
    let body = FlowError::NotFound.to_body();
    let mut old = Vec::new();
    for _ in 0..3 {
        old.push(
            k.self_service_errors()
                .create(&body.error)
                .await
                .unwrap()
                .id,
        );
    }
    let stranger = other
        .self_service_errors()
        .create(&body.error)
        .await
        .unwrap();
    clock.advance(Duration::hours(2));
    let fresh = k.self_service_errors().create(&body.error).await.unwrap();
    let cutoff = truncate_micros(k.clock().now()) - Duration::hours(1);

    assert_eq!(
        store
            .delete_old_self_service_errors(k.nid(), cutoff, 0)
            .await
            .unwrap(),
        0,
        "a limit of 0 deletes nothing"
    );
    assert_eq!(
        store
            .delete_old_self_service_errors(k.nid(), cutoff, 2)
            .await
            .unwrap(),
        2,
        "a batch deletes no more than its size"
    );

    // The registry's cleanup deletes the rest of what is older than its setting.
    let options = CleanupOptions {
        sleep_between_tables: std::time::Duration::ZERO,
        self_service_errors_older_than: std::time::Duration::from_secs(3600),
        ..CleanupOptions::from_config(k.config())
    };
    let report = k.cleanup().run(&options).await.unwrap();
    assert_eq!(report.self_service_errors, 1);
    for id in old {
        assert!(matches!(
            k.self_service_errors().get(id).await,
            Err(StoreError::NotFound)
        ));
    }
    k.self_service_errors()
        .get(fresh.id)
        .await
        .expect("a recent error stays");
    other
        .self_service_errors()
        .get(stranger.id)
        .await
        .expect("another tenant's error stays");
}
