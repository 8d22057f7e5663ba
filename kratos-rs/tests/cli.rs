//! The commands of the `kratos-rs` binary, run as a user would.

mod common;

use common::{TempDir, fails, ok, run, texts};
use serde_json::Value;

fn sqlite(dir: &TempDir) -> String {
    format!("sqlite://{}?mode=rwc", dir.path("db.sqlite").display())
}

fn env(dsn: &str) -> Vec<(&'static str, String)> {
    vec![("DSN", dsn.to_owned())]
}

#[test]
fn config_errors_name_the_key_and_exit_non_zero() {
    let dir = TempDir::new("config-errors");
    fn cmd(file: &str) -> Vec<&str> {
        vec!["identities", "list", "-c", "minimal.yml", "-c", file]
    }
    // A key of the wrong type, in a later file.
    let bad = dir.write("bad.yml", "hashers:\n  bcrypt:\n    cost: lots\n");
    let err = fails(&cmd(bad.to_str().unwrap()), &[]);
    assert!(err.contains("/hashers/bcrypt/cost"), "{err}");
    // A key Kratos does not have.
    let unknown = dir.write("unknown.yml", "selfservice:\n  flowz: {}\n");
    let err = fails(&cmd(unknown.to_str().unwrap()), &[]);
    assert!(err.contains("/selfservice/flowz"), "{err}");
    // A key Kratos has and this project does not implement: an error, or with
    // --allow-unimplemented a warning naming it.
    let cors = dir.write(
        "flags.yml",
        "feature_flags:\n  use_continue_with_transitions: true\n",
    );
    let err = fails(&cmd(cors.to_str().unwrap()), &[]);
    assert!(
        err.contains("/feature_flags/use_continue_with_transitions")
            && err.contains("--allow-unimplemented"),
        "{err}"
    );
    let mut allowed = cmd(cors.to_str().unwrap());
    allowed.push("--allow-unimplemented");
    let o = run(&allowed, &[]);
    let (out, err) = texts(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("warning") && err.contains("/feature_flags/use_continue_with_transitions"),
        "{err}"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap(),
        Value::Array(vec![])
    );
    // An environment override of the wrong type names the variable and the key.
    let err = fails(
        &["identities", "list", "-c", "minimal.yml"],
        &[("SERVE_PUBLIC_PORT", "high".into())],
    );
    assert!(
        err.contains("SERVE_PUBLIC_PORT") && err.contains("/serve/public/port"),
        "{err}"
    );
    // A secret in an invalid value is not shown.
    let err = fails(
        &["identities", "list", "-c", "minimal.yml"],
        &[("SECRETS_DEFAULT", "tiny-sekrit".into())],
    );
    assert!(
        err.contains("/secrets/default/0") && !err.contains("tiny-sekrit"),
        "{err}"
    );
    // Keto's configuration is checked the same way.
    let keto = dir.write("keto.yml", "dsn: memory\nlimit:\n  max_read_depht: 3\n");
    let err = fails(
        &[
            "serve",
            "-c",
            "minimal.yml",
            "--keto-config",
            keto.to_str().unwrap(),
        ],
        &[("SERVE_PUBLIC_PORT", "1".into())],
    );
    assert!(err.contains("/limit/max_read_depht"), "{err}");
}

#[test]
fn migrate_sql_up_status_and_down_on_sqlite() {
    let dir = TempDir::new("migrate");
    let dsn = sqlite(&dir);
    let status = |args: &[&str]| ok(args, &env(&dsn));
    let before = status(&["migrate", "sql", "status", "-e"]);
    assert!(
        before.contains("Pending") && !before.contains("Applied"),
        "{before}"
    );
    // Without --yes the plan is shown and needs a yes on the terminal: no answer, nothing done.
    let declined = ok(&["migrate", "sql", "up", &dsn], &[]);
    assert!(declined.contains("aborted"), "{declined}");
    assert!(!status(&["migrate", "sql", "status", "-e"]).contains("Applied"));
    // As Kratos documents it: `migrate sql -e --yes`.
    let up = ok(&["migrate", "sql", "-e", "--yes"], &env(&dsn));
    assert!(up.contains("Successfully applied"), "{up}");
    let after = status(&["migrate", "sql", "status", &dsn]);
    assert!(
        after.contains("Applied") && !after.contains("Pending"),
        "{after}"
    );
    let again = ok(&["migrate", "sql", "up", "-e", "--yes"], &env(&dsn));
    assert!(again.contains("nothing to do"), "{again}");
    let err = fails(
        &["migrate", "sql", "down", "-e", "--yes", "--steps", "0"],
        &env(&dsn),
    );
    assert!(err.contains("--steps"), "{err}");
    let down = ok(
        &["migrate", "sql", "down", "-e", "--yes", "--steps", "1"],
        &env(&dsn),
    );
    assert!(down.contains("rolled back"), "{down}");
    let last = status(&["migrate", "sql", "status", "-e"]);
    let lines: Vec<&str> = last.lines().skip(1).collect();
    assert!(lines.last().unwrap().ends_with("Pending"), "{last}");
    assert!(lines.first().unwrap().ends_with("Applied"), "{last}");
    // The DSN from the -c files' `dsn` with -e.
    let from_file = dir.write("dsn.yml", &format!("dsn: {dsn}\n"));
    let st = ok(
        &[
            "migrate",
            "sql",
            "status",
            "-e",
            "-c",
            "minimal.yml",
            "-c",
            from_file.to_str().unwrap(),
        ],
        &[],
    );
    assert!(st.contains("Applied"), "{st}");
    let err = fails(&["migrate", "sql", "status"], &[]);
    assert!(err.contains("-e"), "{err}");
}

#[test]
fn identities_import_list_get_and_delete() {
    let dir = TempDir::new("identities");
    let dsn = sqlite(&dir);
    ok(&["migrate", "sql", "-e", "--yes"], &env(&dsn));
    fn with<'a>(args: &[&'a str]) -> Vec<&'a str> {
        [args, &["-c", "minimal.yml"][..]].concat()
    }
    let imported = ok(
        &with(&["identities", "import", "identities.json"]),
        &env(&dsn),
    );
    let imported: Value = serde_json::from_str(&imported).unwrap();
    assert_eq!(imported.as_array().map(Vec::len), Some(2), "{imported}");
    let grace = imported[0]["id"].as_str().unwrap().to_owned();
    // One identity object in a file works too; an invalid one fails naming its position.
    let one = dir.write(
        "one.json",
        r#"{"schema_id": "default", "traits": {"email": "edsger@example.com"}}"#,
    );
    let bad = dir.write(
        "bad.json",
        r#"{"schema_id": "default", "traits": {"email": 3}}"#,
    );
    ok(
        &with(&["identities", "import", one.to_str().unwrap()]),
        &env(&dsn),
    );
    let err = fails(
        &with(&["identities", "import", bad.to_str().unwrap()]),
        &env(&dsn),
    );
    assert!(err.contains("bad.json[#0]"), "{err}");

    let list: Value = serde_json::from_str(&ok(
        &with(&["identities", "list", "--format", "json"]),
        &env(&dsn),
    ))
    .unwrap();
    let mut emails: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["traits"]["email"].as_str().unwrap())
        .collect();
    emails.sort();
    assert_eq!(
        emails,
        [
            "alan@example.com",
            "edsger@example.com",
            "grace@example.com"
        ]
    );

    let got: Value =
        serde_json::from_str(&ok(&with(&["identities", "get", &grace]), &env(&dsn))).unwrap();
    assert_eq!(got["traits"]["email"], "grace@example.com");
    assert_eq!(got["traits"]["name"]["first"], "Grace");

    let deleted = ok(&with(&["identities", "delete", &grace]), &env(&dsn));
    assert_eq!(deleted.trim(), grace);
    let err = fails(&with(&["identities", "get", &grace]), &env(&dsn));
    assert!(err.to_lowercase().contains("not"), "{err}");
    let err = fails(&with(&["identities", "get", "not-an-id"]), &env(&dsn));
    assert!(err.contains("not-an-id"), "{err}");
    let list: Value =
        serde_json::from_str(&ok(&with(&["identities", "list"]), &env(&dsn))).unwrap();
    assert_eq!(list.as_array().map(Vec::len), Some(2));
}

#[test]
fn cleanup_sql_runs_on_the_configured_database() {
    let dir = TempDir::new("cleanup");
    let dsn = sqlite(&dir);
    ok(&["migrate", "sql", "-e", "--yes"], &env(&dsn));
    let out = ok(
        &[
            "cleanup",
            "sql",
            "-c",
            "minimal.yml",
            "-e",
            "--keep-last",
            "1s",
            "--sleep-tables",
            "0s",
        ],
        &env(&dsn),
    );
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["total"], 0, "{report}");
    assert!(
        report["flows"].is_u64() && report["sessions"].is_u64(),
        "{report}"
    );
    // The DSN as an argument wins over the configuration's.
    let out = ok(
        &[
            "cleanup",
            "sql",
            "-c",
            "minimal.yml",
            &dsn,
            "--keep-last",
            "6h",
            "--sleep-tables",
            "0s",
        ],
        &[],
    );
    assert!(out.contains("\"total\":0"), "{out}");
    let err = fails(
        &["cleanup", "sql", "-c", "minimal.yml", "--keep-last", "soon"],
        &env(&dsn),
    );
    assert!(err.contains("--keep-last"), "{err}");
}

#[test]
fn namespace_validate_prints_errors_with_a_caret() {
    let good = ok(&["namespace", "validate", "namespaces.keto.ts"], &[]);
    assert!(good.contains("3 namespace(s) valid"), "{good}");
    let o = run(
        &[
            "namespace",
            "validate",
            "namespaces.keto.ts",
            "broken.keto.ts",
        ],
        &[],
    );
    let (out, err) = texts(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(out.contains("broken.keto.ts:5:"), "{out}");
    assert!(out.contains("readers: Usr[]"), "{out}");
    let caret_line = out
        .lines()
        .find(|l| l.contains('^'))
        .unwrap_or_else(|| panic!("no caret: {out}"));
    let source_line = out.lines().find(|l| l.contains("readers: Usr[]")).unwrap();
    assert_eq!(
        caret_line.find('^'),
        source_line.find("Usr"),
        "the caret is under the column:\n{out}"
    );
    assert!(err.contains("1 error(s)"), "{err}");
}

#[test]
fn hashers_argon2_calibrate_prints_a_configuration() {
    let out = ok(
        &[
            "hashers",
            "argon2",
            "calibrate",
            "1ms",
            "--runs",
            "1",
            "--max-memory",
            "8MB",
        ],
        &[],
    );
    assert!(
        out.contains("hashers:\n  algorithm: argon2\n  argon2:\n    memory: "),
        "{out}"
    );
    assert!(out.contains("iterations: "), "{out}");
    let err = fails(&["hashers", "argon2", "calibrate", "1h"], &[]);
    assert!(err.contains("at most"), "{err}");
}

#[test]
fn version_and_help_on_every_level() {
    let v = ok(&["version"], &[]);
    assert!(v.contains(env!("CARGO_PKG_VERSION")), "{v}");
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["migrate", "--help"],
        &["migrate", "sql", "--help"],
        &["migrate", "sql", "down", "--help"],
        &["identities", "--help"],
        &["identities", "import", "--help"],
        &["cleanup", "sql", "--help"],
        &["namespace", "validate", "--help"],
        &["hashers", "argon2", "calibrate", "--help"],
    ] {
        let out = ok(args, &[]);
        assert!(out.contains("Usage: kratos-rs"), "{args:?}: {out}");
    }
}

#[cfg(unix)]
#[test]
fn an_environment_variable_that_is_not_unicode_is_ignored() {
    use std::os::unix::ffi::OsStrExt;
    let o = common::command(&["identities", "list", "-c", "minimal.yml"], &[])
        .env(
            "SOME_BYTES",
            std::ffi::OsStr::from_bytes(&[0x66, 0xff, 0xfe]),
        )
        .output()
        .unwrap();
    let (out, err) = texts(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(out.trim(), "[]");
}

/// A file mixing good and broken records: each broken one is reported with its file, its
/// index and the reason (the admin API's batch import answers per record), the good ones
/// are imported, and the exit code is non-zero. A record whose shape is no create body
/// makes the API refuse its batch whole: its file's records are then imported one by one,
/// still naming the broken one.
#[test]
fn identities_import_reports_broken_records_and_imports_the_good_ones() {
    let dir = TempDir::new("identities-broken");
    let dsn = sqlite(&dir);
    ok(&["migrate", "sql", "-e", "--yes"], &env(&dsn));
    let mixed = dir.write(
        "mixed.json",
        &serde_json::json!([
            {"schema_id": "default", "traits": {"email": "good-1@example.com"}},
            {"schema_id": "default", "traits": {"email": 3}},
            42,
            {"schema_id": "no-such-schema", "traits": {"email": "lost@example.com"}},
            {"schema_id": "default", "traits": {"email": "good-1@example.com"}},
            {"schema_id": "default", "traits": {"email": "good-2@example.com"}},
        ])
        .to_string(),
    );
    let shape = dir.write(
        "shape.json",
        &serde_json::json!([
            {"schema_id": "default", "traits": {"email": "good-3@example.com"}},
            {"schema_id": "default", "traits": {"email": "odd@example.com"}, "state": "asleep"},
        ])
        .to_string(),
    );
    let missing = dir.path("missing.json");
    let o = common::run(
        &[
            "identities",
            "import",
            mixed.to_str().unwrap(),
            shape.to_str().unwrap(),
            missing.to_str().unwrap(),
            "-c",
            "minimal.yml",
        ],
        &env(&dsn),
    );
    let (out, err) = common::texts(&o);
    assert!(!o.status.success(), "{out}\n{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    let mut emails: Vec<&str> = created
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["traits"]["email"].as_str())
        .collect();
    emails.sort_unstable();
    assert_eq!(
        emails,
        [
            "good-1@example.com",
            "good-2@example.com",
            "good-3@example.com"
        ],
        "{out}"
    );
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(lines.len(), 6, "{err}");
    let name = |file: &std::path::Path, i: usize| format!("{}[#{i}]", file.display());
    for (record, reason) in [
        (name(&mixed, 1), "email"),
        (name(&mixed, 2), "expected an identity object"),
        (name(&mixed, 3), "no-such-schema"),
        (name(&mixed, 4), "exist"),
        (name(&shape, 1), "asleep"),
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&record) && l.contains(reason)),
            "{record}: {reason}:\n{err}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&missing.display().to_string())),
        "{err}"
    );
    let list: Value = serde_json::from_str(&ok(
        &["identities", "list", "-c", "minimal.yml"],
        &env(&dsn),
    ))
    .unwrap();
    assert_eq!(list.as_array().map(Vec::len), Some(3), "{list}");
}
