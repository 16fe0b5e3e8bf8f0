//! Seller endpoint URLs and the SSRF rule.
//!
//! Souk calls URLs that sellers type in. Without a rule, a seller could make Souk call its own
//! admin port, a cloud metadata service (169.254.169.254) or a neighbour on the private network.
//! So a production URL must be `http(s)://<host name>[:port]/…`, and an address it resolves to
//! must be public, unless the operator allows private endpoints (sandbox, demo, on-premises
//! marketplaces). The name is checked here when the URL is saved; the server checks the resolved
//! addresses again at every call (a name can be re-pointed after it was saved).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A seller endpoint that passed the static checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUrl {
    url: String,
    host: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("the URL must start with https:// (or http://) and name a host, e.g. https://isv.example.com/produce")]
    NotHttp,
    #[error("the URL must not contain a user name or password")]
    Credentials,
    #[error("the URL names an IP address ({0}); use a host name (KooGallery requires one too)")]
    IpLiteral(String),
    #[error("`{0}` is a local or private host; Souk only calls public endpoints unless the operator allows private ones")]
    PrivateHost(String),
    #[error("the URL is too long (at most 1024 characters)")]
    TooLong,
    #[error("the URL must not contain a fragment (#…) or whitespace")]
    Malformed,
}

impl EndpointUrl {
    /// Checks scheme, host and, unless `allow_private`, that the host is not obviously local.
    pub fn parse(s: &str, allow_private: bool) -> Result<EndpointUrl, EndpointError> {
        let s = s.trim();
        if s.len() > 1024 {
            return Err(EndpointError::TooLong);
        }
        if s.contains('#') || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EndpointError::Malformed);
        }
        let lower = s.to_ascii_lowercase();
        let rest = lower
            .strip_prefix("https://")
            .or_else(|| lower.strip_prefix("http://"))
            .ok_or(EndpointError::NotHttp)?;
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        if authority.contains('@') {
            return Err(EndpointError::Credentials);
        }
        let host = if let Some(v6) = authority.strip_prefix('[') {
            v6.split(']').next().unwrap_or("").to_owned()
        } else {
            let (h, port) = authority.rsplit_once(':').unwrap_or((authority, ""));
            if !port.is_empty() && port.parse::<u16>().is_err() {
                return Err(EndpointError::NotHttp);
            }
            h.to_owned()
        };
        if host.is_empty() {
            return Err(EndpointError::NotHttp);
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            if !allow_private {
                return Err(EndpointError::IpLiteral(host));
            }
            return Ok(EndpointUrl {
                url: s.to_owned(),
                host: ip.to_string(),
            });
        }
        let valid_name = host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
        if !valid_name {
            return Err(EndpointError::NotHttp);
        }
        if !allow_private && is_local_name(&host) {
            return Err(EndpointError::PrivateHost(host));
        }
        Ok(EndpointUrl {
            url: s.to_owned(),
            host,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }

    pub fn host(&self) -> &str {
        &self.host
    }
}

fn is_local_name(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host.ends_with(".local")
        || host.ends_with(".internal")
        || !host.contains('.')
}

/// Whether Souk may call this address when private endpoints are not allowed.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let seg0 = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg0 & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (seg0 & 0xffc0) == 0xfe80 // link-local fe80::/10
                || v6 == Ipv6Addr::LOCALHOST)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // carrier-grade NAT 100.64/10
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking 198.18/15
        || o[0] >= 240)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_https_host_names_pass() {
        let u = EndpointUrl::parse("https://isv.example.com:8443/produce?x=1", false).unwrap();
        assert_eq!(u.host(), "isv.example.com");
        assert!(EndpointUrl::parse("http://isv.example.com/produce", false).is_ok());
    }

    #[test]
    fn local_and_private_targets_are_refused_by_default() {
        for url in [
            "http://localhost:8080/x",
            "http://127.0.0.1/x",
            "http://169.254.169.254/latest/meta-data",
            "http://10.0.0.5/x",
            "http://[::1]/x",
            "http://metadata.google.internal/x",
            "http://intranet/x",
            "http://printer.local/x",
        ] {
            assert!(EndpointUrl::parse(url, false).is_err(), "{url}");
        }
        assert!(EndpointUrl::parse("http://127.0.0.1:9000/x", true).is_ok());
        assert!(EndpointUrl::parse("http://localhost:9000/x", true).is_ok());
    }

    #[test]
    fn malformed_urls_are_refused() {
        for url in [
            "ftp://isv.example.com/",
            "isv.example.com/produce",
            "https://user:pw@isv.example.com/",
            "https://isv.example.com/#frag",
            "https://isv example.com/",
            "https://:80/",
            "https://isv.example.com:99999/",
            "https://isv..example.com/",
        ] {
            assert!(EndpointUrl::parse(url, true).is_err(), "{url}");
        }
    }

    #[test]
    fn resolved_addresses_are_classified() {
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(is_public_ip(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public_ip(ip.parse().unwrap()), "{ip}");
        }
    }
}
