//! StateDb against real SQLite files in temp directories.

use std::sync::Arc;

use super::db::{DB_DIR, DB_FILE, META_LAST_SERIAL};
use super::*;

fn project(name: &str, serial: u64) -> ProjectRecord {
    ProjectRecord {
        name: name.into(),
        display_name: name.to_uppercase(),
        serial,
        status: None,
    }
}

fn file(project: &str, key: &str, size: u64) -> FileRecord {
    FileRecord {
        key: key.into(),
        project: project.into(),
        kind: FileKind::Dist,
        size,
        sha256: format!("{size:064x}"),
        upload_time: Some("2024-01-02T03:04:05Z".into()),
    }
}

fn event(serial: u64, name: &str, action: &str) -> JournalEntry {
    JournalEntry {
        serial,
        name: name.into(),
        version: Some("1.0".into()),
        action: action.into(),
        timestamp: 1_700_000_000 + serial as i64,
    }
}

#[test]
fn open_creates_wal_database_and_is_shareable() {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::open(dir.path()).unwrap();
    assert_eq!(db.path(), dir.path().join(DB_DIR).join(DB_FILE));
    assert!(db.path().is_file());
    let conn = rusqlite::Connection::open(db.path()).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Arc<StateDb>>();
    // Reopening an up-to-date database is a no-op.
    drop(db);
    StateDb::open(dir.path()).unwrap();
}

#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::open(dir.path()).unwrap();
    let path = db.path().to_path_buf();
    drop(db);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = StateDb::open(dir.path()).unwrap_err();
    assert!(
        matches!(err, StateError::NewerSchema { found: 99, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("newer vorpal"));
}

#[test]
fn commit_project_replaces_file_set_and_returns_dropped_keys() {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::open(dir.path()).unwrap();
    let v1 = [
        file("foo", "web/packages/a/foo-1.0.tar.gz", 10),
        file("foo", "web/packages/b/foo-1.1.tar.gz", 20),
        file("foo", "web/simple/foo/index.html", 5),
    ];
    let dropped = db
        .commit_project(&project("foo", 5), &v1, &[event(5, "foo", "create")])
        .unwrap();
    assert!(dropped.is_empty());
    assert_eq!(db.files_of("foo").unwrap().len(), 3);
    assert_eq!(db.file_count().unwrap(), 3);
    assert_eq!(db.total_bytes().unwrap(), 35);

    let mut page = file("foo", "web/simple/foo/index.html", 7);
    page.kind = FileKind::Page;
    page.upload_time = None;
    let v2 = [
        file("foo", "web/packages/b/foo-1.1.tar.gz", 20),
        file("foo", "web/packages/c/foo-2.0.tar.gz", 30),
        page.clone(),
    ];
    let mut rec = project("foo", 9);
    rec.status = Some("archived".into());
    let dropped = db
        .commit_project(&rec, &v2, &[event(9, "foo", "remove release")])
        .unwrap();
    assert_eq!(dropped, vec!["web/packages/a/foo-1.0.tar.gz".to_string()]);
    assert_eq!(db.project("foo").unwrap(), Some(rec));
    assert_eq!(db.file("web/simple/foo/index.html").unwrap(), Some(page));
    assert_eq!(db.file("web/packages/a/foo-1.0.tar.gz").unwrap(), None);
    assert_eq!(db.total_bytes().unwrap(), 57);

    // Another project is untouched by foo's commits.
    db.commit_project(
        &project("bar", 3),
        &[file("bar", "web/packages/z/bar.whl", 1)],
        &[],
    )
    .unwrap();
    let names: Vec<String> = db.projects().unwrap().into_iter().map(|p| p.name).collect();
    assert_eq!(names, vec!["bar", "foo"]);
    assert_eq!(db.project_count().unwrap(), 2);
    assert_eq!(db.files_of("bar").unwrap().len(), 1);
}

#[test]
fn remove_project_returns_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::open(dir.path()).unwrap();
    db.commit_project(
        &project("foo", 5),
        &[file("foo", "k/2", 1), file("foo", "k/1", 1)],
        &[],
    )
    .unwrap();
    db.commit_project(&project("bar", 6), &[file("bar", "k/3", 1)], &[])
        .unwrap();
    let keys = db
        .remove_project("foo", &[event(7, "foo", "remove project")])
        .unwrap();
    assert_eq!(keys, vec!["k/1".to_string(), "k/2".to_string()]);
    assert_eq!(db.project("foo").unwrap(), None);
    assert!(db.files_of("foo").unwrap().is_empty());
    assert_eq!(db.file_count().unwrap(), 1);
    assert_eq!(db.max_journal_serial().unwrap(), Some(7));
    assert!(db.remove_project("nope", &[]).unwrap().is_empty());
}

#[test]
fn journal_since_orders_by_serial_and_limits() {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::open(dir.path()).unwrap();
    assert_eq!(db.max_journal_serial().unwrap(), None);
    // Committed out of serial order (workers finish in any order).
    db.commit_project(
        &project("b", 8),
        &[],
        &[event(8, "b", "add file"), event(8, "b", "add file 2")],
    )
    .unwrap();
    db.commit_project(&project("a", 3), &[], &[event(3, "a", "create")])
        .unwrap();
    db.commit_project(&project("c", 5), &[], &[event(5, "c", "create")])
        .unwrap();
    let all = db.journal_since(0, 100).unwrap();
    let order: Vec<(u64, &str)> = all.iter().map(|e| (e.serial, e.action.as_str())).collect();
    assert_eq!(
        order,
        vec![
            (3, "create"),
            (5, "create"),
            (8, "add file"),
            (8, "add file 2")
        ]
    );
    assert_eq!(all[0], event(3, "a", "create"));
    let after3 = db.journal_since(3, 2).unwrap();
    assert_eq!(
        after3.iter().map(|e| e.serial).collect::<Vec<_>>(),
        vec![5, 8]
    );
    assert!(db.journal_since(8, 10).unwrap().is_empty());
    assert_eq!(db.max_journal_serial().unwrap(), Some(8));
}

#[test]
fn plan_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = StateDb::open(dir.path()).unwrap();
        assert_eq!(db.plan_target().unwrap(), None);
        db.save_plan(
            100,
            &[
                ("zeta".into(), 90),
                ("alpha".into(), 100),
                ("mid".into(), 95),
            ],
        )
        .unwrap();
        assert!(db.mark_planned_done("mid").unwrap());
        assert!(!db.mark_planned_done("unplanned").unwrap());
    }
    let db = StateDb::open(dir.path()).unwrap();
    assert_eq!(db.plan_target().unwrap(), Some(100));
    assert_eq!(
        db.plan_pending().unwrap(),
        vec![("alpha".to_string(), 100), ("zeta".to_string(), 90)]
    );
    // Saving again replaces the plan.
    db.save_plan(120, &[("new".into(), 120)]).unwrap();
    assert_eq!(db.plan_pending().unwrap(), vec![("new".to_string(), 120)]);
    assert_eq!(db.plan_target().unwrap(), Some(120));
    db.clear_plan().unwrap();
    assert_eq!(db.plan_target().unwrap(), None);
    assert!(db.plan_pending().unwrap().is_empty());
}

#[test]
fn files_page_paginates_in_key_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::open(dir.path()).unwrap();
    for p in 0..5 {
        let name = format!("p{p}");
        let files: Vec<FileRecord> = (0..7)
            .map(|i| file(&name, &format!("web/packages/{i}/{name}.whl"), 1))
            .collect();
        db.commit_project(&project(&name, p), &files, &[]).unwrap();
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = db.files_page(after.as_deref(), 4).unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 4);
        after = page.last().map(|f| f.key.clone());
        seen.extend(page.into_iter().map(|f| f.key));
    }
    assert_eq!(seen.len(), 35);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted);
}

#[test]
fn meta_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::open(dir.path()).unwrap();
    assert_eq!(db.get_meta(META_LAST_SERIAL).unwrap(), None);
    db.set_meta(META_LAST_SERIAL, "12").unwrap();
    db.set_meta(META_LAST_SERIAL, "13").unwrap();
    assert_eq!(
        db.get_meta(META_LAST_SERIAL).unwrap().as_deref(),
        Some("13")
    );
    db.set_meta("target_serial", "garbage").unwrap();
    assert!(matches!(db.plan_target(), Err(StateError::Corrupt { .. })));
}

#[test]
fn a_large_log_is_folded_at_the_end_and_a_small_one_left() {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::open(dir.path()).unwrap();
    let wal = db.path().with_extension("sqlite-wal");
    let wal_len = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    db.commit_project(&project("small", 1), &[file("small", "a/b", 1)], &[])
        .unwrap();
    let small = wal_len();
    assert!(small > 0, "the commit went to the log");
    db.checkpoint_if_large().unwrap();
    assert_eq!(wal_len(), small, "a small log is left alone");

    let commits: Vec<ProjectCommit> = (0..12000)
        .map(|i| {
            let name = format!("p{i}");
            ProjectCommit {
                record: project(&name, i),
                files: (0..4)
                    .map(|j| file(&name, &format!("{name}/f{j}/{}", "x".repeat(200)), j))
                    .collect(),
                journal: vec![event(i, &name, "create")],
                plan_done: false,
            }
        })
        .collect();
    db.commit_projects(&commits).unwrap();
    assert!(wal_len() >= 16 << 20, "the log grew past the fold size");
    db.checkpoint_if_large().unwrap();
    assert_eq!(wal_len(), 0, "a large log is folded and truncated");
    assert_eq!(db.project_count().unwrap(), 12001, "nothing was lost");
}

#[test]
fn reads_see_committed_state_while_a_write_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::open(dir.path()).unwrap();
    db.commit_project(&project("foo", 5), &[file("foo", "a/foo-1.whl", 3)], &[])
        .unwrap();
    let other = rusqlite::Connection::open(db.path()).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    other
        .execute("UPDATE projects SET serial = 99 WHERE name = 'foo'", [])
        .unwrap();
    // The writer's open transaction neither blocks the read nor leaks into it.
    let started = std::time::Instant::now();
    assert_eq!(db.project("foo").unwrap().unwrap().serial, 5);
    assert_eq!(db.files_of("foo").unwrap().len(), 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    other.execute_batch("COMMIT").unwrap();
    assert_eq!(db.project("foo").unwrap().unwrap().serial, 99);
}
