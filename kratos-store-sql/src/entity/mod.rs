//! sea-orm entities of the identity tables (the same names as Kratos's tables).

/// `identities`
pub mod identity {
    use sea_orm::entity::prelude::*;

    /// One row of `identities`.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "identities")]
    pub struct Model {
        /// Identity id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Tenant.
        pub nid: Uuid,
        /// Schema id.
        pub schema_id: String,
        /// Traits.
        pub traits: Json,
        /// `active` / `inactive`.
        pub state: String,
        /// When the state changed.
        pub state_changed_at: Option<DateTimeUtc>,
        /// Public metadata.
        pub metadata_public: Option<Json>,
        /// Admin metadata.
        pub metadata_admin: Option<Json>,
        /// External id.
        pub external_id: Option<String>,
        /// Organization.
        pub organization_id: Option<Uuid>,
        /// Created.
        pub created_at: DateTimeUtc,
        /// Updated.
        pub updated_at: DateTimeUtc,
        /// The highest level the credentials allow (`aal1`, `aal2`), written with them.
        pub available_aal: String,
        /// The verifiable addresses as a JSON array in list order, a copy of the identity's
        /// rows of `identity_verifiable_addresses` written with them.
        pub verifiable_addresses: Json,
        /// The recovery addresses as a JSON array in list order, a copy of the identity's
        /// rows of `identity_recovery_addresses` written with them.
        pub recovery_addresses: Json,
    }

    /// No relations are declared; children are loaded in batches.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `identity_credentials`
pub mod credential {
    use sea_orm::entity::prelude::*;

    /// One row of `identity_credentials`.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "identity_credentials")]
    pub struct Model {
        /// Credential id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Tenant.
        pub nid: Uuid,
        /// Owner.
        pub identity_id: Uuid,
        /// Type name (`password`, `oidc`, …).
        pub credential_type: String,
        /// Configuration as Kratos stores it.
        pub config: Json,
        /// Format version.
        pub version: i32,
        /// Created.
        pub created_at: DateTimeUtc,
        /// Updated.
        pub updated_at: DateTimeUtc,
    }

    /// No relations are declared.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `identity_credential_identifiers`
pub mod identifier {
    use sea_orm::entity::prelude::*;

    /// One row of `identity_credential_identifiers`.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "identity_credential_identifiers")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Tenant.
        pub nid: Uuid,
        /// Owner.
        pub identity_id: Uuid,
        /// The credential.
        pub identity_credential_id: Uuid,
        /// Type name.
        pub credential_type: String,
        /// The normalised identifier.
        pub identifier: String,
        /// Position within the credential's identifiers.
        pub position: i32,
    }

    /// No relations are declared.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `identity_verifiable_addresses`
pub mod verifiable_address {
    use sea_orm::entity::prelude::*;

    /// One row of `identity_verifiable_addresses`.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "identity_verifiable_addresses")]
    pub struct Model {
        /// Address id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Tenant.
        pub nid: Uuid,
        /// Owner.
        pub identity_id: Uuid,
        /// `email` / `sms`.
        pub via: String,
        /// The address.
        pub value: String,
        /// Verified?
        pub verified: bool,
        /// `pending` / `sent` / `completed`.
        pub status: String,
        /// When verified.
        pub verified_at: Option<DateTimeUtc>,
        /// Position in the identity's list.
        pub position: i32,
        /// Created.
        pub created_at: DateTimeUtc,
        /// Updated.
        pub updated_at: DateTimeUtc,
    }

    /// No relations are declared.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `identity_recovery_addresses`
pub mod recovery_address {
    use sea_orm::entity::prelude::*;

    /// One row of `identity_recovery_addresses`.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "identity_recovery_addresses")]
    pub struct Model {
        /// Address id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Tenant.
        pub nid: Uuid,
        /// Owner.
        pub identity_id: Uuid,
        /// `email` / `sms`.
        pub via: String,
        /// The address.
        pub value: String,
        /// Position in the identity's list.
        pub position: i32,
        /// Created.
        pub created_at: DateTimeUtc,
        /// Updated.
        pub updated_at: DateTimeUtc,
    }

    /// No relations are declared.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `sessions`
pub mod session {
    use sea_orm::entity::prelude::*;

    /// One row of `sessions`.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "sessions")]
    pub struct Model {
        /// Session id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Tenant.
        pub nid: Uuid,
        /// Owner.
        pub identity_id: Uuid,
        /// SHA-256 of the session token.
        pub token_digest: Vec<u8>,
        /// SHA-256 of the logout token.
        pub logout_token_digest: Vec<u8>,
        /// Not revoked?
        pub active: bool,
        /// `aal0` … `aal3`.
        pub aal: String,
        /// Completed authentication steps.
        pub authentication_methods: Json,
        /// Devices.
        pub devices: Json,
        /// Issued.
        pub issued_at: DateTimeUtc,
        /// Expires.
        pub expires_at: DateTimeUtc,
        /// Last authenticated.
        pub authenticated_at: DateTimeUtc,
    }

    /// No relations are declared.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `selfservice_flows`
pub mod flow {
    use sea_orm::entity::prelude::*;

    /// One row of `selfservice_flows`.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "selfservice_flows")]
    pub struct Model {
        /// Flow id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Tenant.
        pub nid: Uuid,
        /// `login`, `registration`, …
        pub kind: String,
        /// Expiry.
        pub expires_at: DateTimeUtc,
        /// CSRF token (empty for api flows).
        pub csrf_token: String,
        /// The flow's JSON document. The store itself binds and reads it as text
        /// (`kratos_core::flow::FlowDocument`), not through this model.
        pub document: Json,
    }

    /// No relations are declared.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
