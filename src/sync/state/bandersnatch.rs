//! bandersnatch's state files in the mirror root (`.lock`, `generation`, `status`,
//! `todo`), with bandersnatch's semantics so either tool can pick up the directory.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

use super::StateError;
use crate::storage::write_atomic;

pub const LOCK_FILE: &str = ".lock";
pub const GENERATION_FILE: &str = "generation";
pub const STATUS_FILE: &str = "status";
pub const TODO_FILE: &str = "todo";
/// The status-file generation bandersnatch 2.x through 8.x writes.
pub const CURRENT_GENERATION: u32 = 5;

/// Exclusive hold on a mirror directory, released on drop.
///
/// `flock` on `<root>/.lock`, the same lock bandersnatch takes, so vorpal and
/// bandersnatch also exclude each other.
#[derive(Debug)]
pub struct MirrorLock {
    _file: File,
    path: PathBuf,
}

impl MirrorLock {
    /// Take the lock or fail at once (never waits). Creates `root` if missing.
    pub fn acquire(root: &Path) -> Result<MirrorLock, StateError> {
        fs::create_dir_all(root).map_err(|e| StateError::io("create", root, e))?;
        let path = root.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StateError::io("open", &path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(MirrorLock { _file: file, path }),
            Err(TryLockError::WouldBlock) => Err(StateError::Locked {
                dir: root.to_path_buf(),
                lock: path,
            }),
            Err(TryLockError::Error(e)) => Err(StateError::io("lock", &path, e)),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// What `check_generation` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    /// Already generation 5: status and todo are trusted.
    Current,
    /// Missing (`None`) or an older generation: status and todo were removed (a
    /// full sync follows) and 5 was written.
    Reset { previous: Option<u32> },
}

/// Apply bandersnatch's generation rules to `<root>/generation`.
pub fn check_generation(root: &Path) -> Result<Generation, StateError> {
    let path = root.join(GENERATION_FILE);
    let previous = match fs::read(&path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let value = text.trim();
            match value.parse::<u32>() {
                Ok(CURRENT_GENERATION) => return Ok(Generation::Current),
                Ok(g @ 2..=4) => Some(g),
                _ => {
                    return Err(StateError::UnknownGeneration {
                        path,
                        value: value.to_string(),
                    });
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(StateError::io("read", &path, e)),
    };
    for name in [STATUS_FILE, TODO_FILE] {
        remove_if_present(&root.join(name))?;
    }
    write_file(&path, CURRENT_GENERATION.to_string().as_bytes())?;
    Ok(Generation::Reset { previous })
}

/// The last fully synced serial; 0 when `status` is missing (full sync).
pub fn read_status(root: &Path) -> Result<u64, StateError> {
    let path = root.join(STATUS_FILE);
    match fs::read(&path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let value = text.trim();
            value.parse().map_err(|_| StateError::BadStatus {
                path,
                value: value.to_string(),
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(StateError::io("read", &path, e)),
    }
}

/// Record `serial` as fully synced (ASCII, no newline, atomic).
pub fn write_status(root: &Path, serial: u64) -> Result<(), StateError> {
    write_file(&root.join(STATUS_FILE), serial.to_string().as_bytes())
}

/// An unfinished sync: the serial it aims for and the projects still to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Todo {
    pub target_serial: u64,
    /// `(name, serial)` in file order.
    pub projects: Vec<(String, u64)>,
}

/// The todo list, or `None` when there is none or it cannot be trusted (then a
/// warning is logged and the caller plans afresh, as bandersnatch does).
pub fn read_todo(root: &Path) -> Result<Option<Todo>, StateError> {
    let path = root.join(TODO_FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "ignoring unreadable todo list");
            return Ok(None);
        }
    };
    match parse_todo(&bytes) {
        Ok(todo) => Ok(Some(todo)),
        Err(why) => {
            tracing::warn!(path = %path.display(), problem = why, "ignoring inconsistent todo list");
            Ok(None)
        }
    }
}

/// bandersnatch's reader: first line an integer, then `name serial` per line.
/// Hand-written because the format is this exact, tiny line protocol.
fn parse_todo(bytes: &[u8]) -> Result<Todo, &'static str> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8")?;
    let mut lines = text.lines();
    let first = lines.next().ok_or("empty")?;
    let target_serial = first
        .trim()
        .parse()
        .map_err(|_| "first line is not a serial")?;
    let mut projects = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let mut fields = line.split_whitespace();
        let (Some(name), Some(serial), None) = (fields.next(), fields.next(), fields.next()) else {
            return Err("a line is not `name serial`");
        };
        let serial = serial
            .parse()
            .map_err(|_| "a project serial is not a number")?;
        projects.push((name.to_string(), serial));
    }
    Ok(Todo {
        target_serial,
        projects,
    })
}

/// Write the todo list atomically, in bandersnatch's layout.
pub fn write_todo(root: &Path, todo: &Todo) -> Result<(), StateError> {
    let mut out = format!("{}\n", todo.target_serial);
    let mut first = true;
    for (name, serial) in &todo.projects {
        if name.is_empty() || name.chars().any(char::is_whitespace) {
            return Err(StateError::BadTodoName { name: name.clone() });
        }
        if !first {
            out.push('\n');
        }
        first = false;
        out.push_str(&format!("{name} {serial}"));
    }
    write_file(&root.join(TODO_FILE), out.as_bytes())
}

/// Remove the todo list (the sync finished); `true` if there was one.
pub fn delete_todo(root: &Path) -> Result<bool, StateError> {
    remove_if_present(&root.join(TODO_FILE))
}

fn write_file(path: &Path, data: &[u8]) -> Result<(), StateError> {
    write_atomic(path, data).map_err(|e| StateError::io("write", path, e))
}

fn remove_if_present(path: &Path) -> Result<bool, StateError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(StateError::io("remove", path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_fails_clearly_and_works_after_drop() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("mirror");
        let first = MirrorLock::acquire(&root).unwrap();
        assert_eq!(first.path(), root.join(".lock"));
        let err = MirrorLock::acquire(&root).unwrap_err();
        assert!(matches!(err, StateError::Locked { .. }));
        let msg = err.to_string();
        assert!(msg.contains(&root.display().to_string()), "{msg}");
        assert!(msg.contains("another sync is running"), "{msg}");
        drop(first);
        let again = MirrorLock::acquire(&root).unwrap();
        drop(again);
        // The lock file stays (bandersnatch leaves it too); only the lock is released.
        assert!(root.join(".lock").exists());
    }

    /// Child half of `lock_excludes_another_process`: report whether it got the lock.
    #[test]
    fn lock_child_probe() {
        let Some(dir) = std::env::var_os("VORPAL_LOCK_PROBE_DIR") else {
            return;
        };
        match MirrorLock::acquire(Path::new(&dir)) {
            Ok(_) => println!("PROBE: acquired"),
            Err(StateError::Locked { .. }) => println!("PROBE: locked"),
            Err(e) => println!("PROBE: error {e}"),
        }
    }

    #[test]
    fn lock_excludes_another_process() {
        let dir = tempfile::tempdir().unwrap();
        let probe = || {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "sync::state::bandersnatch::tests::lock_child_probe",
                ])
                .args(["--nocapture", "--test-threads=1"])
                .env("VORPAL_LOCK_PROBE_DIR", dir.path())
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let held = MirrorLock::acquire(dir.path()).unwrap();
        assert!(probe().contains("PROBE: locked"), "{}", probe());
        drop(held);
        assert!(probe().contains("PROBE: acquired"), "{}", probe());
    }

    #[test]
    fn generation_rules() {
        // (file content or None for missing, expected outcome, status kept?)
        let cases: &[(Option<&str>, Result<Generation, ()>, bool)] = &[
            (None, Ok(Generation::Reset { previous: None }), false),
            (
                Some("2"),
                Ok(Generation::Reset { previous: Some(2) }),
                false,
            ),
            (
                Some("3\n"),
                Ok(Generation::Reset { previous: Some(3) }),
                false,
            ),
            (
                Some(" 4 "),
                Ok(Generation::Reset { previous: Some(4) }),
                false,
            ),
            (Some("5"), Ok(Generation::Current), true),
            (Some("5\n"), Ok(Generation::Current), true),
            (Some("6"), Err(()), true),
            (Some("1"), Err(()), true),
            (Some("five"), Err(()), true),
            (Some(""), Err(()), true),
        ];
        for (content, expected, status_kept) in cases {
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path();
            if let Some(c) = content {
                fs::write(root.join(GENERATION_FILE), c).unwrap();
            }
            fs::write(root.join(STATUS_FILE), "42").unwrap();
            fs::write(root.join(TODO_FILE), "50\nfoo 50").unwrap();
            let got = check_generation(root);
            match (expected, got) {
                (Ok(want), Ok(got)) => assert_eq!(*want, got, "{content:?}"),
                (Err(()), Err(e)) => {
                    let msg = e.to_string();
                    assert!(msg.contains("generation"), "{msg}");
                    assert!(
                        msg.contains(&format!("{:?}", content.unwrap().trim())),
                        "{msg}"
                    );
                }
                (want, got) => panic!("{content:?}: wanted {want:?}, got {got:?}"),
            }
            assert_eq!(root.join(STATUS_FILE).exists(), *status_kept, "{content:?}");
            assert_eq!(root.join(TODO_FILE).exists(), *status_kept, "{content:?}");
            if matches!(expected, Ok(Generation::Reset { .. })) {
                assert_eq!(fs::read_to_string(root.join(GENERATION_FILE)).unwrap(), "5");
            }
        }
    }

    #[test]
    fn status_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert_eq!(read_status(root).unwrap(), 0);
        write_status(root, 23_456_789).unwrap();
        assert_eq!(
            fs::read_to_string(root.join(STATUS_FILE)).unwrap(),
            "23456789"
        );
        assert_eq!(read_status(root).unwrap(), 23_456_789);
        fs::write(root.join(STATUS_FILE), " 17\n").unwrap();
        assert_eq!(read_status(root).unwrap(), 17);
        fs::write(root.join(STATUS_FILE), "-3").unwrap();
        let msg = read_status(root).unwrap_err().to_string();
        assert!(msg.contains("status") && msg.contains("\"-3\""), "{msg}");
    }

    #[test]
    fn todo_round_trip_and_delete() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert_eq!(read_todo(root).unwrap(), None);
        let todo = Todo {
            target_serial: 900,
            projects: vec![("foo".into(), 880), ("bar-baz".into(), 900)],
        };
        write_todo(root, &todo).unwrap();
        assert_eq!(
            fs::read_to_string(root.join(TODO_FILE)).unwrap(),
            "900\nfoo 880\nbar-baz 900"
        );
        assert_eq!(read_todo(root).unwrap(), Some(todo));
        let empty = Todo {
            target_serial: 7,
            projects: vec![],
        };
        write_todo(root, &empty).unwrap();
        assert_eq!(read_todo(root).unwrap(), Some(empty));
        assert!(delete_todo(root).unwrap());
        assert!(!delete_todo(root).unwrap());
        let bad = Todo {
            target_serial: 1,
            projects: vec![("two words".into(), 1)],
        };
        assert!(matches!(
            write_todo(root, &bad),
            Err(StateError::BadTodoName { .. })
        ));
    }

    #[test]
    fn inconsistent_todo_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // Trailing newlines (as bandersnatch 8 may write) are fine.
        fs::write(root.join(TODO_FILE), "10\nfoo 9\n").unwrap();
        assert_eq!(
            read_todo(root).unwrap().unwrap().projects,
            vec![("foo".into(), 9)]
        );
        for bad in [
            &b""[..],
            b"\n",
            b"abc\nfoo 1",
            b"10\nfoo",
            b"10\nfoo 1 2",
            b"10\nfoo x",
            b"10\nfoo -1",
            b"\xff\xfe",
        ] {
            fs::write(root.join(TODO_FILE), bad).unwrap();
            assert_eq!(
                read_todo(root).unwrap(),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
