//! `identity.*`: the identity schemas.

use serde::{Deserialize, Serialize};

/// `identity.*`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct IdentityConfig {
    /// `identity.default_schema_id` (default `default`).
    pub default_schema_id: String,
    /// `identity.schemas`: `[{id, url}]` where `url` is `file://…`, `base64://…` or a plain path.
    pub schemas: Vec<SchemaSource>,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            default_schema_id: "default".into(),
            schemas: Vec::new(),
        }
    }
}

/// One entry of `identity.schemas`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct SchemaSource {
    /// The schema id.
    pub id: String,
    /// Where the schema is: `file:///path`, `base64://…` or a path.
    pub url: String,
}
