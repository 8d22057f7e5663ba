//! The courier admin API with text messages: listed and fetched in Kratos's `message` shape
//! with `type: sms`, an empty subject and the `sms` channel.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use kratos_core::courier::{MemoryOutbox, MessageType, TemplateType};
use kratos_core::identity::AddressVia;
use kratos_core::store::MemoryStore;
use serde_json::json;
use uuid::Uuid;

mod common;
use common::*;

#[tokio::test]
async fn text_messages_are_listed_and_fetched_as_kratos_messages() {
    let (email_box, sms_box) = (MemoryOutbox::new(), MemoryOutbox::new());
    let kratos = kratos_core::testsuite::builder_with(
        Arc::new(MemoryStore::new()),
        "",
        Arc::new(kratos_core::SystemClock),
    )
    .courier_channel(Arc::new(email_box.clone()))
    .courier_sms_channel(Arc::new(sms_box.clone()))
    .build()
    .unwrap()
    .tenant(Uuid::new_v4());
    let admin = kratos_axum::admin_router(kratos.clone());
    let sms = kratos
        .courier()
        .render_via(
            AddressVia::Sms,
            TemplateType::LoginCodeValid,
            "+15550100",
            json!({"login_code": "246810", "expires_in_minutes": 15}),
        )
        .unwrap();
    kratos
        .store()
        .enqueue_message(kratos.nid(), &sms)
        .await
        .unwrap();
    let mail = kratos
        .courier()
        .queue(
            TemplateType::VerificationCodeValid,
            "someone@example.com",
            json!({"verification_code": "135791"}),
        )
        .await
        .unwrap();

    let one = call(Method::GET, &format!("/admin/courier/messages/{}", sms.id))
        .send(&admin)
        .await;
    assert_eq!(one.status, StatusCode::OK, "{:?}", one.body);
    let m = &one.body;
    assert_eq!(m["id"], sms.id.to_string());
    assert_eq!(m["type"], "sms");
    assert_eq!(m["channel"], "sms");
    assert_eq!(m["status"], "queued");
    assert_eq!(m["recipient"], "+15550100");
    assert_eq!(m["subject"], "");
    assert!(m["body"].as_str().unwrap().contains("246810"), "{m}");
    assert_eq!(m["template_type"], "login_code_valid");
    assert_eq!(m["send_count"], 0);
    assert!(m["created_at"].is_string() && m["updated_at"].is_string());
    assert!(m.get("template_data").is_none() && m.get("html_body").is_none());

    let all = call(Method::GET, "/admin/courier/messages")
        .send(&admin)
        .await;
    assert_eq!(all.status, StatusCode::OK);
    let list = all.body.as_array().unwrap();
    let shown: Vec<(&str, &str)> = list
        .iter()
        .map(|m| (m["type"].as_str().unwrap(), m["channel"].as_str().unwrap()))
        .collect();
    assert_eq!(shown, [("email", "email"), ("sms", "sms")], "newest first");
    assert_eq!(list[0]["id"], mail.id.to_string());
    assert_eq!(list[1], one.body, "the list shows what the get shows");

    // Sent through its own channel, then listed as sent.
    kratos.courier().dispatch_batch().await.unwrap();
    assert_eq!(sms_box.messages().len(), 1);
    assert_eq!(sms_box.messages()[0].message_type, MessageType::Sms);
    assert_eq!(email_box.messages().len(), 1);
    let sent = call(
        Method::GET,
        "/admin/courier/messages?status=sent&recipient=%2B15550100",
    )
    .send(&admin)
    .await;
    let sent = sent.body.as_array().unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (&sent[0]["type"], &sent[0]["send_count"]),
        (&json!("sms"), &json!(1))
    );
}
