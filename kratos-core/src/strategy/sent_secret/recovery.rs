//! Recovery by a code or link sent to a recovery address, and the admin API's codes and
//! links for an identity.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{NewSecret, Payload, Texts};
use crate::code::{CodeKind, CodeSecret, OneTimeCode};
use crate::config::CodeOrLink;
use crate::courier::TemplateType;
use crate::flow::recovery::{AdminRecoveryCode, AdminRecoveryLink, RecoveryFlow, RecoveryFlows};
use crate::flow::ui::{UiText, text};
use crate::flow::verification::{template_identity, with_query};
use crate::flow::{FlowContext, FlowError, FlowState, FlowType};
use crate::identity::{AddressVia, Identity};
use crate::kratos::Kratos;
use crate::session::AuthenticationMethod;
use crate::store::{AddressKind, StoreError};
use crate::strategy::Method;
use crate::strategy::code::{check_code_or_say, send_allowed, too_many_sends};
use crate::strategy::recovery::{
    AddressFormCx, Recovered, RecoveryCx, RecoveryOutcome, RecoveryStrategy,
};

/// Kratos's texts of recovery by code or link (`text/message_recovery.go`).
pub(super) const TEXTS: Texts = Texts {
    link_sent: || {
        UiText::info(
            1060002,
            "An email containing a recovery link has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.",
        )
    },
    code_sent: || {
        UiText::info(
            1060003,
            "An email containing a recovery code has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.",
        )
    },
    token_invalid: || {
        UiText::error(
            4060004,
            "The recovery token is invalid or has already been used. Please retry the flow.",
            None,
        )
    },
    code_invalid: || {
        UiText::error(
            4060006,
            "The recovery code is invalid or has already been used. Please try again.",
            None,
        )
    },
    code_label: || UiText::info(1070010, "Recovery code"),
};

/// The `code` or `link` method of recovery flows.
pub(crate) struct SentSecretRecovery(pub(crate) CodeOrLink);

impl SentSecretRecovery {
    fn kind(&self) -> CodeKind {
        match self.0 {
            CodeOrLink::Code => CodeKind::RecoveryCode,
            CodeOrLink::Link => CodeKind::RecoveryLink,
        }
    }
}

#[async_trait]
impl RecoveryStrategy for SentSecretRecovery {
    fn method(&self) -> Method {
        super::method_of(self.0)
    }

    fn populate(&self, cx: &mut AddressFormCx<'_>) {
        super::address_form(cx.ui, self.0, "");
    }

    fn supports_v2(&self) -> bool {
        self.0 == CodeOrLink::Code
    }

    fn populate_v2(&self, cx: &mut AddressFormCx<'_>) {
        super::recovery_v2::address_form(cx.ui);
    }

    fn claims(&self, payload: &serde_json::Value) -> bool {
        super::claims(self.0, payload)
    }

    fn exempt_from_csrf(&self, payload: &serde_json::Value) -> bool {
        self.0 == CodeOrLink::Link && super::follows_link(payload)
    }

    async fn submit(&self, cx: &mut RecoveryCx<'_>) -> Result<RecoveryOutcome, FlowError> {
        if cx.flow.state.is_recovery_v2() {
            if !self.supports_v2() {
                return Ok(RecoveryOutcome::NotMine);
            }
            return super::recovery_v2::submit(self, cx).await;
        }
        let payload: Payload = cx.parse()?;
        let returned = match self.0 {
            CodeOrLink::Link => &payload.token,
            CodeOrLink::Code => &payload.code,
        };
        if !returned.is_empty() {
            return self.check(cx, returned).await;
        }
        let email = payload.email.trim();
        if email.is_empty() {
            cx.flow
                .ui
                .add_node_message("email", text::required("email"));
            return Ok(RecoveryOutcome::Retry);
        }
        if !send_allowed(cx.kratos, cx.flow.id, email).await? {
            cx.flow.ui.messages.push(too_many_sends());
            return Ok(RecoveryOutcome::Retry);
        }
        self.send(cx.kratos, cx.flow, email).await?;
        cx.flow.state = FlowState::SentEmail;
        let form = cx.blank_form.clone();
        cx.flow.ui = super::sent_form(form, self.0, &TEXTS, email);
        Ok(RecoveryOutcome::Retry)
    }
}

impl SentSecretRecovery {
    /// Queues a code or link for `email` when it is a recovery address (or, for an unknown
    /// address, a notice when configured). The same outcome for the caller either way.
    async fn send(
        &self,
        kratos: &Kratos,
        flow: &RecoveryFlow,
        email: &str,
    ) -> Result<(), FlowError> {
        let notify = kratos
            .config()
            .selfservice
            .flows
            .recovery
            .notify_unknown_recipients
            .then_some(match self.0 {
                CodeOrLink::Code => TemplateType::RecoveryCodeInvalid,
                CodeOrLink::Link => TemplateType::RecoveryInvalid,
            });
        let Some((identity, normalized)) = super::find_or_notify(
            kratos,
            AddressKind::Recovery,
            email,
            notify,
            &flow.request_url,
        )
        .await?
        else {
            return Ok(());
        };
        let (address_id, address) = identity
            .recovery_addresses
            .iter()
            .find(|a| a.value == normalized)
            .map(|a| (a.id, a.value.as_str()))
            .ok_or(FlowError::Internal("the address vanished".into()))?;
        self.issue(
            kratos,
            flow,
            &identity,
            address_id,
            address,
            AddressVia::Email,
        )
        .await
    }

    /// Issues a secret for `address` (the recovery address `address_id` of `identity`) and
    /// queues the message carrying it, by email or by SMS after `via`, in one transaction
    /// (a new secret replaces the flow's earlier ones).
    pub(super) async fn issue(
        &self,
        kratos: &Kratos,
        flow: &RecoveryFlow,
        identity: &Identity,
        address_id: Uuid,
        address: &str,
        via: AddressVia,
    ) -> Result<(), FlowError> {
        let now = crate::clock::truncate_micros(kratos.clock().now());
        let expires_at = super::expires_at(kratos, self.0, now, flow.expires_at);
        let (secret, code) = NewSecret {
            kind: self.kind(),
            flow_id: flow.id,
            identity_id: identity.id,
            address: Some((address_id, address)),
            expires_at,
            admin: false,
        }
        .generate(kratos);
        let mut data = json!({
            "to": address,
            "identity": template_identity(identity),
            "traits": identity.traits,
            "request_url": flow.request_url,
            "expires_in_minutes": (expires_at - now).num_minutes(),
        });
        let template = match self.0 {
            CodeOrLink::Code => {
                data["recovery_code"] = json!(secret.expose());
                TemplateType::RecoveryCodeValid
            }
            CodeOrLink::Link => {
                data["recovery_url"] = json!(recovery_link(kratos, flow.id, &secret));
                TemplateType::RecoveryValid
            }
        };
        let message = kratos
            .courier()
            .render_via(via, template, address, data)
            .map_err(|e| FlowError::Internal(e.to_string()))?;
        kratos
            .store()
            .issue_code(kratos.nid(), &code, Some(&message))
            .await?;
        crate::telemetry::message_queued(&message);
        Ok(())
    }

    /// Checks a returned code or token: the identity it was sent for is recovered.
    async fn check(
        &self,
        cx: &mut RecoveryCx<'_>,
        submitted: &str,
    ) -> Result<RecoveryOutcome, FlowError> {
        let kratos = cx.kratos;
        let invalid = match self.0 {
            CodeOrLink::Link => (TEXTS.token_invalid)(),
            CodeOrLink::Code => (TEXTS.code_invalid)(),
        };
        let (id, messages) = (cx.flow.id, &mut cx.flow.ui.messages);
        let Some(code) =
            check_code_or_say(kratos, self.kind(), id, submitted, "", invalid, messages).await?
        else {
            return Ok(RecoveryOutcome::Retry);
        };
        self.recover_with(cx, code).await
    }

    /// The end of a valid code or token: the identity it was sent for is recovered (and
    /// the address it went to verified), unless the identity is gone or disabled.
    pub(super) async fn recover_with(
        &self,
        cx: &mut RecoveryCx<'_>,
        code: OneTimeCode,
    ) -> Result<RecoveryOutcome, FlowError> {
        let kratos = cx.kratos;
        let (store, nid) = (kratos.store(), kratos.nid());
        let identity_id = code
            .identity_id
            .ok_or_else(|| FlowError::Internal("the recovery code has no identity".into()))?;
        let identity = match store.get_identity(nid, identity_id).await {
            Ok(i) => i,
            Err(StoreError::NotFound) => {
                cx.flow.ui.messages.push((TEXTS.code_invalid)());
                return Ok(RecoveryOutcome::Retry);
            }
            Err(e) => return Err(e.into()),
        };
        if !identity.is_active() {
            return Err(FlowError::IdentityDisabled);
        }
        let now = crate::clock::truncate_micros(kratos.clock().now());
        // The mail arrived: the address is verified too (not for admin codes).
        if !code.admin
            && let Some(address) = &code.address
            && let Some(v) = identity
                .verifiable_addresses
                .iter()
                .find(|a| &a.value == address && !a.verified)
        {
            match store.mark_address_verified(nid, v.id, now).await {
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let step = match self.0 {
            CodeOrLink::Code => "code_recovery",
            CodeOrLink::Link => "link_recovery",
        };
        Ok(RecoveryOutcome::Recovered(Box::new(Recovered {
            identity,
            method: AuthenticationMethod::first_factor(step, now),
        })))
    }
}

/// The link that returns a recovery token to flow `flow_id`.
fn recovery_link(kratos: &Kratos, flow_id: Uuid, secret: &CodeSecret) -> String {
    with_query(
        &super::link_base(kratos, "/self-service/recovery"),
        &[("flow", &flow_id.to_string()), ("token", secret.expose())],
    )
}

impl RecoveryFlows<'_> {
    /// The admin API: a recovery code for an identity, valid for `expires_in` (default
    /// `selfservice.methods.code.config.lifespan`), and the link to the flow to enter it in.
    /// No email is sent; the address is not marked verified.
    ///
    /// # Errors
    /// [`FlowError::Disabled`] when recovery is off, [`FlowError::NotFound`] for an unknown
    /// identity, store errors.
    pub async fn admin_create_code(
        &self,
        identity_id: Uuid,
        expires_in: Option<std::time::Duration>,
    ) -> Result<AdminRecoveryCode, FlowError> {
        let (flow, secret, expires_at) = self
            .admin_create(identity_id, CodeOrLink::Code, expires_in)
            .await?;
        let config = self.kratos().config();
        let recovery_link = match &config.selfservice.flows.recovery.ui_url {
            Some(u) => with_query(u, &[("flow", &flow.to_string())]),
            None => format!(
                "{}/self-service/recovery?flow={flow}",
                config.serve.public_base_url()
            ),
        };
        Ok(AdminRecoveryCode {
            recovery_link,
            recovery_code: secret.expose().to_owned(),
            expires_at,
        })
    }

    /// The admin API: a recovery link for an identity, valid for `expires_in` (default
    /// `selfservice.methods.link.config.lifespan`).
    ///
    /// # Errors
    /// As [`RecoveryFlows::admin_create_code`].
    pub async fn admin_create_link(
        &self,
        identity_id: Uuid,
        expires_in: Option<std::time::Duration>,
    ) -> Result<AdminRecoveryLink, FlowError> {
        let (flow, secret, expires_at) = self
            .admin_create(identity_id, CodeOrLink::Link, expires_in)
            .await?;
        Ok(AdminRecoveryLink {
            recovery_link: recovery_link(self.kratos(), flow, &secret),
            expires_at,
        })
    }

    /// A browser flow the admin API opens for `identity_id`, with a secret of `delivery`
    /// and no email. The flow needs no CSRF token (the browser that opens it never got
    /// one) and accepts the secret (its method) whatever the configuration says.
    async fn admin_create(
        &self,
        identity_id: Uuid,
        delivery: CodeOrLink,
        expires_in: Option<std::time::Duration>,
    ) -> Result<(Uuid, CodeSecret, DateTime<Utc>), FlowError> {
        self.ensure_enabled()?;
        let kratos = self.kratos();
        let identity = kratos
            .store()
            .get_identity(kratos.nid(), identity_id)
            .await?;
        let methods = &kratos.config().selfservice.methods;
        let default = match delivery {
            CodeOrLink::Code => methods.code.config.lifespan,
            CodeOrLink::Link => methods.link.config.lifespan,
        };
        let lifespan = expires_in
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .unwrap_or_else(|| default.as_chrono());
        let method = super::method_of(delivery);
        let strategy = kratos.methods().recovery(&method).ok_or_else(|| {
            FlowError::BadRequest(format!("the {method} recovery method is not available"))
        })?;
        // Admin-made flows are v1 flows waiting for the secret, whatever the flag.
        let (mut flow, csrf) = self.new_flow(
            FlowType::Browser,
            &FlowContext::default(),
            &**strategy,
            false,
        )?;
        flow.expires_at = flow
            .issued_at
            .checked_add_signed(lifespan)
            .ok_or_else(|| FlowError::BadRequest("expires_in is too large".into()))?;
        let kind = match delivery {
            CodeOrLink::Code => CodeKind::RecoveryCode,
            CodeOrLink::Link => CodeKind::RecoveryLink,
        };
        let (secret, code) = NewSecret {
            kind,
            flow_id: flow.id,
            identity_id: identity.id,
            address: None,
            expires_at: flow.expires_at,
            admin: true,
        }
        .generate(kratos);
        if delivery == CodeOrLink::Code {
            flow.state = FlowState::SentEmail;
            let mut ui = self.blank_form(flow.id, &csrf);
            super::code_form(&mut ui, (TEXTS.code_label)(), None);
            flow.ui = ui;
        }
        flow.internal
            .set(crate::flow::recovery::ADMIN_MADE, json!(true));
        flow.internal
            .set(crate::flow::recovery::ADMIN_METHOD, json!(method.as_str()));
        self.save(&flow, &csrf, true).await?;
        kratos.store().issue_code(kratos.nid(), &code, None).await?;
        Ok((flow.id, secret, flow.expires_at))
    }
}
