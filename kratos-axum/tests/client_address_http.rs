//! HTTP test of the client address behind a reverse proxy: forwarding headers are believed
//! only from a peer in `serve.public.trusted_proxies`, and then the right-most hop that is
//! not a trusted proxy is the client (as the session's device records it).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Method, StatusCode};
use kratos_core::Kratos;
use serde_json::json;

mod common;
use common::*;

const PASSWORD: &str = "a very good password 1234";

const CONFIG: &str = "serve:
  public:
    base_url: https://auth.example.com/
    trusted_proxies: [\"10.0.0.0/8\"]
";

fn kratos() -> Kratos {
    kratos_core::testsuite::kratos_with(
        Arc::new(kratos_core::store::MemoryStore::new()),
        CONFIG,
        Arc::new(kratos_core::SystemClock),
    )
}

/// The public router as a server with connect info would see a request from `peer`.
fn behind(kratos: &Kratos, peer: &str) -> Router {
    let peer: SocketAddr = peer.parse().unwrap();
    kratos_axum::public_router(kratos.clone()).layer(MockConnectInfo(peer))
}

/// Signs `mail` in through an api flow with `headers`; answers the session's device address.
async fn device_address(
    kratos: &Kratos,
    app: &Router,
    mail: &str,
    headers: &[(&str, &str)],
) -> String {
    let flow = call(Method::GET, "/self-service/login/api").send(app).await;
    assert_eq!(flow.status, StatusCode::OK, "{:?}", flow.body);
    let id = flow.body["id"].as_str().unwrap();
    let uri = format!("/self-service/login?flow={id}");
    let mut submit = call(Method::POST, &uri)
        .json(json!({"method": "password", "identifier": mail, "password": PASSWORD}));
    for (name, value) in headers {
        submit = submit.header(name, value);
    }
    let res = submit.send(app).await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let token = res.body["session_token"].as_str().expect("a session token");
    let session = kratos.sessions().whoami(token).await.expect("the session");
    session.devices[0]
        .ip_address
        .clone()
        .expect("the device's address")
}

#[tokio::test]
async fn forwarding_headers_count_only_from_trusted_proxies() {
    let kratos = kratos();
    let mail = email();
    kratos
        .identities()
        .create(kratos_core::identity::CreateIdentityBody {
            traits: json!({ "email": mail }),
            credentials: Some(kratos_core::identity::ImportCredentials {
                password: Some(kratos_core::identity::ImportPassword {
                    config: kratos_core::identity::ImportPasswordConfig {
                        password: Some(PASSWORD.into()),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("identity");
    let proxy = behind(&kratos, "10.0.0.5:40000");
    let stranger = behind(&kratos, "198.51.100.20:40000");

    // From the trusted proxy: the right-most hop that is not a proxy.
    let forwarded = [("x-forwarded-for", "192.0.2.66, 203.0.113.9, 10.1.1.1")];
    assert_eq!(
        device_address(&kratos, &proxy, &mail, &forwarded).await,
        "203.0.113.9"
    );
    // `Forwarded` is not the configured header: a client's own, passed through by the proxy,
    // is not believed.
    let rfc7239 = [("forwarded", "for=192.0.2.66, for=\"[2001:db8::7]:443\"")];
    assert_eq!(
        device_address(&kratos, &proxy, &mail, &rfc7239).await,
        "10.0.0.5"
    );
    // A malformed header: the peer.
    let malformed = [("x-forwarded-for", "203.0.113.9, unknown")];
    assert_eq!(
        device_address(&kratos, &proxy, &mail, &malformed).await,
        "10.0.0.5"
    );
    // Anyone else's headers are not believed.
    assert_eq!(
        device_address(&kratos, &stranger, &mail, &forwarded).await,
        "198.51.100.20"
    );
    assert_eq!(
        device_address(&kratos, &stranger, &mail, &[]).await,
        "198.51.100.20"
    );
}
