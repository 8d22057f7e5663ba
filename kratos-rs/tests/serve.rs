//! `kratos-rs serve` from the settings of Ory's quickstart `kratos.yml` and a `keto.yml` with an OPL file.

mod common;

use common::{Server, TempDir, fixtures, free_port, request};
use serde_json::{Value, json};

struct Ports {
    public: u16,
    admin: u16,
    read: u16,
    write: u16,
}

/// The quickstart's configuration as it is, with what a deployment sets in the environment:
/// where to listen, the identity schema's path, no Have I Been Pwned lookups (no network).
fn quickstart_env(ports: &Ports, dsn: &str) -> Vec<(&'static str, String)> {
    let schema = fixtures().join("identity.schema.json");
    vec![
        ("DSN", dsn.to_owned()),
        ("SERVE_PUBLIC_HOST", "127.0.0.1".into()),
        ("SERVE_PUBLIC_PORT", ports.public.to_string()),
        (
            "SERVE_PUBLIC_BASE_URL",
            format!("http://127.0.0.1:{}/", ports.public),
        ),
        ("SERVE_ADMIN_HOST", "127.0.0.1".into()),
        ("SERVE_ADMIN_PORT", ports.admin.to_string()),
        (
            "IDENTITY_SCHEMAS",
            json!([{"id": "default", "url": format!("file://{}", schema.display())}]).to_string(),
        ),
        (
            "SELFSERVICE_METHODS_PASSWORD_CONFIG_HAVEIBEENPWNED_ENABLED",
            "false".into(),
        ),
        ("SERVE_READ_PORT", ports.read.to_string()),
        ("SERVE_WRITE_PORT", ports.write.to_string()),
        ("LIMIT_MAX_READ_DEPTH", "2".into()),
    ]
}

fn ports() -> Ports {
    Ports {
        public: free_port(),
        admin: free_port(),
        read: free_port(),
        write: free_port(),
    }
}

fn post(url: &str, body: &Value, headers: &[(&str, &str)]) -> common::Response {
    request("POST", url, Some(body), headers).unwrap()
}

/// The password `register_and_login` registers with.
const PASSWORD: &str = "Correct-Horse-Battery-Staple-42";

/// Registers and logs in over the public API (API flows), and reads the session back.
fn register_and_login(public: &str) -> String {
    let flow = request(
        "GET",
        &format!("{public}/self-service/registration/api"),
        None,
        &[],
    )
    .unwrap()
    .json();
    let flow_id = flow["id"].as_str().expect("a registration flow id");
    let password = PASSWORD;
    let registered = post(
        &format!("{public}/self-service/registration?flow={flow_id}"),
        &json!({
            "method": "password",
            "password": password,
            "traits": {"email": "ada@example.com", "name": {"first": "Ada", "last": "Lovelace"}},
        }),
        &[],
    );
    assert_eq!(registered.status, 200, "{}", registered.text());
    let registered = registered.json();
    assert_eq!(registered["identity"]["traits"]["email"], "ada@example.com");
    // The quickstart's `session` hook after a password registration signs the user in.
    assert!(registered["session_token"].is_string(), "{registered}");

    let flow = request(
        "GET",
        &format!("{public}/self-service/login/api"),
        None,
        &[],
    )
    .unwrap()
    .json();
    let flow_id = flow["id"].as_str().expect("a login flow id");
    let wrong = post(
        &format!("{public}/self-service/login?flow={flow_id}"),
        &json!({"method": "password", "identifier": "ada@example.com", "password": "not-the-password-1"}),
        &[],
    );
    assert_eq!(wrong.status, 400, "{}", wrong.text());
    let login = post(
        &format!("{public}/self-service/login?flow={flow_id}"),
        &json!({"method": "password", "identifier": "ada@example.com", "password": password}),
        &[],
    );
    assert_eq!(login.status, 200, "{}", login.text());
    let token = login.json()["session_token"]
        .as_str()
        .expect("a session token")
        .to_owned();
    let whoami = request(
        "GET",
        &format!("{public}/sessions/whoami"),
        None,
        &[("X-Session-Token", &token)],
    )
    .unwrap();
    assert_eq!(whoami.status, 200, "{}", whoami.text());
    assert_eq!(
        whoami.json()["identity"]["traits"]["email"],
        "ada@example.com"
    );
    token
}

fn tuple(namespace: &str, object: &str, relation: &str, subject: Value) -> Value {
    let mut t = json!({"namespace": namespace, "object": object, "relation": relation});
    match subject {
        Value::String(id) => t["subject_id"] = Value::String(id),
        set => t["subject_set"] = set,
    }
    t
}

fn team_members(team: &str) -> Value {
    json!({"namespace": "Team", "object": team, "relation": "members"})
}

/// Writes tuples, then checks a permit in strict mode, with `limit.max_read_depth` lowered
/// to 2 by the environment: a check needing deeper reads is refused with 422, as Keto's
/// strict mode does when a limit stops the walk.
fn keto_write_and_check(read: &str, write: &str) {
    for t in [
        tuple("Doc", "plan", "readers", json!("ada")),
        tuple("Doc", "plan", "readers", team_members("a")),
        tuple("Team", "a", "members", team_members("b")),
        tuple("Team", "b", "members", team_members("c")),
        tuple("Team", "c", "members", json!("bob")),
    ] {
        let put = request(
            "PUT",
            &format!("{write}/admin/relation-tuples"),
            Some(&t),
            &[],
        )
        .unwrap();
        assert_eq!(put.status, 201, "{}", put.text());
    }
    let check = |subject: &str| {
        post(
            &format!("{read}/relation-tuples/check/openapi"),
            &tuple("Doc", "plan", "read", json!(subject)),
            &[],
        )
    };
    let ada = check("ada");
    assert_eq!(ada.status, 200, "{}", ada.text());
    assert_eq!(ada.json()["allowed"], true);
    let bob = check("bob");
    assert_eq!(bob.status, 422, "{}", bob.text());
    // The OPL file defines the relations: an undeclared one is an error, as in Keto.
    let undeclared = post(
        &format!("{read}/relation-tuples/check/openapi"),
        &tuple("Doc", "plan", "edit", json!("ada")),
        &[],
    );
    assert_eq!(undeclared.status, 400, "{}", undeclared.text());
}

#[test]
fn the_quickstart_serves_kratos_and_keto_and_stops_on_sigterm() {
    let dir = TempDir::new("serve");
    let ports = ports();
    let env = quickstart_env(&ports, "memory");
    let mut server = Server::start(
        &[
            "serve",
            "-c",
            "kratos.yml",
            "--keto-config",
            "keto.yml",
            "--allow-unimplemented",
        ],
        &env,
        dir.path("serve.log"),
    );
    let public = format!("http://127.0.0.1:{}", ports.public);
    let admin = format!("http://127.0.0.1:{}", ports.admin);
    let read = format!("http://127.0.0.1:{}", ports.read);
    let write = format!("http://127.0.0.1:{}", ports.write);
    server.wait_ready(&format!("{public}/health/alive"));
    server.wait_ready(&format!("{admin}/health/ready"));
    // Keys of the quickstart this project does not implement are named, not silently dropped.
    let output = server.output();
    for key in [
        "/feature_flags/use_continue_with_transitions",
        "/log/leak_sensitive_values",
    ] {
        assert!(output.contains(&format!("`{key}`")), "{key}:\n{output}");
    }
    register_and_login(&public);
    let identities = request("GET", &format!("{admin}/admin/identities"), None, &[])
        .unwrap()
        .json();
    assert_eq!(identities.as_array().map(Vec::len), Some(1), "{identities}");
    keto_write_and_check(&read, &write);
    assert!(server.terminate(), "a clean exit after SIGTERM");
}

#[test]
fn serve_migrates_a_sqlite_database_and_keeps_it() {
    let dir = TempDir::new("serve-sqlite");
    let dsn = format!("sqlite://{}?mode=rwc", dir.path("db.sqlite").display());
    let run = |log: &str| {
        let ports = ports();
        let env = quickstart_env(&ports, &dsn);
        let mut server = Server::start(
            &[
                "serve",
                "-c",
                "kratos.yml",
                "--allow-unimplemented",
                "--migrate",
            ],
            &env,
            dir.path(log),
        );
        let admin = format!("http://127.0.0.1:{}", ports.admin);
        server.wait_ready(&format!("{admin}/health/ready"));
        (server, ports)
    };
    let (server, ports) = run("first.log");
    register_and_login(&format!("http://127.0.0.1:{}", ports.public));
    assert!(server.terminate());
    let (server, ports) = run("second.log");
    let identities = request(
        "GET",
        &format!("http://127.0.0.1:{}/admin/identities", ports.admin),
        None,
        &[],
    )
    .unwrap()
    .json();
    assert_eq!(identities[0]["traits"]["email"], "ada@example.com");
    assert!(server.terminate());
}

/// `identities import` with a hashed password, then a login with that password on `serve`
/// over the same database.
#[test]
fn an_imported_identity_signs_in_with_its_hashed_password() {
    let dir = TempDir::new("import-login");
    let dsn = format!("sqlite://{}?mode=rwc", dir.path("db.sqlite").display());
    let hash = kratos_hash::Hasher::new(kratos_hash::HashAlgorithm::Bcrypt { cost: 4 })
        .unwrap()
        .hash(b"Imported-Password-2026")
        .unwrap();
    let file = dir.write(
        "import.json",
        &json!({
            "schema_id": "default",
            "traits": {"email": "imported@example.com"},
            "credentials": {"password": {"config": {"hashed_password": hash}}},
        })
        .to_string(),
    );
    let ports = ports();
    let env = quickstart_env(&ports, &dsn);
    common::ok(&["migrate", "sql", "-e", "--yes"], &env);
    let imported = common::ok(
        &[
            "identities",
            "import",
            file.to_str().unwrap(),
            "-c",
            "kratos.yml",
            "--allow-unimplemented",
        ],
        &env,
    );
    assert!(imported.contains("imported@example.com"), "{imported}");
    let mut server = Server::start(
        &["serve", "-c", "kratos.yml", "--allow-unimplemented"],
        &env,
        dir.path("serve.log"),
    );
    let public = format!("http://127.0.0.1:{}", ports.public);
    server.wait_ready(&format!("{public}/health/alive"));
    let flow = request(
        "GET",
        &format!("{public}/self-service/login/api"),
        None,
        &[],
    )
    .unwrap()
    .json();
    let login = post(
        &format!(
            "{public}/self-service/login?flow={}",
            flow["id"].as_str().unwrap()
        ),
        &json!({"method": "password", "identifier": "imported@example.com", "password": "Imported-Password-2026"}),
        &[],
    );
    assert_eq!(login.status, 200, "{}", login.text());
    assert!(server.terminate());
}

/// Logs as JSON lines at debug level (the quickstart's `log` with `LOG_FORMAT=json`), one
/// span per request naming the path, counters on the admin port's `/metrics/prometheus`,
/// and neither the password nor the session token in the output.
#[test]
fn serve_logs_json_exports_prometheus_metrics_and_leaks_no_secret() {
    let dir = TempDir::new("serve-observability");
    let ports = ports();
    let mut env = quickstart_env(&ports, "memory");
    env.push(("LOG_FORMAT", "json".into()));
    let mut server = Server::start(
        &["serve", "-c", "kratos.yml", "--allow-unimplemented"],
        &env,
        dir.path("serve.log"),
    );
    let public = format!("http://127.0.0.1:{}", ports.public);
    let admin = format!("http://127.0.0.1:{}", ports.admin);
    server.wait_ready(&format!("{public}/health/alive"));
    let token = register_and_login(&public);
    let metrics = request("GET", &format!("{admin}/metrics/prometheus"), None, &[]).unwrap();
    assert_eq!(metrics.status, 200, "{}", metrics.text());
    let content_type = metrics
        .headers
        .iter()
        .find(|(k, _)| k == "content-type")
        .map(|(_, v)| v.as_str());
    assert!(
        content_type.is_some_and(|v| v.starts_with("text/plain")),
        "{content_type:?}"
    );
    let text = metrics.text();
    for name in ["kratos_login_total", "kratos_registration_total"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(name) && !l.starts_with('#')),
            "no {name} sample:\n{text}"
        );
    }
    // Not on the public port.
    let public_metrics =
        request("GET", &format!("{public}/metrics/prometheus"), None, &[]).unwrap();
    assert_eq!(public_metrics.status, 404);
    assert!(server.terminate());
    let output = std::fs::read_to_string(dir.path("serve.log")).unwrap();
    assert!(
        !output.contains(PASSWORD),
        "the password is logged:\n{output}"
    );
    assert!(
        !output.contains(&token),
        "the session token is logged:\n{output}"
    );
    assert!(
        !output.contains("?flow="),
        "a query string is logged:\n{output}"
    );
    // The request spans are there, as JSON lines.
    let events: Vec<Value> = output
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        events.iter().any(|e| {
            e["span"]["path"] == "/self-service/login" && e["span"]["method"] == "POST"
        }),
        "no request span for the login:\n{output}"
    );
}

/// Starts `serve` with Keto, `limit.max_read_depth` at 5 and `extra` in the environment;
/// answers the server and its Keto read and write URLs.
fn serve_keto(
    dir: &TempDir,
    log: &str,
    extra: &[(&'static str, &str)],
) -> (Server, String, String) {
    let ports = ports();
    let mut env = quickstart_env(&ports, "memory");
    env.retain(|(k, _)| *k != "LIMIT_MAX_READ_DEPTH");
    env.push(("LIMIT_MAX_READ_DEPTH", "5".into()));
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let mut server = Server::start(
        &[
            "serve",
            "-c",
            "kratos.yml",
            "--keto-config",
            "keto.yml",
            "--allow-unimplemented",
        ],
        &env,
        dir.path(log),
    );
    let read = format!("http://127.0.0.1:{}", ports.read);
    let write = format!("http://127.0.0.1:{}", ports.write);
    server.wait_ready(&format!("{read}/health/ready"));
    (server, read, write)
}

/// Two readers' subject sets on `Doc:plan`, each one level deep: deciding that `eve` is not
/// a reader walks both.
fn write_wide_readers(write: &str) {
    for t in [
        tuple("Doc", "plan", "readers", json!("ada")),
        tuple("Doc", "plan", "readers", team_members("a")),
        tuple("Doc", "plan", "readers", team_members("b")),
        tuple("Team", "a", "members", team_members("a2")),
        tuple("Team", "b", "members", team_members("b2")),
        tuple("Team", "a2", "members", json!("bob")),
        tuple("Team", "b2", "members", json!("bob")),
    ] {
        let put = request(
            "PUT",
            &format!("{write}/admin/relation-tuples"),
            Some(&t),
            &[],
        )
        .unwrap();
        assert_eq!(put.status, 201, "{}", put.text());
    }
}

fn check_read(read: &str, subject: &str) -> common::Response {
    post(
        &format!("{read}/relation-tuples/check/openapi"),
        &tuple("Doc", "plan", "read", json!(subject)),
        &[],
    )
}

/// `limit.max_read_width` lowered to 1 by the environment: a check that must walk both
/// subject sets to answer is refused with 422 in strict mode, and answers `allowed: false`
/// (Keto's unknown) without it; with the default width the same check is a plain `false`.
#[test]
fn a_lowered_read_width_stops_a_wide_check_as_keto_does() {
    let dir = TempDir::new("serve-width");
    let (server, read, write) = serve_keto(&dir, "strict.log", &[("LIMIT_MAX_READ_WIDTH", "1")]);
    write_wide_readers(&write);
    let ada = check_read(&read, "ada");
    assert_eq!(ada.json()["allowed"], true, "{}", ada.text());
    // Both subject sets lead to bob: the one walked is enough.
    let bob = check_read(&read, "bob");
    assert_eq!(bob.json()["allowed"], true, "{}", bob.text());
    let eve = check_read(&read, "eve");
    assert_eq!(eve.status, 422, "{}", eve.text());
    assert!(server.terminate());

    let (server, read, write) = serve_keto(
        &dir,
        "lenient.log",
        &[
            ("LIMIT_MAX_READ_WIDTH", "1"),
            ("FEATURE_FLAGS_STRICT_MODE", "false"),
        ],
    );
    write_wide_readers(&write);
    let eve = check_read(&read, "eve");
    assert_eq!(eve.status, 200, "{}", eve.text());
    assert_eq!(eve.json()["allowed"], false);
    assert!(server.terminate());

    let (server, read, write) = serve_keto(&dir, "wide.log", &[]);
    write_wide_readers(&write);
    let eve = check_read(&read, "eve");
    assert_eq!(eve.status, 200, "{}", eve.text());
    assert_eq!(eve.json()["allowed"], false);
    assert!(server.terminate());
}

/// A Keto key this project does not implement (with `--allow-unimplemented`) is a `WARN`
/// event in the configured log format, not a line of its own.
#[test]
fn an_unimplemented_keto_key_is_a_warning_event() {
    let dir = TempDir::new("serve-keto-warning");
    let keto = std::fs::read_to_string(fixtures().join("keto.yml")).unwrap();
    let opl = fixtures().join("namespaces.keto.ts");
    let file = dir.write(
        "keto.yml",
        &format!(
            "{}\n  metrics:\n    port: 4468\n",
            keto.trim_end().replace(
                "file://./namespaces.keto.ts",
                &format!("file://{}", opl.display())
            )
        ),
    );
    let ports = ports();
    let mut env = quickstart_env(&ports, "memory");
    env.push(("LOG_FORMAT", "json".into()));
    let mut server = Server::start(
        &[
            "serve",
            "-c",
            "kratos.yml",
            "--keto-config",
            file.to_str().unwrap(),
            "--allow-unimplemented",
        ],
        &env,
        dir.path("serve.log"),
    );
    server.wait_ready(&format!("http://127.0.0.1:{}/health/ready", ports.read));
    assert!(server.terminate());
    let output = std::fs::read_to_string(dir.path("serve.log")).unwrap();
    let warned = output
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .any(|e| {
            e["level"] == "WARN"
                && e["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("`/serve/metrics`"))
        });
    assert!(warned, "{output}");
}
