//! Code send counters (the rate limits of code and link emails), and the indexes the cleanup
//! deletes by (every cleanup statement selects one tenant's rows by an age column).

use super::Scripts;

const POSTGRES_UP: &str = r#"
CREATE TABLE code_send_counters (
    nid uuid NOT NULL,
    key text NOT NULL,
    count integer NOT NULL,
    window_started_at timestamptz NOT NULL,
    PRIMARY KEY (nid, key)
);
CREATE INDEX code_send_counters_window_idx ON code_send_counters (nid, window_started_at);
CREATE INDEX selfservice_flows_nid_expires_at_idx ON selfservice_flows (nid, expires_at);
CREATE INDEX sessions_nid_expires_at_idx ON sessions (nid, expires_at);
CREATE INDEX one_time_codes_nid_expires_at_idx ON one_time_codes (nid, expires_at);
CREATE INDEX one_time_codes_nid_used_at_idx ON one_time_codes (nid, used_at);
CREATE INDEX login_failures_nid_last_failure_at_idx ON login_failures (nid, last_failure_at);
CREATE INDEX courier_messages_nid_status_updated_at_idx ON courier_messages (nid, status, updated_at)
"#;

const SQLITE_UP: &str = r#"
CREATE TABLE code_send_counters (
    nid BLOB NOT NULL,
    key TEXT NOT NULL,
    count INTEGER NOT NULL,
    window_started_at TEXT NOT NULL,
    PRIMARY KEY (nid, key)
);
CREATE INDEX code_send_counters_window_idx ON code_send_counters (nid, window_started_at);
CREATE INDEX selfservice_flows_nid_expires_at_idx ON selfservice_flows (nid, expires_at);
CREATE INDEX sessions_nid_expires_at_idx ON sessions (nid, expires_at);
CREATE INDEX one_time_codes_nid_expires_at_idx ON one_time_codes (nid, expires_at);
CREATE INDEX one_time_codes_nid_used_at_idx ON one_time_codes (nid, used_at);
CREATE INDEX login_failures_nid_last_failure_at_idx ON login_failures (nid, last_failure_at);
CREATE INDEX courier_messages_nid_status_updated_at_idx ON courier_messages (nid, status, updated_at)
"#;

const DOWN: &str = r#"
DROP INDEX IF EXISTS courier_messages_nid_status_updated_at_idx;
DROP INDEX IF EXISTS login_failures_nid_last_failure_at_idx;
DROP INDEX IF EXISTS one_time_codes_nid_used_at_idx;
DROP INDEX IF EXISTS one_time_codes_nid_expires_at_idx;
DROP INDEX IF EXISTS sessions_nid_expires_at_idx;
DROP INDEX IF EXISTS selfservice_flows_nid_expires_at_idx;
DROP TABLE IF EXISTS code_send_counters
"#;

const MYSQL_UP: &str = r#"
CREATE TABLE code_send_counters (
    nid BINARY(16) NOT NULL,
    `key` TEXT NOT NULL,
    key_digest BINARY(32) AS (UNHEX(SHA2(`key`, 256))) STORED,
    count INTEGER NOT NULL,
    window_started_at DATETIME(6) NOT NULL,
    UNIQUE INDEX code_send_counters_nid_key_uq_idx (nid, key_digest),
    INDEX code_send_counters_window_idx (nid, window_started_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX selfservice_flows_nid_expires_at_idx ON selfservice_flows (nid, expires_at);
CREATE INDEX sessions_nid_expires_at_idx ON sessions (nid, expires_at);
CREATE INDEX one_time_codes_nid_expires_at_idx ON one_time_codes (nid, expires_at);
CREATE INDEX one_time_codes_nid_used_at_idx ON one_time_codes (nid, used_at);
CREATE INDEX login_failures_nid_last_failure_at_idx ON login_failures (nid, last_failure_at);
CREATE INDEX courier_messages_nid_status_updated_at_idx ON courier_messages (nid, status, updated_at)
"#;

const MYSQL_DOWN: &str = r#"
DROP INDEX courier_messages_nid_status_updated_at_idx ON courier_messages;
DROP INDEX login_failures_nid_last_failure_at_idx ON login_failures;
DROP INDEX one_time_codes_nid_used_at_idx ON one_time_codes;
DROP INDEX one_time_codes_nid_expires_at_idx ON one_time_codes;
DROP INDEX sessions_nid_expires_at_idx ON sessions;
DROP INDEX selfservice_flows_nid_expires_at_idx ON selfservice_flows;
DROP TABLE IF EXISTS code_send_counters
"#;

pub(crate) const MIGRATION: Scripts = Scripts {
    name: "m20261205_000011_cleanup_and_send_limits",
    postgres_up: POSTGRES_UP,
    sqlite_up: SQLITE_UP,
    postgres_down: DOWN,
    sqlite_down: DOWN,
    mysql_up: MYSQL_UP,
    mysql_down: MYSQL_DOWN,
};
