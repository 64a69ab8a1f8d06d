//! Workload API endpoint addresses (`SPIFFE_ENDPOINT_SOCKET`), parsed by the Workload Endpoint
//! rules WEP-8..11.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The environment variable holding the endpoint address when none is configured (WEP-8).
pub const ENDPOINT_ENV_VAR: &str = "SPIFFE_ENDPOINT_SOCKET";

/// Where the Workload API is served: a Unix socket (preferred, WEP-3) or a TCP address whose
/// host is an IP address (WEP-11).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EndpointAddress {
    /// `unix:///absolute/path` (or `unix:/absolute/path`).
    Unix(PathBuf),
    /// `tcp://IP:port`.
    Tcp(SocketAddr),
}

/// Why an endpoint address was rejected; `Display` names the rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// No address configured and `SPIFFE_ENDPOINT_SOCKET` unset (WEP-8).
    #[error("no Workload API endpoint configured and SPIFFE_ENDPOINT_SOCKET is unset (WEP-8)")]
    NotConfigured,
    /// `SPIFFE_ENDPOINT_SOCKET` is not valid Unicode (WEP-9).
    #[error("SPIFFE_ENDPOINT_SOCKET is not valid UTF-8 (WEP-9)")]
    EnvNotUnicode,
    /// The value has no URI scheme, e.g. a bare path (WEP-9).
    #[error("endpoint address has no URI scheme; use unix:///path or tcp://IP:port (WEP-9)")]
    MissingScheme,
    /// The scheme is not `unix` or `tcp` (lowercase) (WEP-9).
    #[error("endpoint address scheme must be `unix` or `tcp` (WEP-9)")]
    UnsupportedScheme,
    /// A query or fragment is present (WEP-10, WEP-11).
    #[error("endpoint address must not have a query or fragment ({requirement})")]
    QueryOrFragment {
        /// The rule broken: `WEP-10` (unix) or `WEP-11` (tcp).
        requirement: &'static str,
    },
    /// A `%` escape is malformed or decodes to invalid UTF-8.
    #[error("endpoint address has an invalid percent-encoding (WEP-9)")]
    InvalidPercentEncoding,
    /// A `unix` address has an authority, e.g. `unix://run/agent.sock` (WEP-10).
    #[error("unix endpoint address must not have an authority; use unix:///path (WEP-10)")]
    UnixAuthority,
    /// A `unix` address has no path (WEP-10).
    #[error("unix endpoint address has no socket path (WEP-10)")]
    UnixNoPath,
    /// A `unix` address path is relative (WEP-10).
    #[error("unix endpoint address path must be absolute (WEP-10)")]
    UnixPathNotAbsolute,
    /// A `tcp` address is not of the form `tcp://host:port` (WEP-11).
    #[error("tcp endpoint address must be tcp://IP:port (WEP-11)")]
    TcpNoAuthority,
    /// A `tcp` address has userinfo (WEP-11).
    #[error("tcp endpoint address must not have userinfo (WEP-11)")]
    TcpUserinfo,
    /// A `tcp` address has a path, even `/` (WEP-11).
    #[error("tcp endpoint address must not have a path (WEP-11)")]
    TcpPath,
    /// A `tcp` address host is not an IP address, e.g. `localhost` (WEP-11).
    #[error("tcp endpoint address host must be an IP address (WEP-11)")]
    TcpHostNotIp,
    /// A `tcp` address has no port, or an invalid one (WEP-11).
    #[error("tcp endpoint address must have a valid port (WEP-11)")]
    TcpPort,
}

// === impl EndpointAddress ===

impl EndpointAddress {
    /// Parses an address by WEP-9..11: `unix:` with no authority and an absolute path, or
    /// `tcp://IP:port`, with nothing else (no query, fragment, userinfo, or tcp path).
    pub fn parse(input: &str) -> Result<Self, EndpointError> {
        let Some((scheme, rest)) = input.split_once(':') else {
            return Err(EndpointError::MissingScheme);
        };
        let scheme_chars = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.');
        if !scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            || !scheme.chars().all(scheme_chars)
        {
            return Err(EndpointError::MissingScheme);
        }
        // WEP-9: exactly `unix` or `tcp`; an uppercase scheme is rejected, not folded.
        match scheme {
            "unix" => parse_unix(rest),
            "tcp" => parse_tcp(rest),
            _ => Err(EndpointError::UnsupportedScheme),
        }
    }

    /// The explicitly configured address if any, else `SPIFFE_ENDPOINT_SOCKET` (WEP-8).
    pub fn resolve(explicit: Option<&str>) -> Result<Self, EndpointError> {
        match explicit {
            Some(address) => Self::parse(address),
            None => Self::from_env(),
        }
    }

    /// The address in `SPIFFE_ENDPOINT_SOCKET` (WEP-8).
    pub fn from_env() -> Result<Self, EndpointError> {
        match std::env::var(ENDPOINT_ENV_VAR) {
            Ok(value) => Self::parse(&value),
            Err(std::env::VarError::NotPresent) => Err(EndpointError::NotConfigured),
            Err(std::env::VarError::NotUnicode(_)) => Err(EndpointError::EnvNotUnicode),
        }
    }

    /// The socket path, for a Unix address.
    pub fn unix_path(&self) -> Option<&Path> {
        match self {
            Self::Unix(path) => Some(path),
            Self::Tcp(_) => None,
        }
    }
}

fn parse_unix(rest: &str) -> Result<EndpointAddress, EndpointError> {
    // WEP-10: no query or fragment.
    if rest.contains(['?', '#']) {
        return Err(EndpointError::QueryOrFragment {
            requirement: "WEP-10",
        });
    }
    let path = match rest.strip_prefix("//") {
        Some(after) => {
            let (authority, path) = after.split_at(after.find('/').unwrap_or(after.len()));
            // WEP-10: the authority must be empty (`unix://run/a.sock` names host `run`).
            if !authority.is_empty() {
                return Err(EndpointError::UnixAuthority);
            }
            path
        }
        None => rest,
    };
    if path.is_empty() {
        return Err(EndpointError::UnixNoPath);
    }
    // WEP-10: an absolute path (`unix:agent.sock` is opaque, not a path).
    if !path.starts_with('/') {
        return Err(EndpointError::UnixPathNotAbsolute);
    }
    Ok(EndpointAddress::Unix(PathBuf::from(percent_decode(path)?)))
}

fn parse_tcp(rest: &str) -> Result<EndpointAddress, EndpointError> {
    // WEP-11: no query or fragment.
    if rest.contains(['?', '#']) {
        return Err(EndpointError::QueryOrFragment {
            requirement: "WEP-11",
        });
    }
    let Some(authority) = rest.strip_prefix("//") else {
        return Err(EndpointError::TcpNoAuthority);
    };
    // WEP-11: no path, not even `/`.
    if authority.contains('/') {
        return Err(EndpointError::TcpPath);
    }
    if authority.contains('@') {
        return Err(EndpointError::TcpUserinfo);
    }
    let (ip, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let Some((host, port)) = bracketed.split_once(']') else {
            return Err(EndpointError::TcpHostNotIp);
        };
        let ip = Ipv6Addr::from_str(host).map_err(|_| EndpointError::TcpHostNotIp)?;
        (IpAddr::V6(ip), port.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => {
                // WEP-11: an IP address, never a DNS name.
                let ip = Ipv4Addr::from_str(host).map_err(|_| EndpointError::TcpHostNotIp)?;
                (IpAddr::V4(ip), Some(port))
            }
            None => {
                Ipv4Addr::from_str(authority).map_err(|_| EndpointError::TcpHostNotIp)?;
                (IpAddr::V4(Ipv4Addr::UNSPECIFIED), None)
            }
        }
    };
    // WEP-11: a port is required.
    let port = port
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|p| p.parse::<u16>().ok())
        .ok_or(EndpointError::TcpPort)?;
    Ok(EndpointAddress::Tcp(SocketAddr::new(ip, port)))
}

fn percent_decode(input: &str) -> Result<String, EndpointError> {
    if !input.contains('%') {
        return Ok(input.to_owned());
    }
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(EndpointError::InvalidPercentEncoding)?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| EndpointError::InvalidPercentEncoding)
}

impl FromStr for EndpointAddress {
    type Err = EndpointError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for EndpointAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unix(path) => {
                f.write_str("unix://")?;
                // Percent-encode what would end or confuse the path, so the output parses back.
                for c in path.to_string_lossy().chars() {
                    match c {
                        '%' | '?' | '#' | ' ' => write!(f, "%{:02X}", c as u32)?,
                        c => write!(f, "{c}")?,
                    }
                }
                Ok(())
            }
            Self::Tcp(addr) => write!(f, "tcp://{addr}"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ok(input: &str) -> EndpointAddress {
        EndpointAddress::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"))
    }

    fn err(input: &str) -> EndpointError {
        EndpointAddress::parse(input).expect_err(input)
    }

    #[test]
    fn accepts_spec_vectors() {
        // Cases 145, 146 (WEP-10), 151, 152 (WEP-11).
        assert_eq!(
            ok("unix:///run/spire/sockets/agent.sock"),
            EndpointAddress::Unix("/run/spire/sockets/agent.sock".into())
        );
        assert_eq!(
            ok("unix:/run/agent.sock"),
            EndpointAddress::Unix("/run/agent.sock".into())
        );
        assert_eq!(
            ok("tcp://127.0.0.1:8081"),
            EndpointAddress::Tcp("127.0.0.1:8081".parse().unwrap())
        );
        assert_eq!(
            ok("tcp://[::1]:8081"),
            EndpointAddress::Tcp("[::1]:8081".parse().unwrap())
        );
        assert_eq!(
            ok("unix:///tmp/a%20b.sock"),
            EndpointAddress::Unix("/tmp/a b.sock".into())
        );
    }

    #[test]
    fn rejects_spec_vectors_naming_the_rule() {
        use EndpointError::*;
        let cases: &[(&str, EndpointError)] = &[
            ("unix://run/agent.sock", UnixAuthority), // 147
            ("unix:agent.sock", UnixPathNotAbsolute), // 148
            ("unix:relative/path", UnixPathNotAbsolute),
            ("unix://", UnixNoPath), // 149
            ("unix:", UnixNoPath),
            (
                "unix:///tmp/a.sock?x=1",
                QueryOrFragment {
                    requirement: "WEP-10",
                },
            ), // 150
            (
                "unix:///tmp/a.sock#f",
                QueryOrFragment {
                    requirement: "WEP-10",
                },
            ),
            ("tcp://localhost:8081", TcpHostNotIp), // 153
            ("tcp://127.0.0.1", TcpPort),           // 154
            ("tcp://127.0.0.1:", TcpPort),
            ("tcp://127.0.0.1:99999", TcpPort),
            ("tcp://127.0.0.1:8081/", TcpPath), // 155
            ("tcp://127.0.0.1:8081/foo", TcpPath),
            ("tcp://u@127.0.0.1:8081", TcpUserinfo), // 156
            (
                "tcp://127.0.0.1:8081?x",
                QueryOrFragment {
                    requirement: "WEP-11",
                },
            ),
            (
                "tcp://127.0.0.1:8081#f",
                QueryOrFragment {
                    requirement: "WEP-11",
                },
            ),
            ("tcp:127.0.0.1:8081", TcpNoAuthority),
            ("tcp://::1:8081", TcpHostNotIp),
            ("/run/agent.sock", MissingScheme),           // 157
            ("http://127.0.0.1:8081", UnsupportedScheme), // 158
            ("grpc://127.0.0.1:8081", UnsupportedScheme),
            ("UNIX:///a.sock", UnsupportedScheme),
            ("unix:///a%zz.sock", InvalidPercentEncoding),
        ];
        for (input, expected) in cases {
            assert_eq!(&err(input), expected, "{input}");
        }
        assert!(err("tcp://localhost:8081").to_string().contains("WEP-11"));
        assert!(err("unix:a").to_string().contains("WEP-10"));
    }

    #[test]
    fn explicit_address_wins_and_display_round_trips() {
        // WEP-8, case 159: an explicit address is used without looking at the environment.
        assert_eq!(
            EndpointAddress::resolve(Some("unix:///a.sock")).unwrap(),
            EndpointAddress::Unix("/a.sock".into())
        );
        for input in [
            "unix:///run/agent.sock",
            "tcp://127.0.0.1:8081",
            "tcp://[::1]:1",
        ] {
            assert_eq!(ok(input).to_string(), input);
            assert_eq!(ok(&ok(input).to_string()), ok(input));
        }
    }

    #[test]
    fn falls_back_to_the_environment() {
        // The only test touching this variable. WEP-8, cases 159 and 160.
        std::env::set_var(ENDPOINT_ENV_VAR, "tcp://127.0.0.1:1");
        assert_eq!(
            EndpointAddress::resolve(None).unwrap(),
            EndpointAddress::Tcp("127.0.0.1:1".parse().unwrap())
        );
        assert_eq!(
            EndpointAddress::resolve(Some("unix:///a.sock")).unwrap(),
            EndpointAddress::Unix("/a.sock".into())
        );
        std::env::remove_var(ENDPOINT_ENV_VAR);
        assert_eq!(
            EndpointAddress::resolve(None).unwrap_err(),
            EndpointError::NotConfigured
        );
    }
}
