//! Conformance of the transport's admission of a submission ([`crate::flow::Admission`]):
//! each flow asks it once, after its own load of the flow, with the flow's type and CSRF
//! token; a refusal writes nothing; settings have their form values typed after the
//! identity's schema; a followed link needs no CSRF token. Also the refresh by code that
//! must not switch identities, and the method `use` names for recovery and verification.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use uuid::Uuid;

use super::courier::kratos_with_outbox;
use crate::flow::login::{LoginOptions, LoginSubmission};
use crate::flow::registration::RegistrationSubmission;
use crate::flow::{Admission, AdmittedFlow, FlowContext, FlowError, FlowKind, FlowType};
use crate::store::Persister;

const FLOWS: &str = "selfservice:\n  methods:\n    link:\n      enabled: true\n  flows:\n    verification:\n      enabled: true\n    recovery:\n      enabled: true\n";

/// An admission that records what it is asked and admits (or refuses) everything.
struct Recording {
    ctx: FlowContext,
    refuse: bool,
    link: bool,
    seen: Mutex<Vec<(FlowType, String, bool)>>,
    typed: Mutex<Vec<String>>,
}

impl Recording {
    fn new(ctx: FlowContext) -> Self {
        Self {
            ctx,
            refuse: false,
            link: false,
            seen: Mutex::new(Vec::new()),
            typed: Mutex::new(Vec::new()),
        }
    }

    fn seen(&self) -> Vec<(FlowType, String, bool)> {
        self.seen.lock().unwrap().clone()
    }
}

impl Admission for Recording {
    fn request(&self) -> &FlowContext {
        &self.ctx
    }

    fn admit(&self, flow: AdmittedFlow<'_>) -> Result<&FlowContext, FlowError> {
        self.seen.lock().unwrap().push((
            flow.flow_type,
            flow.csrf_token.to_owned(),
            flow.csrf_exempt,
        ));
        if self.refuse {
            Err(FlowError::CsrfViolation)
        } else {
            Ok(&self.ctx)
        }
    }

    fn type_form_values(&self, schema_id: &str, payload: &mut Value) {
        self.typed.lock().unwrap().push(schema_id.to_owned());
        payload["traits"]["email"] = json!(
            payload["traits"]["email"]
                .as_str()
                .unwrap_or_default()
                .to_uppercase()
        );
    }

    fn follows_link(&self) -> bool {
        self.link
    }
}

async fn csrf_of(k: &crate::Kratos, kind: FlowKind, id: Uuid) -> String {
    k.store()
        .get_flow(k.nid(), kind, id)
        .await
        .unwrap()
        .csrf_token
}

pub async fn flow_admission_is_asked_once_after_the_load(store: Arc<dyn Persister>) {
    let (k, _outbox, _) = kratos_with_outbox(store, FLOWS);
    let ctx = FlowContext::default();
    let email = format!("admission-{}@example.com", Uuid::new_v4().simple());

    // Registration (api): admitted once, as an api flow without a token.
    let flow = k.registration().create(FlowType::Api, &ctx).await.unwrap();
    let admission = Recording::new(ctx.clone());
    let body = json!({"method": "password", "traits": {"email": email}, "password": "correct horse battery 7"});
    let registered = match k
        .registration()
        .submit(flow.id, &body, &admission)
        .await
        .unwrap()
    {
        RegistrationSubmission::Completed(done) => done,
        RegistrationSubmission::Retry(f) => {
            panic!(
                "the registration completes: {:?}",
                super::flows::messages(&f.ui)
            )
        }
    };
    assert_eq!(
        admission.seen(),
        vec![(FlowType::Api, String::new(), false)]
    );

    // Login (browser): a refusal is the answer, and the flow is left as it was.
    let flow = k
        .login()
        .create(FlowType::Browser, &ctx, LoginOptions::default())
        .await
        .unwrap();
    let csrf = csrf_of(&k, FlowKind::Login, flow.id).await;
    let mut refusing = Recording::new(ctx.clone());
    refusing.refuse = true;
    let body =
        json!({"method": "password", "identifier": email, "password": "wrong", "csrf_token": csrf});
    assert!(matches!(
        k.login().submit(flow.id, &body, &refusing).await,
        Err(FlowError::CsrfViolation)
    ));
    assert_eq!(
        refusing.seen(),
        vec![(FlowType::Browser, csrf.clone(), false)]
    );
    let after = k.login().get(flow.id, &ctx).await.unwrap();
    assert_eq!(after.ui, flow.ui, "a refused submission writes nothing");
    let admitting = Recording::new(ctx.clone());
    let body = json!({"method": "password", "identifier": email, "password": "correct horse battery 7", "csrf_token": csrf});
    let LoginSubmission::Completed(signed_in) =
        k.login().submit(flow.id, &body, &admitting).await.unwrap()
    else {
        panic!("signed in")
    };
    assert_eq!(admitting.seen().len(), 1);
    let token = signed_in.session_token.unwrap().expose().to_owned();

    // Settings (api): the session is the admitted request's; the traits are typed after
    // the identity's schema before the profile method reads them.
    let with_session = FlowContext {
        session_token: Some(token),
        ..FlowContext::default()
    };
    let flow = k
        .settings()
        .create(FlowType::Api, &with_session)
        .await
        .unwrap();
    let admission = Recording::new(with_session.clone());
    let body = json!({"method": "profile", "traits": {"email": email}});
    let result = k.settings().submit(flow.id, &body, &admission).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(*admission.typed.lock().unwrap(), vec!["default".to_owned()]);
    let identity = k.identities().get(registered.identity.id).await.unwrap();
    assert_eq!(identity.traits["email"], json!(email.to_uppercase()));
    // Without a session the admitted request has none: 401, whatever the flow.
    assert!(matches!(
        k.settings()
            .submit(flow.id, &body, &Recording::new(ctx.clone()))
            .await,
        Err(FlowError::NoActiveSession)
    ));

    // Verification (browser): a code needs the CSRF token unless the request follows a
    // link from the message.
    let flow = k
        .verification()
        .create(FlowType::Browser, &ctx)
        .await
        .unwrap();
    let csrf = csrf_of(&k, FlowKind::Verification, flow.id).await;
    let body = json!({"method": "code", "code": "000000"});
    assert!(matches!(
        k.verification().submit(flow.id, &body, &ctx).await,
        Err(FlowError::CsrfViolation)
    ));
    let mut link = Recording::new(ctx.clone());
    link.link = true;
    let answered = k
        .verification()
        .submit(flow.id, &body, &link)
        .await
        .unwrap();
    assert_eq!(super::flows::messages(&answered.ui), vec![4070006]);
    assert_eq!(link.seen(), vec![(FlowType::Browser, csrf, true)]);

    // Recovery: a flow the admin API made is exempt, whoever submits.
    let admin = k
        .recovery()
        .admin_create_code(registered.identity.id, None)
        .await
        .unwrap();
    let flow_id: Uuid = url::Url::parse(&admin.recovery_link)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "flow")
        .unwrap()
        .1
        .parse()
        .unwrap();
    let admission = Recording::new(ctx.clone());
    let wrong = json!({"method": "code", "code": "000000"});
    k.recovery()
        .submit(flow_id, &wrong, &admission)
        .await
        .unwrap();
    let seen = admission.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].0, seen[0].2), (FlowType::Browser, true));
}

pub async fn flow_recovery_and_verification_offer_the_method_use_names(store: Arc<dyn Persister>) {
    let ctx = FlowContext::default();
    // `use: link` with the link method off: Kratos's 400, no flow.
    let (k, _, _) = kratos_with_outbox(
        store.clone(),
        "selfservice:\n  methods:\n    link:\n      enabled: false\n  flows:\n    verification:\n      enabled: true\n      use: link\n    recovery:\n      enabled: true\n      use: link\n",
    );
    assert!(matches!(
        k.recovery().create(FlowType::Api, &ctx).await,
        Err(FlowError::BadRequest(reason)) if reason.contains("link")
    ));
    assert!(matches!(
        k.verification().create(FlowType::Api, &ctx).await,
        Err(FlowError::BadRequest(reason)) if reason.contains("link")
    ));
    // The admin API still makes a flow for the method it is asked for, which takes its
    // secret and no other method's submission.
    let identity = k
        .identities()
        .create(crate::identity::CreateIdentityBody {
            traits: json!({"email": format!("admin-{}@example.com", Uuid::new_v4().simple())}),
            ..Default::default()
        })
        .await
        .unwrap();
    let admin = k
        .recovery()
        .admin_create_code(identity.id, None)
        .await
        .unwrap();
    let flow_id: Uuid = url::Url::parse(&admin.recovery_link)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "flow")
        .unwrap()
        .1
        .parse()
        .unwrap();
    let crate::flow::recovery::RecoverySubmission::Flow(refused) = k
        .recovery()
        .submit(
            flow_id,
            &json!({"method": "link", "email": "someone@example.com"}),
            &ctx,
        )
        .await
        .unwrap()
    else {
        panic!("no recovery by link")
    };
    assert_eq!(super::flows::messages(&refused.ui), vec![4010005]);
    assert!(matches!(
        k.recovery()
            .submit(
                flow_id,
                &json!({"method": "code", "code": admin.recovery_code}),
                &ctx
            )
            .await
            .unwrap(),
        crate::flow::recovery::RecoverySubmission::Completed(_)
    ));
    // With both on, the form is the one of `use`, and the other method's submission is
    // refused with 4010005 / 4010006.
    let (k, _, _) = kratos_with_outbox(
        store,
        "selfservice:\n  methods:\n    link:\n      enabled: true\n  flows:\n    verification:\n      enabled: true\n      use: link\n    recovery:\n      enabled: true\n      use: link\n",
    );
    let flow = k.recovery().create(FlowType::Api, &ctx).await.unwrap();
    let methods: Vec<&Value> = flow
        .ui
        .nodes
        .iter()
        .filter(|n| n.name() == Some("method"))
        .filter_map(|n| n.attributes.as_input().and_then(|a| a.value.as_ref()))
        .collect();
    assert_eq!(methods, vec![&json!("link")]);
    let body = json!({"method": "code", "email": "someone@example.com"});
    let crate::flow::recovery::RecoverySubmission::Flow(answered) =
        k.recovery().submit(flow.id, &body, &ctx).await.unwrap()
    else {
        panic!("no recovery")
    };
    assert_eq!(super::flows::messages(&answered.ui), vec![4010005]);
    let flow = k.verification().create(FlowType::Api, &ctx).await.unwrap();
    let answered = k.verification().submit(flow.id, &body, &ctx).await.unwrap();
    assert_eq!(super::flows::messages(&answered.ui), vec![4010006]);
}
