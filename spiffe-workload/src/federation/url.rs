//! The bundle endpoint URL (FED-13): `https`, no userinfo; host, port, path and query are free.

use std::fmt;

use hyper::Uri;

use super::FederationError;

/// A checked bundle endpoint URL.
#[derive(Clone, PartialEq, Eq)]
pub struct EndpointUrl {
    uri: Uri,
    host: String,
    port: u16,
}

impl fmt::Debug for EndpointUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EndpointUrl({})", self.uri)
    }
}

impl fmt::Display for EndpointUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.uri.fmt(f)
    }
}

// === impl EndpointUrl ===

impl EndpointUrl {
    /// Checks `url`.
    ///
    /// ```
    /// use spiffe_workload::federation::EndpointUrl;
    /// assert!(EndpointUrl::parse("https://b.example:8443/bundle?v=1").is_ok());
    /// assert!(EndpointUrl::parse("http://b.example/bundle").is_err());
    /// assert!(EndpointUrl::parse("https://user:pw@b.example/").is_err());
    /// ```
    pub fn parse(url: &str) -> Result<Self, FederationError> {
        let invalid = |reason| FederationError::Url { reason };
        let uri: Uri = url.parse().map_err(|_| invalid("not a URL"))?;
        // FED-13: the scheme MUST be https.
        if uri.scheme_str().map(str::to_ascii_lowercase).as_deref() != Some("https") {
            return Err(invalid("the scheme must be https"));
        }
        let authority = uri.authority().ok_or(invalid("no host"))?;
        // FED-13: userinfo MUST NOT be present.
        if authority.as_str().contains('@') {
            return Err(invalid("userinfo is not allowed"));
        }
        let host = authority.host();
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = authority.port_u16().unwrap_or(443);
        Ok(Self { uri, host, port })
    }

    /// The host (an IPv6 address without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port (443 when absent).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The path and query to request (`/` when empty).
    pub fn path_and_query(&self) -> &str {
        self.uri.path_and_query().map_or("/", |p| p.as_str())
    }

    /// The `Host` header value.
    pub(crate) fn authority(&self) -> &str {
        self.uri.authority().map_or("", |a| a.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance_cases() {
        // FED-13, cases 162..164.
        assert!(EndpointUrl::parse("http://host/bundle").is_err());
        assert!(EndpointUrl::parse("https://user:pw@host/bundle").is_err());
        let ok =
            EndpointUrl::parse("https://host:8443/td/bundle.json?v=1").expect("case 164 is valid");
        assert_eq!(
            (ok.host(), ok.port(), ok.path_and_query()),
            ("host", 8443, "/td/bundle.json?v=1")
        );
        let v6 = EndpointUrl::parse("https://[::1]/").expect("an IPv6 host is valid");
        assert_eq!((v6.host(), v6.port()), ("::1", 443));
        assert!(EndpointUrl::parse("not a url").is_err());
    }
}
