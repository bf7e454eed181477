//! `vorpal delete PROJECT...`: remove projects and everything they own.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::Context;
use crate::exit::CommandError;
use crate::https::{HttpClient, HttpsSettings};
use crate::sync::delete::delete_projects;

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Projects to remove (any spelling; names are normalized).
    #[arg(value_name = "PROJECT", required = true)]
    pub projects: Vec<String>,
    /// Change nothing; list what would be removed.
    #[arg(long)]
    pub dry_run: bool,
    /// Mirror directory (overrides [mirror] directory).
    #[arg(long, value_name = "DIR")]
    pub directory: Option<PathBuf>,
}

pub fn run(ctx: &Context, args: DeleteArgs) -> anyhow::Result<ExitCode> {
    let mut config = ctx.config.clone();
    if let Some(d) = args.directory {
        config.mirror.directory = d;
    }
    if let Some(bad) = args
        .projects
        .iter()
        .find(|n| !crate::index::is_valid_name(n))
    {
        return Err(CommandError::Usage(format!(
            "{bad:?} is not a valid project name (letters, digits, '.', '-', '_')"
        ))
        .into());
    }
    let settings = HttpsSettings::from_context(ctx)?;
    let report = super::runtime()?.block_on(async {
        let client = HttpClient::new(&settings, &ctx.env)?;
        anyhow::Ok(delete_projects(&config, client, &args.projects, args.dry_run).await?)
    })?;
    let verb = if report.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    for p in &report.deleted {
        println!(
            "{verb} {}: {} files ({} bytes), {} pages",
            p.name,
            p.files,
            p.bytes,
            p.pages.len()
        );
    }
    for name in &report.not_found {
        eprintln!("not in the mirror: {name}");
    }
    Ok(if report.not_found.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::PARTIAL)
    })
}
