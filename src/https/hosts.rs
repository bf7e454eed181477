//! `insecure-hosts`: hosts whose certificates are not verified even when
//! verification is on. Entries are `host`, `host:port` or `[v6]:port`;
//! case-insensitive; a bare host matches every port; `host:443` matches
//! `https://host/` (the scheme's default port counts).

use std::net::Ipv6Addr;

use crate::config::ConfigError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    /// Lowercased host; IPv6 addresses in canonical bracketed form (`[::1]`).
    pub host: String,
    /// `None` matches every port.
    pub port: Option<u16>,
}

impl HostPattern {
    /// Parse one `insecure-hosts` entry.
    pub fn parse(entry: &str) -> Result<HostPattern, ConfigError> {
        let bad = |why: &str| {
            ConfigError::new(format!(
                "[https] insecure-hosts entry {entry:?} {why}; write host, host:port or [v6]:port"
            ))
        };
        let e = entry.trim();
        if e.is_empty() {
            return Err(bad("is empty"));
        }
        if e.contains("://") || e.contains('/') {
            return Err(bad("looks like a URL"));
        }
        let (host, port) = if let Some(rest) = e.strip_prefix('[') {
            let (addr, after) = rest
                .split_once(']')
                .ok_or_else(|| bad("has no closing ']'"))?;
            let addr: Ipv6Addr = addr.parse().map_err(|_| bad("is not an IPv6 address"))?;
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| bad("has junk after ']'"))?,
                ),
            };
            (format!("[{addr}]"), port)
        } else if e.matches(':').count() > 1 {
            // A bare IPv6 address (no port possible without brackets).
            let addr: Ipv6Addr = e.parse().map_err(|_| bad("is not a host"))?;
            (format!("[{addr}]"), None)
        } else {
            match e.split_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (e.to_string(), None),
            }
        };
        let port = match port {
            None => None,
            Some(p) => Some(p.parse::<u16>().map_err(|_| bad("has a bad port"))?),
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty() {
            return Err(bad("has no host"));
        }
        Ok(HostPattern { host, port })
    }

    pub fn matches(&self, host: &str, port: u16) -> bool {
        self.host == host && self.port.is_none_or(|p| p == port)
    }
}

/// The host (normalized like [`HostPattern::host`]) and effective port of a URL.
pub fn host_port(url: &url::Url) -> Option<(String, u16)> {
    let host = match url.host()? {
        url::Host::Ipv6(a) => format!("[{a}]"),
        url::Host::Ipv4(a) => a.to_string(),
        url::Host::Domain(d) => d.trim_end_matches('.').to_ascii_lowercase(),
    };
    Some((host, url.port_or_known_default()?))
}

/// The parsed `insecure-hosts` list.
#[derive(Debug, Clone, Default)]
pub struct InsecureHosts(Vec<HostPattern>);

impl InsecureHosts {
    pub fn parse(entries: &[String]) -> Result<InsecureHosts, ConfigError> {
        entries
            .iter()
            .map(|e| HostPattern::parse(e))
            .collect::<Result<_, _>>()
            .map(InsecureHosts)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether this URL's host:port is listed.
    pub fn contains(&self, url: &url::Url) -> bool {
        match host_port(url) {
            Some((h, p)) => self.0.iter().any(|pat| pat.matches(&h, p)),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(entries: &[&str]) -> InsecureHosts {
        InsecureHosts::parse(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn has(h: &InsecureHosts, url: &str) -> bool {
        h.contains(&url::Url::parse(url).unwrap())
    }

    #[test]
    fn bare_host_matches_every_port_case_insensitively() {
        let h = hosts(&["Mirror.Example"]);
        assert!(has(&h, "https://mirror.example/simple/"));
        assert!(has(&h, "https://MIRROR.example:8443/"));
        assert!(!has(&h, "https://other.example/"));
        assert!(!has(&h, "https://mirror.example.evil/"));
    }

    #[test]
    fn host_port_matches_that_port_and_default_port() {
        let h = hosts(&["mirror.example:443", "other:8443"]);
        assert!(has(&h, "https://mirror.example/"));
        assert!(!has(&h, "https://mirror.example:8443/"));
        assert!(has(&h, "https://other:8443/x"));
        assert!(!has(&h, "https://other/"));
    }

    #[test]
    fn ipv6_forms() {
        let h = hosts(&["[::1]:8443", "0:0::2"]);
        assert!(has(&h, "https://[::1]:8443/"));
        assert!(has(&h, "https://[0::1]:8443/"));
        assert!(!has(&h, "https://[::1]/"));
        assert!(has(&h, "https://[::2]:1/"));
        let h = hosts(&["[::1]"]);
        assert!(has(&h, "https://[::1]:9/"));
    }

    #[test]
    fn bad_entries_are_errors() {
        for e in ["", "https://x/", "x:port", "[::1", "[nothex]:1", "x:99999"] {
            assert!(HostPattern::parse(e).is_err(), "{e:?}");
        }
    }
}
