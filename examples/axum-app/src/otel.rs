//! OpenTelemetry export of the app's spans (cargo feature `otel`): OTLP over HTTP with
//! protobuf bodies, sent by a batch processor on a thread of its own through reqwest's
//! blocking client. Nothing is exported unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; the exporter reads those and the other
//! standard `OTEL_EXPORTER_OTLP_*` variables itself. The client has no TLS: the collector is
//! reached over plain `http://` (a sidecar or the host's agent).

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing_subscriber::registry::LookupSpan;

/// The service name spans are exported under (`service.name`), unless `OTEL_SERVICE_NAME`
/// names another.
const SERVICE_NAME: &str = "kratos-rs-axum-app";

/// A running export: its provider, flushed and stopped by [`shutdown`].
pub struct Exporter {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

impl Exporter {
    /// The subscriber layer that hands spans to the exporter.
    pub fn layer<S>(&self) -> tracing_opentelemetry::OpenTelemetryLayer<S, SdkTracer>
    where
        S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    {
        tracing_opentelemetry::layer().with_tracer(self.tracer.clone())
    }
}

/// The exporter the environment asks for: `Ok(None)` when no OTLP endpoint is set.
///
/// # Errors
///
/// The exporter could not be built (its message).
pub fn exporter_from_env() -> Result<Option<Exporter>, String> {
    let configured = [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()));
    if !configured {
        return Ok(None);
    }
    let exporter = SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .build()
        .map_err(|e| format!("OTLP exporter: {e}"))?;
    let service = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| SERVICE_NAME.to_owned());
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service).build())
        .build();
    let tracer = provider.tracer(SERVICE_NAME);
    Ok(Some(Exporter { provider, tracer }))
}

/// Flushes the spans not yet exported and stops the exporter.
pub fn shutdown(exporter: Option<Exporter>) {
    if let Some(exporter) = exporter
        && let Err(e) = exporter.provider.shutdown()
    {
        tracing::warn!("OpenTelemetry export did not shut down cleanly: {e}");
    }
}
