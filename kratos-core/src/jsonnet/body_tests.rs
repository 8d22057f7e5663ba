use serde_json::json;

use super::*;

const TEST_BODY: &str = "function(ctx) {\n  from: ctx.from,\n  to: ctx.to,\n  body: ctx.body,\n}";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn b64(s: &str) -> String {
    format!(
        "base64://{}",
        base64::engine::general_purpose::STANDARD.encode(s)
    )
}

fn headers(content_type: Option<&str>) -> Vec<(http::HeaderName, http::HeaderValue)> {
    content_type
        .map(|v| {
            (
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_str(v).unwrap(),
            )
        })
        .into_iter()
        .collect()
}

fn sms() -> Value {
    json!({"to": "+14134242223", "from": "+13104661805", "body": "test-sms-body"})
}

#[test]
fn the_format_follows_the_content_type() {
    let json = BodyFormat::from_headers(&headers(None), true).unwrap();
    assert_eq!(json.encoding, BodyEncoding::Json);
    assert_eq!(json.content_type, CONTENT_TYPE_JSON);
    let form = BodyFormat::from_headers(&headers(Some(CONTENT_TYPE_FORM)), true).unwrap();
    assert_eq!(form.encoding, BodyEncoding::Form);
    assert_eq!(form.content_type, CONTENT_TYPE_FORM);
    let with_charset =
        BodyFormat::from_headers(&headers(Some("Application/JSON; charset=utf-8")), true).unwrap();
    assert_eq!(with_charset.encoding, BodyEncoding::Json);
    assert_eq!(with_charset.content_type, "Application/JSON; charset=utf-8");
    for (ct, templated) in [
        ("text/plain", true),
        ("text/plain", false),
        (CONTENT_TYPE_FORM, false),
    ] {
        let err = BodyFormat::from_headers(&headers(Some(ct)), templated).unwrap_err();
        assert!(err.contains("Content-Type"), "{err}");
    }
}

#[test]
fn json_bodies_are_the_templates_output() {
    let template = BodyTemplate::load(&b64(TEST_BODY)).unwrap();
    let format = BodyFormat::from_headers(&headers(None), true).unwrap();
    let body = rt()
        .block_on(render(Some(&template), &format, &sms()))
        .unwrap();
    let value: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        value,
        json!({"body": "test-sms-body", "from": "+13104661805", "to": "+14134242223"})
    );
    // Without a template the body is the context.
    let body = rt().block_on(render(None, &format, &sms())).unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), sms());
}

#[test]
fn form_bodies_are_the_outputs_strings_in_key_order() {
    let template = BodyTemplate::load(&b64(TEST_BODY)).unwrap();
    let format = BodyFormat::from_headers(&headers(Some(CONTENT_TYPE_FORM)), true).unwrap();
    let body = rt()
        .block_on(render(Some(&template), &format, &sms()))
        .unwrap();
    // Kratos's request/builder_test.go "POST request with urlencoded body".
    assert_eq!(
        &body[..],
        b"body=test-sms-body&from=%2B13104661805&to=%2B14134242223"
    );
}

#[test]
fn form_values_are_escaped_as_go_escapes_them() {
    let mut out = String::new();
    query_escape("a b+c&d=e/é~*_-.", &mut out);
    assert_eq!(out, "a+b%2Bc%26d%3De%2F%C3%A9~%2A_-.");
    assert_eq!(form(r#"{"b": null, "a": "1"}"#).unwrap(), "a=1&b=");
    assert_eq!(form("null").unwrap(), "");
    assert_eq!(form("{}").unwrap(), "");
}

#[test]
fn form_outputs_that_are_not_objects_of_strings_fail() {
    let format = BodyFormat::from_headers(&headers(Some(CONTENT_TYPE_FORM)), true).unwrap();
    for source in [
        "function(ctx) {n: 1}",
        "function(ctx) {nested: {a: 'b'}}",
        "function(ctx) {list: ['a']}",
        "function(ctx) {t: true}",
        "function(ctx) ['a']",
        "function(ctx) 'text'",
    ] {
        let template = BodyTemplate::from_source("t", source).unwrap();
        let err = rt()
            .block_on(render(Some(&template), &format, &sms()))
            .unwrap_err();
        assert!(matches!(err, BodyError::NotAForm(_)), "{source}: {err:?}");
    }
    // An output nested deeper than serde_json reads is refused, not read recursively.
    let deep = format!("{{a: {}1{}}}", "[".repeat(200), "]".repeat(200));
    let template = BodyTemplate::from_source("t", deep).unwrap();
    let err = rt()
        .block_on(render(Some(&template), &format, &sms()))
        .unwrap_err();
    assert!(matches!(err, BodyError::NotAForm(_)), "{err:?}");
}

#[test]
fn cancel_calls_off_json_bodies_only() {
    let template = BodyTemplate::from_source("t", "error 'cancel'").unwrap();
    let json = BodyFormat::from_headers(&headers(None), true).unwrap();
    let err = rt()
        .block_on(render(Some(&template), &json, &sms()))
        .unwrap_err();
    assert!(err.is_cancelled(), "{err:?}");
    let form = BodyFormat::from_headers(&headers(Some(CONTENT_TYPE_FORM)), true).unwrap();
    let err = rt()
        .block_on(render(Some(&template), &form, &sms()))
        .unwrap_err();
    assert!(!err.is_cancelled(), "{err:?}");
}

#[test]
fn templates_load_from_files_base64_and_plain_paths() {
    let dir = std::env::temp_dir().join(format!("kratos-jsonnet-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("body.jsonnet");
    std::fs::write(&path, TEST_BODY).unwrap();
    let format = BodyFormat::from_headers(&headers(Some(CONTENT_TYPE_FORM)), true).unwrap();
    for uri in [
        format!("file://{}", path.display()),
        path.display().to_string(),
        b64(TEST_BODY),
        format!(
            "base64://{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(TEST_BODY)
        ),
    ] {
        let template = BodyTemplate::load(&uri).unwrap();
        let body = rt()
            .block_on(render(Some(&template), &format, &sms()))
            .unwrap();
        assert!(body.starts_with(b"body=test-sms-body"), "{uri}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        BodyTemplate::load("file:///nonexistent/body.jsonnet")
            .unwrap_err()
            .contains("cannot read")
    );
    assert!(BodyTemplate::load("ftp://x/y").is_err());
    let err = BodyTemplate::load("base64://!!!not-base64-sk_live_1!!!").unwrap_err();
    assert!(!err.contains("sk_live_1"), "{err}");
    let err = BodyTemplate::load(&b64("{a: nope}")).unwrap_err();
    assert!(err.contains("unknown variable"), "{err}");
}

#[test]
fn remote_templates_are_fetched_at_first_use_and_kept() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = rt();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = served.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{TEST_BODY}",
                    TEST_BODY.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
        let template =
            BodyTemplate::load(&format!("http://user:pw-remote-9@{addr}/body.jsonnet")).unwrap();
        assert!(!format!("{template:?}").contains("pw-remote-9"));
        assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 0);
        let format = BodyFormat::from_headers(&headers(None), true).unwrap();
        for _ in 0..3 {
            let body = render(Some(&template), &format, &sms()).await.unwrap();
            assert_eq!(
                serde_json::from_slice::<Value>(&body).unwrap()["to"],
                "+14134242223"
            );
        }
        assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 1);
        // An unreachable template fails the send, naming the URL without its password.
        let gone = BodyTemplate::load("http://u:pw-gone-8@127.0.0.1:9/body.jsonnet").unwrap();
        let err = render(Some(&gone), &format, &sms()).await.unwrap_err();
        assert!(matches!(err, BodyError::Fetch { .. }), "{err:?}");
        assert!(!err.to_string().contains("pw-gone-8"), "{err}");
    });
}

#[test]
fn body_sources_are_redacted_for_messages() {
    assert_eq!(
        redact_body_source(&b64("{key: 'sk_live'}")),
        "base64://<redacted>"
    );
    assert!(!redact_body_source("https://u:pw-1@h.example/b.jsonnet").contains("pw-1"));
    assert_eq!(
        redact_body_source("file:///etc/body.jsonnet"),
        "file:///etc/body.jsonnet"
    );
}
