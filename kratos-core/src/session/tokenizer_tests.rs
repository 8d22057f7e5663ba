use std::sync::Arc;

use base64::Engine;
use chrono::{TimeZone, Utc};
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Value, json};
use uuid::Uuid;

use super::*;
use crate::clock::ManualClock;
use crate::config::{Config, KratosDuration};
use crate::identity::Identity;
use crate::session::{Aal, AuthenticationMethod};
use crate::{BuildError, Kratos};

fn fixture(name: &str) -> String {
    format!(
        "file://{}/tests/fixtures/jwt/test-only.{name}.jwks.json",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn fixture_jwk(name: &str) -> Map<String, Value> {
    let path = fixture(name);
    let text = std::fs::read_to_string(path.trim_start_matches("file://")).unwrap();
    let set: Value = serde_json::from_str(&text).unwrap();
    set["keys"][0].as_object().unwrap().clone()
}

fn template(jwks: &str, mapper: Option<&str>, source: SubjectSource) -> TokenizeTemplate {
    TokenizeTemplate {
        ttl: KratosDuration(Duration::from_secs(60)),
        claims_mapper_url: mapper.map(str::to_owned),
        jwks_url: jwks.to_owned(),
        subject_source: source,
    }
}

fn config(templates: Vec<(&str, TokenizeTemplate)>) -> Config {
    let mut c = Config::from_yaml_str(
        "dev: true\nserve:\n  public:\n    base_url: http://localhost/\nselfservice:\n  methods:\n    password:\n      config:\n        haveibeenpwned_enabled: false\n",
    )
    .unwrap();
    for (name, t) in templates {
        c.session
            .whoami
            .tokenizer
            .templates
            .insert(name.to_owned(), t);
    }
    c
}

const NOW: i64 = 1_675_209_600; // 2023-02-01T00:00:00Z

fn kratos(templates: Vec<(&str, TokenizeTemplate)>) -> Result<Kratos, BuildError> {
    let clock = Arc::new(ManualClock::new(Utc.timestamp_opt(NOW, 0).unwrap()));
    let schema = crate::identity::IdentitySchema::from_value(
        "default",
        json!({
            "type": "object",
            "properties": {"traits": {"type": "object", "properties": {
                "email": {"type": "string", "format": "email", "ory.sh/kratos": {
                    "credentials": {"password": {"identifier": true}}}}
            }}}
        }),
    )
    .unwrap();
    Kratos::builder(config(templates))
        .clock(clock)
        .schema(schema)
        .build()
}

fn session(external_id: Option<&str>) -> Session {
    let identity_id = Uuid::parse_str("7458af86-c1d8-401c-978a-8da89133f78b").unwrap();
    let mut identity: Identity = serde_json::from_value(json!({
        "id": identity_id,
        "schema_id": "default",
        "schema_url": "",
        "state": "active",
        "traits": {"email": "tokenize@example.com"},
        "metadata_public": null,
        "created_at": "2023-01-01T00:00:00Z",
        "updated_at": "2023-01-01T00:00:00Z",
    }))
    .unwrap();
    identity.external_id = external_id.map(str::to_owned);
    let at = Utc.timestamp_opt(NOW, 0).unwrap();
    Session {
        id: Uuid::parse_str("432caf86-c1d8-401c-978a-8da89133f78b").unwrap(),
        active: true,
        expires_at: at + chrono::Duration::hours(1),
        authenticated_at: at,
        authenticator_assurance_level: Aal::Aal1,
        authentication_methods: vec![AuthenticationMethod::first_factor("password", at)],
        issued_at: at,
        identity: Some(identity),
        devices: vec![],
        identity_id,
    }
}

/// The token's header and claims, its signature verified with the fixture's public key.
fn verify(token: &str, fixture_name: &str, algorithm: Algorithm) -> (Header, Map<String, Value>) {
    let public = public_jwk(&fixture_jwk(fixture_name));
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(public).unwrap();
    let key = DecodingKey::from_jwk(&jwk).unwrap();
    let mut validation = Validation::new(algorithm);
    // The clock is fixed in 2023: expiry is checked by the claims below.
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation).unwrap();
    (data.header, data.claims)
}

const MAPPER: &str = r#"
local claims = std.extVar('claims');
local session = std.extVar('session');
{
  claims: {
    foo: 'bar',
    sub: 'can not be overwritten',
    iss: 'https://mapped.example/',
    schema_id: session.identity.schema_id,
    aal: session.authenticator_assurance_level,
    second_claim: claims.exp,
    has_credentials: std.objectHas(session.identity, 'credentials'),
    [if std.objectHas(session.identity, 'external_id') then 'external_id']: session.identity.external_id,
  },
}
"#;

fn base64_url(text: &str) -> String {
    format!(
        "base64://{}",
        base64::engine::general_purpose::STANDARD.encode(text)
    )
}

#[tokio::test]
async fn the_standard_claims_are_signed_with_the_first_key() {
    let k = kratos(vec![
        (
            "es256",
            template(&fixture("es256"), None, SubjectSource::Id),
        ),
        (
            "rs256",
            template(&fixture("rs256"), None, SubjectSource::Id),
        ),
        (
            "eddsa",
            template(&fixture("eddsa"), None, SubjectSource::Id),
        ),
        (
            "es384",
            template(&fixture("es384"), None, SubjectSource::Id),
        ),
    ])
    .unwrap();
    let s = session(None);
    for (name, alg) in [
        ("es256", Algorithm::ES256),
        ("rs256", Algorithm::RS256),
        ("eddsa", Algorithm::EdDSA),
        ("es384", Algorithm::ES384),
    ] {
        let token = k.sessions().tokenize(&s, name).await.unwrap();
        let (header, mut claims) = verify(&token, name, alg);
        assert_eq!(header.kid.as_deref(), Some(format!("test-{name}").as_str()));
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        let jti = claims.remove("jti").unwrap();
        Uuid::parse_str(jti.as_str().unwrap()).unwrap();
        assert_eq!(
            Value::Object(claims),
            json!({
                "exp": NOW + 60,
                "iat": NOW,
                "iss": "http://localhost/",
                "nbf": NOW,
                "sid": "432caf86-c1d8-401c-978a-8da89133f78b",
                "sub": "7458af86-c1d8-401c-978a-8da89133f78b",
            }),
            "{name}"
        );
    }
}

#[tokio::test]
async fn ttl_sets_exp_and_each_token_has_its_own_jti() {
    let mut t = template(&fixture("es256"), None, SubjectSource::Id);
    t.ttl = KratosDuration(Duration::from_secs(3600));
    let k = kratos(vec![("t", t)]).unwrap();
    let s = session(None);
    let a = k.sessions().tokenize(&s, "t").await.unwrap();
    let b = k.sessions().tokenize(&s, "t").await.unwrap();
    let (_, a) = verify(&a, "es256", Algorithm::ES256);
    let (_, b) = verify(&b, "es256", Algorithm::ES256);
    assert_eq!(a["exp"], json!(NOW + 3600));
    assert_ne!(a["jti"], b["jti"]);
}

#[test]
fn ttl_defaults_to_one_minute_and_subject_source_to_id() {
    let c = Config::from_yaml_str(
        "session:\n  whoami:\n    tokenizer:\n      templates:\n        a:\n          jwks_url: base64://e30=\n",
    )
    .unwrap();
    let t = &c.session.whoami.tokenizer.templates["a"];
    assert_eq!(t.ttl.0, Duration::from_secs(60));
    assert_eq!(t.subject_source, SubjectSource::Id);
    assert_eq!(t.claims_mapper(), None);
    let err = Config::from_yaml_str(
        "session:\n  whoami:\n    tokenizer:\n      templates:\n        a:\n          jwks_url: base64://e30=\n          subject_source: email\n",
    )
    .unwrap_err();
    assert_eq!(
        err.key(),
        Some("session.whoami.tokenizer.templates.a.subject_source")
    );
    let err = Config::from_yaml_str(
        "session:\n  whoami:\n    tokenizer:\n      templates:\n        a:\n          ttl: 1m\n",
    )
    .unwrap_err();
    assert!(err.to_string().contains("jwks_url"), "{err}");
}

#[test]
fn key_sets_must_be_files_or_base64_and_never_show() {
    let mut c = config(vec![(
        "a",
        template("https://keys.example/jwks.json", None, SubjectSource::Id),
    )]);
    assert_eq!(
        c.validate().unwrap_err().key(),
        Some("session.whoami.tokenizer.templates.a.jwks_url")
    );
    c.session.whoami.tokenizer.templates.insert(
        "a".into(),
        template(
            &fixture("es256"),
            Some("ftp://x/y.jsonnet"),
            SubjectSource::Id,
        ),
    );
    assert_eq!(
        c.validate().unwrap_err().key(),
        Some("session.whoami.tokenizer.templates.a.claims_mapper_url")
    );
    let secret = base64_url("{\"keys\":[{\"d\":\"very-secret-private-part\"}]}");
    let t = template(&secret, None, SubjectSource::Id);
    let b64 = secret.trim_start_matches("base64://");
    assert!(!format!("{t:?}").contains(b64));
    let written = serde_json::to_string(&t).unwrap();
    assert!(!written.contains(b64), "{written}");
    assert!(written.contains("\"jwks_url\":\"base64://"));
}

#[tokio::test]
async fn the_subject_can_be_the_external_id() {
    let k = kratos(vec![(
        "ext",
        template(
            &fixture("es256"),
            Some(&base64_url(MAPPER)),
            SubjectSource::ExternalId,
        ),
    )])
    .unwrap();
    let token = k
        .sessions()
        .tokenize(&session(Some("external-id")), "ext")
        .await
        .unwrap();
    let (_, claims) = verify(&token, "es256", Algorithm::ES256);
    assert_eq!(claims["sub"], json!("external-id"));
    assert_eq!(claims["external_id"], json!("external-id"));
    let err = k
        .sessions()
        .tokenize(&session(None), "ext")
        .await
        .unwrap_err();
    assert!(matches!(err, TokenizeError::NoExternalId), "{err:?}");
    assert_eq!((err.status(), err.id()), (400, "bad_request"));
    assert_eq!(
        err.to_string(),
        "The session's identity does not have an external ID set, but it is required for the subject claim."
    );
}

#[tokio::test]
async fn the_mapper_output_is_merged_but_sub_stays() {
    let dir = std::env::temp_dir().join(format!("kratos-tokenizer-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let mapper = dir.join("mapper.jsonnet");
    std::fs::write(&mapper, MAPPER).unwrap();
    let k = kratos(vec![(
        "mapped",
        template(
            &fixture("rs256"),
            Some(&format!("file://{}", mapper.display())),
            SubjectSource::Id,
        ),
    )])
    .unwrap();
    let token = k
        .sessions()
        .tokenize(&session(Some("external-id")), "mapped")
        .await
        .unwrap();
    let (_, mut claims) = verify(&token, "rs256", Algorithm::RS256);
    claims.remove("jti");
    assert_eq!(
        Value::Object(claims),
        json!({
            "aal": "aal1",
            "exp": NOW + 60,
            "external_id": "external-id",
            "foo": "bar",
            "has_credentials": false,
            "iat": NOW,
            "iss": "https://mapped.example/",
            "nbf": NOW,
            "schema_id": "default",
            "second_claim": NOW + 60,
            "sid": "432caf86-c1d8-401c-978a-8da89133f78b",
            "sub": "7458af86-c1d8-401c-978a-8da89133f78b",
        })
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_failing_mapper_is_a_clear_error() {
    let k = kratos(vec![
        (
            "raises",
            template(
                &fixture("es256"),
                Some(&base64_url(
                    "local s = std.extVar('session'); error 'no ' + s.id",
                )),
                SubjectSource::Id,
            ),
        ),
        (
            "no-claims",
            template(
                &fixture("es256"),
                Some(&base64_url("{ other: 1 }")),
                SubjectSource::Id,
            ),
        ),
        (
            "claims-not-object",
            template(
                &fixture("es256"),
                Some(&base64_url("{ claims: [1] }")),
                SubjectSource::Id,
            ),
        ),
    ])
    .unwrap();
    let s = session(None);
    let err = k.sessions().tokenize(&s, "raises").await.unwrap_err();
    assert!(matches!(err, TokenizeError::Mapper(_)), "{err:?}");
    assert_eq!(err.status(), 400);
    assert_eq!(err.to_string(), "Unable to execute tokenizer JsonNet.");
    let detail = err.detail().unwrap();
    assert!(detail.contains("1:"), "{detail}");
    assert!(!detail.contains(&s.id.to_string()), "{detail}");
    for name in ["no-claims", "claims-not-object"] {
        let err = k.sessions().tokenize(&s, name).await.unwrap_err();
        assert!(matches!(err, TokenizeError::NotAClaimsObject), "{err:?}");
        assert_eq!(
            err.to_string(),
            "Expected tokenizer JsonNet to return a claims object but it did not."
        );
    }
}

#[tokio::test]
async fn an_unknown_template_is_a_bad_request() {
    let k = kratos(vec![]).unwrap();
    let err = k
        .sessions()
        .tokenize(&session(None), "nope")
        .await
        .unwrap_err();
    assert_eq!((err.status(), err.id()), (400, "bad_request"));
    assert_eq!(
        err.to_string(),
        "Unable to find tokenizer template \"nope\"."
    );
}

#[test]
fn a_key_set_that_cannot_sign_is_a_configuration_error() {
    let cases = [
        (
            fixture("es256-public-only"),
            "Unable to sign JSON Web Token.",
        ),
        (
            fixture("es512"),
            "The JSON Web Key algorithm \\\"ES512\\\" is not supported.",
        ),
        (
            base64_url(r#"{"keys":[{"kty":"EC","crv":"P-256"}]}"#),
            "must include a valid \\\"alg\\\" parameter but \\\"\\\" was given",
        ),
        (
            base64_url(r#"{"keys":[]}"#),
            "Could not find key a suitable key",
        ),
        (base64_url("not json"), "failed to parse JWK set"),
        (fixture("missing"), "The JSON Web Key Set could not be read"),
    ];
    for (url, expected) in cases {
        let err = kratos(vec![("bad", template(&url, None, SubjectSource::Id))]).unwrap_err();
        let BuildError::Config(err) = err else {
            panic!("{url}: {err:?}");
        };
        assert_eq!(
            err.key(),
            Some("session.whoami.tokenizer.templates.bad.jwks_url"),
            "{url}"
        );
        let shown = format!("{err:?}");
        assert!(shown.contains(expected), "{url}: {shown}");
    }
}

#[test]
fn a_private_part_of_another_key_is_refused() {
    let mut jwk = fixture_jwk("es256");
    let other = fixture_jwk("es256-public-only");
    jwk.insert("x".into(), other["x"].clone());
    jwk.insert("y".into(), other["y"].clone());
    let err = signing_key(&jwk).unwrap_err();
    assert!(
        matches!(err, TokenizeError::InvalidPrivateKey(_)),
        "{err:?}"
    );
    let mut rsa = fixture_jwk("rs256");
    rsa.remove("qi");
    let err = signing_key(&rsa).unwrap_err();
    assert!(
        matches!(err, TokenizeError::InvalidPrivateKey(_)),
        "{err:?}"
    );
    let mut ed = fixture_jwk("eddsa");
    ed.insert("alg".into(), json!("ES256"));
    let err = signing_key(&ed).unwrap_err();
    assert!(
        matches!(err, TokenizeError::InvalidPrivateKey(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn hmac_keys_sign_too() {
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8; 32]);
    let set = format!(r#"{{"keys":[{{"kty":"oct","alg":"HS256","kid":"h","k":"{secret}"}}]}}"#);
    let k = kratos(vec![(
        "h",
        template(&base64_url(&set), None, SubjectSource::Id),
    )])
    .unwrap();
    let token = k.sessions().tokenize(&session(None), "h").await.unwrap();
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    let data = jsonwebtoken::decode::<Map<String, Value>>(
        &token,
        &DecodingKey::from_secret(&[7u8; 32]),
        &validation,
    )
    .unwrap();
    assert_eq!(
        data.claims["sid"],
        json!("432caf86-c1d8-401c-978a-8da89133f78b")
    );
}

#[test]
fn debug_shows_no_key_material() {
    let k = kratos(vec![(
        "es256",
        template(&fixture("es256"), None, SubjectSource::Id),
    )])
    .unwrap();
    let shown = format!("{:?}", k.tokenizer());
    assert!(shown.contains("es256"), "{shown}");
    let key = load_key(&fixture("es256")).unwrap();
    let shown = format!("{key:?}");
    let d = fixture_jwk("es256")["d"].as_str().unwrap().to_owned();
    assert!(!shown.contains(&d), "{shown}");
    assert!(shown.contains("ES256"), "{shown}");
}

#[test]
fn public_jwk_leaves_out_private_members() {
    let public = public_jwk(&fixture_jwk("rs256"));
    for member in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(public.get(member).is_none(), "{member}");
    }
    assert!(public.get("n").is_some());
}

#[test]
fn the_loader_counts_tokenizer_keys_as_implemented() {
    let dir = std::env::temp_dir().join(format!("kratos-tokenizer-load-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("kratos.yml");
    std::fs::write(
        &file,
        format!(
            "dsn: memory\nidentity:\n  default_schema_id: default\n  schemas:\n    - {{id: default, url: \"file:///s.json\"}}\nselfservice:\n  default_browser_return_url: http://localhost/\nsecrets:\n  default: [\"a-secret-of-sixteen-chars-or-more\"]\nsession:\n  whoami:\n    tokenizer:\n      templates:\n        jwt:\n          ttl: 10m\n          jwks_url: {}\n          claims_mapper_url: {}\n          subject_source: external_id\n        short:\n          jwks_url: {}\n",
            fixture("es256"),
            base64_url(MAPPER),
            base64_url("{\"keys\":[]}"),
        ),
    )
    .unwrap();
    let loaded = crate::config::ConfigLoader::new()
        .host_keys(["/dsn"])
        .file(&file)
        .load()
        .unwrap();
    assert!(
        loaded.unimplemented.is_empty(),
        "{:?}",
        loaded.unimplemented
    );
    let templates = &loaded.config.session.whoami.tokenizer.templates;
    assert_eq!(templates["jwt"].ttl.0, Duration::from_secs(600));
    assert_eq!(templates["jwt"].subject_source, SubjectSource::ExternalId);
    assert_eq!(templates["short"].ttl.0, Duration::from_secs(60));
    // Kratos's schema: `jwks_url` is required.
    std::fs::write(
        &file,
        "selfservice:\n  default_browser_return_url: http://localhost/\nsecrets:\n  default: [\"a-secret-of-sixteen-chars-or-more\"]\nsession:\n  whoami:\n    tokenizer:\n      templates:\n        jwt:\n          ttl: 10m\n",
    )
    .unwrap();
    let err = crate::config::ConfigLoader::new()
        .file(&file)
        .load()
        .unwrap_err();
    assert!(err.to_string().contains("jwks_url"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_rsa_key_signs_with_the_algorithm_its_alg_names() {
    for alg in ["RS384", "RS512", "PS256", "PS384", "PS512"] {
        let mut jwk = fixture_jwk("rs256");
        jwk.insert("alg".into(), json!(alg));
        let key = signing_key(&jwk).unwrap();
        let token = sign(&key, &json!({ "sid": "s" })).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::from_str(alg).unwrap());
        assert_eq!(header.kid.as_deref(), Some("test-rs256"));
    }
}
