//! Account linking: a social sign-up whose identifiers belong to an existing identity.
//!
//! As Kratos, the provider's `account_linking_mode` decides:
//!
//! - `confirm_with_existing_credential` (default): a login flow is made for the browser (its
//!   CSRF token and `return_to`), holding the link to add
//!   ([`crate::flow::link::CredentialLink`]: the provider, the subject and the tokens,
//!   sealed) and showing Kratos's account-linking form (1010016, the identifier known and
//!   hidden, the provider used left out, the labels "Sign in and link" / "Confirm with …").
//!   The browser goes to the login UI with it. Signing in there to the account that owns the
//!   identifier, with any first factor, links the provider;
//! - `automatic`: the provider is linked to the existing identity at once and the sign-in
//!   continues as a login, only when the identifier it collides on is an address the
//!   provider verified (`verified_addresses` of the claims mapper, or the `email` claim with
//!   `email_verified`); otherwise as `confirm_with_existing_credential`.

use serde_json::{Value, json};

use super::{OidcMethod, Verified};
use crate::flow::link::CredentialLink;
use crate::flow::ui::{InputType, NodeAttributes, NodeGroup, UiContainer, text};
use crate::flow::{FlowError, FlowType};
use crate::identity::{
    AddressImport, CreateIdentityBody, CredentialType, Identity, ImportCredentials, ImportProvider,
    ImportProviders, ImportProvidersConfig,
};
use crate::kratos::Kratos;
use crate::store::{AddressKind, StoreError};
use crate::strategy::{InternalContext, RegistrationCx, RegistrationOutcome};

use super::config::AccountLinkingMode;
use super::mapper::Mapped;

/// An existing identity a sign-up collides with.
pub(super) struct Conflict {
    /// The identity, with its credentials.
    pub(super) identity: Identity,
    /// The identifier or address both have.
    pub(super) identifier: String,
}

/// Kratos's order: credential identifiers (by type), then verifiable addresses, then
/// recovery addresses; the first one another identity has wins.
async fn first_conflict(kratos: &Kratos, new: &Identity) -> Result<Option<Conflict>, FlowError> {
    let store = kratos.store();
    let nid = kratos.nid();
    let found = |r: Result<Identity, StoreError>| match r {
        Ok(i) => Ok(Some(i)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(FlowError::from(e)),
    };
    let mut identifiers: Vec<(CredentialType, &str)> = new.identifiers().collect();
    identifiers.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    for (t, identifier) in identifiers {
        if let Some(identity) = found(store.find_identity_by_identifier(nid, t, identifier).await)?
        {
            return Ok(Some(Conflict {
                identity,
                identifier: identifier.to_owned(),
            }));
        }
    }
    let addresses = new
        .verifiable_addresses
        .iter()
        .map(|a| (AddressKind::Verifiable, a.via, a.value.as_str()))
        .chain(
            new.recovery_addresses
                .iter()
                .map(|a| (AddressKind::Recovery, a.via, a.value.as_str())),
        );
    for (kind, via, value) in addresses {
        if let Some(owner) = found(store.find_identity_by_address(nid, kind, via, value).await)? {
            // Address lookups may answer without credentials.
            let identity = kratos.store().get_identity(nid, owner.id).await?;
            return Ok(Some(Conflict {
                identity,
                identifier: value.to_owned(),
            }));
        }
    }
    Ok(None)
}

/// The `providers` entry of a link, as the `oidc` credential stores it.
pub(super) fn provider_entry(link: &ImportProvider) -> Value {
    let [id_token, access_token, refresh_token] = link.initial_tokens.clone().unwrap_or_default();
    json!({
        "subject": link.subject,
        "provider": link.provider,
        "initial_id_token": id_token,
        "initial_access_token": access_token,
        "initial_refresh_token": refresh_token,
    })
}

/// Whether the provider verified `identifier`: an address of the mapper's
/// `verified_addresses`, or the `email` claim when `email_verified` is true.
fn provider_verified(identifier: &str, mapped: &Mapped, verified: &Verified) -> bool {
    let same = |v: &str| v.trim().eq_ignore_ascii_case(identifier.trim());
    mapped.verified_addresses.iter().any(|a| same(&a.value))
        || (verified.claims.email_verified && verified.claims.email.as_deref().is_some_and(same))
}

/// What a sign-up that collides goes on with.
pub(super) struct Collision<'a> {
    pub(super) verified: &'a Verified,
    pub(super) mapped: &'a Mapped,
    pub(super) link: ImportProvider,
    pub(super) conflict: Conflict,
}

impl OidcMethod {
    /// The identity a sign-up with these traits and addresses would collide with, if any:
    /// the identity registration would make is prepared (its identifiers and addresses read
    /// from the schema) and each looked up.
    pub(super) async fn conflicting(
        kratos: &Kratos,
        schema_id: &str,
        traits: &Value,
        link: &ImportProvider,
        addresses: &[AddressImport],
    ) -> Result<Option<Conflict>, FlowError> {
        let prepared = kratos
            .identities()
            .prepare_create(CreateIdentityBody {
                schema_id: schema_id.to_owned(),
                traits: traits.clone(),
                credentials: Some(ImportCredentials {
                    oidc: Some(ImportProviders {
                        config: ImportProvidersConfig {
                            providers: vec![link.clone()],
                        },
                    }),
                    ..Default::default()
                }),
                verifiable_addresses: (!addresses.is_empty()).then(|| addresses.to_vec()),
                ..Default::default()
            })
            .await;
        match prepared {
            Ok(new) => first_conflict(kratos, &new).await,
            // The registration engine reports what does not fit.
            Err(_) => Ok(None),
        }
    }

    /// Goes on with a sign-up that collides with an existing identity, as the provider's
    /// `account_linking_mode` says: linked at once, the browser goes to the callback again
    /// for a login flow ([`RegistrationOutcome::Redirect`]); else the registration continues
    /// in a login flow that asks for the existing account's credential
    /// ([`FlowError::ContinuedInFlow`]).
    ///
    /// # Errors
    ///
    /// [`FlowError::ContinuedInFlow`] as said, or store and sealing failures.
    pub(super) async fn resolve_collision(
        &self,
        cx: &mut RegistrationCx<'_>,
        collision: Collision<'_>,
    ) -> Result<RegistrationOutcome, FlowError> {
        let Collision {
            verified,
            mapped,
            link,
            conflict,
        } = collision;
        let provider = self.provider(&verified.provider)?.provider.config().clone();
        let csrf = super::flows::csrf_of(&cx.flow.ui);
        // Automatic only when both sides proved the address: the provider (its claims or
        // the mapper) and the existing identity (a verified address), and that identity is
        // active. An unverified account someone else made with the address is never the
        // one a sign-in lands in.
        let existing_verified = conflict.identity.is_active()
            && conflict
                .identity
                .verifiable_addresses
                .iter()
                .any(|a| a.verified && a.value.eq_ignore_ascii_case(&conflict.identifier));
        if provider.account_linking_mode == AccountLinkingMode::Automatic
            && existing_verified
            && provider_verified(&conflict.identifier, mapped, verified)
        {
            let kratos = cx.kratos;
            let mut identity = kratos
                .store()
                .get_identity(kratos.nid(), conflict.identity.id)
                .await?;
            super::flows::add_link(
                &mut identity,
                link,
                crate::clock::truncate_micros(kratos.clock().now()),
            );
            kratos
                .store()
                .update_identity(kratos.nid(), &identity)
                .await?;
            // Linked: the sign-in continues as a login of that identity.
            let url = self
                .hand_over(
                    kratos,
                    super::CallbackFlow::Login,
                    super::flows::Origin {
                        id: cx.flow.id,
                        internal: cx.internal,
                        flow_type: cx.flow.flow_type,
                        request: cx.request,
                        csrf: &csrf,
                        return_to: cx.flow.return_to.clone(),
                    },
                    verified,
                )
                .await?;
            return Ok(RegistrationOutcome::Redirect(url));
        }
        let pending = CredentialLink {
            credential_type: CredentialType::Oidc,
            identifiers: vec![format!("{}:{}", link.provider, link.subject)],
            config: json!({"providers": [provider_entry(&link)]}),
            duplicate_identifier: conflict.identifier.clone(),
            authentication: Some(self.authentication(cx.kratos, verified)?),
        };
        let mut internal = InternalContext::default();
        pending.keep(&mut internal)?;
        let login = cx.kratos.login();
        let mut flow = login
            .create_continuing(
                cx.flow.flow_type,
                cx.request,
                &csrf,
                cx.flow.return_to.clone(),
                internal,
            )
            .await?;
        let ui_url = cx.kratos.config().selfservice.flows.login.ui_url.clone();
        let new_login_url = ui_url.clone().unwrap_or_else(|| {
            format!(
                "{}/self-service/login/browser",
                cx.kratos.config().serve.public_base_url()
            )
        });
        account_linking_ui(
            &mut flow.ui,
            &provider.id,
            provider_label(&provider),
            &conflict.identifier,
            &new_login_url,
        );
        login.rewrite(&flow, &csrf).await?;
        let (base, extra) = match flow.flow_type {
            FlowType::Browser => (new_login_url, Some(("no_org_ui", "true"))),
            FlowType::Api => (
                flow.return_to
                    .clone()
                    .unwrap_or_else(|| cx.kratos.default_return_url()),
                None,
            ),
        };
        let mut url = url::Url::parse(&base).map_err(|e| FlowError::Internal(e.to_string()))?;
        url.query_pairs_mut()
            .append_pair("flow", &flow.id.to_string());
        if let Some((k, v)) = extra {
            url.query_pairs_mut().append_pair(k, v);
        }
        // The registration flow is not saved on this answer: the state it kept is made
        // unusable, so the callback is used once.
        let mut void = InternalContext::default();
        void.set(super::INTERNAL_KEY, Value::Null);
        cx.kratos
            .registration()
            .keep_internal(cx.flow.id, void)
            .await?;
        let shown = serde_json::to_value(&flow).map_err(|e| FlowError::Internal(e.to_string()))?;
        Err(FlowError::ContinuedInFlow {
            redirect_browser_to: url.to_string(),
            flow: Box::new(shown),
        })
    }
}

/// The provider's name in the linking message: its `label`, else its type, as Kratos.
fn provider_label(provider: &super::ProviderConfig) -> &str {
    provider
        .label
        .as_deref()
        .filter(|l| !l.is_empty())
        .unwrap_or(&provider.provider)
}

/// Kratos's account-linking form on a login flow: the provider used left out, labels
/// swapped to "Sign in and link" / "Confirm with …", the identifier hidden with the
/// duplicate identifier as its value, and the 1010016 message alone. (Kratos's login hints,
/// which hide the credentials the identity lacks, are not configured here: every option
/// stays, and the context's lists are empty, as Kratos sends them then.)
fn account_linking_ui(
    ui: &mut UiContainer,
    used_provider: &str,
    used_label: &str,
    duplicate_identifier: &str,
    new_login_url: &str,
) {
    ui.nodes.retain_mut(|n| {
        let Some(label) = n.meta.label.as_mut() else {
            return true;
        };
        if n.group == NodeGroup::Default {
            return true;
        }
        let context = label.context.clone().unwrap_or(Value::Null);
        if n.group == NodeGroup::Oidc
            && context.get("provider_id").and_then(Value::as_str) == Some(used_provider)
        {
            return false;
        }
        match label.id {
            1010001 => *label = text::oidc::login_and_link(),
            1010002 => {
                let p = context
                    .get("provider")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                *label = text::oidc::login_with_and_link(p);
            }
            _ => {}
        }
        true
    });
    if let Some(node) = ui.node_mut("identifier")
        && let NodeAttributes::Input(a) = &mut node.attributes
    {
        a.input_type = InputType::Hidden;
        a.value = Some(json!(duplicate_identifier));
    }
    ui.messages.clear();
    ui.messages.push(text::oidc::login_link(
        duplicate_identifier,
        used_label,
        new_login_url,
        &[],
        &[],
    ));
}
