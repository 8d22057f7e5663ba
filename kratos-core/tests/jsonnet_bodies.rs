//! Jsonnet request bodies end to end, against a loopback HTTP server that records every
//! request: the courier's HTTP channel (email and text messages, JSON and form bodies) and
//! the `web_hook` hook.

use std::sync::{Arc, Mutex};

use base64::Engine;
use kratos_core::courier::{MessageStatus, TemplateType};
use kratos_core::flow::registration::RegistrationSubmission;
use kratos_core::flow::{FlowContext, FlowError, FlowType};
use kratos_core::identity::AddressVia;
use kratos_core::store::MemoryStore;
use kratos_core::{Config, Kratos, KratosError};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One recorded request.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

/// A loopback HTTP/1.1 server answering every request with 204 and recording it.
struct Recorder {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Recorder {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/send", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let s = s.clone();
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
                    let method = lines
                        .next()
                        .unwrap_or_default()
                        .split(' ')
                        .next()
                        .unwrap_or_default()
                        .to_owned();
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
                    s.lock().unwrap().push(Seen {
                        method,
                        headers,
                        body: buf[head_end..].to_vec(),
                    });
                    let reply = "HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n";
                    let _ = sock.write_all(reply.as_bytes()).await;
                });
            }
        });
        Self { url, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn clear(&self) {
        self.seen.lock().unwrap().clear();
    }
}

fn b64(template: &str) -> String {
    format!(
        "base64://{}",
        base64::engine::general_purpose::STANDARD.encode(template)
    )
}

fn build(yaml: &str) -> Result<Kratos, kratos_core::BuildError> {
    let config = Config::from_yaml_str(&format!(
        "secrets:\n  default: [\"jsonnet-test-secret-0123456789abcdef\"]\nhashers:\n  algorithm: bcrypt\n  bcrypt:\n    cost: 4\n{yaml}"
    ))
    .unwrap();
    Kratos::builder(kratos_core::testsuite::without_hibp(config))
        .store(Arc::new(MemoryStore::new()))
        .schema(kratos_core::testsuite::test_schema())
        .build()
}

/// The email channel (`courier.http`) and the text-message channel (`courier.channels[0]`)
/// both post to `url` with the same headers, auth and body.
fn courier_yaml(url: &str, headers: &str, body: &str) -> String {
    let request = format!(
        "url: {url}\n      method: POST\n      headers: {headers}\n      auth: {{type: api_key, config: {{name: X-Api-Key, value: courier-key-1, in: header}}}}\n      body: {body}"
    );
    format!(
        "courier:\n  delivery_strategy: http\n  http:\n    request_config:\n      {request}\n  channels:\n    - id: sms\n      type: http\n      request_config:\n        {}\n  worker:\n    retry_backoff: 1s\n",
        request.replace("\n      ", "\n        ")
    )
}

/// A mailer's body: picks fields of the message's context.
const MAILER_BODY: &str = r#"function(ctx) {
  to: ctx.recipient,
  kind: ctx.message_type,
  template: ctx.template_type,
  code: if "verification_code" in ctx.template_data then ctx.template_data.verification_code else null,
  text: ctx.body,
  has_subject: ctx.subject != "",
  has_html: "html_body" in ctx,
}"#;

/// A Twilio body (Kratos's documented example).
const TWILIO_BODY: &str = r#"function(ctx) {
  To: ctx.recipient,
  From: "+15005550006",
  Body: ctx.body,
}"#;

#[tokio::test]
async fn the_courier_sends_emails_and_text_messages_through_a_jsonnet_body() {
    let server = Recorder::start().await;
    let k = build(&courier_yaml(&server.url, "{}", &b64(MAILER_BODY))).unwrap();
    let courier = k.courier();
    courier
        .queue(
            TemplateType::VerificationCodeValid,
            "ada@example.com",
            json!({"to": "ada@example.com", "verification_code": "493817", "expires_in_minutes": 60}),
        )
        .await
        .unwrap();
    let report = courier.dispatch_batch().await.unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
    assert_eq!(seen[0].header("x-api-key"), Some("courier-key-1"));
    let body = seen[0].json();
    assert_eq!(
        (&body["to"], &body["kind"], &body["template"], &body["code"]),
        (
            &json!("ada@example.com"),
            &json!("email"),
            &json!("verification_code_valid"),
            &json!("493817")
        )
    );
    assert!(body["text"].as_str().unwrap().contains("493817"));
    assert_eq!(
        (&body["has_subject"], &body["has_html"]),
        (&json!(true), &json!(true))
    );

    // A text message goes through the same channel the same way.
    server.clear();
    let sms = courier
        .render_via(
            AddressVia::Sms,
            TemplateType::VerificationCodeValid,
            "+15551234567",
            json!({"to": "+15551234567", "verification_code": "220481", "expires_in_minutes": 60}),
        )
        .unwrap();
    k.store().enqueue_message(k.nid(), &sms).await.unwrap();
    let report = courier.dispatch_batch().await.unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    let body = server.seen()[0].json();
    assert_eq!(
        (&body["to"], &body["kind"], &body["code"]),
        (&json!("+15551234567"), &json!("sms"), &json!("220481"))
    );
    assert!(body["text"].as_str().unwrap().contains("220481"));
    assert_eq!(
        (&body["has_subject"], &body["has_html"]),
        (&json!(false), &json!(false))
    );
}

#[tokio::test]
async fn a_form_content_type_sends_form_values_as_twilio_takes_them() {
    let server = Recorder::start().await;
    let k = build(&courier_yaml(
        &server.url,
        "{Content-Type: application/x-www-form-urlencoded}",
        &b64(TWILIO_BODY),
    ))
    .unwrap();
    let courier = k.courier();
    let sms = courier
        .render_via(
            AddressVia::Sms,
            TemplateType::LoginCodeValid,
            "+15551234567",
            json!({"to": "+15551234567", "login_code": "774100", "expires_in_minutes": 15}),
        )
        .unwrap();
    let text = sms.body.clone();
    k.store().enqueue_message(k.nid(), &sms).await.unwrap();
    assert_eq!(courier.dispatch_batch().await.unwrap().sent, 1);
    let seen = server.seen();
    assert_eq!(
        seen[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let expected: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("Body", &text)
        .append_pair("From", "+15005550006")
        .append_pair("To", "+15551234567")
        .finish();
    let parsed: Vec<(String, String)> = url::form_urlencoded::parse(&seen[0].body)
        .into_owned()
        .collect();
    let wanted: Vec<(String, String)> = url::form_urlencoded::parse(expected.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(parsed, wanted);
    assert!(seen[0].text().starts_with("Body="));
    assert!(
        seen[0]
            .text()
            .contains("&From=%2B15005550006&To=%2B15551234567")
    );
}

#[tokio::test]
async fn a_failing_body_template_is_a_failed_send_that_is_retried() {
    let server = Recorder::start().await;
    let k = build(&courier_yaml(
        &server.url,
        "{}",
        &b64("function(ctx) {code: ctx.template_data.verification_code, missing: ctx.nope}"),
    ))
    .unwrap();
    let courier = k.courier();
    let m = courier
        .queue(
            TemplateType::VerificationCodeValid,
            "bob@example.com",
            json!({"verification_code": "913377", "expires_in_minutes": 60}),
        )
        .await
        .unwrap();
    let report = courier.dispatch_batch().await.unwrap();
    assert_eq!((report.sent, report.retried), (0, 1), "{report:?}");
    assert!(server.seen().is_empty());
    assert_eq!(
        courier.get(m.id).await.unwrap().status,
        MessageStatus::Queued
    );
}

#[tokio::test]
async fn kratos_default_body_is_used_when_none_is_configured() {
    let server = Recorder::start().await;
    let yaml = format!(
        "courier:\n  delivery_strategy: http\n  http:\n    request_config:\n      url: {}\n",
        server.url
    );
    let k = build(&yaml).unwrap();
    k.courier()
        .queue(
            TemplateType::RecoveryCodeValid,
            "eve@example.com",
            json!({"to": "eve@example.com", "recovery_code": "555123", "expires_in_minutes": 60}),
        )
        .await
        .unwrap();
    assert_eq!(k.courier().dispatch_batch().await.unwrap().sent, 1);
    let body = server.seen()[0].json();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "body",
            "recipient",
            "recovery_code",
            "recovery_url",
            "subject",
            "template_type",
            "to",
            "verification_code",
            "verification_url"
        ]
    );
    assert_eq!(body["recovery_code"], "555123");
    assert_eq!(body["to"], "eve@example.com");
    assert_eq!(body["recovery_url"], Value::Null);
    assert_eq!(body["template_type"], "recovery_code_valid");
}

#[test]
fn courier_body_templates_are_checked_when_building() {
    let err = build(&courier_yaml(
        "http://127.0.0.1:9/",
        "{}",
        &b64("{a: nope}"),
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("courier.http.request_config.body") && err.contains("unknown variable"),
        "{err}"
    );
    let err = build(&courier_yaml(
        "http://127.0.0.1:9/",
        "{Content-Type: text/plain}",
        &b64("{}"),
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("courier.http.request_config.headers"), "{err}");
    let err = build(&courier_yaml(
        "http://127.0.0.1:9/",
        "{}",
        "file:///nonexistent/body.jsonnet",
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("cannot read"), "{err}");
}

fn web_hook_yaml(url: &str, headers: &str, body: &str, response: &str) -> String {
    format!(
        "selfservice:\n  flows:\n    registration:\n      after:\n        password:\n          hooks:\n            - hook: web_hook\n              config:\n                url: {url}\n                method: POST\n                headers: {headers}\n                body: {body}\n                response: {response}\n            - hook: session\n"
    )
}

async fn register(k: &Kratos, email: &str) -> Result<RegistrationSubmission, FlowError> {
    let ctx = FlowContext {
        request_url: Some("https://auth.example.com/self-service/registration".into()),
        client: kratos_core::session::ClientInfo {
            ip_address: Some("192.0.2.7".into()),
            user_agent: Some("jsonnet-test/1.0".into()),
        },
        ..FlowContext::default()
    };
    let flow = k.registration().create(FlowType::Api, &ctx).await?;
    k.registration()
        .submit(
            flow.id,
            &json!({"method": "password", "traits": {"email": email}, "password": "long enough pw"}),
            &ctx,
        )
        .await
}

const HOOK_BODY: &str = r#"function(ctx) {
  flow_id: ctx.flow.id,
  flow_type: ctx.flow.type,
  method: ctx.flow.active,
  identity_id: ctx.identity.id,
  email: ctx.identity.traits.email,
  has_session: "session" in ctx,
  user_agent: ctx.request_headers["User-Agent"][0],
  url: ctx.request_url,
  cookies: ctx.request_cookies,
}"#;

#[tokio::test]
async fn a_web_hook_sends_its_jsonnet_body() {
    let server = Recorder::start().await;
    let k = build(&web_hook_yaml(
        &server.url,
        "{X-Tenant: acme}",
        &b64(HOOK_BODY),
        "{parse: false}",
    ))
    .unwrap();
    let RegistrationSubmission::Completed(done) = register(&k, "hook@example.com").await.unwrap()
    else {
        panic!("the registration completes");
    };
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
    assert_eq!(seen[0].header("x-tenant"), Some("acme"));
    let body = seen[0].json();
    assert_eq!(body["identity_id"], json!(done.identity.id));
    assert_eq!(body["email"], "hook@example.com");
    assert_eq!(body["flow_type"], "api");
    assert_eq!(body["method"], "password");
    assert_eq!(body["has_session"], true);
    assert_eq!(body["user_agent"], "jsonnet-test/1.0");
    assert_eq!(
        body["url"],
        "https://auth.example.com/self-service/registration"
    );
    assert_eq!(body["cookies"], json!({}));
    assert!(body["flow_id"].is_string());
}

#[tokio::test]
async fn a_web_hook_sends_form_values_cancels_and_fails_as_its_template_says() {
    // Form values.
    let server = Recorder::start().await;
    let k = build(&web_hook_yaml(
        &server.url,
        "{Content-Type: application/x-www-form-urlencoded}",
        &b64("function(ctx) {email: ctx.identity.traits.email, source: 'kratos rs'}"),
        "{parse: true}",
    ))
    .unwrap();
    assert!(matches!(
        register(&k, "form+1@example.com").await.unwrap(),
        RegistrationSubmission::Completed(_)
    ));
    let seen = server.seen();
    assert_eq!(
        seen[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        seen[0].text(),
        "email=form%2B1%40example.com&source=kratos+rs"
    );

    // `error "cancel"`: no request, the hook succeeds (also with parse).
    let server = Recorder::start().await;
    let cancel = b64(
        "function(ctx) if std.endsWith(ctx.identity.traits.email, '@skip.example') then error 'cancel' else {}",
    );
    for response in ["{parse: true}", "{parse: false}"] {
        let k = build(&web_hook_yaml(&server.url, "{}", &cancel, response)).unwrap();
        assert!(matches!(
            register(&k, "quiet@skip.example").await.unwrap(),
            RegistrationSubmission::Completed(_)
        ));
        assert!(server.seen().is_empty(), "{response}");
        assert!(matches!(
            register(&k, "loud@example.com").await.unwrap(),
            RegistrationSubmission::Completed(_)
        ));
        assert_eq!(server.seen().len(), 1, "{response}");
        server.clear();
    }

    // A template that fails fails the hook (502) without quoting the context.
    let server = Recorder::start().await;
    let k = build(&web_hook_yaml(
        &server.url,
        "{}",
        &b64("function(ctx) error 'no: ' + ctx.identity.traits.email"),
        "{parse: true}",
    ))
    .unwrap();
    let err = register(&k, "secret-address@example.com")
        .await
        .unwrap_err();
    assert_eq!(err.status(), 502);
    assert!(!err.to_string().contains("secret-address"), "{err}");
    assert!(server.seen().is_empty());
}

#[test]
fn web_hook_body_templates_are_checked_when_building() {
    let err = build(&web_hook_yaml(
        "http://127.0.0.1:9/",
        "{}",
        &b64("function(ctx) {a: nope}"),
        "{parse: false}",
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("selfservice.flows.registration.after.password.hooks[0].config.body")
            && err.contains("unknown variable"),
        "{err}"
    );
    let err = build(&web_hook_yaml(
        "http://127.0.0.1:9/",
        "{Content-Type: text/xml}",
        &b64("{}"),
        "{parse: false}",
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("selfservice.flows.registration.after.password.hooks[0].config.headers"),
        "{err}"
    );
    // A base64 template's text is not quoted, even when it is not base64.
    let err = build(&web_hook_yaml(
        "http://127.0.0.1:9/",
        "{}",
        "'base64://sk-live-key-42!!'",
        "{parse: false}",
    ))
    .unwrap_err()
    .to_string();
    assert!(!err.contains("sk-live-key-42"), "{err}");
}
