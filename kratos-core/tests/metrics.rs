//! The metrics a registration, a login, a lockout and the courier move, read through a
//! local debugging recorder.

use std::sync::Arc;

use kratos_core::Kratos;
use kratos_core::courier::{MemoryOutbox, TemplateType};
use kratos_core::flow::FlowError;
use kratos_core::flow::login::LoginSubmission;
use kratos_core::flow::registration::RegistrationSubmission;
use kratos_core::store::MemoryStore;
use kratos_core::telemetry;
use kratos_core::testsuite::{kratos_with_outbox, register, try_login};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple 42";
const WRONG_PASSWORD: &str = "a wrong password of some length";

/// Sessions issued by registration (as in Kratos's `session` hook), with a lockout after
/// three failures.
const CONFIG: &str = "selfservice:\n  flows:\n    registration:\n      after:\n        password:\n          hooks: [{hook: session}]\nsecurity:\n  login_lockout:\n    max_failures: 3\n";

fn email() -> String {
    format!("metrics-{}@example.com", uuid::Uuid::new_v4().simple())
}

fn registry() -> (Kratos, MemoryOutbox) {
    let (k, outbox, _) = kratos_with_outbox(Arc::new(MemoryStore::new()), CONFIG);
    (k, outbox)
}

async fn registered(k: &Kratos, mail: &str) {
    match register(k, mail, PASSWORD).await {
        RegistrationSubmission::Completed(done) => assert!(done.session_token.is_some()),
        RegistrationSubmission::Retry(flow) => panic!("registration refused: {:?}", flow.ui),
    }
}

/// A metric's labels, as text.
type Labels = Vec<(String, String)>;

/// The metrics recorded so far: a debugging recorder's snapshot drains what it reads, so
/// every read is added to running totals.
struct Totals {
    snapshotter: Snapshotter,
    /// Counters: name, labels, value.
    counters: Vec<(String, Labels, u64)>,
    /// Histograms: name, how many values.
    histograms: Vec<(String, usize)>,
}

impl Totals {
    fn new(snapshotter: Snapshotter) -> Self {
        Totals {
            snapshotter,
            counters: Vec::new(),
            histograms: Vec::new(),
        }
    }

    fn drain(&mut self) {
        for (key, _, _, value) in self.snapshotter.snapshot().into_vec() {
            let key = key.key();
            let name = key.name().to_owned();
            match value {
                DebugValue::Counter(n) => {
                    let labels: Labels = key
                        .labels()
                        .map(|l| (l.key().to_owned(), l.value().to_owned()))
                        .collect();
                    match self
                        .counters
                        .iter_mut()
                        .find(|(k, l, _)| *k == name && *l == labels)
                    {
                        Some(entry) => entry.2 += n,
                        None => self.counters.push((name, labels, n)),
                    }
                }
                DebugValue::Histogram(values) => self.histograms.push((name, values.len())),
                DebugValue::Gauge(_) => {}
            }
        }
    }

    /// The sum of the counters `name` whose labels include `labels`.
    fn counter(&mut self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.drain();
        self.counters
            .iter()
            .filter(|(k, l, _)| {
                k == name
                    && labels
                        .iter()
                        .all(|(lk, lv)| l.iter().any(|(k, v)| k == lk && v == lv))
            })
            .map(|(_, _, n)| n)
            .sum()
    }

    /// How many values the histograms `name` recorded.
    fn histogram_len(&mut self, name: &str) -> usize {
        self.drain();
        self.histograms
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, n)| n)
            .sum()
    }
}

#[tokio::test]
async fn logins_lockouts_and_the_courier_move_their_metrics() {
    let recorder = DebuggingRecorder::new();
    let mut totals = Totals::new(recorder.snapshotter());
    let _guard = metrics::set_default_local_recorder(&recorder);
    let (k, outbox) = registry();
    let mail = email();
    registered(&k, &mail).await;
    assert_eq!(
        totals.counter(
            telemetry::REGISTRATION_TOTAL,
            &[("method", "password"), ("result", "success")]
        ),
        1
    );

    assert!(matches!(
        try_login(&k, &mail, PASSWORD).await.unwrap(),
        LoginSubmission::Completed(_)
    ));
    let login = |result| [("method", "password"), ("result", result)];
    assert_eq!(totals.counter(telemetry::LOGIN_TOTAL, &login("success")), 1);
    assert_eq!(totals.counter(telemetry::LOGIN_TOTAL, &login("failure")), 0);

    for _ in 0..3 {
        assert!(matches!(
            try_login(&k, &mail, WRONG_PASSWORD).await.unwrap(),
            LoginSubmission::Retry(_)
        ));
    }
    assert_eq!(totals.counter(telemetry::LOGIN_TOTAL, &login("failure")), 3);
    assert_eq!(totals.counter(telemetry::LOGIN_LOCKOUTS_TOTAL, &[]), 0);
    // The third failure locked the identifier: the next attempt is refused.
    assert!(matches!(
        try_login(&k, &mail, PASSWORD).await,
        Err(FlowError::LoginLocked { .. })
    ));
    assert_eq!(totals.counter(telemetry::LOGIN_TOTAL, &login("locked")), 1);
    assert_eq!(
        totals.counter(telemetry::LOGIN_LOCKOUTS_TOTAL, &[("method", "password")]),
        1
    );
    assert_eq!(totals.counter(telemetry::LOGIN_TOTAL, &login("success")), 1);

    // The courier: queued, then sent.
    let email_channel = [("channel", "email")];
    assert_eq!(
        totals.counter(telemetry::COURIER_SENT_TOTAL, &email_channel),
        0
    );
    k.courier()
        .queue(
            TemplateType::VerificationCodeValid,
            &mail,
            json!({"to": mail, "verification_code": "123456", "verification_url": "https://example.com/"}),
        )
        .await
        .unwrap();
    assert_eq!(
        totals.counter(
            telemetry::COURIER_QUEUED_TOTAL,
            &[
                ("channel", "email"),
                ("template", "verification_code_valid")
            ]
        ),
        1
    );
    assert_eq!(k.courier().dispatch_batch().await.unwrap().sent, 1);
    assert_eq!(outbox.messages_to(&mail).len(), 1);
    assert_eq!(
        totals.counter(telemetry::COURIER_SENT_TOTAL, &email_channel),
        1
    );
    assert_eq!(totals.counter(telemetry::COURIER_FAILED_TOTAL, &[]), 0);

    // Every store call was measured.
    assert!(totals.histogram_len(telemetry::STORE_CALL_DURATION) >= 10);
}
