//! Courier messages: the queue the courier worker sends from.

use super::Scripts;

const POSTGRES_UP: &str = r#"
CREATE TABLE courier_messages (
    id uuid PRIMARY KEY,
    nid uuid NOT NULL,
    type text NOT NULL,
    status text NOT NULL,
    recipient text NOT NULL,
    subject text NOT NULL,
    body text NOT NULL,
    html_body text,
    template_type text NOT NULL,
    template_data jsonb NOT NULL,
    send_count integer NOT NULL DEFAULT 0,
    send_after timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX courier_messages_status_send_after_idx ON courier_messages (status, send_after, created_at);
CREATE INDEX courier_messages_nid_created_at_idx ON courier_messages (nid, created_at DESC, id);
CREATE INDEX courier_messages_nid_recipient_idx ON courier_messages (nid, recipient, created_at DESC)
"#;

const SQLITE_UP: &str = r#"
CREATE TABLE courier_messages (
    id BLOB PRIMARY KEY NOT NULL,
    nid BLOB NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    html_body TEXT,
    template_type TEXT NOT NULL,
    template_data TEXT NOT NULL,
    send_count INTEGER NOT NULL DEFAULT 0,
    send_after TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX courier_messages_status_send_after_idx ON courier_messages (status, send_after, created_at);
CREATE INDEX courier_messages_nid_created_at_idx ON courier_messages (nid, created_at DESC, id);
CREATE INDEX courier_messages_nid_recipient_idx ON courier_messages (nid, recipient, created_at DESC)
"#;

const MYSQL_UP: &str = r#"
CREATE TABLE courier_messages (
    id BINARY(16) NOT NULL PRIMARY KEY,
    nid BINARY(16) NOT NULL,
    type VARCHAR(32) NOT NULL,
    status VARCHAR(32) NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body LONGTEXT NOT NULL,
    html_body LONGTEXT,
    template_type VARCHAR(64) NOT NULL,
    template_data JSON NOT NULL,
    send_count INTEGER NOT NULL DEFAULT 0,
    send_after DATETIME(6) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    INDEX courier_messages_status_send_after_idx (status, send_after, created_at),
    INDEX courier_messages_nid_created_at_idx (nid, created_at DESC, id),
    INDEX courier_messages_nid_recipient_idx (nid, recipient(191), created_at DESC)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"#;

pub(crate) const MIGRATION: Scripts = Scripts {
    name: "m20261122_000006_courier_messages",
    postgres_up: POSTGRES_UP,
    sqlite_up: SQLITE_UP,
    postgres_down: "DROP TABLE IF EXISTS courier_messages",
    sqlite_down: "DROP TABLE IF EXISTS courier_messages",
    mysql_up: MYSQL_UP,
    mysql_down: "DROP TABLE IF EXISTS courier_messages",
};
