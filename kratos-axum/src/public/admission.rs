//! How an HTTP submission is admitted to its flow: core loads the flow once and asks this
//! layer, in between, for the checks that belong to HTTP (the CSRF cookie of browser flows,
//! no browser on api flows) and for the request as a flow of that type sees it.

use std::sync::{Mutex, OnceLock};

use kratos_core::Kratos;
use kratos_core::flow::{Admission, AdmittedFlow, FlowContext, FlowError, FlowType};
use serde_json::Value;

use super::{FlowRequest, csrf_violation, flow_error};
use crate::error::ApiError;
use crate::negotiate::refuse_browser_on_api_flow;

/// The admission of one HTTP submission. After the core call, [`HttpAdmission::answer_as`]
/// tells which kind of flow it was (so the answer follows browser or api rules) or gives the
/// refusal exactly as this layer words it.
pub(crate) struct HttpAdmission<'a> {
    kratos: &'a Kratos,
    req: &'a FlowRequest,
    browser: FlowContext,
    api: FlowContext,
    admitted: OnceLock<(FlowType, String)>,
    refused: Mutex<Option<ApiError>>,
    link: bool,
}

impl<'a> HttpAdmission<'a> {
    /// The admission of `req`.
    pub(crate) fn new(kratos: &'a Kratos, req: &'a FlowRequest) -> Self {
        Self {
            kratos,
            req,
            browser: req.context(kratos),
            api: req.api_context(kratos),
            admitted: OnceLock::new(),
            refused: Mutex::new(None),
            link: false,
        }
    }

    /// The admission of a link followed from a message (`GET` with the secret in its
    /// URL), which needs no CSRF token.
    pub(crate) fn following_link(kratos: &'a Kratos, req: &'a FlowRequest) -> Self {
        Self {
            link: true,
            ..Self::new(kratos, req)
        }
    }

    fn refuse(&self, answer: ApiError, error: FlowError) -> FlowError {
        if let Ok(mut slot) = self.refused.lock() {
            *slot = Some(answer);
        }
        error
    }

    /// The type of the flow the submission was admitted to, or the error to answer: this
    /// layer's own refusal, or (when the flow was never loaded) core's error as JSON.
    pub(crate) fn answer_as<T>(&self, result: &Result<T, FlowError>) -> Result<FlowType, ApiError> {
        if let Some(refusal) = self.refused.lock().ok().and_then(|mut r| r.take()) {
            return Err(refusal);
        }
        match (self.admitted.get(), result) {
            (Some((flow_type, _)), _) => Ok(*flow_type),
            // The flow was never loaded (unknown, or the store failed): Kratos sends a
            // browser to the error UI (the middleware leaves JSON requests alone).
            (None, Err(e)) => Err(super::errors::browser_error(
                e,
                super::errors::forwarded_on_submit(e),
            )),
            (None, Ok(_)) => Err(flow_error(&FlowError::Internal(
                "the flow was answered without being admitted".into(),
            ))),
        }
    }

    /// The CSRF token of the flow admitted (empty for api flows).
    pub(crate) fn csrf_token(&self) -> Option<&str> {
        self.admitted.get().map(|(_, csrf)| csrf.as_str())
    }
}

impl Admission for HttpAdmission<'_> {
    fn request(&self) -> &FlowContext {
        &self.browser
    }

    fn admit(&self, flow: AdmittedFlow<'_>) -> Result<&FlowContext, FlowError> {
        let _ = self
            .admitted
            .set((flow.flow_type, flow.csrf_token.to_owned()));
        match flow.flow_type {
            // A link from a message is opened in a browser whatever flow sent it.
            FlowType::Api if self.link => Ok(&self.api),
            FlowType::Api => match refuse_browser_on_api_flow(&self.req.headers) {
                Ok(()) => Ok(&self.api),
                Err(answer) => Err(self.refuse(
                    answer,
                    FlowError::BadRequest("a browser request on an api flow".into()),
                )),
            },
            FlowType::Browser => {
                if flow.csrf_exempt
                    || crate::cookie::csrf_cookie_vouches_for(
                        self.kratos,
                        &self.req.headers,
                        flow.csrf_token,
                    )
                {
                    Ok(&self.browser)
                } else {
                    Err(self.refuse(csrf_violation().forwarded(), FlowError::CsrfViolation))
                }
            }
        }
    }

    fn csrf_vouched(&self, token: &str) -> bool {
        crate::cookie::csrf_cookie_vouches_for(self.kratos, &self.req.headers, token)
    }

    fn refuses_api_flows(&self) -> bool {
        !self.link && refuse_browser_on_api_flow(&self.req.headers).is_err()
    }

    fn follows_link(&self) -> bool {
        self.link
    }

    fn type_form_values(&self, schema_id: &str, payload: &mut Value) {
        super::registration::coerce_form_traits(self.kratos, schema_id, &self.req.headers, payload);
    }
}
