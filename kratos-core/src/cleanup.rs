//! Deletion of expired and spent rows: what Kratos's `kratos cleanup sql` does, as an
//! operation of the registry.
//!
//! [`Cleanup::run`] deletes, for the handle's tenant, in bounded batches of
//! `database.cleanup.batch_size` rows per statement:
//!
//! - flows expired more than `database.cleanup.older_than` ago,
//! - sessions expired more than `older_than` ago, and revoked sessions last authenticated more
//!   than `database.cleanup.inactive_sessions_older_than` ago,
//! - one-time codes and link tokens used or expired more than `older_than` ago, and the code
//!   submission counters of flows no longer stored,
//! - code send counters whose window (`selfservice.methods.code.config.send_limit_window`) is
//!   over,
//! - login-failure counters whose last failure is older than
//!   `security.login_lockout.forget_after` and whose lock is over,
//! - `sent` and `abandoned` courier messages last updated more than
//!   `database.cleanup.courier_messages_older_than` ago,
//! - uses of second-factor secrets ([`crate::store::UsedSecretStore`]) expired more than
//!   `older_than` ago (a TOTP step no longer accepted, a recovery code's use record),
//! - session token exchangers ([`crate::store::TokenExchangeStore`]) expired more than
//!   `older_than` ago, exchanged or not,
//! - self-service errors kept for the error page
//!   ([`crate::store::SelfServiceErrorStore`]) stored more than
//!   `database.cleanup.self_service_errors_older_than` ago (Kratos keeps them until its
//!   `ClearErrorContainers`, which its cleanup command does not call).
//!
//! `run` loops: each kind is deleted batch after batch until a batch comes back short, then,
//! if it deleted anything, the run pauses `database.cleanup.sleep.tables` before the next kind
//! (as Kratos pauses between tables). [`Cleanup::run_once`] deletes at most one batch per kind and does not
//! pause. A courier message's template data (which holds the plain code) does not wait for a
//! cleanup: the store drops it when the message is marked sent.
//!
//! [`Cleanup::spawn`] runs the cleanup every `database.cleanup.interval`.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use std::sync::Arc;
//! use kratos_core::cleanup::CleanupOptions;
//!
//! let config = kratos_core::Config::from_yaml_str(
//!     "dev: true\nselfservice: {methods: {password: {config: {haveibeenpwned_enabled: false}}}}\n",
//! )
//! .unwrap();
//! let schema = kratos_core::identity::IdentitySchema::from_value(
//!     "default",
//!     serde_json::json!({"properties": {"traits": {"type": "object",
//!         "properties": {"email": {"type": "string"}}}}}),
//! )
//! .unwrap();
//! let kratos = kratos_core::Kratos::builder(config)
//!     .store(Arc::new(kratos_core::store::MemoryStore::new()))
//!     .schema(schema)
//!     .build()
//!     .unwrap();
//! let options = CleanupOptions::from_config(kratos.config());
//! let report = kratos.cleanup().run(&options).await.unwrap();
//! assert_eq!(report.total(), 0);
//! # });
//! ```

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Kratos;
use crate::config::{Config, KratosDuration};
use crate::store::StoreError;

/// `database.*`
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct DatabaseConfig {
    /// `database.cleanup`: deletion of expired rows ([`Cleanup`]).
    pub cleanup: CleanupConfig,
}

/// `database.cleanup`. `batch_size`, `sleep.tables` and `older_than` are Kratos's keys (with
/// Kratos's defaults); `inactive_sessions_older_than`, `courier_messages_older_than`,
/// `self_service_errors_older_than` and `interval` are this library's.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct CleanupConfig {
    /// `batch_size`: rows deleted per statement and kind (default 100; 0 counts as 1).
    pub batch_size: usize,
    /// `sleep`: pauses of a cleanup run.
    pub sleep: CleanupSleep,
    /// `older_than`: how long rows are kept past their expiry (flows, sessions, codes, uses of
    /// second-factor secrets;
    /// default 0s).
    pub older_than: KratosDuration,
    /// `inactive_sessions_older_than`: revoked sessions are deleted once their last
    /// authentication is this old (default 720h, 30 days).
    pub inactive_sessions_older_than: KratosDuration,
    /// `courier_messages_older_than`: sent and abandoned courier messages are deleted once
    /// they were last updated this long ago (default 168h, 7 days).
    pub courier_messages_older_than: KratosDuration,
    /// `self_service_errors_older_than`: self-service errors kept for the error page are
    /// deleted once they were stored this long ago (default 168h, 7 days).
    pub self_service_errors_older_than: KratosDuration,
    /// `interval`: how often a periodic cleanup runs (default 1h), for apps that run one.
    pub interval: KratosDuration,
}

impl Default for CleanupConfig {
    fn default() -> Self {
        Self {
            batch_size: 100,
            sleep: CleanupSleep::default(),
            older_than: KratosDuration(Duration::ZERO),
            inactive_sessions_older_than: KratosDuration(Duration::from_secs(720 * 3600)),
            courier_messages_older_than: KratosDuration(Duration::from_secs(168 * 3600)),
            self_service_errors_older_than: KratosDuration(Duration::from_secs(168 * 3600)),
            interval: KratosDuration(Duration::from_secs(3600)),
        }
    }
}

/// `database.cleanup.sleep`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct CleanupSleep {
    /// `tables`: the pause between two kinds of rows in one run (default 1m, as Kratos).
    pub tables: KratosDuration,
}

impl Default for CleanupSleep {
    fn default() -> Self {
        Self {
            tables: KratosDuration(Duration::from_secs(60)),
        }
    }
}

/// What a cleanup deletes and how. [`CleanupOptions::from_config`] reads it from the
/// configuration; every field can be set from code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CleanupOptions {
    /// Rows deleted per statement and kind (`database.cleanup.batch_size`; 0 counts as 1).
    pub batch_size: usize,
    /// How long flows, sessions, codes and uses of second-factor secrets are kept past their
    /// expiry (or codes past their use) (`database.cleanup.older_than`).
    pub older_than: Duration,
    /// Revoked sessions go once their last authentication is this old
    /// (`database.cleanup.inactive_sessions_older_than`).
    pub inactive_sessions_older_than: Duration,
    /// Sent and abandoned courier messages go once last updated this long ago
    /// (`database.cleanup.courier_messages_older_than`).
    pub courier_messages_older_than: Duration,
    /// Self-service errors go once stored this long ago
    /// (`database.cleanup.self_service_errors_older_than`).
    pub self_service_errors_older_than: Duration,
    /// Login-failure counters go once their last failure is this old and their lock is over
    /// (`security.login_lockout.forget_after`).
    pub login_failures_older_than: Duration,
    /// Code send counters go once their window started this long ago
    /// (`selfservice.methods.code.config.send_limit_window`).
    pub send_counters_older_than: Duration,
    /// The pause after a kind that deleted rows, before the next, in [`Cleanup::run`]
    /// (`database.cleanup.sleep.tables`).
    pub sleep_between_tables: Duration,
}

impl CleanupOptions {
    /// The options the configuration gives.
    pub fn from_config(config: &Config) -> Self {
        let c = &config.database.cleanup;
        Self {
            batch_size: c.batch_size,
            older_than: c.older_than.0,
            inactive_sessions_older_than: c.inactive_sessions_older_than.0,
            courier_messages_older_than: c.courier_messages_older_than.0,
            self_service_errors_older_than: c.self_service_errors_older_than.0,
            login_failures_older_than: config.security.login_lockout.forget_after.0,
            send_counters_older_than: config.selfservice.methods.code.config.send_limit_window.0,
            sleep_between_tables: c.sleep.tables.0,
        }
    }
}

/// How many rows of each kind a cleanup deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CleanupReport {
    /// Self-service flows.
    pub flows: u64,
    /// Sessions.
    pub sessions: u64,
    /// One-time codes and link tokens.
    pub codes: u64,
    /// Code submission counters (`code_submissions`).
    pub code_submissions: u64,
    /// Code send counters.
    pub send_counters: u64,
    /// Login-failure counters.
    pub login_failures: u64,
    /// Courier messages.
    pub courier_messages: u64,
    /// Uses of second-factor secrets.
    pub used_secrets: u64,
    /// Self-service errors kept for the error page.
    pub self_service_errors: u64,
    /// Session token exchangers.
    pub session_token_exchanges: u64,
}

impl CleanupReport {
    /// Every row deleted.
    pub fn total(&self) -> u64 {
        [
            self.flows,
            self.sessions,
            self.codes,
            self.code_submissions,
            self.send_counters,
            self.login_failures,
            self.courier_messages,
            self.used_secrets,
            self.self_service_errors,
            self.session_token_exchanges,
        ]
        .into_iter()
        .fold(0u64, u64::saturating_add)
    }
}

/// The kinds of rows, in the order a run deletes them (flows before the submission counters
/// that outlive them).
#[derive(Clone, Copy, Debug)]
enum Kind {
    Flows,
    Sessions,
    Codes,
    CodeSubmissions,
    SendCounters,
    LoginFailures,
    CourierMessages,
    UsedSecrets,
    SelfServiceErrors,
    TokenExchanges,
}

const KINDS: [Kind; 10] = [
    Kind::Flows,
    Kind::Sessions,
    Kind::Codes,
    Kind::CodeSubmissions,
    Kind::SendCounters,
    Kind::LoginFailures,
    Kind::CourierMessages,
    Kind::UsedSecrets,
    Kind::SelfServiceErrors,
    Kind::TokenExchanges,
];

/// `now - age`, but not before 1970 (nothing stored is older, and every database can store
/// that time, unlike chrono's earliest).
pub(crate) fn ago(now: DateTime<Utc>, age: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(age)
        .ok()
        .and_then(|d| now.checked_sub_signed(d))
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
        .max(DateTime::<Utc>::UNIX_EPOCH)
}

/// The cleanup of one tenant (see the [module](self)); from [`Kratos::cleanup`].
#[derive(Clone, Debug)]
pub struct Cleanup {
    kratos: Kratos,
}

impl Kratos {
    /// The cleanup of this handle's tenant.
    pub fn cleanup(&self) -> Cleanup {
        Cleanup {
            kratos: self.clone(),
        }
    }
}

impl Cleanup {
    /// Deletes every expired or spent row of the tenant, batch after batch, pausing
    /// `sleep_between_tables` after each kind that deleted anything. Fails with the first storage error; what was
    /// deleted before it stays deleted.
    pub async fn run(&self, options: &CleanupOptions) -> Result<CleanupReport, StoreError> {
        self.clean(options, None).await
    }

    /// Deletes at most one batch of each kind, without pauses.
    pub async fn run_once(&self, options: &CleanupOptions) -> Result<CleanupReport, StoreError> {
        self.clean(options, Some(1)).await
    }

    async fn clean(
        &self,
        options: &CleanupOptions,
        max_batches: Option<u32>,
    ) -> Result<CleanupReport, StoreError> {
        let limit = options.batch_size.max(1);
        let batch = u64::try_from(limit).unwrap_or(u64::MAX);
        let mut report = CleanupReport::default();
        // Whether the kind before deleted anything: only then does the database get a pause.
        let mut deleted_before = false;
        for kind in KINDS {
            if deleted_before && max_batches.is_none() && !options.sleep_between_tables.is_zero() {
                tokio::time::sleep(options.sleep_between_tables).await;
            }
            deleted_before = false;
            let mut batches = 0u32;
            loop {
                let deleted = self.delete_batch(kind, options, limit).await?;
                let slot = match kind {
                    Kind::Flows => &mut report.flows,
                    Kind::Sessions => &mut report.sessions,
                    Kind::Codes => &mut report.codes,
                    Kind::CodeSubmissions => &mut report.code_submissions,
                    Kind::SendCounters => &mut report.send_counters,
                    Kind::LoginFailures => &mut report.login_failures,
                    Kind::CourierMessages => &mut report.courier_messages,
                    Kind::UsedSecrets => &mut report.used_secrets,
                    Kind::SelfServiceErrors => &mut report.self_service_errors,
                    Kind::TokenExchanges => &mut report.session_token_exchanges,
                };
                *slot = slot.saturating_add(deleted);
                deleted_before |= deleted > 0;
                batches = batches.saturating_add(1);
                if deleted < batch || max_batches.is_some_and(|m| batches >= m) {
                    break;
                }
            }
        }
        if report.total() > 0 {
            tracing::info!(nid = %self.kratos.nid(), ?report, "cleanup: deleted expired rows");
        }
        Ok(report)
    }

    async fn delete_batch(
        &self,
        kind: Kind,
        o: &CleanupOptions,
        limit: usize,
    ) -> Result<u64, StoreError> {
        let store = self.kratos.store();
        let nid = self.kratos.nid();
        let now = self.kratos.clock().now();
        match kind {
            Kind::Flows => {
                store
                    .delete_expired_flows(nid, ago(now, o.older_than), limit)
                    .await
            }
            Kind::Sessions => {
                store
                    .delete_stale_sessions(
                        nid,
                        ago(now, o.older_than),
                        ago(now, o.inactive_sessions_older_than),
                        limit,
                    )
                    .await
            }
            Kind::Codes => {
                store
                    .delete_spent_codes(nid, ago(now, o.older_than), limit)
                    .await
            }
            Kind::CodeSubmissions => store.delete_orphan_code_submissions(nid, limit).await,
            Kind::SendCounters => {
                store
                    .delete_stale_send_counters(nid, ago(now, o.send_counters_older_than), limit)
                    .await
            }
            Kind::LoginFailures => {
                store
                    .delete_stale_login_failures(
                        nid,
                        ago(now, o.login_failures_older_than),
                        now,
                        limit,
                    )
                    .await
            }
            Kind::CourierMessages => {
                store
                    .delete_finished_messages(nid, ago(now, o.courier_messages_older_than), limit)
                    .await
            }
            Kind::UsedSecrets => {
                store
                    .delete_expired_used_secrets(nid, ago(now, o.older_than), limit)
                    .await
            }
            Kind::TokenExchanges => {
                store
                    .delete_expired_token_exchanges(nid, ago(now, o.older_than), limit)
                    .await
            }
            Kind::SelfServiceErrors => {
                store
                    .delete_old_self_service_errors(
                        nid,
                        ago(now, o.self_service_errors_older_than),
                        limit,
                    )
                    .await
            }
        }
    }

    /// Runs [`Cleanup::run`] with `options` every `interval` (the first run right away) on
    /// the tokio runtime, until the returned handle is stopped or dropped. A failed run is
    /// logged and the next one comes at the next tick.
    pub fn spawn(&self, options: CleanupOptions, interval: Duration) -> CleanupTask {
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let cleanup = self.clone();
        // A zero interval would make tokio's interval panic.
        let period = interval.max(Duration::from_millis(1));
        let handle = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = &mut rx => return,
                    _ = ticks.tick() => {}
                }
                tokio::select! {
                    _ = &mut rx => return,
                    result = cleanup.run(&options) => {
                        if let Err(e) = result {
                            tracing::error!(error = %e, "cleanup: run failed");
                        }
                    }
                }
            }
        });
        CleanupTask(crate::task::Stoppable::new(tx, handle))
    }
}

/// A periodic cleanup (see [`Cleanup::spawn`]); it stops when dropped or stopped.
#[derive(Debug)]
pub struct CleanupTask(crate::task::Stoppable);

impl CleanupTask {
    /// Stops the task (a run in progress is abandoned between two statements) and waits for
    /// it.
    pub async fn stop(self) {
        self.0.stop().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ago_saturates_instead_of_panicking() {
        let now = Utc::now();
        assert_eq!(ago(now, Duration::MAX), DateTime::<Utc>::UNIX_EPOCH);
        assert_eq!(
            ago(now, Duration::from_secs(200_000 * 365 * 86_400)),
            DateTime::<Utc>::UNIX_EPOCH
        );
        assert_eq!(
            ago(now, Duration::from_secs(60)),
            now - chrono::Duration::seconds(60)
        );
    }

    fn registry(clock: std::sync::Arc<crate::ManualClock>) -> Kratos {
        let schema = crate::identity::IdentitySchema::from_value(
            "default",
            serde_json::json!({"properties": {"traits": {"type": "object",
                "properties": {"email": {"type": "string"}}}}}),
        )
        .unwrap();
        Kratos::builder(crate::testsuite::without_hibp(
            Config::from_yaml_str("dev: true").unwrap(),
        ))
        .store(std::sync::Arc::new(crate::store::MemoryStore::new()))
        .schema(schema)
        .clock(clock)
        .build()
        .unwrap()
    }

    async fn expired_flows(k: &Kratos, n: usize) -> Vec<uuid::Uuid> {
        let t = k.clock().now() - chrono::Duration::hours(1);
        let mut ids = Vec::new();
        for _ in 0..n {
            let flow = crate::flow::StoredFlow {
                id: uuid::Uuid::now_v7(),
                kind: crate::flow::FlowKind::Login,
                expires_at: t,
                csrf_token: String::new(),
                document: crate::flow::FlowDocument::of(&serde_json::json!({})).unwrap(),
            };
            k.store().insert_flow(k.nid(), &flow).await.unwrap();
            ids.push(flow.id);
        }
        ids
    }

    /// How many of the login flows `ids` are still stored.
    async fn remaining(k: &Kratos, ids: &[uuid::Uuid]) -> usize {
        let mut n = 0;
        for id in ids {
            if k.store()
                .get_flow(k.nid(), crate::flow::FlowKind::Login, *id)
                .await
                .is_ok()
            {
                n += 1;
            }
        }
        n
    }

    #[tokio::test]
    async fn run_pauses_only_after_a_kind_that_deleted_rows() {
        let k = registry(std::sync::Arc::new(crate::ManualClock::new(Utc::now())));
        let pause = Duration::from_millis(300);
        let options = CleanupOptions {
            sleep_between_tables: pause,
            ..CleanupOptions::from_config(k.config())
        };
        let start = std::time::Instant::now();
        assert_eq!(k.cleanup().run(&options).await.unwrap().total(), 0);
        assert!(start.elapsed() < pause, "nothing deleted, no pause");
        expired_flows(&k, 3).await;
        let start = std::time::Instant::now();
        assert_eq!(k.cleanup().run(&options).await.unwrap().flows, 3);
        let took = start.elapsed();
        assert!(
            took >= pause && took < pause * 2,
            "one pause, after the flows: {took:?}"
        );
        // run_once never pauses.
        expired_flows(&k, 3).await;
        let start = std::time::Instant::now();
        assert_eq!(k.cleanup().run_once(&options).await.unwrap().flows, 3);
        assert!(start.elapsed() < pause);
    }

    #[tokio::test]
    async fn spawn_runs_periodically_until_stopped() {
        let k = registry(std::sync::Arc::new(crate::ManualClock::new(Utc::now())));
        let options = CleanupOptions {
            sleep_between_tables: Duration::ZERO,
            ..CleanupOptions::from_config(k.config())
        };
        let task = k.cleanup().spawn(options, Duration::from_millis(20));
        // Two rounds: the task keeps running after its first tick.
        for round in 0..2 {
            let ids = expired_flows(&k, 2).await;
            for _ in 0..500 {
                if remaining(&k, &ids).await == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert_eq!(remaining(&k, &ids).await, 0, "round {round}");
        }
        task.stop().await;
        let ids = expired_flows(&k, 1).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            remaining(&k, &ids).await,
            1,
            "a stopped task deletes nothing"
        );
    }

    #[test]
    fn options_come_from_the_configuration() {
        let config = Config::from_yaml_str(
            "database:\n  cleanup:\n    batch_size: 7\n    older_than: 6h\n    sleep:\n      tables: 0s\n    courier_messages_older_than: 1h\n",
        )
        .unwrap();
        let o = CleanupOptions::from_config(&config);
        assert_eq!(o.batch_size, 7);
        assert_eq!(o.older_than, Duration::from_secs(6 * 3600));
        assert_eq!(o.sleep_between_tables, Duration::ZERO);
        assert_eq!(o.courier_messages_older_than, Duration::from_secs(3600));
        assert_eq!(
            o.self_service_errors_older_than,
            Duration::from_secs(168 * 3600)
        );
        assert_eq!(
            o.inactive_sessions_older_than,
            Duration::from_secs(720 * 3600)
        );
        assert_eq!(o.login_failures_older_than, Duration::from_secs(24 * 3600));
        let defaults = CleanupOptions::from_config(&Config::default());
        assert_eq!(
            (defaults.batch_size, defaults.sleep_between_tables),
            (100, Duration::from_secs(60))
        );
        assert_eq!(
            Config::default().database.cleanup.interval.0,
            Duration::from_secs(3600)
        );
    }
}
