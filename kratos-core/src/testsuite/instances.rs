//! Several app instances on one database: two `Kratos` handles over two stores of one
//! database (separate connection pools, as two processes have) see each other's writes at
//! once. A backend runs these with two stores it connected apart
//! ([`crate::instances_conformance!`]).

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::json;
use uuid::Uuid;

use super::flows::{SESSION_HOOK, messages, register};
use super::kratos_with;
use crate::Kratos;
use crate::courier::{MemoryOutbox, TemplateType};
use crate::flow::login::{LoginOptions, LoginSubmission};
use crate::flow::registration::RegistrationSubmission;
use crate::flow::{FlowContext, FlowError, FlowType};
use crate::identity::{IdentityState, ListIdentitiesParams, UpdateIdentityBody};
use crate::session::SessionError;
use crate::store::Persister;

/// Two handles of one tenant, one over each store.
fn pair(a: Arc<dyn Persister>, b: Arc<dyn Persister>, extra: &str) -> (Kratos, Kratos) {
    let config = format!("{SESSION_HOOK}{extra}");
    let first = kratos_with(a, &config, Arc::new(crate::SystemClock));
    let second = kratos_with(b, &config, Arc::new(crate::SystemClock)).tenant(first.nid());
    (first, second)
}

fn email() -> String {
    format!("instances-{}@example.com", Uuid::new_v4().simple())
}

const PASSWORD: &str = "long enough pw";

async fn login(k: &Kratos, identifier: &str, password: &str) -> Result<LoginSubmission, FlowError> {
    let ctx = FlowContext::default();
    let flow = k
        .login()
        .create(FlowType::Api, &ctx, LoginOptions::default())
        .await?;
    k.login()
        .submit(
            flow.id,
            &json!({"method": "password", "identifier": identifier, "password": password}),
            &ctx,
        )
        .await
}

async fn session_token(k: &Kratos, identifier: &str) -> String {
    match login(k, identifier, PASSWORD).await {
        Ok(LoginSubmission::Completed(done)) => done.session_token.unwrap().expose().to_owned(),
        other => panic!("signed in: {other:?}"),
    }
}

/// A session revoked, and an identity disabled, through one instance are refused by the
/// other at once.
pub async fn instances_see_revoked_sessions_and_disabled_identities(
    a: Arc<dyn Persister>,
    b: Arc<dyn Persister>,
) {
    let (one, two) = pair(a, b, "");
    let mail = email();
    let RegistrationSubmission::Completed(registered) = register(&one, &mail, PASSWORD).await
    else {
        panic!("registered")
    };
    let token = session_token(&one, &mail).await;
    let session = two
        .sessions()
        .whoami(&token)
        .await
        .expect("seen by the other");
    one.sessions().revoke(session.id).await.unwrap();
    assert!(matches!(
        two.sessions().whoami(&token).await,
        Err(SessionError::Inactive)
    ));

    let token = session_token(&two, &mail).await;
    one.sessions()
        .whoami(&token)
        .await
        .expect("seen by the first");
    let identity = one.identities().get(registered.identity.id).await.unwrap();
    one.identities()
        .update(
            identity.id,
            UpdateIdentityBody {
                schema_id: identity.schema_id.clone(),
                traits: identity.traits.clone(),
                state: Some(IdentityState::Inactive),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        two.sessions().whoami(&token).await,
        Err(SessionError::Inactive)
    ));
}

/// Failed logins counted through both instances add up to one lock, seen by both.
pub async fn instances_count_login_failures_together(a: Arc<dyn Persister>, b: Arc<dyn Persister>) {
    let (one, two) = pair(
        a,
        b,
        "security:\n  login_lockout:\n    max_failures: 4\n    max_failures_per_address: 100\n    base_duration: 10m\n    max_duration: 10m\n",
    );
    let mail = email();
    register(&one, &mail, PASSWORD).await;
    for attempt in 0..4 {
        let instance = if attempt % 2 == 0 { &one } else { &two };
        match login(instance, &mail, "wrong password").await {
            Ok(LoginSubmission::Retry(f)) => assert_eq!(messages(&f.ui), vec![4000006]),
            other => panic!("attempt {attempt} is refused as wrong: {other:?}"),
        }
    }
    for instance in [&one, &two] {
        assert!(matches!(
            login(instance, &mail, PASSWORD).await,
            Err(FlowError::LoginLocked { .. })
        ));
    }
}

/// Two courier workers, one per instance, send every queued message exactly once.
pub async fn instances_courier_workers_send_each_message_once(
    a: Arc<dyn Persister>,
    b: Arc<dyn Persister>,
) {
    let config = crate::Config::from_yaml_str(
        "secrets:\n  default: [\"conformance-suite-secret-0123456789\"]\n",
    )
    .unwrap();
    let (out_one, out_two) = (MemoryOutbox::new(), MemoryOutbox::new());
    let build = |store: Arc<dyn Persister>, outbox: &MemoryOutbox| {
        Kratos::builder(super::without_hibp(config.clone()))
            .store(store)
            .schema(super::test_schema())
            .courier_channel(Arc::new(outbox.clone()))
            .build()
            .unwrap()
    };
    let one = build(a, &out_one).tenant(Uuid::new_v4());
    let two = build(b, &out_two).tenant(one.nid());
    let recipients: Vec<String> = (0..40).map(|i| format!("w{i}-{}", email())).collect();
    for to in &recipients {
        one.courier()
            .queue(
                TemplateType::RecoveryCodeValid,
                to,
                json!({"to": to, "recovery_code": "123456"}),
            )
            .await
            .unwrap();
    }
    let work = |k: Kratos| async move {
        loop {
            let report = k.courier().dispatch_batch().await.unwrap();
            if report.claimed == 0 {
                break;
            }
        }
    };
    tokio::join!(work(one.clone()), work(two.clone()));
    let mut delivered = Vec::new();
    for to in &recipients {
        let copies = out_one.messages_to(to).len() + out_two.messages_to(to).len();
        assert_eq!(copies, 1, "{to} got exactly one message");
        delivered.push(to.clone());
    }
    assert_eq!(
        delivered.iter().collect::<HashSet<_>>().len(),
        recipients.len()
    );
}

/// Two registrations of one identifier, one per instance, give exactly one identity.
pub async fn instances_register_one_identifier_once(a: Arc<dyn Persister>, b: Arc<dyn Persister>) {
    let (one, two) = pair(a, b, "");
    let mail = email();
    let (first, second) = tokio::join!(
        register(&one, &mail, PASSWORD),
        register(&two, &mail, PASSWORD)
    );
    let completed = [first, second]
        .into_iter()
        .filter(|r| match r {
            RegistrationSubmission::Completed(_) => true,
            RegistrationSubmission::Retry(f) => {
                assert_eq!(messages(&f.ui), vec![4000007]);
                false
            }
        })
        .count();
    assert_eq!(completed, 1, "exactly one identity");
    let page = two
        .identities()
        .list(ListIdentitiesParams {
            credentials_identifier: Some(mail),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.identities.len(), 1);
}
