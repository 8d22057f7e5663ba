//! An independent verifier: PyJWT (with `cryptography`) checks the tokens whoami's
//! `tokenize_as` makes with ES256, RS256 and EdDSA against the public part of the key sets.
//!
//! PyJWT is installed in a virtualenv under the target directory, once. Without Python or
//! the package index the test prints a skip line; with `CI=true` it fails.

mod jwt;
// The virtualenv helper the Ory client tests use.
#[path = "../../examples/axum-app/tests/sdk/venv.rs"]
mod venv;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use jwt::{ISSUER, TEMPLATES, kratos, public_set, signed_in, tokenized};

const PACKAGES: &[&str] = &["PyJWT[crypto]==2.15.1", "cryptography==48.0.0"];

/// The virtualenv's Python with PyJWT, or `None` (skip) outside CI.
fn python() -> Option<PathBuf> {
    venv::python_with(
        "pyjwt-venv",
        PACKAGES,
        "import jwt, cryptography",
        "PyJWT verification",
    )
}

#[tokio::test]
async fn pyjwt_verifies_tokenized_sessions() {
    let Some(py) = python() else { return };
    let (k, _) = kratos();
    let public = kratos_axum::public_router(k.clone());
    let (token, identity_id) = signed_in(&k).await;
    let mut tokens = Vec::new();
    let mut sessions = Vec::new();
    for (template, alg) in TEMPLATES {
        let (session, jwt) = tokenized(&public, &token, template).await;
        tokens.push(json!({ "token": jwt, "alg": alg }));
        sessions.push(session);
    }
    let request = json!({
        "jwks": public_set(&TEMPLATES.iter().map(|(n, _)| *n).collect::<Vec<_>>()),
        "issuer": ISSUER,
        "tokens": tokens,
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/jwt/verify_pyjwt.py");
    let mut child = Command::new(&py)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "PyJWT refused a token: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), TEMPLATES.len());
    for ((line, (template, alg)), session) in lines.iter().zip(TEMPLATES).zip(&sessions) {
        assert_eq!(line["alg"], *alg);
        assert_eq!(line["kid"], format!("test-{template}"));
        let claims = &line["claims"];
        assert_eq!(claims["sub"], identity_id.as_str());
        assert_eq!(claims["sid"], session["id"]);
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            600,
            "ttl 10m"
        );
    }
}
