//! Proxies, built explicitly from the config and the environment snapshot so that
//! reqwest never reads the live process environment itself.

use reqwest::{NoProxy, Proxy};

use super::HttpsError;
use crate::config::ConfigError;
use crate::environment::Environment;

/// The proxies to install, in matching order, and a description for reports.
#[derive(Debug, Clone, Default)]
pub struct Proxies {
    pub list: Vec<Proxy>,
    /// `(source, url)` pairs, e.g. `("HTTPS_PROXY", "http://proxy:3128")`.
    pub described: Vec<(String, String)>,
    pub no_proxy: Option<String>,
}

/// The first of these variables that is set and not empty (curl's order:
/// lowercase first).
fn first_var<'e>(env: &'e Environment, names: &[&'static str]) -> Option<(&'static str, &'e str)> {
    names
        .iter()
        .find_map(|n| env.get_non_empty(n).map(|v| (*n, v)))
}

fn make(
    kind: fn(&str) -> reqwest::Result<Proxy>,
    source: &str,
    url: &str,
    no_proxy: &Option<String>,
) -> Result<Proxy, HttpsError> {
    let proxy = kind(url).map_err(|e| {
        HttpsError::Config(ConfigError::new(format!(
            "proxy {url:?} from {source} is not a usable proxy URL ({e}); write e.g. http://proxy.example:3128"
        )))
    })?;
    Ok(proxy.no_proxy(no_proxy.as_deref().and_then(NoProxy::from_string)))
}

/// `[mirror] proxy` for everything if set; otherwise `https_proxy` for https,
/// `http_proxy` for http, `all_proxy` for the rest. `no_proxy` applies to all.
pub fn from_settings(configured: Option<&str>, env: &Environment) -> Result<Proxies, HttpsError> {
    let no_proxy = first_var(env, &["no_proxy", "NO_PROXY"]).map(|(_, v)| v.to_string());
    let mut out = Proxies {
        no_proxy: no_proxy.clone(),
        ..Proxies::default()
    };
    let mut add = |kind: fn(&str) -> reqwest::Result<Proxy>, source: &str, url: &str| {
        out.list.push(make(kind, source, url, &no_proxy)?);
        out.described.push((source.to_string(), url.to_string()));
        Ok::<_, HttpsError>(())
    };
    if let Some(url) = configured.filter(|u| !u.is_empty()) {
        add(|u| Proxy::all(u), "[mirror] proxy", url)?;
    } else {
        if let Some((n, v)) = first_var(env, &["https_proxy", "HTTPS_PROXY"]) {
            add(|u| Proxy::https(u), n, v)?;
        }
        if let Some((n, v)) = first_var(env, &["http_proxy", "HTTP_PROXY"]) {
            add(|u| Proxy::http(u), n, v)?;
        }
        if let Some((n, v)) = first_var(env, &["all_proxy", "ALL_PROXY"]) {
            add(|u| Proxy::all(u), n, v)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Environment {
        Environment::from_pairs(pairs.iter().map(|(k, v)| (*k, *v)), false)
    }

    #[test]
    fn configured_proxy_wins_over_variables() {
        let p =
            from_settings(Some("http://cfg:1"), &env(&[("HTTPS_PROXY", "http://e:2")])).unwrap();
        assert_eq!(
            p.described,
            vec![("[mirror] proxy".into(), "http://cfg:1".into())]
        );
    }

    #[test]
    fn variables_lowercase_first_empty_ignored() {
        let p = from_settings(
            None,
            &env(&[
                ("https_proxy", ""),
                ("HTTPS_PROXY", "http://up:2"),
                ("http_proxy", "http://low:3"),
                ("HTTP_PROXY", "http://UP:4"),
                ("NO_PROXY", "localhost"),
            ]),
        )
        .unwrap();
        assert_eq!(p.described[0], ("HTTPS_PROXY".into(), "http://up:2".into()));
        assert_eq!(p.described[1], ("http_proxy".into(), "http://low:3".into()));
        assert_eq!(p.no_proxy.as_deref(), Some("localhost"));
        assert!(from_settings(None, &env(&[])).unwrap().list.is_empty());
    }
}
