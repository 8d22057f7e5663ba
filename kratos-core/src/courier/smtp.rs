//! The SMTP channel (lettre on rustls with ring and the webpki roots).

use std::time::Duration;

use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::channel::{Channel, ChannelError};
use super::config::SmtpConfig;
use super::{Message, MessageType};

/// Delivers emails over SMTP, as configured by `courier.smtp`:
///
/// - `smtp://user:password@host:587/`: STARTTLS, required (unless `?disable_starttls=true`,
///   which sends in clear text: only for local test servers);
/// - `smtps://user:password@host:465/`: TLS from the first byte;
/// - `?skip_ssl_verify=true` accepts any certificate, `?server_name=` sets the name the
///   certificate is checked against.
///
/// TLS 1.2 is the minimum. The connection URI's password never appears in errors or logs.
pub struct SmtpChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    headers: Vec<(String, String)>,
}

impl std::fmt::Debug for SmtpChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpChannel")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpChannel {
    /// Builds the channel from `courier.smtp`.
    pub fn from_config(config: &SmtpConfig) -> Result<Self, String> {
        let uri = config
            .connection_uri
            .as_ref()
            .ok_or("courier.smtp.connection_uri is not set")?;
        let url = url::Url::parse(uri.expose())
            .map_err(|_| "courier.smtp.connection_uri is not a valid URL".to_owned())?;
        let host = url
            .host_str()
            .ok_or("courier.smtp.connection_uri has no host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let query = |k: &str| {
            url.query_pairs()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.into_owned())
        };
        let flag = |k: &str| query(k).is_some_and(|v| v == "true" || v == "1");
        let server_name = query("server_name").unwrap_or_else(|| host.clone());
        let tls_params = || {
            TlsParameters::builder(server_name.clone())
                .dangerous_accept_invalid_certs(flag("skip_ssl_verify"))
                .build_rustls()
                .map_err(|e| format!("courier.smtp: TLS setup failed: {e}"))
        };
        let (tls, default_port) = match url.scheme() {
            "smtp" if flag("disable_starttls") => (Tls::None, 25),
            "smtp" => (Tls::Required(tls_params()?), 587),
            "smtps" => (Tls::Wrapper(tls_params()?), 465),
            other => {
                return Err(format!(
                    "courier.smtp.connection_uri: unsupported scheme `{other}` (smtp or smtps)"
                ));
            }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(url.port().unwrap_or(default_port))
            .tls(tls)
            .hello_name(ClientId::Domain(config.local_name.clone()))
            .timeout(Some(Duration::from_secs(30)));
        if !url.username().is_empty() {
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            let user = decode(url.username());
            let password = decode(url.password().unwrap_or_default());
            builder = builder.credentials(Credentials::new(user, password));
        }
        let address = config
            .from_address
            .parse()
            .map_err(|_| "courier.smtp.from_address is not a valid address".to_owned())?;
        let from = Mailbox::new(config.from_name.clone(), address);
        Ok(Self {
            transport: builder.build(),
            from,
            headers: config
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }

    fn email(&self, message: &Message) -> Result<lettre::Message, ChannelError> {
        let to: Mailbox = message
            .recipient
            .parse()
            .map_err(|_| ChannelError::new("the recipient is not a valid email address"))?;
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone());
        for (name, value) in &self.headers {
            builder = builder.raw_header(lettre::message::header::HeaderValue::new(
                lettre::message::header::HeaderName::new_from_ascii(name.clone())
                    .map_err(|_| ChannelError::new("courier.smtp.headers has an invalid name"))?,
                value.clone(),
            ));
        }
        let text = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .body(message.body.clone());
        let built = match &message.html_body {
            Some(html) => builder.multipart(
                MultiPart::alternative().singlepart(text).singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html.clone()),
                ),
            ),
            None => builder.singlepart(text),
        };
        built.map_err(|_| ChannelError::new("the email could not be built"))
    }
}

#[async_trait]
impl Channel for SmtpChannel {
    fn name(&self) -> &str {
        "smtp"
    }

    async fn send(&self, message: &Message) -> Result<(), ChannelError> {
        if message.message_type != MessageType::Email {
            return Err(ChannelError::new("SMTP only delivers emails"));
        }
        let email = self.email(message)?;
        self.transport
            .send(email)
            .await
            .map(|_| ())
            .map_err(|e| ChannelError::new(format!("SMTP delivery failed: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_channel_debug_hides_the_credentials() {
        let config = SmtpConfig {
            connection_uri: Some(crate::config::Secret::new(
                "smtps://mailer:smtp-channel-pw-1@mail.example.com:465/",
            )),
            ..SmtpConfig::default()
        };
        let channel = SmtpChannel::from_config(&config).unwrap();
        let debug = format!("{channel:?}");
        assert!(!debug.contains("smtp-channel-pw-1"), "{debug}");
        // A URL that does not parse is reported without being echoed.
        let bad = SmtpConfig {
            connection_uri: Some(crate::config::Secret::new("smtps://u:pw-2@[bad")),
            ..SmtpConfig::default()
        };
        let err = SmtpChannel::from_config(&bad).unwrap_err();
        assert!(!err.contains("pw-2"), "{err}");
    }
}
