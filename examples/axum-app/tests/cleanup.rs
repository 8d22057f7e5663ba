//! The app's periodic cleanup: its flags and environment variables, and the task that runs
//! it.

use std::time::Duration;

use axum_app::settings::Command;
use axum_app::{Settings, build};
use kratos_core::config::KratosDuration;
use kratos_core::flow::{FlowDocument, FlowKind, StoredFlow};
use uuid::Uuid;

fn config_file(extra: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("axum-app-cleanup-{}.yml", Uuid::new_v4()));
    std::fs::write(
        &path,
        format!(
            "secrets:\n  default: [\"a-cleanup-test-secret-of-enough-length\"]\n\
             hashers:\n  algorithm: bcrypt\n  bcrypt:\n    cost: 4\n{extra}"
        ),
    )
    .unwrap();
    path
}

fn run(env: &[(&str, &str)], args: &[&str]) -> Result<Settings, String> {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    match Settings::from_env_and_args(
        move |k| {
            env.iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.clone())
        },
        args.iter().map(|a| a.to_string()),
    )? {
        Command::Run(s) => Ok(*s),
        Command::Help => panic!("run expected"),
    }
}

#[test]
fn the_cleanup_flags_and_their_environment_variables() {
    let s = run(&[], &[]).unwrap();
    assert_eq!((s.cleanup_interval, s.cleanup_older_than), (None, None));
    let s = run(
        &[("CLEANUP_INTERVAL", "10m"), ("CLEANUP_OLDER_THAN", "1h")],
        &["--cleanup-interval=30m"],
    )
    .unwrap();
    assert_eq!(
        s.cleanup_interval,
        Some(KratosDuration(Duration::from_secs(1800))),
        "the flag wins over the environment"
    );
    assert_eq!(
        s.cleanup_older_than,
        Some(KratosDuration(Duration::from_secs(3600)))
    );
    let err = run(&[], &["--cleanup-older-than", "soon"]).unwrap_err();
    assert!(err.contains("--cleanup-older-than"), "{err}");
    assert!(run(&[], &["--cleanup-interval"]).is_err());
    for flag in ["--cleanup-interval", "--cleanup-older-than"] {
        assert!(axum_app::HELP.contains(flag));
    }
}

#[tokio::test]
async fn the_flags_set_the_configuration() {
    let path = config_file("database:\n  cleanup:\n    batch_size: 7\n");
    let settings = Settings {
        config: Some(path.clone()),
        cleanup_interval: Some(KratosDuration(Duration::from_secs(120))),
        cleanup_older_than: Some(KratosDuration(Duration::from_secs(6 * 3600))),
        dev: true,
        ..Settings::default()
    };
    let config = axum_app::kratos_config(&settings).unwrap();
    std::fs::remove_file(path).ok();
    let c = &config.database.cleanup;
    assert_eq!(c.interval.0, Duration::from_secs(120));
    assert_eq!(c.older_than.0, Duration::from_secs(6 * 3600));
    assert_eq!(c.batch_size, 7, "the file's keys stay");
}

async fn app_with(interval: &str) -> axum_app::App {
    // No pause between kinds, so a run that deleted a flow is over in time for the next tick.
    let path = config_file("database:\n  cleanup:\n    sleep:\n      tables: 0s\n");
    let settings = Settings {
        database: "sqlite::memory:".into(),
        config: Some(path.clone()),
        cleanup_interval: Some(KratosDuration::parse(interval).unwrap()),
        dev: true,
        ..Settings::default()
    };
    let app = build(&settings).await.expect("the app builds");
    std::fs::remove_file(path).ok();
    app
}

async fn expired_flow(app: &axum_app::App) -> Uuid {
    let flow = StoredFlow {
        id: Uuid::now_v7(),
        kind: FlowKind::Login,
        expires_at: chrono::Utc::now() - chrono::Duration::hours(1),
        csrf_token: String::new(),
        document: FlowDocument::of(&serde_json::json!({})).unwrap(),
    };
    let k = &app.kratos;
    k.store().insert_flow(k.nid(), &flow).await.unwrap();
    flow.id
}

async fn stored(app: &axum_app::App, id: Uuid) -> bool {
    let k = &app.kratos;
    k.store()
        .get_flow(k.nid(), FlowKind::Login, id)
        .await
        .is_ok()
}

#[tokio::test]
async fn the_app_deletes_expired_rows_periodically() {
    let app = app_with("50ms").await;
    assert!(app.cleanup.is_some());
    // Two rounds: the task keeps running after its first tick.
    for _ in 0..2 {
        let id = expired_flow(&app).await;
        let mut gone = false;
        for _ in 0..300 {
            if !stored(&app, id).await {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(gone, "the periodic cleanup deleted the expired flow");
    }
    app.cleanup.unwrap().stop().await;
}

#[tokio::test]
async fn a_zero_interval_runs_no_cleanup() {
    let app = app_with("0s").await;
    assert!(app.cleanup.is_none());
    let id = expired_flow(&app).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(stored(&app, id).await);
}
