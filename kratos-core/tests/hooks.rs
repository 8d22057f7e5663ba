//! Hooks end to end: in-process `FlowHook`s and `web_hook`s against a local HTTP server.

use std::sync::{Arc, Mutex};

use kratos_core::flow::login::{LoginOptions, LoginSubmission};
use kratos_core::flow::registration::RegistrationSubmission;
use kratos_core::flow::ui::{UiContainer, UiText};
use kratos_core::flow::{FlowContext, FlowError, FlowKind, FlowType};
use kratos_core::hook::{FlowHook, HookAbort, HookContext};
use kratos_core::identity::Identity;
use kratos_core::store::MemoryStore;
use kratos_core::{Config, Kratos, KratosError};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn config(extra: &str) -> Config {
    Config::from_yaml_str(&format!(
        "secrets:\n  default: [\"hooks-test-secret-0123456789abcdef\"]\nhashers:\n  algorithm: bcrypt\n  bcrypt:\n    cost: 4\n{extra}"
    ))
    .unwrap()
}

fn build(extra: &str, hooks: Vec<Arc<dyn FlowHook>>) -> Result<Kratos, kratos_core::BuildError> {
    let mut b = Kratos::builder(kratos_core::testsuite::without_hibp(config(extra)))
        .store(Arc::new(MemoryStore::new()))
        .schema(kratos_core::testsuite::test_schema());
    for h in hooks {
        b = b.hook(h);
    }
    b.build()
}

fn ids(ui: &UiContainer) -> Vec<u32> {
    ui.messages
        .iter()
        .chain(ui.nodes.iter().flat_map(|n| n.messages.iter()))
        .map(|m| m.id)
        .collect()
}

async fn register(k: &Kratos, traits: Value) -> Result<RegistrationSubmission, FlowError> {
    let ctx = FlowContext::default();
    let flow = k.registration().create(FlowType::Api, &ctx).await?;
    k.registration()
        .submit(
            flow.id,
            &json!({"method": "password", "traits": traits, "password": "long enough pw"}),
            &ctx,
        )
        .await
}

async fn login(k: &Kratos, identifier: &str) -> Result<LoginSubmission, FlowError> {
    let ctx = FlowContext::default();
    let flow = k
        .login()
        .create(FlowType::Api, &ctx, LoginOptions::default())
        .await?;
    k.login()
        .submit(
            flow.id,
            &json!({"method": "password", "identifier": identifier, "password": "long enough pw"}),
            &ctx,
        )
        .await
}

/// Invite-only sign-ups that tag every new identity, and a log of completed flows.
#[derive(Default)]
struct Recorder {
    after: Mutex<Vec<(FlowKind, String, bool)>>,
}

#[async_trait::async_trait]
impl FlowHook for Recorder {
    async fn before(
        &self,
        ctx: &HookContext<'_>,
        identity: &mut Identity,
    ) -> Result<(), HookAbort> {
        if ctx.flow_kind != FlowKind::Registration {
            return Ok(());
        }
        let email = identity.traits["email"].as_str().unwrap_or_default();
        if email.starts_with("blocked") {
            return Err(HookAbort {
                messages: vec![],
                node_messages: vec![(
                    "traits.email".into(),
                    UiText::error(4000001, "This address may not sign up.", None),
                )],
            });
        }
        identity.metadata_public = Some(json!({"plan": "free"}));
        identity.traits["name"] = json!("set by hook");
        Ok(())
    }

    async fn after(&self, ctx: &HookContext<'_>, identity: &Identity) {
        self.after.lock().unwrap().push((
            ctx.flow_kind,
            identity.traits["email"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            ctx.session.is_some(),
        ));
    }
}

#[tokio::test]
async fn in_process_hooks_amend_abort_and_observe() {
    let recorder = Arc::new(Recorder::default());
    let k = build(
        "selfservice:\n  flows:\n    registration:\n      after:\n        password:\n          hooks: [{hook: session}]\n",
        vec![recorder.clone()],
    )
    .unwrap();

    let RegistrationSubmission::Retry(flow) = register(&k, json!({"email": "blocked@example.com"}))
        .await
        .unwrap()
    else {
        panic!("the hook should have stopped the registration")
    };
    assert_eq!(ids(&flow.ui), vec![4000001]);
    assert_eq!(
        flow.ui.node("traits.email").unwrap().messages[0].text,
        "This address may not sign up."
    );
    assert!(
        matches!(
            login(&k, "blocked@example.com").await.unwrap(),
            LoginSubmission::Retry(_)
        ),
        "nothing was written"
    );
    assert!(recorder.after.lock().unwrap().is_empty());

    let RegistrationSubmission::Completed(ok) = register(&k, json!({"email": "ada@example.com"}))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(ok.identity.metadata_public, Some(json!({"plan": "free"})));
    assert_eq!(ok.identity.traits["name"], json!("set by hook"));
    let LoginSubmission::Completed(_) = login(&k, "ada@example.com").await.unwrap() else {
        panic!()
    };
    assert_eq!(
        *recorder.after.lock().unwrap(),
        vec![
            (FlowKind::Registration, "ada@example.com".to_owned(), true),
            (FlowKind::Login, "ada@example.com".to_owned(), true),
        ]
    );
}

/// One recorded request: method, path, headers (lowercase names) and JSON body.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A local HTTP/1.1 server answering every request with one status and body.
struct FakeHookServer {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    answer: Arc<Mutex<(u16, String)>>,
}

impl FakeHookServer {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(Mutex::new((204u16, String::new())));
        let (s, a) = (seen.clone(), answer.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let (s, a) = (s.clone(), a.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let head_end = loop {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break p + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let mut lines = head.split("\r\n");
                    let mut first = lines.next().unwrap_or_default().split(' ');
                    let method = first.next().unwrap_or_default().to_owned();
                    let path = first.next().unwrap_or_default().to_owned();
                    let headers: Vec<(String, String)> = lines
                        .filter_map(|l| l.split_once(": "))
                        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
                        .collect();
                    let len: usize = headers
                        .iter()
                        .find(|(k, _)| k == "content-length")
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let body = serde_json::from_slice(&buf[head_end..]).unwrap_or(Value::Null);
                    s.lock().unwrap().push(Seen {
                        method,
                        path,
                        headers,
                        body,
                    });
                    let (status, text) = a.lock().unwrap().clone();
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                        text.len()
                    );
                    let _ = sock.write_all(reply.as_bytes()).await;
                });
            }
        });
        Self { url, seen, answer }
    }

    fn answer(&self, status: u16, body: Value) {
        *self.answer.lock().unwrap() = (
            status,
            if body.is_null() {
                String::new()
            } else {
                body.to_string()
            },
        );
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn web_hook_yaml(url: &str, response: &str) -> String {
    format!(
        "selfservice:\n  flows:\n    registration:\n      after:\n        password:\n          hooks:\n            - hook: web_hook\n              config:\n                url: {url}\n                method: POST\n                headers: {{X-Tenant: acme}}\n                auth: {{type: api_key, config: {{name: X-Api-Key, value: s3cr3t-key, in: header}}}}\n                response: {response}\n            - hook: session\n"
    )
}

#[tokio::test]
async fn web_hook_with_parse_amends_or_rejects_registration() {
    let server = FakeHookServer::start().await;
    let k = build(&web_hook_yaml(&server.url, "{parse: true}"), vec![]).unwrap();

    // 4xx with messages: validation errors on the flow, nothing written.
    server.answer(
        409,
        json!({"messages": [{"instance_ptr": "#/traits/email", "messages": [{"id": 4000007, "text": "Taken upstream.", "type": "error"}]}]}),
    );
    let RegistrationSubmission::Retry(flow) = register(&k, json!({"email": "dup@example.com"}))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        flow.ui.node("traits.email").unwrap().messages[0].id,
        4000007
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("POST", "/hook")
    );
    assert_eq!(seen[0].header("x-api-key"), Some("s3cr3t-key"));
    assert_eq!(seen[0].header("x-tenant"), Some("acme"));
    assert_eq!(seen[0].body["flow"]["kind"], json!("registration"));
    assert_eq!(seen[0].body["method"], json!("password"));
    assert_eq!(
        seen[0].body["identity"]["traits"]["email"],
        json!("dup@example.com")
    );
    assert!(seen[0].body["identity"].get("credentials").is_none());

    // 200 with an identity: the traits and metadata are amended before saving.
    server.answer(
        200,
        json!({"identity": {"traits": {"email": "ok@example.com", "name": "From hook"}, "metadata_admin": {"crm": 42}}}),
    );
    let RegistrationSubmission::Completed(ok) = register(&k, json!({"email": "ok@example.com"}))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(ok.identity.traits["name"], json!("From hook"));
    let stored = k.identities().get(ok.identity.id).await.unwrap();
    assert_eq!(stored.metadata_admin, Some(json!({"crm": 42})));

    // A 500 fails the flow with 502 and writes nothing.
    server.answer(500, Value::Null);
    let err = register(&k, json!({"email": "down@example.com"}))
        .await
        .unwrap_err();
    assert_eq!((err.id(), err.status()), ("bad_gateway", 502));
    assert!(!err.to_string().contains("s3cr3t"));
    assert!(matches!(
        login(&k, "down@example.com").await.unwrap(),
        LoginSubmission::Retry(_)
    ));
}

#[tokio::test]
async fn web_hook_after_and_fire_and_forget() {
    let server = FakeHookServer::start().await;
    let k = build(&web_hook_yaml(&server.url, "{ignore: false}"), vec![]).unwrap();
    server.answer(204, Value::Null);
    let RegistrationSubmission::Completed(ok) = register(&k, json!({"email": "after@example.com"}))
        .await
        .unwrap()
    else {
        panic!()
    };
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].body["identity"]["id"],
        json!(ok.identity.id),
        "after the write the identity has its id"
    );

    // An error answer after the write fails the request with 502; the identity exists.
    server.answer(503, Value::Null);
    let err = register(&k, json!({"email": "late@example.com"}))
        .await
        .unwrap_err();
    assert_eq!(err.status(), 502);
    assert!(matches!(
        login(&k, "late@example.com").await.unwrap(),
        LoginSubmission::Completed(_)
    ));

    // Detached: the flow does not wait and does not fail.
    let server = FakeHookServer::start().await;
    server.answer(500, Value::Null);
    let k = build(&web_hook_yaml(&server.url, "{ignore: true}"), vec![]).unwrap();
    assert!(matches!(
        register(&k, json!({"email": "detached@example.com"}))
            .await
            .unwrap(),
        RegistrationSubmission::Completed(_)
    ));
    for _ in 0..100 {
        if !server.seen().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(server.seen().len(), 1);

    // Unreachable target: 502, with the host but no key in the message.
    let k = build(
        &web_hook_yaml("http://127.0.0.1:9/hook", "{ignore: false}"),
        vec![],
    )
    .unwrap();
    let err = register(&k, json!({"email": "nobody@example.com"}))
        .await
        .unwrap_err();
    assert_eq!(err.status(), 502);
    assert!(err.to_string().contains("127.0.0.1"));
}

#[test]
fn hook_configuration_is_checked_when_building() {
    let err = |yaml: &str| build(yaml, vec![]).unwrap_err().to_string();
    let e =
        err("selfservice:\n  flows:\n    login:\n      after:\n        hooks: [{hook: session}]\n");
    assert!(e.contains("selfservice.flows.login.after.hooks[0]"), "{e}");
    let e = err(
        "selfservice:\n  flows:\n    registration:\n      after:\n        hooks: [{hook: show_verification_ui}]\n",
    );
    assert!(
        e.contains("selfservice.flows.registration.after.hooks[0]")
            && e.contains("selfservice.flows.verification.enabled"),
        "{e}"
    );
    let e = err(
        "selfservice:\n  flows:\n    registration:\n      after:\n        hooks: [{hook: verification}]\n",
    );
    assert!(e.contains("is not a hook of the registration flow"), "{e}");
    assert!(build("selfservice:\n  flows:\n    verification:\n      enabled: true\n    registration:\n      after:\n        hooks: [{hook: show_verification_ui}]\n    settings:\n      after:\n        profile:\n          hooks: [{hook: verify_new_address}]\n    login:\n      after:\n        hooks: [{hook: verification}]\n", vec![]).is_ok());
    let e = err(
        "selfservice:\n  flows:\n    settings:\n      after:\n        password:\n          hooks: [{hook: web_hook, config: {url: 'ftp://x'}}]\n",
    );
    assert!(
        e.contains("selfservice.flows.settings.after.password.hooks[0].config.url"),
        "{e}"
    );
    let e = err(
        "selfservice:\n  flows:\n    login:\n      after:\n        hooks: [{hook: web_hook, config: {url: 'http://x/', body: 'base64://e2E6IG5vcGV9'}}]\n",
    );
    assert!(
        e.contains("selfservice.flows.login.after.hooks[0].config.body") && e.contains("Jsonnet"),
        "{e}"
    );
    assert!(build("selfservice:\n  flows:\n    login:\n      after:\n        hooks: [{hook: web_hook, config: {url: 'http://x/', body: 'base64://e30='}}]\n", vec![]).is_ok());
    let e = err(
        "selfservice:\n  flows:\n    login:\n      after:\n        hooks: [{hook: web_hook, config: {url: 'http://x/', response: {ignore: true, parse: true}}}]\n",
    );
    assert!(e.contains("cannot both"), "{e}");
    let e = err(
        "selfservice:\n  flows:\n    login:\n      after:\n        hooks: [{hook: web_hook, config: {url: 'http://x/', auth: {type: basic_auth, config: {user: u}}}}]\n",
    );
    assert!(e.contains("auth.config.password"), "{e}");
    assert!(build("selfservice:\n  flows:\n    login:\n      after:\n        hooks: [{hook: revoke_active_sessions}, {hook: require_verified_address}]\n", vec![]).is_ok());
}

/// Refuses api login flows from one user agent.
struct NoBots;

#[async_trait::async_trait]
impl FlowHook for NoBots {
    async fn before_flow(
        &self,
        kind: FlowKind,
        flow_type: FlowType,
        request: &FlowContext,
    ) -> Result<(), HookAbort> {
        if kind == FlowKind::Login
            && flow_type == FlowType::Api
            && request.client.user_agent.as_deref() == Some("bot/1.0")
        {
            return Err(HookAbort::message(UiText::error(
                4000001,
                "Bots may not sign in.",
                None,
            )));
        }
        Ok(())
    }
}

#[tokio::test]
async fn before_hooks_refuse_flow_creation() {
    let k = build("", vec![Arc::new(NoBots)]).unwrap();
    let bot = FlowContext {
        client: kratos_core::session::ClientInfo {
            ip_address: None,
            user_agent: Some("bot/1.0".into()),
        },
        ..Default::default()
    };
    let err = k
        .login()
        .create(FlowType::Api, &bot, LoginOptions::default())
        .await
        .unwrap_err();
    assert_eq!((err.id(), err.status()), ("self_service_flow_refused", 400));
    assert_eq!(
        err.to_body().error.details["messages"][0]["text"],
        json!("Bots may not sign in.")
    );
    assert!(
        k.login()
            .create(FlowType::Browser, &bot, LoginOptions::default())
            .await
            .is_ok()
    );
    assert!(k.registration().create(FlowType::Api, &bot).await.is_ok());

    // A web hook before registration: 4xx with messages refuses, 2xx lets it through.
    let server = FakeHookServer::start().await;
    let yaml = format!(
        "selfservice:\n  flows:\n    registration:\n      before:\n        hooks:\n          - hook: web_hook\n            config: {{url: '{}', response: {{parse: true}}}}\n",
        server.url
    );
    let k = build(&yaml, vec![]).unwrap();
    server.answer(403, json!({"messages": [{"instance_ptr": "#", "messages": [{"id": 4000001, "text": "Registration is closed.", "type": "error"}]}]}));
    let ctx = FlowContext {
        request_url: Some("https://auth.example.com/self-service/registration/api".into()),
        ..Default::default()
    };
    let err = k
        .registration()
        .create(FlowType::Api, &ctx)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, FlowError::Refused(m) if m[0].text == "Registration is closed."),
        "{err:?}"
    );
    let seen = server.seen();
    assert_eq!(
        seen[0].body["flow"],
        json!({"type": "api", "kind": "registration"})
    );
    assert_eq!(
        seen[0].body["request_url"],
        json!("https://auth.example.com/self-service/registration/api")
    );
    server.answer(204, Value::Null);
    assert!(k.registration().create(FlowType::Api, &ctx).await.is_ok());
    // Login has no before hook configured: no call.
    k.login()
        .create(FlowType::Api, &ctx, LoginOptions::default())
        .await
        .unwrap();
    assert_eq!(server.seen().len(), 2);
}

#[test]
fn only_web_hooks_run_before_a_flow() {
    let e = build("selfservice:\n  flows:\n    login:\n      before:\n        hooks: [{hook: revoke_active_sessions}]\n", vec![]).unwrap_err().to_string();
    assert!(
        e.contains("selfservice.flows.login.before.hooks[0]") && e.contains("only `web_hook`"),
        "{e}"
    );
}
