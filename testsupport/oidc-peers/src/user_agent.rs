//! A plain-HTTP user agent through the Node.js provider's login and consent pages.

use std::sync::Arc;

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use url::Url;

use crate::{PeerError, redacted};

/// More steps than the login page, the consent page and their redirects take.
const MAX_STEPS: usize = 20;

/// What the user agent does on the provider's pages.
pub(crate) enum Decision<'a> {
    /// Signs in as this login and consents.
    Approve(&'a str),
    /// Follows the first page's "Cancel" link.
    Cancel,
}

/// Follows `authorization_url` at the provider `issuer` through the login and consent pages as
/// `decision` says; returns the first redirect that leaves the provider's origin, unfetched.
pub(crate) async fn authorize(
    issuer: &Url,
    authorization_url: &str,
    decision: Decision<'_>,
) -> Result<Url, PeerError> {
    let mut url = Url::parse(authorization_url)
        .map_err(|err| PeerError::Unexpected(format!("authorization URL: {err}")))?;
    let client = reqwest::Client::builder()
        .cookie_provider(Arc::new(reqwest::cookie::Jar::default()))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|source| PeerError::Http {
            url: redacted(&url),
            source: source.without_url(),
        })?;
    let mut form: Option<Vec<(&str, String)>> = None;
    for _ in 0..MAX_STEPS {
        let request = match form.take() {
            Some(fields) => client.post(url.clone()).form(&fields),
            None => client.get(url.clone()),
        };
        let response = request.send().await.map_err(|source| PeerError::Http {
            url: redacted(&url),
            source: source.without_url(),
        })?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|value| value.to_str().ok())
                .ok_or_else(|| {
                    PeerError::Unexpected(format!(
                        "{status} without a Location from {}",
                        redacted(&url)
                    ))
                })?;
            let next = url.join(location).map_err(|err| {
                PeerError::Unexpected(format!("a Location that is no URL: {err}"))
            })?;
            if next.origin() != issuer.origin() {
                return Ok(next);
            }
            url = next;
            continue;
        }
        let body = response.text().await.map_err(|source| PeerError::Http {
            url: redacted(&url),
            source: source.without_url(),
        })?;
        if status != StatusCode::OK {
            return Err(PeerError::Unexpected(format!(
                "{status} from {}: {}",
                redacted(&url),
                excerpt(&body)
            )));
        }
        let page = Form::parse(&body).ok_or_else(|| {
            PeerError::Unexpected(format!(
                "a page without a login or consent form at {}: {}",
                redacted(&url),
                excerpt(&body)
            ))
        })?;
        let login = match decision {
            Decision::Approve(login) => login,
            Decision::Cancel => {
                let abort = page.abort.ok_or_else(|| {
                    PeerError::Unexpected(format!("no Cancel link at {}", redacted(&url)))
                })?;
                url = url.join(&abort).map_err(|err| {
                    PeerError::Unexpected(format!("a Cancel link that is no URL: {err}"))
                })?;
                continue;
            }
        };
        let action = url
            .join(&page.action)
            .map_err(|err| PeerError::Unexpected(format!("a form action that is no URL: {err}")))?;
        form = Some(match page.prompt.as_str() {
            "login" => vec![
                ("prompt", "login".to_owned()),
                ("login", login.to_owned()),
                ("password", "any-password".to_owned()),
            ],
            "consent" => vec![("prompt", "consent".to_owned())],
            other => {
                return Err(PeerError::Unexpected(format!(
                    "a form for the prompt {other:?}"
                )));
            }
        });
        url = action;
    }
    Err(PeerError::Unexpected(format!(
        "no redirect away from the provider after {MAX_STEPS} steps"
    )))
}

/// The form of the package's development login or consent page, and its Cancel link.
struct Form {
    action: String,
    prompt: String,
    abort: Option<String>,
}

impl Form {
    fn parse(html: &str) -> Option<Self> {
        let form = &html[html.find("<form")?..];
        let action = attribute(form, "action")?;
        let prompt_input = &form[form.find("name=\"prompt\"")?..];
        let prompt = attribute(prompt_input, "value")?;
        let abort = html
            .find("class=\"login-help\"")
            .and_then(|at| attribute(&html[at..], "href"));
        Some(Self {
            action,
            prompt,
            abort,
        })
    }
}

/// The unescaped value of the first `name="…"` attribute in `html`.
fn attribute(html: &str, name: &str) -> Option<String> {
    let marker = format!("{name}=\"");
    let start = html.find(&marker)? + marker.len();
    let end = start + html[start..].find('"')?;
    Some(
        html[start..end]
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&#x2F;", "/")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// The start of a page's text, for error messages.
fn excerpt(body: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(400)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{Form, excerpt};

    #[test]
    fn reads_the_development_login_form() {
        let html = r#"<div><form autocomplete="off" action="http://127.0.0.1:1/interaction/a&amp;b" method="post">
  <input type="hidden" name="prompt" value="login"/><input name="login"></form>
  <div class="login-help"><a href="http://127.0.0.1:1/interaction/a/abort">[ Cancel ]</a></div></div>"#;
        let form = Form::parse(html).expect("a form");
        assert_eq!(form.action, "http://127.0.0.1:1/interaction/a&b");
        assert_eq!(form.prompt, "login");
        assert_eq!(
            form.abort.as_deref(),
            Some("http://127.0.0.1:1/interaction/a/abort")
        );
        assert!(Form::parse("<p>no form</p>").is_none());
        assert_eq!(
            excerpt("<h1>oops</h1><pre>invalid_request</pre>"),
            "oops invalid_request"
        );
    }
}
