//! Errors of the HTTP client, and sorting reqwest's errors into them.

use std::error::Error as StdError;
use std::fmt;

use crate::config::ConfigError;

/// Building a client failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpsError {
    /// A configuration problem (bad file, bad variable, bad entry): exit 2.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The HTTP stack refused the settings.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Why a certificate was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertProblem {
    UnknownIssuer,
    Expired,
    NotValidForName,
    Other(String),
}

impl fmt::Display for CertProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertProblem::UnknownIssuer => write!(f, "issued by an unknown (untrusted) CA"),
            CertProblem::Expired => write!(f, "expired (or not yet valid)"),
            CertProblem::NotValidForName => write!(f, "not valid for this host name"),
            CertProblem::Other(s) => write!(f, "{s}"),
        }
    }
}

const REMEDIES: &str = "add the issuing CA with --cert or [https] ca-bundle; or list the host \
in [https] insecure-hosts; or as a last resort VORPAL_HTTPS_VERIFY=0 / --https-verify disable";

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("certificate of {host} rejected: {reason}. To fix: {REMEDIES}")]
    Certificate { host: String, reason: CertProblem },
    /// A TLS failure that is not about the server's certificate (protocol, alert,
    /// a client certificate the server wanted).
    #[error("TLS handshake with {host} failed: {detail}")]
    Tls { host: String, detail: String },
    #[error("{url}: timed out")]
    Timeout { url: String },
    #[error("{url}: connection failed: {detail}")]
    Connect { url: String, detail: String },
    #[error("{url}: HTTP status {status} (after retries)")]
    Status { url: String, status: u16 },
    #[error("{url}: more than 10 redirects")]
    TooManyRedirects { url: String },
    #[error("{url}: refused: {reason}")]
    Refused { url: String, reason: String },
    #[error("{url}: {detail}")]
    Other { url: String, detail: String },
}

impl FetchError {
    /// Transient failures worth another try (never certificate or TLS failures).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            FetchError::Timeout { .. } | FetchError::Connect { .. }
        )
    }
}

/// Walk an error's causes, looking inside `io::Error`s too: `io::Error::source`
/// skips the error it wraps, which is exactly where rustls puts its own.
pub(crate) fn find_cause<'a, T: StdError + 'static>(
    err: &'a (dyn StdError + 'static),
) -> Option<&'a T> {
    let mut cur: Option<&'a (dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(t) = e.downcast_ref::<T>() {
            return Some(t);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(t) = find_cause::<T>(inner)
        {
            return Some(t);
        }
        cur = e.source();
    }
    None
}

/// Sort a rustls error into a certificate problem or another TLS failure.
pub(crate) fn from_rustls(host: &str, err: &rustls::Error) -> FetchError {
    use rustls::CertificateError as C;
    let reason = match err {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => CertProblem::UnknownIssuer,
            C::Expired
            | C::ExpiredContext { .. }
            | C::NotValidYet
            | C::NotValidYetContext { .. } => CertProblem::Expired,
            C::NotValidForName | C::NotValidForNameContext { .. } => CertProblem::NotValidForName,
            other => CertProblem::Other(format!("{other:?}")),
        },
        other => {
            return FetchError::Tls {
                host: host.to_string(),
                detail: other.to_string(),
            };
        }
    };
    FetchError::Certificate {
        host: host.to_string(),
        reason,
    }
}

/// Sort a reqwest error for `url` (whose host is `host`).
pub(crate) fn classify(url: &str, host: &str, err: &reqwest::Error) -> FetchError {
    if let Some(tls) = find_cause::<rustls::Error>(err) {
        return from_rustls(host, tls);
    }
    if err.is_timeout() {
        return FetchError::Timeout { url: url.into() };
    }
    if let Some(io) = find_cause::<std::io::Error>(err)
        && io.kind() == std::io::ErrorKind::TimedOut
    {
        return FetchError::Timeout { url: url.into() };
    }
    if err.is_connect() || err.is_request() {
        // Refused, reset, closed before the response: the transient kinds.
        return FetchError::Connect {
            url: url.into(),
            detail: chain_text(err),
        };
    }
    FetchError::Other {
        url: url.into(),
        detail: chain_text(err),
    }
}

/// An error with its causes, joined, for messages.
pub(crate) fn chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ")
}
