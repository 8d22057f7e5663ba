//! Change notifications on PostgreSQL, for the whoami caches of the app instances sharing the
//! database: every update or deletion of a session or an identity row sends, in its own
//! transaction (delivered when it commits, and not at all when it rolls back), a
//! notification on [`crate::changes::CHANNEL`] naming the row
//! ([`crate::changes::parse`] reads it). Triggers rather than statements in each write, so
//! that no write path can forget one: revocations, extensions and re-authentications of
//! sessions, identity updates (credentials, and so `available_aal`, addresses, state),
//! deletions and their cascades. Inserts send nothing: no instance can hold a row that did
//! not exist.
//!
//! SQLite and MySQL have no notifications: nothing changes there.

use super::Scripts;

const POSTGRES_UP: &str = r#"
CREATE FUNCTION kratos_rs_notify_session_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('kratos_rs_changes', format('s %s %s %s', OLD.nid, OLD.identity_id, OLD.id));
    ELSE
        PERFORM pg_notify('kratos_rs_changes', format('s %s %s %s', NEW.nid, NEW.identity_id, NEW.id));
    END IF;
    RETURN NULL;
END
$$;
CREATE FUNCTION kratos_rs_notify_identity_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('kratos_rs_changes', format('i %s %s', OLD.nid, OLD.id));
    ELSE
        PERFORM pg_notify('kratos_rs_changes', format('i %s %s', NEW.nid, NEW.id));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER sessions_notify_change AFTER UPDATE OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION kratos_rs_notify_session_change();
CREATE TRIGGER identities_notify_change AFTER UPDATE OR DELETE ON identities
    FOR EACH ROW EXECUTE FUNCTION kratos_rs_notify_identity_change()
"#;

const POSTGRES_DOWN: &str = r#"
DROP TRIGGER IF EXISTS identities_notify_change ON identities;
DROP TRIGGER IF EXISTS sessions_notify_change ON sessions;
DROP FUNCTION IF EXISTS kratos_rs_notify_identity_change();
DROP FUNCTION IF EXISTS kratos_rs_notify_session_change()
"#;

pub(crate) const MIGRATION: Scripts = Scripts {
    name: "m20261205_000013_change_notifications",
    postgres_up: POSTGRES_UP,
    sqlite_up: "",
    postgres_down: POSTGRES_DOWN,
    sqlite_down: "",
    mysql_up: "",
    mysql_down: "",
};
