//! `vorpal delete`: a project's pages, files, .metadata, JSON and state go; the root
//! index is regenerated; a dry run changes nothing.
mod support;

use assert_cmd::Command;
use support::mirror::TestMirror;
use support::upstream::{FakeUpstream, UpstreamOptions};
use vorpal::sync::delete::delete_projects;
use vorpal::sync::state::StateDb;
use vorpal::verify::{VerifyOptions, run_verify};

async fn synced() -> (FakeUpstream, TestMirror) {
    let fake = FakeUpstream::start(UpstreamOptions::default()).await;
    fake.add_project("Foo.Bar", &["1.0", "1.1"]);
    fake.add_project("six", &["1.16.0"]);
    let mut m = TestMirror::new(&fake);
    m.config.mirror.json = true;
    m.sync().await;
    (fake, m)
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_removes_everything_a_project_owns() {
    let (fake, m) = synced().await;
    let foo_files: Vec<_> = fake
        .expected_files()
        .into_iter()
        .filter(|f| f.project == "foo-bar")
        .collect();
    let before = m.snapshot();

    let names = vec!["foo_bar".to_string()];
    let dry = delete_projects(&m.config, m.client(), &names, true)
        .await
        .unwrap();
    assert_eq!(dry.deleted.len(), 1);
    let metadata = foo_files
        .iter()
        .filter(|f| f.metadata_sha256.is_some())
        .count();
    assert_eq!(dry.deleted[0].files as usize, foo_files.len() + metadata);
    assert_eq!(dry.deleted[0].pages.len(), 5, "{:?}", dry.deleted[0].pages);
    assert_eq!(m.snapshot(), before, "a dry run changes nothing");

    let report = delete_projects(&m.config, m.client(), &names, false)
        .await
        .unwrap();
    assert_eq!(report.deleted.len(), 1);
    assert!(report.not_found.is_empty());
    for f in &foo_files {
        assert!(
            !m.web(&format!("packages/{}", f.path_under_packages))
                .exists()
        );
        assert!(
            !m.web(&format!("packages/{}.metadata", f.path_under_packages))
                .exists()
        );
    }
    for p in [
        "simple/foo-bar/index.html",
        "simple/foo-bar/index.v1_json",
        "json/foo-bar",
        "pypi/foo-bar/json",
    ] {
        assert!(!m.web(p).exists(), "{p}");
    }
    assert!(!m.web("simple/foo-bar").exists());
    let root = std::fs::read_to_string(m.web("simple/index.html")).unwrap();
    assert!(
        !root.contains("foo-bar/") && root.contains("six/"),
        "{root}"
    );
    let root_json = std::fs::read_to_string(m.web("simple/index.v1_json")).unwrap();
    assert!(!root_json.contains("Foo.Bar"), "{root_json}");

    let db = StateDb::open(&m.root()).unwrap();
    assert!(db.project("foo-bar").unwrap().is_none());
    assert!(db.files_of("foo-bar").unwrap().is_empty());
    assert!(db.project("six").unwrap().is_some());

    // What is left is intact and nothing is orphaned.
    drop(db);
    let v = run_verify(
        &m.config,
        m.client(),
        VerifyOptions {
            delete: true,
            dry_run: true,
            ..VerifyOptions::default()
        },
    )
    .await
    .unwrap();
    assert!(v.succeeded() && v.problems.is_empty());
    assert_eq!(v.orphans.found, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_projects_are_reported() {
    let (_fake, m) = synced().await;
    let before = m.snapshot();
    let report = delete_projects(&m.config, m.client(), &["nosuch".to_string()], false)
        .await
        .unwrap();
    assert!(report.deleted.is_empty());
    assert_eq!(report.not_found, ["nosuch"]);
    assert_eq!(m.snapshot(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_command_lists_deletes_and_exits_by_outcome() {
    let (_fake, m) = synced().await;
    let dir = m.root().to_string_lossy().into_owned();
    let run = move |args: Vec<&'static str>| {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || {
            Command::cargo_bin("vorpal")
                .unwrap()
                .arg("delete")
                .arg("--directory")
                .arg(dir)
                .args(args)
                .current_dir(std::env::temp_dir())
                .output()
                .unwrap()
        })
    };
    let out = run(vec!["--dry-run", "Six"]).await.unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("would delete six"), "{stdout}");
    assert!(m.web("simple/six/index.html").exists());

    let out = run(vec!["six", "nosuch"]).await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!m.web("simple/six/index.html").exists());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nosuch"));

    let out = run(vec!["not a name!"]).await.unwrap();
    assert_eq!(out.status.code(), Some(2));
}
