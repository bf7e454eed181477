//! A snapshot of the process environment, taken once at start-up.
//!
//! PEP 493 says the variable is read once; taking a snapshot also lets tests inject
//! an environment without touching the real one (which is process-global and racy).

use std::collections::BTreeMap;
use std::ffi::OsString;

#[derive(Debug, Clone, Default)]
pub struct Environment {
    vars: BTreeMap<String, OsString>,
    /// `-E`: no `VORPAL_*` variable is visible (like `python -E` for `PYTHON*`).
    ignore_vorpal_vars: bool,
}

impl Environment {
    /// Snapshot the real process environment.
    pub fn capture(ignore_vorpal_vars: bool) -> Self {
        Self {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| k.into_string().ok().map(|k| (k, v)))
                .collect(),
            ignore_vorpal_vars,
        }
    }

    /// An environment made of exactly these variables (for tests and embedding).
    pub fn from_pairs<K: Into<String>, V: Into<OsString>>(
        pairs: impl IntoIterator<Item = (K, V)>,
        ignore_vorpal_vars: bool,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            ignore_vorpal_vars,
        }
    }

    pub fn ignores_vorpal_vars(&self) -> bool {
        self.ignore_vorpal_vars
    }

    /// The raw value of a variable, honouring `-E` for `VORPAL_*` names.
    pub fn get_os(&self, name: &str) -> Option<&OsString> {
        if self.ignore_vorpal_vars && name.starts_with("VORPAL_") {
            return None;
        }
        self.vars.get(name)
    }

    /// The value as UTF-8 text; a non-UTF-8 value reads as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_os(name).and_then(|v| v.to_str())
    }

    /// The value, treating an empty string as unset (OpenSSL's rule for
    /// `SSL_CERT_FILE` / `SSL_CERT_DIR`, and curl's for proxies).
    pub fn get_non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }
}
