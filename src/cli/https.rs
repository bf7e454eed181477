//! `vorpal https`: PEP 493 feature detection and the effective policy.

use std::process::ExitCode;

use clap::Args;

use super::Context;

#[derive(Debug, Args)]
pub struct HttpsArgs {
    /// Print machine-readable JSON.
    #[arg(long)]
    pub json: bool,
    /// Perform one TLS handshake with URL under the effective policy and report the result.
    #[arg(long, value_name = "URL")]
    pub check: Option<String>,
}

pub fn run(_ctx: &Context, _args: HttpsArgs) -> anyhow::Result<ExitCode> {
    Ok(ExitCode::SUCCESS)
}
