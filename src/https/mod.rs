//! Certificate-verification policy (PEP 493 mapped onto vorpal) and the one HTTP
//! client factory every outgoing request goes through.

pub mod client;
pub mod diagnose;
pub mod error;
pub mod guard;
pub mod hosts;
pub mod policy;
pub mod proxy;
pub mod retry;
pub mod roots;
pub mod settings;
pub mod tls;

pub use client::{ClientBuilder, HttpClient, MAX_REDIRECTS};
pub use diagnose::HandshakeReport;
pub use error::{CertProblem, FetchError, HttpsError};
pub use guard::check_upstream_url;
pub use policy::{Decision, DecisionSource, RuntimeSwitch};
pub use retry::RetryPolicy;
pub use roots::{RootKind, RootSource};
pub use settings::HttpsSettings;

/// PEP 493's system config file, vorpal's name for it.
pub const SYSTEM_CONFIG_PATH: &str = "/etc/vorpal/cert-verification.cfg";
/// PEP 493's `PYTHONHTTPSVERIFY`, vorpal's name for it.
pub const VERIFY_ENV_VAR: &str = "VORPAL_HTTPS_VERIFY";
