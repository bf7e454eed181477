//! PEP 449: upstreams are named explicitly, never discovered; the retired mirror
//! names are refused; plain http needs an explicit opt-in.

use crate::config::ConfigError;

/// Why a retired PyPI mirror name is refused.
pub fn retired_host_message(host: &str) -> String {
    format!(
        "{host} is a retired PyPI mirror name: PEP 449 removed mirror auto-discovery and \
         the [a-z].pypi.python.org / last.pypi.python.org names (they no longer point at \
         mirrors). Name your upstream explicitly, e.g. master = \"https://pypi.org\""
    )
}

/// `a.pypi.python.org` .. `z.pypi.python.org` and `last.pypi.python.org`.
pub fn is_retired_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match host.strip_suffix(".pypi.python.org") {
        Some("last") => true,
        Some(label) => label.len() == 1 && label.as_bytes()[0].is_ascii_lowercase(),
        None => false,
    }
}

/// Check a configured upstream URL. Returns warnings on success. Purely textual:
/// no name is ever looked up to discover anything.
pub fn check_upstream_url(url: &str, allow_non_https: bool) -> Result<Vec<String>, ConfigError> {
    let parsed = url::Url::parse(url).map_err(|e| {
        ConfigError::new(format!(
            "upstream URL {url:?} is not a valid URL ({e}); write it in full, e.g. https://pypi.org"
        ))
    })?;
    let host = parsed.host_str().unwrap_or_default().to_string();
    match parsed.scheme() {
        "https" => {}
        "http" if allow_non_https => {}
        "http" => {
            return Err(ConfigError::new(format!(
                "upstream URL {url} uses plain http, which lets anyone on the network path \
                 rewrite the packages you mirror; use https, or set allow-non-https = true \
                 only for a trusted network"
            )));
        }
        other => {
            return Err(ConfigError::new(format!(
                "upstream URL {url} has scheme {other:?}; only https (and http with allow-non-https) are supported"
            )));
        }
    }
    if host.is_empty() {
        return Err(ConfigError::new(format!(
            "upstream URL {url:?} has no host"
        )));
    }
    if is_retired_host(&host) {
        return Err(ConfigError::new(retired_host_message(&host)));
    }
    let mut warnings = Vec::new();
    if host
        .trim_end_matches('.')
        .eq_ignore_ascii_case("pypi.python.org")
    {
        warnings.push(format!(
            "upstream {url} uses the old name pypi.python.org, which only redirects now; \
             use https://pypi.org"
        ));
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_upstreams_pass() {
        assert_eq!(
            check_upstream_url("https://pypi.org", false).unwrap().len(),
            0
        );
        assert_eq!(
            check_upstream_url("https://mirror.example:8443/pypi", false)
                .unwrap()
                .len(),
            0
        );
    }

    #[test]
    fn plain_http_needs_opt_in() {
        let e = check_upstream_url("http://mirror.lan", false)
            .unwrap_err()
            .0;
        assert!(
            e.contains("allow-non-https") && e.contains("rewrite"),
            "{e}"
        );
        assert!(check_upstream_url("http://mirror.lan", true).is_ok());
        assert!(check_upstream_url("ftp://mirror.lan", true).is_err());
    }

    #[test]
    fn retired_names_refused() {
        for u in [
            "https://a.pypi.python.org",
            "https://Z.pypi.python.org/simple",
            "https://last.pypi.python.org",
            "http://b.pypi.python.org.",
        ] {
            let e = check_upstream_url(u, true).unwrap_err().0;
            assert!(
                e.contains("PEP 449") && e.contains("https://pypi.org"),
                "{e}"
            );
        }
        assert!(!is_retired_host("ab.pypi.python.org"));
        assert!(!is_retired_host("pypi.python.org"));
        assert!(!is_retired_host("1.pypi.python.org"));
    }

    #[test]
    fn old_main_name_warns() {
        let w = check_upstream_url("https://pypi.python.org", false).unwrap();
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("https://pypi.org"));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(check_upstream_url("pypi.org", false).is_err());
        assert!(check_upstream_url("", false).is_err());
    }
}
