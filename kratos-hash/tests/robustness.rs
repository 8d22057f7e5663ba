//! Property tests: parsing never panics on hostile input, and a hash that
//! passes `validate_import` is always verifiable without an error.

use kratos_hash::{HashError, HashFormat, validate_import, verify};
use proptest::prelude::*;

/// Valid hashes of the formats that are cheap to compute (taken from
/// tests/vectors.rs, which says how they were produced), used as seeds for
/// mutation.
const CHEAP_SEEDS: &[&str] = &[
    "$md5-crypt$saltsalt$4WS.Uhxmahm1YZiMsUNcc0",
    "{SSHA}mPgDHKrt243BnDxx+hz4w9yGWStzc2hhLXNhbHQ=",
    "{SSHA256}nqB7sMuFFXu7NdOSM1WXmBe2mriDAsFJoHsfz+jNCw5zc2hhLXNhbHQ=",
    "$sha1$pf=e1NBTFR9e1BBU1NXT1JEfQ==$c2hhc2FsdA==$0xSZMfLOIA3IQy/wY0CXO3OzaXQ=",
    "$sha256$pf=e1BBU1NXT1JEfS57U0FMVH0=$c2hhc2FsdA==$sQ6l3bOw/Xw3ymb0enV6OypYhtNe4LJRWEzMzrvSGn0=",
    "$md5$SCyBHaXVtLxtSX/6mEkeOA==",
    "$md5$pf=e1NBTFR9e1BBU1NXT1JEfQ==$bWQ1c2FsdA==$G6j12Ilevip78mbC79bV1Q==",
    "$hmac-md4$ODUxYzhlMjQ2YTgxYzI0NDUyYTY2MjFlMjVjMjZhODQ=$aG1hYy1zZWNyZXQta2V5",
    "$hmac-sha256$ZWY2YjQ3YTI3MDhjNTFiZTc0MjZlMmViMDk5MjFlYmJlN2M1NGM2MzFkYzk4NmE0NWM3NDJkOTkwY2FkYTEwYg==$aG1hYy1zZWNyZXQta2V5",
];

/// Valid hashes of the costly formats: only parsed, never verified here.
const COSTLY_SEEDS: &[&str] = &[
    "$2a$04$C1SXYwq5Vti73ChsZ4BDx.n7XCLX8z5PosNrC6xn.OxPYaMSg2ufO",
    "$argon2id$v=19$m=64,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$UgaOz1yG2mJSuJbnhr8YvCJojZUibNo2Ghm6/oVbkfU",
    "$argon2i$v=19$m=32,t=3,p=1$MDEyMzQ1Njc4OWFiY2RlZg$6IsR3sOJsEpjjEVCnJgzPwMwMmtaOGpTRxV8V9J/D6E",
    "$pbkdf2-sha256$i=1000,l=32$cGJrZGYyc2FsdA$U/o+T4DOUNmfyZp4bcE6LH6O/EnK9Np5P8JL5kR5la8",
    "$scrypt$ln=1024,r=8,p=1$c2NyeXB0c2FsdA==$ISgA1Y1SZgNtm8smOl+LkiR/kElMFq6r5oZtqQE6VX4=",
    "$firescrypt$ln=10,r=8,p=1$ZmlyZWJhc2VzYWx0$OF28KMpmBGJ7/bMKSfED5VarIsAk//cWteeAuVCLMEM1Id0jlzY2EoCzqbgn3tKzx4dfYc7aDiY3vRe/wust4g==$AQI=$AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==",
    "$sha256-crypt$rounds=10000$saltstring$X.i85W1ItWrSVEUMUgNu/YshRA71HAcWJm7JtZc/QT8",
    "$sha512-crypt$rounds=1000$abc$y4X2xRtS4gpYQGXOxXiKJrNzwomb8rcoUUZo3R0zw48K.CiMxnQDbp5sIBupj4auAUj0OnsL7P4ZLZg5.1Rxm0",
];

/// Characters that matter to the parsers, plus some that do not.
fn interesting_char() -> impl Strategy<Value = char> {
    prop_oneof![
        Just('$'),
        Just('='),
        Just(','),
        Just('{'),
        Just('}'),
        Just('+'),
        Just('/'),
        Just('.'),
        Just('0'),
        Just('9'),
        Just('é'),
        any::<char>(),
        proptest::char::range('A', 'z'),
    ]
}

/// Replaces, inserts or deletes one character at `at` (a fraction of the length).
fn mutate(seed: &str, at: f64, op: u8, c: char) -> String {
    let mut chars: Vec<char> = seed.chars().collect();
    let i = ((chars.len() as f64) * at) as usize;
    let i = i.min(chars.len().saturating_sub(1));
    match op % 3 {
        0 => chars[i] = c,
        1 => chars.insert(i, c),
        _ => {
            chars.remove(i);
        }
    }
    chars.into_iter().collect()
}

fn is_input_error(e: &HashError) -> bool {
    matches!(
        e,
        HashError::UnknownFormat | HashError::Malformed { .. } | HashError::OutOfBounds { .. }
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_strings_never_panic(prefix in prop::sample::select(vec![
        "", "$2a$", "$2$", "$argon2id$", "$argon2i$", "$pbkdf2-sha1$", "$scrypt$", "$firescrypt$",
        "{SSHA}", "{SSHA512}", "$sha1$", "$md5$", "$hmac-sha1$", "$md5-crypt$", "$sha256-crypt$",
        "$sha512-crypt$",
    ]), tail in ".{0,120}") {
        let hash = format!("{prefix}{tail}");
        // Only parsing: any outcome is fine as long as nothing panics.
        let _ = validate_import(&hash);
    }

    #[test]
    fn mutated_cheap_hashes_verify_iff_they_validate(
        seed in prop::sample::select(CHEAP_SEEDS.to_vec()),
        at in 0.0f64..1.0,
        op in any::<u8>(),
        c in interesting_char(),
        password in prop::collection::vec(any::<u8>(), 0..80),
    ) {
        let hash = mutate(seed, at, op, c);
        match validate_import(&hash) {
            Ok(format) => {
                prop_assert!(matches!(
                    format,
                    HashFormat::Md5Crypt | HashFormat::Ssha | HashFormat::Sha | HashFormat::Md5
                        | HashFormat::Hmac
                ));
                prop_assert!(verify(&password, &hash).is_ok(), "{hash}");
            }
            Err(e) => {
                prop_assert!(is_input_error(&e), "{e:?}");
                let v = verify(&password, &hash);
                prop_assert!(v.as_ref().is_err_and(is_input_error), "{hash}: {v:?}");
            }
        }
    }

    #[test]
    fn mutated_costly_hashes_parse_without_panicking(
        seed in prop::sample::select(COSTLY_SEEDS.to_vec()),
        at in 0.0f64..1.0,
        op in any::<u8>(),
        c in interesting_char(),
    ) {
        let hash = mutate(seed, at, op, c);
        if let Err(e) = validate_import(&hash) {
            prop_assert!(is_input_error(&e), "{e:?}");
        }
    }

    #[test]
    fn cheap_hashes_reject_random_passwords(
        seed in prop::sample::select(CHEAP_SEEDS.to_vec()),
        password in prop::collection::vec(any::<u8>(), 0..40),
    ) {
        prop_assume!(password != b"password123");
        prop_assert!(!verify(&password, seed).unwrap());
    }
}
