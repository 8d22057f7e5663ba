//! Test vectors for every supported format.
//!
//! Every constant below was computed with independent tools by
//! `python3 kratos-hash/tests/gen_vectors.py` (python3 hashlib for PBKDF2,
//! scrypt, SHA-1/2/3, MD5 and HMAC; `cryptography` for AES-256-CTR; the PyPI
//! packages `bcrypt` 5.0, `argon2-cffi` 25.1 and `passlib` 1.7.4 (md4, crypt
//! formats with empty salts); `openssl passwd -1/-5/-6` from OpenSSL 3.0 for
//! the crypt formats, whose `$1$`/`$5$`/`$6$` prefixes the script rewrites to
//! `$md5-crypt$`/`$sha256-crypt$`/`$sha512-crypt$`). The HMAC-MD4 value was
//! cross-checked with `openssl dgst -md4 -provider legacy -hmac`. bcrypt salts
//! are random, so a re-run prints other (equally valid) bcrypt strings.
//! Malformed and out-of-bounds inputs are hand edits of these vectors.

use kratos_hash::{
    Argon2Params, HashAlgorithm, HashError, HashFormat, Hasher, validate_import, verify,
};

/// The password behind every vector.
const PW: &[u8] = b"password123";
/// A near miss that must never verify.
const WRONG: &[u8] = b"password124";

const MD5_CRYPT: &str = "$md5-crypt$saltsalt$4WS.Uhxmahm1YZiMsUNcc0";
const MD5_CRYPT_SHORT_SALT: &str = "$md5-crypt$ab$DC1ifnjzzu8Za5qEt96Kq0";
const SHA256_CRYPT: &str =
    "$sha256-crypt$rounds=10000$saltstring$X.i85W1ItWrSVEUMUgNu/YshRA71HAcWJm7JtZc/QT8";
const SHA256_CRYPT_DEFAULT_ROUNDS: &str =
    "$sha256-crypt$saltstring$4Kta3Vf4bKNQR/s5ZhzKXAWkxfBj1Sc6A729.AwA086";
const SHA512_CRYPT: &str = "$sha512-crypt$rounds=1000$abc$y4X2xRtS4gpYQGXOxXiKJrNzwomb8rcoUUZo3R0zw48K.CiMxnQDbp5sIBupj4auAUj0OnsL7P4ZLZg5.1Rxm0";
const SHA256_CRYPT_SALT16: &str =
    "$sha256-crypt$0123456789abcdef$vlV6FxfB2RUFmc3ru9Xsgr4jOFomdmvk.HOyVHUqWz7";
const MD5_CRYPT_EMPTY_SALT: &str = "$md5-crypt$$YBwNFAK24FAclIFFlfnu7.";
const MD5_CRYPT_EMPTY_PASSWORD: &str = "$md5-crypt$ab$rn6aQS/o7141mj179E/zA.";
const SHA512_CRYPT_EMPTY_SALT: &str = "$sha512-crypt$$I04ubPOxEX8OzpPkDlZXTAdM1TN8Y422h/ML2m3e0nzgiU0Tw6A6LqCifsxt1OxxORgbDY2CmCpq1Q/hJHs1F1";
const SHA512_CRYPT_DEFAULT_ROUNDS: &str = "$sha512-crypt$0123456789abcdef$2qcCfvZzKfKKuxr3PCng8CrVXmbcWu5m9H.YgzGNjlRlXhQyoQcapkLXxFd5VwEHy5LeIu0p1tBxMTHWCfwyb0";
const ARGON2ID: &str = "$argon2id$v=19$m=64,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$UgaOz1yG2mJSuJbnhr8YvCJojZUibNo2Ghm6/oVbkfU";
const ARGON2ID_P2: &str = "$argon2id$v=19$m=70,t=1,p=2$c2FsdHNhbHQ$IqN4XpRybMfHEiqzhsKUjQ";
const ARGON2I: &str =
    "$argon2i$v=19$m=32,t=3,p=1$MDEyMzQ1Njc4OWFiY2RlZg$6IsR3sOJsEpjjEVCnJgzPwMwMmtaOGpTRxV8V9J/D6E";
const PBKDF2_SHA1: &str = "$pbkdf2-sha1$i=1000,l=20$cGJrZGYyc2FsdA$eWRMB6FrG+nOkO6achdIAXiUKH0";
const PBKDF2_SHA224: &str =
    "$pbkdf2-sha224$i=1000,l=28$cGJrZGYyc2FsdA$sPyPpSbL0LrUx2sjUM1gKb86ckuz8Tz88xIzDg";
const PBKDF2_SHA256: &str =
    "$pbkdf2-sha256$i=1000,l=32$cGJrZGYyc2FsdA$U/o+T4DOUNmfyZp4bcE6LH6O/EnK9Np5P8JL5kR5la8";
const PBKDF2_SHA384: &str = "$pbkdf2-sha384$i=1000,l=48$cGJrZGYyc2FsdA$y+fI7TSf5GgGBpj9pMT1peUtRcLFkAU//UJCXqw2a+3dKT8mY2W8IX4VkOMdPSY8";
const PBKDF2_SHA512: &str = "$pbkdf2-sha512$i=1000,l=64$cGJrZGYyc2FsdA$fJnz+FZLE1W8EfV893hzYh4lqb86sENFqxGCfK8TyrQnoS56L+svlx4iAgGfX1JE1Up89Dl2lUgB2AThVVojlg";
const PBKDF2_UNKNOWN_ALG: &str =
    "$pbkdf2-sha999$i=1000,l=32$cGJrZGYyc2FsdA$U/o+T4DOUNmfyZp4bcE6LH6O/EnK9Np5P8JL5kR5la8";
const SCRYPT: &str =
    "$scrypt$ln=1024,r=8,p=1$c2NyeXB0c2FsdA==$ISgA1Y1SZgNtm8smOl+LkiR/kElMFq6r5oZtqQE6VX4=";
const SCRYPT_P2: &str = "$scrypt$ln=16,r=1,p=2$c2NyeXB0c2FsdA==$EwT8jGZVBXS3QbquzjEKrQ==";
const FIREBASE_SCRYPT: &str = "$firescrypt$ln=10,r=8,p=1$ZmlyZWJhc2VzYWx0$OF28KMpmBGJ7/bMKSfED5VarIsAk//cWteeAuVCLMEM1Id0jlzY2EoCzqbgn3tKzx4dfYc7aDiY3vRe/wust4g==$AQI=$AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==";
const BCRYPT_2A: &str = "$2a$04$C1SXYwq5Vti73ChsZ4BDx.n7XCLX8z5PosNrC6xn.OxPYaMSg2ufO";
const BCRYPT_2B: &str = "$2b$05$hBnd5qN6ZGPIa5xAV/uGBuDmyupbgstPG7dS0DVI4oA.dEAQLQJ7O";
const BCRYPT_72: &str = "$2a$04$ZPCM4EiXLmYRcniTpyGsu.y.y0/HoTN1pa1ITnn6bW95OmskmjwHS";
const SSHA: &str = "{SSHA}mPgDHKrt243BnDxx+hz4w9yGWStzc2hhLXNhbHQ=";
const SSHA256: &str = "{SSHA256}nqB7sMuFFXu7NdOSM1WXmBe2mriDAsFJoHsfz+jNCw5zc2hhLXNhbHQ=";
const SSHA512: &str = "{SSHA512}xHiGprDTTJ9LzysWF6AKsVClVawqTtyaUsscp7t/Ni+LIF9G+czxbjiUV/kF6z/dudkkKIVQeKQ7NIc4DyhEJHNzaGEtc2FsdA==";
const SHA1_PF: &str = "$sha1$pf=e1NBTFR9e1BBU1NXT1JEfQ==$c2hhc2FsdA==$0xSZMfLOIA3IQy/wY0CXO3OzaXQ=";
const SHA256_PF: &str =
    "$sha256$pf=e1BBU1NXT1JEfS57U0FMVH0=$c2hhc2FsdA==$sQ6l3bOw/Xw3ymb0enV6OypYhtNe4LJRWEzMzrvSGn0=";
const SHA512_PF: &str = "$sha512$pf=e1NBTFR9JHtQQVNTV09SRH0ke1NBTFR9$c2hhc2FsdA==$rugj7NKD3mQYj2dCBndOjAJH/hMwUlbFJpx5eFnHe7Fy/a9x1izHPCVEEOBaE44aklJcEV5b+bcRGORkIP0FRA==";
const MD5_PLAIN: &str = "$md5$SCyBHaXVtLxtSX/6mEkeOA==";
const MD5_PF: &str = "$md5$pf=e1NBTFR9e1BBU1NXT1JEfQ==$bWQ1c2FsdA==$G6j12Ilevip78mbC79bV1Q==";
const HMAC_MD4: &str =
    "$hmac-md4$ODUxYzhlMjQ2YTgxYzI0NDUyYTY2MjFlMjVjMjZhODQ=$aG1hYy1zZWNyZXQta2V5";
const HMAC_MD5: &str =
    "$hmac-md5$ZTU1YmE1MmM3ZDlmMDM1MWU4ZDJkNGI0YTIzNTdlZTQ=$aG1hYy1zZWNyZXQta2V5";
const HMAC_SHA1: &str =
    "$hmac-sha1$NzdkODJiMjZkMzEyYWY1YTRhZjkzOTYwZGZkNzQ1YzI1ZTIyODMwZA==$aG1hYy1zZWNyZXQta2V5";
const HMAC_SHA224: &str = "$hmac-sha224$N2Q1ZDE4ZjFjMjI5OTJhYzMxMTBkMzE1YmE2ZTVlZTNiYmRmOWZhODM0NDZlYzlmNGExNmY0YWU=$aG1hYy1zZWNyZXQta2V5";
const HMAC_SHA256: &str = "$hmac-sha256$ZWY2YjQ3YTI3MDhjNTFiZTc0MjZlMmViMDk5MjFlYmJlN2M1NGM2MzFkYzk4NmE0NWM3NDJkOTkwY2FkYTEwYg==$aG1hYy1zZWNyZXQta2V5";
const HMAC_SHA384: &str = "$hmac-sha384$Zjc4MjM5ODRhOWRkNTNhYmVhNDFlODQ4OTU4ODA2OWJlOGI2ZmQ4NDViZTRlNjYzOWUwYzU4NTY1YWU0MDE3MmU4ZmZiOTk3MTY4NzVmYWM4MWZmODQ0MjI1Y2U3ZmQ1$aG1hYy1zZWNyZXQta2V5";
const HMAC_SHA512: &str = "$hmac-sha512$NzM1MmE1NTQ4NTQyMjhlZTQ4ZjA3MDQ5NWI4NzFjNDBjN2E2YWNjZWM4MDY0YzM0YjEzOTEwNGI0MjMxNzFjMjgwMTVhZDY0YTI4ZWZlY2E4YzVjYWZmOGU1NzU2ZmQwYTlkNzk2MTc3ZjU1ZmNkYzZjMWU3NjQ5MWI5OGZhZGM=$aG1hYy1zZWNyZXQta2V5";

/// Every vector with the format it must be detected as.
const VECTORS: &[(&str, HashFormat)] = &[
    (MD5_CRYPT, HashFormat::Md5Crypt),
    (MD5_CRYPT_SHORT_SALT, HashFormat::Md5Crypt),
    (MD5_CRYPT_EMPTY_SALT, HashFormat::Md5Crypt),
    (SHA256_CRYPT, HashFormat::Sha256Crypt),
    (SHA256_CRYPT_DEFAULT_ROUNDS, HashFormat::Sha256Crypt),
    (SHA256_CRYPT_SALT16, HashFormat::Sha256Crypt),
    (SHA512_CRYPT, HashFormat::Sha512Crypt),
    (SHA512_CRYPT_EMPTY_SALT, HashFormat::Sha512Crypt),
    (SHA512_CRYPT_DEFAULT_ROUNDS, HashFormat::Sha512Crypt),
    (BCRYPT_2A, HashFormat::Bcrypt),
    (BCRYPT_2B, HashFormat::Bcrypt),
    (ARGON2ID, HashFormat::Argon2id),
    (ARGON2ID_P2, HashFormat::Argon2id),
    (ARGON2I, HashFormat::Argon2i),
    (PBKDF2_SHA1, HashFormat::Pbkdf2),
    (PBKDF2_SHA224, HashFormat::Pbkdf2),
    (PBKDF2_SHA256, HashFormat::Pbkdf2),
    (PBKDF2_SHA384, HashFormat::Pbkdf2),
    (PBKDF2_SHA512, HashFormat::Pbkdf2),
    (PBKDF2_UNKNOWN_ALG, HashFormat::Pbkdf2),
    (SCRYPT, HashFormat::Scrypt),
    (SCRYPT_P2, HashFormat::Scrypt),
    (FIREBASE_SCRYPT, HashFormat::FirebaseScrypt),
    (SSHA, HashFormat::Ssha),
    (SSHA256, HashFormat::Ssha),
    (SSHA512, HashFormat::Ssha),
    (SHA1_PF, HashFormat::Sha),
    (SHA256_PF, HashFormat::Sha),
    (SHA512_PF, HashFormat::Sha),
    (MD5_PLAIN, HashFormat::Md5),
    (MD5_PF, HashFormat::Md5),
    (HMAC_MD4, HashFormat::Hmac),
    (HMAC_MD5, HashFormat::Hmac),
    (HMAC_SHA1, HashFormat::Hmac),
    (HMAC_SHA224, HashFormat::Hmac),
    (HMAC_SHA256, HashFormat::Hmac),
    (HMAC_SHA384, HashFormat::Hmac),
    (HMAC_SHA512, HashFormat::Hmac),
];

/// One test per vector: detected format, right password, wrong password.
macro_rules! vector_tests {
    ($($name:ident => $hash:expr, $format:expr;)*) => {$(
        #[test]
        fn $name() {
            assert_eq!(validate_import($hash).unwrap(), $format, "format of {}", $hash);
            assert!(verify(PW, $hash).unwrap(), "right password rejected by {}", $hash);
            assert!(!verify(WRONG, $hash).unwrap(), "wrong password accepted by {}", $hash);
            assert!(!verify(b"", $hash).unwrap(), "empty password accepted by {}", $hash);
        }
    )*};
}

vector_tests! {
    md5_crypt => MD5_CRYPT, HashFormat::Md5Crypt;
    md5_crypt_short_salt => MD5_CRYPT_SHORT_SALT, HashFormat::Md5Crypt;
    md5_crypt_empty_salt => MD5_CRYPT_EMPTY_SALT, HashFormat::Md5Crypt;
    sha256_crypt => SHA256_CRYPT, HashFormat::Sha256Crypt;
    sha256_crypt_default_rounds => SHA256_CRYPT_DEFAULT_ROUNDS, HashFormat::Sha256Crypt;
    sha256_crypt_salt16 => SHA256_CRYPT_SALT16, HashFormat::Sha256Crypt;
    sha512_crypt => SHA512_CRYPT, HashFormat::Sha512Crypt;
    sha512_crypt_empty_salt => SHA512_CRYPT_EMPTY_SALT, HashFormat::Sha512Crypt;
    sha512_crypt_default_rounds => SHA512_CRYPT_DEFAULT_ROUNDS, HashFormat::Sha512Crypt;
    bcrypt_2a => BCRYPT_2A, HashFormat::Bcrypt;
    bcrypt_2b => BCRYPT_2B, HashFormat::Bcrypt;
    argon2id => ARGON2ID, HashFormat::Argon2id;
    argon2id_two_lanes => ARGON2ID_P2, HashFormat::Argon2id;
    argon2i => ARGON2I, HashFormat::Argon2i;
    pbkdf2_sha1 => PBKDF2_SHA1, HashFormat::Pbkdf2;
    pbkdf2_sha224_is_sha3 => PBKDF2_SHA224, HashFormat::Pbkdf2;
    pbkdf2_sha256 => PBKDF2_SHA256, HashFormat::Pbkdf2;
    pbkdf2_sha384_is_sha3 => PBKDF2_SHA384, HashFormat::Pbkdf2;
    pbkdf2_sha512 => PBKDF2_SHA512, HashFormat::Pbkdf2;
    pbkdf2_unknown_alg_is_sha256 => PBKDF2_UNKNOWN_ALG, HashFormat::Pbkdf2;
    scrypt => SCRYPT, HashFormat::Scrypt;
    scrypt_two_lanes => SCRYPT_P2, HashFormat::Scrypt;
    firebase_scrypt => FIREBASE_SCRYPT, HashFormat::FirebaseScrypt;
    ssha1 => SSHA, HashFormat::Ssha;
    ssha256 => SSHA256, HashFormat::Ssha;
    ssha512 => SSHA512, HashFormat::Ssha;
    sha1_template => SHA1_PF, HashFormat::Sha;
    sha256_template => SHA256_PF, HashFormat::Sha;
    sha512_template => SHA512_PF, HashFormat::Sha;
    md5_plain => MD5_PLAIN, HashFormat::Md5;
    md5_template => MD5_PF, HashFormat::Md5;
    hmac_md4 => HMAC_MD4, HashFormat::Hmac;
    hmac_md5 => HMAC_MD5, HashFormat::Hmac;
    hmac_sha1 => HMAC_SHA1, HashFormat::Hmac;
    hmac_sha224 => HMAC_SHA224, HashFormat::Hmac;
    hmac_sha256 => HMAC_SHA256, HashFormat::Hmac;
    hmac_sha384 => HMAC_SHA384, HashFormat::Hmac;
    hmac_sha512 => HMAC_SHA512, HashFormat::Hmac;
}

#[test]
fn every_vector_is_listed_with_its_format() {
    for (hash, format) in VECTORS {
        assert_eq!(HashFormat::detect(hash), Some(*format), "{hash}");
    }
}

#[test]
fn crypt_quirks_match_openssl() {
    // `openssl passwd -6 -salt 'rounds=10$abc'` prints SHA512_CRYPT (rounds
    // raised to 1000), so the original form must verify too.
    let low_rounds = SHA512_CRYPT.replace("rounds=1000$", "rounds=10$");
    assert!(verify(PW, &low_rounds).unwrap());
    // `openssl passwd -1 -salt saltsalt1234` prints MD5_CRYPT (salt cut at 8).
    let long_salt = MD5_CRYPT.replace("$saltsalt$", "$saltsalt1234$");
    assert!(verify(PW, &long_salt).unwrap());
    // `openssl passwd -5 -salt 0123456789abcdefXYZ` prints SHA256_CRYPT_SALT16.
    let long_salt = SHA256_CRYPT_SALT16.replace("abcdef$", "abcdefXYZ$");
    assert!(verify(PW, &long_salt).unwrap());
    // Explicit default rounds equal omitted rounds.
    let explicit = SHA256_CRYPT_DEFAULT_ROUNDS.replace("crypt$", "crypt$rounds=5000$");
    assert!(verify(PW, &explicit).unwrap());
    // Empty password.
    assert!(verify(b"", MD5_CRYPT_EMPTY_PASSWORD).unwrap());
    assert!(!verify(PW, MD5_CRYPT_EMPTY_PASSWORD).unwrap());
}

#[test]
fn bcrypt_versions_compute_the_same_function() {
    // $2y$, $2z$ and $2$ differ from $2a$ only in the prefix here (as in
    // Kratos, which always appends the terminating NUL to the key).
    for prefix in ["$2y$", "$2z$", "$2$"] {
        let hash = BCRYPT_2A.replacen("$2a$", prefix, 1);
        assert_eq!(
            validate_import(&hash).unwrap(),
            HashFormat::Bcrypt,
            "{hash}"
        );
        assert!(verify(PW, &hash).unwrap(), "{hash}");
        assert!(!verify(WRONG, &hash).unwrap(), "{hash}");
    }
}

#[test]
fn bcrypt_password_length_limit() {
    let max = [b'x'; 72];
    assert!(verify(&max, BCRYPT_72).unwrap());
    assert!(!verify(&max[..71], BCRYPT_72).unwrap());
    let long = [b'x'; 73];
    assert!(matches!(
        verify(&long, BCRYPT_72),
        Err(HashError::PasswordTooLong { max_bytes: 72 })
    ));
    let hasher = Hasher::new(HashAlgorithm::Bcrypt { cost: 4 }).unwrap();
    assert!(matches!(
        hasher.hash(&long),
        Err(HashError::PasswordTooLong { max_bytes: 72 })
    ));
    let hash = hasher.hash(&max).unwrap();
    assert!(verify(&max, &hash).unwrap());
}

fn assert_malformed(hash: &str, format: HashFormat) {
    match validate_import(hash) {
        Err(HashError::Malformed { format: f, .. }) if f == format => {}
        other => panic!("validate_import({hash}) = {other:?}, want Malformed({format})"),
    }
    match verify(PW, hash) {
        Err(HashError::Malformed { format: f, .. }) if f == format => {}
        other => panic!("verify({hash}) = {other:?}, want Malformed({format})"),
    }
}

fn assert_out_of_bounds(hash: &str, format: HashFormat, parameter: &str, value: u64) {
    for (what, result) in [
        ("validate_import", validate_import(hash).map(|_| ())),
        ("verify", verify(PW, hash).map(|_| ())),
    ] {
        match result {
            Err(HashError::OutOfBounds {
                format: f,
                parameter: p,
                value: v,
                ..
            }) if f == format && p == parameter && v == value => {}
            other => panic!("{what}({hash}) = {other:?}, want OutOfBounds({parameter}={value})"),
        }
    }
}

fn assert_unknown(hash: &str) {
    assert!(
        matches!(validate_import(hash), Err(HashError::UnknownFormat)),
        "{hash}"
    );
    assert!(
        matches!(verify(PW, hash), Err(HashError::UnknownFormat)),
        "{hash}"
    );
}

/// Replaces the last character of the `index`-th `$` section of `hash`.
fn with_last_char(hash: &str, index: usize, c: char) -> String {
    let mut parts: Vec<String> = hash.split('$').map(str::to_owned).collect();
    parts[index].pop();
    parts[index].push(c);
    parts.join("$")
}

#[test]
fn unknown_formats() {
    for hash in [
        "",
        "password123",
        "$argon2d$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$UgaOz1yG2mJSuJbnhr8YvCJojZUibNo2Ghm6/oVbkfU",
        "$2x$04$C1SXYwq5Vti73ChsZ4BDx.n7XCLX8z5PosNrC6xn.OxPYaMSg2ufO",
        "$2c$04$C1SXYwq5Vti73ChsZ4BDx.n7XCLX8z5PosNrC6xn.OxPYaMSg2ufO",
        "$1$saltsalt$4WS.Uhxmahm1YZiMsUNcc0",
        "$6$abc$y4X2xRtS4gpYQGXOxXiKJrNzwomb8rcoUUZo3R0zw48K",
        "$pbkdf2-sha$i=1000,l=20$cGJrZGYyc2FsdA$eWRMB6FrG+nOkO6achdIAXiUKH0",
        "$pbkdf2-sha1234$i=1000,l=20$cGJrZGYyc2FsdA$eWRMB6FrG+nOkO6achdIAXiUKH0",
        "$pbkdf2-md5$i=1000,l=20$cGJrZGYyc2FsdA$eWRMB6FrG+nOkO6achdIAXiUKH0",
        "{SHA}mPgDHKrt243BnDxx+hz4w9yGWSs=",
        "{ssha}mPgDHKrt243BnDxx+hz4w9yGWStzc2hhLXNhbHQ=",
        "$sha384$pf=e1NBTFR9e1BBU1NXT1JEfQ==$c2hhc2FsdA==$0xSZMfLOIA3IQy/wY0CXO3OzaXQ=",
        "$hmac-sha3$ZTU1$aG1h",
        " $argon2id$v=19$m=64,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$UgaOz1yG2mJSuJbnhr8YvCJojZUibNo2Ghm6/oVbkfU",
    ] {
        assert_unknown(hash);
    }
}

#[test]
fn argon2_malformed() {
    let f = HashFormat::Argon2id;
    // Missing and extra sections.
    assert_malformed("$argon2id$v=19$m=64,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg", f);
    assert_malformed(
        "$argon2id$m=64,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$UgaOz1yG2mJSuJbnhr8YvCJojZUibNo2Ghm6/oVbkfU",
        f,
    );
    assert_malformed(&format!("{ARGON2ID}$extra"), f);
    // Version other than 19, or not a number.
    assert_malformed(&ARGON2ID.replace("v=19", "v=16"), f);
    assert_malformed(&ARGON2ID.replace("v=19", "v=nineteen"), f);
    assert_malformed(&ARGON2ID.replace("v=19", "19"), f);
    // Parameters: order, missing, extra, non-numeric, signs.
    assert_malformed(&ARGON2ID.replace("m=64,t=2,p=1", "t=2,m=64,p=1"), f);
    assert_malformed(&ARGON2ID.replace("m=64,t=2,p=1", "m=64,t=2"), f);
    assert_malformed(&ARGON2ID.replace("m=64,t=2,p=1", "m=64,t=2,p=1,k=1"), f);
    assert_malformed(&ARGON2ID.replace("m=64,t=2,p=1", "m=64,t=two,p=1"), f);
    assert_malformed(&ARGON2ID.replace("m=64,t=2,p=1", "m=+64,t=2,p=1"), f);
    // Memory below 8 blocks per lane.
    assert_malformed(&ARGON2ID_P2.replace("m=70", "m=15"), f);
    // Bad base64: foreign characters, padding, non-zero trailing bits.
    assert_malformed(
        &ARGON2ID.replace("MDEyMzQ1Njc4OWFiY2RlZg", "MDEyMzQ1Njc4OWFiY2Rl*g"),
        f,
    );
    assert_malformed(
        &ARGON2ID.replace("MDEyMzQ1Njc4OWFiY2RlZg", "MDEyMzQ1Njc4OWFiY2RlZg=="),
        f,
    );
    assert_malformed(&with_last_char(ARGON2ID, 4, 'h'), f);
    assert_malformed(&with_last_char(ARGON2ID, 5, 'V'), f);
    assert_malformed(&format!("{ARGON2ID}="), f);
    // Salt shorter than 8 bytes, key shorter than 4 bytes.
    assert_malformed(&ARGON2ID.replace("MDEyMzQ1Njc4OWFiY2RlZg", "MDEyMzQ1Ng"), f);
    assert_malformed(
        &ARGON2ID.replace("UgaOz1yG2mJSuJbnhr8YvCJojZUibNo2Ghm6/oVbkfU", "UgaO"),
        f,
    );
    assert_malformed(
        &ARGON2ID.replace("UgaOz1yG2mJSuJbnhr8YvCJojZUibNo2Ghm6/oVbkfU", ""),
        f,
    );
    // Same rules for argon2i.
    assert_malformed(&ARGON2I.replace("v=19", "v=16"), HashFormat::Argon2i);
    assert_malformed(&with_last_char(ARGON2I, 4, 'h'), HashFormat::Argon2i);
}

#[test]
fn argon2_out_of_bounds() {
    let f = HashFormat::Argon2id;
    let with = |params: &str| ARGON2ID.replace("m=64,t=2,p=1", params);
    assert_out_of_bounds(&with("m=1048577,t=2,p=1"), f, "m", 1_048_577);
    assert_out_of_bounds(&with("m=0,t=2,p=1"), f, "m", 0);
    assert_out_of_bounds(&with("m=99999999999999999999999,t=2,p=1"), f, "m", u64::MAX);
    assert_out_of_bounds(&with("m=64,t=11,p=1"), f, "t", 11);
    assert_out_of_bounds(&with("m=64,t=0,p=1"), f, "t", 0);
    assert_out_of_bounds(&with("m=1024,t=2,p=17"), f, "p", 17);
    assert_out_of_bounds(&with("m=64,t=2,p=0"), f, "p", 0);
    let i = ARGON2I.replace("m=32,t=3,p=1", "m=2097152,t=3,p=1");
    assert_out_of_bounds(&i, HashFormat::Argon2i, "m", 2_097_152);
    // The largest accepted values pass validation (not computed here).
    assert_eq!(validate_import(&with("m=1048576,t=10,p=16")).unwrap(), f);
}

#[test]
fn bcrypt_malformed_and_out_of_bounds() {
    let f = HashFormat::Bcrypt;
    assert_out_of_bounds(&BCRYPT_2A.replacen("$04$", "$16$", 1), f, "cost", 16);
    assert_out_of_bounds(&BCRYPT_2A.replacen("$04$", "$31$", 1), f, "cost", 31);
    assert_out_of_bounds(&BCRYPT_2A.replacen("$04$", "$03$", 1), f, "cost", 3);
    assert_out_of_bounds(&BCRYPT_2A.replacen("$04$", "$99$", 1), f, "cost", 99);
    assert_malformed(&BCRYPT_2A.replacen("$04$", "$4$", 1), f);
    assert_malformed(&BCRYPT_2A.replacen("$04$", "$0a$", 1), f);
    assert_malformed(&BCRYPT_2A.replacen("$04$", "$004$", 1), f);
    assert_malformed(&BCRYPT_2A[..BCRYPT_2A.len() - 1], f);
    assert_malformed(&format!("{BCRYPT_2A}x"), f);
    assert_malformed(&BCRYPT_2A.replacen('C', "+", 1), f);
    assert_malformed("$2a$04$", f);
    assert_malformed("$2a$04", f);
    assert_malformed("$2$", f);
}

#[test]
fn pbkdf2_malformed_and_out_of_bounds() {
    let f = HashFormat::Pbkdf2;
    assert_out_of_bounds(
        &PBKDF2_SHA256.replace("i=1000", "i=10000001"),
        f,
        "i",
        10_000_001,
    );
    assert_out_of_bounds(&PBKDF2_SHA256.replace("i=1000", "i=0"), f, "i", 0);
    assert_eq!(
        validate_import(&PBKDF2_SHA256.replace("i=1000", "i=10000000")).unwrap(),
        f
    );
    // 65-byte key: over the key length bound.
    // python3 -c "import base64;print(base64.b64encode(b'A'*65).decode().rstrip('='))"
    let long_key =
        "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE";
    let hash = format!("$pbkdf2-sha256$i=1000,l=65$cGJrZGYyc2FsdA${long_key}");
    assert_out_of_bounds(&hash, f, "key length", 65);
    // Missing / extra sections, bad parameters.
    assert_malformed("$pbkdf2-sha256$i=1000,l=32$cGJrZGYyc2FsdA", f);
    assert_malformed(&format!("{PBKDF2_SHA256}$x"), f);
    assert_malformed(&PBKDF2_SHA256.replace("i=1000,l=32", "i=1000"), f);
    assert_malformed(&PBKDF2_SHA256.replace("i=1000,l=32", "l=32,i=1000"), f);
    assert_malformed(&PBKDF2_SHA256.replace("i=1000,l=32", "i=1e3,l=32"), f);
    // Bad base64: padding, foreign characters, trailing bits; empty key.
    assert_malformed(
        &PBKDF2_SHA1.replace(
            "eWRMB6FrG+nOkO6achdIAXiUKH0",
            "eWRMB6FrG+nOkO6achdIAXiUKH0=",
        ),
        f,
    );
    assert_malformed(&PBKDF2_SHA1.replace("cGJrZGYyc2FsdA", "cGJrZGYyc2Fsd_"), f);
    assert_malformed(&with_last_char(PBKDF2_SHA1, 3, 'B'), f);
    assert_malformed(&with_last_char(PBKDF2_SHA1, 4, '1'), f);
    assert_malformed(&PBKDF2_SHA1.replace("eWRMB6FrG+nOkO6achdIAXiUKH0", ""), f);
}

#[test]
fn scrypt_malformed_and_out_of_bounds() {
    let f = HashFormat::Scrypt;
    let with = |params: &str| SCRYPT.replace("ln=1024,r=8,p=1", params);
    assert_out_of_bounds(&with("ln=262144,r=8,p=1"), f, "ln", 262_144);
    assert_out_of_bounds(&with("ln=0,r=8,p=1"), f, "ln", 0);
    assert_out_of_bounds(&with("ln=1024,r=9,p=1"), f, "r", 9);
    assert_out_of_bounds(&with("ln=1024,r=0,p=1"), f, "r", 0);
    assert_out_of_bounds(&with("ln=1024,r=8,p=11"), f, "p", 11);
    assert_out_of_bounds(&with("ln=1024,r=8,p=0"), f, "p", 0);
    assert_eq!(validate_import(&with("ln=131072,r=8,p=10")).unwrap(), f);
    // N must be a power of two above 1; `ln` is N, not log2(N).
    assert_malformed(&with("ln=1000,r=8,p=1"), f);
    assert_malformed(&with("ln=1,r=8,p=1"), f);
    assert_malformed(&with("N=1024,r=8,p=1"), f);
    // Sections.
    assert_malformed("$scrypt$ln=1024,r=8,p=1$c2NyeXB0c2FsdA==", f);
    assert_malformed(&format!("{SCRYPT}$x"), f);
    // Padded strict base64: missing padding, trailing bits, empty key.
    assert_malformed(&SCRYPT.replace("c2NyeXB0c2FsdA==", "c2NyeXB0c2FsdA"), f);
    assert_malformed(&SCRYPT.replace("c2NyeXB0c2FsdA==", "c2NyeXB0c2FsdB=="), f);
    assert_malformed(&SCRYPT.replace("VX4=", "VX5="), f);
    assert_malformed(
        &SCRYPT.replace("ISgA1Y1SZgNtm8smOl+LkiR/kElMFq6r5oZtqQE6VX4=", ""),
        f,
    );
}

#[test]
fn firebase_scrypt_malformed_and_out_of_bounds() {
    let f = HashFormat::FirebaseScrypt;
    let with = |params: &str| FIREBASE_SCRYPT.replace("ln=10,r=8,p=1", params);
    assert_out_of_bounds(&with("ln=18,r=8,p=1"), f, "ln", 18);
    assert_out_of_bounds(&with("ln=0,r=8,p=1"), f, "ln", 0);
    assert_out_of_bounds(&with("ln=10,r=9,p=1"), f, "r", 9);
    assert_out_of_bounds(&with("ln=10,r=8,p=11"), f, "p", 11);
    assert_eq!(validate_import(&with("ln=17,r=8,p=10")).unwrap(), f);
    // Sections: drop the signer key.
    let (head, _) = FIREBASE_SCRYPT.rsplit_once('$').unwrap();
    assert_malformed(head, f);
    // Base64 of the separator without padding / with trailing bits.
    assert_malformed(&FIREBASE_SCRYPT.replace("$AQI=$", "$AQI$"), f);
    assert_malformed(&FIREBASE_SCRYPT.replace("$AQI=$", "$AQJ=$"), f);
    // Hash and signer key lengths differ: can never match.
    assert_malformed(&FIREBASE_SCRYPT.replace("$AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==", "$AAEC"), f);
}

#[test]
fn ssha_malformed() {
    let f = HashFormat::Ssha;
    // Digest without any salt, and bad base64.
    assert_malformed("{SSHA}mPgDHKrt243BnDxx+hz4w9yGWSs=", f);
    assert_malformed("{SSHA256}", f);
    assert_malformed("{SSHA}mPgDHKrt243BnDxx*hz4w9yGWStzc2hhLXNhbHQ=", f);
    assert_malformed(SSHA.trim_end_matches('='), f);
    assert_malformed(&format!("{SSHA512}$"), f);
}

#[test]
fn sha_template_malformed() {
    let f = HashFormat::Sha;
    assert_malformed(&SHA1_PF.replace("pf=", "format="), f);
    assert_malformed(&SHA1_PF.replace("pf=e1NBTFR9e1BBU1NXT1JEfQ==$", ""), f);
    assert_malformed(
        &SHA1_PF.replace("e1NBTFR9e1BBU1NXT1JEfQ==", "e1NBTFR9e1BBU1NXT1JEfQ"),
        f,
    );
    assert_malformed(&SHA1_PF.replace("c2hhc2FsdA==", "c2hhc2FsdA=!"), f);
    // A SHA-1-sized digest under $sha256$.
    assert_malformed(&SHA1_PF.replacen("$sha1$", "$sha256$", 1), f);
    assert_malformed(&format!("{SHA256_PF}$x"), f);
}

#[test]
fn md5_malformed() {
    let f = HashFormat::Md5;
    assert_malformed("$md5$", f);
    assert_malformed("$md5$SCyBHaXVtLxtSX/6mEkeOA", f);
    assert_malformed("$md5$SCyBHaXVtLxtSX/6mEkeOB==", f);
    assert_malformed("$md5$SCyBHaXVtLxtSX/6mEke", f);
    assert_malformed("$md5$a$SCyBHaXVtLxtSX/6mEkeOA==", f);
    assert_malformed(&MD5_PF.replace("pf=", "tpl="), f);
}

#[test]
fn hmac_malformed() {
    let f = HashFormat::Hmac;
    // Missing key section, extra section.
    let (head, _) = HMAC_SHA256.rsplit_once('$').unwrap();
    assert_malformed(head, f);
    assert_malformed(&format!("{HMAC_SHA256}$x"), f);
    // The raw MAC instead of its hex string, upper-case hex, wrong length.
    assert_malformed("$hmac-md5$5VulLH2fA1Ho0tS0ojV+5A==$aG1hYy1zZWNyZXQta2V5", f);
    assert_malformed(
        "$hmac-md5$RTU1QkE1MkM3RDlGMDM1MUU4RDJENEI0QTIzNTdFRTQ=$aG1hYy1zZWNyZXQta2V5",
        f,
    );
    assert_malformed(&HMAC_MD5.replacen("$hmac-md5$", "$hmac-sha1$", 1), f);
    assert_malformed(
        &HMAC_SHA256.replace("$aG1hYy1zZWNyZXQta2V5", "$aG1hYy1zZWNyZXQta2V"),
        f,
    );
}

#[test]
fn crypt_malformed_and_out_of_bounds() {
    let f = HashFormat::Md5Crypt;
    assert_malformed("$md5-crypt$4WS.Uhxmahm1YZiMsUNcc0", f);
    assert_malformed(&format!("{MD5_CRYPT}$"), f);
    assert_malformed(&MD5_CRYPT.replace("Ncc0", "Ncc"), f);
    assert_malformed(&MD5_CRYPT.replace("Ncc0", "Ncc_"), f);

    let f = HashFormat::Sha512Crypt;
    assert_out_of_bounds(
        &SHA512_CRYPT.replace("rounds=1000", "rounds=10000001"),
        f,
        "rounds",
        10_000_001,
    );
    assert_out_of_bounds(
        &SHA512_CRYPT.replace("rounds=1000", "rounds=999999999"),
        f,
        "rounds",
        999_999_999,
    );
    assert_malformed(&SHA512_CRYPT.replace("rounds=1000", "rounds=many"), f);
    assert_malformed(&SHA512_CRYPT.replace("rounds=1000", "cost=1000"), f);
    assert_malformed(&SHA512_CRYPT.replace("5.1Rxm0", "5.1Rxm"), f);
    assert_malformed(&format!("{SHA512_CRYPT}$x"), f);
    assert_malformed("$sha512-crypt$onlyone", f);

    let f = HashFormat::Sha256Crypt;
    assert_out_of_bounds(
        &SHA256_CRYPT.replace("rounds=10000", "rounds=99999999999"),
        f,
        "rounds",
        99_999_999_999,
    );
    assert_malformed(&SHA256_CRYPT.replace("QT8", "QT8x"), f);
    assert_malformed(&SHA256_CRYPT.replace("QT8", "QT="), f);
}

/// Small argon2 parameters so hashing in tests stays fast.
fn small_argon2() -> Argon2Params {
    Argon2Params {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
        salt_length: 16,
        key_length: 32,
    }
}

#[test]
fn hash_round_trips() {
    let hasher = Hasher::new(HashAlgorithm::Argon2id(small_argon2())).unwrap();
    let a = hasher.hash(PW).unwrap();
    let b = hasher.hash(PW).unwrap();
    assert_ne!(a, b, "salts must differ");
    for hash in [&a, &b] {
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{hash}");
        assert_eq!(validate_import(hash).unwrap(), HashFormat::Argon2id);
        assert!(verify(PW, hash).unwrap());
        assert!(!verify(WRONG, hash).unwrap());
    }

    let hasher = Hasher::new(HashAlgorithm::Bcrypt { cost: 4 }).unwrap();
    let hash = hasher.hash(PW).unwrap();
    assert!(hash.starts_with("$2a$04$"), "{hash}");
    assert_eq!(hash.len(), 60);
    assert!(verify(PW, &hash).unwrap());
    assert!(!verify(WRONG, &hash).unwrap());
    assert!(verify(b"", &hasher.hash(b"").unwrap()).unwrap());
}

#[test]
fn argon2_output_matches_reference_params() {
    // Hashing with the vector's parameters yields a hash of the same shape
    // that `needs_rehash` considers current.
    let params = Argon2Params {
        memory_kib: 64,
        iterations: 2,
        parallelism: 1,
        salt_length: 16,
        key_length: 32,
    };
    let hasher = Hasher::new(HashAlgorithm::Argon2id(params)).unwrap();
    assert!(!hasher.needs_rehash(ARGON2ID));
    let hash = hasher.hash(PW).unwrap();
    assert_eq!(hash.len(), ARGON2ID.len());
}

#[test]
fn needs_rehash() {
    let argon = Hasher::new(HashAlgorithm::Argon2id(small_argon2())).unwrap();
    let own = argon.hash(PW).unwrap();
    assert!(!argon.needs_rehash(&own));
    // Other params: each of m, t, p, salt and key length.
    for other in [
        Argon2Params {
            memory_kib: 128,
            ..small_argon2()
        },
        Argon2Params {
            iterations: 2,
            ..small_argon2()
        },
        Argon2Params {
            parallelism: 2,
            ..small_argon2()
        },
        Argon2Params {
            salt_length: 32,
            ..small_argon2()
        },
        Argon2Params {
            key_length: 16,
            ..small_argon2()
        },
    ] {
        let h = Hasher::new(HashAlgorithm::Argon2id(other)).unwrap();
        assert!(argon.needs_rehash(&h.hash(PW).unwrap()));
        assert!(h.needs_rehash(&own));
    }
    // Other formats, argon2i, garbage.
    for hash in [
        ARGON2I,
        BCRYPT_2A,
        PBKDF2_SHA256,
        MD5_CRYPT,
        HMAC_SHA1,
        "",
        "garbage",
    ] {
        assert!(argon.needs_rehash(hash), "{hash}");
    }

    let bcrypt4 = Hasher::new(HashAlgorithm::Bcrypt { cost: 4 }).unwrap();
    assert!(!bcrypt4.needs_rehash(BCRYPT_2A));
    assert!(!bcrypt4.needs_rehash(&BCRYPT_2A.replacen("$2a$", "$2b$", 1)));
    assert!(bcrypt4.needs_rehash(BCRYPT_2B)); // cost 5
    assert!(bcrypt4.needs_rehash(&own));
    assert!(bcrypt4.needs_rehash(SCRYPT));
    let bcrypt5 = Hasher::new(HashAlgorithm::Bcrypt { cost: 5 }).unwrap();
    assert!(!bcrypt5.needs_rehash(BCRYPT_2B));
    assert!(bcrypt5.needs_rehash(BCRYPT_2A));
}

#[test]
fn hasher_rejects_bad_parameters() {
    let bad_argon = [
        Argon2Params {
            memory_kib: 0,
            ..small_argon2()
        },
        Argon2Params {
            memory_kib: 1_048_577,
            ..small_argon2()
        },
        Argon2Params {
            memory_kib: 15,
            parallelism: 2,
            ..small_argon2()
        },
        Argon2Params {
            iterations: 0,
            ..small_argon2()
        },
        Argon2Params {
            iterations: 11,
            ..small_argon2()
        },
        Argon2Params {
            parallelism: 0,
            ..small_argon2()
        },
        Argon2Params {
            parallelism: 17,
            memory_kib: 1024,
            ..small_argon2()
        },
        Argon2Params {
            salt_length: 7,
            ..small_argon2()
        },
        Argon2Params {
            key_length: 15,
            ..small_argon2()
        },
    ];
    for p in bad_argon {
        let result = Hasher::new(HashAlgorithm::Argon2id(p.clone()));
        assert!(
            matches!(result, Err(HashError::InvalidParameters(_))),
            "{p:?} accepted"
        );
    }
    for cost in [0, 3, 16, 31, 32] {
        assert!(
            matches!(
                Hasher::new(HashAlgorithm::Bcrypt { cost }),
                Err(HashError::InvalidParameters(_))
            ),
            "cost {cost} accepted"
        );
    }
}

#[test]
fn defaults() {
    assert_eq!(
        Argon2Params::default(),
        Argon2Params {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
            salt_length: 16,
            key_length: 32,
        }
    );
    assert_eq!(
        HashAlgorithm::default(),
        HashAlgorithm::Argon2id(Argon2Params::default())
    );
    assert_eq!(
        HashAlgorithm::DEFAULT_BCRYPT,
        HashAlgorithm::Bcrypt { cost: 12 }
    );
}

#[test]
fn default_hasher_round_trips() {
    let hasher = Hasher::new(HashAlgorithm::default()).unwrap();
    let hash = hasher.hash(PW).unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(verify(PW, &hash).unwrap());
    assert!(!hasher.needs_rehash(&hash));
    hasher.verify_dummy(PW);
}

#[test]
fn verify_dummy_runs_for_any_input() {
    let hasher = Hasher::new(HashAlgorithm::Bcrypt { cost: 4 }).unwrap();
    hasher.verify_dummy(PW);
    hasher.verify_dummy(b"");
    hasher.verify_dummy(&[b'x'; 100]);
    let clone = hasher.clone();
    clone.verify_dummy(PW);
    assert_eq!(clone.algorithm(), &HashAlgorithm::Bcrypt { cost: 4 });
}

#[test]
fn no_secrets_in_errors_or_debug() {
    let salt = "MDEyMzQ1Njc4OWFiY2RlZg";
    let key = "UgaOz1yG2mJSuJbnhr8YvCJojZUibNo2Ghm6/oVbkfU";
    let bad = [
        ARGON2ID.replace("v=19", "v=16"),
        ARGON2ID.replace("m=64", "m=0"),
        with_last_char(ARGON2ID, 5, 'V'),
    ];
    for hash in &bad {
        let err = verify(PW, hash).unwrap_err();
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains(salt) && !text.contains(&key[..20]), "{text}");
            assert!(!text.contains("password123"), "{text}");
        }
    }
    let hasher = Hasher::new(HashAlgorithm::Argon2id(small_argon2())).unwrap();
    let debug = format!("{hasher:?}");
    assert!(!debug.contains('$'), "{debug}");
}

#[test]
fn argon2_params_serde_shape() {
    // Field names are part of the configuration format.
    let p = Argon2Params::default();
    let fields = format!("{p:?}");
    for name in [
        "memory_kib",
        "iterations",
        "parallelism",
        "salt_length",
        "key_length",
    ] {
        assert!(fields.contains(name));
    }
}
