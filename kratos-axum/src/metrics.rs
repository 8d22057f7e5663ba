//! Options of the admin router and, with the `prometheus` feature, the Prometheus export of
//! the metrics kratos-core and keto-core emit.
//!
//! The libraries only emit through the `metrics` facade. [`install_prometheus_recorder`]
//! installs Prometheus's recorder as the process's global recorder (once) and answers a
//! handle; given to [`crate::admin_router_with`] in [`AdminOptions::prometheus`], the admin
//! router serves `GET /metrics/prometheus` ([`PROMETHEUS_PATH`]) as Kratos does on its admin
//! port. No listener of its own is opened: the page is rendered from the handle.
//!
//! ```
//! # #[cfg(feature = "prometheus")] {
//! use kratos_core::{Config, Kratos};
//!
//! let kratos = Kratos::builder(Config { dev: true, ..Config::default() })
//!     .schema(kratos_core::testsuite::test_schema())
//!     .build()
//!     .unwrap();
//! let handle = kratos_axum::install_prometheus_recorder().unwrap();
//! let admin: axum::Router = kratos_axum::admin_router_with(
//!     kratos,
//!     kratos_axum::AdminOptions { prometheus: Some(handle) },
//! );
//! # let _ = admin;
//! # }
//! ```

#[cfg(feature = "prometheus")]
pub use prometheus::{
    PROMETHEUS_CONTENT_TYPE, PROMETHEUS_PATH, PrometheusError, PrometheusHandle,
    install_prometheus_recorder, prometheus_router,
};

/// Options of [`crate::admin_router_with`].
#[derive(Clone, Debug, Default)]
pub struct AdminOptions {
    /// Serve `GET /metrics/prometheus` from this handle (see
    /// [`install_prometheus_recorder`]). `None`: no metrics route.
    #[cfg(feature = "prometheus")]
    pub prometheus: Option<PrometheusHandle>,
}

impl AdminOptions {
    /// Options that add the Prometheus route, rendered from `handle`.
    #[cfg(feature = "prometheus")]
    pub fn with_prometheus(handle: PrometheusHandle) -> Self {
        AdminOptions {
            prometheus: Some(handle),
        }
    }

    /// The routes these options add to the admin router.
    pub(crate) fn routes<S: Clone + Send + Sync + 'static>(&self) -> axum::Router<S> {
        let router = axum::Router::new();
        #[cfg(feature = "prometheus")]
        let router = match &self.prometheus {
            Some(handle) => router.merge(prometheus_router(handle.clone())),
            None => router,
        };
        router
    }
}

#[cfg(feature = "prometheus")]
mod prometheus {
    use std::sync::Mutex;

    use axum::Router;
    use axum::http::header::CONTENT_TYPE;
    use axum::response::IntoResponse;
    use axum::routing::get;
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

    pub use metrics_exporter_prometheus::PrometheusHandle;

    /// Where the admin router serves the metrics, as Kratos does on its admin port.
    pub const PROMETHEUS_PATH: &str = "/metrics/prometheus";

    /// The content type of the text exposition format.
    pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

    /// Bucket bounds (seconds) of the latency histograms (`*_duration_seconds`): from 100 µs
    /// (an in-memory check or store call) to 10 s (a slow hash under load).
    const LATENCY_BUCKETS: &[f64] = &[
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        5.0, 10.0,
    ];

    /// The handle installed by this process, if any.
    static INSTALLED: Mutex<Option<PrometheusHandle>> = Mutex::new(None);

    /// The Prometheus recorder could not be installed.
    #[derive(Debug)]
    pub struct PrometheusError(String);

    impl std::fmt::Display for PrometheusError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(
                f,
                "the Prometheus recorder could not be installed: {}",
                self.0
            )
        }
    }

    impl std::error::Error for PrometheusError {}

    /// Installs Prometheus's recorder as the process's global `metrics` recorder and answers
    /// a handle to render it; a later call answers the same handle. Latency histograms
    /// (`*_duration_seconds`) get buckets from 100 µs to 10 s; the metrics of kratos-core
    /// and keto-core get their descriptions.
    ///
    /// # Errors
    ///
    /// [`PrometheusError`] when another recorder was installed in this process first.
    pub fn install_prometheus_recorder() -> Result<PrometheusHandle, PrometheusError> {
        // A poisoned lock only means another caller panicked in between; the slot is intact.
        let mut slot = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(handle) = slot.as_ref() {
            return Ok(handle.clone());
        }
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_duration_seconds".into()), LATENCY_BUCKETS)
            .map_err(|e| PrometheusError(e.to_string()))?
            .install_recorder()
            .map_err(|e| PrometheusError(e.to_string()))?;
        kratos_core::telemetry::describe_metrics();
        keto_core::describe_metrics();
        *slot = Some(handle.clone());
        Ok(handle)
    }

    /// A router serving `GET /metrics/prometheus`: the text exposition of `handle`'s
    /// metrics. Each request runs the recorder's upkeep first (the exporter has no task of
    /// its own doing it here).
    pub fn prometheus_router<S: Clone + Send + Sync + 'static>(
        handle: PrometheusHandle,
    ) -> Router<S> {
        Router::new().route(
            PROMETHEUS_PATH,
            get(move || {
                let handle = handle.clone();
                async move {
                    handle.run_upkeep();
                    ([(CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)], handle.render()).into_response()
                }
            }),
        )
    }
}
