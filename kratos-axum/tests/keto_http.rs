//! HTTP tests of the Keto read and write routers: status codes and bodies for success and
//! failure, over the in-memory store.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use keto_core::{Config, Keto, MemoryStore, Schema, Tenant};
use serde_json::{Value, json};
use tower::ServiceExt;

const OPL: &str = r#"
class User implements Namespace {}
class Group implements Namespace {
  related: { members: (User | SubjectSet<Group, "members">)[] }
}
class Doc implements Namespace {
  related: {
    owners: User[]
    viewers: (User | SubjectSet<Group, "members">)[]
  }
  permits = {
    view: (ctx: Context): boolean =>
      this.related.viewers.includes(ctx.subject) || this.related.owners.includes(ctx.subject),
  }
}
"#;

fn engine() -> Keto {
    Keto::new(
        Schema::from_opl(OPL).unwrap(),
        Arc::new(MemoryStore::new()),
        Config::default(),
    )
    .unwrap()
}

fn tenant() -> Tenant {
    engine().tenant(uuid::Uuid::new_v4())
}

/// A tenant holding: Group:eng#members@User:alice, Doc:readme#viewers@Group:eng#members,
/// Doc:readme#viewers@User:carol, Doc:readme#owners@bob (a subject id).
async fn seeded() -> (Tenant, Router) {
    let t = tenant();
    let tuple = |s: &str| s.parse().unwrap();
    t.insert([
        tuple("Group:eng#members@User:alice"),
        tuple("Doc:readme#viewers@Group:eng#members"),
        tuple("Doc:readme#viewers@User:carol"),
        tuple("Doc:readme#owners@bob"),
    ])
    .await
    .unwrap();
    let app = kratos_axum::keto_router(t.clone());
    (t, app)
}

struct Res {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

async fn send(app: &Router, method: Method, uri: &str, ct: Option<&str>, body: &str) -> Res {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(ct) = ct {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
    };
    Res {
        status,
        headers,
        body,
    }
}

async fn get(app: &Router, uri: &str) -> Res {
    send(app, Method::GET, uri, None, "").await
}

async fn json(app: &Router, method: Method, uri: &str, body: &Value) -> Res {
    send(
        app,
        method,
        uri,
        Some("application/json"),
        &body.to_string(),
    )
    .await
}

/// Asserts Keto's error body and returns its reason.
fn error(res: &Res, code: u16) -> String {
    assert_eq!(res.status.as_u16(), code, "{}", res.body);
    let e = &res.body["error"];
    assert_eq!(e["code"], code, "{}", res.body);
    assert_eq!(
        e["status"],
        StatusCode::from_u16(code)
            .unwrap()
            .canonical_reason()
            .unwrap()
    );
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        res.body
    );
    e["reason"].as_str().unwrap_or_default().to_owned()
}

fn tuple_json(ns: &str, obj: &str, rel: &str, subject: &str) -> Value {
    let t: keto_core::RelationTuple = format!("{ns}:{obj}#{rel}@{subject}").parse().unwrap();
    serde_json::to_value(t).unwrap()
}

// ---------------------------------------------------------------- check

#[tokio::test]
async fn check_get_allowed_denied_and_openapi() {
    let (_, app) = seeded().await;
    let alice = "namespace=Doc&object=readme&relation=view&subject_set.namespace=User&subject_set.object=alice&subject_set.relation=";
    let r = get(&app, &format!("/relation-tuples/check?{alice}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"allowed": true}));

    // the subject set relation may be left out: `User:alice` has an empty relation
    let r = get(
        &app,
        "/relation-tuples/check?namespace=Doc&object=readme&relation=view&subject_set.namespace=User&subject_set.object=alice",
    )
    .await;
    assert_eq!(r.body, json!({"allowed": true}));

    // a subject id is a different subject than the subject set User:bob
    let r = get(
        &app,
        "/relation-tuples/check?namespace=Doc&object=readme&relation=view&subject_id=bob",
    )
    .await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::OK, json!({"allowed": true}))
    );

    let dave = "namespace=Doc&object=readme&relation=view&subject_set.namespace=User&subject_set.object=dave";
    let r = get(&app, &format!("/relation-tuples/check?{dave}")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body, json!({"allowed": false}));

    let r = get(&app, &format!("/relation-tuples/check/openapi?{dave}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"allowed": false}));
    let r = get(&app, &format!("/relation-tuples/check/openapi?{alice}")).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::OK, json!({"allowed": true}))
    );
}

#[tokio::test]
async fn check_post_and_openapi_post() {
    let (_, app) = seeded().await;
    let carol = tuple_json("Doc", "readme", "view", "User:carol");
    let dave = tuple_json("Doc", "readme", "view", "User:dave");
    let r = json(&app, Method::POST, "/relation-tuples/check", &carol).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::OK, json!({"allowed": true}))
    );
    let r = json(&app, Method::POST, "/relation-tuples/check", &dave).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::FORBIDDEN, json!({"allowed": false}))
    );
    let r = json(&app, Method::POST, "/relation-tuples/check/openapi", &dave).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::OK, json!({"allowed": false}))
    );
    let r = json(&app, Method::POST, "/relation-tuples/check/openapi", &carol).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::OK, json!({"allowed": true}))
    );
}

#[tokio::test]
async fn check_max_depth() {
    let (_, app) = seeded().await;
    // Doc:readme#view -> viewers -> Group:eng#members -> User:alice needs depth 2.
    let q = "namespace=Doc&object=readme&relation=view&subject_set.namespace=User&subject_set.object=alice";
    let r = get(&app, &format!("/relation-tuples/check?{q}&max-depth=1")).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::FORBIDDEN, json!({"allowed": false}))
    );
    let r = get(&app, &format!("/relation-tuples/check?{q}&max-depth=2")).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::OK, json!({"allowed": true}))
    );
    // 0 and values above the configured maximum mean the maximum
    for d in ["0", "100"] {
        let r = get(&app, &format!("/relation-tuples/check?{q}&max-depth={d}")).await;
        assert_eq!(r.body, json!({"allowed": true}), "max-depth={d}");
    }
    let carol = tuple_json("Doc", "readme", "view", "User:alice");
    let r = json(
        &app,
        Method::POST,
        "/relation-tuples/check?max-depth=1",
        &carol,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let reason = error(
        &get(&app, &format!("/relation-tuples/check?{q}&max-depth=deep")).await,
        400,
    );
    assert!(reason.contains("max-depth"), "{reason}");
    let reason = error(
        &get(&app, &format!("/relation-tuples/check?{q}&max-depth=-1")).await,
        400,
    );
    assert!(
        reason.contains("\"max-depth\" must be an integer between 0 and 65535, got \"-1\""),
        "{reason}"
    );
}

#[tokio::test]
async fn check_unknown_namespace_is_denied_unknown_relation_is_400() {
    let (_, app) = seeded().await;
    let q = "namespace=Nope&object=x&relation=view&subject_id=alice";
    let r = get(&app, &format!("/relation-tuples/check?{q}")).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::FORBIDDEN, json!({"allowed": false}))
    );
    let r = get(&app, &format!("/relation-tuples/check/openapi?{q}")).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::OK, json!({"allowed": false}))
    );
    // an unknown subject set namespace is denied too
    let t = tuple_json("Doc", "readme", "view", "Nope:alice");
    let r = json(&app, Method::POST, "/relation-tuples/check", &t).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::FORBIDDEN, json!({"allowed": false}))
    );

    let r = get(
        &app,
        "/relation-tuples/check?namespace=Doc&object=readme&relation=nope&subject_id=alice",
    )
    .await;
    assert!(error(&r, 400).contains(r#"relation "nope" does not exist"#));
}

#[tokio::test]
async fn check_malformed_input_is_400() {
    let (_, app) = seeded().await;
    let cases = [
        (
            "namespace=Doc&object=readme&relation=view",
            "subject is not allowed to be nil",
        ),
        (
            "namespace=Doc&object=readme&relation=view&subject_id=a&subject_set.namespace=User&subject_set.object=a",
            "exactly one of subject_set or subject_id",
        ),
        (
            "namespace=Doc&object=readme&relation=view&subject_set.namespace=User",
            "incomplete subject",
        ),
        (
            "namespace=Doc&object=readme&relation=view&subject=alice",
            "support for \"subject\" was dropped",
        ),
        (
            "object=readme&relation=view&subject_id=a",
            "incomplete tuple",
        ),
    ];
    for (q, want) in cases {
        for path in ["/relation-tuples/check", "/relation-tuples/check/openapi"] {
            let reason = error(&get(&app, &format!("{path}?{q}")).await, 400);
            assert!(reason.contains(want), "{path}?{q}: {reason}");
        }
    }

    // bodies: malformed JSON, wrong shape, wrong content type, empty
    for path in ["/relation-tuples/check", "/relation-tuples/check/openapi"] {
        let r = send(
            &app,
            Method::POST,
            path,
            Some("application/json"),
            "{not json",
        )
        .await;
        assert!(error(&r, 400).contains("could not be decoded"));
        let r = send(&app, Method::POST, path, Some("application/json"), "[1,2]").await;
        error(&r, 400);
        let body = json!({"namespace": "Doc", "object": "readme", "relation": "view"});
        let r = json(&app, Method::POST, path, &body).await;
        assert!(error(&r, 400).contains("subject is not allowed to be nil"));
        let r = send(
            &app,
            Method::POST,
            path,
            Some("text/plain"),
            &tuple_json("Doc", "readme", "view", "User:carol").to_string(),
        )
        .await;
        assert!(error(&r, 400).contains("Content-Type: application/json"));
        let r = send(&app, Method::POST, path, Some("application/json"), "").await;
        assert!(error(&r, 400).contains("empty"));
    }
}

// ---------------------------------------------------------------- batch check

#[tokio::test]
async fn batch_check() {
    let (_, app) = seeded().await;
    let body = json!({"tuples": [
        tuple_json("Doc", "readme", "view", "User:alice"),
        tuple_json("Doc", "readme", "view", "User:dave"),
        tuple_json("Nope", "x", "view", "User:alice"),
        tuple_json("Doc", "readme", "nope", "User:alice"),
    ]});
    let r = json(&app, Method::POST, "/relation-tuples/batch/check", &body).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body,
        json!({"results": [
            {"allowed": true},
            {"allowed": false},
            {"allowed": false, "error": "The requested resource could not be found"},
            {"allowed": false, "error": "relation \"nope\" does not exist"},
        ]})
    );

    // max-depth applies to every item
    let body = json!({"tuples": [tuple_json("Doc", "readme", "view", "User:alice")]});
    let r = json(
        &app,
        Method::POST,
        "/relation-tuples/batch/check?max-depth=1",
        &body,
    )
    .await;
    assert_eq!(r.body, json!({"results": [{"allowed": false}]}));

    let r = json(
        &app,
        Method::POST,
        "/relation-tuples/batch/check",
        &json!({"tuples": []}),
    )
    .await;
    assert_eq!((r.status, r.body), (StatusCode::OK, json!({"results": []})));

    let many: Vec<Value> = (0..11)
        .map(|i| tuple_json("Doc", &format!("d{i}"), "view", "User:alice"))
        .collect();
    let r = json(
        &app,
        Method::POST,
        "/relation-tuples/batch/check",
        &json!({ "tuples": many }),
    )
    .await;
    assert!(error(&r, 400).contains("batch exceeds max size of 10"));

    let r = send(
        &app,
        Method::POST,
        "/relation-tuples/batch/check",
        Some("application/json"),
        r#"{"tuples": [{"namespace": "Doc"}]}"#,
    )
    .await;
    error(&r, 400);
    let r = send(
        &app,
        Method::POST,
        "/relation-tuples/batch/check",
        Some("application/json"),
        r#"{"tuples": "#,
    )
    .await;
    assert!(error(&r, 400).contains("could not be decoded"));
}

// ---------------------------------------------------------------- expand

fn set(ns: &str, obj: &str, rel: &str) -> Value {
    json!({"namespace": "", "object": "", "relation": "",
        "subject_set": {"namespace": ns, "object": obj, "relation": rel}})
}

#[tokio::test]
async fn expand_tree_shape() {
    let (_, app) = seeded().await;
    let r = get(
        &app,
        "/relation-tuples/expand?namespace=Doc&object=readme&relation=viewers",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body,
        json!({
            "type": "union",
            "tuple": set("Doc", "readme", "viewers"),
            "children": [
                {
                    "type": "union",
                    "tuple": set("Group", "eng", "members"),
                    "children": [{"type": "leaf", "tuple": set("User", "alice", "")}],
                },
                {"type": "leaf", "tuple": set("User", "carol", "")},
            ],
        })
    );

    // a subject id is a leaf with `subject_id`
    let r = get(
        &app,
        "/relation-tuples/expand?namespace=Doc&object=readme&relation=owners",
    )
    .await;
    assert_eq!(
        r.body,
        json!({
            "type": "union",
            "tuple": set("Doc", "readme", "owners"),
            "children": [{"type": "leaf", "tuple":
                {"namespace": "", "object": "", "relation": "", "subject_id": "bob"}}],
        })
    );

    // max-depth 2 shows the group, not its members
    let r = get(
        &app,
        "/relation-tuples/expand?namespace=Doc&object=readme&relation=viewers&max-depth=2",
    )
    .await;
    assert_eq!(
        r.body["children"][0],
        json!({"type": "union", "tuple": set("Group", "eng", "members")})
    );
    assert_eq!(r.body["children"][1]["type"], "leaf");
}

#[tokio::test]
async fn expand_errors() {
    let (_, app) = seeded().await;
    let r = get(
        &app,
        "/relation-tuples/expand?namespace=Doc&object=nothing&relation=viewers",
    )
    .await;
    assert!(error(&r, 404).contains("Doc:nothing#viewers"));
    let r = get(
        &app,
        "/relation-tuples/expand?namespace=Nope&object=x&relation=viewers",
    )
    .await;
    assert!(error(&r, 404).contains("Nope"));
    let r = get(&app, "/relation-tuples/expand?namespace=Doc&object=readme").await;
    assert!(error(&r, 400).contains("required"));
    let r = get(
        &app,
        "/relation-tuples/expand?namespace=Doc&object=readme&relation=nope",
    )
    .await;
    assert!(error(&r, 400).contains(r#"relation "nope" does not exist"#));
    let r = get(
        &app,
        "/relation-tuples/expand?namespace=Doc&object=readme&relation=viewers&max-depth=x",
    )
    .await;
    error(&r, 400);
}

// ---------------------------------------------------------------- list

#[tokio::test]
async fn list_with_filters_and_pagination() {
    let t = tenant();
    let app = kratos_axum::keto_read_router(t.clone());
    let tuples: Vec<keto_core::RelationTuple> = (0..5)
        .map(|i| format!("Doc:d{i}#viewers@User:u{i}").parse().unwrap())
        .chain(["Doc:d0#owners@bob".parse().unwrap()])
        .chain(["Group:g#members@User:u0".parse().unwrap()])
        .collect();
    t.insert(tuples.clone()).await.unwrap();

    let r = get(
        &app,
        "/relation-tuples?namespace=Doc&relation=viewers&page_size=2",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let mut seen: Vec<Value> = r.body["relation_tuples"].as_array().unwrap().clone();
    assert_eq!(seen.len(), 2);
    let mut token = r.body["next_page_token"].as_str().unwrap().to_owned();
    assert!(!token.is_empty());
    let mut pages = 1;
    while !token.is_empty() {
        let r = get(
            &app,
            &format!(
                "/relation-tuples?namespace=Doc&relation=viewers&page_size=2&page_token={}",
                form_urlencode(&token)
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        seen.extend(
            r.body["relation_tuples"]
                .as_array()
                .unwrap()
                .iter()
                .cloned(),
        );
        token = r.body["next_page_token"].as_str().unwrap().to_owned();
        pages += 1;
    }
    assert_eq!(pages, 3);
    let want: Vec<Value> = tuples[..5]
        .iter()
        .map(|t| serde_json::to_value(t).unwrap())
        .collect();
    assert_eq!(seen, want);

    // filters
    let r = get(&app, "/relation-tuples?subject_id=bob").await;
    assert_eq!(
        r.body,
        json!({"relation_tuples": [tuple_json("Doc", "d0", "owners", "bob")], "next_page_token": ""})
    );
    let r = get(
        &app,
        "/relation-tuples?subject_set.namespace=User&subject_set.object=u0&subject_set.relation=",
    )
    .await;
    assert_eq!(
        r.body["relation_tuples"],
        json!([
            tuple_json("Doc", "d0", "viewers", "User:u0"),
            tuple_json("Group", "g", "members", "User:u0"),
        ])
    );
    let r = get(&app, "/relation-tuples?namespace=Doc&object=d3").await;
    assert_eq!(
        r.body["relation_tuples"],
        json!([tuple_json("Doc", "d3", "viewers", "User:u3")])
    );
    let r = get(&app, "/relation-tuples?namespace=Group&object=none").await;
    assert_eq!(
        r.body,
        json!({"relation_tuples": [], "next_page_token": ""})
    );
}

fn form_urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn list_errors() {
    let (_, app) = seeded().await;
    let r = get(&app, "/relation-tuples?namespace=Nope").await;
    assert!(error(&r, 404).contains("Nope"));
    let r = get(&app, "/relation-tuples?namespace=Doc&page_token=garbage").await;
    assert!(error(&r, 400).contains("\"page_token\" is invalid"));
    let r = get(&app, "/relation-tuples?namespace=Doc&page_size=many").await;
    assert!(error(&r, 400).contains("page_size"));
    let r = get(&app, "/relation-tuples?namespace=Doc&page_size=100000").await;
    assert!(error(&r, 400).contains("\"page_size\" must be between 1 and 500, got 100000"));
    let r = get(
        &app,
        "/relation-tuples?namespace=Doc&subject_set.namespace=User",
    )
    .await;
    assert!(error(&r, 400).contains("incomplete subject"));
}

// ---------------------------------------------------------------- namespaces and OPL

#[tokio::test]
async fn namespaces() {
    let app = kratos_axum::keto_read_router(tenant());
    let r = get(&app, "/namespaces").await;
    assert_eq!(r.status, StatusCode::OK);
    let mut names: Vec<&str> = r.body["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["Doc", "Group", "User"]);
}

#[tokio::test]
async fn opl_syntax_check() {
    let app = kratos_axum::keto_read_router(tenant());
    let r = send(
        &app,
        Method::POST,
        "/opl/syntax/check",
        Some("text/plain"),
        OPL,
    )
    .await;
    assert_eq!((r.status, r.body), (StatusCode::OK, json!({"errors": []})));

    let bad = "class User implements Namespace {}\nclass Doc implements Namespace {\n  related: { owners: Usr[] }\n}\n";
    let r = send(
        &app,
        Method::POST,
        "/opl/syntax/check",
        Some("text/plain"),
        bad,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let errors = r.body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{}", r.body);
    let e = &errors[0];
    assert!(e["message"].as_str().unwrap().contains("Usr"), "{}", r.body);
    // Keto spells the line key with a capital L
    assert_eq!(e["start"]["Line"], 3, "{}", r.body);
    assert!(e["start"]["column"].as_u64().unwrap() > 0);
    assert_eq!(e["end"]["Line"], 3);
    assert!(e["end"]["column"].as_u64() > e["start"]["column"].as_u64());
    assert!(e["start"].get("line").is_none());

    let r = send(
        &app,
        Method::POST,
        "/opl/syntax/check",
        Some("text/plain"),
        "class Doc implements Namespace {",
    )
    .await;
    assert!(!r.body["errors"].as_array().unwrap().is_empty());

    let req = Request::builder()
        .method(Method::POST)
        .uri("/opl/syntax/check")
        .body(Body::from(vec![0xff, 0xfe, 0x00]))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

// ---------------------------------------------------------------- writes

#[tokio::test]
async fn put_creates_a_tuple() {
    let t = tenant();
    let app = kratos_axum::keto_router(t.clone());
    let body = tuple_json("Doc", "new doc", "viewers", "Group:eng#members");
    let r = json(&app, Method::PUT, "/admin/relation-tuples", &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body, body);
    assert_eq!(
        r.headers[header::LOCATION],
        "/relation-tuples?namespace=Doc&object=new+doc&relation=viewers&subject_set.namespace=Group&subject_set.object=eng&subject_set.relation=members"
    );
    let token = r.headers[kratos_axum::SNAPTOKEN_HEADER]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(token.starts_with("kv1_"), "{token}");

    // the Location reads the tuple back
    let r = get(&app, r.headers[header::LOCATION].to_str().unwrap()).await;
    assert_eq!(r.body["relation_tuples"], json!([body]));

    // read-your-writes with the token
    let r = json(
        &app,
        Method::PUT,
        "/admin/relation-tuples",
        &tuple_json("Group", "eng", "members", "User:alice"),
    )
    .await;
    let token = r.headers[kratos_axum::SNAPTOKEN_HEADER].to_str().unwrap();
    let r = get(
        &app,
        &format!("/relation-tuples/check?namespace=Doc&object=new%20doc&relation=viewers&subject_set.namespace=User&subject_set.object=alice&snaptoken={token}"),
    )
    .await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::OK, json!({"allowed": true}))
    );

    // creating the same tuple again succeeds and stores it once
    let r = json(&app, Method::PUT, "/admin/relation-tuples", &body).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = get(&app, "/relation-tuples?namespace=Doc").await;
    assert_eq!(r.body["relation_tuples"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn put_errors() {
    let app = kratos_axum::keto_write_router(tenant());
    let r = json(
        &app,
        Method::PUT,
        "/admin/relation-tuples",
        &tuple_json("Nope", "x", "viewers", "bob"),
    )
    .await;
    assert!(error(&r, 404).contains("Nope"));
    let r = json(
        &app,
        Method::PUT,
        "/admin/relation-tuples",
        &tuple_json("Doc", "x", "nope", "bob"),
    )
    .await;
    assert!(error(&r, 400).contains(r#"relation "nope" does not exist"#));
    let r = json(
        &app,
        Method::PUT,
        "/admin/relation-tuples",
        &json!({"namespace": "Doc", "object": "x", "relation": "viewers",
            "subject_set": {"namespace": "User"}}),
    )
    .await;
    assert!(error(&r, 400).contains("incomplete subject"));
    let r = send(
        &app,
        Method::PUT,
        "/admin/relation-tuples",
        Some("application/json"),
        "{\"namespace\":",
    )
    .await;
    assert!(error(&r, 400).contains("could not be decoded"));
    let r = send(
        &app,
        Method::PUT,
        "/admin/relation-tuples",
        Some("application/x-www-form-urlencoded"),
        "namespace=Doc",
    )
    .await;
    error(&r, 400);
}

#[tokio::test]
async fn patch_inserts_and_deletes() {
    let (_, app) = seeded().await;
    let body = json!([
        {"action": "insert", "relation_tuple": tuple_json("Doc", "readme", "viewers", "User:dave")},
        {"action": "delete", "relation_tuple": tuple_json("Doc", "readme", "viewers", "User:carol")},
    ]);
    let r = json(&app, Method::PATCH, "/admin/relation-tuples", &body).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.body, Value::Null);
    assert!(r.headers.contains_key(kratos_axum::SNAPTOKEN_HEADER));
    let r = get(
        &app,
        "/relation-tuples?namespace=Doc&object=readme&relation=viewers",
    )
    .await;
    assert_eq!(
        r.body["relation_tuples"],
        json!([
            tuple_json("Doc", "readme", "viewers", "Group:eng#members"),
            tuple_json("Doc", "readme", "viewers", "User:dave"),
        ])
    );

    // one transaction: a bad item rejects the whole patch
    let body = json!([
        {"action": "insert", "relation_tuple": tuple_json("Doc", "readme", "viewers", "User:erin")},
        {"action": "insert", "relation_tuple": tuple_json("Nope", "x", "y", "User:erin")},
    ]);
    let r = json(&app, Method::PATCH, "/admin/relation-tuples", &body).await;
    error(&r, 404);
    let r = get(
        &app,
        "/relation-tuples?subject_set.namespace=User&subject_set.object=erin",
    )
    .await;
    assert_eq!(r.body["relation_tuples"], json!([]));

    let r = json(
        &app,
        Method::PATCH,
        "/admin/relation-tuples",
        &json!([{"action": "upsert", "relation_tuple": tuple_json("Doc", "a", "viewers", "x")}]),
    )
    .await;
    assert!(error(&r, 400).contains("upsert"));
    let r = json(
        &app,
        Method::PATCH,
        "/admin/relation-tuples",
        &json!({"action": "insert"}),
    )
    .await;
    error(&r, 400);
    let r = send(
        &app,
        Method::PATCH,
        "/admin/relation-tuples",
        Some("application/json"),
        "[{",
    )
    .await;
    assert!(error(&r, 400).contains("could not be decoded"));
}

#[tokio::test]
async fn delete_by_filter() {
    let (_, app) = seeded().await;
    let r = send(
        &app,
        Method::DELETE,
        "/admin/relation-tuples?namespace=Doc&relation=viewers",
        None,
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.headers.contains_key(kratos_axum::SNAPTOKEN_HEADER));
    let r = get(&app, "/relation-tuples?namespace=Doc").await;
    assert_eq!(
        r.body["relation_tuples"],
        json!([tuple_json("Doc", "readme", "owners", "bob")])
    );
    let r = get(&app, "/relation-tuples?namespace=Group").await;
    assert_eq!(r.body["relation_tuples"].as_array().unwrap().len(), 1);

    // by subject
    let r = send(
        &app,
        Method::DELETE,
        "/admin/relation-tuples?namespace=Doc&subject_id=bob",
        None,
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = get(&app, "/relation-tuples?namespace=Doc").await;
    assert_eq!(r.body["relation_tuples"], json!([]));
}

#[tokio::test]
async fn delete_errors() {
    let (_, app) = seeded().await;
    let del = |uri: &'static str, body: &'static str| {
        let app = app.clone();
        async move { send(&app, Method::DELETE, uri, None, body).await }
    };
    let r = del("/admin/relation-tuples?object=readme", "").await;
    assert!(error(&r, 400).contains("\"namespace\" is required"));
    let r = del("/admin/relation-tuples", "").await;
    error(&r, 400);
    let r = del("/admin/relation-tuples?namespace=Doc&subjectid=bob", "").await;
    assert!(error(&r, 400).contains("unknown query parameter \"subjectid\""));
    let r = del("/admin/relation-tuples?namespace=Doc", "{\"object\":\"x\"}").await;
    assert!(error(&r, 400).contains("body must be empty"));
    let r = del("/admin/relation-tuples?namespace=Nope", "").await;
    assert!(error(&r, 404).contains("Nope"));
    // nothing was deleted by the refused requests
    let r = get(&app, "/relation-tuples?namespace=Doc").await;
    assert_eq!(r.body["relation_tuples"].as_array().unwrap().len(), 3);
}

// ---------------------------------------------------------------- snapshot tokens, tenants, routing

#[tokio::test]
async fn snaptoken_errors() {
    let (_, app) = seeded().await;
    let q = "namespace=Doc&object=readme&relation=view&subject_id=bob";
    let r = get(
        &app,
        &format!("/relation-tuples/check?{q}&snaptoken=nonsense"),
    )
    .await;
    assert!(error(&r, 400).contains("snapshot token"));
    let r = get(
        &app,
        &format!("/relation-tuples/check?{q}&snaptoken=kv1_999999999"),
    )
    .await;
    error(&r, 503);
    let r = get(
        &app,
        "/relation-tuples?namespace=Doc&snaptoken=kv1_999999999",
    )
    .await;
    error(&r, 503);
    let r = get(
        &app,
        "/relation-tuples/expand?namespace=Doc&object=readme&relation=viewers&snaptoken=kv1_999999999",
    )
    .await;
    error(&r, 503);
}

#[tokio::test]
async fn tenants_are_isolated() {
    let keto = engine();
    let a = keto.tenant(uuid::Uuid::new_v4());
    let b = keto.tenant(uuid::Uuid::new_v4());
    let app_a = kratos_axum::keto_router(a);
    let app_b = kratos_axum::keto_router(b);
    let body = tuple_json("Doc", "x", "owners", "alice");
    let r = json(&app_a, Method::PUT, "/admin/relation-tuples", &body).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let q = "/relation-tuples/check?namespace=Doc&object=x&relation=view&subject_id=alice";
    assert_eq!(get(&app_a, q).await.status, StatusCode::OK);
    assert_eq!(get(&app_b, q).await.status, StatusCode::FORBIDDEN);
    let r = get(&app_b, "/relation-tuples?namespace=Doc").await;
    assert_eq!(r.body["relation_tuples"], json!([]));
}

#[tokio::test]
async fn read_and_write_routers_are_separate() {
    let t = tenant();
    let read = kratos_axum::keto_read_router(t.clone());
    let write = kratos_axum::keto_write_router(t);
    let body = tuple_json("Doc", "x", "owners", "alice");
    let r = json(&read, Method::PUT, "/admin/relation-tuples", &body).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = send(
        &write,
        Method::GET,
        "/relation-tuples?namespace=Doc",
        None,
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = json(&write, Method::PUT, "/admin/relation-tuples", &body).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = get(
        &read,
        "/relation-tuples/check?namespace=Doc&object=x&relation=view&subject_id=alice",
    )
    .await;
    assert_eq!(r.body, json!({"allowed": true}));
}

#[tokio::test]
async fn strict_mode_limit_is_422() {
    let keto = Keto::new(
        Schema::from_opl(OPL).unwrap(),
        Arc::new(MemoryStore::new()),
        Config {
            strict_mode: true,
            ..Config::default()
        },
    )
    .unwrap();
    let t = keto.tenant(uuid::Uuid::new_v4());
    t.insert([
        "Group:eng#members@User:alice".parse().unwrap(),
        "Doc:readme#viewers@Group:eng#members".parse().unwrap(),
    ])
    .await
    .unwrap();
    let app = kratos_axum::keto_read_router(t);
    let q = "namespace=Doc&object=readme&relation=view&subject_set.namespace=User&subject_set.object=alice";
    let r = get(&app, &format!("/relation-tuples/check?{q}")).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::OK, json!({"allowed": true}))
    );
    let r = get(&app, &format!("/relation-tuples/check?{q}&max-depth=1")).await;
    assert!(error(&r, 422).contains("max_depth_exceeded"));
    let r = get(
        &app,
        &format!("/relation-tuples/check/openapi?{q}&max-depth=1"),
    )
    .await;
    error(&r, 422);
}
