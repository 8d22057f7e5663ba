//! Conformance of session token exchange: the store's exchangers (`TokenExchangeStore`: one
//! per flow, both digests, one exchange, expiry, tenants, moves, cleanup) and the flows that
//! open and complete them (api login and registration with
//! `return_session_token_exchange_code`).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use uuid::Uuid;

use super::flows::flow_kratos;
use super::{email, kratos, kratos_with};
use crate::clock::truncate_micros;
use crate::flow::login::{LoginOptions, LoginSubmission};
use crate::flow::registration::{RegistrationOptions, RegistrationSubmission};
use crate::flow::token_exchange::{PendingFlow, TokenExchangeOutcome};
use crate::flow::{FlowContext, FlowKind, FlowType};
use crate::session::{AuthenticationMethod, ClientInfo};
use crate::store::{NewTokenExchange, Persister, StoreErrorKind, TokenExchangeLookup};

fn now() -> DateTime<Utc> {
    truncate_micros(Utc::now())
}

fn digest(b: u8) -> [u8; 64] {
    let mut d = [b; 64];
    // Random tail: digests of one run never collide with another run's rows.
    d[..16].copy_from_slice(Uuid::new_v4().as_bytes());
    d
}

/// An exchanger's parts, for the store-level tests.
struct Codes {
    flow_id: Uuid,
    init: [u8; 64],
    return_to: [u8; 64],
}

async fn create(store: &Arc<dyn Persister>, nid: Uuid, expires_at: DateTime<Utc>) -> Codes {
    let codes = Codes {
        flow_id: Uuid::now_v7(),
        init: digest(1),
        return_to: digest(2),
    };
    store
        .create_token_exchange(
            nid,
            &NewTokenExchange {
                id: Uuid::now_v7(),
                flow_id: codes.flow_id,
                init_code_digest: &codes.init,
                return_to_code_digest: &codes.return_to,
                created_at: now(),
                expires_at,
            },
        )
        .await
        .expect("exchanger stored");
    codes
}

/// An exchanger is pending until a session is attached, is found only by both digests in
/// its tenant, hands its session out once, takes one session only, and is one per flow.
pub async fn token_exchange_store_hands_the_session_out_once(store: Arc<dyn Persister>) {
    let (nid, other_nid) = (Uuid::new_v4(), Uuid::new_v4());
    let t = now();
    let until = t + Duration::minutes(10);
    let c = create(&store, nid, until).await;
    let lookup = |nid, init: [u8; 64], ret: [u8; 64]| {
        let store = store.clone();
        async move { store.exchange_session_token(nid, &init, &ret, t).await }
    };
    assert_eq!(
        lookup(nid, c.init, c.return_to).await.unwrap(),
        Some(TokenExchangeLookup::Pending { flow_id: c.flow_id })
    );
    // Still pending: a lookup without a session changes nothing.
    assert_eq!(
        lookup(nid, c.init, c.return_to).await.unwrap(),
        Some(TokenExchangeLookup::Pending { flow_id: c.flow_id })
    );
    // One digest wrong, swapped, or another tenant: nothing.
    assert_eq!(lookup(nid, c.init, digest(3)).await.unwrap(), None);
    assert_eq!(lookup(nid, digest(3), c.return_to).await.unwrap(), None);
    assert_eq!(lookup(nid, c.return_to, c.init).await.unwrap(), None);
    assert_eq!(lookup(other_nid, c.init, c.return_to).await.unwrap(), None);

    // A second exchanger for the flow is a conflict.
    let again = store
        .create_token_exchange(
            nid,
            &NewTokenExchange {
                id: Uuid::now_v7(),
                flow_id: c.flow_id,
                init_code_digest: &digest(4),
                return_to_code_digest: &digest(5),
                created_at: t,
                expires_at: until,
            },
        )
        .await
        .expect_err("one exchanger per flow");
    assert_eq!(again.kind(), StoreErrorKind::Conflict);

    let (session, stranger) = (Uuid::now_v7(), Uuid::now_v7());
    // Not in another tenant, not for an unknown flow.
    for (n, flow) in [(other_nid, c.flow_id), (nid, Uuid::now_v7())] {
        let err = store
            .attach_token_exchange_session(n, flow, session, b"sealed", t)
            .await
            .expect_err("no such exchanger");
        assert_eq!(err.kind(), StoreErrorKind::NotFound);
    }
    store
        .attach_token_exchange_session(nid, c.flow_id, session, b"sealed-1", t)
        .await
        .expect("attached");
    // The same session again replaces the sealed token; another session is refused.
    store
        .attach_token_exchange_session(nid, c.flow_id, session, b"sealed-2", t)
        .await
        .expect("attached again");
    let err = store
        .attach_token_exchange_session(nid, c.flow_id, stranger, b"sealed-3", t)
        .await
        .expect_err("bound to its session");
    assert_eq!(err.kind(), StoreErrorKind::NotFound);

    assert_eq!(lookup(other_nid, c.init, c.return_to).await.unwrap(), None);
    assert_eq!(
        lookup(nid, c.init, c.return_to).await.unwrap(),
        Some(TokenExchangeLookup::Exchanged {
            session_id: session,
            sealed_session_token: b"sealed-2".to_vec(),
        })
    );
    assert_eq!(lookup(nid, c.init, c.return_to).await.unwrap(), None);
    // Gone: nothing to attach to any more.
    let err = store
        .attach_token_exchange_session(nid, c.flow_id, session, b"sealed", t)
        .await
        .expect_err("consumed");
    assert_eq!(err.kind(), StoreErrorKind::NotFound);
}

/// An expired exchanger takes no session and hands none out; a move gives it the new
/// flow's id and expiry.
pub async fn token_exchange_store_expiry_and_moves(store: Arc<dyn Persister>) {
    let nid = Uuid::new_v4();
    let t = now();
    let c = create(&store, nid, t + Duration::minutes(1)).await;
    let later = t + Duration::minutes(2);
    let session = Uuid::now_v7();
    let err = store
        .attach_token_exchange_session(nid, c.flow_id, session, b"sealed", later)
        .await
        .expect_err("expired");
    assert_eq!(err.kind(), StoreErrorKind::NotFound);
    store
        .attach_token_exchange_session(nid, c.flow_id, session, b"sealed", t)
        .await
        .expect("attached while live");
    assert_eq!(
        store
            .exchange_session_token(nid, &c.init, &c.return_to, later)
            .await
            .unwrap(),
        None,
        "an expired exchanger hands nothing out"
    );

    // Moved to another flow, with that flow's (later) expiry.
    let to = Uuid::now_v7();
    store
        .move_token_exchange(nid, c.flow_id, to, t + Duration::minutes(10))
        .await
        .expect("moved");
    let err = store
        .attach_token_exchange_session(nid, c.flow_id, session, b"x", t)
        .await
        .expect_err("the old flow has none");
    assert_eq!(err.kind(), StoreErrorKind::NotFound);
    store
        .attach_token_exchange_session(nid, to, session, b"sealed-after-move", later)
        .await
        .expect("live again under the new flow");
    assert_eq!(
        store
            .exchange_session_token(nid, &c.init, &c.return_to, later)
            .await
            .unwrap(),
        Some(TokenExchangeLookup::Exchanged {
            session_id: session,
            sealed_session_token: b"sealed-after-move".to_vec(),
        })
    );

    // Moving what is not there, or onto a flow that has one.
    let err = store
        .move_token_exchange(nid, Uuid::now_v7(), Uuid::now_v7(), later)
        .await
        .expect_err("nothing to move");
    assert_eq!(err.kind(), StoreErrorKind::NotFound);
    let a = create(&store, nid, later).await;
    let b = create(&store, nid, later).await;
    let err = store
        .move_token_exchange(nid, a.flow_id, b.flow_id, later)
        .await
        .expect_err("the target has one");
    assert_eq!(err.kind(), StoreErrorKind::Conflict);
    store
        .move_token_exchange(nid, a.flow_id, a.flow_id, later)
        .await
        .expect("moving onto itself keeps it");
}

/// Sixteen exchanges of one pair of codes at once: exactly one gets the session.
pub async fn token_exchange_concurrent_exchanges_one_wins(store: Arc<dyn Persister>) {
    let nid = Uuid::new_v4();
    let t = now();
    let c = create(&store, nid, t + Duration::minutes(10)).await;
    let session = Uuid::now_v7();
    store
        .attach_token_exchange_session(nid, c.flow_id, session, b"sealed", t)
        .await
        .unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            let (init, ret) = (c.init, c.return_to);
            tokio::spawn(async move { store.exchange_session_token(nid, &init, &ret, t).await })
        })
        .collect();
    let mut handed_out = 0;
    for task in tasks {
        match task.await.expect("task").expect("exchange answers") {
            Some(TokenExchangeLookup::Exchanged { session_id, .. }) => {
                assert_eq!(session_id, session);
                handed_out += 1;
            }
            Some(TokenExchangeLookup::Pending { .. }) => panic!("a session is attached"),
            None => {}
        }
    }
    assert_eq!(handed_out, 1, "exactly one of 16 concurrent exchanges wins");
}

/// The cleanup deletes expired exchangers (in batches, this tenant's only) and keeps live
/// ones; `Cleanup::run` counts them.
pub async fn token_exchange_cleanup_deletes_expired_exchangers(store: Arc<dyn Persister>) {
    let t = now();
    let clock = Arc::new(crate::ManualClock::new(t));
    let k = kratos_with(store.clone(), "", clock);
    let other = kratos(store.clone());
    for _ in 0..3 {
        create(&store, k.nid(), t - Duration::hours(2)).await;
    }
    let live = create(&store, k.nid(), t + Duration::hours(1)).await;
    let stranger = create(&store, other.nid(), t - Duration::hours(2)).await;
    let cutoff = t - Duration::hours(1);
    assert_eq!(
        store
            .delete_expired_token_exchanges(k.nid(), cutoff, 0)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .delete_expired_token_exchanges(k.nid(), cutoff, 2)
            .await
            .unwrap(),
        2
    );
    let report = k
        .cleanup()
        .run(&crate::cleanup::CleanupOptions {
            older_than: std::time::Duration::from_secs(3600),
            sleep_between_tables: std::time::Duration::ZERO,
            ..crate::cleanup::CleanupOptions::from_config(k.config())
        })
        .await
        .unwrap();
    assert_eq!(report.session_token_exchanges, 1);
    assert_eq!(
        store
            .exchange_session_token(k.nid(), &live.init, &live.return_to, t)
            .await
            .unwrap(),
        Some(TokenExchangeLookup::Pending {
            flow_id: live.flow_id
        }),
        "a live exchanger stays"
    );
    // The other tenant's expired one is still there.
    store
        .move_token_exchange(other.nid(), stranger.flow_id, stranger.flow_id, t)
        .await
        .expect("the other tenant's row stays");
}

fn password() -> AuthenticationMethod {
    AuthenticationMethod::first_factor("password", now())
}

/// The query of `?return_to=…` for a flow's request URL.
fn request_to(path: &str) -> FlowContext {
    FlowContext {
        request_url: Some(format!(
            "https://kratos.example.com{path}?return_to=https://app.example.com/welcome"
        )),
        ..FlowContext::default()
    }
}

/// The `code` of a redirect URL.
fn code_of(url: &str) -> String {
    url::Url::parse(url)
        .expect("a URL")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("the URL carries the code")
}

/// An api registration and an api login opened with `return_session_token_exchange_code`
/// show the init code once, complete with the redirect carrying the return-to code, and the
/// two codes trade for the session and its token once. Browser flows and flows without the
/// option open nothing; a pending exchange answers its flow.
pub async fn flow_session_token_exchange_for_api_flows(store: Arc<dyn Persister>) {
    let k = flow_kratos(store);
    let ex = k.session_token_exchanges();
    let on = RegistrationOptions {
        return_session_token_exchange_code: true,
    };
    let ctx = request_to("/self-service/registration/api");
    let flow = k
        .registration()
        .create_with(FlowType::Api, &ctx, on)
        .await
        .unwrap();
    let init = flow
        .session_token_exchange_code
        .clone()
        .expect("the created flow shows the init code");
    let shown = serde_json::to_value(&flow).unwrap();
    assert_eq!(shown["session_token_exchange_code"], init.expose());
    assert_eq!(init.expose().len(), 64);
    // Never again: not when fetched, not in the stored document.
    let fetched = k.registration().get(flow.id, &ctx).await.unwrap();
    assert!(fetched.session_token_exchange_code.is_none());
    let stored = k
        .store()
        .get_flow(k.nid(), FlowKind::Registration, flow.id)
        .await
        .unwrap();
    assert!(!stored.document.as_str().contains(init.expose()));

    // Before the flow completes: the exchange answers the flow (a guessed return code
    // answers nothing).
    assert!(matches!(
        ex.exchange(init.expose(), "guess").await.unwrap(),
        TokenExchangeOutcome::NotFound
    ));

    let mail = email();
    let RegistrationSubmission::Completed(done) = k
        .registration()
        .submit(
            flow.id,
            &json!({"method": "password", "traits": {"email": mail}, "password": "long enough pw"}),
            &ctx,
        )
        .await
        .unwrap()
    else {
        panic!("registered")
    };
    let redirect = done
        .token_exchange_redirect
        .clone()
        .expect("the completion redirects with the code");
    assert!(redirect.starts_with("https://app.example.com/welcome?code="));
    let return_code = code_of(&redirect);
    assert_eq!(return_code.len(), 64);
    assert!(!stored.document.as_str().contains(&return_code));
    assert!(matches!(
        ex.exchange("", &return_code).await.unwrap(),
        TokenExchangeOutcome::NotFound
    ));
    assert!(matches!(
        ex.exchange(init.expose(), &format!("{return_code}x"))
            .await
            .unwrap(),
        TokenExchangeOutcome::NotFound
    ));
    let TokenExchangeOutcome::Exchanged {
        session,
        session_token,
    } = ex.exchange(init.expose(), &return_code).await.unwrap()
    else {
        panic!("the codes trade for the session")
    };
    let issued = done.session.expect("the session hook issues one");
    assert_eq!(session.id, issued.id);
    assert_eq!(session_token, done.session_token.expect("and its token"));
    assert!(session.identity.is_some(), "the session shows its identity");
    assert_eq!(
        k.sessions()
            .whoami(session_token.expose())
            .await
            .unwrap()
            .id,
        issued.id
    );
    assert!(matches!(
        ex.exchange(init.expose(), &return_code).await.unwrap(),
        TokenExchangeOutcome::NotFound
    ));

    // Login: pending until it completes, then the same trade; without return_to the
    // redirect goes to the default return URL.
    let options = LoginOptions {
        return_session_token_exchange_code: true,
        ..LoginOptions::default()
    };
    let plain = FlowContext::default();
    let flow = k
        .login()
        .create(FlowType::Api, &plain, options)
        .await
        .unwrap();
    let init = flow.session_token_exchange_code.clone().expect("init code");
    let LoginSubmission::Completed(done) = k
        .login()
        .submit(
            flow.id,
            &json!({"method": "password", "identifier": mail, "password": "long enough pw"}),
            &plain,
        )
        .await
        .unwrap()
    else {
        panic!("signed in")
    };
    let redirect = done
        .token_exchange_redirect
        .expect("redirect with the code");
    assert!(redirect.starts_with("https://app.example.com/?code="));
    let TokenExchangeOutcome::Exchanged { session, .. } = ex
        .exchange(init.expose(), &code_of(&redirect))
        .await
        .unwrap()
    else {
        panic!("the codes trade for the session")
    };
    assert_eq!(session.id, done.session.id);

    // Browser flows and api flows without the option open nothing.
    let browser = k
        .login()
        .create(FlowType::Browser, &plain, options)
        .await
        .unwrap();
    assert!(browser.session_token_exchange_code.is_none());
    let without = k
        .registration()
        .create(FlowType::Api, &plain)
        .await
        .unwrap();
    assert!(without.session_token_exchange_code.is_none());
    assert!(
        serde_json::to_value(&without)
            .unwrap()
            .get("session_token_exchange_code")
            .is_none()
    );
}

/// An exchange whose flow has not completed answers the flow; the flow's exchanger can be
/// completed through [`crate::flow::token_exchange::SessionTokenExchanges::attach`] directly
/// (as a method completing outside the engines does), once per session.
pub async fn flow_session_token_exchange_pending_and_attached_directly(store: Arc<dyn Persister>) {
    let k = flow_kratos(store);
    let ex = k.session_token_exchanges();
    let flow = k
        .login()
        .create(
            FlowType::Api,
            &FlowContext::default(),
            LoginOptions {
                return_session_token_exchange_code: true,
                ..LoginOptions::default()
            },
        )
        .await
        .unwrap();
    let init = flow.session_token_exchange_code.clone().expect("init code");
    // The return code is only known to the completion: read it as it would.
    let identity = k.identities().create(super::body(&email())).await.unwrap();
    let issued = k
        .sessions()
        .issue(&identity, vec![password()], &ClientInfo::default())
        .await
        .unwrap();
    let redirect = ex
        .attach(
            flow.id,
            &flow.internal,
            issued.session.id,
            &issued.token,
            Some("https://app.example.com/welcome?code=old&x=1"),
        )
        .await
        .unwrap()
        .expect("the flow has an exchanger");
    assert!(redirect.starts_with("https://app.example.com/welcome?x=1&code="));
    let code = code_of(&redirect);
    // Attaching the same session again answers the same code; another session is refused
    // quietly (no code).
    let again = ex
        .attach(
            flow.id,
            &flow.internal,
            issued.session.id,
            &issued.token,
            None,
        )
        .await
        .unwrap()
        .expect("same session");
    assert_eq!(code_of(&again), code);
    let other = k
        .sessions()
        .issue(&identity, vec![password()], &ClientInfo::default())
        .await
        .unwrap();
    assert!(
        ex.attach(
            flow.id,
            &flow.internal,
            other.session.id,
            &other.token,
            None
        )
        .await
        .unwrap()
        .is_none()
    );
    let TokenExchangeOutcome::Exchanged { session_token, .. } =
        ex.exchange(init.expose(), &code).await.unwrap()
    else {
        panic!("exchanged")
    };
    assert_eq!(session_token, issued.token);

    // A flow that has not completed: its exchange answers the flow, as stored.
    let pending = k
        .registration()
        .create_with(
            FlowType::Api,
            &FlowContext::default(),
            RegistrationOptions {
                return_session_token_exchange_code: true,
            },
        )
        .await
        .unwrap();
    let init = pending.session_token_exchange_code.clone().expect("code");
    // A flow that ends without a session sends the code all the same (as an OIDC error
    // does), attaching nothing.
    let redirect = ex
        .redirect_without_session(&pending.internal, None)
        .unwrap()
        .expect("the flow has an exchanger");
    assert!(redirect.starts_with("https://app.example.com/?code="));
    let code = code_of(&redirect);
    assert!(
        ex.redirect_without_session(&without_exchanger(&k).await, None)
            .unwrap()
            .is_none()
    );
    let TokenExchangeOutcome::Pending(PendingFlow::Registration(shown)) =
        ex.exchange(init.expose(), &code).await.unwrap()
    else {
        panic!("pending")
    };
    assert_eq!(shown.id, pending.id);
    assert!(shown.session_token_exchange_code.is_none());
}

/// The internal context of an api registration flow opened without an exchange.
async fn without_exchanger(k: &crate::Kratos) -> crate::strategy::InternalContext {
    k.registration()
        .create(FlowType::Api, &FlowContext::default())
        .await
        .unwrap()
        .internal
}
