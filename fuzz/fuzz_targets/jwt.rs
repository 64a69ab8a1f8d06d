//! Fuzz target: JWT-SVID parsing and validation (JWT-1..JWT-20) on arbitrary UTF-8.
//!
//! `UnverifiedJwtSvid::parse_insecure` and `JwtSvid::validate` (against the fixed JWKS of
//! `spiffe://td` from the test vectors, at the vectors' time, for audience `svc`) must not
//! panic. A validated token also parses insecurely to the same values, and `claims()` holds
//! `sub` and `aud` as validated.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use spiffe_core::pki_types::UnixTime;
use spiffe_core::{JwtBundle, JwtSvid, JwtValidationOptions, TrustDomain, UnverifiedJwtSvid};

/// `now` of `spiffe-core/tests/data/jwt/vectors.json`.
const NOW_SECS: u64 = 1_700_000_000;

fn bundle() -> &'static Arc<JwtBundle> {
    static BUNDLE: OnceLock<Arc<JwtBundle>> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let td = TrustDomain::new("td").expect("valid trust domain");
        let jwks = include_bytes!("../../spiffe-core/tests/data/jwt/td.jwks.json");
        Arc::new(JwtBundle::parse_jwks(td, jwks).expect("the checked-in JWKS parses"))
    })
}

fuzz_target!(|token: &str| {
    let unverified = UnverifiedJwtSvid::parse_insecure(token);
    if let Ok(svid) = &unverified {
        let _ = (
            svid.alg(),
            svid.kid(),
            svid.typ(),
            svid.audience(),
            svid.expiry(),
        );
        let _ = (svid.not_before(), svid.claims().len());
        assert_eq!(svid.token(), token);
        assert!(!svid.audience().is_empty(), "JWT-10: aud has a value");
    }

    let opts = JwtValidationOptions::new(UnixTime::since_unix_epoch(Duration::from_secs(NOW_SECS)));
    if let Ok(svid) = JwtSvid::validate(token, bundle(), &["svc"], &opts) {
        let unverified = unverified
            .as_ref()
            .expect("a valid token also parses insecurely");
        assert_eq!(svid.spiffe_id(), unverified.spiffe_id());
        assert_eq!(svid.audience(), unverified.audience());
        assert_eq!(svid.kid(), unverified.kid());
        assert_eq!(svid.token(), token);
        assert_eq!(svid.spiffe_id().trust_domain().as_str(), "td", "JWT-20");
        assert!(svid.audience().iter().any(|aud| aud == "svc"), "JWT-10");
        assert!(svid.expiry().as_secs() > NOW_SECS, "JWT-13: not expired");
        assert!(
            bundle().get(svid.kid()).is_some(),
            "JWT-17: signed by a bundle key"
        );
        let claims = svid.claims();
        assert_eq!(
            claims.get_str("sub"),
            Some(svid.spiffe_id().as_str())
        );
        assert!(claims.contains("aud") && claims.contains("exp"));
    }
});
