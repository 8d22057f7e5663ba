//! The Have I Been Pwned check that the configuration asks for (Kratos's default) is never
//! switched off silently: without the `hibp` feature, building the registry fails and says
//! how to fix it.

use std::sync::Arc;

#[cfg(not(feature = "hibp"))]
use kratos_core::strategy::password::BreachCheckError;
use kratos_core::strategy::password::OfflineBreachList;
use kratos_core::{BuildError, Config, Kratos};

const SECRETS: &str = "secrets:\n  default: [\"hibp-test-secret-0123456789\"]\n";

fn build(yaml: &str) -> Result<Kratos, BuildError> {
    Kratos::builder(Config::from_yaml_str(yaml).expect("config"))
        .schema(kratos_core::testsuite::test_schema())
        .build()
}

#[cfg(not(feature = "hibp"))]
#[test]
fn asking_for_hibp_without_the_feature_is_a_build_error() {
    let explicit = format!(
        "{SECRETS}selfservice:\n  methods:\n    password:\n      config:\n        haveibeenpwned_enabled: true\n"
    );
    // The default (`haveibeenpwned_enabled: true`, as in Kratos) and an explicit `true`.
    for yaml in [SECRETS.to_owned(), explicit] {
        let err = build(&yaml).expect_err("no hibp feature");
        assert!(
            matches!(
                err,
                BuildError::PasswordPolicy(BreachCheckError::HibpFeatureDisabled)
            ),
            "{err:?}"
        );
        let message = err.to_string();
        assert_eq!(
            message,
            "selfservice.methods.password.config: haveibeenpwned_enabled is true (the default) \
             but kratos-core was built without its `hibp` cargo feature: enable the `hibp` \
             feature of kratos-core, or set \
             selfservice.methods.password.config.haveibeenpwned_enabled: false"
        );
    }
}

#[cfg(feature = "hibp")]
#[test]
fn asking_for_hibp_with_the_feature_builds_its_client() {
    let kratos = build(SECRETS).expect("builds");
    let policy = format!("{:?}", kratos.password_policy());
    assert!(
        policy.contains("https://api.pwnedpasswords.com"),
        "{policy}"
    );
}

#[test]
fn turning_hibp_off_builds_without_a_breach_checker() {
    let kratos = build(&format!(
        "{SECRETS}selfservice:\n  methods:\n    password:\n      config:\n        haveibeenpwned_enabled: false\n"
    ))
    .expect("builds");
    assert!(kratos.password_policy().breach_checker.is_none());
}

#[tokio::test]
async fn a_checker_set_on_the_builder_replaces_the_configured_one() {
    let kratos = Kratos::builder(Config::from_yaml_str(SECRETS).expect("config"))
        .schema(kratos_core::testsuite::test_schema())
        .breach_checker(Arc::new(OfflineBreachList::from_passwords([
            "hunter2hunter2",
        ])))
        .build()
        .expect("a host checker needs no feature");
    let checker = kratos
        .password_policy()
        .breach_checker
        .as_ref()
        .expect("the host's checker");
    assert_eq!(checker.breaches("hunter2hunter2").await.unwrap(), 1);
    assert_eq!(checker.breaches("tinned-spaghetti").await.unwrap(), 0);
}
