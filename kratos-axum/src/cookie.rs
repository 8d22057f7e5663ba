//! The session cookie and the CSRF cookie.
//!
//! Both are sealed with XChaCha20-Poly1305 (encrypted and authenticated) under keys derived
//! from the cookie secrets (`secrets.cookie`, falling back to `secrets.default`): each key is
//! SHA-256 over a fixed label and the secret. The first secret seals; every secret opens, so
//! secrets rotate by prepending a new one. The cookie's name is bound as associated data, so a
//! value sealed for one cookie never opens as another. A value that is malformed, forged, or
//! sealed with a secret no longer configured is treated as absent.
//!
//! - **Session cookie** (`session.cookie.name`, `ory_kratos_session` by default): the session
//!   token and the session's expiry. HttpOnly; Secure unless dev mode (or as `cookies.secure`
//!   says); SameSite, domain and path from `session.cookie` (domain falling back to
//!   `cookies.domain`); with `session.cookie.persistent` (the default) `Max-Age` runs until the
//!   session expires, otherwise it is a browser-session cookie.
//! - **CSRF cookie** (`csrf_token_` + hex(SHA-256(`serve.public.base_url`))): the digests of
//!   the CSRF tokens of the browser flows started in this browser (the newest
//!   [`CSRF_COOKIE_CAPACITY`]). A browser flow's submission (and fetching it) needs both the
//!   flow's token in the body or `X-CSRF-Token` header, checked by the flow, and this cookie
//!   naming that token: a page on another origin can neither read the token nor set the
//!   cookie. Attributes come from `cookies.*`.

use axum::http::{HeaderMap, HeaderValue, header};
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chrono::{DateTime, Utc};
use kratos_core::Kratos;
use kratos_core::config::SameSite;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use base64::Engine;

/// How many browser flows one CSRF cookie vouches for at a time: the oldest is forgotten when
/// a further flow starts.
pub const CSRF_COOKIE_CAPACITY: usize = 16;

/// How long the CSRF cookie lives (one year, renewed whenever a browser flow starts).
const CSRF_COOKIE_MAX_AGE: i64 = 365 * 24 * 3600;

const KEY_LABEL: &[u8] = b"kratos-axum cookie sealing key v1\0";
const NONCE_LEN: usize = 24;
const DIGEST_LEN: usize = 16;

/// The keys derived from the cookie secrets; the first seals.
struct Sealer {
    keys: Vec<Zeroizing<[u8; 32]>>,
}

impl Sealer {
    fn new(kratos: &Kratos) -> Self {
        let keys = kratos
            .config()
            .secrets
            .cookie_or_default()
            .iter()
            .map(|s| {
                let mut h = Sha256::new();
                h.update(KEY_LABEL);
                h.update(s.expose().as_bytes());
                Zeroizing::new(<[u8; 32]>::from(h.finalize()))
            })
            .collect();
        Self { keys }
    }

    fn seal(&self, name: &str, plaintext: &[u8]) -> Option<String> {
        let key = self.keys.first()?;
        let aead = XChaCha20Poly1305::new_from_slice(key.as_ref()).ok()?;
        let nonce: [u8; NONCE_LEN] = rand::random();
        let ct = aead
            .encrypt(
                (&nonce).into(),
                Payload {
                    msg: plaintext,
                    aad: name.as_bytes(),
                },
            )
            .ok()?;
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(out))
    }

    fn open(&self, name: &str, value: &str) -> Option<Zeroizing<Vec<u8>>> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(value.trim_matches('"'))
            .ok()?;
        if raw.len() < NONCE_LEN + 16 {
            return None;
        }
        let (nonce, body) = raw.split_at(NONCE_LEN);
        let nonce: &[u8; NONCE_LEN] = nonce.try_into().ok()?;
        self.keys.iter().find_map(|key| {
            let aead = XChaCha20Poly1305::new_from_slice(key.as_ref()).ok()?;
            aead.decrypt(
                nonce.into(),
                Payload {
                    msg: body,
                    aad: name.as_bytes(),
                },
            )
            .ok()
            .map(Zeroizing::new)
        })
    }
}

/// The values of every cookie called `name` in the request.
fn cookie_values<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(move |pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k.trim() == name).then(|| v.trim())
        })
}

/// Whether the request carries any cookie other than Cloudflare's (`__cf…`, `_cf…`, `cf_…`),
/// which a browser adds on its own.
pub(crate) fn has_non_cloudflare_cookie(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap_or("?"))
        .flat_map(|v| v.split(';'))
        .filter(|pair| !pair.trim().is_empty())
        .any(|pair| {
            let name = pair.split('=').next().unwrap_or("").trim();
            !(name.starts_with("__cf") || name.starts_with("_cf") || name.starts_with("cf_"))
        })
}

struct CookieSpec<'a> {
    name: &'a str,
    value: &'a str,
    domain: Option<&'a str>,
    path: &'a str,
    same_site: SameSite,
    secure: bool,
    max_age: Option<i64>,
}

impl CookieSpec<'_> {
    fn header(&self) -> HeaderValue {
        let mut c = format!("{}={}; Path={}", self.name, self.value, self.path);
        if let Some(d) = self.domain.filter(|d| !d.is_empty()) {
            c.push_str("; Domain=");
            c.push_str(d);
        }
        if let Some(age) = self.max_age {
            let age = age.max(0);
            c.push_str(&format!("; Max-Age={age}"));
            if age == 0 {
                c.push_str("; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
            }
        }
        c.push_str("; HttpOnly");
        if self.secure {
            c.push_str("; Secure");
        }
        c.push_str(match self.same_site {
            SameSite::Lax => "; SameSite=Lax",
            SameSite::Strict => "; SameSite=Strict",
            SameSite::None => "; SameSite=None",
        });
        // Names and values are ASCII (configured names, base64url values).
        HeaderValue::from_str(&c)
            .unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
    }
}

fn secure(kratos: &Kratos) -> bool {
    kratos
        .config()
        .cookies
        .secure
        .unwrap_or(!kratos.config().dev)
}

fn session_spec<'a>(kratos: &'a Kratos, value: &'a str, max_age: Option<i64>) -> CookieSpec<'a> {
    let config = kratos.config();
    CookieSpec {
        name: &config.session.cookie.name,
        value,
        domain: config
            .session
            .cookie
            .domain
            .as_deref()
            .or(config.cookies.domain.as_deref()),
        path: &config.session.cookie.path,
        same_site: config.session.cookie.same_site,
        secure: secure(kratos),
        max_age,
    }
}

/// The `Set-Cookie` value that stores a session token in the session cookie until
/// `expires_at` (a browser-session cookie when `session.cookie.persistent` is off).
pub fn session_cookie(kratos: &Kratos, token: &str, expires_at: DateTime<Utc>) -> HeaderValue {
    let name = &kratos.config().session.cookie.name;
    let mut plaintext = Zeroizing::new(Vec::with_capacity(8 + token.len()));
    plaintext.extend_from_slice(&expires_at.timestamp().to_be_bytes());
    plaintext.extend_from_slice(token.as_bytes());
    let Some(sealed) = Sealer::new(kratos).seal(name, &plaintext) else {
        return remove_session_cookie(kratos);
    };
    let max_age = kratos
        .config()
        .session
        .cookie
        .persistent
        .then(|| (expires_at - kratos.clock().now()).num_seconds());
    session_spec(kratos, &sealed, max_age).header()
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn remove_session_cookie(kratos: &Kratos) -> HeaderValue {
    session_spec(kratos, "", Some(0)).header()
}

/// A session token read from the session cookie, with the expiry the cookie was issued for.
pub(crate) struct CookieSession {
    pub(crate) token: Zeroizing<String>,
    pub(crate) expires_at: i64,
}

/// Opens the session cookie of a request. A missing, malformed or forged cookie is `None`.
pub(crate) fn read_session_cookie(kratos: &Kratos, headers: &HeaderMap) -> Option<CookieSession> {
    let name = &kratos.config().session.cookie.name;
    let sealer = Sealer::new(kratos);
    cookie_values(headers, name).find_map(|v| {
        let plain = sealer.open(name, v)?;
        if plain.len() < 8 {
            return None;
        }
        let (exp, token) = plain.split_at(8);
        let expires_at = i64::from_be_bytes(exp.try_into().ok()?);
        let token = std::str::from_utf8(token).ok()?;
        Some(CookieSession {
            token: Zeroizing::new(token.to_owned()),
            expires_at,
        })
    })
}

/// The session token in the session cookie of a request, if the cookie is present and opens
/// with one of the cookie secrets.
pub fn session_token_from_cookie(kratos: &Kratos, headers: &HeaderMap) -> Option<String> {
    read_session_cookie(kratos, headers).map(|c| c.token.as_str().to_owned())
}

/// The CSRF cookie's name: `csrf_token_` + hex(SHA-256(`serve.public.base_url`)), as in Kratos
/// (`http://127.0.0.1:4433/` when no base URL is configured).
pub fn csrf_cookie_name(kratos: &Kratos) -> String {
    let base = kratos
        .config()
        .serve
        .public
        .base_url
        .as_deref()
        .unwrap_or("http://127.0.0.1:4433/");
    format!(
        "csrf_token_{}",
        hex::encode(Sha256::digest(base.as_bytes()))
    )
}

fn csrf_digest(token: &str) -> [u8; DIGEST_LEN] {
    let full = Sha256::digest(token.as_bytes());
    let mut out = [0u8; DIGEST_LEN];
    out.copy_from_slice(&full[..DIGEST_LEN]);
    out
}

/// The token digests the request's CSRF cookie vouches for (empty when absent or forged).
fn csrf_digests(kratos: &Kratos, headers: &HeaderMap) -> Vec<[u8; DIGEST_LEN]> {
    let name = csrf_cookie_name(kratos);
    let sealer = Sealer::new(kratos);
    cookie_values(headers, &name)
        .find_map(|v| sealer.open(&name, v))
        .map(|plain| {
            plain
                .chunks_exact(DIGEST_LEN)
                .filter_map(|c| <[u8; DIGEST_LEN]>::try_from(c).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the request's CSRF cookie vouches for a flow's CSRF token.
///
/// An app that renders browser flows in-process (fetching them with `kratos.login().get(…)`
/// instead of `GET /self-service/login/flows`) checks this before showing a flow's form, as
/// the flows endpoint does: a flow started in another browser cannot be submitted from this
/// one, so the app starts a fresh flow instead.
pub fn csrf_cookie_vouches_for(kratos: &Kratos, headers: &HeaderMap, token: &str) -> bool {
    if token.is_empty() {
        return false;
    }
    let want = csrf_digest(token);
    csrf_digests(kratos, headers)
        .iter()
        .fold(false, |found, d| found | bool::from(d.ct_eq(&want)))
}

fn csrf_cookie_header(kratos: &Kratos, digests: &[[u8; DIGEST_LEN]]) -> Option<HeaderValue> {
    let name = csrf_cookie_name(kratos);
    let plain: Vec<u8> = digests.iter().flatten().copied().collect();
    let sealed = Sealer::new(kratos).seal(&name, &plain)?;
    let config = kratos.config();
    Some(
        CookieSpec {
            name: &name,
            value: &sealed,
            domain: config.cookies.domain.as_deref(),
            path: &config.cookies.path,
            same_site: config.cookies.same_site,
            secure: secure(kratos),
            max_age: Some(CSRF_COOKIE_MAX_AGE),
        }
        .header(),
    )
}

/// The `Set-Cookie` value of a CSRF cookie that vouches for `token` besides the tokens the
/// request's cookie vouches for (the newest [`CSRF_COOKIE_CAPACITY`]).
pub(crate) fn csrf_cookie_adding(
    kratos: &Kratos,
    headers: &HeaderMap,
    token: &str,
) -> Option<HeaderValue> {
    csrf_cookie_adding_all(kratos, headers, &[token])
}

/// Like [`csrf_cookie_adding`], for several tokens (pass an empty `HeaderMap` for a cookie
/// vouching for `tokens` only).
pub(crate) fn csrf_cookie_adding_all(
    kratos: &Kratos,
    headers: &HeaderMap,
    tokens: &[&str],
) -> Option<HeaderValue> {
    let mut digests = csrf_digests(kratos, headers);
    for token in tokens {
        let new = csrf_digest(token);
        digests.retain(|d| d != &new);
        digests.push(new);
    }
    let excess = digests.len().saturating_sub(CSRF_COOKIE_CAPACITY);
    digests.drain(..excess);
    csrf_cookie_header(kratos, &digests)
}

/// The `Set-Cookie` value of a CSRF cookie that vouches for nothing: set when a session is
/// issued, so tokens handed out before sign-in are not honoured after it.
pub(crate) fn csrf_cookie_reset(kratos: &Kratos) -> Option<HeaderValue> {
    csrf_cookie_header(kratos, &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use kratos_core::Config;

    fn kratos(secrets: &[&str]) -> Kratos {
        let mut config = Config::from_yaml_str("dev: true").unwrap();
        config.secrets.cookie = secrets
            .iter()
            .map(|s| kratos_core::config::Secret::new(*s))
            .collect();
        Kratos::builder(kratos_core::testsuite::without_hibp(config))
            .schema(kratos_core::testsuite::test_schema())
            .build()
            .unwrap()
    }

    fn request_with(set_cookie: &HeaderValue) -> HeaderMap {
        let pair = set_cookie.to_str().unwrap().split(';').next().unwrap();
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(pair).unwrap());
        h
    }

    #[test]
    fn session_cookie_round_trips_and_rotates() {
        let old = kratos(&["old-secret-0123456789"]);
        let exp = Utc::now() + chrono::Duration::hours(1);
        let set = session_cookie(&old, "ory_st_abc", exp);
        let s = set.to_str().unwrap();
        assert!(s.starts_with("ory_kratos_session="));
        assert!(s.contains("HttpOnly") && s.contains("SameSite=Lax") && !s.contains("Secure"));
        assert!(!s.contains("ory_st_abc"), "the token is sealed");
        let req = request_with(&set);
        assert_eq!(
            session_token_from_cookie(&old, &req).as_deref(),
            Some("ory_st_abc")
        );
        let rotated = kratos(&["new-secret-0123456789", "old-secret-0123456789"]);
        assert_eq!(
            session_token_from_cookie(&rotated, &req).as_deref(),
            Some("ory_st_abc")
        );
        let other = kratos(&["new-secret-0123456789"]);
        assert_eq!(session_token_from_cookie(&other, &req), None);
    }

    #[test]
    fn forged_and_foreign_values_are_absent() {
        let k = kratos(&["some-secret-0123456789"]);
        for v in [
            "",
            "x",
            "%%%",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            let mut h = HeaderMap::new();
            h.insert(
                header::COOKIE,
                HeaderValue::from_str(&format!("ory_kratos_session={v}")).unwrap(),
            );
            assert_eq!(session_token_from_cookie(&k, &h), None);
        }
        // A CSRF cookie value does not open as a session cookie.
        let csrf = csrf_cookie_adding(&k, &HeaderMap::new(), "t").unwrap();
        let value = csrf.to_str().unwrap().split(';').next().unwrap();
        let value = value.split_once('=').unwrap().1;
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("ory_kratos_session={value}")).unwrap(),
        );
        assert_eq!(session_token_from_cookie(&k, &h), None);
    }

    #[test]
    fn csrf_cookie_keeps_the_newest_tokens() {
        let k = kratos(&["some-secret-0123456789"]);
        let mut headers = HeaderMap::new();
        for i in 0..=CSRF_COOKIE_CAPACITY {
            let set = csrf_cookie_adding(&k, &headers, &format!("token-{i}")).unwrap();
            headers = request_with(&set);
        }
        assert!(!csrf_cookie_vouches_for(&k, &headers, "token-0"));
        assert!(csrf_cookie_vouches_for(&k, &headers, "token-1"));
        assert!(csrf_cookie_vouches_for(
            &k,
            &headers,
            &format!("token-{CSRF_COOKIE_CAPACITY}")
        ));
        assert!(!csrf_cookie_vouches_for(&k, &headers, ""));
        assert!(!csrf_cookie_vouches_for(&k, &HeaderMap::new(), "token-1"));
    }

    #[test]
    fn cloudflare_cookies_do_not_count() {
        let mut h = HeaderMap::new();
        assert!(!has_non_cloudflare_cookie(&h));
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("__cf_bm=1; _cfuvid=2; cf_clearance=3"),
        );
        assert!(!has_non_cloudflare_cookie(&h));
        h.append(header::COOKIE, HeaderValue::from_static("other=1"));
        assert!(has_non_cloudflare_cookie(&h));
    }
}
