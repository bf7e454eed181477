//! `vorpal config convert FILE`: print a bandersnatch.conf (or vorpal.toml) as the
//! equivalent vorpal.toml.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::Context;
use crate::config::{bandersnatch, load_file};

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the vorpal.toml equivalent of FILE (a bandersnatch.conf or a vorpal.toml).
    Convert {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

pub fn run(_ctx: &Context, args: ConfigArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        ConfigCommand::Convert { file } => {
            let config = load_file(&file)?;
            for w in &config.warnings {
                eprintln!("warning: {w}");
            }
            print!("{}", bandersnatch::to_toml(&config));
            Ok(ExitCode::SUCCESS)
        }
    }
}
