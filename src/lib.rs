//! vorpal: a PyPI mirror. Sync from any PEP 691 / PyPI-compatible upstream with
//! verified, crash-safe downloads; serve the result over HTTPS.

pub mod cli;
pub mod config;
pub mod environment;
pub mod exit;
pub mod https;
pub mod index;
pub mod logging;
pub mod serve;
pub mod storage;
pub mod sync;
pub mod upstream;
pub mod verify;

/// The User-Agent every outgoing request carries (PEP 381 asks mirrors to say who they are).
pub const USER_AGENT: &str = concat!("vorpal/", env!("CARGO_PKG_VERSION"));
