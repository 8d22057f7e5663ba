//! The conformance suite every storage backend must pass.
//!
//! Each function takes a fresh handle to a backend and works in a tenant of its own (a new
//! network id), so the functions can run in parallel on one database. A backend stamps the
//! suite out as tests with [`store_conformance!`](crate::store_conformance):
//!
//! ```ignore
//! async fn store() -> Option<std::sync::Arc<dyn kratos_core::store::Persister>> {
//!     Some(std::sync::Arc::new(kratos_core::store::MemoryStore::new()))
//! }
//! kratos_core::store_conformance!(store);
//! ```
//!
//! A factory returns `None` to skip (for example when no database URL is configured outside
//! CI); it should print why.
//!
//! This module exists for implementers of custom stores; it is not a stable part of the API.

#![allow(missing_docs)]

mod admission;
mod cleanup;
mod code_limits;
mod completion;
mod courier;
mod courier_sms;
mod flows;
mod hash_gate;
mod identity;
mod instances;
mod login_reads;
mod mfa;
mod operations;
mod passkey;
mod passwordless_code;
mod phone;
mod recovery_v2;
mod second_factor;
mod session;
mod settings_flows;
mod smtp_sink;
mod soft_passkey;
mod token_exchange;
mod verification_hooks;
mod webauthn;
mod whoami_cache;
pub use admission::*;
pub use cleanup::*;
pub use code_limits::*;
pub use completion::*;
pub use courier::*;
pub use courier_sms::*;
pub use flows::*;
pub use hash_gate::*;
pub use identity::*;
pub use instances::*;
pub use login_reads::*;
pub use mfa::*;
pub use operations::*;
pub use passkey::*;
pub use passwordless_code::*;
pub use phone::*;
pub use recovery_v2::*;
pub use second_factor::*;
pub use session::*;
pub use settings_flows::*;
pub use smtp_sink::*;
pub use soft_passkey::*;
pub use token_exchange::*;
pub use verification_hooks::*;
pub use webauthn::*;
pub use whoami_cache::*;

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::config::Config;
use crate::identity::{
    AddressImport, CreateIdentityBody, CredentialType, IdentityError, IdentityPatch,
    IdentitySchema, IdentityState, ImportCredentials, ImportPassword, ImportPasswordConfig,
    ImportProvider, ImportProviders, ImportProvidersConfig, ListIdentitiesParams,
    PasswordVerification, PatchAction, UpdateIdentityBody,
};
use crate::store::Persister;
use crate::{Kratos, KratosError};

use crate::Clock as _;
use crate::flow::login::{LoginOptions, LoginSubmission};
use crate::flow::registration::RegistrationSubmission;
use crate::flow::{ContinueWith, FlowContext, FlowError, FlowState, FlowType};
use crate::session::{Aal, AuthenticationMethod, ClientInfo, SessionError, token_digest};

/// Stamps the several-instances suite out as `#[tokio::test]`s for a factory
/// `async fn() -> Option<(Arc<dyn Persister>, Arc<dyn Persister>)>` that answers two stores
/// of one database connected apart (two pools, as two app processes have).
#[macro_export]
macro_rules! instances_conformance {
    ($factory:path) => {
        $crate::__stamp_instances!($factory;
            instances_see_revoked_sessions_and_disabled_identities,
            instances_count_login_failures_together,
            instances_courier_workers_send_each_message_once,
            instances_register_one_identifier_once,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __stamp_instances {
    ($factory:path; $($name:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if let Some((a, b)) = $factory().await {
                    $crate::testsuite::$name(a, b).await;
                }
            }
        )*
    };
}

/// Stamps the store conformance suite (identities and sessions) out as `#[tokio::test]`s for a factory
/// `async fn() -> Option<Arc<dyn Persister>>`.
#[macro_export]
macro_rules! store_conformance {
    ($factory:path) => {
        $crate::__stamp_conformance!($factory;
            identity_crud,
            identity_pagination_sees_every_row_once,
            identity_filters,
            identity_patch,
            identity_update,
            identity_import_hashes_and_plaintext,
            identity_concurrent_duplicates_one_wins,
            identity_tenant_isolation,
            identity_batch_create_reports_per_item,
            identity_delete_credential,
            identity_bad_input_writes_nothing,
            identity_password_hash_upgrades_after_verification,
            session_issue_and_whoami,
            session_revoke_and_logout,
            session_expiry_extend_and_sliding,
            session_inactive_identity_and_deletion,
            session_aal_highest_available,
            session_list_and_tenant_isolation,
            session_with_identity_by_token,
            session_with_identity_second_factor,
            whoami_cache_evicts_on_revoke_and_logout,
            whoami_cache_evicts_on_identity_changes,
            whoami_cache_keeps_expiry_and_sliding_extension,
            flow_register_and_login_with_password,
            flow_browser_csrf_and_return_to,
            flow_expiry_gives_a_fresh_flow,
            flow_session_rules_refresh_and_aal,
            flow_inactive_identity_and_hash_upgrade,
            flow_concurrent_registrations_one_identity,
            flow_login_lockout_grows_and_resets,
            flow_logout_browser_and_api,
            flow_settings_profile_and_password,
            flow_settings_browser_csrf_and_return_to,
            flow_login_requires_verified_address,
            flow_concurrent_logins,
            courier_queue_send_and_list,
            courier_claim_once_under_concurrency,
            courier_retry_backoff_and_abandon,
            courier_worker_restart_reclaims_stale_claims,
            courier_sms_and_email_each_to_their_own_channel,
            courier_sms_abandoned_after_the_retries,
            code_issue_use_expire_and_replace,
            code_concurrent_use_exactly_one_wins,
            flow_verification_code,
            flow_verification_link,
            flow_recovery_code,
            flow_recovery_link_and_admin,
            flow_registration_sends_verification,
            flow_registration_without_verification_sends_nothing,
            flow_settings_new_address_is_verified_again,
            flow_disabled_verification_and_recovery,
            flow_registration_by_code,
            flow_login_by_code,
            flow_login_by_code_unknown_address_and_limits,
            completion_login_writes_session_flow_and_reset,
            completion_registration_writes_identity_session_and_flow,
            completion_is_all_or_nothing,
            login_reads_answer_flow_lockout_and_identity_apart,
            cleanup_expired_flows,
            cleanup_expired_and_inactive_sessions,
            cleanup_spent_codes_and_submission_counters,
            cleanup_stale_login_failures,
            cleanup_finished_courier_messages,
            cleanup_sent_message_loses_its_template_data,
            cleanup_stale_send_counters,
            cleanup_run_loops_until_done_and_run_once_takes_one_batch,
            code_send_counters_count_atomically_per_window_and_tenant,
            code_send_limits_per_flow_and_per_address,
            code_send_limits_cover_recovery_login_and_registration,
            login_attempts_lock_from_the_limit_and_a_success_forgives,
            login_attempts_refused_by_an_earlier_key_leave_the_later_ones_uncounted,
            flow_login_burst_is_locked_before_the_hash,
            flow_login_lockout_keys_long_identifiers_by_digest,
            completion_concurrent_login_submissions_one_session,
            completion_concurrent_registration_submissions_one_session,
            hash_gate_bounds_concurrent_hashes,
            flow_hashing_waits_for_the_gate,
            used_secret_first_use_wins_per_identity_and_tenant,
            used_secret_concurrent_uses_one_wins,
            used_secret_cleanup_deletes_expired_uses,
            used_secret_deleting_the_identity_deletes_its_uses,
            completion_using_a_secret_is_all_or_nothing,
            completion_using_a_secret_concurrently_one_wins,
            identity_import_lookup_secret_stores_no_plaintext,
            mfa_totp_set_up_step_up_and_replay,
            mfa_second_factor_rules,
            mfa_totp_unlink_needs_privilege_and_lowers_the_level,
            mfa_lookup_secrets_set_up_reveal_and_use_once,
            mfa_concurrent_use_of_one_backup_code_one_session,
            passkey_register_and_sign_in,
            passkey_login_refusals,
            passkey_admin_import_signs_in,
            passkey_completion_updates_the_credential_only_while_unchanged,
            webauthn_security_key_added_steps_up_and_is_removed,
            passkey_settings_add_and_remove,
            webauthn_passwordless_registers_and_signs_in,
            passkey_refreshes_the_session,
            mfa_second_factor_of_a_method_that_is_off_asks_for_no_step_up,
            mfa_code_as_second_factor,
            mfa_per_method_hooks_run_for_their_method,
            mfa_partly_enabled_second_factors_agree_between_login_and_whoami,
            mfa_backup_codes_in_kratos_plaintext_shape_still_work,
            flow_admission_is_asked_once_after_the_load,
            flow_recovery_and_verification_offer_the_method_use_names,
            flow_refresh_by_code_keeps_the_identity,
            login_reads_count_a_browser_flow_only_with_its_token,
            mfa_an_imported_security_key_without_its_method_asks_for_no_step_up,
            phone_sign_up_and_sign_in_by_text_message,
            phone_verification_by_text_message,
            phone_code_as_second_factor,
            recovery_v2_by_email,
            recovery_v2_by_sms,
            recovery_v2_unknown_address,
            recovery_v2_chooses_among_addresses,
            recovery_v2_goes_back,
            recovery_v2_wrong_codes_and_limits,
            recovery_v2_flow_outlives_the_flag,
            recovery_v2_code_only_for_the_last_address,
            ping_answers,
            self_service_errors_are_stored_and_read_per_tenant,
            self_service_errors_cleanup_deletes_old_ones,
            token_exchange_store_hands_the_session_out_once,
            token_exchange_store_expiry_and_moves,
            token_exchange_concurrent_exchanges_one_wins,
            token_exchange_cleanup_deletes_expired_exchangers,
            flow_session_token_exchange_for_api_flows,
            flow_session_token_exchange_pending_and_attached_directly,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __stamp_conformance {
    ($factory:path; $($name:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if let Some(store) = $factory().await {
                    $crate::testsuite::$name(store).await;
                }
            }
        )*
    };
}

/// Reads `KRATOS_TEST_POSTGRES_URL`; when unset, fails under `CI=true` and returns `None`
/// (after printing that the tests are skipped) otherwise.
pub fn postgres_url_or_skip() -> Option<String> {
    match std::env::var("KRATOS_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                panic!(
                    "CI=true but KRATOS_TEST_POSTGRES_URL is not set: PostgreSQL tests cannot be skipped in CI"
                );
            }
            eprintln!("KRATOS_TEST_POSTGRES_URL is not set: skipping PostgreSQL test");
            None
        }
    }
}

/// Reads `KRATOS_TEST_MYSQL_URL`; when unset, fails under `CI=true` and returns `None`
/// (after printing that the tests are skipped) otherwise.
pub fn mysql_url_or_skip() -> Option<String> {
    match std::env::var("KRATOS_TEST_MYSQL_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                panic!(
                    "CI=true but KRATOS_TEST_MYSQL_URL is not set: MySQL tests cannot be skipped in CI"
                );
            }
            eprintln!("KRATOS_TEST_MYSQL_URL is not set: skipping MySQL test");
            None
        }
    }
}

pub fn test_schema() -> IdentitySchema {
    IdentitySchema::from_value(
        "default",
        json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"traits": {"type": "object", "properties": {
                "email": {"type": "string", "format": "email", "minLength": 3,
                    "ory.sh/kratos": {
                        "credentials": {"password": {"identifier": true}, "code": {"identifier": true, "via": "email"}},
                        "verification": {"via": "email"},
                        "recovery": {"via": "email"}}},
                "username": {"type": "string",
                    "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}},
                "name": {"type": "string"}
            }, "required": ["email"], "additionalProperties": false}}
        }),
    )
    .expect("test schema loads")
}

/// A registry over `store` in a fresh tenant, with a fast hasher.
pub fn kratos(store: Arc<dyn Persister>) -> Kratos {
    kratos_with(store, "", Arc::new(crate::SystemClock))
}

/// `config` with the Have I Been Pwned check off
/// (`selfservice.methods.password.config.haveibeenpwned_enabled: false`), so a registry built
/// from it reaches no network and builds without the `hibp` feature. Every registry of the
/// suite is built from such a configuration; tests of the breach check set a checker on the
/// builder ([`KratosBuilder::breach_checker`](crate::KratosBuilder::breach_checker)).
pub fn without_hibp(mut config: Config) -> Config {
    config
        .selfservice
        .methods
        .password
        .config
        .haveibeenpwned_enabled = false;
    config
}

/// Like [`kratos`], with extra YAML configuration appended and a clock.
pub fn kratos_with(
    store: Arc<dyn Persister>,
    extra_yaml: &str,
    clock: Arc<dyn crate::Clock>,
) -> Kratos {
    builder_with(store, extra_yaml, clock)
        .build()
        .expect("kratos builds")
        .tenant(Uuid::new_v4())
}

/// The builder of [`kratos_with`], to add options to.
pub fn builder_with(
    store: Arc<dyn Persister>,
    extra_yaml: &str,
    clock: Arc<dyn crate::Clock>,
) -> crate::KratosBuilder {
    let config = Config::from_yaml_str(&format!(
        "secrets:\n  default: [\"conformance-suite-secret-0123456789\"]\nhashers:\n  algorithm: bcrypt\n  bcrypt:\n    cost: 4\n{extra_yaml}"
    ))
    .expect("config");
    Kratos::builder(without_hibp(config))
        .clock(clock)
        .store(store)
        .schema(test_schema())
        .schema(
            IdentitySchema::from_value(
                "other",
                json!({"properties": {"traits": {"type": "object", "properties": {
                    "nick": {"type": "string",
                        "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}}}}}}),
            )
            .expect("other schema"),
        )
}

fn email() -> String {
    format!("user-{}@example.com", Uuid::new_v4().simple())
}

fn body(email: &str) -> CreateIdentityBody {
    CreateIdentityBody {
        traits: json!({ "email": email }),
        ..Default::default()
    }
}

async fn count(k: &Kratos) -> usize {
    let mut n = 0;
    let mut token = None;
    loop {
        let page = k
            .identities()
            .list(ListIdentitiesParams {
                page_size: Some(1000),
                page_token: token,
                ..Default::default()
            })
            .await
            .expect("list");
        n += page.identities.len();
        match page.next_page_token {
            Some(t) => token = Some(t),
            None => return n,
        }
    }
}
