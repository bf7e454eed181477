//! Process exit codes shared by every command (DESIGN.md).

use std::process::ExitCode;

/// Everything done.
pub const OK: u8 = 0;
/// Some projects or files failed; the mirror serial did not advance.
pub const PARTIAL: u8 = 1;
/// Bad configuration or usage.
pub const USAGE: u8 = 2;

/// An error that knows which exit code it deserves.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The user's configuration, flags or environment are wrong (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The command ran but part of the work failed (exit 1).
    #[error("{0}")]
    Failed(String),
}

impl CommandError {
    pub fn code(&self) -> u8 {
        match self {
            CommandError::Usage(_) => USAGE,
            CommandError::Failed(_) => PARTIAL,
        }
    }
}

/// Map any error to an exit code: a `CommandError` anywhere in the chain decides,
/// everything else counts as a failed run.
pub fn code_for(err: &anyhow::Error) -> ExitCode {
    for cause in err.chain() {
        if let Some(cmd) = cause.downcast_ref::<CommandError>() {
            return ExitCode::from(cmd.code());
        }
        if cause.downcast_ref::<crate::config::ConfigError>().is_some() {
            return ExitCode::from(USAGE);
        }
        if let Some(crate::https::HttpsError::Config(_)) = cause.downcast_ref() {
            return ExitCode::from(USAGE);
        }
    }
    ExitCode::from(PARTIAL)
}
