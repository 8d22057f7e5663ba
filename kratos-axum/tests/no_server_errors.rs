//! Property test: arbitrary request bodies and query strings sent to every route of the
//! public, admin and Keto routers never get a 5xx answer. Ids in paths and queries are drawn
//! from real flows, identities and sessions as well as from noise, so requests reach the
//! handlers' deeper paths, not only their first check.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request};
use keto_core::{Config, Keto, MemoryStore, Schema};
use proptest::prelude::*;
use serde_json::json;
use tower::ServiceExt;

mod common;
use common::*;

const CONFIG: &str = "serve:
  public:
    base_url: https://auth.example.com/
selfservice:
  default_browser_return_url: https://app.example.com/
  allowed_return_urls:
    - https://app.example.com/
  methods:
    code:
      enabled: true
      passwordless_enabled: true
    link:
      enabled: true
  flows:
    registration:
      after:
        password:
          hooks:
            - hook: session
    settings:
      ui_url: https://app.example.com/settings
    verification:
      enabled: true
      ui_url: https://app.example.com/verification
    recovery:
      enabled: true
      ui_url: https://app.example.com/recovery
";

const OPL: &str = r#"
class User implements Namespace {}
class Group implements Namespace {
  related: { members: (User | SubjectSet<Group, "members">)[] }
}
class Doc implements Namespace {
  related: { viewers: (User | SubjectSet<Group, "members">)[] }
  permits = { view: (ctx: Context): boolean => this.related.viewers.includes(ctx.subject) }
}
"#;

/// Which router a route belongs to.
#[derive(Clone, Copy, Debug)]
enum Api {
    Public,
    Admin,
    Keto,
}

/// Every route, with `{id}` standing for an id drawn per case.
const ROUTES: &[(Api, &str, &str)] = &[
    (Api::Public, "GET", "/self-service/login/browser"),
    (Api::Public, "GET", "/self-service/login/api"),
    (Api::Public, "GET", "/self-service/login/flows"),
    (Api::Public, "POST", "/self-service/login"),
    (Api::Public, "GET", "/self-service/registration/browser"),
    (Api::Public, "GET", "/self-service/registration/api"),
    (Api::Public, "GET", "/self-service/registration/flows"),
    (Api::Public, "POST", "/self-service/registration"),
    (Api::Public, "GET", "/self-service/settings/browser"),
    (Api::Public, "GET", "/self-service/settings/api"),
    (Api::Public, "GET", "/self-service/settings/flows"),
    (Api::Public, "POST", "/self-service/settings"),
    (Api::Public, "GET", "/self-service/verification/browser"),
    (Api::Public, "GET", "/self-service/verification/api"),
    (Api::Public, "GET", "/self-service/verification/flows"),
    (Api::Public, "GET", "/self-service/verification"),
    (Api::Public, "POST", "/self-service/verification"),
    (Api::Public, "GET", "/self-service/recovery/browser"),
    (Api::Public, "GET", "/self-service/recovery/api"),
    (Api::Public, "GET", "/self-service/recovery/flows"),
    (Api::Public, "GET", "/self-service/recovery"),
    (Api::Public, "POST", "/self-service/recovery"),
    (Api::Public, "GET", "/self-service/logout/browser"),
    (Api::Public, "GET", "/self-service/logout"),
    (Api::Public, "DELETE", "/self-service/logout/api"),
    (Api::Public, "GET", "/sessions/whoami"),
    (Api::Public, "GET", "/sessions"),
    (Api::Public, "DELETE", "/sessions"),
    (Api::Public, "DELETE", "/sessions/{id}"),
    (Api::Public, "GET", "/sessions/token-exchange"),
    (Api::Public, "GET", "/schemas"),
    (Api::Public, "GET", "/schemas/{id}"),
    (Api::Admin, "GET", "/admin/identities"),
    (Api::Admin, "POST", "/admin/identities"),
    (Api::Admin, "PATCH", "/admin/identities"),
    (Api::Admin, "GET", "/admin/identities/{id}"),
    (Api::Admin, "PUT", "/admin/identities/{id}"),
    (Api::Admin, "PATCH", "/admin/identities/{id}"),
    (Api::Admin, "DELETE", "/admin/identities/{id}"),
    (Api::Admin, "GET", "/admin/identities/by/external/{id}"),
    (
        Api::Admin,
        "DELETE",
        "/admin/identities/{id}/credentials/password",
    ),
    (Api::Admin, "GET", "/admin/identities/{id}/sessions"),
    (Api::Admin, "DELETE", "/admin/identities/{id}/sessions"),
    (Api::Admin, "GET", "/admin/sessions/{id}"),
    (Api::Admin, "DELETE", "/admin/sessions/{id}"),
    (Api::Admin, "PATCH", "/admin/sessions/{id}/extend"),
    (Api::Admin, "POST", "/admin/recovery/code"),
    (Api::Admin, "POST", "/admin/recovery/link"),
    (Api::Admin, "GET", "/admin/courier/messages"),
    (Api::Admin, "GET", "/admin/courier/messages/{id}"),
    (Api::Keto, "GET", "/relation-tuples/check"),
    (Api::Keto, "POST", "/relation-tuples/check"),
    (Api::Keto, "GET", "/relation-tuples/check/openapi"),
    (Api::Keto, "POST", "/relation-tuples/check/openapi"),
    (Api::Keto, "POST", "/relation-tuples/batch/check"),
    (Api::Keto, "GET", "/relation-tuples/expand"),
    (Api::Keto, "GET", "/relation-tuples"),
    (Api::Keto, "GET", "/namespaces"),
    (Api::Keto, "POST", "/opl/syntax/check"),
    (Api::Keto, "PUT", "/admin/relation-tuples"),
    (Api::Keto, "PATCH", "/admin/relation-tuples"),
    (Api::Keto, "DELETE", "/admin/relation-tuples"),
];

/// Query keys the routes read.
const KEYS: &[&str] = &[
    "flow",
    "id",
    "token",
    "code",
    "return_to",
    "refresh",
    "aal",
    "login_challenge",
    "page_size",
    "per_page",
    "page",
    "page_token",
    "ids",
    "credentials_identifier",
    "include_credential",
    "expand",
    "active",
    "status",
    "recipient",
    "namespace",
    "object",
    "relation",
    "subject_id",
    "subject_set.namespace",
    "subject_set.object",
    "subject_set.relation",
    "max-depth",
    "snaptoken",
    "action",
];

/// Body fields the handlers read.
const FIELDS: &[&str] = &[
    "method",
    "identifier",
    "password",
    "traits",
    "traits.email",
    "csrf_token",
    "email",
    "code",
    "resend",
    "schema_id",
    "state",
    "identity_id",
    "expires_in",
    "flow_type",
    "namespace",
    "object",
    "relation",
    "subject_id",
    "subject_set",
    "tuples",
    "credentials",
    "metadata_public",
    "identities",
    "op",
    "path",
    "value",
    "relation_tuple",
];

struct World {
    public: Router,
    admin: Router,
    keto: Router,
    /// Ids of real things: flows of each kind, an identity, a session.
    ids: Vec<String>,
    token: String,
}

async fn world() -> World {
    let app = mail_app(CONFIG);
    let keto = Keto::new(
        Schema::from_opl(OPL).unwrap(),
        Arc::new(MemoryStore::new()),
        Config::default(),
    )
    .unwrap();
    let mut ids = Vec::new();
    for kind in [
        "login",
        "registration",
        "verification",
        "recovery",
        "login",
        "registration",
    ] {
        let res = call(Method::GET, &format!("/self-service/{kind}/api"))
            .send(&app.public)
            .await;
        ids.push(res.body["id"].as_str().unwrap().to_owned());
    }
    let reg = ids[1].clone();
    let res = call(
        Method::POST,
        &format!("/self-service/registration?flow={reg}"),
    )
    .json(json!({"method": "password", "traits": {"email": email()},
                     "password": "a very good password 1234"}))
    .send(&app.public)
    .await;
    let token = res.body["session_token"].as_str().unwrap().to_owned();
    ids.push(res.body["identity"]["id"].as_str().unwrap().to_owned());
    ids.push(res.body["session"]["id"].as_str().unwrap().to_owned());
    let res = call(Method::GET, "/self-service/settings/api")
        .token(&token)
        .send(&app.public)
        .await;
    ids.push(res.body["id"].as_str().unwrap().to_owned());
    ids.push("default".to_owned());
    World {
        public: app.public.clone(),
        admin: app.admin.clone(),
        keto: kratos_axum::keto_router(keto.tenant(uuid::Uuid::new_v4())),
        ids,
        token,
    }
}

/// A value: one of the real ids, a fresh UUID, a number at the edges, or noise.
fn value(ids: usize) -> impl Strategy<Value = Result<usize, String>> {
    prop_oneof![
        (0..ids).prop_map(Ok),
        Just(Err(uuid::Uuid::new_v4().to_string())),
        prop::sample::select(vec![
            "0",
            "-1",
            "18446744073709551616",
            "99999999999999999999h",
            "1e308",
            "NaN",
            "true",
            "%",
            "%ff",
            "../../etc",
            "User:alice",
            "Doc:readme#viewers@Group:eng#members",
            "https://evil.example/",
            "aal2",
        ])
        .prop_map(|s| Err(s.to_owned())),
        "\\PC{0,24}".prop_map(Err),
    ]
}

/// A drawn value: the index of a real id, or the text itself.
type Drawn = Result<usize, String>;

/// A drawn body: as it is, or a JSON object (0) or form (1) of known fields and values.
type DrawnBody = Result<BodyKind, (usize, Vec<(usize, Drawn)>)>;

#[derive(Debug, Clone)]
enum BodyKind {
    None,
    Json(String),
    Form(String),
    Raw(String, Vec<u8>),
}

fn body(ids: usize) -> impl Strategy<Value = DrawnBody> {
    prop_oneof![
        Just(Ok(BodyKind::None)),
        prop::collection::vec(any::<u8>(), 0..256).prop_flat_map(|bytes| {
            prop::sample::select(vec![
                "application/json",
                "application/x-www-form-urlencoded",
                "text/plain",
                "multipart/form-data",
                "",
            ])
            .prop_map(move |ct| Ok(BodyKind::Raw(ct.to_owned(), bytes.clone())))
        }),
        "\\PC{0,200}".prop_map(|s| Ok(BodyKind::Json(s))),
        "[a-z.=&%0-9]{0,200}".prop_map(|s| Ok(BodyKind::Form(s))),
        // Structured: a JSON object or form with known fields and drawn values.
        (
            0..2usize,
            prop::collection::vec((0..FIELDS.len(), value(ids)), 0..6)
        )
            .prop_map(Err),
    ]
}

fn resolve(v: &Result<usize, String>, ids: &[String]) -> String {
    match v {
        Ok(i) => ids[*i].clone(),
        Err(s) => s.clone(),
    }
}

fn request(
    world: &World,
    route: usize,
    id: &Result<usize, String>,
    query: &[(usize, Result<usize, String>)],
    raw_query: &str,
    body: &DrawnBody,
    with_token: bool,
) -> (Api, Request<Body>, String) {
    let (api, method, path) = ROUTES[route];
    let path = path.replace("{id}", &urlencode(&resolve(id, &world.ids)));
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in query {
        q.append_pair(KEYS[*k], &resolve(v, &world.ids));
    }
    let mut q = q.finish();
    if !raw_query.is_empty() {
        if !q.is_empty() {
            q.push('&');
        }
        q.push_str(raw_query);
    }
    let uri = if q.is_empty() {
        path
    } else {
        format!("{path}?{q}")
    };
    let mut req = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(&uri);
    if with_token {
        req = req.header("x-session-token", &world.token);
    }
    let (ct, bytes): (Option<String>, Vec<u8>) = match body {
        Ok(BodyKind::None) => (None, Vec::new()),
        Ok(BodyKind::Json(s)) => (Some("application/json".into()), s.clone().into_bytes()),
        Ok(BodyKind::Form(s)) => (
            Some("application/x-www-form-urlencoded".into()),
            s.clone().into_bytes(),
        ),
        Ok(BodyKind::Raw(ct, b)) => ((!ct.is_empty()).then(|| ct.clone()), b.clone()),
        Err((kind, fields)) => {
            if *kind == 0 {
                let mut m = serde_json::Map::new();
                for (f, v) in fields {
                    m.insert(FIELDS[*f].to_owned(), json!(resolve(v, &world.ids)));
                }
                (
                    Some("application/json".into()),
                    serde_json::to_vec(&m).unwrap(),
                )
            } else {
                let mut s = form_urlencoded::Serializer::new(String::new());
                for (f, v) in fields {
                    s.append_pair(FIELDS[*f], &resolve(v, &world.ids));
                }
                (
                    Some("application/x-www-form-urlencoded".into()),
                    s.finish().into_bytes(),
                )
            }
        }
    };
    if let Some(ct) = ct {
        req = req.header("content-type", ct);
    }
    let described = format!("{method} {uri} body={:?}", String::from_utf8_lossy(&bytes));
    let req = req
        .body(Body::from(bytes))
        .unwrap_or_else(|e| panic!("the test built an invalid request {described}: {e}"));
    (api, req, described)
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn no_request_gets_a_server_error(
        route in 0..ROUTES.len(),
        id in value(10),
        query in prop::collection::vec((0..KEYS.len(), value(10)), 0..5),
        raw_query in "[a-z_.=&%0-9-]{0,40}",
        body in body(10),
        with_token in any::<bool>(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let world = world().await;
            assert_eq!(world.ids.len(), 10);
            let (api, req, described) =
                request(&world, route, &id, &query, &raw_query, &body, with_token);
            let router = match api {
                Api::Public => &world.public,
                Api::Admin => &world.admin,
                Api::Keto => &world.keto,
            };
            let res = router.clone().oneshot(req).await.unwrap();
            let status = res.status();
            let bytes = http_body_util::BodyExt::collect(res.into_body())
                .await
                .unwrap()
                .to_bytes();
            assert!(
                status.as_u16() < 500,
                "{described} answered {status}: {}",
                String::from_utf8_lossy(&bytes)
            );
        });
    }
}
