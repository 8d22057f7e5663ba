//! The development SMS outbox (`/sms-outbox`): text messages the courier delivers in
//! development mode without an `sms` channel, listed newest first; not served outside
//! development mode, and off when `courier.channels` configures a channel.

mod support;

use axum::http::StatusCode;
use axum_app::{Settings, build};
use kratos_core::courier::{Message, TemplateType};
use kratos_core::identity::AddressVia;
use serde_json::json;
use support::web::{Browser, full_app, full_app_with, sign_out};

/// Queues a login code text message to `to` through the app's registry.
async fn queue_sms(app: &axum_app::App, to: &str, code: &str) -> Message {
    let k = &app.kratos;
    let m = k
        .courier()
        .render_via(
            AddressVia::Sms,
            TemplateType::LoginCodeValid,
            to,
            json!({"login_code": code, "expires_in_minutes": 15,
                   "request_url": "http://127.0.0.1:4455/self-service/login?flow=1"}),
        )
        .unwrap();
    k.store().enqueue_message(k.nid(), &m).await.unwrap();
    m
}

/// Waits until the outbox page lists `n` text messages (the courier worker delivers them a
/// moment after they are queued) and returns it.
async fn outbox_with(b: &mut Browser, n: usize) -> String {
    for _ in 0..200 {
        let page = b.get("/sms-outbox").await;
        assert_eq!(page.status, StatusCode::OK);
        if page
            .body
            .matches("<article class=\"card mail sms\"")
            .count()
            >= n
        {
            return page.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("{n} text messages did not arrive in the SMS outbox");
}

#[tokio::test]
async fn in_dev_mode_texts_are_listed_newest_first_and_mail_stays_in_the_mailbox() {
    let app = full_app(None).await;
    let outbox = app.sms_outbox.clone().expect("an SMS outbox in dev mode");
    assert!(
        app.sms_delivery.contains("/sms-outbox"),
        "{}",
        app.sms_delivery
    );
    let mut b = Browser::new(app.public.clone());
    let empty = b.get("/sms-outbox").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.body.contains("id=\"sms-outbox-warning\""));
    assert!(empty.body.contains("id=\"sms-outbox-empty\""));
    assert!(empty.body.contains("class=\"topbar\""));
    assert!(
        b.get("/").await.body.contains("id=\"sms-outbox-link\""),
        "the footer links the outbox"
    );

    queue_sms(&app, "+15550100", "314159").await;
    outbox_with(&mut b, 1).await;
    queue_sms(&app, "+15550199", "271828").await;
    let page = outbox_with(&mut b, 2).await;
    let newest = page.find("271828").expect("the newest text");
    let oldest = page.find("314159").expect("the oldest text");
    assert!(newest < oldest, "newest first");
    assert!(
        page.contains("To <strong class=\"sms-to\">+15550199</strong>"),
        "{page}"
    );
    assert!(page.contains("Your login code is: 314159"));
    assert!(page.contains(" UTC</time>"));
    assert_eq!(outbox.messages().len(), 2, "each text delivered once");
    assert!(
        app.outbox.as_ref().unwrap().messages().is_empty(),
        "no text goes to the mailbox"
    );
}

#[tokio::test]
async fn without_dev_mode_there_is_no_sms_outbox() {
    let app = full_app_with(Some("smtp://mailer:hunter2@127.0.0.1:1/"), false)
        .await
        .expect("the app builds with SMTP");
    assert!(app.sms_outbox.is_none());
    assert!(
        app.sms_delivery.contains("stay queued"),
        "{}",
        app.sms_delivery
    );
    let mut b = Browser::new(app.public.clone());
    assert_eq!(b.get("/sms-outbox").await.status, StatusCode::NOT_FOUND);
    assert!(
        !b.get("/login")
            .await
            .body
            .contains("id=\"sms-outbox-link\"")
    );
}

#[tokio::test]
async fn with_an_sms_channel_the_outbox_is_off() {
    let path = std::env::temp_dir().join(format!("axum-app-sms-{}.yml", uuid::Uuid::new_v4()));
    std::fs::write(
        &path,
        "secrets:\n  default: [\"an-sms-test-secret-of-enough-length\"]\n\
         hashers:\n  algorithm: bcrypt\n  bcrypt:\n    cost: 4\n\
         courier:\n  channels:\n    - id: sms\n      type: http\n      request_config:\n        \
         url: http://127.0.0.1:1/sms\n        \
         auth: {type: api_key, config: {name: X-Api-Key, value: sms-key-hunter3, in: header}}\n",
    )
    .unwrap();
    let settings = Settings {
        database: "sqlite::memory:".into(),
        config: Some(path.clone()),
        dev: true,
        ..Settings::default()
    };
    let app = build(&settings).await;
    std::fs::remove_file(path).ok();
    let app = app.expect("the app builds with an sms channel");
    assert!(app.sms_outbox.is_none());
    assert_eq!(app.sms_delivery, "through the `sms` courier channel");
    let mut b = Browser::new(app.public.clone());
    let page = b.get("/sms-outbox").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"sms-outbox-off\""));
    assert!(!page.body.contains("sms-key-hunter3"));
    assert!(!page.body.contains("id=\"sms-outbox-link\""));
}

/// The code in the newest text message to `to` that the outbox page lists with `needle`.
async fn code_from_outbox(app: &axum_app::App, to: &str, needle: &str) -> String {
    let outbox = app.sms_outbox.clone().expect("an SMS outbox in dev mode");
    for _ in 0..200 {
        if let Some(m) = outbox
            .messages_to(to)
            .into_iter()
            .rev()
            .find(|m| m.body.contains(needle))
        {
            return m
                .body
                .split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 6)
                .expect("the text carries a code")
                .to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no text message to {to} with `{needle}` arrived");
}

#[tokio::test]
async fn sign_up_with_a_phone_number_verify_it_and_sign_in_by_text_message() {
    let app = full_app(None).await;
    let mut b = Browser::new(app.public.clone());
    let page = b.get("/registration").await;
    assert!(page.body.contains("name=\"traits.phone\""), "{}", page.body);
    let bad = b
        .submit_flow(
            &page,
            &[
                ("traits.email", "tel@example.com"),
                ("traits.name", "Tel"),
                ("traits.phone", "555 0142"),
                ("password", "a sturdy pass phrase 42"),
            ],
            "method=password",
        )
        .await;
    let bad = b
        .get(bad.location.as_deref().expect("back to the form"))
        .await;
    assert!(
        bad.body.contains("data-message-id=\"4000041\""),
        "{}",
        bad.body
    );
    let done = b
        .submit_flow(
            &bad,
            &[
                ("traits.email", "tel@example.com"),
                ("traits.name", "Tel"),
                ("traits.phone", "+1 415 555 0142"),
                ("password", "a sturdy pass phrase 42"),
            ],
            "method=password",
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);

    // The sign-up sent the phone number a verification code, listed on /sms-outbox.
    let code = code_from_outbox(&app, "+14155550142", "verification code").await;
    let listed = b.get("/sms-outbox").await;
    assert!(listed.body.contains(&code), "{}", listed.body);
    // Verify it on the verification page, which takes a phone number.
    let outbox = app.sms_outbox.clone().unwrap();
    outbox.clear();
    let page = b.get("/verification").await;
    assert!(page.body.contains("Email or phone number"), "{}", page.body);
    let sent = b
        .submit_and_follow(&page, &[("email", "+1 415 555 0142")], "method=code")
        .await;
    let code = code_from_outbox(&app, "+14155550142", "verification code").await;
    let verified = b
        .submit_and_follow(&sent, &[("code", &code)], "method=code")
        .await;
    assert!(
        verified
            .body
            .contains("You successfully verified your phone number."),
        "{}",
        verified.body
    );

    // Sign out, then sign in with a code by text message.
    sign_out(&mut b).await;
    outbox.clear();
    let page = b.get("/login").await;
    let sent = b
        .submit_and_follow(&page, &[("identifier", "+1 415 555 0142")], "method=code")
        .await;
    assert!(sent.body.contains("name=\"code\""), "{}", sent.body);
    let code = code_from_outbox(&app, "+14155550142", "login code").await;
    let done = b
        .submit_flow(&sent, &[("code", &code)], "method=code")
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(
        b.get("/").await.body.contains("id=\"signed-in-as\""),
        "signed in by text message"
    );
}
