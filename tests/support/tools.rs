//! External clients the tests drive (pip, uv, bandersnatch), installed by
//! scripts/test-tools.sh and found through `VORPAL_TEST_*` variables.
//!
//! Under `CI=true` a missing tool fails the test; elsewhere the test says it
//! skipped and returns, so `cargo test` alone still runs everything else.

use std::path::PathBuf;

/// The path of a tool, or `None` (after saying so) when it is missing outside CI.
/// `var` is e.g. `VORPAL_TEST_UV`; `what` names the tool for the message.
pub fn tool(var: &str, what: &str) -> Option<PathBuf> {
    let found = std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.is_file());
    if found.is_none() {
        let msg = format!(
            "{what} not found (${var} unset or not a file); run ./scripts/test.sh, which installs it"
        );
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg}");
        }
        eprintln!("SKIPPED: {msg}");
    }
    found
}

pub fn python() -> Option<PathBuf> {
    tool("VORPAL_TEST_PYTHON", "python (test venv)")
}

pub fn pip() -> Option<PathBuf> {
    tool("VORPAL_TEST_PIP", "pip")
}

pub fn uv() -> Option<PathBuf> {
    tool("VORPAL_TEST_UV", "uv")
}

pub fn bandersnatch() -> Option<PathBuf> {
    tool("VORPAL_TEST_BANDERSNATCH", "bandersnatch")
}
