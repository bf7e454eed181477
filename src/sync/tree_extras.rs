//! bandersnatch's filesystem-only extras: `keep_index_versions` (each project's
//! `index.html` is a symlink to the newest of N kept versions) and `cleanup` (remove
//! legacy simple-page folders whose names are not PEP 503-normalized). Both need
//! symlinks and directory listings, so they work on a local tree only.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::index::normalize;
use crate::storage::write_atomic_with;
use crate::storage::{Durability, TEMP_PREFIX};

/// Write `body` as `versions/index_<serial>_<UTC time>.html` beside `index_html`, point
/// `index_html` at it with a relative symlink (replaced atomically), and keep only the
/// newest `keep` versions.
pub fn write_versioned_index(
    index_html: &Path,
    body: &[u8],
    serial: u64,
    keep: u32,
) -> io::Result<()> {
    let dir = index_html.parent().unwrap_or(Path::new("."));
    let versions = dir.join("versions");
    fs::create_dir_all(&versions)?;
    let stamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
    let name = format!("index_{serial}_{stamp}.html");
    write_atomic_with(&versions.join(&name), body, None, Durability::Data)?;

    let link_tmp = dir.join(format!("{TEMP_PREFIX}{serial}.index.html"));
    let _ = fs::remove_file(&link_tmp);
    std::os::unix::fs::symlink(Path::new("versions").join(&name), &link_tmp)?;
    fs::rename(&link_tmp, index_html)?;
    prune_versions(&versions, keep)
}

/// The serial and time a version file was written at, for ordering.
fn version_order(name: &str) -> Option<(u64, String)> {
    let rest = name.strip_prefix("index_")?.strip_suffix(".html")?;
    let (serial, stamp) = rest.split_once('_')?;
    Some((serial.parse().ok()?, stamp.to_string()))
}

fn prune_versions(versions: &Path, keep: u32) -> io::Result<()> {
    let mut found: Vec<((u64, String), PathBuf)> = fs::read_dir(versions)?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            version_order(&name).map(|o| (o, e.path()))
        })
        .collect();
    found.sort();
    let excess = found.len().saturating_sub(keep as usize);
    for (_, path) in found.into_iter().take(excess) {
        fs::remove_file(path)?;
    }
    Ok(())
}

/// Remove folders directly under `simple_dir` whose names are not normalized project
/// names (left by bandersnatch before PEP 503 normalization). Returns what was removed.
pub fn remove_unnormalized_dirs(simple_dir: &Path, hash_index: bool) -> io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let mut parents = vec![simple_dir.to_path_buf()];
    if hash_index {
        parents = fs::read_dir(simple_dir)?
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .collect();
    }
    for parent in parents {
        for entry in fs::read_dir(&parent)?.filter_map(Result::ok) {
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            if normalize(&name) != name {
                fs::remove_dir_all(entry.path())?;
                removed.push(entry.path());
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_kept_newest_first_and_index_points_at_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let index = dir.path().join("simple/foo/index.html");
        fs::create_dir_all(index.parent().unwrap()).unwrap();
        for serial in [5, 9, 12] {
            write_versioned_index(&index, format!("serial {serial}").as_bytes(), serial, 2)
                .unwrap();
        }
        assert_eq!(fs::read_to_string(&index).unwrap(), "serial 12");
        let target = fs::read_link(&index).unwrap();
        assert!(target.starts_with("versions"), "{target:?}");
        let mut kept: Vec<String> = fs::read_dir(dir.path().join("simple/foo/versions"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        kept.sort();
        assert_eq!(kept.len(), 2, "{kept:?}");
        assert!(kept[0].starts_with("index_12_") || kept[1].starts_with("index_12_"));
        assert!(kept.iter().all(|k| !k.starts_with("index_5_")), "{kept:?}");
    }

    #[test]
    fn cleanup_removes_only_unnormalized_folders() {
        let dir = tempfile::tempdir().unwrap();
        for d in ["foo-bar", "Foo.Bar", "six", "Django"] {
            fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        fs::write(dir.path().join("index.html"), "root").unwrap();
        let mut removed = remove_unnormalized_dirs(dir.path(), false).unwrap();
        removed.sort();
        assert_eq!(removed.len(), 2);
        assert!(dir.path().join("foo-bar").is_dir() && dir.path().join("six").is_dir());
        assert!(dir.path().join("index.html").is_file());
    }
}
