//! The command line: global options, one file per command, no logic beyond wiring.

mod config;
mod delete;
mod https;
pub mod serve;
mod sync;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{Config, ConfigError};
use crate::environment::Environment;
use crate::logging::{self, LogFormat};

#[derive(Debug, Parser)]
#[command(
    name = "vorpal",
    version,
    about = "A PyPI mirror: verified, resumable sync and an HTTPS server for pip and uv",
    long_about = "vorpal copies PyPI (or any PEP 691 package index) to local disk, keeps the copy \
current by serial number, and serves it to pip, uv and downstream mirrors.\n\n\
Certificate verification is on by default. PEP 493's controls, highest first: \
--https-verify, VORPAL_HTTPS_VERIFY=0 (ignored under -E), [https] verify in the config file, \
/etc/vorpal/cert-verification.cfg. `vorpal https` shows the effective policy.",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    Enable,
    Disable,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Configuration file: vorpal.toml, or a bandersnatch.conf (INI, read with bandersnatch's
    /// meaning). Default: ./vorpal.toml, then /etc/vorpal/vorpal.toml, then /etc/bandersnatch.conf.
    #[arg(short = 'c', long = "config", global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// More log output (-v debug, -vv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Only errors; no progress bars.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Log format: human text, or one JSON object per line for machines.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// Read no VORPAL_* environment variable (like `python -E`).
    #[arg(short = 'E', long, global = true)]
    pub ignore_environment: bool,

    /// Certificate verification for this run; overrides every other source (PEP 493 runtime switch).
    #[arg(long, value_enum, global = true, value_name = "enable|disable")]
    pub https_verify: Option<OnOff>,

    /// Extra trusted CA certificates (PEM file); repeatable. Adds to [https] ca-bundle.
    #[arg(long = "cert", global = true, value_name = "PEM")]
    pub cert: Vec<PathBuf>,

    /// The system certificate-verification file (PEP 493's config file).
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        default_value = crate::https::SYSTEM_CONFIG_PATH
    )]
    pub cert_verification_config: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the certificate-verification policy and where it came from; optionally test a handshake.
    Https(https::HttpsArgs),
    /// Mirror the upstream: full on first run, then incremental by serial.
    #[command(visible_alias = "mirror")]
    Sync(sync::SyncArgs),
    /// Serve the mirror over HTTPS (HTTP/1.1 and HTTP/2) to pip, uv and downstream mirrors.
    Serve(serve::ServeArgs),
    /// Check every recorded file's size and sha256; optionally repair, clean up, refresh JSON.
    Verify(verify::VerifyArgs),
    /// Remove projects from the mirror: pages, files, JSON and state.
    Delete(delete::DeleteArgs),
    /// Configuration tools (convert a bandersnatch.conf to vorpal.toml).
    Config(config::ConfigArgs),
}

/// What every command gets: the parsed globals, the environment snapshot taken at
/// start-up, and the loaded configuration.
pub struct Context {
    pub global: GlobalArgs,
    pub env: Environment,
    pub config: Config,
}

impl Context {
    pub fn new(global: GlobalArgs) -> Result<Self, ConfigError> {
        let env = Environment::capture(global.ignore_environment);
        let config = Config::load(global.config.as_deref())?;
        for w in &config.warnings {
            tracing::warn!("{w}");
        }
        Ok(Self {
            global,
            env,
            config,
        })
    }

    /// Progress bars only on a terminal and when not quiet.
    pub fn show_progress(&self) -> bool {
        !self.global.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr())
    }
}

/// Threads for blocking filesystem calls: enough to keep a disk queue busy.
const BLOCKING_THREADS: usize = 32;

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        // Filesystem work runs on the blocking pool. Its default ceiling (512)
        // let a sync start hundreds of threads, each with its own stack and
        // allocator cache, for work the disk serializes anyway.
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()?)
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let verbosity = if cli.global.quiet {
        -1
    } else {
        cli.global.verbose as i8
    };
    let log_filter = if cli.global.ignore_environment {
        None
    } else {
        std::env::var("VORPAL_LOG").ok()
    };
    logging::init(cli.global.log_format, verbosity, log_filter.as_deref());
    // rustls needs one process-wide crypto provider; ring builds everywhere without cmake.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let result = Context::new(cli.global.clone())
        .map_err(anyhow::Error::from)
        .and_then(|ctx| match cli.command {
            Command::Https(args) => https::run(&ctx, args),
            Command::Sync(args) => sync::run(&ctx, args),
            Command::Serve(args) => serve::run(&ctx, args),
            Command::Verify(args) => verify::run(&ctx, args),
            Command::Delete(args) => delete::run(&ctx, args),
            Command::Config(args) => config::run(&ctx, args),
        });
    match result {
        Ok(code) => code,
        Err(err) => {
            let code = crate::exit::code_for(&err);
            eprintln!("error: {err:#}");
            code
        }
    }
}
