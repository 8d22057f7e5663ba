//! An example web app built on kratos-rs.
//!
//! `cargo run -p axum-app -- --dev` starts on a local SQLite file with no other set-up. It
//! serves its pages and the Kratos public API on 127.0.0.1:4455, and the Kratos admin API and
//! the Keto API on 127.0.0.1:4434. In development mode (`--dev`) and without `--smtp` mail
//! goes to the development mailbox at `/mailbox`; without `--dev` the app needs `--smtp` and
//! serves no mailbox. `--help` lists the flags.

use std::net::SocketAddr;

use axum_app::{Settings, build};

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
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
    println!("  mail        {}", app.mail_delivery);
    println!("  sms         {}", app.sms_delivery);
    let shutdown = || async {
        tokio::signal::ctrl_c().await.ok();
    };
    let public = axum::serve(
        public_listener,
        app.public
            .into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown());
    let admin = axum::serve(
        admin_listener,
        app.admin
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
