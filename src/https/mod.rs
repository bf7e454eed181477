//! Certificate-verification policy (PEP 493 mapped onto vorpal) and the one HTTP
//! client factory every outgoing request goes through.

pub mod policy;

pub use policy::{Decision, DecisionSource, RuntimeSwitch};

/// PEP 493's system config file, vorpal's name for it.
pub const SYSTEM_CONFIG_PATH: &str = "/etc/vorpal/cert-verification.cfg";
/// PEP 493's `PYTHONHTTPSVERIFY`, vorpal's name for it.
pub const VERIFY_ENV_VAR: &str = "VORPAL_HTTPS_VERIFY";
