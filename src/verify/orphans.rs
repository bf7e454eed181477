//! Files under `web/packages` that nothing in the state references (left by a crash
//! between commit and delete, by an old bandersnatch run, or by hand), and temp files.

use std::sync::Arc;

use futures::StreamExt;

use crate::storage::{Key, Storage, StorageError, is_temp_name};
use crate::sync::state::StateDb;

use super::VerifyError;

/// Orphan keys listed in the report at most (the count is always exact).
const LIST_AT_MOST: usize = 1000;

#[derive(Debug, Default, Clone)]
pub struct OrphanReport {
    /// Files looked at under web/packages.
    pub scanned: u64,
    pub found: u64,
    pub bytes: u64,
    pub removed: u64,
    /// Removals that failed (logged).
    pub failed: u64,
    /// Temp files removed (or, in a dry run, present).
    pub temp_files: u64,
    /// The first orphan keys found.
    pub keys: Vec<String>,
}

fn packages() -> Result<Key, StorageError> {
    Key::new("web/packages")
}

/// Is there any file under web/packages at all?
pub(super) async fn has_any_package(storage: &Arc<dyn Storage>) -> Result<bool, StorageError> {
    let key = packages()?;
    let mut list = storage.list(&key);
    Ok(match list.next().await {
        None => false,
        Some(r) => {
            r?;
            true
        }
    })
}

/// Stream web/packages and remove (or, in a dry run, count) what the state does not name.
pub(super) async fn remove_orphans(
    db: &StateDb,
    storage: &Arc<dyn Storage>,
    dry_run: bool,
) -> Result<OrphanReport, VerifyError> {
    let mut report = OrphanReport::default();
    let prefix = packages()?;
    let mut list = storage.list(&prefix);
    while let Some(item) = list.next().await {
        let (key, meta) = item?;
        report.scanned += 1;
        if db.file(key.as_str())?.is_some() {
            continue;
        }
        report.found += 1;
        report.bytes += meta.size;
        if report.keys.len() < LIST_AT_MOST {
            report.keys.push(key.as_str().to_string());
        }
        if dry_run {
            tracing::info!("would remove unreferenced {key}");
            continue;
        }
        match storage.delete(&key).await {
            Ok(_) => {
                tracing::info!("removed unreferenced {key}");
                report.removed += 1;
            }
            Err(e) => {
                tracing::warn!("could not remove unreferenced {key}: {e}");
                report.failed += 1;
            }
        }
    }
    drop(list);
    report.temp_files = if dry_run {
        match storage.local_path(&Key::new("web")?) {
            Some(web) => tokio::task::spawn_blocking(move || count_temp_files(&web))
                .await
                .unwrap_or(0),
            None => 0,
        }
    } else {
        storage.cleanup_temp().await?
    };
    Ok(report)
}

/// Temp files below `dir` (for a dry run; a real run removes them with cleanup_temp).
fn count_temp_files(dir: &std::path::Path) -> u64 {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() {
                stack.push(e.path());
            } else if is_temp_name(&e.file_name().to_string_lossy()) {
                n += 1;
            }
        }
    }
    n
}
