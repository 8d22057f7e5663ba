//! Hostile requests to the Keto routers: OPL built to exhaust the parser's stack, bodies over
//! the limit, absurd query parameters, a subject-set chain longer than any tree may be deep.
//! None of them may take the process down or answer 5xx.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use keto_core::expand::MAX_EXPAND_TREE_DEPTH;
use keto_core::{Config, Keto, MemoryStore, RelationTuple, Schema, Subject, Tenant};
use kratos_axum::{KETO_DEFAULT_BODY_LIMIT, KetoOptions};
use serde_json::Value;
use tower::ServiceExt;

const OPL: &str = r#"
class User implements Namespace {}
class Group implements Namespace { related: { member: (User | SubjectSet<Group, "member">)[] } }
"#;

/// Stack of the threads the OPL requests are served on: far less than a tokio worker's
/// 2 MiB, so a parser recursing once per term would overflow it.
const SMALL_STACK: usize = 256 * 1024;

/// Terms in the long OPL chains.
const TERMS: usize = 30_000;

const ATOM: &str = "this.related.v.includes(ctx.subject)";

fn tenant(config: Config, tuples: &[RelationTuple]) -> Tenant {
    let store = MemoryStore::new();
    store.insert_many(uuid::Uuid::nil(), tuples);
    Keto::new(Schema::from_opl(OPL).unwrap(), Arc::new(store), config)
        .unwrap()
        .tenant(uuid::Uuid::nil())
}

/// Serves one request on a fresh thread with `stack` bytes of stack and a current-thread
/// runtime; answers the status and the body.
fn serve_on(
    stack: usize,
    app: Router,
    method: Method,
    uri: &str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
) -> (StatusCode, Vec<u8>) {
    let uri = uri.to_owned();
    std::thread::Builder::new()
        .stack_size(stack)
        .spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(async move {
                    let mut req = Request::builder().method(method).uri(uri);
                    if let Some(ct) = content_type {
                        req = req.header(header::CONTENT_TYPE, ct);
                    }
                    let res = app
                        .oneshot(req.body(Body::from(body)).unwrap())
                        .await
                        .unwrap();
                    let status = res.status();
                    let bytes = res.into_body().collect().await.unwrap().to_bytes();
                    (status, bytes.to_vec())
                })
        })
        .unwrap()
        .join()
        .expect("the request did not overflow the stack or panic")
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

fn with_permit(expr: &str) -> String {
    format!(
        "class User implements Namespace {{}}\nclass Doc implements Namespace {{\n  related: {{ v: User[] }}\n  permits = {{ p: (ctx: Context): boolean =>\n{expr}\n  }}\n}}\n"
    )
}

/// Posts `source` to `/opl/syntax/check` (body limit raised so the parser sees it) on a small
/// stack; answers the errors.
fn syntax_check(source: String) -> Vec<Value> {
    let app = kratos_axum::keto_read_router_with(
        tenant(Config::default(), &[]),
        KetoOptions::default().body_limit(8 * 1024 * 1024),
    );
    let (status, body) = serve_on(
        SMALL_STACK,
        app,
        Method::POST,
        "/opl/syntax/check",
        None,
        source.into_bytes(),
    );
    let body = json(&body);
    assert_eq!(status, StatusCode::OK, "{body}");
    body["errors"].as_array().expect("errors").clone()
}

#[test]
fn a_thirty_thousand_term_or_chain_is_checked_over_http() {
    let source = with_permit(&vec![ATOM; TERMS].join(" || "));
    assert!(source.len() > KETO_DEFAULT_BODY_LIMIT, "{}", source.len());
    assert_eq!(syntax_check(source), Vec::<Value>::new());
}

#[test]
fn a_thirty_thousand_term_and_chain_is_checked_over_http() {
    let source = with_permit(&vec![ATOM; TERMS].join(" && "));
    assert_eq!(syntax_check(source), Vec::<Value>::new());
}

fn only_nesting_error(errors: &[Value], line: u64, column: u64) {
    let first = errors.first().expect("an error");
    assert!(
        first["message"]
            .as_str()
            .is_some_and(|m| m.contains("nested too deeply")),
        "{errors:?}"
    );
    assert_eq!(first["start"]["Line"], line, "{first}");
    assert_eq!(first["start"]["column"], column, "{first}");
}

#[test]
fn thirty_thousand_open_parentheses_answer_a_positioned_error_over_http() {
    let errors = syntax_check(with_permit(&format!("{}{ATOM}", "(".repeat(TERMS))));
    only_nesting_error(&errors, 5, 11);
}

#[test]
fn thirty_thousand_negations_answer_a_positioned_error_over_http() {
    let errors = syntax_check(with_permit(&format!(
        "{}{ATOM}{}",
        "!(".repeat(TERMS),
        ")".repeat(TERMS)
    )));
    only_nesting_error(&errors, 5, 21);
    let errors = syntax_check(with_permit(&format!("{}{ATOM}", "!".repeat(TERMS))));
    assert_eq!(errors[0]["start"]["column"], 2, "{errors:?}");
}

#[test]
fn a_long_alternating_chain_answers_a_positioned_error_over_http() {
    let expr: String = (0..TERMS)
        .map(|i| match i {
            0 => ATOM.to_owned(),
            i if i % 2 == 1 => format!(" && {ATOM}"),
            _ => format!(" || {ATOM}"),
        })
        .collect();
    let errors = syntax_check(with_permit(&expr));
    let first = &errors[0];
    assert!(
        first["message"]
            .as_str()
            .is_some_and(|m| m.contains("nested too deeply")),
        "{first}"
    );
    assert_eq!(first["start"]["Line"], 5);
}

/// Sends a request on an ordinary test thread.
async fn send(app: &Router, method: Method, uri: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let res = app
        .clone()
        .oneshot(
            Request::builder()
                .method(method)
                .uri(uri)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        json(&bytes)
    };
    (status, body)
}

/// Asserts a Keto error body with `code` and returns its reason.
fn reason(status: StatusCode, body: &Value, code: u16) -> String {
    assert_eq!(status.as_u16(), code, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    body["error"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn bodies_over_the_limit_answer_413_on_every_route_that_reads_one() {
    let app = kratos_axum::keto_router(tenant(Config::default(), &[]));
    let big = vec![b' '; KETO_DEFAULT_BODY_LIMIT + 1];
    for (method, uri) in [
        (Method::POST, "/opl/syntax/check"),
        (Method::POST, "/relation-tuples/check"),
        (Method::POST, "/relation-tuples/check/openapi"),
        (Method::POST, "/relation-tuples/batch/check"),
        (Method::PUT, "/admin/relation-tuples"),
        (Method::PATCH, "/admin/relation-tuples"),
        (Method::DELETE, "/admin/relation-tuples?namespace=Group"),
    ] {
        let (status, body) = send(&app, method.clone(), uri, big.clone()).await;
        let r = reason(status, &body, 413);
        assert!(r.contains("larger than"), "{method} {uri}: {r}");
    }
    // A body at the limit is read (and then judged on its content).
    let at_limit = vec![b' '; KETO_DEFAULT_BODY_LIMIT];
    let (status, body) = send(&app, Method::POST, "/opl/syntax/check", at_limit).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn the_body_limit_is_configurable_per_router() {
    let t = tenant(Config::default(), &[]);
    let options = KetoOptions::default().body_limit(100);
    for app in [
        kratos_axum::keto_read_router_with(t.clone(), options.clone()),
        kratos_axum::keto_router_with(t.clone(), options.clone()),
    ] {
        let (status, body) = send(&app, Method::POST, "/opl/syntax/check", vec![b' '; 101]).await;
        reason(status, &body, 413);
        let (status, _) = send(&app, Method::POST, "/opl/syntax/check", vec![b' '; 100]).await;
        assert_eq!(status, StatusCode::OK);
    }
    let app = kratos_axum::keto_write_router_with(t, options);
    let (status, body) = send(&app, Method::PUT, "/admin/relation-tuples", vec![b' '; 101]).await;
    reason(status, &body, 413);
}

#[tokio::test]
async fn absurd_query_parameters_answer_400_naming_the_parameter() {
    let app = kratos_axum::keto_router(tenant(
        Config::default(),
        &["Group:a#member@User:alice".parse().unwrap()],
    ));
    let check = "/relation-tuples/check?namespace=Group&object=a&relation=member&subject_id=x";
    let expand = "/relation-tuples/expand?namespace=Group&object=a&relation=member";
    let cases = [
        (
            format!("{check}&max-depth=99999999999999999999999"),
            "max-depth",
        ),
        (format!("{check}&max-depth=65536"), "max-depth"),
        (
            format!("{check}&max-depth=-9223372036854775808"),
            "max-depth",
        ),
        (
            format!("{expand}&max-depth=9223372036854775807"),
            "max-depth",
        ),
        (
            format!("{check}&snaptoken=kv1_99999999999999999999999"),
            "snaptoken",
        ),
        (format!("{check}&snaptoken=%F0%9F"), "snaptoken"),
        (
            "/relation-tuples?page_size=99999999999999999999999".to_owned(),
            "page_size",
        ),
        ("/relation-tuples?page_size=-1".to_owned(), "page_size"),
        ("/relation-tuples?page_size=501".to_owned(), "page_size"),
        (
            "/relation-tuples?page_token=m1.99999999999999999999999".to_owned(),
            "page_token",
        ),
        (
            "/relation-tuples?page_token=%C3%28".to_owned(),
            "page_token",
        ),
        ("/relation-tuples?page_token=m1.-1".to_owned(), "page_token"),
    ];
    for (uri, param) in cases {
        let (status, body) = send(&app, Method::GET, &uri, Vec::new()).await;
        let r = reason(status, &body, 400);
        assert!(r.contains(&format!("\"{param}\"")), "{uri}: {r}");
    }
    // The largest sequence number is a valid token with nothing after it.
    let uri = format!("/relation-tuples?page_token=m1.{}", u64::MAX);
    let (status, body) = send(&app, Method::GET, &uri, Vec::new()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["relation_tuples"], Value::Array(Vec::new()));
    // Multi-byte and empty parts of a tuple are data, not a panic.
    for uri in [
        "/relation-tuples/check/openapi?namespace=Group&object=%E2%82%AC&relation=&subject_id=",
        "/relation-tuples/check/openapi?namespace=Group&object=&relation=member&subject_set.namespace=Group&subject_set.object=%F0%9F%98%80&subject_set.relation=",
        "/relation-tuples/check/openapi?namespace=Group&object=a&relation=member&subject_id=%FF%FE",
    ] {
        let (status, body) = send(&app, Method::GET, uri, Vec::new()).await;
        assert!(status.as_u16() < 500, "{uri}: {status} {body}");
    }
}

/// Depth of a JSON expand tree, counted without recursion.
fn tree_depth(v: &Value) -> usize {
    let mut max = 0;
    let mut stack = vec![(v, 1usize)];
    while let Some((n, d)) = stack.pop() {
        max = max.max(d);
        if let Some(children) = n["children"].as_array() {
            stack.extend(children.iter().map(|c| (c, d + 1)));
        }
    }
    max
}

#[test]
fn expanding_a_ten_thousand_long_chain_over_http_answers_a_bounded_tree() {
    let n = 10_000;
    let mut tuples: Vec<RelationTuple> = (0..n - 1)
        .map(|i| {
            RelationTuple::new(
                "Group",
                format!("g{i}"),
                "member",
                Subject::set("Group", format!("g{}", i + 1), "member"),
            )
        })
        .collect();
    // and a cycle back to the start
    tuples.push(RelationTuple::new(
        "Group",
        format!("g{}", n - 1),
        "member",
        Subject::set("Group", "g0", "member"),
    ));
    let config = Config {
        max_read_depth: 65535,
        max_expand_size: 65535,
        ..Config::default()
    };
    let app = kratos_axum::keto_router(tenant(config, &tuples));
    // Half a tokio worker's stack.
    let (status, body) = serve_on(
        1024 * 1024,
        app.clone(),
        Method::GET,
        "/relation-tuples/expand?namespace=Group&object=g0&relation=member&max-depth=65535",
        None,
        Vec::new(),
    );
    let body = json(&body);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tree_depth(&body), MAX_EXPAND_TREE_DEPTH);
    // A check along the chain ends at Keto's step budget: 422, not a crash.
    let (status, body) = serve_on(
        1536 * 1024,
        app,
        Method::GET,
        "/relation-tuples/check?namespace=Group&object=g0&relation=member&subject_id=nobody&max-depth=65535",
        None,
        Vec::new(),
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{}", json(&body));
}
