//! What kratos-core tells an operator through `tracing`: the spans and events of the flows,
//! and that none of them carries a secret.

use std::sync::{Arc, Mutex};

use kratos_core::Kratos;
use kratos_core::courier::MemoryOutbox;
use kratos_core::flow::login::{LoginOptions, LoginSubmission};
use kratos_core::flow::registration::RegistrationSubmission;
use kratos_core::flow::{FlowContext, FlowType};
use kratos_core::store::MemoryStore;
use kratos_core::testsuite::{code_from_outbox, kratos_with_outbox, register, try_login};
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

const PASSWORD: &str = "correct horse battery staple 42";
const WRONG_PASSWORD: &str = "a wrong password of some length";

/// Passwords, passwordless codes, and sessions issued by registration (as in Kratos's
/// `session` hook).
const CONFIG: &str = "selfservice:\n  methods:\n    code:\n      passwordless_enabled: true\n  flows:\n    registration:\n      after:\n        password:\n          hooks: [{hook: session}]\n";

/// A span or an event, with every field as text.
#[derive(Clone, Debug)]
struct Captured {
    span: bool,
    name: String,
    /// The span it belongs to (an event's current span), for events.
    parent: Option<String>,
    fields: Vec<(String, String)>,
}

impl Captured {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

/// A layer that keeps every span (with the fields recorded on it later) and event.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Captured>>>);

impl Capture {
    fn all(&self) -> Vec<Captured> {
        self.0.lock().unwrap().clone()
    }
}

/// Where a span's entry in the capture is.
struct Slot(usize);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Vec::new();
        attrs.record(&mut Fields(&mut fields));
        let mut all = self.0.lock().unwrap();
        all.push(Captured {
            span: true,
            name: attrs.metadata().name().to_owned(),
            parent: None,
            fields,
        });
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Slot(all.len() - 1));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let Some(slot) = span.extensions().get::<Slot>().map(|s| s.0) else {
            return;
        };
        let mut all = self.0.lock().unwrap();
        values.record(&mut Fields(&mut all[slot].fields));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Vec::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(Captured {
            span: false,
            name: event.metadata().name().to_owned(),
            parent: ctx.lookup_current().map(|s| s.name().to_owned()),
            fields,
        });
    }
}

fn email() -> String {
    format!("telemetry-{}@example.com", uuid::Uuid::new_v4().simple())
}

fn registry() -> (Kratos, MemoryOutbox) {
    let (k, outbox, _) = kratos_with_outbox(Arc::new(MemoryStore::new()), CONFIG);
    (k, outbox)
}

async fn registered(k: &Kratos, mail: &str) -> String {
    match register(k, mail, PASSWORD).await {
        RegistrationSubmission::Completed(done) => done
            .session_token
            .expect("the session hook issues a token")
            .expose()
            .to_owned(),
        RegistrationSubmission::Retry(flow) => panic!("registration refused: {:?}", flow.ui),
    }
}

/// Signs in with a code sent to `mail`; answers the code and the session token.
async fn code_login(k: &Kratos, outbox: &MemoryOutbox, mail: &str) -> (String, String) {
    let ctx = FlowContext::default();
    let flow = k
        .login()
        .create(FlowType::Api, &ctx, LoginOptions::default())
        .await
        .unwrap();
    let sent = k
        .login()
        .submit(
            flow.id,
            &json!({"method": "code", "identifier": mail}),
            &ctx,
        )
        .await
        .unwrap();
    assert!(matches!(sent, LoginSubmission::Retry(_)), "a code is sent");
    let code = code_from_outbox(k, outbox, mail).await;
    match k
        .login()
        .submit(
            flow.id,
            &json!({"method": "code", "identifier": mail, "code": code}),
            &ctx,
        )
        .await
        .unwrap()
    {
        LoginSubmission::Completed(done) => (code, done.session_token.unwrap().expose().to_owned()),
        LoginSubmission::Retry(flow) => panic!("code login refused: {:?}", flow.ui),
    }
}

#[tokio::test]
async fn a_password_login_is_traced_without_any_secret() {
    let capture = Capture::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    let (k, outbox) = registry();
    let mail = email();
    let registration_token = registered(&k, &mail).await;

    let done = match try_login(&k, &mail, PASSWORD).await.unwrap() {
        LoginSubmission::Completed(done) => done,
        LoginSubmission::Retry(flow) => panic!("login refused: {:?}", flow.ui),
    };
    let login_token = done.session_token.as_ref().unwrap().expose().to_owned();
    let identity_id = done.session.identity_id.to_string();
    let failed = try_login(&k, &mail, WRONG_PASSWORD).await.unwrap();
    assert!(matches!(failed, LoginSubmission::Retry(_)));
    let (code, code_token) = code_login(&k, &outbox, &mail).await;

    let all = capture.all();
    // The submission's span: flow id and type, method, the identity once signed in.
    let span = all
        .iter()
        .find(|c| {
            c.span
                && c.name == "login.submit"
                && c.field("flow.id") == Some(&done.flow.id.to_string())
        })
        .unwrap_or_else(|| {
            panic!(
                "a login.submit span for the flow: {:?}",
                all.iter()
                    .filter(|c| c.span && c.name.starts_with("login"))
                    .collect::<Vec<_>>()
            )
        });
    assert_eq!(span.field("method"), Some("password"));
    assert_eq!(span.field("flow.type"), Some("api"));
    assert_eq!(span.field("identity.id"), Some(identity_id.as_str()));
    assert!(
        all.iter().any(|c| c.span
            && c.name == "strategy.submit"
            && c.field("method") == Some("password")),
        "the strategy runs in a span of its own"
    );
    assert!(
        all.iter().any(|c| c.span
            && c.name == "store"
            && c.field("operation") == Some("password_login_reads")),
        "store calls run in spans"
    );
    assert!(
        all.iter().any(|c| c.span && c.name == "login.create"),
        "creating a flow is a span"
    );
    assert!(
        all.iter().any(|c| c.span && c.name == "hook.after"),
        "the after hooks run in a span"
    );
    assert!(
        all.iter().any(|c| c.span && c.name == "courier.send"),
        "sending runs in a span"
    );
    // The sign-in event: method, identity, level.
    let signed_in = all
        .iter()
        .find(|c| {
            !c.span
                && c.field("message") == Some("login succeeded")
                && c.field("method") == Some("password")
        })
        .expect("a sign-in event");
    assert_eq!(signed_in.field("identity.id"), Some(identity_id.as_str()));
    assert_eq!(signed_in.field("aal"), Some("aal1"));
    assert_eq!(signed_in.parent.as_deref(), Some("login.submit"));
    // The failure event: method and Kratos's message id (4000006, wrong credentials).
    assert!(all.iter().any(|c| {
        !c.span
            && c.field("message") == Some("login failed")
            && c.field("method") == Some("password")
            && c.field("reason_id") == Some("4000006")
    }));
    // The code's message: channel and template, nothing of the address or the code.
    assert!(all.iter().any(|c| {
        !c.span
            && c.field("message") == Some("courier: message queued")
            && c.field("channel") == Some("email")
            && c.field("template") == Some("login_code_valid")
    }));
    assert!(all.iter().any(|c| {
        !c.span
            && c.field("message") == Some("login succeeded")
            && c.field("method") == Some("code")
    }));

    // No secret and no trait value in any name, field name or value.
    let secrets = [
        PASSWORD,
        WRONG_PASSWORD,
        registration_token.as_str(),
        login_token.as_str(),
        code_token.as_str(),
        code.as_str(),
        mail.as_str(),
    ];
    assert!(
        all.len() > 20,
        "spans and events were captured: {}",
        all.len()
    );
    for c in &all {
        let texts = std::iter::once(c.name.as_str())
            .chain(c.fields.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]));
        for text in texts {
            for secret in &secrets {
                assert!(
                    !text.contains(secret),
                    "{} `{}` carries a secret or trait value: {c:?}",
                    if c.span { "span" } else { "event" },
                    c.name
                );
            }
        }
    }
}
