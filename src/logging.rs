//! Structured logs through tracing: human text on a terminal, JSON for machines.

use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Install the global subscriber. `verbosity`: -1 quiet, 0 default, 1.. more.
/// `VORPAL_LOG` (an EnvFilter directive) overrides the level when given.
pub fn init(format: LogFormat, verbosity: i8, env_filter: Option<&str>) {
    let level = match verbosity {
        i8::MIN..=-1 => "error",
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let default = format!("warn,vorpal={level}");
    let filter = env_filter
        .and_then(|d| EnvFilter::try_new(d).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    // A second init (tests run commands in-process) keeps the first subscriber.
    let _ = result;
}
