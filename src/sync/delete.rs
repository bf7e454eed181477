//! `vorpal delete PROJECT...`: remove projects from the mirror (pages, files,
//! `.metadata`, JSON documents and state), then regenerate the root index from state.
//! Upstream is not consulted: a later full comparison (`sync --force-check`) brings a
//! project that upstream still has back unless a filter excludes it.

use crate::config::{Config, ConfigError};
use crate::https::HttpClient;
use crate::index::{is_valid_name, normalize};
use crate::sync::project::{ProjectError, remove_project};
use crate::sync::run::{SyncError, open_env, write_root_index};
use crate::sync::state::{self, MirrorLock};

#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error(transparent)]
    Project(#[from] ProjectError),
    #[error(transparent)]
    State(#[from] state::StateError),
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
}

/// One project's part of a delete.
#[derive(Debug, Clone, Default)]
pub struct DeletedProject {
    pub name: String,
    /// Release and `.metadata` files the state recorded for it.
    pub files: u64,
    pub bytes: u64,
    /// Pages and JSON documents present.
    pub pages: Vec<String>,
}

#[derive(Debug, Default)]
pub struct DeleteReport {
    /// Removed (or, in a dry run, would be).
    pub deleted: Vec<DeletedProject>,
    /// Names the mirror does not have.
    pub not_found: Vec<String>,
    pub dry_run: bool,
}

/// Remove `names` from the mirror configured in `config` (under the mirror lock).
pub async fn delete_projects(
    config: &Config,
    client: HttpClient,
    names: &[String],
    dry_run: bool,
) -> Result<DeleteReport, DeleteError> {
    let root = config.mirror.directory.clone();
    if !root.join("web").is_dir() {
        return Err(SyncError::from(ConfigError::new(format!(
            "{} is not a mirror directory (no web/ folder); set [mirror] directory or pass --directory",
            root.display()
        )))
        .into());
    }
    for name in names {
        if !is_valid_name(name) {
            return Err(SyncError::from(ConfigError::new(format!(
                "{name:?} is not a valid project name"
            )))
            .into());
        }
    }
    let lock = MirrorLock::acquire(&root)?;
    let env = open_env(config, client, false, None, &lock).await?;
    let serial = state::read_status(&root)?;
    let mut report = DeleteReport {
        dry_run,
        ..DeleteReport::default()
    };
    for name in names {
        let n = normalize(name);
        let files = env.db.files_of(&n)?;
        let mut pages = Vec::new();
        for key in env.layout.all_project_keys(&n)? {
            if env.storage.stat(&key).await?.is_some() {
                pages.push(key.as_str().to_string());
            }
        }
        if env.db.project(&n)?.is_none() && files.is_empty() && pages.is_empty() {
            report.not_found.push(name.clone());
            continue;
        }
        let entry = DeletedProject {
            name: n.clone(),
            files: files.len() as u64,
            bytes: files.iter().map(|f| f.size).sum(),
            pages,
        };
        if !dry_run {
            remove_project(&env, &n, serial).await?;
        }
        report.deleted.push(entry);
    }
    if !dry_run && !report.deleted.is_empty() {
        write_root_index(&env, serial).await?;
    }
    Ok(report)
}
