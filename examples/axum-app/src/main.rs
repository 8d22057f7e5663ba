//! An example web app built on kratos-rs.
//!
//! `cargo run -p axum-app -- --dev` starts on a local SQLite file with no other set-up. It
//! serves its pages and the Kratos public API on 127.0.0.1:4455, and the Kratos admin API and
//! the Keto API on 127.0.0.1:4434. In development mode (`--dev`) and without `--smtp` mail
//! goes to the development mailbox at `/mailbox`; without `--dev` the app needs `--smtp` and
//! serves no mailbox. `--help` lists the flags.
//!
//! Logs go to standard error through `tracing` (`RUST_LOG` filters them, `info` by default):
//! the libraries' spans and events (flows, strategies, hooks, courier, permission checks,
//! store calls) and one span per HTTP request (method and path, never the query string, which
//! may carry a link's token). The admin listener also serves the Prometheus metrics at
//! `/metrics/prometheus`. With the `otel` cargo feature, spans are also exported over
//! OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (see `otel.rs`).

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::Request;
use axum_app::{Settings, build};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[cfg(feature = "otel")]
mod otel;

#[tokio::main]
async fn main() {
    #[cfg(feature = "otel")]
    let exporter = init_tracing();
    #[cfg(not(feature = "otel"))]
    init_tracing();
    let outcome = run().await;
    #[cfg(feature = "otel")]
    otel::shutdown(exporter);
    if let Err(e) = outcome {
        tracing::error!("{e}");
        std::process::exit(1);
    }
}

/// Installs the log subscriber: `RUST_LOG` (default `info`), to standard error.
#[cfg(not(feature = "otel"))]
fn init_tracing() {
    tracing_subscriber::registry()
        .with(env_filter())
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .init();
}

/// Installs the log subscriber (`RUST_LOG`, default `info`, to standard error) and, when an
/// OTLP endpoint is configured, the OpenTelemetry export of spans.
#[cfg(feature = "otel")]
fn init_tracing() -> Option<otel::Exporter> {
    let (exporter, error) = match otel::exporter_from_env() {
        Ok(exporter) => (exporter, None),
        Err(e) => (None, Some(e)),
    };
    tracing_subscriber::registry()
        .with(env_filter())
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(exporter.as_ref().map(otel::Exporter::layer))
        .init();
    if let Some(e) = error {
        tracing::warn!("OpenTelemetry export is off: {e}");
    }
    exporter
}

/// `RUST_LOG`, or `info` when it is unset or invalid.
fn env_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// One span per request: method and path only (a query string may carry a token).
fn trace_layer() -> TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    impl Fn(&Request<Body>) -> tracing::Span + Clone,
    tower_http::trace::DefaultOnRequest,
    DefaultOnResponse,
> {
    TraceLayer::new_for_http()
        .make_span_with(|request: &Request<Body>| {
            tracing::info_span!(
                "http",
                method = %request.method(),
                path = request.uri().path(),
            )
        })
        .on_response(DefaultOnResponse::new().level(Level::INFO))
}

async fn run() -> Result<(), String> {
    let settings =
        match Settings::from_env_and_args(|k| std::env::var(k).ok(), std::env::args().skip(1))? {
            axum_app::settings::Command::Help => {
                print!("{}", axum_app::HELP);
                return Ok(());
            }
            axum_app::settings::Command::Run(s) => s,
        };
    let metrics = kratos_axum::install_prometheus_recorder().map_err(|e| e.to_string())?;
    let app = build(&settings).await?;
    let public_listener = tokio::net::TcpListener::bind(settings.public)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", settings.public))?;
    let admin_listener = tokio::net::TcpListener::bind(settings.admin)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", settings.admin))?;
    // Never print a database password.
    let database = kratos_core::config::redact_url(&settings.database);
    println!("kratos-rs example app on {database}");
    println!(
        "  open        {}/",
        app.kratos.config().serve.public_base_url()
    );
    println!("  admin API   http://{}/admin/identities", settings.admin);
    println!("  Keto API    http://{}/relation-tuples", settings.admin);
    println!(
        "  metrics     http://{}{}",
        settings.admin,
        kratos_axum::PROMETHEUS_PATH
    );
    println!("  mail        {}", app.mail_delivery);
    println!("  sms         {}", app.sms_delivery);
    let shutdown = || async {
        tokio::signal::ctrl_c().await.ok();
    };
    let public = axum::serve(
        public_listener,
        app.public
            .layer(trace_layer())
            .into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown());
    let admin = axum::serve(
        admin_listener,
        app.admin
            .merge(kratos_axum::prometheus_router(metrics))
            .layer(trace_layer())
            .into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown());
    let served =
        tokio::try_join!(async { public.await }, async { admin.await }).map_err(|e| e.to_string());
    // Let the courier finish the batch it is sending.
    app.courier.stop().await;
    if let Some(cleanup) = app.cleanup {
        cleanup.stop().await;
    }
    served?;
    Ok(())
}
