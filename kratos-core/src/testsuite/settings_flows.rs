//! Conformance of the settings flow and of concurrent and locked-out logins.

#[allow(unused_imports)]
use super::*;
pub(super) const SETTINGS_YAML: &str = "selfservice:\n  allowed_return_urls: [\"https://app.example.com/welcome\"]\n  default_browser_return_url: https://app.example.com/\n  flows:\n    registration:\n      after:\n        password:\n          hooks: [{hook: session}]\n    settings:\n      after:\n        password:\n          hooks: [{hook: revoke_active_sessions}]\n";

pub(super) fn settings_messages(flow: &crate::flow::settings::SettingsFlow) -> Vec<u32> {
    messages(&flow.ui)
}

pub(super) async fn settings_submit(
    k: &Kratos,
    token: &str,
    id: Uuid,
    body: Value,
) -> Result<crate::flow::settings::SettingsSubmission, FlowError> {
    let ctx = FlowContext {
        session_token: Some(token.to_owned()),
        ..Default::default()
    };
    k.settings().submit(id, &body, &ctx).await
}

pub async fn flow_settings_profile_and_password(store: Arc<dyn Persister>) {
    use crate::flow::settings::SettingsSubmission;
    let clock = Arc::new(crate::ManualClock::new(chrono::Utc::now()));
    let k = kratos_with(store, SETTINGS_YAML, clock.clone());
    let mail = email();
    let token = registered_token(&k, &mail).await;
    let ctx = FlowContext {
        session_token: Some(token.clone()),
        ..Default::default()
    };

    // Without a session: 401.
    let err = k
        .settings()
        .create(FlowType::Api, &FlowContext::default())
        .await
        .unwrap_err();
    assert_eq!((err.id(), err.status()), ("session_inactive", 401));

    let flow = k.settings().create(FlowType::Api, &ctx).await.unwrap();
    assert_eq!(flow.state, FlowState::ShowForm);
    assert_eq!(flow.identity.traits["email"], json!(mail));
    assert!(flow.identity.credentials.is_empty());
    let email_node = flow.ui.node("traits.email").expect("profile node");
    assert_eq!(email_node.group, crate::flow::ui::NodeGroup::Profile);
    let crate::flow::ui::NodeAttributes::Input(attrs) = &email_node.attributes else {
        panic!()
    };
    assert_eq!(attrs.value, Some(json!(mail)));
    assert!(flow.ui.node("password").is_some());
    assert!(
        flow.ui.node("csrf_token").is_none(),
        "api flows have no CSRF"
    );
    assert_eq!(k.settings().get(flow.id, &ctx).await.unwrap(), flow);

    // Password: the same as the old one, too short, then a good one.
    let SettingsSubmission::Retry(f) = settings_submit(
        &k,
        &token,
        flow.id,
        json!({"method": "password", "password": "long enough pw"}),
    )
    .await
    .unwrap() else {
        panic!("same password accepted")
    };
    assert_eq!(settings_messages(&f), vec![4000039]);
    let SettingsSubmission::Retry(f) = settings_submit(
        &k,
        &token,
        flow.id,
        json!({"method": "password", "password": "short"}),
    )
    .await
    .unwrap() else {
        panic!()
    };
    assert_eq!(settings_messages(&f), vec![4000032]);
    let SettingsSubmission::Retry(f) =
        settings_submit(&k, &token, flow.id, json!({"method": "nope"}))
            .await
            .unwrap()
    else {
        panic!()
    };
    assert_eq!(settings_messages(&f), vec![4010004]);
    // A second session of the same identity, to see revoke_active_sessions.
    let LoginSubmission::Completed(other) = login(&k, &mail, "long enough pw").await else {
        panic!()
    };
    let other_token = other.session_token.unwrap().expose().to_owned();
    let SettingsSubmission::Completed(done) = settings_submit(
        &k,
        &token,
        flow.id,
        json!({"method": "password", "password": "a brand new secret"}),
    )
    .await
    .unwrap() else {
        panic!()
    };
    assert_eq!(done.flow.state, FlowState::Success);
    assert_eq!(done.method, "password");
    assert_eq!(settings_messages(&done.flow), vec![1050001]);
    assert_eq!(
        k.settings().get(flow.id, &ctx).await.unwrap().state,
        FlowState::Success
    );
    assert!(matches!(
        login(&k, &mail, "long enough pw").await,
        LoginSubmission::Retry(_)
    ));
    assert!(matches!(
        login(&k, &mail, "a brand new secret").await,
        LoginSubmission::Completed(_)
    ));
    k.sessions()
        .whoami(&token)
        .await
        .expect("the current session stays");
    assert!(
        k.sessions().whoami(&other_token).await.is_err(),
        "revoke_active_sessions ended the other session"
    );

    // Profile: a non-identifier trait, then the email (an identifier), then invalid traits.
    let flow = k.settings().create(FlowType::Api, &ctx).await.unwrap();
    let SettingsSubmission::Completed(done) = settings_submit(
        &k,
        &token,
        flow.id,
        json!({"method": "profile", "traits": {"email": mail, "name": "Ada"}}),
    )
    .await
    .unwrap() else {
        panic!()
    };
    assert_eq!(done.flow.identity.traits["name"], json!("Ada"));
    let new_mail = email();
    let SettingsSubmission::Completed(done) = settings_submit(
        &k,
        &token,
        flow.id,
        json!({"method": "profile", "traits": {"email": new_mail, "name": "Ada"}}),
    )
    .await
    .unwrap() else {
        panic!()
    };
    assert_eq!(done.flow.identity.traits["email"], json!(new_mail));
    assert_eq!(
        done.flow.identity.verifiable_addresses[0].value,
        new_mail.to_lowercase()
    );
    assert!(matches!(
        login(&k, &new_mail, "a brand new secret").await,
        LoginSubmission::Completed(_)
    ));
    let SettingsSubmission::Retry(f) = settings_submit(
        &k,
        &token,
        flow.id,
        json!({"method": "profile", "traits": {"name": "no email"}}),
    )
    .await
    .unwrap() else {
        panic!()
    };
    assert_eq!(settings_messages(&f), vec![4000002]);
    // Taking another identity's email is a duplicate.
    let taken = email();
    registered_token(&k, &taken).await;
    let SettingsSubmission::Retry(f) = settings_submit(
        &k,
        &token,
        flow.id,
        json!({"method": "profile", "traits": {"email": taken}}),
    )
    .await
    .unwrap() else {
        panic!()
    };
    assert_eq!(settings_messages(&f), vec![4000007]);
    assert_eq!(
        k.sessions()
            .whoami(&token)
            .await
            .unwrap()
            .identity
            .unwrap()
            .traits["email"],
        json!(new_mail),
        "nothing was written"
    );

    // Two hours later the session is no longer privileged: credential changes need a
    // re-authentication, other profile fields do not.
    clock.advance(chrono::Duration::hours(2));
    let flow = k.settings().create(FlowType::Api, &ctx).await.unwrap();
    let err = settings_submit(
        &k,
        &token,
        flow.id,
        json!({"method": "password", "password": "yet another secret"}),
    )
    .await
    .unwrap_err();
    assert_eq!((err.id(), err.status()), ("session_refresh_required", 403));
    let FlowError::RefreshRequired {
        redirect_browser_to,
    } = &err
    else {
        panic!()
    };
    assert!(redirect_browser_to.contains("/self-service/login/browser?refresh=true&return_to="));
    assert!(redirect_browser_to.contains(&flow.id.to_string()));
    assert!(matches!(
        settings_submit(
            &k,
            &token,
            flow.id,
            json!({"method": "profile", "traits": {"email": email()}})
        )
        .await
        .unwrap_err(),
        FlowError::RefreshRequired { .. }
    ));
    assert!(matches!(
        settings_submit(
            &k,
            &token,
            flow.id,
            json!({"method": "profile", "traits": {"email": new_mail, "name": "Ada L."}})
        )
        .await
        .unwrap(),
        SettingsSubmission::Completed(_)
    ));
    // Re-authenticate with refresh=true, then the change goes through.
    let lf = k
        .login()
        .create(
            FlowType::Api,
            &ctx,
            LoginOptions {
                refresh: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let LoginSubmission::Completed(_) = k
        .login()
        .submit(lf.id, &json!({"method": "password", "identifier": new_mail, "password": "a brand new secret"}), &ctx)
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(matches!(
        settings_submit(
            &k,
            &token,
            flow.id,
            json!({"method": "password", "password": "yet another secret"})
        )
        .await
        .unwrap(),
        SettingsSubmission::Completed(_)
    ));

    // Another identity's session cannot use this flow.
    let stranger = registered_token(&k, &email()).await;
    let err = k
        .settings()
        .get(
            flow.id,
            &FlowContext {
                session_token: Some(stranger.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.id(), err.status()),
        ("security_identity_mismatch", 403)
    );
    assert!(matches!(
        settings_submit(
            &k,
            &stranger,
            flow.id,
            json!({"method": "profile", "traits": {"email": email()}})
        )
        .await
        .unwrap_err(),
        FlowError::IdentityMismatch
    ));

    // Expiry (1h): a fresh flow to continue with.
    clock.advance(chrono::Duration::minutes(61));
    let err = k.settings().get(flow.id, &ctx).await.unwrap_err();
    let FlowError::Expired { use_flow_id, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        k.settings().get(use_flow_id, &ctx).await.unwrap().state,
        FlowState::ShowForm
    );
}

pub async fn flow_settings_browser_csrf_and_return_to(store: Arc<dyn Persister>) {
    use crate::flow::settings::SettingsSubmission;
    let k = kratos_with(store, SETTINGS_YAML, Arc::new(crate::SystemClock));
    let token = registered_token(&k, &email()).await;
    let ctx = FlowContext {
        session_token: Some(token.clone()),
        request_url: Some(
            "https://auth.example.com/self-service/settings/browser?return_to=https://app.example.com/welcome/x"
                .into(),
        ),
        ..Default::default()
    };
    let flow = k.settings().create(FlowType::Browser, &ctx).await.unwrap();
    let crate::flow::ui::NodeAttributes::Input(csrf) =
        &flow.ui.node("csrf_token").unwrap().attributes
    else {
        panic!()
    };
    let csrf = csrf.value.clone().unwrap();
    let err = k
        .settings()
        .submit(
            flow.id,
            &json!({"method": "profile", "traits": {"email": email()}, "csrf_token": "forged"}),
            &ctx,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, FlowError::CsrfViolation));
    let SettingsSubmission::Completed(done) = k
        .settings()
        .submit(flow.id, &json!({"method": "profile", "traits": {"email": email(), "name": "B"}, "csrf_token": csrf}), &ctx)
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        done.continue_with,
        vec![ContinueWith::RedirectBrowserTo {
            redirect_browser_to: "https://app.example.com/welcome/x".into()
        }]
    );
    let bad = FlowContext {
        request_url: Some("https://auth.example.com/x?return_to=https://evil.com/".into()),
        ..ctx.clone()
    };
    assert!(matches!(
        k.settings()
            .create(FlowType::Browser, &bad)
            .await
            .unwrap_err(),
        FlowError::ReturnToForbidden(_)
    ));
}

pub async fn flow_login_requires_verified_address(store: Arc<dyn Persister>) {
    let yaml = "selfservice:\n  flows:\n    registration:\n      after:\n        password:\n          hooks: [{hook: session}]\n    login:\n      after:\n        hooks: [{hook: require_verified_address}]\n";
    let k = kratos_with(store, yaml, Arc::new(crate::SystemClock));
    let mail = email();
    let token = registered_token(&k, &mail).await;
    let LoginSubmission::Retry(f) = login(&k, &mail, "long enough pw").await else {
        panic!("login without a verified address")
    };
    assert_eq!(messages(&f.ui), vec![4000010]);
    let id = k.sessions().whoami(&token).await.unwrap().identity_id;
    k.identities()
        .patch(
            id,
            &json!([{"op": "replace", "path": "/verifiable_addresses/0/verified", "value": true},
                    {"op": "replace", "path": "/verifiable_addresses/0/status", "value": "completed"}]),
        )
        .await
        .unwrap();
    assert!(matches!(
        login(&k, &mail, "long enough pw").await,
        LoginSubmission::Completed(_)
    ));
}

pub async fn flow_concurrent_logins(store: Arc<dyn Persister>) {
    let config = format!(
        "{SESSION_HOOK}security:\n  login_lockout:\n    max_failures: 5\n    max_failures_per_address: 1000\n    base_duration: 1m\n"
    );
    let k = kratos_with(store.clone(), &config, Arc::new(crate::SystemClock));
    let mail = email();
    registered_token(&k, &mail).await;
    // Eight concurrent logins of one identity: eight distinct sessions. Attempts are counted
    // before their password is verified, so eight at once need a limit of eight or more.
    let roomy = kratos_with(
        store,
        &config.replace("max_failures: 5", "max_failures: 8"),
        Arc::new(crate::SystemClock),
    )
    .tenant(k.nid());
    let logins = (0..8).map(|_| {
        let (k, mail) = (roomy.clone(), mail.clone());
        async move { login(&k, &mail, "long enough pw").await }
    });
    let mut tokens = HashSet::new();
    for r in futures::future::join_all(logins).await {
        let LoginSubmission::Completed(ok) = r else {
            panic!("a concurrent login failed")
        };
        tokens.insert(ok.session_token.unwrap().expose().to_owned());
    }
    assert_eq!(tokens.len(), 8);
    let id = k
        .sessions()
        .whoami(tokens.iter().next().unwrap())
        .await
        .unwrap()
        .identity_id;
    assert_eq!(
        k.sessions()
            .list_for_identity(id, true)
            .await
            .unwrap()
            .len(),
        9
    );

    // Eight concurrent wrong passwords: every attempt is counted before its password is
    // verified, so exactly five are verified and three refused; the identifier locks.
    let wrong = (0..8).map(|_| {
        let (k, mail) = (k.clone(), mail.clone());
        async move {
            let ctx = FlowContext::default();
            let flow = k
                .login()
                .create(FlowType::Api, &ctx, LoginOptions::default())
                .await
                .unwrap();
            k.login()
                .submit(
                    flow.id,
                    &json!({"method": "password", "identifier": mail, "password": "wrong password"}),
                    &ctx,
                )
                .await
        }
    });
    let (mut refused, mut locked) = (0, 0);
    for r in futures::future::join_all(wrong).await {
        match r {
            Ok(LoginSubmission::Retry(_)) => refused += 1,
            Err(FlowError::LoginLocked { .. }) => locked += 1,
            other => panic!("unexpected answer to a wrong password: {other:?}"),
        }
    }
    assert_eq!((refused, locked), (5, 3), "five verified, three locked");
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
            &json!({"method": "password", "identifier": mail, "password": "long enough pw"}),
            &ctx,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, FlowError::LoginLocked { .. }), "{err:?}");
}

/// Twenty wrong passwords at once against a limit of five: each attempt is counted before its
/// password is verified, so five are verified (and answered as wrong) and fifteen refused as
/// locked without a hash; the right password is refused too while the lock holds.
pub async fn flow_login_burst_is_locked_before_the_hash(store: Arc<dyn Persister>) {
    let config = format!(
        "{SESSION_HOOK}security:\n  login_lockout:\n    max_failures: 5\n    max_failures_per_address: 1000\n    base_duration: 1m\n"
    );
    let k = kratos_with(store, &config, Arc::new(crate::SystemClock));
    let mail = email();
    registered_token(&k, &mail).await;
    let burst = (0..20).map(|_| try_login_owned(k.clone(), mail.clone(), "wrong password"));
    let (mut wrong, mut locked) = (0, 0);
    for r in futures::future::join_all(burst).await {
        match r {
            Ok(LoginSubmission::Retry(_)) => wrong += 1,
            Err(FlowError::LoginLocked { .. }) => locked += 1,
            other => panic!("unexpected answer to a wrong password: {other:?}"),
        }
    }
    assert_eq!((wrong, locked), (5, 15), "five verified, fifteen locked");
    let err = try_login_owned(k.clone(), mail.clone(), "long enough pw")
        .await
        .unwrap_err();
    assert!(matches!(err, FlowError::LoginLocked { .. }), "{err:?}");
    assert_eq!((err.id(), err.status()), ("self_service_login_locked", 429));
}

/// An identifier longer than a lockout key holds is keyed by its digest: its attempts are
/// counted (on SQL its key would otherwise exceed what an index entry may hold) and lock it,
/// and another long identifier with the same beginning has a count of its own.
pub async fn flow_login_lockout_keys_long_identifiers_by_digest(store: Arc<dyn Persister>) {
    let config = format!(
        "{SESSION_HOOK}security:\n  login_lockout:\n    max_failures: 2\n    max_failures_per_address: 1000\n    base_duration: 1m\n"
    );
    let k = kratos_with(store, &config, Arc::new(crate::SystemClock));
    // 16 KiB of hex: too long for an index entry even compressed.
    let long: String = (0..512)
        .map(|_| Uuid::new_v4().simple().to_string())
        .collect();
    let other = format!("{long}x");
    for _ in 0..2 {
        assert!(matches!(
            try_login_owned(k.clone(), long.clone(), "wrong password").await,
            Ok(LoginSubmission::Retry(_))
        ));
    }
    let err = try_login_owned(k.clone(), long.clone(), "wrong password")
        .await
        .unwrap_err();
    assert!(matches!(err, FlowError::LoginLocked { .. }), "{err:?}");
    assert!(
        matches!(
            try_login_owned(k.clone(), other, "wrong password").await,
            Ok(LoginSubmission::Retry(_))
        ),
        "another identifier is not locked"
    );
    let key = crate::strategy::password::login::identifier_lockout_key(&long);
    assert!(
        key.starts_with("identifier-sha256:") && key.len() < 100,
        "{key}"
    );
    assert!(
        k.store()
            .login_locked_until(k.nid(), &[key])
            .await
            .unwrap()
            .is_some(),
        "the digest key holds the lock"
    );
}
