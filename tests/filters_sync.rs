//! Filters end to end: a `bandersnatch.conf` with `[plugins]` and filter sections, read
//! by vorpal's INI reader and bandersnatch mapping, then real syncs from the fake
//! upstream. Pages list only the kept files, the tree holds exactly those (and their
//! `.metadata`), and nothing filtered is ever requested.
mod support;

use std::collections::{BTreeMap, BTreeSet};

use support::bandersnatch;
use support::mirror::TestMirror;
use support::upstream::{
    ExpectedFile, FakeUpstream, FileSpec, ProjectSpec, ReleaseSpec, UpstreamOptions,
};
use vorpal::config::ApiMethod;

fn api_name(api: ApiMethod) -> &'static str {
    match api {
        ApiMethod::Simple => "simple",
        ApiMethod::Xmlrpc => "xmlrpc",
    }
}

/// A mirror of `fake` configured by a bandersnatch.conf whose filter part is `filters`.
fn mirror(fake: &FakeUpstream, api: ApiMethod, filters: &str) -> TestMirror {
    let dir = tempfile::tempdir().unwrap();
    let config = configure(fake, dir.path(), api, filters);
    TestMirror { dir, config }
}

fn configure(
    fake: &FakeUpstream,
    dir: &std::path::Path,
    api: ApiMethod,
    filters: &str,
) -> vorpal::config::Config {
    let text = bandersnatch::conf_text(fake, &dir.join("mirror"), api_name(api), filters);
    let cfg = bandersnatch::vorpal_config(&text, &dir.join("bandersnatch.conf"), fake);
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    assert!(
        !cfg.filters.enabled.is_empty(),
        "no filter enabled by {filters}"
    );
    cfg
}

/// Filenames a project page links, from the HTML page and (checked equal) the JSON one.
fn linked(m: &TestMirror, project: &str) -> BTreeSet<String> {
    let html = std::fs::read_to_string(m.web(&format!("simple/{project}/index.html")))
        .unwrap_or_else(|e| panic!("page of {project}: {e}"));
    let anchor = regex::Regex::new(r">([^<>]+)</a>").unwrap();
    let from_html: BTreeSet<String> = anchor
        .captures_iter(&html)
        .map(|c| c[1].to_string())
        .collect();
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(m.web(&format!("simple/{project}/index.v1_json"))).unwrap(),
    )
    .unwrap();
    let from_json: BTreeSet<String> = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["filename"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(from_html, from_json, "HTML and JSON pages of {project}");
    from_html
}

/// Projects with a page.
fn pages(m: &TestMirror) -> BTreeSet<String> {
    std::fs::read_dir(m.web("simple"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("index.html").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// The mirror holds exactly the upstream files `keep` accepts (plus their .metadata),
/// each project in `projects` has a page listing exactly its kept files, no other
/// project has a page, and no other file was ever requested from upstream.
fn check(
    m: &TestMirror,
    fake: &FakeUpstream,
    projects: &[&str],
    keep: impl Fn(&ExpectedFile) -> bool,
) {
    let want: Vec<ExpectedFile> = fake.expected_files().into_iter().filter(keep).collect();
    let mut tree_want = BTreeMap::new();
    for f in &want {
        let p = format!("packages/{}", f.path_under_packages);
        if let Some(sha) = &f.metadata_sha256 {
            tree_want.insert(format!("{p}.metadata"), sha.clone());
        }
        tree_want.insert(p, f.sha256.clone());
    }
    let tree: BTreeMap<String, String> = m
        .snapshot()
        .into_iter()
        .filter(|(k, _)| k.starts_with("packages/"))
        .collect();
    assert_eq!(tree, tree_want, "mirrored files");

    let want_pages: BTreeSet<String> = projects.iter().map(|p| p.to_string()).collect();
    assert_eq!(pages(m), want_pages, "project pages");
    for p in projects {
        let names: BTreeSet<String> = want
            .iter()
            .filter(|f| f.project == *p)
            .map(|f| f.filename.clone())
            .collect();
        assert_eq!(linked(m, p), names, "links of {p}");
    }

    let allowed: BTreeSet<String> = tree_want.keys().map(|k| format!("/{k}")).collect();
    let stray: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/packages/") && !allowed.contains(&r.path))
        .map(|r| r.path)
        .collect();
    assert!(stray.is_empty(), "filtered files were requested: {stray:?}");
}

/// Requests for a project's metadata (JSON API or simple page).
fn metadata_requests(fake: &FakeUpstream, project: &str) -> usize {
    fake.count(|r| {
        r.path == format!("/pypi/{project}/json") || r.path == format!("/simple/{project}/")
    })
}

fn version_of(f: &ExpectedFile) -> &str {
    let stem = f
        .filename
        .trim_end_matches(".tar.gz")
        .trim_end_matches(".whl");
    stem.split('-').nth(1).unwrap_or_default()
}

fn platform_files() -> Vec<FileSpec> {
    vec![
        FileSpec::wheel_tagged("cp311", "cp311", "win_amd64"),
        FileSpec::wheel_tagged("cp311", "cp311", "manylinux2014_x86_64"),
        FileSpec::wheel(),
        FileSpec::sdist(),
    ]
}

/// Several projects, versions and platforms; see each test for what it filters.
async fn populated() -> FakeUpstream {
    let fake = FakeUpstream::start(UpstreamOptions::default()).await;
    fake.add_project_with(
        "Foo.Bar",
        ProjectSpec {
            releases: ["0.9", "1.0rc1", "1.0", "1.1.dev2", "1.1", "2.0b1"]
                .iter()
                .map(|v| ReleaseSpec::with_files(v, platform_files()))
                .collect(),
        },
    );
    fake.add_project("six", &["1.15.0", "1.16.0"]);
    fake.add_project("blocked-pkg", &["1.0"]);
    fake.add_project("pkg-nightly", &["1.0"]);
    fake.add_project("Test_Thing", &["0.1"]);
    fake
}

#[tokio::test(flavor = "multi_thread")]
async fn allowlist_project_mirrors_listed_projects_and_picks_up_additions() {
    for api in [ApiMethod::Simple, ApiMethod::Xmlrpc] {
        let fake = populated().await;
        let list = |names: &str| {
            format!("[plugins]\nenabled = allowlist_project\n\n[allowlist]\npackages =\n{names}")
        };
        let mut m = mirror(&fake, api, &list("    six  # pinned later\n"));
        m.sync().await;
        check(&m, &fake, &["six"], |f| f.project == "six");
        assert_eq!(metadata_requests(&fake, "foo-bar"), 0, "{api:?}");
        assert_eq!(m.status(), fake.serial());

        // The list grows; upstream does not change. A normal run fetches the newcomer.
        let serial = fake.serial();
        m.config = configure(&fake, m.dir.path(), api, &list("    six\n    FOO_bar\n"));
        fake.clear_log();
        let report = m.sync().await;
        assert_eq!(fake.serial(), serial);
        assert_eq!(report.updated, 1, "{api:?}: {report:?}");
        check(&m, &fake, &["foo-bar", "six"], |f| {
            ["six", "foo-bar"].contains(&f.project.as_str())
        });
        assert_eq!(metadata_requests(&fake, "six"), 0, "six did not change");

        // Nothing more to do afterwards.
        fake.clear_log();
        let report = m.sync().await;
        assert_eq!(report.planned, 0, "{api:?}: {report:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn blocklist_project_is_never_fetched() {
    for api in [ApiMethod::Simple, ApiMethod::Xmlrpc] {
        let fake = populated().await;
        let m = mirror(
            &fake,
            api,
            "[plugins]\nenabled = blocklist_project\n[blocklist]\npackages =\n    Blocked.Pkg\n",
        );
        m.sync().await;
        check(
            &m,
            &fake,
            &["foo-bar", "pkg-nightly", "six", "test-thing"],
            |f| f.project != "blocked-pkg",
        );
        assert_eq!(metadata_requests(&fake, "blocked-pkg"), 0);

        // Changes to a blocked project stay invisible.
        fake.add_release("blocked-pkg", "2.0");
        fake.clear_log();
        m.sync().await;
        assert_eq!(metadata_requests(&fake, "blocked-pkg"), 0, "{api:?}");
        assert!(!m.web("simple/blocked-pkg").exists());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn release_allow_and_block_lists_with_specifiers() {
    let fake = populated().await;
    let m = mirror(
        &fake,
        ApiMethod::Simple,
        "[plugins]\nenabled =\n    allowlist_release\n    blocklist_release\n\
         [allowlist]\npackages =\n    foo-bar>=1.0\n    six\n\
         [blocklist]\npackages =\n    foo-bar==1.1\n    six<1.16\n",
    );
    m.sync().await;
    // allowlist_release keeps foo-bar >= 1.0 (pre-releases above the bound count,
    // 1.0rc1 sorts below 1.0) and drops every release of unlisted projects, which
    // leaves their pages empty; blocklist_release then removes foo-bar 1.1 and six 1.15.
    check(
        &m,
        &fake,
        &["blocked-pkg", "foo-bar", "pkg-nightly", "six", "test-thing"],
        |f| match f.project.as_str() {
            "foo-bar" => ["1.0", "1.1.dev2", "2.0b1"].contains(&version_of(f)),
            "six" => version_of(f) == "1.16.0",
            _ => false,
        },
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn prerelease_release_drops_pre_and_dev_releases() {
    let fake = populated().await;
    let m = mirror(
        &fake,
        ApiMethod::Simple,
        "[plugins]\nenabled = prerelease_release\n",
    );
    m.sync().await;
    check(
        &m,
        &fake,
        &["blocked-pkg", "foo-bar", "pkg-nightly", "six", "test-thing"],
        |f| !["1.0rc1", "1.1.dev2", "2.0b1"].contains(&version_of(f)),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn latest_release_keeps_the_newest_and_follows_new_releases() {
    let fake = populated().await;
    let filters = "[plugins]\nenabled =\n    latest_release\n    prerelease_release\n\
                   [latest_release]\nkeep = 2\n";
    let m = mirror(&fake, ApiMethod::Simple, filters);
    m.sync().await;
    check(
        &m,
        &fake,
        &["blocked-pkg", "foo-bar", "pkg-nightly", "six", "test-thing"],
        |f| f.project != "foo-bar" || ["1.0", "1.1"].contains(&version_of(f)),
    );

    // A new release pushes the oldest kept one out: its files leave the tree.
    fake.add_release_with("Foo.Bar", ReleaseSpec::with_files("1.2", platform_files()));
    fake.clear_log();
    m.sync().await;
    check(
        &m,
        &fake,
        &["blocked-pkg", "foo-bar", "pkg-nightly", "six", "test-thing"],
        |f| f.project != "foo-bar" || ["1.1", "1.2"].contains(&version_of(f)),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn exclude_platform_drops_windows_wheels_but_keeps_sdists() {
    let fake = populated().await;
    // A release with nothing but a Windows wheel disappears entirely.
    fake.add_release_with(
        "six",
        ReleaseSpec::with_files(
            "2.0",
            vec![FileSpec::wheel_tagged("cp311", "cp311", "win32")],
        ),
    );
    let m = mirror(
        &fake,
        ApiMethod::Simple,
        "[plugins]\nenabled = exclude_platform\n[blocklist]\nplatforms = windows\n",
    );
    m.sync().await;
    check(
        &m,
        &fake,
        &["blocked-pkg", "foo-bar", "pkg-nightly", "six", "test-thing"],
        |f| !f.filename.contains("win_amd64") && !f.filename.contains("win32"),
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(m.web("simple/six/index.v1_json")).unwrap()).unwrap();
    let versions: Vec<&str> = json["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(!versions.contains(&"2.0"), "{versions:?}");
    assert!(
        linked(&m, "foo-bar")
            .iter()
            .filter(|f| f.ends_with(".tar.gz"))
            .count()
            == 6,
        "every sdist kept"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn regex_project_and_regex_release() {
    let fake = populated().await;
    let m = mirror(
        &fake,
        ApiMethod::Xmlrpc,
        "[plugins]\nenabled =\n    regex_project\n    regex_release\n\
         [filter_regex]\npackages =\n    .+-nightly$\n    test_\n\
         releases =\n    .*\\.dev\\d+$\n    1\\.0rc\n",
    );
    m.sync().await;
    // Patterns match from the start of the name as listed or normalized, case and all:
    // `test_` misses both `Test_Thing` and `test-thing`, so only pkg-nightly goes.
    check(
        &m,
        &fake,
        &["blocked-pkg", "foo-bar", "six", "test-thing"],
        |f| f.project != "pkg-nightly" && !["1.1.dev2", "1.0rc1"].contains(&version_of(f)),
    );
    assert_eq!(metadata_requests(&fake, "pkg-nightly"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn size_project_metadata_skips_big_projects_unless_allowlisted() {
    let fake = populated().await;
    fake.add_project_with(
        "huge",
        ProjectSpec {
            releases: vec![ReleaseSpec::with_files(
                "1.0",
                vec![FileSpec::sdist().size(200_000)],
            )],
        },
    );
    fake.add_project_with(
        "huge-but-wanted",
        ProjectSpec {
            releases: vec![ReleaseSpec::with_files(
                "1.0",
                vec![FileSpec::sdist().size(200_000)],
            )],
        },
    );
    let total = |p: &str| -> u64 {
        fake.expected_files()
            .iter()
            .filter(|f| f.project == p)
            .map(|f| f.size)
            .sum()
    };
    assert!(total("foo-bar") < 150 * 1024, "{}", total("foo-bar"));
    let m = mirror(
        &fake,
        ApiMethod::Simple,
        "[plugins]\nenabled = size_project_metadata\n\
         [size_project_metadata]\nmax_package_size = 150K\n\
         [allowlist]\npackages = huge-but-wanted\n",
    );
    m.sync().await;
    check(
        &m,
        &fake,
        &[
            "blocked-pkg",
            "foo-bar",
            "huge-but-wanted",
            "pkg-nightly",
            "six",
            "test-thing",
        ],
        |f| f.project != "huge",
    );
    // The skipped project was looked at (its metadata decides) but nothing was fetched.
    assert!(metadata_requests(&fake, "huge") > 0);
    let root = std::fs::read_to_string(m.web("simple/index.html")).unwrap();
    assert!(!root.contains("\"huge/\""), "{root}");

    // The verdict is remembered: an unchanged skipped project is not fetched again.
    fake.clear_log();
    let report = m.sync().await;
    assert_eq!(report.planned, 0, "{report:?}");
    assert_eq!(metadata_requests(&fake, "huge"), 0);

    // Changed filters judge it again.
    let mut m = m;
    m.config = configure(
        &fake,
        m.dir.path(),
        ApiMethod::Simple,
        "[plugins]\nenabled = size_project_metadata\n\
         [size_project_metadata]\nmax_package_size = 1M\n",
    );
    m.sync().await;
    assert!(m.web("simple/huge/index.html").is_file());
}
