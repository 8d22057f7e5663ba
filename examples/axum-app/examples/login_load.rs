//! A repeatable load measurement of the example app: registers one identity through the API
//! registration flow, then sends concurrent API password logins for it and reports how they
//! were answered, the total time, the throughput and (with `--pid`) the app's peak resident
//! memory.
//!
//! ```text
//! cargo run --release -p axum-app -- --dev --config examples/axum-app/load-test.yml &
//! cargo run --release -p axum-app --example login_load -- --pid "$(pgrep -n axum-app)"
//! ```
//!
//! Flags: `--base URL` (default `http://127.0.0.1:4455`), `--logins N` (default 256),
//! `--pid PID` (the app's process, for `VmHWM` from `/proc/PID/status`).

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// The password of the measured identity.
const PASSWORD: &str = "load measurement password 1";

struct Options {
    base: String,
    logins: usize,
    pid: Option<u32>,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        base: "http://127.0.0.1:4455".into(),
        logins: 256,
        pid: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--base" => options.base = value()?,
            "--logins" => {
                options.logins = value()?.parse().map_err(|e| format!("--logins: {e}"))?;
            }
            "--pid" => options.pid = Some(value()?.parse().map_err(|e| format!("--pid: {e}"))?),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(options)
}

/// Sends a request with an optional JSON body; answers the status and the JSON body (`Null`
/// when it is not JSON).
async fn send(
    client: &HttpClient,
    method: Method,
    url: &str,
    body: Option<&Value>,
) -> Result<(StatusCode, Value), String> {
    let mut request = Request::builder()
        .method(method)
        .uri(url)
        .header("accept", "application/json");
    let body = match body {
        Some(b) => {
            request = request.header("content-type", "application/json");
            Full::new(Bytes::from(b.to_string()))
        }
        None => Full::new(Bytes::new()),
    };
    let request = request.body(body).map_err(|e| e.to_string())?;
    let response = client.request(request).await.map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

/// A new API flow of `kind` (`login`, `registration`): its id.
async fn new_flow(client: &HttpClient, base: &str, kind: &str) -> Result<String, String> {
    let (status, flow) = send(
        client,
        Method::GET,
        &format!("{base}/self-service/{kind}/api"),
        None,
    )
    .await?;
    match flow["id"].as_str() {
        Some(id) if status == StatusCode::OK => Ok(id.to_owned()),
        _ => Err(format!("new {kind} flow: {status} {flow}")),
    }
}

/// One API password login: the status of its submission.
async fn login(client: HttpClient, base: String, email: String) -> Result<StatusCode, String> {
    let flow = new_flow(&client, &base, "login").await?;
    let body = json!({"method": "password", "identifier": email, "password": PASSWORD});
    let (status, _) = send(
        &client,
        Method::POST,
        &format!("{base}/self-service/login?flow={flow}"),
        Some(&body),
    )
    .await?;
    Ok(status)
}

/// A value of `/proc/PID/status` (`VmHWM`, `VmRSS`), in kB.
fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let options = options()?;
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build_http();
    let base = options.base.trim_end_matches('/').to_owned();

    let email = format!("load-{}@example.com", uuid::Uuid::new_v4().simple());
    let flow = new_flow(&client, &base, "registration").await?;
    let body = json!({"method": "password", "password": PASSWORD,
        "traits": {"email": email, "name": "Load Measurement"}});
    let (status, answer) = send(
        &client,
        Method::POST,
        &format!("{base}/self-service/registration?flow={flow}"),
        Some(&body),
    )
    .await?;
    if status != StatusCode::OK {
        return Err(format!("registration: {status} {answer}"));
    }
    if let Some(pid) = options.pid {
        println!(
            "app before the logins: VmRSS {} kB, VmHWM {} kB",
            proc_status_kb(pid, "VmRSS").unwrap_or(0),
            proc_status_kb(pid, "VmHWM").unwrap_or(0)
        );
    }

    let started = Instant::now();
    let logins = (0..options.logins)
        .map(|_| tokio::spawn(login(client.clone(), base.clone(), email.clone())));
    let mut by_status = std::collections::BTreeMap::<String, usize>::new();
    for task in futures_join(logins.collect()).await {
        let key = match task {
            Ok(Ok(status)) => status.as_u16().to_string(),
            Ok(Err(e)) => format!("error: {e}"),
            Err(e) => format!("task failed: {e}"),
        };
        *by_status.entry(key).or_default() += 1;
    }
    let elapsed = started.elapsed();
    println!(
        "{} concurrent api password logins in {:.2} s: {:.1} logins/s",
        options.logins,
        elapsed.as_secs_f64(),
        options.logins as f64 / elapsed.as_secs_f64()
    );
    for (status, count) in &by_status {
        println!("  {status}: {count}");
    }
    if let Some(pid) = options.pid {
        println!(
            "app after the logins: VmRSS {} kB, peak VmHWM {} kB",
            proc_status_kb(pid, "VmRSS").unwrap_or(0),
            proc_status_kb(pid, "VmHWM").unwrap_or(0)
        );
    }
    if by_status.len() == 1 && by_status.contains_key("200") {
        Ok(())
    } else {
        Err("not every login answered 200".into())
    }
}

/// Awaits every task, in order.
async fn futures_join<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<Result<T, String>> {
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(task.await.map_err(|e| e.to_string()));
    }
    out
}
