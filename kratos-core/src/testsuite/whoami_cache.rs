//! The whoami cache ([`crate::KratosBuilder::whoami_cache`]): answers served from memory are
//! evicted by the writes of the same registry, and keep every whoami check (expiry, level,
//! identity state, the sliding extension). The several-instances checks
//! ([`whoami_cache_instances_refuse_within`]) take the bound of the backend that runs them.

use std::time::{Duration, Instant};

use super::session::{SECOND_FACTORS_ON, client, password_method};
#[allow(unused_imports)]
use super::*;
use crate::identity::ImportTotp;
use crate::session::{RequiredAal, Session, WhoamiCache};

/// The cache of these tests: big and long-lived, so that only evictions end an entry.
pub const LONG_CACHE: WhoamiCache = WhoamiCache {
    max_entries: 10_000,
    ttl: Duration::from_secs(3600),
};

/// [`kratos_with`] with the whoami cache on, once it serves from memory (on a store with a
/// change feed, once the feed listens: waited for up to 10 s).
pub async fn cached_kratos_with(
    store: Arc<dyn Persister>,
    extra_yaml: &str,
    clock: Arc<dyn crate::Clock>,
    cache: WhoamiCache,
) -> Kratos {
    let k = builder_with(store, extra_yaml, clock)
        .whoami_cache(cache)
        .build()
        .expect("kratos builds")
        .tenant(Uuid::new_v4());
    until_cache_live(&k).await;
    k
}

/// Waits (up to 10 s) until `k`'s whoami cache serves from memory.
pub async fn until_cache_live(k: &Kratos) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !k.whoami_cache_stats().expect("the cache is on").live {
        assert!(
            Instant::now() < deadline,
            "the whoami cache serves from memory within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// whoami, until an answer comes from memory (at most 100 tries, 10 ms apart): on a store
/// with a change feed, the notification of this registry's own last write may still arrive
/// after the entry was read again, and evict it once more.
pub async fn whoami_from_memory(k: &Kratos, token: &str) -> Result<Session, SessionError> {
    for _ in 0..100 {
        let before = k.whoami_cache_stats().expect("the cache is on").hits;
        let answer = k.sessions().whoami(token).await;
        if k.whoami_cache_stats().expect("the cache is on").hits > before {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("whoami is answered from memory");
}

/// whoami twice: the first reads the store and keeps the answer, the second is served
/// from memory.
pub async fn warm(k: &Kratos, token: &str) -> Session {
    k.sessions().whoami(token).await.expect("active");
    whoami_from_memory(k, token).await.expect("still active")
}

fn inactive(answer: Result<Session, SessionError>) -> bool {
    matches!(answer, Err(SessionError::Inactive))
}

/// Revoking, logging out and revoking others or all, through the registry that serves from
/// memory, evict at once.
pub async fn whoami_cache_evicts_on_revoke_and_logout(store: Arc<dyn Persister>) {
    let k = cached_kratos_with(store, "", Arc::new(crate::SystemClock), LONG_CACHE).await;
    let identity = k.identities().create(body(&email())).await.unwrap();
    let mut issued = Vec::new();
    for _ in 0..5 {
        let s = k
            .sessions()
            .issue(&identity, password_method(&k), &client())
            .await
            .unwrap();
        warm(&k, s.token.expose()).await;
        issued.push(s);
    }
    assert!(
        inactive(
            k.tenant(Uuid::new_v4())
                .sessions()
                .whoami(issued[0].token.expose())
                .await
        ),
        "another tenant's handle does not see the kept answer"
    );

    k.sessions().revoke(issued[0].session.id).await.unwrap();
    assert!(
        inactive(k.sessions().whoami(issued[0].token.expose()).await),
        "revoked"
    );
    k.sessions()
        .logout_with_session_token(issued[1].token.expose())
        .await
        .unwrap();
    assert!(
        inactive(k.sessions().whoami(issued[1].token.expose()).await),
        "logged out"
    );
    k.sessions()
        .logout_with_logout_token(issued[2].logout_token.expose())
        .await
        .unwrap();
    assert!(
        inactive(k.sessions().whoami(issued[2].token.expose()).await),
        "logged out by logout token"
    );
    assert_eq!(
        k.sessions()
            .revoke_others(issued[3].token.expose())
            .await
            .unwrap(),
        1
    );
    assert!(
        inactive(k.sessions().whoami(issued[4].token.expose()).await),
        "revoked as another"
    );
    warm(&k, issued[3].token.expose()).await;
    k.sessions().revoke_all(identity.id).await.unwrap();
    assert!(
        inactive(k.sessions().whoami(issued[3].token.expose()).await),
        "revoked with all"
    );
}

/// Disabling, changing, giving a second factor to and deleting the identity through the
/// registry that serves from memory change the next answer at once.
pub async fn whoami_cache_evicts_on_identity_changes(store: Arc<dyn Persister>) {
    let k = cached_kratos_with(
        store,
        SECOND_FACTORS_ON,
        Arc::new(crate::SystemClock),
        LONG_CACHE,
    )
    .await;
    let identity = k.identities().create(body(&email())).await.unwrap();
    let s = k
        .sessions()
        .issue(&identity, password_method(&k), &client())
        .await
        .unwrap();
    let token = s.token.expose();
    warm(&k, token).await;
    let update = |state: IdentityState, metadata: Value, credentials| UpdateIdentityBody {
        schema_id: identity.schema_id.clone(),
        traits: identity.traits.clone(),
        state: Some(state),
        metadata_public: Some(metadata),
        credentials,
        ..Default::default()
    };

    k.identities()
        .update(
            identity.id,
            update(IdentityState::Inactive, json!({}), None),
        )
        .await
        .unwrap();
    assert!(inactive(k.sessions().whoami(token).await), "disabled");
    k.identities()
        .update(
            identity.id,
            update(IdentityState::Active, json!({"plan": "pro"}), None),
        )
        .await
        .unwrap();
    warm(&k, token).await;
    let who = whoami_from_memory(&k, token).await.unwrap();
    assert_eq!(
        who.identity.unwrap().metadata_public,
        Some(json!({"plan": "pro"})),
        "the changed identity is shown"
    );

    let totp = ImportCredentials {
        totp: Some(ImportTotp {
            config: crate::identity::ImportTotpConfig {
                totp_url: "otpauth://totp/Example:a?secret=JBSWY3DPEHPK3PXP&issuer=Example".into(),
            },
        }),
        ..Default::default()
    };
    k.identities()
        .update(
            identity.id,
            update(IdentityState::Active, json!({"plan": "pro"}), Some(totp)),
        )
        .await
        .unwrap();
    assert!(
        matches!(
            k.sessions().whoami(token).await,
            Err(SessionError::Aal2Required)
        ),
        "a second factor raises the level required"
    );
    assert!(
        whoami_from_memory(&k, token).await.is_err(),
        "and the kept answer requires it too"
    );
    assert!(
        k.sessions()
            .whoami_with(token, RequiredAal::Aal1)
            .await
            .is_ok()
    );

    k.identities().delete(identity.id).await.unwrap();
    assert!(inactive(k.sessions().whoami(token).await), "deleted");
}

/// A kept answer is refused once its session expires, and the sliding extension of a kept
/// session is still written to the store when it is due.
pub async fn whoami_cache_keeps_expiry_and_sliding_extension(store: Arc<dyn Persister>) {
    let clock = crate::ManualClock::new(chrono::Utc::now());
    let k = cached_kratos_with(
        store.clone(),
        "session:\n  lifespan: 2h\n  earliest_possible_extend: 1h\n  extend_on_use: true\n",
        Arc::new(clock.clone()),
        LONG_CACHE,
    )
    .await;
    let identity = k.identities().create(body(&email())).await.unwrap();
    let s = k
        .sessions()
        .issue(&identity, password_method(&k), &client())
        .await
        .unwrap();
    let token = s.token.expose();
    warm(&k, token).await;
    clock.advance(chrono::Duration::minutes(30));
    let who = whoami_from_memory(&k, token).await.unwrap();
    assert_eq!(who.expires_at, s.session.expires_at, "not yet due");
    clock.advance(chrono::Duration::minutes(60));
    let who = whoami_from_memory(&k, token).await.unwrap();
    let extended = crate::clock::truncate_micros(clock.now()) + chrono::Duration::hours(2);
    assert_eq!(who.expires_at, extended);
    assert_eq!(
        k.store()
            .get_session(k.nid(), s.session.id)
            .await
            .unwrap()
            .session
            .expires_at,
        extended,
        "the extension is stored"
    );
    let who = warm(&k, token).await;
    assert_eq!(who.expires_at, extended, "and read back");

    let plain = cached_kratos_with(store, "", Arc::new(clock.clone()), LONG_CACHE)
        .await
        .tenant(k.nid());
    let t = plain
        .sessions()
        .issue(&identity, password_method(&plain), &client())
        .await
        .unwrap();
    warm(&plain, t.token.expose()).await;
    clock.advance(chrono::Duration::hours(25));
    assert!(
        inactive(whoami_from_memory(&plain, t.token.expose()).await),
        "a kept session is refused once it expires"
    );
}

/// Two registries of one tenant with the cache on, one over each store (two stores of one
/// database, connected apart), once both serve from memory.
pub async fn cached_pair(
    a: Arc<dyn Persister>,
    b: Arc<dyn Persister>,
    cache: WhoamiCache,
) -> (Kratos, Kratos) {
    let one = cached_kratos_with(a, SESSION_HOOK, Arc::new(crate::SystemClock), cache).await;
    let two = builder_with(b, SESSION_HOOK, Arc::new(crate::SystemClock))
        .whoami_cache(cache)
        .build()
        .expect("kratos builds")
        .tenant(one.nid());
    until_cache_live(&two).await;
    (one, two)
}

/// A session revoked and an identity disabled through `one` are refused by `two`, which
/// served them from memory, within `bound` after the write returned (polled; the check
/// fails past it).
pub async fn whoami_cache_instances_refuse_within(one: &Kratos, two: &Kratos, bound: Duration) {
    let identity = one.identities().create(body(&email())).await.unwrap();
    let issue = || async {
        one.sessions()
            .issue(&identity, password_method(one), &client())
            .await
            .unwrap()
    };

    let s = issue().await;
    warm(two, s.token.expose()).await;
    one.sessions().revoke(s.session.id).await.unwrap();
    refused_within(
        two,
        s.token.expose(),
        bound,
        "revoked by the other instance",
    )
    .await;

    let s = issue().await;
    warm(two, s.token.expose()).await;
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
    refused_within(
        two,
        s.token.expose(),
        bound,
        "disabled by the other instance",
    )
    .await;
}

/// Polls `k`'s whoami of `token` until it is refused, failing once `bound` has passed.
pub async fn refused_within(k: &Kratos, token: &str, bound: Duration, what: &str) {
    let start = Instant::now();
    loop {
        match k.sessions().whoami(token).await {
            Err(SessionError::Inactive) => return,
            Ok(_) => {}
            Err(e) => panic!("{what}: {e:?}"),
        }
        let waited = start.elapsed();
        assert!(
            waited <= bound,
            "{what}: still accepted {waited:?} after the write (bound {bound:?})"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
