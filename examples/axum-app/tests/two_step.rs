//! Two-step verification through the app's pages, driven with `tower::ServiceExt::oneshot`
//! on an in-memory SQLite database: the security page links an authenticator app and sets up
//! backup codes, and a sign-in of the account continues on the second-factor form.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use kratos_core::identity::CredentialType;
use kratos_core::strategy::totp::otp::TotpKey;

mod support;
use support::web::{Browser, PASSWORD, Page, attr, full_app, sign_out, sign_up, unescape};

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// The text between `open` and the next `close` in a page.
fn between<'a>(body: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = body.find(open)? + open.len();
    let end = body[start..].find(close)? + start;
    Some(&body[start..end])
}

/// Every text between `open` and the next `close` in a page.
fn all_between(body: &str, open: &str, close: &str) -> Vec<String> {
    body.split(open)
        .skip(1)
        .map(|rest| unescape(&rest[..rest.find(close).expect(close)]))
        .collect()
}

/// The authenticator app's key for the secret the security page shows.
fn key_shown_on(page: &Page) -> TotpKey {
    let secret = between(&page.body, "id=\"totp-secret\">", "</code>")
        .unwrap_or_else(|| panic!("no TOTP secret on the page: {}", page.body));
    TotpKey::from_url(&format!(
        "otpauth://totp/Inkwell:tess?secret={}&issuer=Inkwell",
        secret.trim()
    ))
    .expect("the secret on the page makes a key")
}

/// Signs in with the password; answers the page the sign-in leads to.
async fn sign_in_with_password(b: &mut Browser, email: &str) -> Page {
    let page = b.get("/login").await;
    b.submit_and_follow(
        &page,
        &[("identifier", email), ("password", PASSWORD)],
        "method=password",
    )
    .await
}

/// Asserts that a page is the second-factor form.
fn assert_second_factor_form(page: &Page) {
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("<h1>Two-step verification</h1>"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("name=\"password\""),
        "no first factor again"
    );
}

#[tokio::test]
async fn an_authenticator_app_and_backup_codes_guard_the_sign_in() {
    let app = full_app(None).await;
    let mut b = Browser::new(app.public.clone());
    sign_up(&mut b, "tess@example.com", "Tess").await;

    // The settings leave the second factors to the security page, and link it.
    let settings = b.get("/settings").await;
    assert!(settings.body.contains("id=\"security-link\""));
    assert!(!settings.body.contains("data-group=\"totp\""));
    assert!(!settings.body.contains("data-group=\"lookup_secret\""));

    // The security page starts its own settings flow and shows the new key: a QR code and
    // its secret, with a code input.
    let security = b.get("/security").await;
    assert_eq!(security.status, StatusCode::OK, "{}", security.body);
    assert!(security.body.contains("<h1>Two-step verification</h1>"));
    let qr = between(&security.body, "id=\"totp-qr\" src=\"", "\"").expect("a QR code");
    assert!(unescape(qr).starts_with("data:image/png;base64,"), "{qr}");
    assert!(security.body.contains("name=\"totp_code\""));
    assert!(
        security
            .body
            .contains("This session signed in with one step (password)."),
        "{}",
        security.body
    );
    let key = key_shown_on(&security);

    // A wrong code is refused on the same page (4000008); the right one links the app.
    let right = key.code_at(now_unix());
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    let refused = b
        .submit_and_follow(&security, &[("totp_code", &wrong)], "method=totp")
        .await;
    assert!(
        refused.body.contains("data-message-id=\"4000008\""),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("id=\"totp-secret\""),
        "still the set-up"
    );
    let flow = between(
        &unescape(&refused.body),
        "/self-service/settings?flow=",
        "\"",
    )
    .expect("the flow")
    .to_owned();
    let linked = b
        .submit_and_follow(&refused, &[("totp_code", &right)], "method=totp")
        .await;
    // Linking with a correct code proves the app: the session is at aal2 and the flow that
    // linked it comes back saved.
    let saved = linked;

    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert!(
        unescape(&saved.body).contains(&format!("/self-service/settings?flow={flow}")),
        "the flow that linked the app: {}",
        saved.body
    );
    assert!(
        saved.body.contains("Your changes have been saved!"),
        "{}",
        saved.body
    );
    assert!(saved.body.contains("name=\"totp_unlink\""));
    assert!(!saved.body.contains("id=\"totp-secret\""));
    assert!(
        saved
            .body
            .contains("This session passed two-step verification (password, then totp)."),
        "{}",
        saved.body
    );
    let whoami = b.get("/sessions/whoami").await;
    assert!(
        whoami
            .body
            .contains("\"authenticator_assurance_level\":\"aal2\""),
        "{}",
        whoami.body
    );

    // Backup codes: generated and shown, saved once confirmed.
    let shown = b
        .submit_and_follow(&saved, &[], "lookup_secret_regenerate=true")
        .await;
    let codes = all_between(&shown.body, "<code class=\"backup-code\">", "</code>");
    assert_eq!(codes.len(), 12, "{}", shown.body);
    assert!(shown.body.contains("name=\"lookup_secret_confirm\""));
    let identity_id = {
        let list = app
            .kratos
            .identities()
            .list(Default::default())
            .await
            .unwrap();
        list.identities[0].id
    };
    let stored = app
        .kratos
        .identities()
        .get_with_credentials(identity_id, &[])
        .await
        .unwrap();
    assert!(stored.credentials.contains_key(&CredentialType::Totp));
    assert!(
        !stored
            .credentials
            .contains_key(&CredentialType::LookupSecret),
        "not saved before the confirmation"
    );
    let confirmed = b
        .submit_and_follow(&shown, &[], "lookup_secret_confirm=true")
        .await;
    assert!(confirmed.body.contains("Your changes have been saved!"));
    assert!(confirmed.body.contains("name=\"lookup_secret_reveal\""));
    let stored = app
        .kratos
        .identities()
        .get_with_credentials(identity_id, &[])
        .await
        .unwrap();
    assert!(
        stored
            .credentials
            .contains_key(&CredentialType::LookupSecret)
    );

    // Signed out, the password leads to the second factor, where a backup code signs in.
    sign_out(&mut b).await;
    let second = sign_in_with_password(&mut b, "tess@example.com").await;
    assert_second_factor_form(&second);
    assert!(second.body.contains("name=\"totp_code\""));
    // Half signed in, the app's pages lead to the second factor, never round in a loop.
    for path in ["/", "/login", "/settings", "/documents", "/security"] {
        let r = b.send("GET", path, None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        // The app's own redirects are relative, kratos-axum's guard's absolute.
        let to = r.location.unwrap_or_default();
        let to = to.trim_start_matches("http://127.0.0.1:4455").to_owned();
        assert!(
            to.starts_with("/self-service/login/browser?aal=aal2"),
            "{path}: {to}"
        );
        assert_second_factor_form(&b.get(&to).await);
    }

    assert!(second.body.contains("name=\"lookup_secret\""));
    let unknown = b
        .submit_and_follow(
            &second,
            &[("lookup_secret", "notacode")],
            "method=lookup_secret",
        )
        .await;
    assert!(
        unknown.body.contains("data-message-id=\"4000016\""),
        "{}",
        unknown.body
    );
    let home = b
        .submit_and_follow(
            &unknown,
            &[("lookup_secret", &codes[0])],
            "method=lookup_secret",
        )
        .await;
    assert!(home.body.contains("id=\"signed-in-as\""), "{}", home.body);

    // The same code again: "already used"; the app's next code signs in.
    sign_out(&mut b).await;
    let second = sign_in_with_password(&mut b, "tess@example.com").await;
    let used = b
        .submit_and_follow(
            &second,
            &[("lookup_secret", &codes[0])],
            "method=lookup_secret",
        )
        .await;
    assert_second_factor_form(&used);
    assert!(
        used.body
            .contains("This backup recovery code has already been used."),
        "{}",
        used.body
    );
    // One step later than the code that stepped up above: a code is good once.
    let next = key.code_at(now_unix() + 30);
    let home = b
        .submit_and_follow(&used, &[("totp_code", &next)], "method=totp")
        .await;
    assert!(home.body.contains("id=\"signed-in-as\""), "{}", home.body);
    let revealed = b.get("/security").await;
    let revealed = b
        .submit_and_follow(&revealed, &[], "lookup_secret_reveal=true")
        .await;
    let left = all_between(&revealed.body, "<code class=\"backup-code\">", "</code>");
    assert_eq!(left, codes[1..], "the used code is shown as used");
    assert!(revealed.body.contains("<li class=\"used\""));

    // Someone without their second factor at hand signs out from its form.
    sign_out(&mut b).await;
    let second = sign_in_with_password(&mut b, "tess@example.com").await;
    let at = second.body.find("id=\"sign-out-pending\"").unwrap();
    let start = second.body[..at].rfind("<a ").unwrap();
    let logout = attr(&second.body[start..], "href").unwrap();
    let out = b.send("GET", &logout, None).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let home = b.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("href=\"/registration\""), "signed out");
    assert_eq!(
        b.send("GET", "/login", None).await.location.as_deref(),
        Some("/self-service/login/browser")
    );

    // Signed in again (another backup code), Tess disables her codes and unlinks the app: the
    // password alone signs in again.
    let second = sign_in_with_password(&mut b, "tess@example.com").await;
    let home = b
        .submit_and_follow(
            &second,
            &[("lookup_secret", &codes[1])],
            "method=lookup_secret",
        )
        .await;
    assert!(home.body.contains("id=\"signed-in-as\""), "{}", home.body);
    let security = b.get("/security").await;
    let disabled = b
        .submit_and_follow(&security, &[], "lookup_secret_disable=true")
        .await;
    assert!(disabled.body.contains("Your changes have been saved!"));
    assert!(!disabled.body.contains("name=\"lookup_secret_reveal\""));
    assert!(disabled.body.contains("name=\"totp_unlink\""));
    let unlinked = b
        .submit_and_follow(&disabled, &[], "totp_unlink=true")
        .await;
    assert!(unlinked.body.contains("Your changes have been saved!"));
    assert!(
        unlinked.body.contains("id=\"totp-secret\""),
        "a new key offered"
    );
    let stored = app
        .kratos
        .identities()
        .get_with_credentials(identity_id, &[])
        .await
        .unwrap();
    assert!(!stored.credentials.contains_key(&CredentialType::Totp));
    assert!(
        !stored
            .credentials
            .contains_key(&CredentialType::LookupSecret)
    );
    sign_out(&mut b).await;
    let home = sign_in_with_password(&mut b, "tess@example.com").await;
    assert!(home.body.contains("id=\"signed-in-as\""), "{}", home.body);
}
