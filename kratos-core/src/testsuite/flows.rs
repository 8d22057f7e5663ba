//! Conformance of the login and registration flows with passwords: CSRF, expiry, refresh and aal rules, lockout, logout.

#[allow(unused_imports)]
use super::*;

pub(crate) const SESSION_HOOK: &str = "selfservice:\n  allowed_return_urls: [\"https://app.example.com/welcome\"]\n  default_browser_return_url: https://app.example.com/\n  flows:\n    registration:\n      after:\n        password:\n          hooks: [{hook: session}]\n";

/// A registry for the flow tests: [`kratos`] with the `session` hook after a password
/// registration and the return URLs the browser-flow tests use.
pub fn flow_kratos(store: Arc<dyn Persister>) -> Kratos {
    kratos_with(store, SESSION_HOOK, Arc::new(crate::SystemClock))
}

pub(crate) fn messages(ui: &crate::flow::ui::UiContainer) -> Vec<u32> {
    ui.messages
        .iter()
        .chain(ui.nodes.iter().flat_map(|n| n.messages.iter()))
        .map(|m| m.id)
        .collect()
}

/// Registers `mail` with `password` through an api registration flow.
pub async fn register(k: &Kratos, mail: &str, password: &str) -> RegistrationSubmission {
    let ctx = FlowContext::default();
    let flow = k.registration().create(FlowType::Api, &ctx).await.unwrap();
    k.registration()
        .submit(
            flow.id,
            &json!({"method": "password", "traits": {"email": mail}, "password": password}),
            &ctx,
        )
        .await
        .unwrap()
}

pub(super) async fn login(k: &Kratos, identifier: &str, password: &str) -> LoginSubmission {
    try_login(k, identifier, password).await.unwrap()
}

/// Signs in with `identifier` and `password` through a new api login flow, and answers what
/// the submission answers.
pub async fn try_login(
    k: &Kratos,
    identifier: &str,
    password: &str,
) -> Result<LoginSubmission, FlowError> {
    let ctx = FlowContext::default();
    let flow = k
        .login()
        .create(FlowType::Api, &ctx, LoginOptions::default())
        .await
        .unwrap();
    k.login()
        .submit(
            flow.id,
            &json!({"method": "password", "identifier": identifier, "password": password}),
            &ctx,
        )
        .await
}

pub async fn flow_register_and_login_with_password(store: Arc<dyn Persister>) {
    let k = flow_kratos(store);
    let ctx = FlowContext::default();
    let flow = k.registration().create(FlowType::Api, &ctx).await.unwrap();
    assert_eq!(flow.state, FlowState::ChooseMethod);
    assert!(
        flow.ui.node("csrf_token").is_none(),
        "api flows carry no CSRF token"
    );
    assert!(flow.ui.node("traits.email").is_some() && flow.ui.node("password").is_some());
    assert!(
        flow.ui
            .action
            .ends_with(&format!("/self-service/registration?flow={}", flow.id))
    );
    let again = k.registration().get(flow.id, &ctx).await.unwrap();
    assert_eq!(again, flow, "flows are persisted and fetched by id");

    let mail = email();
    let short = k
        .registration()
        .submit(
            flow.id,
            &json!({"method": "password", "traits": {"email": mail}, "password": "short"}),
            &ctx,
        )
        .await
        .unwrap();
    let RegistrationSubmission::Retry(retry) = short else {
        panic!("short password accepted")
    };
    assert_eq!(messages(&retry.ui), vec![4000032]);
    assert_eq!(
        retry.ui.node("password").unwrap().messages[0].context,
        Some(json!({"min_length": 8, "actual_length": 5}))
    );
    let missing = k
        .registration()
        .submit(
            flow.id,
            &json!({"method": "password", "traits": {}, "password": "long enough pw"}),
            &ctx,
        )
        .await
        .unwrap();
    let RegistrationSubmission::Retry(retry) = missing else {
        panic!("missing email accepted")
    };
    assert_eq!(
        retry.ui.node("traits.email").unwrap().messages[0].id,
        4000002
    );

    let done = k
        .registration()
        .submit(
            flow.id,
            &json!({"method": "password", "traits": {"email": mail}, "password": "long enough pw"}),
            &ctx,
        )
        .await
        .unwrap();
    let RegistrationSubmission::Completed(done) = done else {
        panic!("registration failed")
    };
    assert_eq!(done.flow.state, FlowState::PassedChallenge);
    let token = done
        .session_token
        .expect("the session hook issues a session");
    assert!(
        matches!(&done.continue_with[0], ContinueWith::SetOrySessionToken { ory_session_token } if ory_session_token == token.expose())
    );
    assert_eq!(
        k.sessions()
            .whoami(token.expose())
            .await
            .unwrap()
            .identity
            .unwrap()
            .id,
        done.identity.id
    );
    assert!(matches!(
        k.registration()
            .submit(flow.id, &json!({"method": "password"}), &ctx)
            .await,
        Err(FlowError::AlreadyCompleted)
    ));

    let RegistrationSubmission::Retry(dup) =
        register(&k, &mail.to_uppercase(), "another long pw").await
    else {
        panic!("duplicate registration accepted")
    };
    assert_eq!(messages(&dup.ui), vec![4000007]);

    let LoginSubmission::Retry(wrong) = login(&k, &mail, "wrong password!").await else {
        panic!("wrong password accepted")
    };
    assert_eq!(messages(&wrong.ui), vec![4000006]);
    let LoginSubmission::Retry(unknown) = login(&k, "nobody@example.com", "long enough pw").await
    else {
        panic!()
    };
    assert_eq!(
        messages(&unknown.ui),
        vec![4000006],
        "unknown accounts answer like wrong passwords"
    );
    let LoginSubmission::Retry(empty) = login(&k, "", "").await else {
        panic!()
    };
    assert_eq!(messages(&empty.ui), vec![4000002, 4000002]);
    let LoginSubmission::Completed(ok) = login(
        &k,
        &format!("  {}  ", mail.to_uppercase()),
        "long enough pw",
    )
    .await
    else {
        panic!("login failed")
    };
    let who = k
        .sessions()
        .whoami(ok.session_token.as_ref().unwrap().expose())
        .await
        .unwrap();
    assert_eq!(who.identity.unwrap().id, done.identity.id);
    assert_eq!(who.authentication_methods[0].method, "password");
    let json = serde_json::to_value(&ok.flow).unwrap();
    for key in [
        "id",
        "type",
        "expires_at",
        "issued_at",
        "request_url",
        "ui",
        "state",
        "refresh",
        "requested_aal",
    ] {
        assert!(json.get(key).is_some(), "login flow JSON has {key}");
    }
    assert_eq!(json["ui"]["nodes"][0]["attributes"]["node_type"], "input");
}

pub async fn flow_browser_csrf_and_return_to(store: Arc<dyn Persister>) {
    let k = flow_kratos(store);
    let mail = email();
    assert!(matches!(
        register(&k, &mail, "long enough pw").await,
        RegistrationSubmission::Completed(_)
    ));
    let ctx = FlowContext { request_url: Some("https://auth.example.com/self-service/login/browser?return_to=https://app.example.com/welcome/back".into()), ..Default::default() };
    let flow = k
        .login()
        .create(FlowType::Browser, &ctx, LoginOptions::default())
        .await
        .unwrap();
    assert_eq!(
        flow.return_to.as_deref(),
        Some("https://app.example.com/welcome/back")
    );
    let csrf = flow
        .ui
        .node("csrf_token")
        .expect("browser flows carry a CSRF node");
    let crate::flow::ui::NodeAttributes::Input(attrs) = &csrf.attributes else {
        panic!()
    };
    let token = attrs.value.clone().unwrap();
    let body = |csrf: Value| json!({"method": "password", "identifier": mail, "password": "long enough pw", "csrf_token": csrf});
    for bad in [Value::Null, json!("forged"), json!("")] {
        let err = k
            .login()
            .submit(flow.id, &body(bad), &ctx)
            .await
            .unwrap_err();
        assert!(matches!(err, FlowError::CsrfViolation));
        assert_eq!((err.id(), err.status()), ("security_csrf_violation", 403));
    }
    let LoginSubmission::Completed(ok) =
        k.login().submit(flow.id, &body(token), &ctx).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(
        ok.continue_with,
        vec![ContinueWith::RedirectBrowserTo {
            redirect_browser_to: "https://app.example.com/welcome/back".into()
        }]
    );
    for forbidden in [
        "https://evil.example.net/",
        "http://app.example.com/welcome",
        "https://app.example.com.evil.com/",
        "//evil.com/welcome",
    ] {
        let ctx = FlowContext {
            request_url: Some(format!(
                "https://auth.example.com/self-service/login/browser?return_to={forbidden}"
            )),
            ..Default::default()
        };
        let err = k
            .login()
            .create(FlowType::Browser, &ctx, LoginOptions::default())
            .await
            .unwrap_err();
        assert_eq!(
            err.id(),
            "self_service_flow_return_to_forbidden",
            "{forbidden}"
        );
        let err = k
            .registration()
            .create(FlowType::Browser, &ctx)
            .await
            .unwrap_err();
        assert_eq!(err.id(), "self_service_flow_return_to_forbidden");
    }
    let plain = k
        .login()
        .create(
            FlowType::Browser,
            &FlowContext::default(),
            LoginOptions::default(),
        )
        .await
        .unwrap();
    assert!(matches!(
        k.login().get(Uuid::now_v7(), &FlowContext::default()).await,
        Err(FlowError::NotFound)
    ));
    assert!(
        matches!(
            k.registration()
                .get(plain.id, &FlowContext::default())
                .await,
            Err(FlowError::NotFound)
        ),
        "a login flow is not a registration flow"
    );
}

pub async fn flow_expiry_gives_a_fresh_flow(store: Arc<dyn Persister>) {
    let clock = crate::ManualClock::new(chrono::Utc::now());
    let k = kratos_with(store, SESSION_HOOK, Arc::new(clock.clone()));
    let ctx = FlowContext::default();
    let flow = k
        .login()
        .create(FlowType::Api, &ctx, LoginOptions::default())
        .await
        .unwrap();
    assert_eq!(
        flow.expires_at - flow.issued_at,
        chrono::Duration::hours(1),
        "lifespan 1h"
    );
    clock.advance(chrono::Duration::minutes(61));
    let err = k
        .login()
        .submit(
            flow.id,
            &json!({"method": "password", "identifier": "a", "password": "b"}),
            &ctx,
        )
        .await
        .unwrap_err();
    let FlowError::Expired { use_flow_id, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!((err.id(), err.status()), ("self_service_flow_expired", 410));
    assert_eq!(
        err.to_body().error.details["use_flow_id"],
        json!(use_flow_id)
    );
    k.login()
        .get(*use_flow_id, &ctx)
        .await
        .expect("the fresh flow is usable");
    assert!(matches!(
        k.login().get(flow.id, &ctx).await,
        Err(FlowError::Expired { .. })
    ));
    let reg = k.registration().create(FlowType::Api, &ctx).await.unwrap();
    clock.advance(chrono::Duration::hours(2));
    assert!(matches!(
        k.registration()
            .submit(reg.id, &json!({"method": "password"}), &ctx)
            .await,
        Err(FlowError::Expired { .. })
    ));
}

pub async fn flow_session_rules_refresh_and_aal(store: Arc<dyn Persister>) {
    let k = flow_kratos(store);
    let mail = email();
    let RegistrationSubmission::Completed(reg) = register(&k, &mail, "long enough pw").await else {
        panic!()
    };
    let token = reg.session_token.unwrap();
    let with_session = FlowContext {
        session_token: Some(token.expose().to_owned()),
        ..Default::default()
    };
    let err = k
        .login()
        .create(FlowType::Api, &with_session, LoginOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.id(), "session_already_available");
    assert_eq!(
        k.registration()
            .create(FlowType::Api, &with_session)
            .await
            .unwrap_err()
            .id(),
        "session_already_available"
    );
    let err = k
        .login()
        .create(
            FlowType::Api,
            &FlowContext::default(),
            LoginOptions {
                aal: Some(Aal::Aal2),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.id(), "session_aal1_required");
    // aal2 with an aal1 session is a step-up flow.
    let step_up = k
        .login()
        .create(
            FlowType::Api,
            &with_session,
            LoginOptions {
                aal: Some(Aal::Aal2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(step_up.requested_aal, Aal::Aal2);

    let refresh = k
        .login()
        .create(
            FlowType::Api,
            &with_session,
            LoginOptions {
                refresh: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(refresh.refresh);
    assert_eq!(refresh.ui.messages[0].id, 1010003);
    let LoginSubmission::Completed(ok) = k
        .login()
        .submit(
            refresh.id,
            &json!({"method": "password", "identifier": mail, "password": "long enough pw"}),
            &with_session,
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        ok.session.id,
        reg.session.unwrap().id,
        "refresh re-authenticates the same session"
    );
    assert_eq!(ok.session.authentication_methods.len(), 2);
}

pub async fn flow_inactive_identity_and_hash_upgrade(store: Arc<dyn Persister>) {
    let k = flow_kratos(store);
    let mail = email();
    let argon = kratos_hash::Hasher::new(kratos_hash::HashAlgorithm::Argon2id(
        kratos_hash::Argon2Params {
            memory_kib: 64,
            iterations: 1,
            ..Default::default()
        },
    ))
    .unwrap()
    .hash(b"imported password")
    .unwrap();
    let identity = k
        .identities()
        .create(CreateIdentityBody {
            credentials: Some(ImportCredentials {
                password: Some(ImportPassword {
                    config: ImportPasswordConfig {
                        hashed_password: Some(argon),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }),
            ..body(&mail)
        })
        .await
        .unwrap();
    let LoginSubmission::Completed(_) = login(&k, &mail, "imported password").await else {
        panic!("import login")
    };
    let stored = k
        .identities()
        .get_with_credentials(identity.id, &[CredentialType::Password])
        .await
        .unwrap();
    assert!(
        stored
            .credential(CredentialType::Password)
            .unwrap()
            .hashed_password()
            .unwrap()
            .starts_with("$2"),
        "the imported hash is upgraded to the configured algorithm at login"
    );
    k.identities()
        .patch(
            identity.id,
            &json!([{"op": "replace", "path": "/state", "value": "inactive"}]),
        )
        .await
        .unwrap();
    let LoginSubmission::Retry(wrong) = login(&k, &mail, "not the password").await else {
        panic!()
    };
    assert_eq!(
        messages(&wrong.ui),
        vec![4000006],
        "a wrong password reveals nothing about the state"
    );
    let ctx = FlowContext::default();
    let flow = k
        .login()
        .create(FlowType::Api, &ctx, LoginOptions::default())
        .await
        .unwrap();
    let err = k
        .login()
        .submit(
            flow.id,
            &json!({"method": "password", "identifier": mail, "password": "imported password"}),
            &ctx,
        )
        .await
        .unwrap_err();
    assert_eq!(err.id(), "identity_disabled");
}

pub async fn flow_concurrent_registrations_one_identity(store: Arc<dyn Persister>) {
    let k = flow_kratos(store);
    let mail = email();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let k = k.clone();
            let mail = mail.clone();
            tokio::spawn(async move { register(&k, &mail, "long enough pw").await })
        })
        .collect();
    let mut completed = 0;
    for t in tasks {
        match t.await.unwrap() {
            RegistrationSubmission::Completed(_) => completed += 1,
            RegistrationSubmission::Retry(f) => assert_eq!(messages(&f.ui), vec![4000007]),
        }
    }
    assert_eq!(completed, 1, "exactly one identity");
    let page = k
        .identities()
        .list(ListIdentitiesParams {
            credentials_identifier: Some(mail),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.identities.len(), 1);
}

pub async fn flow_login_lockout_grows_and_resets(store: Arc<dyn Persister>) {
    let clock = crate::ManualClock::new(chrono::Utc::now());
    let config = format!(
        "{SESSION_HOOK}security:\n  login_lockout:\n    max_failures: 3\n    max_failures_per_address: 6\n    base_duration: 1m\n    max_duration: 10m\n"
    );
    let k = kratos_with(store.clone(), &config, Arc::new(clock.clone()));
    // A second app instance on the same store sees the same counters.
    let other_instance = kratos_with(store, &config, Arc::new(clock.clone())).tenant(k.nid());
    let mail = email();
    assert!(matches!(
        register(&k, &mail, "long enough pw").await,
        RegistrationSubmission::Completed(_)
    ));
    let attempt = |k: Kratos, identifier: String, password: &'static str, ip: &'static str| async move {
        let ctx = FlowContext {
            client: ClientInfo {
                ip_address: Some(ip.into()),
                user_agent: None,
            },
            ..Default::default()
        };
        let flow = k
            .login()
            .create(FlowType::Api, &ctx, LoginOptions::default())
            .await
            .unwrap();
        k.login()
            .submit(
                flow.id,
                &json!({"method": "password", "identifier": identifier, "password": password}),
                &ctx,
            )
            .await
    };
    for _ in 0..2 {
        assert!(matches!(
            attempt(k.clone(), mail.clone(), "wrong password", "198.51.100.1").await,
            Ok(LoginSubmission::Retry(_))
        ));
    }
    // The third failure, through the other instance, locks the identifier.
    assert!(matches!(
        attempt(
            other_instance.clone(),
            mail.clone(),
            "wrong password",
            "198.51.100.1"
        )
        .await,
        Ok(LoginSubmission::Retry(_))
    ));
    let err = attempt(k.clone(), mail.clone(), "long enough pw", "198.51.100.1")
        .await
        .unwrap_err();
    assert_eq!((err.id(), err.status()), ("self_service_login_locked", 429));
    let FlowError::LoginLocked { until } = err else {
        panic!()
    };
    assert_eq!(
        until,
        crate::clock::truncate_micros(clock.now()) + chrono::Duration::minutes(1)
    );
    clock.advance(chrono::Duration::seconds(61));
    // The next failure doubles the lock.
    assert!(matches!(
        attempt(k.clone(), mail.clone(), "wrong password", "198.51.100.1").await,
        Ok(LoginSubmission::Retry(_))
    ));
    let FlowError::LoginLocked { until } =
        attempt(k.clone(), mail.clone(), "long enough pw", "198.51.100.1")
            .await
            .unwrap_err()
    else {
        panic!()
    };
    assert_eq!(
        until,
        crate::clock::truncate_micros(clock.now()) + chrono::Duration::minutes(2)
    );
    clock.advance(chrono::Duration::minutes(3));
    assert!(matches!(
        attempt(k.clone(), mail.clone(), "long enough pw", "198.51.100.1").await,
        Ok(LoginSubmission::Completed(_))
    ));
    // Success reset the identifier: two failures do not lock it again.
    for _ in 0..2 {
        assert!(matches!(
            attempt(k.clone(), mail.clone(), "wrong password", "198.51.100.2").await,
            Ok(LoginSubmission::Retry(_))
        ));
    }
    assert!(matches!(
        attempt(k.clone(), mail.clone(), "long enough pw", "198.51.100.2").await,
        Ok(LoginSubmission::Completed(_))
    ));
    // Many identifiers from one address lock the address, not the others.
    for i in 0..6 {
        let _ = attempt(
            k.clone(),
            format!("nobody{i}@example.com"),
            "wrong password",
            "198.51.100.9",
        )
        .await
        .unwrap();
    }
    let err = attempt(k.clone(), mail.clone(), "long enough pw", "198.51.100.9")
        .await
        .unwrap_err();
    assert_eq!(err.id(), "self_service_login_locked");
    assert!(matches!(
        attempt(k.clone(), mail.clone(), "long enough pw", "198.51.100.3").await,
        Ok(LoginSubmission::Completed(_))
    ));
}

pub(super) async fn registered_token(k: &Kratos, mail: &str) -> String {
    match register(k, mail, "long enough pw").await {
        RegistrationSubmission::Completed(ok) => ok.session_token.unwrap().expose().to_owned(),
        RegistrationSubmission::Retry(f) => panic!("registration failed: {:?}", messages(&f.ui)),
    }
}

pub async fn flow_logout_browser_and_api(store: Arc<dyn Persister>) {
    let k = flow_kratos(store);
    let token = registered_token(&k, &email()).await;

    // No session: 401.
    let err = k
        .logout()
        .create_browser(&FlowContext::default())
        .await
        .unwrap_err();
    assert_eq!((err.id(), err.status()), ("session_inactive", 401));
    let err = k
        .logout()
        .create_browser(&FlowContext {
            session_token: Some("ory_st_unknown".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, FlowError::NoActiveSession));

    // The logout URL carries the token and the checked return_to; it is stable.
    let ctx = FlowContext {
        session_token: Some(token.clone()),
        request_url: Some(
            "https://auth.example.com/self-service/logout/browser?return_to=https://app.example.com/welcome/bye"
                .into(),
        ),
        ..Default::default()
    };
    let flow = k.logout().create_browser(&ctx).await.unwrap();
    assert!(flow.logout_token.starts_with("ory_lo_"));
    assert_ne!(flow.logout_token, token);
    let url = url::Url::parse(&flow.logout_url).unwrap();
    assert_eq!(url.path(), "/self-service/logout");
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["token"], flow.logout_token);
    assert_eq!(q["return_to"], "https://app.example.com/welcome/bye");
    assert_eq!(k.logout().create_browser(&ctx).await.unwrap(), flow);
    assert!(!format!("{flow:?}").contains(&flow.logout_token[7..]));
    let forbidden = FlowContext {
        request_url: Some("https://auth.example.com/x?return_to=https://evil.com/".into()),
        ..ctx.clone()
    };
    assert!(matches!(
        k.logout().create_browser(&forbidden).await.unwrap_err(),
        FlowError::ReturnToForbidden(_)
    ));

    // Completing it: a forbidden return_to revokes nothing; a wrong token is 403.
    assert!(matches!(
        k.logout()
            .submit_browser(&flow.logout_token, Some("https://evil.com/"))
            .await
            .unwrap_err(),
        FlowError::ReturnToForbidden(_)
    ));
    k.sessions().whoami(&token).await.unwrap();
    let err = k
        .logout()
        .submit_browser("ory_lo_forged", None)
        .await
        .unwrap_err();
    assert_eq!((err.id(), err.status()), ("forbidden", 403));
    k.sessions().whoami(&token).await.unwrap();
    let to = k
        .logout()
        .submit_browser(&flow.logout_token, Some(&q["return_to"]))
        .await
        .unwrap();
    assert_eq!(to, "https://app.example.com/welcome/bye");
    assert!(k.sessions().whoami(&token).await.is_err());
    assert!(matches!(
        k.logout()
            .submit_browser(&flow.logout_token, None)
            .await
            .unwrap_err(),
        FlowError::LogoutTokenInvalid
    ));

    // Without return_to the browser goes to the default return URL.
    let token = registered_token(&k, &email()).await;
    let lo = crate::session::LogoutToken::derive(&crate::session::SessionToken::from_string(
        token.as_str(),
    ));
    assert_eq!(
        k.logout().submit_browser(lo.expose(), None).await.unwrap(),
        "https://app.example.com/"
    );

    // Api logout: idempotent for a revoked session, 403 for an unknown token.
    let token = registered_token(&k, &email()).await;
    k.logout().api(&token).await.unwrap();
    assert!(k.sessions().whoami(&token).await.is_err());
    k.logout().api(&token).await.unwrap();
    let err = k.logout().api("ory_st_unknown").await.unwrap_err();
    assert_eq!((err.id(), err.status()), ("forbidden", 403));
}
