//! Logout: the browser flow (a logout URL carrying the session's logout token) and the api
//! logout by session token.
//!
//! Kratos stores each session's logout token in plaintext. Here the logout token is derived
//! from the session token ([`LogoutToken::derive`]) and only its digest is stored, so creating
//! a logout flow needs no write and gives the same URL on every call, as in Kratos.

use serde::{Deserialize, Serialize};

use super::{FlowContext, FlowError, check_return_to};
use crate::kratos::Kratos;
use crate::session::{LogoutToken, RequiredAal, SessionError, SessionToken, token_digest};
use crate::store::StoreError;

/// A browser logout flow, in Kratos's `logoutFlow` shape.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogoutFlow {
    /// Open this URL in the browser to sign out.
    pub logout_url: String,
    /// The logout token, for logging out with AJAX (`GET /self-service/logout?token=`).
    pub logout_token: String,
}

impl std::fmt::Debug for LogoutFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogoutFlow")
            .field("logout_url", &"<redacted>")
            .field("logout_token", &"ory_lo_<redacted>")
            .finish()
    }
}

/// Logout operations of one tenant.
#[derive(Clone, Copy, Debug)]
pub struct LogoutFlows<'a> {
    kratos: &'a Kratos,
}

impl<'a> LogoutFlows<'a> {
    /// Creates a browser logout flow for the session behind `ctx.session_token` (the HTTP layer
    /// reads it from the session cookie). A `return_to` in `ctx.request_url` is checked against
    /// the allow-list and carried into the logout URL.
    ///
    /// Without an active session this is [`FlowError::NoActiveSession`] (401).
    pub async fn create_browser(&self, ctx: &FlowContext) -> Result<LogoutFlow, FlowError> {
        let token = ctx
            .session_token
            .as_deref()
            .ok_or(FlowError::NoActiveSession)?;
        match self
            .kratos
            .sessions()
            .whoami_with(token, RequiredAal::Aal1)
            .await
        {
            Ok(_) => {}
            Err(SessionError::Inactive) => return Err(FlowError::NoActiveSession),
            Err(e) => return Err(e.into()),
        }
        let return_to = self.kratos.resolve_return_to(ctx.request_url.as_deref())?;
        let logout_token = LogoutToken::derive(&SessionToken::from_string(token));
        let mut url = url::Url::parse(&format!(
            "{}/self-service/logout",
            self.kratos.config().serve.public_base_url()
        ))
        .map_err(|e| FlowError::Internal(e.to_string()))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("token", logout_token.expose());
            if let Some(r) = &return_to {
                q.append_pair("return_to", r);
            }
        }
        Ok(LogoutFlow {
            logout_url: url.to_string(),
            logout_token: logout_token.expose().to_owned(),
        })
    }

    /// Completes a browser logout (`GET /self-service/logout?token=&return_to=`): revokes the
    /// session the logout token belongs to and answers where to send the browser (the checked
    /// `return_to`, else `selfservice.flows.logout.after.default_browser_return_url`, else the
    /// default return URL).
    ///
    /// An unknown logout token, or one of a session already ended, is
    /// [`FlowError::LogoutTokenInvalid`] (403); a forbidden `return_to` is refused before
    /// anything is revoked.
    pub async fn submit_browser(
        &self,
        logout_token: &str,
        return_to: Option<&str>,
    ) -> Result<String, FlowError> {
        let target = self.after_logout_url(return_to)?;
        let record = self
            .kratos
            .store()
            .get_session_by_logout_token(self.kratos.nid(), &token_digest(logout_token))
            .await;
        match record {
            Ok(r) if r.session.active => {
                self.kratos.sessions().revoke(r.session.id).await?;
                Ok(target)
            }
            Ok(_) | Err(StoreError::NotFound) => Err(FlowError::LogoutTokenInvalid),
            Err(e) => Err(e.into()),
        }
    }

    /// Logs out an api client by its session token (`DELETE /self-service/logout/api`). A
    /// session revoked before answers `Ok` as in Kratos; an unknown token is
    /// [`FlowError::SessionTokenInvalid`] (403).
    pub async fn api(&self, session_token: &str) -> Result<(), FlowError> {
        let record = self
            .kratos
            .store()
            .get_session_by_token(self.kratos.nid(), &token_digest(session_token))
            .await;
        match record {
            Ok(r) if r.session.active => Ok(self.kratos.sessions().revoke(r.session.id).await?),
            Ok(_) => Ok(()),
            Err(StoreError::NotFound) => Err(FlowError::SessionTokenInvalid),
            Err(e) => Err(e.into()),
        }
    }

    fn after_logout_url(&self, return_to: Option<&str>) -> Result<String, FlowError> {
        let default = self
            .kratos
            .config()
            .selfservice
            .flows
            .logout
            .after
            .default_browser_return_url
            .clone()
            .unwrap_or_else(|| self.kratos.default_return_url());
        match return_to.filter(|r| !r.is_empty()) {
            None => Ok(default),
            Some(candidate) => check_return_to(
                candidate,
                &self.kratos.default_return_url(),
                &self.kratos.config().selfservice.allowed_return_urls,
            ),
        }
    }
}

impl Kratos {
    /// Logout.
    pub fn logout(&self) -> LogoutFlows<'_> {
        LogoutFlows { kratos: self }
    }
}
