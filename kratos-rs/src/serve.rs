//! `serve`: Kratos's public and admin APIs and Keto's read and write APIs in one process, on
//! the hosts and ports their configurations give, with the courier worker (and the periodic
//! cleanup when `database.cleanup.interval` is set), until SIGINT or SIGTERM.

use std::io::IsTerminal;
use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use kratos_core::cleanup::CleanupOptions;
use kratos_core::config::redact_url;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::app::{self, Sources};
use crate::config::{ADMIN_PORT, LogConfig, LogFormat, PUBLIC_PORT};
use crate::keto::{READ_PORT, WRITE_PORT};

/// Sets up logging from `log.level` and `log.format` (info and text by default), once, on
/// standard error (colours only when it is a terminal).
pub fn init_logging(log: &LogConfig) {
    let level = log.level.map_or(tracing::Level::INFO, |l| l.level());
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match log.format {
        Some(LogFormat::Json | LogFormat::JsonPretty) => builder.json().try_init(),
        _ => builder.try_init(),
    };
}

/// One span per request with the method and the path only: a query string may carry a
/// token (a flow's, a recovery link's), so it is never logged.
fn traced(router: Router) -> Router {
    router.layer(
        TraceLayer::new_for_http()
            .make_span_with(|request: &Request<Body>| {
                tracing::info_span!(
                    "http",
                    method = %request.method(),
                    path = request.uri().path(),
                )
            })
            .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
    )
}

async fn bind(what: &str, addr: SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("{what}: cannot listen on {addr}: {e}"))
}

/// Resolves when SIGINT or SIGTERM arrives.
async fn shutdown_signal() {
    let interrupt = async {
        tokio::signal::ctrl_c().await.ok();
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

/// Serves until a shutdown signal; then stops accepting, lets requests in flight finish,
/// and lets the courier finish its batch.
///
/// Errors when the configuration is invalid, the stores cannot be opened, or an address
/// cannot be bound: [`ServeError::Early`] before the log subscriber is installed (the
/// caller prints it), [`ServeError::Logged`] after (already logged as an error event).
pub async fn serve(sources: &Sources, migrate: bool) -> Result<(), ServeError> {
    let kratos_app = app::kratos(sources, migrate).await?;
    init_logging(&kratos_app.files.server.log);
    run(sources, migrate, kratos_app).await.map_err(|e| {
        // The subscriber is up: the error is a log event, not a line of its own.
        tracing::error!("{e}");
        ServeError::Logged
    })
}

/// Why `serve` stopped.
#[derive(Debug)]
pub enum ServeError {
    /// Before logging was set up (the configuration, the stores): the message to print.
    Early(String),
    /// After: the error was logged already.
    Logged,
}

impl From<String> for ServeError {
    fn from(e: String) -> Self {
        ServeError::Early(e)
    }
}

async fn run(sources: &Sources, migrate: bool, kratos_app: app::KratosApp) -> Result<(), String> {
    let metrics = kratos_axum::install_prometheus_recorder().map_err(|e| e.to_string())?;
    let keto_app = app::keto(sources, &kratos_app, migrate).await?;
    let serve_keys = &kratos_app.files.server.serve;
    let mut servers: Vec<(String, SocketAddr, Router)> = vec![
        (
            "Kratos public API".into(),
            serve_keys.public.address(PUBLIC_PORT)?,
            traced(kratos_axum::public_router(kratos_app.kratos.clone())),
        ),
        (
            "Kratos admin API".into(),
            serve_keys.admin.address(ADMIN_PORT)?,
            traced(kratos_axum::admin_router_with(
                kratos_app.kratos.clone(),
                kratos_axum::AdminOptions::with_prometheus(metrics),
            )),
        ),
    ];
    if let Some(keto) = &keto_app {
        let serve = &keto.loaded.file.serve;
        let options = kratos_axum::KetoOptions::default().operations(true);
        servers.push((
            "Keto read API".into(),
            serve.read.address(READ_PORT)?,
            traced(kratos_axum::keto_read_router_with(
                keto.tenant.clone(),
                options.clone(),
            )),
        ));
        servers.push((
            "Keto write API".into(),
            serve.write.address(WRITE_PORT)?,
            traced(kratos_axum::keto_write_router_with(
                keto.tenant.clone(),
                options,
            )),
        ));
    }
    let mut listeners = Vec::with_capacity(servers.len());
    for (name, addr, router) in servers {
        let listener = bind(&name, addr).await?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        listeners.push((name, bound, listener, router));
    }
    let courier = kratos_app.kratos.courier().spawn();
    let interval = kratos_app.kratos.config().database.cleanup.interval.0;
    let cleanup = (!interval.is_zero()).then(|| {
        let options = CleanupOptions::from_config(kratos_app.kratos.config());
        kratos_app.kratos.cleanup().spawn(options, interval)
    });
    println!(
        "kratos-rs {} on {}",
        env!("CARGO_PKG_VERSION"),
        redact_url(&kratos_app.dsn)
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    for (name, addr, listener, router) in listeners {
        println!("  {name:<18} http://{addr}/");
        let mut rx = stop_rx.clone();
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        tasks.push(tokio::spawn(async move {
            axum::serve(listener, service)
                .with_graceful_shutdown(async move {
                    let _ = rx.wait_for(|stop| *stop).await;
                })
                .await
                .map_err(|e| format!("{name}: {e}"))
        }));
    }
    shutdown_signal().await;
    println!("shutting down");
    let _ = stop_tx.send(true);
    let mut result = Ok(());
    for task in tasks {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => result = Err(e),
            Err(e) => result = Err(format!("a server task failed: {e}")),
        }
    }
    courier.stop().await;
    if let Some(cleanup) = cleanup {
        cleanup.stop().await;
    }
    result
}
