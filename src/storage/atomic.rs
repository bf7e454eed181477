//! Temp-file naming and the blocking write-to-temp + fsync + rename primitive.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rand::Rng;

/// Every temp file vorpal writes starts with this; the server and listings refuse
/// such names, and keys cannot contain them.
pub const TEMP_PREFIX: &str = ".vorpal-tmp.";

/// Most filesystems cap a name at 255 bytes.
const NAME_MAX: usize = 255;

/// Is `name` (a single path segment) one of vorpal's temp files?
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX)
}

/// `.vorpal-tmp.<random>.<filename>` beside `target` (same directory, so the final
/// rename is atomic). The filename part is shortened so the name fits NAME_MAX.
pub fn temp_path_for(target: &Path) -> PathBuf {
    let random: u64 = rand::rng().random();
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let head = format!("{TEMP_PREFIX}{random:016x}.");
    let mut tail_len = name.len().min(NAME_MAX - head.len());
    while !name.is_char_boundary(tail_len) {
        tail_len -= 1;
    }
    target.with_file_name(format!("{head}{}", &name[..tail_len]))
}

/// What the caller knows of the directory a temp file goes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParentDir {
    /// Probably there: try the file first.
    Unknown,
    /// Probably not there yet, as for a new file of the content-addressed
    /// `packages/` tree, whose last directory is named by the file's own hash:
    /// making it first spares a failed open (a path walk and a directory search)
    /// for every new file.
    LikelyMissing,
}

/// Create a fresh temp file beside `target`, creating parent directories (first,
/// when `parent` says they are likely missing). Retries when a concurrent delete
/// pruned the directory between mkdir and create.
pub fn create_temp_in(target: &Path, parent: ParentDir) -> io::Result<(File, PathBuf)> {
    let dir = target.parent().unwrap_or(Path::new("."));
    if parent == ParentDir::LikelyMissing {
        make_dir(dir)?;
    }
    let mut attempts = 0;
    loop {
        let tmp = temp_path_for(target);
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => return Ok((f, tmp)),
            Err(e) if e.kind() == io::ErrorKind::NotFound && attempts < 5 => {
                fs::create_dir_all(dir)?;
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 5 => {}
            Err(e) => return Err(e),
        }
        attempts += 1;
    }
}

/// `dir` and any missing parents, trying `dir` itself first: unlike
/// `create_dir_all`, an existing `dir` costs one call and no extra `stat`.
fn make_dir(dir: &Path) -> io::Result<()> {
    match fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dir.parent().unwrap_or(Path::new(".")))?;
            match fs::create_dir(dir) {
                Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
                _ => Ok(()),
            }
        }
        Err(e) => Err(e),
    }
}

/// A new temp name beside `target` for the same inode as `existing` (a hard link).
pub fn link_temp(existing: &Path, target: &Path) -> io::Result<PathBuf> {
    let mut attempts = 0;
    loop {
        let tmp = temp_path_for(target);
        match fs::hard_link(existing, &tmp) {
            Ok(()) => return Ok(tmp),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 5 => {}
            Err(e) => return Err(e),
        }
        attempts += 1;
    }
}

/// How hard a finished file is pushed to disk before it replaces its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync the data, rename, fsync the directory: the rename itself survives a
    /// power cut. For the few state files whose loss would be silent.
    Full,
    /// fsync the data, then rename. After a power cut the file is either complete or
    /// absent (never present with lost content). For single objects put outside a
    /// project's batch (root pages, last-modified); a project's files and pages are
    /// published in batches behind shared flushes instead (see `Storage::publish`).
    Data,
}

/// A fresh temp file beside `target` holding `data` (with `mtime` when given), not
/// yet synced; removed again if writing fails.
pub fn write_temp(
    target: &Path,
    data: &[u8],
    mtime: Option<SystemTime>,
) -> io::Result<(File, PathBuf)> {
    write_temp_in(target, data, mtime, ParentDir::Unknown)
}

/// [`write_temp`] with what is known of the target's directory.
pub fn write_temp_in(
    target: &Path,
    data: &[u8],
    mtime: Option<SystemTime>,
    parent: ParentDir,
) -> io::Result<(File, PathBuf)> {
    let (mut file, tmp) = create_temp_in(target, parent)?;
    let written = file
        .write_all(data)
        .and_then(|()| mtime.map_or(Ok(()), |t| file.set_modified(t)));
    match written {
        Ok(()) => Ok((file, tmp)),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Make a finished temp file durable and move it over `target` with `rename`.
fn finish_temp(
    file: File,
    tmp: &Path,
    target: &Path,
    durability: Durability,
    rename: impl FnOnce(&Path, &Path) -> io::Result<()>,
) -> io::Result<()> {
    file.sync_data()?;
    drop(file);
    rename(tmp, target)?;
    match durability {
        Durability::Full => sync_dir(target.parent().unwrap_or(Path::new("."))),
        Durability::Data => Ok(()),
    }
}

/// fsync a directory so a rename inside it survives a power cut.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Blocking atomic write of a whole file: readers see the old content or the new,
/// never a mix.
pub fn write_atomic_with(
    target: &Path,
    data: &[u8],
    mtime: Option<SystemTime>,
    durability: Durability,
) -> io::Result<()> {
    write_atomic_renaming(target, data, mtime, durability, |from, to| {
        fs::rename(from, to)
    })
}

/// [`write_atomic_with`], moving the temp file over `target` with `rename` (which
/// must act as rename(2) does).
pub(crate) fn write_atomic_renaming(
    target: &Path,
    data: &[u8],
    mtime: Option<SystemTime>,
    durability: Durability,
    rename: impl FnOnce(&Path, &Path) -> io::Result<()>,
) -> io::Result<()> {
    let (file, tmp) = write_temp(target, data, mtime)?;
    let result = finish_temp(file, &tmp, target, durability, rename);
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// [`write_atomic_with`] at full durability (state files).
pub fn write_atomic(target: &Path, data: &[u8]) -> io::Result<()> {
    write_atomic_with(target, data, None, Durability::Full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_fit_and_are_recognised() {
        let long = "x".repeat(250) + ".whl";
        let t = temp_path_for(Path::new("/m/web").join(&long).as_path());
        let name = t.file_name().unwrap().to_str().unwrap();
        assert!(name.len() <= NAME_MAX);
        assert!(is_temp_name(name));
        assert_eq!(t.parent(), Some(Path::new("/m/web")));
        let short = temp_path_for(Path::new("/m/foo.whl"));
        assert!(short.to_str().unwrap().ends_with(".foo.whl"));
        assert!(!is_temp_name("foo.whl"));
    }

    #[test]
    fn temp_files_land_whether_or_not_their_directory_was_there() {
        let dir = tempfile::tempdir().unwrap();
        for (path, parent) in [
            ("a/b/c/f1", ParentDir::LikelyMissing),
            ("a/b/c/f2", ParentDir::LikelyMissing),
            ("a/b/d/f3", ParentDir::LikelyMissing),
            ("x/y/f4", ParentDir::Unknown),
            ("x/y/f5", ParentDir::Unknown),
        ] {
            let target = dir.path().join(path);
            let (_f, tmp) = write_temp_in(&target, b"data", None, parent).unwrap();
            assert_eq!(tmp.parent(), target.parent());
            fs::rename(&tmp, &target).unwrap();
            assert_eq!(fs::read(&target).unwrap(), b"data");
        }
        let file = dir.path().join("plain");
        fs::write(&file, b"").unwrap();
        let under_a_file = file.join("sub/f");
        assert!(create_temp_in(&under_a_file, ParentDir::LikelyMissing).is_err());
    }

    #[test]
    fn write_atomic_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/status");
        write_atomic(&p, b"1").unwrap();
        write_atomic(&p, b"22").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"22");
        let names: Vec<_> = fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }
}
