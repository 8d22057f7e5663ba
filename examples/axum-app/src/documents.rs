//! Documents and groups: rows in the app's own tables, permissions as Keto relation tuples.
//!
//! Every decision goes through keto-core: the list shows the documents the user may `view`
//! (a reverse lookup), opening needs `view`, editing `edit`, sharing `share` (see
//! `namespaces.keto.ts`). Creating a document writes its row and the tuple making the creator
//! its owner; sharing writes `Document:<id>#viewers|editors@User:<id>` or
//! `…@Group:<id>#members`.

use std::collections::{HashMap, HashSet};

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use keto_core::tuple::RelationQuery;
use keto_core::{CheckOptions, RelationTuple, Subject};
use kratos_core::identity::ListIdentitiesParams;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement, Value as SqlValue};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::AppState;
use crate::pages::{Viewer, internal_error, see_other, trait_text, when};

/// The pages of documents and groups, for signed-in people only.
pub(crate) fn router(kratos: &kratos_core::Kratos) -> Router<AppState> {
    Router::new()
        .route("/documents", get(list).post(create))
        .route("/documents/new", get(new_form))
        .route("/documents/{id}", get(show).post(update))
        .route("/documents/{id}/edit", get(edit_form))
        .route("/documents/{id}/share", post(share))
        .route("/documents/{id}/unshare", post(unshare))
        .route("/groups", get(groups).post(create_group))
        .route("/groups/{id}", get(group))
        .route("/groups/{id}/members", post(add_member))
        .route_layer(kratos_axum::LoginRequired::new(kratos))
}

/// Creates the app's tables (the same SQL on SQLite, PostgreSQL and MySQL; ids are bounded
/// text because MySQL indexes no unbounded `TEXT` key).
pub(crate) async fn migrate(db: &DatabaseConnection) -> Result<(), String> {
    for sql in [
        "CREATE TABLE IF NOT EXISTS app_documents (
            id VARCHAR(64) PRIMARY KEY,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            owner_id TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )",
        "CREATE TABLE IF NOT EXISTS app_groups (
            id VARCHAR(64) PRIMARY KEY,
            name TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at BIGINT NOT NULL
        )",
    ] {
        db.execute_unprepared(sql)
            .await
            .map_err(|e| format!("creating the app's tables: {e}"))?;
    }
    Ok(())
}

/// A statement with `$n` placeholders (each used once, in order), rewritten to `?` for
/// SQLite and MySQL.
fn statement(db: &DatabaseConnection, sql: &str, values: Vec<SqlValue>) -> Statement {
    let backend = db.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Sqlite | DatabaseBackend::MySql => {
            let mut out = String::with_capacity(sql.len());
            let mut chars = sql.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '$' {
                    while chars.peek().is_some_and(char::is_ascii_digit) {
                        chars.next();
                    }
                    out.push('?');
                } else {
                    out.push(c);
                }
            }
            out
        }
        _ => sql.to_owned(),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// A stored document.
struct Document {
    id: String,
    title: String,
    body: String,
    owner_id: String,
    updated_at: i64,
}

impl Document {
    fn json(&self) -> Value {
        json!({
            "id": self.id,
            "title": self.title,
            "body": self.body,
            "updated_at": updated(self.updated_at),
        })
    }
}

fn updated(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(when)
        .unwrap_or_default()
}

fn row_to_document(row: &sea_orm::QueryResult) -> Result<Document, sea_orm::DbErr> {
    Ok(Document {
        id: row.try_get("", "id")?,
        title: row.try_get("", "title")?,
        body: row.try_get("", "body")?,
        owner_id: row.try_get("", "owner_id")?,
        updated_at: row.try_get("", "updated_at")?,
    })
}

async fn load_documents(db: &DatabaseConnection, ids: &[String]) -> Result<Vec<Document>, String> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT id, title, body, owner_id, updated_at FROM app_documents WHERE id IN ({}) \
         ORDER BY updated_at DESC, id",
        placeholders.join(", ")
    );
    let values = ids.iter().map(|i| SqlValue::from(i.clone())).collect();
    let rows = db
        .query_all_raw(statement(db, &sql, values))
        .await
        .map_err(|e| e.to_string())?;
    rows.iter()
        .map(row_to_document)
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())
}

async fn load_document(db: &DatabaseConnection, id: &str) -> Result<Option<Document>, String> {
    Ok(load_documents(db, &[id.to_owned()])
        .await?
        .into_iter()
        .next())
}

/// The subject of a signed-in user.
fn user(id: Uuid) -> Subject {
    Subject::set("User", id.to_string(), "")
}

/// The subject set of a group's members.
fn members_of(group: &str) -> Subject {
    Subject::set("Group", group, "members")
}

/// The ids of the documents `user_id` may view.
pub(crate) async fn visible_ids(state: &AppState, user_id: Uuid) -> Result<Vec<String>, String> {
    state
        .keto
        .lookup_resources(&user(user_id), "Document", "view", &CheckOptions::default())
        .await
        .map_err(|e| e.to_string())
}

async fn allowed(
    state: &AppState,
    doc: &str,
    permission: &str,
    user_id: Uuid,
) -> Result<bool, String> {
    state
        .keto
        .is_allowed(
            &RelationTuple::new("Document", doc, permission, user(user_id)),
            &CheckOptions::default(),
        )
        .await
        .map_err(|e| e.to_string())
}

/// How a person is shown: "Name (email)", or the email alone.
async fn person(state: &AppState, id: &str) -> String {
    let Ok(uuid) = Uuid::parse_str(id) else {
        return "Unknown user".into();
    };
    match state.kratos.identities().get(uuid).await {
        Ok(i) => {
            let (name, email) = (
                trait_text(&i.traits, "name"),
                trait_text(&i.traits, "email"),
            );
            if name.is_empty() {
                email
            } else {
                format!("{name} ({email})")
            }
        }
        Err(_) => "Deleted user".into(),
    }
}

/// The identity with this email address (its password identifier).
async fn identity_by_email(state: &AppState, email: &str) -> Result<Option<Uuid>, String> {
    let page = state
        .kratos
        .identities()
        .list(ListIdentitiesParams {
            credentials_identifier: Some(email.trim().to_owned()),
            page_size: Some(1),
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    Ok(page.identities.first().map(|i| i.id))
}

/// The access a user has, as the badge shows it.
fn access_name(owner: bool, editor: bool) -> &'static str {
    match (owner, editor) {
        (true, _) => "owner",
        (false, true) => "editor",
        _ => "viewer",
    }
}

fn forbidden(state: &AppState, viewer: &Viewer, message: &str) -> Response {
    state.views.error(
        StatusCode::FORBIDDEN,
        Some(&viewer.nav),
        "You don’t have access",
        message,
        Some(("/documents", "Back to documents")),
    )
}

fn not_found(state: &AppState, viewer: &Viewer) -> Response {
    state.views.error(
        StatusCode::NOT_FOUND,
        Some(&viewer.nav),
        "Document not found",
        "This document does not exist, or it was deleted.",
        Some(("/documents", "Back to documents")),
    )
}

macro_rules! or_500 {
    ($state:expr, $e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return internal_error(&$state, &e.to_string()),
        }
    };
}

async fn list(State(state): State<AppState>, viewer: Viewer) -> Response {
    let ids = or_500!(state, visible_ids(&state, viewer.identity_id()).await);
    let editable: HashSet<String> = or_500!(
        state,
        state
            .keto
            .lookup_resources(
                &user(viewer.identity_id()),
                "Document",
                "edit",
                &CheckOptions::default()
            )
            .await
    )
    .into_iter()
    .collect();
    let docs = or_500!(state, load_documents(&state.db, &ids).await);
    let mut owners: HashMap<String, String> = HashMap::new();
    let mut rows = Vec::new();
    for d in &docs {
        if !owners.contains_key(&d.owner_id) {
            let name = person(&state, &d.owner_id).await;
            owners.insert(d.owner_id.clone(), name);
        }
        let mine = d.owner_id == viewer.identity_id().to_string();
        rows.push(json!({
            "id": d.id,
            "title": d.title,
            "owner": if mine { "You".to_owned() } else { owners[&d.owner_id].clone() },
            "access": access_name(mine, editable.contains(&d.id)),
            "updated_at": updated(d.updated_at),
        }));
    }
    state.views.page(
        "documents.html",
        json!({"title": "Documents", "nav": "documents", "viewer": viewer.nav, "documents": rows}),
    )
}

async fn new_form(State(state): State<AppState>, viewer: Viewer) -> Response {
    document_form(&state, &viewer, None, None)
}

fn document_form(
    state: &AppState,
    viewer: &Viewer,
    doc: Option<&Document>,
    error: Option<&str>,
) -> Response {
    let (heading, action, submit, cancel) = match doc {
        Some(d) => (
            "Edit document",
            format!("/documents/{}", d.id),
            "Save changes",
            format!("/documents/{}", d.id),
        ),
        None => (
            "New document",
            "/documents".to_owned(),
            "Create document",
            "/documents".to_owned(),
        ),
    };
    state.views.page_with_status(
        if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        "document_form.html",
        json!({
            "title": heading,
            "heading": heading,
            "nav": "documents",
            "viewer": viewer.nav,
            "document": doc.map(Document::json),
            "action": action,
            "submit": submit,
            "cancel": cancel,
            "error": error,
        }),
    )
}

/// The fields of the document form.
#[derive(Deserialize)]
struct DocumentForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
}

impl DocumentForm {
    /// The trimmed title, or why the form is refused.
    fn check(&self) -> Result<String, &'static str> {
        let title = self.title.trim();
        if title.is_empty() {
            Err("Please give the document a title.")
        } else if title.chars().count() > 200 {
            Err("The title is too long (200 characters at most).")
        } else if self.body.len() > 100_000 {
            Err("The text is too long (100,000 characters at most).")
        } else {
            Ok(title.to_owned())
        }
    }
}

async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<DocumentForm>,
) -> Response {
    let title = match form.check() {
        Ok(t) => t,
        Err(e) => return document_form_new_with(&state, &viewer, &form, e),
    };
    let id = Uuid::now_v7().to_string();
    let now = chrono::Utc::now().timestamp();
    or_500!(
        state,
        state
            .db
            .execute_raw(statement(
                &state.db,
                "INSERT INTO app_documents (id, title, body, owner_id, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                vec![
                    id.clone().into(),
                    title.into(),
                    form.body.into(),
                    viewer.identity_id().to_string().into(),
                    now.into(),
                    now.into(),
                ],
            ))
            .await
    );
    let owner = RelationTuple::new("Document", &id, "owners", user(viewer.identity_id()));
    if let Err(e) = state.keto.insert([owner]).await {
        let _ = state
            .db
            .execute_raw(statement(
                &state.db,
                "DELETE FROM app_documents WHERE id = $1",
                vec![id.into()],
            ))
            .await;
        return internal_error(&state, &e.to_string());
    }
    see_other(&format!("/documents/{id}"))
}

/// The new-document form again, with what was typed and why it was refused.
fn document_form_new_with(
    state: &AppState,
    viewer: &Viewer,
    form: &DocumentForm,
    error: &str,
) -> Response {
    state.views.page_with_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        "document_form.html",
        json!({
            "title": "New document",
            "heading": "New document",
            "nav": "documents",
            "viewer": viewer.nav,
            "document": {"title": form.title, "body": form.body},
            "action": "/documents",
            "submit": "Create document",
            "cancel": "/documents",
            "error": error,
        }),
    )
}

/// Loads a document the viewer holds `permission` on; otherwise the page to answer with.
async fn authorized(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    permission: &str,
) -> Result<Document, Response> {
    let doc = match load_document(&state.db, id).await {
        Ok(Some(d)) => d,
        Ok(None) => return Err(not_found(state, viewer)),
        Err(e) => return Err(internal_error(state, &e)),
    };
    match allowed(state, id, permission, viewer.identity_id()).await {
        Ok(true) => Ok(doc),
        Ok(false) => Err(forbidden(
            state,
            viewer,
            match permission {
                "view" => "This document has not been shared with you. Ask its owner to share it.",
                "edit" => {
                    "You may read this document but not change it. Ask its owner for edit access."
                }
                _ => "Only the owner of this document may share it.",
            },
        )),
        Err(e) => Err(internal_error(state, &e)),
    }
}

async fn show(State(state): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    document_page(&state, &viewer, &id, None).await
}

async fn document_page(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    error: Option<&str>,
) -> Response {
    let doc = match authorized(state, viewer, id, "view").await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let can_edit = or_500!(
        state,
        allowed(state, id, "edit", viewer.identity_id()).await
    );
    let can_share = or_500!(
        state,
        allowed(state, id, "share", viewer.identity_id()).await
    );
    let mut grants = Vec::new();
    let mut groups = Vec::new();
    if can_share {
        let tuples = or_500!(
            state,
            state
                .keto
                .list(
                    &RelationQuery::all().namespace("Document").object(id),
                    Some(500),
                    None
                )
                .await
        );
        for t in tuples.relation_tuples {
            let role = match t.relation.as_str() {
                "owners" => "owner",
                "editors" => "editor",
                "viewers" => "viewer",
                _ => continue,
            };
            let who = match &t.subject {
                Subject::Set(s) if s.namespace == "User" => person(state, &s.object).await,
                Subject::Set(s) if s.namespace == "Group" => {
                    format!("Group “{}”", group_name(state, &s.object).await)
                }
                other => other.to_string(),
            };
            grants.push(json!({
                "who": who,
                "role": role,
                "relation": t.relation,
                "subject": t.subject.to_string(),
                "removable": role != "owner",
            }));
        }
        groups = or_500!(state, my_groups(state, viewer.identity_id()).await);
    }
    let access = access_name(doc.owner_id == viewer.identity_id().to_string(), can_edit);
    state.views.page_with_status(
        if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        "document.html",
        json!({
            "title": doc.title,
            "nav": "documents",
            "viewer": viewer.nav,
            "document": doc.json(),
            "owner": if doc.owner_id == viewer.identity_id().to_string() { "you".to_owned() } else { person(state, &doc.owner_id).await },
            "access": access,
            "can_edit": can_edit,
            "can_share": can_share,
            "grants": grants,
            "groups": groups,
            "error": error,
        }),
    )
}

async fn edit_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    match authorized(&state, &viewer, &id, "edit").await {
        Ok(doc) => document_form(&state, &viewer, Some(&doc), None),
        Err(r) => r,
    }
}

async fn update(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<DocumentForm>,
) -> Response {
    let mut doc = match authorized(&state, &viewer, &id, "edit").await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let title = match form.check() {
        Ok(t) => t,
        Err(e) => {
            doc.title = form.title;
            doc.body = form.body;
            return document_form(&state, &viewer, Some(&doc), Some(e));
        }
    };
    or_500!(
        state,
        state
            .db
            .execute_raw(statement(
                &state.db,
                "UPDATE app_documents SET title = $1, body = $2, updated_at = $3 WHERE id = $4",
                vec![
                    title.into(),
                    form.body.into(),
                    chrono::Utc::now().timestamp().into(),
                    id.clone().into(),
                ],
            ))
            .await
    );
    see_other(&format!("/documents/{id}"))
}

/// The share form: a person by email or a group, as viewer or editor.
#[derive(Deserialize)]
struct ShareForm {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    role: String,
}

fn relation_of(role: &str) -> Option<&'static str> {
    match role {
        "viewer" | "viewers" => Some("viewers"),
        "editor" | "editors" => Some("editors"),
        _ => None,
    }
}

async fn share(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<ShareForm>,
) -> Response {
    if let Err(r) = authorized(&state, &viewer, &id, "share").await {
        return r;
    }
    let Some(relation) = relation_of(&form.role) else {
        return document_page(
            &state,
            &viewer,
            &id,
            Some("Choose “can view” or “can edit”."),
        )
        .await;
    };
    let subject = match (
        form.email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty()),
        form.group.as_deref().filter(|g| !g.is_empty()),
    ) {
        (Some(email), _) => match or_500!(state, identity_by_email(&state, email).await) {
            Some(uid) if uid == viewer.identity_id() => {
                return document_page(&state, &viewer, &id, Some("You already own this document."))
                    .await;
            }
            Some(uid) => user(uid),
            None => {
                let msg = format!("No one has an account with the email address {email}.");
                return document_page(&state, &viewer, &id, Some(&msg)).await;
            }
        },
        (None, Some(group)) => {
            let mine = or_500!(state, my_groups(&state, viewer.identity_id()).await);
            if !mine.iter().any(|g| g["id"] == group) {
                return document_page(
                    &state,
                    &viewer,
                    &id,
                    Some("You can only share with groups you are in."),
                )
                .await;
            }
            members_of(group)
        }
        (None, None) => {
            return document_page(
                &state,
                &viewer,
                &id,
                Some("Enter an email address or choose a group."),
            )
            .await;
        }
    };
    or_500!(
        state,
        state
            .keto
            .insert([RelationTuple::new("Document", &id, relation, subject)])
            .await
    );
    see_other(&format!("/documents/{id}"))
}

/// Removes one grant (never the owner).
#[derive(Deserialize)]
struct UnshareForm {
    role: String,
    subject: String,
}

async fn unshare(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<UnshareForm>,
) -> Response {
    if let Err(r) = authorized(&state, &viewer, &id, "share").await {
        return r;
    }
    let (Some(relation), Ok(subject)) = (relation_of(&form.role), form.subject.parse::<Subject>())
    else {
        return document_page(&state, &viewer, &id, Some("That grant cannot be removed.")).await;
    };
    let tuple = RelationTuple::new("Document", &id, relation, subject);
    or_500!(
        state,
        state.keto.delete_all(&RelationQuery::exact(&tuple)).await
    );
    see_other(&format!("/documents/{id}"))
}

async fn group_name(state: &AppState, id: &str) -> String {
    let rows = state
        .db
        .query_all_raw(statement(
            &state.db,
            "SELECT name FROM app_groups WHERE id = $1",
            vec![id.to_owned().into()],
        ))
        .await
        .unwrap_or_default();
    rows.first()
        .and_then(|r| r.try_get::<String>("", "name").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// The groups `user_id` is a direct member of, as `{id, name}`, by name.
async fn my_groups(state: &AppState, user_id: Uuid) -> Result<Vec<Value>, String> {
    let tuples = state
        .keto
        .list(
            &RelationQuery::all()
                .namespace("Group")
                .relation("members")
                .subject(user(user_id)),
            Some(500),
            None,
        )
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for t in tuples.relation_tuples {
        out.push(json!({"id": t.object, "name": group_name(state, &t.object).await}));
    }
    out.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Ok(out)
}

async fn groups(State(state): State<AppState>, viewer: Viewer) -> Response {
    groups_page(&state, &viewer, None).await
}

async fn groups_page(state: &AppState, viewer: &Viewer, error: Option<&str>) -> Response {
    let groups = or_500!(state, my_groups(state, viewer.identity_id()).await);
    state.views.page_with_status(
        if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        "groups.html",
        json!({"title": "Groups", "nav": "groups", "viewer": viewer.nav, "groups": groups, "error": error}),
    )
}

#[derive(Deserialize)]
struct GroupForm {
    #[serde(default)]
    name: String,
}

async fn create_group(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<GroupForm>,
) -> Response {
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return groups_page(
            &state,
            &viewer,
            Some("A group needs a name of at most 80 characters."),
        )
        .await;
    }
    let id = Uuid::now_v7().to_string();
    or_500!(
        state,
        state
            .db
            .execute_raw(statement(
                &state.db,
                "INSERT INTO app_groups (id, name, created_by, created_at) VALUES ($1, $2, $3, $4)",
                vec![
                    id.clone().into(),
                    name.to_owned().into(),
                    viewer.identity_id().to_string().into(),
                    chrono::Utc::now().timestamp().into(),
                ],
            ))
            .await
    );
    or_500!(
        state,
        state
            .keto
            .insert([RelationTuple::new(
                "Group",
                &id,
                "members",
                user(viewer.identity_id())
            )])
            .await
    );
    see_other(&format!("/groups/{id}"))
}

async fn is_member(state: &AppState, group: &str, user_id: Uuid) -> Result<bool, String> {
    state
        .keto
        .is_allowed(
            &RelationTuple::new("Group", group, "members", user(user_id)),
            &CheckOptions::default(),
        )
        .await
        .map_err(|e| e.to_string())
}

async fn group(State(state): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    group_page(&state, &viewer, &id, None).await
}

async fn group_page(state: &AppState, viewer: &Viewer, id: &str, error: Option<&str>) -> Response {
    if !or_500!(state, is_member(state, id, viewer.identity_id()).await) {
        return state.views.error(
            StatusCode::FORBIDDEN,
            Some(&viewer.nav),
            "You are not in this group",
            "Only members can see a group. Ask a member to add you.",
            Some(("/groups", "Back to groups")),
        );
    }
    let tuples = or_500!(
        state,
        state
            .keto
            .list(
                &RelationQuery::all()
                    .namespace("Group")
                    .object(id)
                    .relation("members"),
                Some(500),
                None
            )
            .await
    );
    let mut members = Vec::new();
    for t in tuples.relation_tuples {
        members.push(match &t.subject {
            Subject::Set(s) if s.namespace == "User" => person(state, &s.object).await,
            Subject::Set(s) if s.namespace == "Group" => {
                format!("Everyone in “{}”", group_name(state, &s.object).await)
            }
            other => other.to_string(),
        });
    }
    state.views.page_with_status(
        if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        "group.html",
        json!({
            "title": "Group",
            "nav": "groups",
            "viewer": viewer.nav,
            "group": {"id": id, "name": group_name(state, id).await},
            "members": members,
            "error": error,
        }),
    )
}

#[derive(Deserialize)]
struct MemberForm {
    #[serde(default)]
    email: String,
}

async fn add_member(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<MemberForm>,
) -> Response {
    if !or_500!(state, is_member(&state, &id, viewer.identity_id()).await) {
        return group_page(&state, &viewer, &id, None).await;
    }
    let Some(uid) = or_500!(state, identity_by_email(&state, &form.email).await) else {
        let msg = format!(
            "No one has an account with the email address {}.",
            form.email.trim()
        );
        return group_page(&state, &viewer, &id, Some(&msg)).await;
    };
    or_500!(
        state,
        state
            .keto
            .insert([RelationTuple::new("Group", &id, "members", user(uid))])
            .await
    );
    see_other(&format!("/groups/{id}"))
}
