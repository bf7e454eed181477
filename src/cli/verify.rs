//! `vorpal verify`: check the mirror against its state; repair, clean up, refresh JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::Context;
use crate::https::{HttpClient, HttpsSettings};
use crate::verify::{VerifyOptions, run_verify};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Refetch missing and damaged files from upstream (runs those projects' sync jobs).
    #[arg(long)]
    pub repair: bool,
    /// Remove files under web/packages that the state does not reference, and temp files.
    #[arg(long)]
    pub delete: bool,
    /// Change nothing; report what would change.
    #[arg(long)]
    pub dry_run: bool,
    /// Rewrite web/json/<name> and web/pypi/<name>/json of every project from upstream.
    #[arg(long)]
    pub json_update: bool,
    /// Files checked in parallel (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub workers: Option<u16>,
    /// Mirror directory (overrides [mirror] directory).
    #[arg(long, value_name = "DIR")]
    pub directory: Option<PathBuf>,
}

pub fn run(ctx: &Context, args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let mut config = ctx.config.clone();
    if let Some(d) = args.directory {
        config.mirror.directory = d;
    }
    let settings = HttpsSettings::from_context(ctx)?;
    let opts = VerifyOptions {
        repair: args.repair,
        delete: args.delete,
        dry_run: args.dry_run,
        json_update: args.json_update,
        workers: args.workers.map_or(0, usize::from),
        show_progress: ctx.show_progress(),
        stale_backoff: None,
    };
    let report = super::runtime()?.block_on(async {
        let client = HttpClient::new(&settings, &ctx.env)?;
        anyhow::Ok(run_verify(&config, client, opts).await?)
    })?;
    for p in &report.remaining {
        println!("{p}");
    }
    let verb = if report.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for key in &report.orphans.keys {
        println!("{verb} unreferenced {key}");
    }
    for (name, err) in &report.failed_projects {
        eprintln!("failed: {name}: {err}");
    }
    if !ctx.global.quiet {
        println!("{}", report.summary());
    }
    Ok(if report.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::PARTIAL)
    })
}
