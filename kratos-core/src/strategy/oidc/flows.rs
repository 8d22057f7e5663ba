//! The `oidc` method in login, registration and settings flows.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{CallbackFlow, CallbackParams, OidcMethod, Verified, bad_request};
use crate::flow::registration::{add_trait_error, set_trait_values, trait_nodes};
use crate::flow::ui::{InputType, NodeGroup, UiContainer, UiNode, text};
use crate::flow::{FlowError, FlowType, ProviderFailure};
use crate::identity::{
    AddressImport, AddressVia, CredentialType, Identity, ImportCredentials, ImportProvider,
    ImportProviders, ImportProvidersConfig,
};
use crate::kratos::Kratos;
use crate::session::AuthenticationMethod;
use crate::store::StoreError;
use crate::strategy::{
    Authenticated, CompletionWrites, Factor, IdentityChange, InternalContext, LoginCx,
    LoginOutcome, LoginStrategy, Method, NewIdentity, PopulateCx, RegistrationCx,
    RegistrationOutcome, RegistrationStrategy, SettingsCx, SettingsOutcome, SettingsPopulateCx,
    SettingsStrategy,
};

/// A submission of the method (a button, or a provider's callback).
#[derive(Deserialize)]
struct Submission {
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    traits: Value,
    #[serde(default)]
    upstream_parameters: Value,
    #[serde(default)]
    link: Option<String>,
    #[serde(default)]
    unlink: Option<String>,
    #[serde(default)]
    oidc_callback: Option<CallbackParams>,
}

impl Submission {
    /// The upstream parameters that are strings.
    fn upstream(&self) -> BTreeMap<String, String> {
        self.upstream_parameters
            .as_object()
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Whether `payload` is the method's: `method=oidc`, or no method and one of its fields
/// (Kratos's forms post only the `provider` button).
fn claims_payload(payload: &Value, fields: &[&str]) -> bool {
    match payload.get("method").and_then(Value::as_str) {
        Some("oidc") => true,
        Some(m) if !m.is_empty() => false,
        _ => fields.iter().any(|f| {
            payload
                .get(*f)
                .and_then(Value::as_str)
                .is_some_and(|v| !v.is_empty())
        }),
    }
}

fn is_callback(payload: &Value) -> bool {
    payload.get("oidc_callback").is_some_and(Value::is_object)
}

/// The provider ids linked to `identity`.
fn linked_providers(identity: &Identity) -> Vec<String> {
    identity
        .credential(CredentialType::Oidc)
        .and_then(|c| c.config.get("providers").and_then(Value::as_array).cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.get("provider").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

/// First factors as Kratos counts them (`CountActiveFirstFactorCredentials`, over the
/// methods that are on): each linked provider, each passkey and each passwordless security
/// key on its own, every other first-factor credential once.
fn first_factors(kratos: &Kratos, identity: &Identity) -> usize {
    identity
        .credentials
        .values()
        .filter(|c| {
            kratos
                .methods()
                .login(&Method::custom(c.credential_type.as_str().to_owned()))
                .is_some()
        })
        .map(|c| match c.credential_type {
            CredentialType::Oidc => c.identifiers.len(),
            CredentialType::Passkey | CredentialType::Webauthn => c
                .config
                .get("credentials")
                .and_then(Value::as_array)
                .map_or(0, |keys| {
                    keys.iter()
                        .filter(|k| {
                            c.credential_type == CredentialType::Passkey
                                || k.get("is_passwordless").and_then(Value::as_bool) == Some(true)
                        })
                        .count()
                }),
            _ => usize::from(c.is_first_factor()),
        })
        .sum()
}

/// The CSRF token of a browser flow, from its form.
pub(super) fn csrf_of(ui: &UiContainer) -> String {
    match ui.node("csrf_token").map(|n| &n.attributes) {
        Some(crate::flow::ui::NodeAttributes::Input(a)) => a
            .value
            .as_ref()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        _ => String::new(),
    }
}

/// The flow a verified sign-in is handed over from.
pub(super) struct Origin<'a> {
    pub(super) id: uuid::Uuid,
    pub(super) internal: &'a InternalContext,
    pub(super) flow_type: FlowType,
    pub(super) request: &'a crate::flow::FlowContext,
    pub(super) csrf: &'a str,
    pub(super) return_to: Option<String>,
}

impl OidcMethod {
    fn buttons(
        &self,
        ui: &mut UiContainer,
        only: Option<&[String]>,
        label: fn(&str, &str) -> crate::flow::ui::UiText,
    ) {
        for p in self.providers() {
            let c = p.config();
            if only.is_some_and(|ids| !ids.contains(&c.id)) {
                continue;
            }
            ui.nodes.push(
                UiNode::input(NodeGroup::Oidc, "provider", InputType::Submit)
                    .value(json!(c.id))
                    .label(label(c.label(), &c.id)),
            );
        }
    }

    /// The step a sign-in with `verified` records on the session.
    pub(super) fn authentication(
        &self,
        kratos: &Kratos,
        verified: &Verified,
    ) -> Result<AuthenticationMethod, FlowError> {
        let provider = self.provider(&verified.provider)?.provider.config();
        let mut step = AuthenticationMethod::first_factor(
            Method::Oidc.as_str(),
            crate::clock::truncate_micros(kratos.clock().now()),
        );
        step.aal = provider.aal_for(verified.claims.acr.as_deref(), &verified.claims.amr);
        step.provider = Some(provider.id.clone());
        Ok(step)
    }

    /// The identity linked to `provider:subject`, if any.
    async fn linked_identity(
        kratos: &Kratos,
        verified: &Verified,
    ) -> Result<Option<Identity>, FlowError> {
        let identifier = format!("{}:{}", verified.provider, verified.claims.sub);
        match kratos
            .store()
            .find_identity_by_identifier(kratos.nid(), CredentialType::Oidc, &identifier)
            .await
        {
            Ok(identity) => Ok(Some(identity)),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The credential a sign-in with `verified` links, its tokens sealed.
    fn link_of(kratos: &Kratos, verified: &Verified) -> Result<ImportProvider, FlowError> {
        let seal = |t: &Option<String>| -> Result<String, FlowError> {
            match t.as_deref().filter(|t| !t.is_empty()) {
                Some(t) => super::seal(kratos, t.as_bytes()),
                None => Ok(String::new()),
            }
        };
        Ok(ImportProvider {
            subject: verified.claims.sub.clone(),
            provider: verified.provider.clone(),
            initial_tokens: Some([
                seal(&verified.id_token)?,
                seal(&verified.access_token)?,
                seal(&verified.refresh_token)?,
            ]),
            ..Default::default()
        })
    }

    /// Continues a verified sign-in in a new flow of the other kind (login ↔ registration):
    /// the new flow keeps the sign-in sealed, and the browser goes to the callback again
    /// with a state for it.
    pub(super) async fn hand_over(
        &self,
        kratos: &Kratos,
        to: CallbackFlow,
        from: Origin<'_>,
        verified: &Verified,
    ) -> Result<String, FlowError> {
        let Origin {
            id: from_id,
            internal: from_internal,
            flow_type,
            request,
            csrf,
            return_to,
        } = from;
        let plain = serde_json::to_vec(verified).map_err(|e| FlowError::Internal(e.to_string()))?;
        let sealed = super::seal(kratos, &plain)?;
        // The new flow's id is known only once it exists: it is made first, then given the
        // state (and a native app's token exchange, moved over from the flow it continues).
        let (id, expires_at) = match to {
            CallbackFlow::Login => {
                let f = kratos
                    .login()
                    .create_continuing(
                        flow_type,
                        request,
                        csrf,
                        return_to.clone(),
                        InternalContext::default(),
                    )
                    .await?;
                (f.id, f.expires_at)
            }
            _ => {
                let f = kratos
                    .registration()
                    .create_continuing(
                        flow_type,
                        request,
                        csrf,
                        return_to.clone(),
                        InternalContext::default(),
                    )
                    .await?;
                (f.id, f.expires_at)
            }
        };
        let mut extra = InternalContext::default();
        kratos
            .session_token_exchanges()
            .move_to_flow(from_id, from_internal, id, &mut extra, expires_at)
            .await?;
        let (state, pending) = self.pending(
            kratos,
            id,
            to,
            &verified.provider,
            Value::Null,
            Some(sealed),
        )?;
        extra.set(
            super::INTERNAL_KEY,
            serde_json::to_value(&pending).map_err(|e| FlowError::Internal(e.to_string()))?,
        );
        match to {
            CallbackFlow::Login => kratos.login().keep_internal(id, extra).await?,
            _ => kratos.registration().keep_internal(id, extra).await?,
        }
        let provider = self.provider(&verified.provider)?.provider.config();
        let mut url = url::Url::parse(&self.callback_url(kratos, provider))
            .map_err(|e| FlowError::Internal(e.to_string()))?;
        url.query_pairs_mut().append_pair("state", &state);
        Ok(url.to_string())
    }
}

#[async_trait]
impl LoginStrategy for OidcMethod {
    fn method(&self) -> Method {
        Method::Oidc
    }

    fn factor(&self) -> Factor {
        Factor::First
    }

    fn claims(&self, payload: &Value) -> bool {
        claims_payload(payload, &["provider"])
    }

    fn exempt_from_csrf_token(&self, payload: &Value) -> bool {
        is_callback(payload)
    }

    fn populate(&self, cx: &mut PopulateCx<'_>) -> Result<(), FlowError> {
        if cx.requested_aal > crate::session::Aal::Aal1 {
            return Ok(());
        }
        // A refresh offers only the providers linked to the identity.
        let linked = match (cx.refresh, cx.identity) {
            (true, Some(identity)) => Some(linked_providers(identity)),
            _ => None,
        };
        self.buttons(cx.ui, linked.as_deref(), text::oidc::login_with);
        Ok(())
    }

    async fn submit(&self, cx: &mut LoginCx<'_>) -> Result<LoginOutcome, FlowError> {
        let submission: Submission = cx.parse()?;
        let Some(callback) = submission.oidc_callback.clone() else {
            let provider = submission.provider.clone().unwrap_or_default();
            let url = self
                .start(
                    cx.kratos,
                    super::Start {
                        flow_id: cx.flow.id,
                        kind: CallbackFlow::Login,
                        provider: &provider,
                        traits: Value::Null,
                        upstream: &submission.upstream(),
                    },
                    cx.internal,
                )
                .await?;
            return Ok(LoginOutcome::Redirect(url));
        };
        let (_, verified) = self.finish(cx.kratos, &callback, cx.internal).await?;
        match Self::linked_identity(cx.kratos, &verified).await? {
            Some(identity) => {
                if !identity.is_active() {
                    return Err(FlowError::IdentityDisabled);
                }
                if let Some(session) = cx.session
                    && session.identity_id != identity.id
                {
                    return Err(FlowError::IdentityMismatch);
                }
                let method = self.authentication(cx.kratos, &verified)?;
                Ok(LoginOutcome::Authenticated(Box::new(Authenticated {
                    identity,
                    method,
                    writes: CompletionWrites::default(),
                })))
            }
            None if cx.flow.refresh || cx.session.is_some() => Err(FlowError::IdentityMismatch),
            None => {
                let url = self
                    .hand_over(
                        cx.kratos,
                        CallbackFlow::Registration,
                        Origin {
                            id: cx.flow.id,
                            internal: cx.internal,
                            flow_type: cx.flow.flow_type,
                            request: cx.request,
                            csrf: &csrf_of(&cx.flow.ui),
                            return_to: cx.flow.return_to.clone(),
                        },
                        &verified,
                    )
                    .await?;
                Ok(LoginOutcome::Redirect(url))
            }
        }
    }
}

#[async_trait]
impl RegistrationStrategy for OidcMethod {
    fn method(&self) -> Method {
        Method::Oidc
    }

    fn claims(&self, payload: &Value) -> bool {
        claims_payload(payload, &["provider"])
    }

    fn exempt_from_csrf_token(&self, payload: &Value) -> bool {
        is_callback(payload)
    }

    fn populate(&self, cx: &mut PopulateCx<'_>) -> Result<(), FlowError> {
        self.buttons(cx.ui, None, text::oidc::registration_with);
        Ok(())
    }

    async fn submit(&self, cx: &mut RegistrationCx<'_>) -> Result<RegistrationOutcome, FlowError> {
        let submission: Submission = cx.parse()?;
        let Some(callback) = submission.oidc_callback.clone() else {
            let provider = submission.provider.clone().unwrap_or_default();
            let url = self
                .start(
                    cx.kratos,
                    super::Start {
                        flow_id: cx.flow.id,
                        kind: CallbackFlow::Registration,
                        provider: &provider,
                        traits: submission.traits.clone(),
                        upstream: &submission.upstream(),
                    },
                    cx.internal,
                )
                .await?;
            return Ok(RegistrationOutcome::Redirect(url));
        };
        let (configured, verified) = self.finish(cx.kratos, &callback, cx.internal).await?;
        if Self::linked_identity(cx.kratos, &verified).await?.is_some() {
            // Known already: this is a sign-in.
            let url = self
                .hand_over(
                    cx.kratos,
                    CallbackFlow::Login,
                    Origin {
                        id: cx.flow.id,
                        internal: cx.internal,
                        flow_type: cx.flow.flow_type,
                        request: cx.request,
                        csrf: &csrf_of(&cx.flow.ui),
                        return_to: cx.flow.return_to.clone(),
                    },
                    &verified,
                )
                .await?;
            return Ok(RegistrationOutcome::Redirect(url));
        }
        let Some(mapper) = &configured.mapper else {
            return Err(super::provider_error(
                ProviderFailure::Misconfigured,
                format!(
                    "selfservice.methods.oidc.config.providers[id={}].mapper_url is not set",
                    verified.provider
                ),
            ));
        };
        let mapped = super::mapper::map_claims(mapper, &verified.claims, None).await?;
        // The form's traits win (Kratos's merge) where the browser that sent them is the
        // one that signed in at the provider; an api flow's callback is bound to no client,
        // so there the provider's traits win.
        let traits = if cx.flow.flow_type == FlowType::Api {
            super::mapper::merge_traits_under(&verified.traits, mapped.traits.clone())
        } else {
            super::mapper::merge_traits(&verified.traits, mapped.traits.clone())
        };
        if let Err(errors) = cx.schema.validate(&traits) {
            // The form again: the traits filled in, their errors, and `Continue`.
            let provider = configured.provider.config();
            let csrf = csrf_of(&cx.flow.ui);
            cx.flow.ui.nodes.clear();
            if cx.flow.flow_type == FlowType::Browser {
                cx.flow.ui.nodes.push(
                    UiNode::input(NodeGroup::Default, "csrf_token", InputType::Hidden)
                        .required()
                        .value(json!(csrf)),
                );
            }
            if let Some(schema_traits) = cx.schema.raw().pointer("/properties/traits") {
                let required = schema_traits
                    .get("required")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                trait_nodes(
                    schema_traits,
                    &NodeGroup::Oidc,
                    "traits",
                    &required,
                    &mut cx.flow.ui.nodes,
                );
            }
            set_trait_values(&mut cx.flow.ui, &traits, "traits");
            cx.flow.ui.nodes.push(
                UiNode::input(NodeGroup::Oidc, "provider", InputType::Submit)
                    .value(json!(provider.id))
                    .label(text::oidc::registration_continue()),
            );
            for e in errors {
                add_trait_error(&mut cx.flow.ui, &e.instance_ptr, &e.message);
            }
            return Ok(RegistrationOutcome::Retry);
        }
        let link = Self::link_of(cx.kratos, &verified)?;
        let addresses: Vec<AddressImport> = mapped
            .verified_addresses
            .iter()
            .map(|a| AddressImport {
                value: a.value.clone(),
                via: Some(if a.via == "sms" {
                    AddressVia::Sms
                } else {
                    AddressVia::Email
                }),
                verified: true,
                status: None,
                verified_at: None,
            })
            .collect();
        // An identity with one of these identifiers exists: linking, not a new identity.
        if let Some(conflict) =
            Self::conflicting(cx.kratos, cx.schema.id(), &traits, &link, &addresses).await?
        {
            return self
                .resolve_collision(
                    cx,
                    super::linking::Collision {
                        verified: &verified,
                        mapped: &mapped,
                        link,
                        conflict,
                    },
                )
                .await;
        }
        Ok(RegistrationOutcome::Register(Box::new(NewIdentity {
            traits,
            credentials: Some(ImportCredentials {
                oidc: Some(ImportProviders {
                    config: ImportProvidersConfig {
                        providers: vec![link],
                    },
                }),
                ..Default::default()
            }),
            verifiable_addresses: (!addresses.is_empty()).then_some(addresses),
            metadata_public: mapped.metadata_public,
            metadata_admin: mapped.metadata_admin,
            authentication: Some(self.authentication(cx.kratos, &verified)?),
        })))
    }
}

#[async_trait]
impl SettingsStrategy for OidcMethod {
    fn method(&self) -> Method {
        Method::Oidc
    }

    fn claims(&self, payload: &Value) -> bool {
        claims_payload(payload, &["link", "unlink"])
            && !payload
                .get("provider")
                .is_some_and(|p| p.is_string() && !is_callback(payload))
            || (payload.get("method").and_then(Value::as_str) == Some("oidc")
                && is_callback(payload))
    }

    fn exempt_from_csrf_token(&self, payload: &Value) -> bool {
        is_callback(payload)
    }

    fn populate(&self, cx: &mut SettingsPopulateCx<'_>) -> Result<(), FlowError> {
        let linked = linked_providers(cx.identity);
        let now = crate::clock::truncate_micros(cx.kratos.clock().now());
        for p in self.providers() {
            let c = p.config();
            if linked.contains(&c.id) {
                // Offered only when a first factor is left without this provider.
                let mut without = cx.identity.clone();
                remove_link(&mut without, &c.id, now);
                if first_factors(cx.kratos, &without) > 0 {
                    cx.ui.nodes.push(
                        UiNode::input(NodeGroup::Oidc, "unlink", InputType::Submit)
                            .value(json!(c.id))
                            .label(text::oidc::unlink(c.label())),
                    );
                }
            } else {
                cx.ui.nodes.push(
                    UiNode::input(NodeGroup::Oidc, "link", InputType::Submit)
                        .value(json!(c.id))
                        .label(text::oidc::link(c.label())),
                );
            }
        }
        Ok(())
    }

    async fn submit(&self, cx: &mut SettingsCx<'_>) -> Result<SettingsOutcome, FlowError> {
        let submission: Submission = cx.parse()?;
        if let Some(callback) = submission.oidc_callback.clone() {
            let (_, verified) = self.finish(cx.kratos, &callback, cx.internal).await?;
            cx.require_privileged()?;
            if linked_providers(cx.identity).contains(&verified.provider) {
                cx.flow.ui.messages.push(text::validation_generic(
                    "can not link unknown or already existing OpenID Connect connection",
                ));
                return Ok(SettingsOutcome::Retry);
            }
            if Self::linked_identity(cx.kratos, &verified).await?.is_some() {
                cx.flow.ui.messages.push(text::duplicate_credentials());
                return Ok(SettingsOutcome::Retry);
            }
            let link = Self::link_of(cx.kratos, &verified)?;
            let step = self.authentication(cx.kratos, &verified)?;
            cx.add_session_method(step);
            let mut identity = cx.identity.clone();
            add_link(
                &mut identity,
                link,
                crate::clock::truncate_micros(cx.kratos.clock().now()),
            );
            return Ok(SettingsOutcome::Save(IdentityChange::Credentials(
                Box::new(identity),
            )));
        }
        if let Some(provider) = submission.link.as_deref().filter(|p| !p.is_empty()) {
            let known = self.provider(provider).is_ok();
            if !known || linked_providers(cx.identity).iter().any(|p| p == provider) {
                cx.flow.ui.messages.push(text::validation_generic(
                    "can not link unknown or already existing OpenID Connect connection",
                ));
                return Ok(SettingsOutcome::Retry);
            }
            cx.require_privileged()?;
            let url = self
                .start(
                    cx.kratos,
                    super::Start {
                        flow_id: cx.flow.id,
                        kind: CallbackFlow::Settings,
                        provider,
                        traits: Value::Null,
                        upstream: &submission.upstream(),
                    },
                    cx.internal,
                )
                .await?;
            return Ok(SettingsOutcome::Redirect(url));
        }
        if let Some(provider) = submission.unlink.as_deref().filter(|p| !p.is_empty()) {
            cx.require_privileged()?;
            if !linked_providers(cx.identity).iter().any(|p| p == provider)
                || self.provider(provider).is_err()
            {
                cx.flow.ui.messages.push(text::validation_generic(
                    "can not unlink non-existing OpenID Connect connection",
                ));
                return Ok(SettingsOutcome::Retry);
            }
            // Every subject of the provider goes: a first factor must be left after that.
            let mut identity = cx.identity.clone();
            remove_link(
                &mut identity,
                provider,
                crate::clock::truncate_micros(cx.kratos.clock().now()),
            );
            if first_factors(cx.kratos, &identity) == 0 {
                cx.flow.ui.messages.push(text::validation_generic(
                    "can not unlink OpenID Connect connection because it is the last remaining first factor credential",
                ));
                return Ok(SettingsOutcome::Retry);
            }
            return Ok(SettingsOutcome::Save(IdentityChange::Credentials(
                Box::new(identity),
            )));
        }
        Err(bad_request(
            "The request body is invalid: provide `link` or `unlink`.",
        ))
    }
}

/// Adds the link to the identity's `oidc` credential (made when it has none).
pub(super) fn add_link(
    identity: &mut Identity,
    link: ImportProvider,
    now: chrono::DateTime<chrono::Utc>,
) {
    let entry = identity
        .credentials
        .entry(CredentialType::Oidc)
        .or_insert_with(|| crate::identity::Credentials {
            credential_type: CredentialType::Oidc,
            identifiers: Vec::new(),
            config: json!({"providers": []}),
            version: 0,
            created_at: now,
            updated_at: now,
        });
    let identifier = format!("{}:{}", link.provider, link.subject);
    if !entry.identifiers.contains(&identifier) {
        entry.identifiers.push(identifier);
    }
    let mut providers = entry
        .config
        .get("providers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    providers.push(super::linking::provider_entry(&link));
    entry.config = json!({"providers": providers});
    entry.updated_at = now;
}

/// Removes every link to `provider` from the identity's `oidc` credential (and the
/// credential when none is left).
fn remove_link(identity: &mut Identity, provider: &str, now: chrono::DateTime<chrono::Utc>) {
    let Some(entry) = identity.credentials.get_mut(&CredentialType::Oidc) else {
        return;
    };
    let prefix = format!("{provider}:");
    entry.identifiers.retain(|i| !i.starts_with(&prefix));
    let providers: Vec<Value> = entry
        .config
        .get("providers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.get("provider").and_then(Value::as_str) != Some(provider))
        .collect();
    entry.config = json!({"providers": providers});
    entry.updated_at = now;
    if entry.identifiers.is_empty() {
        identity.credentials.remove(&CredentialType::Oidc);
    }
}
