//! Fuzz target: the OIDC discovery provider's request handling
//! (`spiffe_oidc_discovery_provider::handler::Handler`), which reads the untrusted `Host`,
//! `X-Forwarded-Host`, `X-Forwarded-Proto` and `Forwarded` headers and the path, checks the
//! host against the `domains` allow-list and builds URLs from it.
//!
//! Input: a config selector byte, then newline-separated fields: path, Host,
//! X-Forwarded-Host, X-Forwarded-Proto, Forwarded (absent or empty fields are not sent).
//! Invariants: no panic; a 200 discovery document is JSON whose issuer and jwks_uri are
//! absolute URIs, and, when they are built from the request, whose host is an allowed domain;
//! a 400 comes only from the discovery path.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use spiffe_oidc_discovery_provider::config::Settings;
use spiffe_oidc_discovery_provider::handler::Handler;
use spiffe_oidc_discovery_provider::jwks::SharedKeys;

const BASE: &str = "domains = [\"oidc.example.org\", \"localhost\", \"127.0.0.1\"]\ninsecure_addr = \"127.0.0.1:1\"\nserver_api { address = \"unix:///nonexistent.sock\" }\n";
const VARIANTS: [&str; 3] = [
    "allow_insecure_scheme = true\n",
    "server_path_prefix = \"/instance/1\"\n",
    "jwt_issuer = \"https://issuer.example.org/td\"\n",
];

fn handlers() -> &'static Vec<(Handler, bool)> {
    static HANDLERS: OnceLock<Vec<(Handler, bool)>> = OnceLock::new();
    HANDLERS.get_or_init(|| {
        VARIANTS
            .iter()
            .map(|extra| {
                let settings = Settings::parse(&format!("{BASE}{extra}")).expect("valid config");
                let from_request = settings.jwt_issuer.is_none();
                (Handler::new(&settings, SharedKeys::new()), from_request)
            })
            .collect()
    })
}

fuzz_target!(|input: &[u8]| {
    let Some((&selector, rest)) = input.split_first() else {
        return;
    };
    let (handler, from_request) = &handlers()[usize::from(selector) % VARIANTS.len()];
    let mut fields = rest.splitn(5, |b| *b == b'\n');
    let path = fields.next().unwrap_or_default();
    let Ok(path) = std::str::from_utf8(path) else {
        return;
    };
    let mut request = http::Request::get(if path.is_empty() { "/" } else { path });
    for name in ["host", "x-forwarded-host", "x-forwarded-proto", "forwarded"] {
        match fields.next() {
            Some(value) if !value.is_empty() => request = request.header(name, value),
            _ => {}
        }
    }
    let Ok(request) = request.body(()) else {
        return;
    };
    let tls = selector & 0x80 != 0;
    let response = handler.handle(&request, tls);
    let status = response.status().as_u16();
    let well_known = request
        .uri()
        .path()
        .ends_with("/.well-known/openid-configuration");
    assert!(status != 400 || well_known, "400 outside discovery");
    if status == 200 && well_known {
        let body = full_body(response.into_body());
        let doc: serde_json::Value = serde_json::from_slice(&body).expect("JSON document");
        for member in ["issuer", "jwks_uri"] {
            let url = doc[member].as_str().expect("a string");
            let uri: http::Uri = url.parse().expect("an absolute URI");
            assert!(uri.scheme().is_some(), "{member} has a scheme");
            if *from_request {
                let host = uri.host().expect("a host");
                assert!(
                    ["oidc.example.org", "localhost", "127.0.0.1"].contains(&host),
                    "{member} host {host:?} is not an allowed domain"
                );
            }
        }
    }
});

/// The bytes of a `Full` body (ready at once: polled with a no-op waker).
fn full_body(body: http_body_util::Full<bytes::Bytes>) -> Vec<u8> {
    use std::future::Future as _;

    use http_body_util::BodyExt as _;
    let mut collect = std::pin::pin!(body.collect());
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    match collect.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(Ok(collected)) => collected.to_bytes().to_vec(),
        _ => panic!("a Full body is ready at once"),
    }
}
