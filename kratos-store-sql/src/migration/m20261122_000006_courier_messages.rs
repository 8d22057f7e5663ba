//! Courier messages: the queue the courier worker sends from.

use sea_orm_migration::prelude::*;

use super::{run_for_backend, run_script};

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000006_courier_messages"
    }
}

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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, POSTGRES_UP, SQLITE_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_script(manager, "DROP TABLE IF EXISTS courier_messages").await
    }
}
