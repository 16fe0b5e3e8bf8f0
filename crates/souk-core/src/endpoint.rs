//! Seller endpoint URLs and the SSRF rule.
//!
//! Souk calls URLs that sellers type in. Without a rule, a seller could make Souk call its own
//! admin port, a cloud metadata service (169.254.169.254) or a neighbour on the private network.
//! So a production URL must be `http(s)://<host name>[:port]/…`, and an address it resolves to
//! must be public, unless the operator allows private endpoints (sandbox, demo, on-premises
//! marketplaces).
//!
//! The URL is parsed with the WHATWG parser of the `url` crate, the very parser the HTTP client
//! uses, so what is checked here is what would be connected to: `127.1`, `0x7f.1`, `0177.0.0.1`
//! or `169.254.43518` are IPv4 addresses to both, not host names. The name is checked here when
//! the URL is saved; the server checks the parsed host again at every call, and every address a
//! name resolves to at connection time (a name can be re-pointed after it was saved).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use url::{Host, Url};

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

/// Where a parsed URL would connect: an address written in the URL, or a name to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Ip(IpAddr),
    Name(String),
}

impl EndpointUrl {
    /// Checks scheme, host and, unless `allow_private`, that the host is not an address and not
    /// obviously local.
    pub fn parse(s: &str, allow_private: bool) -> Result<EndpointUrl, EndpointError> {
        let s = s.trim();
        if s.len() > 1024 {
            return Err(EndpointError::TooLong);
        }
        if s.contains('#') || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EndpointError::Malformed);
        }
        let parsed = parse_http(s)?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(EndpointError::Credentials);
        }
        let host = match target(&parsed)? {
            Target::Ip(ip) => {
                if !allow_private {
                    return Err(EndpointError::IpLiteral(ip.to_string()));
                }
                ip.to_string()
            }
            Target::Name(name) => {
                let valid_name = name.trim_end_matches('.').split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
                if !valid_name {
                    return Err(EndpointError::NotHttp);
                }
                if !allow_private && is_local_name(&name) {
                    return Err(EndpointError::PrivateHost(name));
                }
                name
            }
        };
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

/// Parses an http(s) URL exactly as the HTTP client will.
pub fn parse_http(s: &str) -> Result<Url, EndpointError> {
    let parsed = Url::parse(s).map_err(|_| EndpointError::NotHttp)?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.fragment().is_some() {
        return Err(EndpointError::NotHttp);
    }
    Ok(parsed)
}

/// What a parsed http(s) URL connects to.
pub fn target(url: &Url) -> Result<Target, EndpointError> {
    match url.host() {
        Some(Host::Ipv4(v4)) => Ok(Target::Ip(IpAddr::V4(v4))),
        Some(Host::Ipv6(v6)) => Ok(Target::Ip(IpAddr::V6(v6))),
        Some(Host::Domain(d)) if !d.is_empty() => Ok(Target::Name(d.to_ascii_lowercase())),
        _ => Err(EndpointError::NotHttp),
    }
}

/// The check made just before connecting: an address written in the URL must be public unless
/// private endpoints are allowed (names are checked address by address by the resolver).
pub fn check_before_connect(url: &Url, allow_private: bool) -> Result<(), EndpointError> {
    if !url.username().is_empty() || url.password().is_some() {
        return Err(EndpointError::Credentials);
    }
    match target(url)? {
        Target::Ip(ip) if !allow_private && !is_public_ip(ip) => {
            Err(EndpointError::PrivateHost(ip.to_string()))
        }
        Target::Name(name) if !allow_private && is_local_name(&name) => {
            Err(EndpointError::PrivateHost(name))
        }
        _ => Ok(()),
    }
}

fn is_local_name(host: &str) -> bool {
    let host = host.trim_end_matches('.');
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
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v6(v6: Ipv6Addr) -> bool {
    let seg = v6.segments();
    // IPv4 written inside IPv6: mapped ::ffff:a.b.c.d, compatible ::a.b.c.d, NAT64 64:ff9b::/96
    // and 6to4 2002:aabb:ccdd::/48 reach the embedded IPv4 address; judge that one.
    if let Some(v4) = v6.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from(((hi as u32) << 16) | lo as u32);
    if seg[..6] == [0, 0, 0, 0, 0, 0] {
        // ::/96 (compatible; :: and ::1 included) is never a public address to call.
        return false;
    }
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded(seg[6], seg[7]));
    }
    if seg[0] == 0x2002 {
        return is_public_v4(embedded(seg[1], seg[2]));
    }
    !(v6.is_multicast()
        || (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (seg[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (seg[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated, still routed inside)
        || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation 2001:db8::/32
        || (seg[0] == 0x2001 && seg[1] == 0) // Teredo 2001::/32 tunnels to an obfuscated IPv4
        || (seg[0] == 0x0100 && seg[1..4] == [0, 0, 0]) // discard 100::/64
        || (seg[0] == 0x0064 && seg[1] == 0xff9b && seg[2] == 1)) // local NAT64 64:ff9b:1::/48
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
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments 192.0.0/24
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

    /// Every way of writing a local or private address that the WHATWG parser (and so the HTTP
    /// client) reads as an IP: short forms, octal, hex, padded, mixed, IPv6 with IPv4 inside.
    pub(crate) const DISGUISED_PRIVATE_HOSTS: &[&str] = &[
        // the 13 forms an independent probe got through
        "127.1",
        "127.0.1",
        "0x7f.1",
        "0x7f.0.0.1",
        "0177.0.0.1",
        "0177.1",
        "127.000.000.001",
        "0.0",
        "169.254.43518",
        "0251.0376.0251.0376",
        "0xa9.0xfe.0xa9.0xfe",
        "10.1",
        "192.168.1",
        // and the forms refused before
        "127.0.0.1",
        "127.1.2.3",
        "2130706433",
        "0x7f000001",
        "017700000001",
        "0",
        "0.0.0.0",
        "10.0.0.5",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.0.1",
        "169.254.169.254",
        "2852039166",
        "100.64.0.1",
        "198.18.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "[::1]",
        "[::]",
        "[0:0:0:0:0:0:0:1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[::ffff:169.254.169.254]",
        "[::127.0.0.1]",
        "[::a9fe:a9fe]",
        "[64:ff9b::7f00:1]",
        "[64:ff9b::a9fe:a9fe]",
        "[2002:7f00:1::]",
        "[2002:a9fe:a9fe::1]",
        "[fe80::1]",
        "[fd00::1]",
        "[fc00::1]",
        "[fec0::1]",
        "[ff02::1]",
        "localhost",
        "localhost.",
        "LOCALHOST",
        "api.localhost",
        "metadata.google.internal",
        "intranet",
        "printer.local",
    ];

    #[test]
    fn disguised_private_hosts_are_refused_at_save_and_before_connect() {
        for host in DISGUISED_PRIVATE_HOSTS {
            for scheme in ["http", "https"] {
                let url = format!("{scheme}://{host}:8080/produce");
                let err = EndpointUrl::parse(&url, false);
                assert!(err.is_err(), "saved: {url}");
                let parsed = parse_http(&url).unwrap();
                assert!(
                    check_before_connect(&parsed, false).is_err(),
                    "connect: {url} -> {:?}",
                    parsed.host()
                );
                // With private endpoints allowed (sandbox), the same URL is fine.
                assert!(check_before_connect(&parsed, true).is_ok(), "{url}");
            }
        }
    }

    #[test]
    fn short_forms_are_read_as_the_client_reads_them() {
        let t = |s: &str| target(&parse_http(s).unwrap()).unwrap();
        let v4 = |s: &str| Target::Ip(s.parse().unwrap());
        assert_eq!(t("http://127.1/"), v4("127.0.0.1"));
        assert_eq!(t("http://0x7f.1/"), v4("127.0.0.1"));
        assert_eq!(t("http://169.254.43518/"), v4("169.254.169.254"));
        assert_eq!(t("http://0251.0376.0251.0376/"), v4("169.254.169.254"));
        assert_eq!(t("http://192.168.1/"), v4("192.168.0.1"));
        assert_eq!(t("http://0.0/"), v4("0.0.0.0"));
        assert_eq!(
            t("http://ISV.Example.COM/"),
            Target::Name("isv.example.com".into())
        );
    }

    #[test]
    fn public_addresses_in_any_form_pass_when_private_allowed_only_by_name() {
        // A public address is still refused when saved (a host name is required)…
        assert!(matches!(
            EndpointUrl::parse("https://8.8.8.8/x", false),
            Err(EndpointError::IpLiteral(_))
        ));
        // …but is not an SSRF target at connection time.
        for url in [
            "https://8.8.8.8/x",
            "https://0x08080808/x",
            "https://[2606:4700::1111]/x",
        ] {
            assert!(
                check_before_connect(&parse_http(url).unwrap(), false).is_ok(),
                "{url}"
            );
        }
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
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:0a00:0001::1",
            "2001:db8::1",
            "192.0.0.8",
        ] {
            assert!(!is_public_ip(ip.parse().unwrap()), "{ip}");
        }
    }
}
