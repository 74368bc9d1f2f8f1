//! Known vectors for every stored format (made with Django's hashers, passlib, Python's
//! `bcrypt` and `argon2-cffi`; the password is `correct horse battery` unless noted), and the
//! rules around them.

use super::formats::{self, Stored};
use super::*;
use argon2::password_hash::{PasswordHash, PasswordHasher};

const PASSWORD: &str = "correct horse battery";

/// Each format, stored as the system that made it stores it.
const VECTORS: &[(&str, &str)] = &[
    (
        "django pbkdf2_sha256",
        "pbkdf2_sha256$1000$Zu1vSaltValue123$8CsOd8P9KMzmIy8pwpG1QN7Mb1n09vcGpkHxEh14EJg=",
    ),
    (
        "django pbkdf2_sha1",
        "pbkdf2_sha1$1000$anotherSalt42$tqcs2e4A/c2QtCP88yvSXEto41I=",
    ),
    (
        "django argon2 (argon2id)",
        "argon2$argon2id$v=19$m=512,t=2,p=2$+QsVLCtOwvO7wKJNjeV/2Q$70jeNiSLRH5Hu2kVys8HIyCgfQdvh4G4Y3VSfgP53pM",
    ),
    (
        "django argon2 (argon2i)",
        "argon2$argon2i$v=19$m=512,t=2,p=2$AVj5uW9AH2GS+D24z8DaDA$J/fdr/DC16fC/uteJLa1Fz960LrQdYngtbvzqXhdHj0",
    ),
    (
        "argon2id PHC with weak parameters",
        "$argon2id$v=19$m=512,t=2,p=1$D/qZnjano8nBzREOsAGgMg$Nk2jAWzoE+6dKCTq2IY444YTLxxxzmgJl0E01v3vM/E",
    ),
    (
        "django bcrypt_sha256",
        "bcrypt_sha256$$2b$04$VkUhkVZvoe.KxTzTKe2hU.0ds0mNyO1ecDNqAa50sl/oU9gdItE/K",
    ),
    (
        "django bcrypt",
        "bcrypt$$2b$04$hlnVci51MAcwspixKuW1/uB81SMFxB70KNnb2rnS4Yc/fv07qlQwa",
    ),
    ("ldap {SSHA}", "{SSHA}Ifzipuwt+XQz5Jf+rLuS0i7LxAkLAQBA"),
    (
        "ldap {SSHA512}",
        "{SSHA512}nTxX/RBxqJv63Yfp1odEsijLMkV7meXi+UjxM4AeaDMDuJHXIDgBa8NS2vNxgHbdSKTm6ZV1Ph+VSoOO2EzwUkHoPYewlhIi",
    ),
    ("ldap {SHA}", "{SHA}mN7MYuzjmaIu0w1JDvMzvn/ec4U="),
    (
        "ldap {SHA512}",
        "{SHA512}zvYeTk7ae6ii/qoSBhf896UTrZIEQjsl4kO30/VW+ShT6VsVatr/3Zon0OUHNq1qa7zFDOipvTUWL315nomlIQ==",
    ),
    (
        "ldap {CRYPT} bcrypt $2y$",
        "{CRYPT}$2y$04$utokOQq/vErj1.mm4aaLx.GjGSQxvFnXwrlvqaYY5dYYFwReJrcs2",
    ),
    (
        "ldap {CRYPT} bcrypt $2b$",
        "{CRYPT}$2b$05$tiauPnIJiEeejjPo9TUYXuJMhIQDUQv5DfMqoXvMWKQqGdWhAAyBC",
    ),
    (
        "ldap {CRYPT} sha512-crypt",
        "{CRYPT}$6$4xOlclAuHh6gBnm3$VAF3ru7r5SD91gdikOClQ7oaTpz/xlnM5MQxYkJ7afvYMVnDhFUEFoQp5TlxMFP3o4GZUAu448MJxEfBrBr4R/",
    ),
    (
        "ldap {CRYPT} sha512-crypt with rounds",
        "{CRYPT}$6$rounds=10000$CDBgaG4vy3dbA/Ct$BujPbUMuIsMocMARAA6zd.q8hTaYwp4buFso43do3bR3HkMfp7Is0QPm010x/uuib4cZ.Vs.k0WPXG.fCcDxN.",
    ),
    (
        "ldap {CRYPT} sha256-crypt",
        "{CRYPT}$5$0EmN/t/vsgAB1cE2$dIAqjQV1OkLLT0exXl5PZw4BTjf4PRDVPD7hl3HeHH.",
    ),
    (
        "ldap {ARGON2}",
        "{ARGON2}$argon2id$v=19$m=256,t=1,p=1$vJxeMeo01zTRs2xc2lNlMA$ggGm1GzmmD61FuPlwmjjo4DqRtjOOySw+PNgf92uHtU",
    ),
    (
        "bare sha512-crypt",
        "$6$4xOlclAuHh6gBnm3$VAF3ru7r5SD91gdikOClQ7oaTpz/xlnM5MQxYkJ7afvYMVnDhFUEFoQp5TlxMFP3o4GZUAu448MJxEfBrBr4R/",
    ),
];

#[test]
fn every_format_verifies_its_password_and_only_it() {
    for (name, stored) in VECTORS {
        assert!(is_recognised(stored), "{name} is recognised");
        assert!(
            check_blocking(PASSWORD, Some(stored)),
            "{name}: right password"
        );
        assert!(
            !check_blocking("correct horse battery.", Some(stored)),
            "{name}: wrong password"
        );
        assert!(!check_blocking("", Some(stored)), "{name}: empty password");
        assert!(needs_rehash(stored), "{name} is rehashed after a login");
    }
}

#[test]
fn ldap_scheme_names_are_case_insensitive() {
    assert!(check_blocking(
        PASSWORD,
        Some("{ssha}Ifzipuwt+XQz5Jf+rLuS0i7LxAkLAQBA")
    ));
    assert!(check_blocking(
        PASSWORD,
        Some("{crypt}$2y$04$utokOQq/vErj1.mm4aaLx.GjGSQxvFnXwrlvqaYY5dYYFwReJrcs2")
    ));
}

/// alice's real hash from the authentik 2025.12.4 fixture (1,000,000 iterations), with the
/// password the fixture's JSON gives her.
#[test]
fn a_real_authentik_hash_verifies() {
    let stored =
        "pbkdf2_sha256$1000000$JFncCjgkMF2VMA3Puj2O62$p/CGhGX+iAb7xcdv9bX7N9DmzXYbWboxdSO8WI+yZck=";
    assert!(check_blocking("alice-Pw--2025!", Some(stored)));
    assert!(!check_blocking("bob-Pw--2025!", Some(stored)));
}

#[test]
fn unknown_and_malformed_strings_are_not_recognised_and_never_match() {
    let bad = [
        "",
        "!",
        "!unusable",
        "plaintext",
        "md5$salt$2b1b2b1b",
        "{MD5}X03MO1qnZdYdgyfeuILPmQ==",
        "{CLEARTEXT}correct horse battery",
        "correct horse battery",
        "{SSHA}not base64!",
        // A {SHA} digest one byte short; an {SSHA} without salt.
        "{SHA}mN7MYuzjmaIu0w1JDvMzvn/ec4=",
        "{SSHA}mN7MYuzjmaIu0w1JDvMzvn/ec4U=",
        "pbkdf2_sha256$0$salt$8CsOd8P9KMzmIy8pwpG1QN7Mb1n09vcGpkHxEh14EJg=",
        "pbkdf2_sha256$abc$salt$8CsOd8P9KMzmIy8pwpG1QN7Mb1n09vcGpkHxEh14EJg=",
        "pbkdf2_sha256$1000$salt$short",
        "pbkdf2_sha256$1000$Zu1vSaltValue123$8CsOd8P9KMzmIy8pwpG1QN7Mb1n09vcGpkHxEh14EJg=$x",
        // Costs beyond the limits: one stored string must not hold a CPU for minutes.
        "pbkdf2_sha256$4000000000$salt$8CsOd8P9KMzmIy8pwpG1QN7Mb1n09vcGpkHxEh14EJg=",
        "bcrypt$$2b$31$hlnVci51MAcwspixKuW1/uB81SMFxB70KNnb2rnS4Yc/fv07qlQwa",
        "{CRYPT}$6$rounds=999999999$CDBgaG4vy3dbA/Ct$BujPbUMuIsMocMARAA6zd.q8hTaYwp4buFso43do3bR3HkMfp7Is0QPm010x/uuib4cZ.Vs.k0WPXG.fCcDxN.",
        "$argon2id$v=19$m=4194304,t=2,p=1$D/qZnjano8nBzREOsAGgMg$Nk2jAWzoE+6dKCTq2IY444YTLxxxzmgJl0E01v3vM/E",
        "bcrypt$$2b$04$tooshort",
        "{CRYPT}$1$saltsalt$qjXMvbEw8oaL.CzflDugX/",
        "{CRYPT}abJnggxhB/yWI",
        "$argon2id$v=19$m=512,t=2,p=1$D/qZnjano8nBzREOsAGgMg",
        "argon2$bcrypt$x",
        "{ARGON2}not-a-phc",
        "{SSHA",
    ];
    for stored in bad {
        assert!(!is_recognised(stored), "{stored:?} is not recognised");
        assert!(!check_blocking(PASSWORD, Some(stored)), "{stored:?}");
        assert!(!needs_rehash(stored), "{stored:?}");
    }
}

#[test]
fn todays_argon2id_is_kept_and_stronger_parameters_too() {
    let today = hash_blocking(PASSWORD).expect("hash");
    assert!(!needs_rehash(&today));
    let stronger = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, {
        Params::new(32 * 1024, 3, 1, None).expect("params")
    })
    .hash_password(PASSWORD.as_bytes(), &SaltString::generate(&mut OsRng))
    .expect("hash")
    .to_string();
    assert!(check_blocking(PASSWORD, Some(&stronger)));
    assert!(!needs_rehash(&stronger));
    // The same argon2id behind Django's prefix is rewritten to the bare form.
    let prefixed = format!("argon2{today}");
    assert!(check_blocking(PASSWORD, Some(&prefixed)));
    assert!(needs_rehash(&prefixed));
}

#[test]
fn the_parsed_forms_are_what_the_strings_say() {
    assert_eq!(
        formats::parse("{SSHA}Ifzipuwt+XQz5Jf+rLuS0i7LxAkLAQBA").map(|s| match s {
            Stored::LdapDigest { salt, digest, .. } => (salt.len(), digest.len()),
            _ => (0, 0),
        }),
        Some((4, 20))
    );
    assert!(matches!(
        formats::parse(
            "bcrypt_sha256$$2b$04$VkUhkVZvoe.KxTzTKe2hU.0ds0mNyO1ecDNqAa50sl/oU9gdItE/K"
        ),
        Some(Stored::Bcrypt {
            sha256_hex: true,
            ..
        })
    ));
}

#[test]
fn hashes_are_argon2id_and_salted() {
    let a = hash_blocking("correct horse").expect("hash");
    let b = hash_blocking("correct horse").expect("hash");
    assert!(a.starts_with("$argon2id$"));
    assert_ne!(a, b);
}

#[tokio::test]
async fn verify_matches_only_the_right_password() {
    let h = hash_blocking("s3cret").expect("hash");
    assert!(verify("s3cret".into(), Some(h.clone()))
        .await
        .expect("verify"));
    assert!(!verify("wrong".into(), Some(h)).await.expect("verify"));
    assert!(!verify("s3cret".into(), None).await.expect("verify"));
    let (_, ssha) = VECTORS[7];
    assert!(verify(PASSWORD.into(), Some(ssha.into()))
        .await
        .expect("verify"));
}

#[test]
fn the_dummy_has_the_cost_of_a_real_hash() {
    let dummy = PasswordHash::new(dummy_hash()).expect("a PHC string");
    let genuine_text = hash_blocking("x").expect("hash");
    let genuine = PasswordHash::new(&genuine_text).expect("a PHC string");
    assert_eq!(dummy.algorithm, genuine.algorithm, "argon2id");
    assert_eq!(dummy.params, genuine.params, "same memory, time and lanes");
    assert_eq!(dummy_hash(), dummy_hash(), "computed once");
    assert!(PasswordHash::new(DUMMY_FALLBACK).is_ok());
    assert!(is_recognised(dummy_hash()));
}

#[tokio::test]
async fn the_dummy_never_matches_even_its_own_password() {
    // Whatever is typed, a user without a hash is refused.
    assert!(!verify(String::new(), None).await.expect("verify"));
}

#[tokio::test]
async fn hashing_in_kept_memory_agrees_with_the_crate() {
    use argon2::password_hash::{PasswordVerifier, SaltString};
    // Made in a password thread's kept memory, twice (the second reuses it): the crate's own
    // verifier accepts what `hash` makes, and ours what the crate makes.
    for _ in 0..2 {
        let ours = hash("kept memory".into()).await.expect("hash");
        let parsed = PasswordHash::new(&ours).expect("a PHC string");
        assert!(argon2::Argon2::default()
            .verify_password(b"kept memory", &parsed)
            .is_ok());
        assert!(!verify("kept Memory".into(), Some(ours.clone()))
            .await
            .expect("verify"));
    }
    let salt = SaltString::from_b64("c29tZXNhbHRzb21lc2FsdA").expect("salt");
    let theirs = argon2::Argon2::default()
        .hash_password(b"theirs", &salt)
        .expect("hash")
        .to_string();
    assert!(verify("theirs".into(), Some(theirs.clone()))
        .await
        .expect("verify"));
    assert!(!verify("Theirs".into(), Some(theirs)).await.expect("verify"));
}
