//! `vorpal sync` (alias `mirror`): full or incremental sync, or just some projects.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::Context;
use crate::https::{HttpClient, HttpsSettings};
use crate::sync::{SyncOptions, run_sync};

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Sync just these projects now (the mirror's serial is not advanced).
    #[arg(value_name = "PROJECT")]
    pub projects: Vec<String>,
    /// Compare every project with upstream, not only those whose serial moved.
    #[arg(long)]
    pub force_check: bool,
    /// With PROJECT names: leave the root index as it is.
    #[arg(long, requires = "projects")]
    pub skip_simple_root: bool,
    /// Mirror directory (overrides [mirror] directory).
    #[arg(long, value_name = "DIR")]
    pub directory: Option<PathBuf>,
    /// Upstream index URL (overrides [mirror] master).
    #[arg(long, value_name = "URL")]
    pub master: Option<String>,
    /// Write the list of every file written to PATH (overrides [mirror] diff-file).
    #[arg(long, value_name = "PATH")]
    pub diff_file: Option<PathBuf>,
}

pub fn run(ctx: &Context, args: SyncArgs) -> anyhow::Result<ExitCode> {
    let mut config = ctx.config.clone();
    if let Some(d) = args.directory {
        config.mirror.directory = d;
    }
    if let Some(m) = args.master {
        config.mirror.master = m.trim_end_matches('/').to_string();
    }
    if args.diff_file.is_some() {
        config.mirror.diff_file = args.diff_file;
    }
    let settings = HttpsSettings::from_context(ctx)?;
    let opts = SyncOptions {
        projects: args.projects,
        force_check: args.force_check,
        skip_simple_root: args.skip_simple_root,
        show_progress: ctx.show_progress(),
        stale_backoff: None,
    };
    let report = super::runtime()?.block_on(async {
        let client = HttpClient::new(&settings, &ctx.env)?;
        anyhow::Ok(run_sync(&config, client, opts).await?)
    })?;
    if !ctx.global.quiet {
        println!("{}", report.summary());
    }
    if report.succeeded() {
        Ok(ExitCode::SUCCESS)
    } else {
        for (name, err) in &report.failed {
            eprintln!("failed: {name}: {err}");
        }
        eprintln!(
            "{} project(s) failed; the mirror serial stays at {} and the next run retries them",
            report.failed.len(),
            report.serial_after
        );
        Ok(ExitCode::from(crate::exit::PARTIAL))
    }
}
