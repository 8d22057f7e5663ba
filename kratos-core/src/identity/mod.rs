//! Identities: the record, its schema, normalisation of identifiers, and the admin API.

mod admin;
mod error;
mod model;
mod normalize;
mod schema;

pub use admin::{
    AddressImport, CreateIdentityBody, DEFAULT_PAGE_SIZE, IdentityAdmin, IdentityPage,
    IdentityPatch, IdentityPatchResult, ImportCredentials, ImportLookupCode, ImportLookupSecret,
    ImportLookupSecretConfig, ImportPassword, ImportPasswordConfig, ImportProvider,
    ImportProviders, ImportProvidersConfig, ImportTotp, ImportTotpConfig, ImportWebauthn,
    ListIdentitiesParams, MAX_BATCH_SIZE, MAX_BATCH_SIZE_WITH_PASSWORDS, MAX_IDS_FILTER,
    MAX_PAGE_SIZE, PasswordVerification, PatchAction, UpdateIdentityBody,
};
pub(crate) use admin::{set_password_hash, verify_and_rehash};
pub use error::IdentityError;
pub use model::{
    AddressVia, CredentialType, Credentials, Identity, IdentityState, RecoveryAddress,
    VerifiableAddress, VerificationStatus,
};
pub use normalize::{IdentifierKind, NormalizeError, normalize_identifier, normalize_phone};
pub use schema::{
    DerivedTraits, IdentifierTrait, IdentitySchema, SchemaError, SchemaRegistry, TraitError,
};
