//! An axum app with a protected page and every self-service page, on kratos-rs.
//!
//! `cargo run -p minimal`, then open <http://127.0.0.1:4455/>. `ADDR` and `DATABASE_URL`
//! (a SQLite URL) override where it listens and stores.

use axum::{Router, response::Html, routing::get};
use kratos_axum::ui::{Renderer, SelfServicePages};
use kratos_axum::{LoginRequired, Session};
use kratos_core::{Config, Kratos, identity::IdentitySchema};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:4455".into());
    let db =
        std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://minimal.db?mode=rwc".into());
    // `dev: true` makes up a secret for this run; set `secrets.default` in production.
    let mut config = Config::from_yaml_str(&format!(
        "dev: true
serve: {{ public: {{ base_url: 'http://{addr}' }} }}
selfservice:
  default_browser_return_url: 'http://{addr}/'
  flows: {{ registration: {{ after: {{ password: {{ hooks: [{{ hook: session }}] }} }} }} }}
  methods: {{ password: {{ config: {{ haveibeenpwned_enabled: false }} }} }}"
    ))?;
    let pages = SelfServicePages::new(Renderer::new());
    pages.configure(&mut config);
    let store = kratos_store_sqlite::connect(&db).await?;
    store.migrate().await?;
    let schema = serde_json::from_str(include_str!("../identity.schema.json"))?;
    let kratos = Kratos::builder(config)
        .store(std::sync::Arc::new(store))
        .schema(IdentitySchema::from_value("default", schema)?)
        .build()?;
    let app = Router::new()
        .route("/", get(home))
        .route_layer(LoginRequired::new(&kratos))
        .merge(pages.router())
        .merge(kratos_axum::public_routes(kratos.clone()))
        .with_state(kratos);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{addr}/");
    axum::serve(listener, app).await?;
    Ok(())
}

/// The protected page: only signed-in people get here.
async fn home(Session(session): Session) -> Html<String> {
    let traits = session.identity.map(|i| i.traits).unwrap_or_default();
    let email = traits["email"].as_str().unwrap_or_default();
    let email = email.replace('&', "&amp;").replace('<', "&lt;");
    Html(format!(
        "<!doctype html><title>Home</title><h1 id=hello>Hello, {email}</h1>
         <a href=/settings>Settings</a> · <a id=sessions href=/account/sessions>Sessions and sign-out</a>"
    ))
}
