//! Filters end to end: config sections in, projects through.

use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::config::filters::SectionMap;
use crate::index::DistFile;

fn config_in(dir: &Path, sections: &[(&str, &[(&str, &str)])]) -> FilterConfig {
    let map: SectionMap = sections
        .iter()
        .map(|(s, opts)| {
            (
                s.to_string(),
                opts.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
            )
        })
        .collect();
    FilterConfig::from_sections(&map, &dir.join("bandersnatch.conf"))
        .unwrap()
        .0
}

fn filters(sections: &[(&str, &[(&str, &str)])]) -> Filters {
    Filters::from_config(&config_in(Path::new("/nonexistent"), sections)).unwrap()
}

fn file(version: &str, filename: &str, time: &str) -> DistFile {
    DistFile {
        filename: filename.into(),
        version: Some(version.into()),
        upload_time: Some(time.into()),
        size: Some(100),
        packagetype: Some(
            if filename.ends_with(".whl") {
                "bdist_wheel"
            } else {
                "sdist"
            }
            .into(),
        ),
        ..DistFile::default()
    }
}

/// A project with one sdist and one Windows wheel per version, uploaded in list order.
fn project(name: &str, versions: &[&str]) -> Project {
    let mut files = Vec::new();
    for (i, v) in versions.iter().enumerate() {
        let t = format!("2024-01-{:02}T00:00:00Z", i + 1);
        files.push(file(v, &format!("{name}-{v}.tar.gz"), &t));
        files.push(file(
            v,
            &format!("{name}-{v}-cp312-cp312-win_amd64.whl"),
            &t,
        ));
    }
    Project {
        name: normalize(name),
        display_name: name.into(),
        versions: versions.iter().map(|v| v.to_string()).collect(),
        files,
        info_version: versions.last().map(|v| v.to_string()),
        ..Project::default()
    }
}

fn run(f: &Filters, mut p: Project) -> (FilterOutcome, Project) {
    let outcome = f.filter_project(&mut p);
    (outcome, p)
}

#[test]
fn nothing_enabled_changes_nothing() {
    let f = filters(&[("allowlist", &[("packages", "foo")])]);
    assert!(!f.is_enabled());
    assert!(f.allows_project("anything"));
    assert_eq!(f.allowlisted_names(), None);
    let mut p = project("bar", &["1.0"]);
    p.versions.push("0.1".into()); // listed without files
    let before = p.clone();
    let (o, after) = run(&f, p);
    assert_eq!(o, FilterOutcome::Keep);
    assert_eq!(after, before);
}

#[test]
fn allowlist_names_are_normalized() {
    let f = filters(&[
        ("plugins", &[("enabled", "allowlist_project")]),
        (
            "allowlist",
            &[("packages", "Foo.Bar\nblack>=25.1.0 # formatter\n")],
        ),
    ]);
    assert!(f.allows_project("foo-bar"));
    assert!(f.allows_project("FOO_bar"));
    assert!(f.allows_project("Black"));
    assert!(!f.allows_project("requests"));
    assert_eq!(
        f.allowlisted_names(),
        Some(vec!["black".to_string(), "foo-bar".to_string()])
    );
    let (o, _) = run(&f, project("requests", &["1.0"]));
    assert!(matches!(o, FilterOutcome::SkipProject(r) if r.contains("requests")));
}

#[test]
fn blocklist_and_regex_project() {
    let f = filters(&[
        (
            "plugins",
            &[("enabled", "blocklist_project\nregex_project")],
        ),
        ("blocklist", &[("packages", "Evil.Pkg\nnumpy<2\n")]),
        ("filter_regex", &[("packages", ".+-nightly$\ntest_")]),
    ]);
    assert!(!f.allows_project("evil-pkg"));
    assert!(!f.allows_project("EVIL_PKG"));
    assert!(
        f.allows_project("numpy"),
        "a specifier line is for blocklist_release only"
    );
    assert!(!f.allows_project("foo-nightly"));
    assert!(!f.allows_project("test_x"), "regex sees the name as listed");
    assert!(!f.allows_project("Foo.Nightly"), "and its normalized form");
    assert!(
        f.allows_project("my-test-x"),
        "re.match anchors at the start"
    );
    assert_eq!(f.allowlisted_names(), None);
}

#[test]
fn release_specifiers_with_prereleases() {
    let f = filters(&[
        (
            "plugins",
            &[("enabled", "allowlist_release\nblocklist_release")],
        ),
        ("allowlist", &[("packages", "black>=25.1.0")]),
        ("blocklist", &[("packages", "black==25.3.0")]),
    ]);
    let (o, p) = run(
        &f,
        project(
            "black",
            &["24.10.0", "25.1.0rc1", "25.1.0", "25.2.0rc1", "25.3.0"],
        ),
    );
    assert_eq!(o, FilterOutcome::Keep);
    // bandersnatch sets prereleases=True: 25.2.0rc1 is >= 25.1.0; 25.1.0rc1 is not.
    assert_eq!(p.versions, vec!["25.1.0", "25.2.0rc1"]);
    assert_eq!(p.files.len(), 4);
    // allowlist_release drops every release of a project it does not name.
    let (_, other) = run(&f, project("other", &["1.0"]));
    assert!(other.versions.is_empty() && other.files.is_empty());
}

#[test]
fn prerelease_and_regex_release() {
    let f = filters(&[
        (
            "plugins",
            &[("enabled", "prerelease_release regex_release")],
        ),
        ("filter_regex", &[("releases", r".*\.post\d+$")]),
    ]);
    let (_, p) = run(
        &f,
        project("x", &["1.0", "1.1rc1", "1.1", "1.1.post1", "2.0.dev0"]),
    );
    assert_eq!(p.versions, vec!["1.0", "1.1"]);
    let f = filters(&[
        ("plugins", &[("enabled", "prerelease_release")]),
        ("filter_prerelease", &[("packages", "Only.This")]),
    ]);
    let (_, p) = run(&f, project("x", &["1.0", "1.1rc1"]));
    assert_eq!(p.versions, vec!["1.0", "1.1rc1"]);
    let (_, p) = run(&f, project("only_this", &["1.0", "1.1rc1"]));
    assert_eq!(p.versions, vec!["1.0"]);
}

#[test]
fn latest_keeps_info_version_and_runs_after_other_release_filters() {
    let f = filters(&[
        (
            "plugins",
            &[("enabled", "latest_release prerelease_release")],
        ),
        ("latest_release", &[("keep", "2")]),
    ]);
    let mut p = project("x", &["1.0", "1.1", "1.2", "2.0rc1"]);
    p.info_version = Some("1.0".into());
    let (_, p) = run(&f, p);
    // Pre-release gone first; of 1.0/1.1/1.2 the newest two would be 1.2, 1.1, but
    // info.version 1.0 replaces the oldest kept one.
    assert_eq!(p.versions, vec!["1.0", "1.2"]);

    let f = filters(&[
        ("plugins", &[("enabled", "latest_release")]),
        ("latest_release", &[("keep", "2"), ("sort_by", "time")]),
    ]);
    // Upload order 2.0, 1.5, 1.9: by time the newest two are 1.9 and 1.5.
    let mut p = project("x", &["2.0", "1.5", "1.9"]);
    p.info_version = Some("1.9".into());
    let (_, p) = run(&f, p);
    assert_eq!(p.versions, vec!["1.5", "1.9"]);
}

#[test]
fn exclude_platform_then_empty_releases_are_dropped() {
    let f = filters(&[
        ("plugins", &[("enabled", "exclude_platform")]),
        ("blocklist", &[("platforms", "windows")]),
    ]);
    let mut p = project("x", &["1.0", "2.0"]);
    // 2.0 has only a Windows wheel.
    p.files.retain(|f| f.filename != "x-2.0.tar.gz");
    p.versions.push("3.0".into()); // listed upstream without files
    let (o, p) = run(&f, p);
    assert_eq!(o, FilterOutcome::Keep);
    assert_eq!(p.versions, vec!["1.0"]);
    assert_eq!(
        p.files
            .iter()
            .map(|f| f.filename.as_str())
            .collect::<Vec<_>>(),
        vec!["x-1.0.tar.gz"]
    );
}

#[test]
fn order_file_filters_before_latest() {
    // latest_release counts only releases that still have files, as bandersnatch
    // filters release files before releases.
    let f = filters(&[
        ("plugins", &[("enabled", "exclude_platform latest_release")]),
        ("blocklist", &[("platforms", "windows")]),
        ("latest_release", &[("keep", "1")]),
    ]);
    let mut p = project("x", &["1.0", "2.0"]);
    p.files.retain(|f| f.filename != "x-2.0.tar.gz");
    p.info_version = None;
    let (_, p) = run(&f, p);
    assert_eq!(p.versions, vec!["1.0"]);
}

#[test]
fn metadata_filters_skip_before_anything_else() {
    let f = filters(&[
        (
            "plugins",
            &[("enabled", "size_project_metadata exclude_platform")],
        ),
        ("size_project_metadata", &[("max_package_size", "300")]),
        ("blocklist", &[("platforms", "windows")]),
    ]);
    // 4 files of 100 bytes: the size check sees all of them, before the platform filter.
    let (o, p) = run(&f, project("x", &["1.0", "2.0"]));
    assert!(matches!(&o, FilterOutcome::SkipProject(r) if r.contains("size_project_metadata")));
    assert_eq!(p.files.len(), 4, "a skipped project is left untouched");
    let (o, _) = run(&f, project("x", &["1.0"]));
    assert_eq!(o, FilterOutcome::Keep);
}

#[test]
fn pinned_requirements_from_files_and_globs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("reqs")).unwrap();
    std::fs::write(
        dir.path().join("reqs/a.txt"),
        "requests==2.31.0\n# comment\n-r b.txt\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("reqs/b.txt"), "Flask>=3 --hash=sha256:00\n").unwrap();
    let cfg = config_in(
        dir.path(),
        &[
            (
                "plugins",
                &[(
                    "enabled",
                    "project_requirements\nproject_requirements_pinned",
                )],
            ),
            (
                "allowlist",
                &[("requirements_path", "reqs"), ("requirements", "*.txt")],
            ),
        ],
    );
    let f = Filters::from_config(&cfg).unwrap();
    assert_eq!(
        f.allowlisted_names(),
        Some(vec!["flask".to_string(), "requests".to_string()])
    );
    assert!(!f.allows_project("django"));
    let (_, p) = run(&f, project("requests", &["2.30.0", "2.31.0", "2.32.0"]));
    assert_eq!(p.versions, vec!["2.31.0"]);
    let (_, p) = run(&f, project("flask", &["2.3", "3.0", "3.1"]));
    assert_eq!(p.versions, vec!["3.0", "3.1"]);

    // A named file that does not exist is a configuration error.
    let cfg = config_in(
        dir.path(),
        &[
            ("plugins", &[("enabled", "project_requirements")]),
            ("allowlist", &[("requirements", "missing.txt")]),
        ],
    );
    let e = Filters::from_config(&cfg).unwrap_err().0;
    assert!(
        e.contains("missing.txt") && e.contains("requirements"),
        "{e}"
    );
}

#[test]
fn allowlist_and_requirements_both_on_intersect() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("r.txt"), "a\nb\n").unwrap();
    let cfg = config_in(
        dir.path(),
        &[
            (
                "plugins",
                &[("enabled", "allowlist_project project_requirements")],
            ),
            (
                "allowlist",
                &[("packages", "b\nc"), ("requirements", "r.txt")],
            ),
        ],
    );
    let f = Filters::from_config(&cfg).unwrap();
    assert_eq!(f.allowlisted_names(), Some(vec!["b".to_string()]));
    assert!(f.allows_project("b") && !f.allows_project("a") && !f.allows_project("c"));
}

#[test]
fn release_file_metadata_filters() {
    let f = filters(&[
        ("plugins", &[("enabled", "regex_release_file_metadata")]),
        (
            "regex_release_file_metadata",
            &[("release_file.packagetype", "sdist")],
        ),
    ]);
    let (_, p) = run(&f, project("x", &["1.0"]));
    assert_eq!(p.files.len(), 1);
    assert_eq!(p.files[0].filename, "x-1.0.tar.gz");
}
