//! An example web app built on kratos-rs.
//!
//! `cargo run -p axum-app` starts on a local SQLite file with no other set-up. It serves its
//! pages and the Kratos public API on 127.0.0.1:4455 and the Kratos admin API on
//! 127.0.0.1:4434. `--help` lists the flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use kratos_core::config::Secret;
use kratos_core::identity::{IdentitySchema, ListIdentitiesParams};
use kratos_core::store::Persister;
use kratos_core::{Config, Kratos};

const HELP: &str = "axum-app: an example web app on kratos-rs

USAGE: axum-app [OPTIONS]

OPTIONS (each also read from the environment variable in brackets):
  --public ADDR            pages and Kratos public API      [PUBLIC_ADDR]   default 127.0.0.1:4455
  --admin ADDR             Kratos admin API                 [ADMIN_ADDR]    default 127.0.0.1:4434
  --database URL           sqlite://FILE or postgres://…    [DATABASE_URL]  default sqlite://.axum-app/kratos.db
  --identity-schema FILE   identity schema (JSON)           [IDENTITY_SCHEMA] default: email + password
  -h, --help               print this help
";

const DEFAULT_SCHEMA: &str =
    include_str!("../../../kratos-core/schemas/quickstart-email-password.identity.schema.json");

struct Args {
    public: SocketAddr,
    admin: SocketAddr,
    database: String,
    identity_schema: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut public = env("PUBLIC_ADDR").unwrap_or_else(|| "127.0.0.1:4455".into());
    let mut admin = env("ADMIN_ADDR").unwrap_or_else(|| "127.0.0.1:4434".into());
    let mut database = env("DATABASE_URL").unwrap_or_else(|| "sqlite://.axum-app/kratos.db".into());
    let mut identity_schema = env("IDENTITY_SCHEMA").map(PathBuf::from);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => {
                print!("{HELP}");
                std::process::exit(0);
            }
            "--public" => public = value("--public")?,
            "--admin" => admin = value("--admin")?,
            "--database" => database = value("--database")?,
            "--identity-schema" => {
                identity_schema = Some(PathBuf::from(value("--identity-schema")?))
            }
            other => return Err(format!("unknown argument `{other}` (see --help)")),
        }
    }
    Ok(Args {
        public: public
            .parse()
            .map_err(|e| format!("--public {public}: {e}"))?,
        admin: admin.parse().map_err(|e| format!("--admin {admin}: {e}"))?,
        database,
        identity_schema,
    })
}

/// Development secrets: generated once, written next to the database, reused on restart so
/// sessions survive it.
fn dev_secrets(dir: &Path) -> Result<Vec<Secret>, String> {
    let path = dir.join("secrets.json");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let list: Vec<String> =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok(list.into_iter().map(Secret::new).collect());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let secret = hex::encode(rand::random::<[u8; 32]>());
    std::fs::write(&path, serde_json::json!([secret]).to_string())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!(
        "WARNING: generated development secrets in {} — configure real secrets before going to production",
        path.display()
    );
    Ok(vec![Secret::new(secret)])
}

async fn open_store(url: &str) -> Result<Arc<dyn Persister>, String> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = kratos_store_postgres::connect(url)
            .await
            .map_err(|e| e.to_string())?;
        store.migrate().await.map_err(|e| e.to_string())?;
        Ok(Arc::new(store))
    } else {
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .and_then(|p| Path::new(p).parent())
            && !path.as_os_str().is_empty()
        {
            std::fs::create_dir_all(path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        let store = kratos_store_sqlite::connect(url)
            .await
            .map_err(|e| e.to_string())?;
        store.migrate().await.map_err(|e| e.to_string())?;
        Ok(Arc::new(store))
    }
}

async fn home(State(kratos): State<Kratos>) -> Html<String> {
    let count = kratos
        .identities()
        .list(ListIdentitiesParams {
            page_size: Some(1000),
            ..Default::default()
        })
        .await
        .map(|p| p.identities.len())
        .unwrap_or(0);
    let schemas: Vec<String> = kratos.schemas().iter().map(|s| s.id().to_owned()).collect();
    Html(format!(
        "<!doctype html><html><head><meta charset=utf-8><title>kratos-rs example</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;color:#222}}\
         code{{background:#f3f3f3;padding:.1rem .3rem;border-radius:3px}}</style></head><body>\
         <h1>kratos-rs example app</h1>\
         <p>Identities stored: <strong>{count}{plus}</strong>. Identity schemas: {schemas}.</p>\
         <p>Public API: <a href=\"/health/alive\">/health/alive</a>, <a href=\"/schemas\">/schemas</a>.</p>\
         <p>The admin API (identities) listens on the admin address, e.g.\
         <code>curl http://127.0.0.1:4434/admin/identities</code>.</p>\
         </body></html>",
        plus = if count == 1000 { "+" } else { "" },
        schemas = schemas.join(", ")
    ))
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let args = parse_args()?;
    let state_dir = PathBuf::from(".axum-app");
    let mut config = Config::default();
    config.secrets.default = dev_secrets(&state_dir)?;
    config.serve.public.base_url = Some(format!("http://{}", args.public));
    let schema = match &args.identity_schema {
        Some(path) => IdentitySchema::from_url("default", &path.display().to_string()),
        None => IdentitySchema::from_json_str("default", DEFAULT_SCHEMA),
    }
    .map_err(|e| e.to_string())?;
    let store = open_store(&args.database).await?;
    let kratos = Kratos::builder(config)
        .store(store)
        .schema(schema)
        .build()
        .map_err(|e| e.to_string())?;

    let public = Router::new()
        .route("/", get(home))
        .with_state(kratos.clone())
        .merge(kratos_axum::public_router(kratos.clone()));
    let admin = kratos_axum::admin_router(kratos);
    let public_listener = tokio::net::TcpListener::bind(args.public)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.public))?;
    let admin_listener = tokio::net::TcpListener::bind(args.admin)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.admin))?;
    println!("kratos-rs example app on {}", args.database);
    println!("  open      http://{}/", args.public);
    println!("  admin API http://{}/admin/identities", args.admin);
    let shutdown = || async {
        tokio::signal::ctrl_c().await.ok();
    };
    let public = axum::serve(public_listener, public).with_graceful_shutdown(shutdown());
    let admin = axum::serve(admin_listener, admin).with_graceful_shutdown(shutdown());
    tokio::try_join!(async { public.await }, async { admin.await }).map_err(|e| e.to_string())?;
    Ok(())
}
