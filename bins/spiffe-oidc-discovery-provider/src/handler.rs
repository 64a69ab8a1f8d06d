//! The two documents, as SPIRE's handler serves them:
//!
//! - `GET <prefix>/.well-known/openid-configuration`: the discovery document. The issuer and
//!   `jwks_uri` are `jwt_issuer`/`jwks_uri` when configured, else built from the request's host
//!   (`X-Forwarded-Host` first, as gorilla's `ProxyHeaders`) and scheme (`https`, or `http` for a
//!   plain request when `allow_insecure_scheme` is set and no proxy says `https`). The host must
//!   be in `domains`, else 400.
//! - `GET <prefix>/keys`: the JWKS, never cached by clients; 500 before the first successful
//!   poll, 501 when the trust domain has no JWT authority. Not subject to `domains`, as in SPIRE.
//!
//! Everything else is 404; another method on either path is 405.

use bytes::Bytes;
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, HOST};
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri};
use http_body_util::Full;
use serde::Serialize;

use crate::config::Settings;
use crate::domain::DomainAllowlist;
use crate::httpdate::format_http_date;
use crate::jwks::SharedKeys;

/// `id_token_signing_alg_values_supported`, as SPIRE advertises.
const SIGNING_ALGS: [&str; 3] = ["RS256", "ES256", "ES384"];

/// The response body type.
pub type Body = Full<Bytes>;

/// The discovery document (OpenID Connect Discovery 1.0 §3, the members SPIRE fills).
#[derive(Debug, Serialize)]
struct DiscoveryDocument<'a> {
    issuer: String,
    jwks_uri: String,
    authorization_endpoint: &'a str,
    response_types_supported: [&'a str; 1],
    subject_types_supported: [&'a str; 1],
    id_token_signing_alg_values_supported: [&'a str; 3],
}

/// Serves the discovery document and the keys.
#[derive(Debug, Clone)]
pub struct Handler {
    domains: DomainAllowlist,
    allow_insecure_scheme: bool,
    set_key_use: bool,
    jwt_issuer: Option<Uri>,
    jwks_uri: Option<Uri>,
    prefix: String,
    well_known_path: String,
    keys_path: String,
    keys: SharedKeys,
    log_requests: bool,
}

/// `url.JoinPath(prefix, rel)` for an absolute prefix.
fn join_path(prefix: &str, rel: &str) -> String {
    format!(
        "{}/{}",
        prefix.trim_end_matches('/'),
        rel.trim_start_matches('/')
    )
}

/// A URL without trailing slash noise: `scheme://authority` + `path`.
fn url(scheme: &str, authority: &str, path: &str) -> String {
    format!("{scheme}://{authority}{path}")
}

fn text(status: StatusCode, message: &str) -> Response<Body> {
    // Go's http.Error: the message and a newline, as plain text.
    let mut response = Response::new(Full::new(Bytes::from(format!("{message}\n"))));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn json(body: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    response
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

/// The scheme a proxy reports (gorilla's `ProxyHeaders`: `X-Forwarded-Proto`, then
/// `X-Forwarded-Scheme`, then `Forwarded: proto=`), lowercased.
fn forwarded_scheme(headers: &HeaderMap) -> Option<String> {
    if let Some(s) = header(headers, "x-forwarded-proto").or(header(headers, "x-forwarded-scheme"))
    {
        return Some(s.to_ascii_lowercase());
    }
    let forwarded = header(headers, "forwarded")?;
    // The first element's `proto` parameter.
    let first = forwarded.split(',').next()?;
    first.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("proto")
            .then(|| v.trim().trim_matches('"').to_ascii_lowercase())
    })
}

impl Handler {
    /// A handler for `settings`, serving the keys in `keys`.
    pub fn new(settings: &Settings, keys: SharedKeys) -> Self {
        let prefix = settings.server_path_prefix.clone();
        Handler {
            domains: settings.domains.clone(),
            allow_insecure_scheme: settings.allow_insecure_scheme,
            set_key_use: settings.set_key_use,
            jwt_issuer: settings.jwt_issuer.clone(),
            jwks_uri: settings.jwks_uri.clone(),
            well_known_path: join_path(&prefix, ".well-known/openid-configuration"),
            keys_path: join_path(&prefix, "keys"),
            prefix,
            keys,
            log_requests: settings.log_requests,
        }
    }

    /// Answers one request; `tls` says whether it arrived over TLS.
    pub fn handle<B>(&self, request: &Request<B>, tls: bool) -> Response<Body> {
        if self.log_requests {
            tracing::debug!(
                method = %request.method(),
                url = %request.uri(),
                "Incoming request"
            );
        }
        let path = request.uri().path();
        if path == self.well_known_path {
            self.well_known(request, tls)
        } else if path == self.keys_path {
            self.serve_keys(request)
        } else {
            text(StatusCode::NOT_FOUND, "404 page not found")
        }
    }

    fn well_known<B>(&self, request: &Request<B>, tls: bool) -> Response<Body> {
        if request.method() != Method::GET {
            return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        }
        let headers = request.headers();
        let host = header(headers, "x-forwarded-host")
            .map(str::to_owned)
            .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()))
            .or_else(|| header(headers, HOST.as_str()).map(str::to_owned))
            .unwrap_or_default();
        if let Err(error) = self.domains.check(&host) {
            return text(StatusCode::BAD_REQUEST, &error.to_string());
        }
        let proxied_https = forwarded_scheme(headers).as_deref() == Some("https");
        let scheme = if self.allow_insecure_scheme && !tls && !proxied_https {
            "http"
        } else {
            "https"
        };
        let issuer = match &self.jwt_issuer {
            Some(issuer) => issuer.to_string(),
            None if self.prefix != "/" => url(scheme, &host, &self.prefix),
            None => url(scheme, &host, ""),
        };
        let jwks_uri = match (&self.jwks_uri, &self.jwt_issuer) {
            (Some(uri), _) => uri.to_string(),
            // As SPIRE (until its 1.13): the keys under the issuer's path.
            (None, Some(issuer)) => url(
                issuer.scheme_str().unwrap_or("https"),
                issuer.authority().map_or("", |a| a.as_str()),
                &join_path(issuer.path(), "keys"),
            ),
            (None, None) => url(scheme, &host, &self.keys_path),
        };
        let doc = DiscoveryDocument {
            issuer,
            jwks_uri,
            authorization_endpoint: "",
            response_types_supported: ["id_token"],
            subject_types_supported: ["public"],
            id_token_signing_alg_values_supported: SIGNING_ALGS,
        };
        match serde_json::to_vec_pretty(&doc) {
            Ok(body) => json(body),
            Err(_) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "failed to marshal document",
            ),
        }
    }

    fn serve_keys<B>(&self, request: &Request<B>) -> Response<Body> {
        if request.method() != Method::GET {
            return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        }
        let Some((keys, modified)) = self.keys.current() else {
            return text(StatusCode::INTERNAL_SERVER_ERROR, "document not available");
        };
        if keys.is_empty() {
            return text(
                StatusCode::NOT_IMPLEMENTED,
                "jwt not supported/enabled in this service",
            );
        }
        let mut response = json(keys.to_json(self.set_key_use));
        let headers = response.headers_mut();
        headers.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("no-cache, no-store, must-revalidate"),
        );
        headers.insert("pragma", HeaderValue::from_static("no-cache"));
        headers.insert("expires", HeaderValue::from_static("0"));
        if let Ok(value) = HeaderValue::from_str(&format_http_date(modified)) {
            headers.insert("last-modified", value);
        }
        response
    }
}

/// `/live` and `/ready` on the health listener, as SPIRE's: ready while the last successful
/// poll is within the threshold; live too, and also before the first poll until the threshold
/// has passed since start.
#[derive(Debug, Clone)]
pub struct HealthHandler {
    keys: SharedKeys,
    live_path: String,
    ready_path: String,
    threshold: std::time::Duration,
    started: std::time::Instant,
}

/// How long after the last successful poll the provider still counts as healthy: five poll
/// intervals, at least three minutes (SPIRE's README).
pub fn health_threshold(poll_interval: std::time::Duration) -> std::time::Duration {
    (poll_interval * 5).max(std::time::Duration::from_secs(180))
}

impl HealthHandler {
    /// The health endpoints at `live_path` and `ready_path`.
    pub fn new(
        keys: SharedKeys,
        live_path: String,
        ready_path: String,
        threshold: std::time::Duration,
    ) -> Self {
        HealthHandler {
            keys,
            live_path,
            ready_path,
            threshold,
            started: std::time::Instant::now(),
        }
    }

    /// Answers one health request.
    pub fn handle<B>(&self, request: &Request<B>) -> Response<Body> {
        let path = request.uri().path();
        let (is_ready, is_live) = (path == self.ready_path, path == self.live_path);
        if !is_ready && !is_live {
            return text(StatusCode::NOT_FOUND, "404 page not found");
        }
        if request.method() != Method::GET {
            return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        }
        let last = self.keys.last_successful_poll();
        let fresh = last.is_some_and(|t| t.elapsed() < self.threshold);
        let healthy = if is_ready {
            fresh
        } else {
            fresh || (last.is_none() && self.started.elapsed() < self.threshold)
        };
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = if healthy {
            StatusCode::OK
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_as_go() {
        assert_eq!(join_path("/", "keys"), "/keys");
        assert_eq!(join_path("/instance/1", "keys"), "/instance/1/keys");
        assert_eq!(join_path("/instance/1/", "/keys"), "/instance/1/keys");
        assert_eq!(join_path("", "keys"), "/keys");
    }

    #[test]
    fn forwarded_schemes() {
        let mut h = HeaderMap::new();
        assert_eq!(forwarded_scheme(&h), None);
        h.insert(
            "forwarded",
            HeaderValue::from_static("for=1.2.3.4;proto=HTTPS, proto=http"),
        );
        assert_eq!(forwarded_scheme(&h).as_deref(), Some("https"));
        h.insert("x-forwarded-scheme", HeaderValue::from_static("http"));
        assert_eq!(forwarded_scheme(&h).as_deref(), Some("http"));
        h.insert("x-forwarded-proto", HeaderValue::from_static("Https"));
        assert_eq!(forwarded_scheme(&h).as_deref(), Some("https"));
    }

    #[test]
    fn issuer_urls_from_odd_hosts_are_uris() {
        let settings = Settings::parse(
            "domains = [\"localhost\"]\ninsecure_addr = \":1\"\nserver_api { address = \"unix:///x\" }\n",
        )
        .expect("valid config");
        let handler = Handler::new(&settings, SharedKeys::new());
        for host in ["localhost", "localhost:", "localhost:0", "localhost:65535"] {
            let request = Request::get("/.well-known/openid-configuration")
                .header("host", host)
                .body(())
                .expect("a request");
            let response = handler.handle(&request, false);
            assert_eq!(response.status(), StatusCode::OK, "{host}");
        }
        for host in [
            "localhost:x",
            "localhost:1:2",
            "[localhost]:1",
            "localhost/x",
        ] {
            let request = Request::get("/.well-known/openid-configuration")
                .header("host", host)
                .body(())
                .expect("a request");
            let response = handler.handle(&request, false);
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{host}");
        }
        for issuer in ["https://localhost:", "https://localhost:0"] {
            let uri: Uri = issuer.parse().expect("an absolute URI");
            assert_eq!(uri.host(), Some("localhost"));
        }
    }

    #[test]
    fn threshold_is_five_intervals_at_least_three_minutes() {
        use std::time::Duration;
        assert_eq!(
            health_threshold(Duration::from_secs(10)),
            Duration::from_secs(180)
        );
        assert_eq!(
            health_threshold(Duration::from_secs(60)),
            Duration::from_secs(300)
        );
    }
}
