//! `SVID.BatchNewX509SVID`, `NewJWTSVID`, `MintX509SVID` and `MintJWTSVID` through a real
//! tonic client: an agent gets SVIDs only for the entries it is authorized for, with the
//! entry's identity whatever its CSR asks; admins mint what their CSR or request names, within
//! the trust domain; every bad input gets SPIRE's status.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod api_support;

use std::sync::Arc;
use std::time::Duration;

use api_support::*;
use spiffe_attest::entry::EntryRules;
use spiffe_attest::Selector;
use spiffe_core::pki_types::UnixTime;
use spiffe_core::{JwtSvid, JwtValidationOptions, TrustDomain};
use spiffe_server::config::ServerSettings;
use spiffe_server::context::ServerContext;
use spiffe_server::testing;
use spire_api_proto::server::svid::v1::svid_client::SvidClient;
use spire_api_proto::server::svid::v1::{
    BatchNewX509svidRequest, MintJwtsvidRequest, MintX509svidRequest, NewJwtsvidRequest,
    NewX509svidParams,
};
use spire_api_proto::types::{self, Spiffeid};
use tonic::transport::Channel;
use tonic::Code;

const AGENT: &str = "spiffe://example.org/spire/agent/join_token/node-1";
const OTHER_AGENT: &str = "spiffe://example.org/spire/agent/join_token/node-2";

async fn agent_client(ctx: &Arc<ServerContext>, dir: &std::path::Path) -> SvidClient<Channel> {
    SvidClient::new(testing::serve_as(ctx.clone(), dir, tls(AGENT, "11")).await)
}

fn param(entry_id: &str, csr: Vec<u8>) -> NewX509svidParams {
    NewX509svidParams {
        entry_id: entry_id.into(),
        csr,
    }
}

fn status_of(
    result: &spire_api_proto::server::svid::v1::batch_new_x509svid_response::Result,
) -> (i32, &str) {
    let status = result.status.as_ref().expect("status");
    (status.code, status.message.as_str())
}

// === BatchNewX509SVID ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_gets_x509_svids_for_its_entries_with_the_entrys_identity() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    attested_agent(&ctx, AGENT, "11", &[]).await;
    let web = entry(&ctx, AGENT, "spiffe://example.org/web", |b| {
        b.dns_names(vec!["web.example.org".into(), "*.web.example.org".into()])
            .x509_svid_ttl(Some(Duration::from_secs(600)))
    })
    .await;
    let db = entry(&ctx, AGENT, "spiffe://example.org/db", |b| b).await;
    let mut client = agent_client(&ctx, dir.path()).await;

    let results = client
        .batch_new_x509svid(BatchNewX509svidRequest {
            params: vec![
                // The CSR asks for another identity: ignored.
                param(
                    web.id().as_str(),
                    csr_with(&["spiffe://example.org/admin"], &["evil.org"]),
                ),
                param(db.id().as_str(), csr()),
            ],
        })
        .await
        .expect("signed")
        .into_inner()
        .results;
    assert_eq!(results.len(), 2);
    assert_eq!(status_of(&results[0]), (0, "OK"));
    assert_eq!(status_of(&results[1]), (0, "OK"));

    let svid = results[0].svid.as_ref().unwrap();
    assert_eq!(
        svid.id,
        Some(Spiffeid {
            trust_domain: "example.org".into(),
            path: "/web".into()
        })
    );
    let web_leaf = leaf(&svid.cert_chain);
    assert_eq!(
        web_leaf.spiffe_id().unwrap(),
        Some(id("spiffe://example.org/web"))
    );
    assert_eq!(
        web_leaf.dns_sans().collect::<Vec<_>>(),
        ["web.example.org", "*.web.example.org"]
    );
    assert_eq!(svid.expires_at as u64, web_leaf.not_after().as_secs());
    let ttl = web_leaf.not_after().as_secs() - UnixTime::now().as_secs();
    assert!((590..=600).contains(&ttl), "entry TTL: {ttl}");

    let db_leaf = leaf(&results[1].svid.as_ref().unwrap().cert_chain);
    assert_eq!(
        db_leaf.spiffe_id().unwrap(),
        Some(id("spiffe://example.org/db"))
    );
    let ttl = db_leaf.not_after().as_secs() - UnixTime::now().as_secs();
    assert!((3590..=3600).contains(&ttl), "default TTL: {ttl}");
    assert_eq!(db_leaf.dns_sans().count(), 0);

    // Chains verify against the trust bundle.
    let bundle = Arc::new(ctx.ca.bundle().x509_authorities().clone());
    for result in &results {
        let chain: Vec<_> = result
            .svid
            .as_ref()
            .unwrap()
            .cert_chain
            .iter()
            .map(|c| c.clone().into())
            .collect();
        spiffe_core::x509::verify(&chain, &bundle, UnixTime::now()).expect("verifies");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_cannot_get_an_svid_for_an_entry_it_is_not_authorized_for() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    attested_agent(&ctx, AGENT, "11", &["join_token:zone:a"]).await;
    attested_agent(&ctx, OTHER_AGENT, "12", &["join_token:zone:b"]).await;
    let mine = entry(&ctx, AGENT, "spiffe://example.org/mine", |b| b).await;
    let theirs = entry(&ctx, OTHER_AGENT, "spiffe://example.org/theirs", |b| b).await;
    // Through a node alias: agents whose node selectors include zone:a.
    let alias = entry(
        &ctx,
        "spiffe://example.org/spire/server",
        "spiffe://example.org/zone-a",
        |b| b.selectors([Selector::parse("join_token:zone:a").unwrap()]),
    )
    .await;
    let under_alias = entry(
        &ctx,
        alias.spiffe_id().as_str(),
        "spiffe://example.org/zonal",
        |b| b,
    )
    .await;
    let mut client = agent_client(&ctx, dir.path()).await;

    let results = client
        .batch_new_x509svid(BatchNewX509svidRequest {
            params: vec![
                param(theirs.id().as_str(), csr()),
                param(mine.id().as_str(), csr()),
                param("no-such-entry", csr()),
                param(under_alias.id().as_str(), csr()),
            ],
        })
        .await
        .expect("answered")
        .into_inner()
        .results;
    let not_found = (Code::NotFound as i32, "entry not found or not authorized");
    assert_eq!(status_of(&results[0]), not_found);
    assert!(results[0].svid.is_none());
    assert_eq!(status_of(&results[1]), (0, "OK"));
    assert_eq!(status_of(&results[2]), not_found);
    assert_eq!(
        status_of(&results[3]),
        (0, "OK"),
        "authorized through the node alias"
    );

    let err = client
        .new_jwtsvid(NewJwtsvidRequest {
            entry_id: theirs.id().as_str().into(),
            audience: vec!["web".into()],
        })
        .await
        .expect_err("not authorized");
    assert_eq!(
        (err.code(), err.message()),
        (Code::NotFound, "entry not found or not authorized")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_items_with_bad_inputs_get_their_own_status() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    attested_agent(&ctx, AGENT, "11", &[]).await;
    let web = entry(&ctx, AGENT, "spiffe://example.org/web", |b| b).await;
    let mut client = agent_client(&ctx, dir.path()).await;

    let err = client
        .batch_new_x509svid(BatchNewX509svidRequest { params: Vec::new() })
        .await
        .expect_err("no params");
    assert_eq!(
        (err.code(), err.message()),
        (Code::InvalidArgument, "missing parameters")
    );

    let id = web.id().as_str();
    let results = client
        .batch_new_x509svid(BatchNewX509svidRequest {
            params: vec![
                param("", csr()),
                param(id, Vec::new()),
                param(id, b"garbage".to_vec()),
                param(id, bad_signature_csr()),
                param(id, csr()),
            ],
        })
        .await
        .expect("answered")
        .into_inner()
        .results;
    let invalid = Code::InvalidArgument as i32;
    assert_eq!(status_of(&results[0]), (invalid, "missing entry ID"));
    assert_eq!(status_of(&results[1]), (invalid, "missing CSR"));
    assert_eq!(status_of(&results[2]).0, invalid);
    assert!(
        status_of(&results[2]).1.starts_with("malformed CSR: "),
        "{:?}",
        results[2]
    );
    assert_eq!(status_of(&results[3]).0, invalid);
    assert!(
        status_of(&results[3])
            .1
            .starts_with("invalid CSR signature: "),
        "{:?}",
        results[3]
    );
    assert_eq!(status_of(&results[4]), (0, "OK"));
    assert!(results[..4].iter().all(|r| r.svid.is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svids_of_a_foreign_trust_domain_cannot_be_issued() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    attested_agent(&ctx, AGENT, "11", &[]).await;
    let td = TrustDomain::new("example.org").unwrap();

    // The entry rules every write goes through refuse a foreign SPIFFE ID.
    let foreign = spiffe_attest::RegistrationEntry::builder(
        entry_id("foreign"),
        id("spiffe://evil.org/web"),
        id(AGENT),
    )
    .selector(Selector::parse("unix:uid:1").unwrap())
    .build()
    .unwrap();
    assert!(EntryRules::new(td).check(&foreign).is_err());

    // And a foreign entry written around them (a corrupt record) still yields no SVID.
    let stored = entry(&ctx, AGENT, "spiffe://evil.org/web", |b| b).await;
    let results = agent_client(&ctx, dir.path())
        .await
        .batch_new_x509svid(BatchNewX509svidRequest {
            params: vec![param(stored.id().as_str(), csr())],
        })
        .await
        .expect("answered")
        .into_inner()
        .results;
    assert_eq!(status_of(&results[0]).0, Code::Internal as i32);
    assert!(
        status_of(&results[0])
            .1
            .starts_with("entry has malformed SPIFFE ID"),
        "{:?}",
        results[0]
    );
    assert!(results[0].svid.is_none());

    // Admins cannot mint one either.
    let mut admin = SvidClient::new(testing::serve_as(ctx.clone(), dir.path(), local()).await);
    let err = admin
        .mint_x509svid(MintX509svidRequest {
            csr: csr_with(&["spiffe://evil.org/web"], &[]),
            ttl: 0,
        })
        .await
        .expect_err("foreign");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().starts_with("CSR URI SAN is invalid: "),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn banned_and_non_agent_callers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    attested_agent(&ctx, AGENT, "11", &[]).await;
    let web = entry(&ctx, AGENT, "spiffe://example.org/web", |b| b).await;
    ctx.datastore.ban_node(&id(AGENT)).await.unwrap();
    ctx.cache.refresh().await.unwrap();
    for caller in [
        tls(AGENT, "11"),
        unauthenticated(),
        local(),
        tls("spiffe://example.org/web", "1"),
    ] {
        let mut client =
            SvidClient::new(testing::serve_as(ctx.clone(), dir.path(), caller.clone()).await);
        let err = client
            .batch_new_x509svid(BatchNewX509svidRequest {
                params: vec![param(web.id().as_str(), csr())],
            })
            .await
            .expect_err("refused");
        assert_eq!(err.code(), Code::PermissionDenied, "{caller}: {err:?}");
        let err = client
            .new_jwtsvid(NewJwtsvidRequest {
                entry_id: web.id().as_str().into(),
                audience: vec!["a".into()],
            })
            .await
            .expect_err("refused");
        assert_eq!(err.code(), Code::PermissionDenied, "{caller}: {err:?}");
    }
}

// === NewJWTSVID ===

fn validate(ctx: &ServerContext, token: &str, audience: &str) -> JwtSvid {
    let bundle = Arc::new(ctx.ca.bundle().jwt_authorities().clone());
    JwtSvid::validate(
        token,
        &bundle,
        &[audience],
        &JwtValidationOptions::new(UnixTime::now()),
    )
    .expect("the token validates")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_gets_jwt_svids_for_its_entries() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = ServerSettings::new(TrustDomain::new("example.org").unwrap());
    settings.jwt_issuer = Some("https://oidc.example.org".into());
    let mut ctx = testing::context_with(dir.path(), settings).await;
    ctx.node_attestors.clear();
    let ctx = Arc::new(ctx);
    attested_agent(&ctx, AGENT, "11", &[]).await;
    let web = entry(&ctx, AGENT, "spiffe://example.org/web", |b| {
        b.jwt_svid_ttl(Some(Duration::from_secs(120)))
    })
    .await;
    let db = entry(&ctx, AGENT, "spiffe://example.org/db", |b| b).await;
    let mut client = agent_client(&ctx, dir.path()).await;

    let svid = client
        .new_jwtsvid(NewJwtsvidRequest {
            entry_id: web.id().as_str().into(),
            audience: vec!["web".into(), "api".into()],
        })
        .await
        .expect("signed")
        .into_inner()
        .svid
        .unwrap();
    let parsed = validate(&ctx, &svid.token, "api");
    assert_eq!(parsed.spiffe_id(), &id("spiffe://example.org/web"));
    assert_eq!(parsed.audience(), ["web", "api"]);
    assert_eq!(
        parsed.claims().get_str("iss"),
        Some("https://oidc.example.org")
    );
    assert_eq!(svid.expires_at as u64, parsed.expiry().as_secs());
    assert_eq!(svid.expires_at - svid.issued_at, 120, "entry TTL");
    assert_eq!(svid.id.as_ref().map(|i| i.path.as_str()), Some("/web"));

    let svid = client
        .new_jwtsvid(NewJwtsvidRequest {
            entry_id: db.id().as_str().into(),
            audience: vec!["db".into()],
        })
        .await
        .expect("signed")
        .into_inner()
        .svid
        .unwrap();
    assert_eq!(svid.expires_at - svid.issued_at, 300, "default JWT TTL");

    let err = client
        .new_jwtsvid(NewJwtsvidRequest {
            entry_id: web.id().as_str().into(),
            audience: Vec::new(),
        })
        .await
        .expect_err("no audience");
    assert_eq!(
        (err.code(), err.message()),
        (Code::InvalidArgument, "at least one audience is required")
    );
    let err = client
        .new_jwtsvid(NewJwtsvidRequest {
            entry_id: String::new(),
            audience: vec!["a".into()],
        })
        .await
        .expect_err("no entry");
    assert_eq!(err.code(), Code::NotFound);
}

/// SPIRE's `jwt_svid_include_jti`: NewJWTSVID for such an entry carries a `jti`, a new one for
/// every token; tokens of other entries carry none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jti_is_in_jwt_svids_only_for_entries_that_ask_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    attested_agent(&ctx, AGENT, "11", &[]).await;
    let with = entry(&ctx, AGENT, "spiffe://example.org/jti", |b| {
        b.jwt_svid_include_jti(true)
    })
    .await;
    let without = entry(&ctx, AGENT, "spiffe://example.org/plain", |b| b).await;
    let mut client = agent_client(&ctx, dir.path()).await;
    let jti = |svid: &JwtSvid| svid.claims().get_str("jti").map(str::to_owned);

    let first = new_jwt(&mut client, &ctx, with.id().as_str()).await;
    let second = new_jwt(&mut client, &ctx, with.id().as_str()).await;
    let (a, b) = (jti(&first).expect("a jti"), jti(&second).expect("a jti"));
    assert_ne!(a, b, "unique per token");
    assert_eq!(a.len(), 22, "a UUID's 16 bytes in base64url, as SPIRE");
    assert_eq!(first.spiffe_id(), &id("spiffe://example.org/jti"));

    let plain = new_jwt(&mut client, &ctx, without.id().as_str()).await;
    assert_eq!(jti(&plain), None);
}

async fn new_jwt(client: &mut SvidClient<Channel>, ctx: &ServerContext, entry_id: &str) -> JwtSvid {
    let svid = client
        .new_jwtsvid(NewJwtsvidRequest {
            entry_id: entry_id.into(),
            audience: vec!["api".into()],
        })
        .await
        .expect("signed")
        .into_inner()
        .svid
        .unwrap();
    validate(ctx, &svid.token, "api")
}

// === MintX509SVID, MintJWTSVID ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_mint_x509_svids_for_what_their_csr_names() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    // An admin over TLS: an admin entry for its SPIFFE ID.
    entry(
        &ctx,
        "spiffe://example.org/spire/server",
        "spiffe://example.org/ops",
        |b| b.admin(true),
    )
    .await;
    for caller in [local(), tls("spiffe://example.org/ops", "1")] {
        let mut client =
            SvidClient::new(testing::serve_as(ctx.clone(), dir.path(), caller.clone()).await);
        let svid = client
            .mint_x509svid(MintX509svidRequest {
                csr: csr_with(&["spiffe://example.org/tool"], &["tool.example.org"]),
                ttl: 900,
            })
            .await
            .expect("minted")
            .into_inner()
            .svid
            .unwrap();
        let minted = leaf(&svid.cert_chain);
        assert_eq!(
            minted.spiffe_id().unwrap(),
            Some(id("spiffe://example.org/tool")),
            "{caller}"
        );
        assert_eq!(minted.dns_sans().collect::<Vec<_>>(), ["tool.example.org"]);
        let ttl = minted.not_after().as_secs() - UnixTime::now().as_secs();
        assert!((890..=900).contains(&ttl), "{ttl}");
    }
    let mut client = SvidClient::new(testing::serve_as(ctx.clone(), dir.path(), local()).await);
    let svid = client
        .mint_x509svid(MintX509svidRequest {
            csr: csr_with(&["spiffe://example.org/tool"], &[]),
            ttl: 0,
        })
        .await
        .expect("minted")
        .into_inner()
        .svid
        .unwrap();
    let ttl = leaf(&svid.cert_chain).not_after().as_secs() - UnixTime::now().as_secs();
    assert!((3590..=3600).contains(&ttl), "default TTL: {ttl}");

    // Neither a workload nor an unauthenticated peer may mint.
    for caller in [tls("spiffe://example.org/web", "1"), unauthenticated()] {
        let err = SvidClient::new(testing::serve_as(ctx.clone(), dir.path(), caller).await)
            .mint_x509svid(MintX509svidRequest {
                csr: csr_with(&["spiffe://example.org/tool"], &[]),
                ttl: 0,
            })
            .await
            .expect_err("refused");
        assert_eq!(err.code(), Code::PermissionDenied);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mint_x509_svid_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    let mut client = SvidClient::new(testing::serve_as(ctx, dir.path(), local()).await);
    let tool = "spiffe://example.org/tool";
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (Vec::new(), "missing CSR"),
        (b"garbage".to_vec(), "malformed CSR: "),
        (bad_signature_csr(), "failed to verify CSR signature: "),
        (csr(), "CSR URI SAN is required"),
        (csr_with(&[tool, "spiffe://example.org/two"], &[]), "only one URI SAN is expected"),
        (csr_with(&["https://example.org/tool"], &[]), "CSR URI SAN is invalid: "),
        (csr_with(&["spiffe://example.org"], &[]), "CSR URI SAN is invalid: \"spiffe://example.org\" is not a workload in trust domain \"example.org\"; path is empty"),
        (
            csr_with(&["spiffe://example.org/spire/agent/x"], &[]),
            "CSR URI SAN is invalid: \"spiffe://example.org/spire/agent/x\" is not a workload in trust domain \"example.org\"; path is in the reserved namespace",
        ),
        (csr_with(&[tool], &["bad_name.example.org"]), "CSR DNS name is invalid: "),
        (
            csr_with(&[tool], &["a.example.org", "*.example.org"]),
            "CSR DNS name contains a wildcard that covers another non-wildcard name",
        ),
    ];
    for (csr, text) in cases {
        let err = client
            .mint_x509svid(MintX509svidRequest { csr, ttl: 0 })
            .await
            .expect_err(text);
        assert_eq!(err.code(), Code::InvalidArgument, "{text}");
        assert!(err.message().starts_with(text), "{text}: {err:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_mint_jwt_svids() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Arc::new(context(dir.path()).await);
    let mut client = SvidClient::new(testing::serve_as(ctx.clone(), dir.path(), local()).await);
    let tool = Some(Spiffeid {
        trust_domain: "example.org".into(),
        path: "/tool".into(),
    });
    let svid = client
        .mint_jwtsvid(MintJwtsvidRequest {
            id: tool.clone(),
            audience: vec!["aud-1".into()],
            ttl: 60,
        })
        .await
        .expect("minted")
        .into_inner()
        .svid
        .unwrap();
    let parsed = validate(&ctx, &svid.token, "aud-1");
    assert_eq!(parsed.spiffe_id(), &id("spiffe://example.org/tool"));
    assert_eq!(svid.expires_at - svid.issued_at, 60);
    assert!(!parsed.claims().contains("iss"), "no jwt_issuer configured");
    assert!(
        !parsed.claims().contains("jti"),
        "MintJWTSVID adds no jti, as SPIRE"
    );

    let spiffe_id = |td: &str, path: &str| {
        Some(types::Spiffeid {
            trust_domain: td.into(),
            path: path.into(),
        })
    };
    for (id, audience, text) in [
        (None, vec!["a".to_owned()], "invalid SPIFFE ID: request must specify SPIFFE ID"),
        (spiffe_id("Bad TD", "/x"), vec!["a".to_owned()], "invalid SPIFFE ID: trust_domain"),
        (spiffe_id("evil.org", "/x"), vec!["a".to_owned()], "invalid SPIFFE ID: \"spiffe://evil.org/x\" is not a member of trust domain \"example.org\""),
        (spiffe_id("example.org", "/spire/server"), vec!["a".to_owned()], "invalid SPIFFE ID: \"spiffe://example.org/spire/server\" is not a workload"),
        (tool.clone(), Vec::new(), "at least one audience is required"),
    ] {
        let err = client
            .mint_jwtsvid(MintJwtsvidRequest { id, audience, ttl: 0 })
            .await
            .expect_err(text);
        assert_eq!(err.code(), Code::InvalidArgument, "{text}");
        assert!(err.message().starts_with(text), "{text}: {err:?}");
    }
}
