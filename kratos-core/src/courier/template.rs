//! Email and text-message templates, rendered with minijinja.
//!
//! Every [`TemplateType`] has a built-in subject, plain-text body and HTML body, and a
//! built-in text-message (SMS) body. The app replaces any of them from configuration
//! (`courier.templates.<group>.<valid|invalid>.{email,sms}`) or from code
//! ([`KratosBuilder::courier_template`](crate::KratosBuilder::courier_template),
//! [`KratosBuilder::courier_sms_template`](crate::KratosBuilder::courier_sms_template)).
//! The text messages of the valid code templates are Kratos's. Templates
//! use Jinja syntax and see the message's template data by key: `to`, `identity`, `traits`,
//! `request_url`, `expires_in_minutes`, and per type `verification_code`, `verification_url`,
//! `recovery_code`, `recovery_url`, `login_code` or `registration_code`. HTML bodies are
//! escaped automatically.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::config::{CourierTemplatesConfig, EmailTemplateConfig, SmsTemplateConfig};

/// The kinds of message, with Kratos's template type names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TemplateType {
    /// A recovery link was asked for an address no account uses.
    RecoveryInvalid,
    /// A recovery link.
    RecoveryValid,
    /// A recovery code was asked for an address no account uses.
    RecoveryCodeInvalid,
    /// A recovery code.
    RecoveryCodeValid,
    /// A verification link was asked for an unknown address.
    VerificationInvalid,
    /// A verification link.
    VerificationValid,
    /// A verification code was asked for an unknown address.
    VerificationCodeInvalid,
    /// A verification code.
    VerificationCodeValid,
    /// A sign-in code.
    LoginCodeValid,
    /// A sign-up code.
    RegistrationCodeValid,
}

impl TemplateType {
    /// Every template type.
    pub const ALL: [TemplateType; 10] = [
        TemplateType::RecoveryInvalid,
        TemplateType::RecoveryValid,
        TemplateType::RecoveryCodeInvalid,
        TemplateType::RecoveryCodeValid,
        TemplateType::VerificationInvalid,
        TemplateType::VerificationValid,
        TemplateType::VerificationCodeInvalid,
        TemplateType::VerificationCodeValid,
        TemplateType::LoginCodeValid,
        TemplateType::RegistrationCodeValid,
    ];

    /// The wire name (`verification_code_valid`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            TemplateType::RecoveryInvalid => "recovery_invalid",
            TemplateType::RecoveryValid => "recovery_valid",
            TemplateType::RecoveryCodeInvalid => "recovery_code_invalid",
            TemplateType::RecoveryCodeValid => "recovery_code_valid",
            TemplateType::VerificationInvalid => "verification_invalid",
            TemplateType::VerificationValid => "verification_valid",
            TemplateType::VerificationCodeInvalid => "verification_code_invalid",
            TemplateType::VerificationCodeValid => "verification_code_valid",
            TemplateType::LoginCodeValid => "login_code_valid",
            TemplateType::RegistrationCodeValid => "registration_code_valid",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        TemplateType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The configuration group and variant: `("recovery_code", "valid")`.
    fn config_key(&self) -> (&'static str, &'static str) {
        let name = self.as_str();
        match name.strip_suffix("_invalid") {
            Some(group) => (group, "invalid"),
            None => (name.strip_suffix("_valid").unwrap_or(name), "valid"),
        }
    }
}

impl std::fmt::Display for TemplateType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The sources of one email template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailTemplate {
    /// The subject.
    pub subject: String,
    /// The plain-text body.
    pub plaintext: String,
    /// The HTML body (none: plain text only).
    pub html: Option<String>,
}

/// Why a template could not be loaded or rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// A template source could not be read.
    #[error("courier template `{key}`: {message}")]
    Source {
        /// The configuration key.
        key: String,
        /// What went wrong.
        message: String,
    },
    /// A template does not parse.
    #[error("courier template `{name}` is invalid: {message}")]
    Syntax {
        /// The template.
        name: String,
        /// The parser's complaint.
        message: String,
    },
    /// A template failed to render.
    #[error("courier template `{name}` failed to render: {message}")]
    Render {
        /// The template.
        name: String,
        /// What went wrong.
        message: String,
    },
}

/// A rendered email.
#[derive(Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    /// The subject.
    pub subject: String,
    /// The plain-text body.
    pub plaintext: String,
    /// The HTML body.
    pub html: Option<String>,
}

/// The set of templates of a registry. Cheap to clone.
#[derive(Clone)]
pub struct Templates {
    env: Arc<Environment<'static>>,
    has_html: Arc<HashMap<TemplateType, bool>>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templates")
    }
}

impl Default for Templates {
    fn default() -> Self {
        Self::build(HashMap::new(), HashMap::new()).expect("the built-in templates parse")
    }
}

impl Templates {
    /// The built-in templates with the configured overrides, then `overrides` on top.
    pub fn from_config(
        config: &CourierTemplatesConfig,
        overrides: impl IntoIterator<Item = (TemplateType, EmailTemplate)>,
    ) -> Result<Self, TemplateError> {
        Self::from_config_with_sms(config, overrides, [])
    }

    /// [`Templates::from_config`] with text-message bodies from code (`sms_overrides`) on
    /// top of the built-in ones and `courier.templates.<group>.<variant>.sms.body.plaintext`.
    ///
    /// # Errors
    /// A source that cannot be read ([`TemplateError::Source`]) or a template that does not
    /// parse ([`TemplateError::Syntax`]).
    pub fn from_config_with_sms(
        config: &CourierTemplatesConfig,
        overrides: impl IntoIterator<Item = (TemplateType, EmailTemplate)>,
        sms_overrides: impl IntoIterator<Item = (TemplateType, String)>,
    ) -> Result<Self, TemplateError> {
        let mut sms: HashMap<TemplateType, String> = HashMap::new();
        for t in TemplateType::ALL {
            let (group, variant) = t.config_key();
            let channels = config.0.get(group).and_then(|g| match variant {
                "valid" => g.valid.as_ref(),
                _ => g.invalid.as_ref(),
            });
            if let Some(SmsTemplateConfig { body }) = channels.and_then(|c| c.sms.as_ref()) {
                let key = format!("courier.templates.{group}.{variant}.sms.body.plaintext");
                if let Some(text) = load(body.plaintext.as_deref(), &key)? {
                    sms.insert(t, text);
                }
            }
        }
        sms.extend(sms_overrides);
        let mut chosen: HashMap<TemplateType, EmailTemplate> = HashMap::new();
        for t in TemplateType::ALL {
            let (group, variant) = t.config_key();
            let email = config.0.get(group).and_then(|g| match variant {
                "valid" => g.valid.as_ref(),
                _ => g.invalid.as_ref(),
            });
            if let Some(EmailTemplateConfig { subject, body }) =
                email.and_then(|c| c.email.as_ref())
            {
                let key = format!("courier.templates.{group}.{variant}.email");
                let builtin = builtin(t);
                chosen.insert(
                    t,
                    EmailTemplate {
                        subject: load(subject.as_deref(), &format!("{key}.subject"))?
                            .unwrap_or(builtin.subject),
                        plaintext: load(
                            body.plaintext.as_deref(),
                            &format!("{key}.body.plaintext"),
                        )?
                        .unwrap_or(builtin.plaintext),
                        html: load(body.html.as_deref(), &format!("{key}.body.html"))?
                            .or(builtin.html),
                    },
                );
            }
        }
        chosen.extend(overrides);
        Self::build(chosen, sms)
    }

    fn build(
        mut chosen: HashMap<TemplateType, EmailTemplate>,
        mut sms: HashMap<TemplateType, String>,
    ) -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        let mut has_html = HashMap::new();
        for t in TemplateType::ALL {
            let tpl = chosen.remove(&t).unwrap_or_else(|| builtin(t));
            let name = t.as_str();
            let add = |env: &mut Environment<'static>, suffix: &str, src: String| {
                let full = format!("{name}.{suffix}");
                env.add_template_owned(full.clone(), src)
                    .map_err(|e| TemplateError::Syntax {
                        name: full,
                        message: e.to_string(),
                    })
            };
            add(&mut env, "subject.txt", tpl.subject)?;
            add(&mut env, "body.txt", tpl.plaintext)?;
            has_html.insert(t, tpl.html.is_some());
            if let Some(html) = tpl.html {
                add(&mut env, "body.html", html)?;
            }
            let text = sms.remove(&t).unwrap_or_else(|| builtin_sms(t).to_owned());
            add(&mut env, "sms.txt", text)?;
        }
        Ok(Self {
            env: Arc::new(env),
            has_html: Arc::new(has_html),
        })
    }

    /// Renders a template type with its data.
    pub fn render(&self, t: TemplateType, data: &Value) -> Result<RenderedEmail, TemplateError> {
        let ctx = minijinja::Value::from(minijinja::value::Serde(data));
        let render = |suffix: &str| {
            let name = format!("{}.{suffix}", t.as_str());
            self.env
                .get_template(&name)
                .and_then(|tpl| tpl.render(ctx.clone()))
                .map_err(|e| TemplateError::Render {
                    name,
                    message: e.kind().to_string(),
                })
        };
        let subject = render("subject.txt")?.trim().replace(['\r', '\n'], " ");
        let plaintext = render("body.txt")?;
        let html = if self.has_html.get(&t).copied().unwrap_or(false) {
            Some(render("body.html")?)
        } else {
            None
        };
        Ok(RenderedEmail {
            subject,
            plaintext,
            html,
        })
    }
}

impl Templates {
    /// Renders the text message (SMS) of a template type with its data.
    ///
    /// # Errors
    /// [`TemplateError::Render`] when the template fails on this data.
    pub fn render_sms(&self, t: TemplateType, data: &Value) -> Result<String, TemplateError> {
        let ctx = minijinja::Value::from(minijinja::value::Serde(data));
        let name = format!("{}.sms.txt", t.as_str());
        self.env
            .get_template(&name)
            .and_then(|tpl| tpl.render(ctx))
            .map_err(|e| TemplateError::Render {
                name,
                message: e.kind().to_string(),
            })
    }
}

/// The built-in text messages: Kratos's for the valid code templates (its
/// `courier/template/courier/builtin/templates/*/sms.body.gotmpl`, in Jinja syntax), this
/// project's own wording for the others, which Kratos sends by email only.
fn builtin_sms(t: TemplateType) -> &'static str {
    match t {
        TemplateType::VerificationCodeValid => {
            "Your verification code is: {{ verification_code }}\n\nIf this was not you, do nothing. It expires in {{ expires_in_minutes }} minutes.\n{% if request_url_domain %}\n@{{ request_url_domain }} #{{ verification_code }}\n{% endif %}"
        }
        TemplateType::RecoveryCodeValid => {
            "Your recovery code is: {{ recovery_code }}\n\n@{{ request_url_domain }} #{{ recovery_code }}\n"
        }
        TemplateType::LoginCodeValid => {
            "Your login code is: {{ login_code }}\n\nIt expires in {{ expires_in_minutes }} minutes.\n{% if request_url_domain %}\n@{{ request_url_domain }} #{{ login_code }}\n{% endif %}"
        }
        TemplateType::RegistrationCodeValid => {
            "Your registration code is: {{ registration_code }}\n\nIt expires in {{ expires_in_minutes }} minutes.\n{% if request_url_domain %}\n@{{ request_url_domain }} #{{ registration_code }}\n{% endif %}"
        }
        TemplateType::VerificationValid => {
            "Confirm your phone number: {{ verification_url }}\n\nThe link expires in {{ expires_in_minutes }} minutes.\n"
        }
        TemplateType::RecoveryValid => {
            "Recover your account: {{ recovery_url }}\n\nThe link expires in {{ expires_in_minutes }} minutes.\n"
        }
        TemplateType::VerificationCodeInvalid | TemplateType::VerificationInvalid => {
            "Someone asked to verify this phone number, but no account uses it. If this was not you, do nothing.\n"
        }
        TemplateType::RecoveryCodeInvalid | TemplateType::RecoveryInvalid => {
            "Someone asked to recover an account for this phone number, but no account uses it. If this was not you, do nothing.\n"
        }
    }
}

/// Reads a template source: `file://path`, `base64://…`, or the text itself.
fn load(source: Option<&str>, key: &str) -> Result<Option<String>, TemplateError> {
    let Some(source) = source else {
        return Ok(None);
    };
    let err = |message: String| TemplateError::Source {
        key: key.to_owned(),
        message,
    };
    if let Some(path) = source.strip_prefix("file://") {
        return std::fs::read_to_string(path)
            .map(Some)
            .map_err(|e| err(format!("cannot read {path}: {e}")));
    }
    if let Some(b64) = source.strip_prefix("base64://") {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(b64.trim()))
            .map_err(|e| err(format!("invalid base64: {e}")))?;
        return String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| err("not UTF-8".into()));
    }
    Ok(Some(source.to_owned()))
}

const HTML_HEAD: &str =
    "<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif; line-height: 1.5\">\n";
const HTML_TAIL: &str = "</body></html>\n";

fn html(inner: &str) -> Option<String> {
    Some(format!("{HTML_HEAD}{inner}{HTML_TAIL}"))
}

/// The built-in templates (this project's own wording).
fn builtin(t: TemplateType) -> EmailTemplate {
    let (subject, plaintext, html) = match t {
        TemplateType::VerificationCodeValid => (
            "Your verification code",
            "Hello,\n\nuse this code to confirm your email address:\n\n    {{ verification_code }}\n\n{% if verification_url %}You can also open this link: {{ verification_url }}\n\n{% endif %}The code stays valid for {{ expires_in_minutes }} minutes.\n",
            html(
                "<p>Hello,</p>\n<p>use this code to confirm your email address:</p>\n<p style=\"font-size: 1.5em; letter-spacing: 0.2em\"><strong>{{ verification_code }}</strong></p>\n{% if verification_url %}<p>You can also <a href=\"{{ verification_url }}\">confirm it with this link</a>.</p>\n{% endif %}<p>The code stays valid for {{ expires_in_minutes }} minutes.</p>\n",
            ),
        ),
        TemplateType::VerificationValid => (
            "Confirm your email address",
            "Hello,\n\nopen this link to confirm your email address:\n\n{{ verification_url }}\n\nThe link stays valid for {{ expires_in_minutes }} minutes.\n",
            html(
                "<p>Hello,</p>\n<p><a href=\"{{ verification_url }}\">Confirm your email address</a>.</p>\n<p>The link stays valid for {{ expires_in_minutes }} minutes.</p>\n",
            ),
        ),
        TemplateType::VerificationCodeInvalid | TemplateType::VerificationInvalid => (
            "Email confirmation requested",
            "Hello,\n\nsomeone asked to confirm this email address, but no account uses it. If it was you, perhaps you signed up with another address. Otherwise you can ignore this message.\n",
            html(
                "<p>Hello,</p>\n<p>someone asked to confirm this email address, but no account uses it. If it was you, perhaps you signed up with another address. Otherwise you can ignore this message.</p>\n",
            ),
        ),
        TemplateType::RecoveryCodeValid => (
            "Your account recovery code",
            "Hello,\n\nuse this code to get back into your account:\n\n    {{ recovery_code }}\n\nThe code stays valid for {{ expires_in_minutes }} minutes. If you did not ask for it, you can ignore this message.\n",
            html(
                "<p>Hello,</p>\n<p>use this code to get back into your account:</p>\n<p style=\"font-size: 1.5em; letter-spacing: 0.2em\"><strong>{{ recovery_code }}</strong></p>\n<p>The code stays valid for {{ expires_in_minutes }} minutes. If you did not ask for it, you can ignore this message.</p>\n",
            ),
        ),
        TemplateType::RecoveryValid => (
            "Recover your account",
            "Hello,\n\nopen this link to get back into your account:\n\n{{ recovery_url }}\n\nThe link stays valid for {{ expires_in_minutes }} minutes. If you did not ask for it, you can ignore this message.\n",
            html(
                "<p>Hello,</p>\n<p><a href=\"{{ recovery_url }}\">Get back into your account</a>.</p>\n<p>The link stays valid for {{ expires_in_minutes }} minutes. If you did not ask for it, you can ignore this message.</p>\n",
            ),
        ),
        TemplateType::RecoveryCodeInvalid | TemplateType::RecoveryInvalid => (
            "Account recovery requested",
            "Hello,\n\nsomeone asked to recover an account for this email address, but no account uses it. If it was you, perhaps you signed up with another address. Otherwise you can ignore this message.\n",
            html(
                "<p>Hello,</p>\n<p>someone asked to recover an account for this email address, but no account uses it. If it was you, perhaps you signed up with another address. Otherwise you can ignore this message.</p>\n",
            ),
        ),
        TemplateType::LoginCodeValid => (
            "Your sign-in code",
            "Hello,\n\nuse this code to sign in:\n\n    {{ login_code }}\n\nThe code stays valid for {{ expires_in_minutes }} minutes.\n",
            html(
                "<p>Hello,</p>\n<p>use this code to sign in:</p>\n<p style=\"font-size: 1.5em; letter-spacing: 0.2em\"><strong>{{ login_code }}</strong></p>\n<p>The code stays valid for {{ expires_in_minutes }} minutes.</p>\n",
            ),
        ),
        TemplateType::RegistrationCodeValid => (
            "Finish signing up",
            "Hello,\n\nuse this code to finish signing up:\n\n    {{ registration_code }}\n\nThe code stays valid for {{ expires_in_minutes }} minutes.\n",
            html(
                "<p>Hello,</p>\n<p>use this code to finish signing up:</p>\n<p style=\"font-size: 1.5em; letter-spacing: 0.2em\"><strong>{{ registration_code }}</strong></p>\n<p>The code stays valid for {{ expires_in_minutes }} minutes.</p>\n",
            ),
        ),
    };
    EmailTemplate {
        subject: subject.to_owned(),
        plaintext: plaintext.to_owned(),
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builtin_templates_render_every_type() {
        let t = Templates::default();
        for ty in TemplateType::ALL {
            let r = t
                .render(
                    ty,
                    &json!({"to": "a@example.com", "verification_code": "123456",
                            "recovery_code": "654321", "login_code": "111111",
                            "registration_code": "222222",
                            "verification_url": "https://x/v?a=1&b=2",
                            "recovery_url": "https://x/r", "expires_in_minutes": 60}),
                )
                .unwrap();
            assert!(!r.subject.is_empty());
            assert!(r.html.is_some());
        }
        let r = t
            .render(
                TemplateType::VerificationCodeValid,
                &json!({"verification_code": "123456", "verification_url": "https://x/v?a=1&b=2", "expires_in_minutes": 60}),
            )
            .unwrap();
        assert!(r.plaintext.contains("123456"));
        assert!(r.plaintext.contains("https://x/v?a=1&b=2"));
        assert!(r.html.unwrap().contains("a=1&amp;b=2"), "HTML is escaped");
    }

    #[test]
    fn text_messages_render_every_type_and_follow_kratos_for_codes() {
        let t = Templates::default();
        let data = json!({"to": "+14155550100", "verification_code": "123456",
                "recovery_code": "654321", "login_code": "111111",
                "registration_code": "222222", "verification_url": "https://x/v",
                "recovery_url": "https://x/r", "expires_in_minutes": 15,
                "request_url_domain": "auth.example.com"});
        for ty in TemplateType::ALL {
            assert!(!t.render_sms(ty, &data).unwrap().trim().is_empty(), "{ty}");
        }
        assert_eq!(
            t.render_sms(TemplateType::LoginCodeValid, &data).unwrap(),
            "Your login code is: 111111\n\nIt expires in 15 minutes.\n\n@auth.example.com #111111\n"
        );
        let no_domain = json!({"verification_code": "123456", "expires_in_minutes": 15});
        assert_eq!(
            t.render_sms(TemplateType::VerificationCodeValid, &no_domain)
                .unwrap(),
            "Your verification code is: 123456\n\nIf this was not you, do nothing. It expires in 15 minutes.\n"
        );
    }

    #[test]
    fn text_message_overrides_from_config_and_code() {
        let config: CourierTemplatesConfig = serde_json::from_value(json!({
            "login_code": {"valid": {"sms": {"body": {"plaintext": "Code {{ login_code }}"}}}},
            "recovery_code": {"valid": {"sms": {"body": {"plaintext": format!("base64://{}", base64::engine::general_purpose::STANDARD.encode("R {{ recovery_code }}"))}}}}
        }))
        .unwrap();
        let t = Templates::from_config_with_sms(
            &config,
            [],
            [(
                TemplateType::RecoveryCodeValid,
                "Mine {{ recovery_code }}".to_owned(),
            )],
        )
        .unwrap();
        let data = json!({"login_code": "1", "recovery_code": "2"});
        assert_eq!(
            t.render_sms(TemplateType::LoginCodeValid, &data).unwrap(),
            "Code 1"
        );
        assert_eq!(
            t.render_sms(TemplateType::RecoveryCodeValid, &data)
                .unwrap(),
            "Mine 2"
        );
        let bad = Templates::from_config_with_sms(
            &CourierTemplatesConfig::default(),
            [],
            [(TemplateType::LoginCodeValid, "{% if %}".to_owned())],
        );
        assert!(matches!(bad, Err(TemplateError::Syntax { .. })));
    }

    #[test]
    fn overrides_from_config_and_code() {
        let config: CourierTemplatesConfig = serde_json::from_value(json!({
            "recovery_code": {"valid": {"email": {
                "subject": "Code {{ recovery_code }}",
                "body": {"plaintext": format!("base64://{}", base64::engine::general_purpose::STANDARD.encode("Plain {{ recovery_code }}"))}
            }}}
        }))
        .unwrap();
        let t = Templates::from_config(
            &config,
            [(
                TemplateType::LoginCodeValid,
                EmailTemplate {
                    subject: "Login".into(),
                    plaintext: "{{ login_code }}!".into(),
                    html: None,
                },
            )],
        )
        .unwrap();
        let r = t
            .render(
                TemplateType::RecoveryCodeValid,
                &json!({"recovery_code": "42"}),
            )
            .unwrap();
        assert_eq!(r.subject, "Code 42");
        assert_eq!(r.plaintext, "Plain 42");
        assert!(r.html.unwrap().contains("42"), "built-in HTML kept");
        let r = t
            .render(TemplateType::LoginCodeValid, &json!({"login_code": "7"}))
            .unwrap();
        assert_eq!(
            (r.subject.as_str(), r.plaintext.as_str(), r.html),
            ("Login", "7!", None)
        );
        let bad = Templates::from_config(
            &CourierTemplatesConfig::default(),
            [(
                TemplateType::LoginCodeValid,
                EmailTemplate {
                    subject: "{% if %}".into(),
                    plaintext: String::new(),
                    html: None,
                },
            )],
        );
        assert!(matches!(bad, Err(TemplateError::Syntax { .. })));
    }
}
