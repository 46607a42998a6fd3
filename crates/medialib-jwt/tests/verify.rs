//! Tokens signed here with test keys (`tests/keys/`), verified by the adapter.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use jsonwebtoken::{encode, EncodingKey, Header};
use medialib_domain::TokenVerifier;
use medialib_jwt::{JwtConfig, JwtVerifier, KeySource};
use serde_json::{json, Value};

const SECRET: &str = "a-test-secret-of-32-bytes-length";

fn key_file(name: &str) -> String {
    let path = format!("{}/../../tests/keys/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap()
}

fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

fn hs256(claims: &Value, secret: &str) -> String {
    encode(
        &Header::default(),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn rs256(claims: &Value, kid: Option<&str>) -> String {
    let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    let key = EncodingKey::from_rsa_pem(key_file("test-rsa-private.pem").as_bytes()).unwrap();
    encode(&header, claims, &key).unwrap()
}

fn claims() -> Value {
    json!({ "sub": "alice", "tenant": "default", "role": "admin", "exp": now() + 600 })
}

#[test]
fn hs256_tokens_are_read_and_bad_ones_refused() {
    let verifier = JwtVerifier::new(JwtConfig::new(KeySource::Hs256Secret(SECRET.into()))).unwrap();
    let read = verifier.verify(&hs256(&claims(), SECRET)).unwrap();
    assert_eq!(
        (
            read.tenant.as_str(),
            read.user.as_str(),
            read.role.as_deref()
        ),
        ("default", "alice", Some("admin"))
    );
    let forged = hs256(&claims(), "another-secret-of-32-bytes-len!!");
    assert!(verifier.verify(&forged).is_err());
    let mut expired = claims();
    expired["exp"] = json!(now() - 3600);
    assert!(verifier.verify(&hs256(&expired, SECRET)).is_err());
    let mut no_exp = claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert!(verifier.verify(&hs256(&no_exp, SECRET)).is_err());
    let mut no_tenant = claims();
    no_tenant.as_object_mut().unwrap().remove("tenant");
    assert!(verifier.verify(&hs256(&no_tenant, SECRET)).is_err());
    assert!(verifier.verify("not.a.token").is_err());
    // An RS256 token does not pass an HS256 verifier.
    assert!(verifier.verify(&rs256(&claims(), None)).is_err());
}

#[test]
fn a_short_secret_or_a_bad_key_is_refused_at_startup() {
    assert!(JwtVerifier::new(JwtConfig::new(KeySource::Hs256Secret("short".into()))).is_err());
    assert!(JwtVerifier::new(JwtConfig::new(KeySource::Rs256Pem("not a pem".into()))).is_err());
    assert!(JwtVerifier::new(JwtConfig::new(KeySource::Jwks("{\"keys\": []}".into()))).is_err());
}

#[test]
fn rs256_tokens_verify_with_a_pem_key_or_a_jwks_by_kid() {
    let pem = JwtVerifier::new(JwtConfig::new(KeySource::Rs256Pem(key_file(
        "test-rsa-public.pem",
    ))))
    .unwrap();
    assert_eq!(pem.verify(&rs256(&claims(), None)).unwrap().user, "alice");
    assert!(pem.verify(&hs256(&claims(), SECRET)).is_err());

    let jwks =
        JwtVerifier::new(JwtConfig::new(KeySource::Jwks(key_file("test-jwks.json")))).unwrap();
    assert_eq!(
        jwks.verify(&rs256(&claims(), Some("test-1")))
            .unwrap()
            .tenant,
        "default"
    );
    assert!(jwks.verify(&rs256(&claims(), Some("other"))).is_err());
}

#[test]
fn claim_names_issuer_and_audience_are_configurable() {
    let mut config = JwtConfig::new(KeySource::Hs256Secret(SECRET.into()));
    config.tenant_claim = "org".into();
    config.user_claim = "email".into();
    config.issuer = Some("https://issuer.test/".into());
    config.audience = Some("medialib".into());
    let verifier = JwtVerifier::new(config).unwrap();
    let good = json!({
        "email": "bob@example.com", "org": "acme", "exp": now() + 60,
        "iss": "https://issuer.test/", "aud": "medialib",
    });
    let read = verifier.verify(&hs256(&good, SECRET)).unwrap();
    assert_eq!(
        (read.tenant.as_str(), read.user.as_str(), read.role),
        ("acme", "bob@example.com", None)
    );
    let mut wrong_issuer = good.clone();
    wrong_issuer["iss"] = json!("https://evil.test/");
    assert!(verifier.verify(&hs256(&wrong_issuer, SECRET)).is_err());
    let mut wrong_audience = good;
    wrong_audience["aud"] = json!("someone-else");
    assert!(verifier.verify(&hs256(&wrong_audience, SECRET)).is_err());
}
