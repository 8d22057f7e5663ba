//! The aal2 step-up with TOTP beside the password login it follows, on memory, SQLite and
//! PostgreSQL (when `KRATOS_TEST_POSTGRES_URL` is set), in the same run on the same store.
//!
//! One identity has a password and an authenticator app (its `otpauth://` URL imported
//! through the admin API). Each iteration is a whole two-factor login through api flows:
//! the password login ("create an api flow, submit identifier and password": one argon2id
//! verification at the library's defaults and a new aal1 session), then the step-up on that
//! session ("create an aal2 api flow, submit the authenticator's code": the session checked,
//! the identity read, the key unsealed, the attempt counted, the code verified and its step
//! recorded as used, the session raised to aal2). Both halves are timed apart and saved as a
//! pair (`kratos_benches::paired`), the password login as the baseline: the ratio
//! `bench_table` prints is the median step-up over the median password login of the same
//! iterations, the price of the second factor in units of the first.
//!
//! Criterion itself is given the time of the whole iteration (both halves), so that it
//! schedules the run by its real length: its own estimate for `totp_step_up` is that of a
//! full two-factor login; the table reads the pair.

#[path = "common/mod.rs"]
mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use kratos_benches::paired::{self, Paired};
use kratos_core::flow::login::{LoginOptions, LoginSubmission};
use kratos_core::flow::{FlowContext, FlowType};
use kratos_core::identity::{
    CreateIdentityBody, ImportCredentials, ImportPassword, ImportPasswordConfig, ImportTotp,
    ImportTotpConfig,
};
use kratos_core::session::Aal;
use kratos_core::strategy::totp::otp::TotpKey;
use kratos_core::{Clock, Kratos, ManualClock};
use serde_json::json;

const BASELINE: &str = "baseline_password_login";

const PASSWORD: &str = "mfa bench: correct horse battery staple";

const ISSUER: &str = "Bench";

/// TOTP on; lockout stays at its defaults (on, 5 failures per identifier): every iteration
/// succeeds, and a success resets the identifier's count (password) and the identity's
/// second-factor count (TOTP), so no count ever passes one. The attempts are counted as in
/// production, and their writes are part of what is measured.
const EXTRA_YAML: &str = "selfservice:
  methods:
    password:
      config:
        haveibeenpwned_enabled: false
    totp:
      enabled: true
      config:
        issuer: Bench
";

/// The password login: the aal1 session token. The identity has a second factor, so the
/// session is one to step up.
async fn password_login(k: &Kratos, email: &str) -> String {
    let ctx = FlowContext::default();
    let flow = k
        .login()
        .create(FlowType::Api, &ctx, LoginOptions::default())
        .await
        .expect("login flow");
    match k
        .login()
        .submit(
            flow.id,
            &json!({"method": "password", "identifier": email, "password": PASSWORD}),
            &ctx,
        )
        .await
        .expect("login submit")
    {
        LoginSubmission::Completed(done) => {
            assert!(done.aal2_required, "the identity has a second factor");
            done.session_token
                .expect("an api flow answers a token")
                .expose()
                .to_owned()
        }
        LoginSubmission::Retry(_) => panic!("the password login was refused"),
    }
}

/// The step-up of the session `token` with `code`: the aal2 flow and its submission.
/// Whether the session reached aal2.
async fn step_up(k: &Kratos, token: &str, code: &str) -> bool {
    let ctx = FlowContext {
        session_token: Some(token.to_owned()),
        ..Default::default()
    };
    let flow = k
        .login()
        .create(
            FlowType::Api,
            &ctx,
            LoginOptions {
                aal: Some(Aal::Aal2),
                ..Default::default()
            },
        )
        .await
        .expect("aal2 flow");
    let submission = k
        .login()
        .submit(flow.id, &json!({"method": "totp", "totp_code": code}), &ctx)
        .await
        .expect("aal2 submit");
    matches!(submission, LoginSubmission::Completed(done)
        if done.session.authenticator_assurance_level == Aal::Aal2)
}

fn unix(clock: &ManualClock) -> u64 {
    u64::try_from(clock.now().timestamp()).expect("after 1970")
}

fn run(c: &mut Criterion, rt: &tokio::runtime::Runtime, backend: common::Backend) {
    // A TOTP code is accepted once per identity and 30-second step (its step is recorded as
    // used), and a step-up runs at well over one per second. Rather than one identity per
    // iteration (criterion decides the number of iterations as it goes, and a pool would be
    // set-up time), the registry runs on a manual clock that every iteration moves on by one
    // step: one identity, a fresh code each time. The clock starts in the middle of a step
    // and stands still within an iteration, so a code is verified in its own step, and the
    // flows and the session an iteration makes are used at the time they were made (a run
    // moves the clock on by an hour or two, well within a session's lifespan).
    let now = chrono::Utc::now().timestamp();
    let clock =
        ManualClock::new(chrono::DateTime::from_timestamp(now - now % 30 + 15, 0).expect("a time"));
    let k = Kratos::builder(common::config(EXTRA_YAML))
        .store(backend.store.clone())
        .schema(common::schema())
        .clock(Arc::new(clock.clone()))
        .build()
        .expect("kratos builds");

    let email = format!("mfa-{}@example.com", uuid::Uuid::new_v4().simple());
    let key = TotpKey::generate(ISSUER, &email).expect("TOTP key");
    rt.block_on(k.identities().create(CreateIdentityBody {
        traits: json!({ "email": email }),
        credentials: Some(ImportCredentials {
            password: Some(ImportPassword {
                config: ImportPasswordConfig {
                    password: Some(PASSWORD.into()),
                    ..Default::default()
                },
            }),
            totp: Some(ImportTotp {
                config: ImportTotpConfig {
                    totp_url: key.to_url().to_string(),
                },
            }),
            ..Default::default()
        }),
        ..Default::default()
    }))
    .expect("the identity imports");
    // One two-factor login before measuring, and a replay of its code refused: the
    // measured step-ups are real ones.
    let token = rt.block_on(password_login(&k, &email));
    let code = key.code_at(unix(&clock));
    assert!(
        rt.block_on(step_up(&k, &token, &code)),
        "the step-up succeeds"
    );
    let token = rt.block_on(password_login(&k, &email));
    assert!(
        !rt.block_on(step_up(&k, &token, &code)),
        "a code is good once"
    );

    let group = format!("mfa/{}", backend.name);
    let mut g = c.benchmark_group(&group);
    g.sampling_mode(SamplingMode::Flat);
    let mut pairs = Paired::default();
    g.bench_function("totp_step_up", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                // Untimed: the next step, and the authenticator's code for it.
                clock.advance(chrono::Duration::seconds(30));
                let code = key.code_at(unix(&clock));
                let start = Instant::now();
                let token = rt.block_on(password_login(&k, black_box(&email)));
                let login_took = start.elapsed();
                let start = Instant::now();
                let done = rt.block_on(step_up(&k, black_box(&token), black_box(&code)));
                let took = start.elapsed();
                assert!(done, "the step-up succeeds");
                pairs.add(login_took, took);
                total += login_took + took;
            }
            total
        })
    });
    paired::keep(&group, "totp_step_up", BASELINE, pairs);
    g.finish();
    drop(k);
    backend.finish(rt);
}

fn bench(c: &mut Criterion) {
    let rt = common::runtime();
    run(c, &rt, common::memory());
    run(c, &rt, common::sqlite(&rt, "mfa"));
    if let Some(pg) = common::postgres(&rt) {
        run(c, &rt, pg);
    }
    if let Some(my) = common::mysql(&rt) {
        run(c, &rt, my);
    }
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = bench
}
criterion_main!(benches);
