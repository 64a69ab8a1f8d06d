//! Fuzz target: Workload API response messages as the client parses them
//! (`spiffe_workload::response`, WAPI-10..26).
//!
//! The first byte picks the message type (`X509SVIDResponse`, `X509BundlesResponse`,
//! `JWTSVIDResponse`, `JWTBundlesResponse`, `ValidateJWTSVIDResponse`); the rest is decoded as
//! protobuf. Parsing must not panic, and what is accepted must hold the standard's shape.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use spiffe_workload::response;
use spiffe_workload::proto;

fuzz_target!(|input: &[u8]| {
    let Some((&kind, body)) = input.split_first() else {
        return;
    };
    match kind % 5 {
        0 => {
            let Ok(message) = proto::X509svidResponse::decode(body) else {
                return;
            };
            let wire_count = message.svids.len();
            if let Ok(context) = response::x509_context(message) {
                // WAPI-12: at least one SVID, all of them kept, in order.
                assert!(!context.svids.is_empty());
                assert_eq!(context.svids.len(), wire_count);
                // WAPI-13: every SVID's own trust domain has a bundle; one bundle per domain.
                for entry in &context.svids {
                    let td = entry.svid.spiffe_id().trust_domain();
                    assert!(context.bundles.iter().any(|b| b.trust_domain() == &td));
                }
                let mut names: Vec<_> = context
                    .bundles
                    .iter()
                    .map(|b| b.trust_domain().clone())
                    .collect();
                names.sort();
                names.dedup();
                assert_eq!(names.len(), context.bundles.len());
            }
        }
        1 => {
            let Ok(message) = proto::X509BundlesResponse::decode(body) else {
                return;
            };
            if let Ok(set) = response::x509_bundles(message) {
                // WAPI-18: never empty; X.509 only (WAPI-17).
                assert!(!set.is_empty());
                assert!(set
                    .iter()
                    .all(|(_, e)| e.x509().is_some() && e.jwt().is_none()));
            }
        }
        2 => {
            let Ok(message) = proto::JwtsvidResponse::decode(body) else {
                return;
            };
            if let Ok(svids) = response::jwt_svids(message) {
                // WAPI-19: at least one, each token's subject is its spiffe_id.
                assert!(!svids.is_empty());
                for svid in svids {
                    let parsed = spiffe_core::UnverifiedJwtSvid::parse_insecure(&svid.token)
                        .expect("accepted tokens parse");
                    assert_eq!(parsed.spiffe_id(), &svid.spiffe_id);
                }
            }
        }
        3 => {
            let Ok(message) = proto::JwtBundlesResponse::decode(body) else {
                return;
            };
            if let Ok(set) = response::jwt_bundles(message) {
                // WAPI-21: never empty; JWT only (WAPI-17).
                assert!(!set.is_empty());
                assert!(set
                    .iter()
                    .all(|(_, e)| e.jwt().is_some() && e.x509().is_none()));
            }
        }
        _ => {
            let Ok(message) = proto::ValidateJwtsvidResponse::decode(body) else {
                return;
            };
            let wire_id = message.spiffe_id.clone();
            if let Ok(validated) = response::validated_jwt_svid(message) {
                // WAPI-22: the ID is the one sent.
                assert_eq!(validated.spiffe_id.as_str(), wire_id);
            }
        }
    }
});
