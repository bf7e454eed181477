//! Full and incremental syncs against the fake upstream: every file verified, every
//! kind of upstream change followed, both api-methods and both metadata sources.
mod support;

use support::mirror::{TestMirror, temp_files};
use support::upstream::{FakeUpstream, FileSpec, ProjectSpec, ReleaseSpec, UpstreamOptions};
use vorpal::config::{ApiMethod, MetadataSource};

async fn populated() -> FakeUpstream {
    let fake = FakeUpstream::start(UpstreamOptions::default()).await;
    fake.add_project("Foo.Bar", &["1.0", "1.1"]);
    fake.add_project("six", &["1.16.0"]);
    fake.add_project_with(
        "web_app",
        ProjectSpec {
            releases: vec![ReleaseSpec::with_files(
                "2.0",
                vec![
                    FileSpec::wheel().requires_python(">=3.8, <4"),
                    FileSpec::wheel_tagged("cp311", "cp311", "manylinux2014_x86_64"),
                    FileSpec::sdist(),
                ],
            )],
        },
    );
    fake.yank("six", "1.16.0", Some("broken <build>"));
    fake
}

fn package_gets(fake: &FakeUpstream) -> usize {
    fake.count(|r| r.method == "GET" && r.path.starts_with("/packages/"))
}

#[tokio::test(flavor = "multi_thread")]
async fn full_sync_mirrors_every_file_with_both_api_methods_and_sources() {
    let fake = populated().await;
    for (api, source) in [
        (ApiMethod::Simple, MetadataSource::Json),
        (ApiMethod::Xmlrpc, MetadataSource::Json),
        (ApiMethod::Simple, MetadataSource::Simple),
        (ApiMethod::Xmlrpc, MetadataSource::Simple),
    ] {
        let m = TestMirror::with(&fake, api, source);
        let report = m.sync().await;
        assert_eq!(report.updated, 3, "{api:?}/{source:?}");
        m.assert_matches(&fake);
        assert_eq!(m.status(), fake.serial(), "{api:?}/{source:?}");
        assert!(m.web("last-modified").is_file());
        assert!(temp_files(&m.root()).is_empty());
        assert!(
            !m.root().join("todo").exists(),
            "todo removed after success"
        );

        let root_json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(m.web("simple/index.v1_json")).unwrap()).unwrap();
        assert_eq!(root_json["meta"]["_last-serial"], fake.serial());
        let names: Vec<&str> = root_json["projects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Foo.Bar", "six", "web_app"], "{api:?}/{source:?}");
        for p in root_json["projects"].as_array().unwrap() {
            assert!(p["_last-serial"].is_u64());
        }

        let html = std::fs::read_to_string(m.web("simple/six/index.html")).unwrap();
        assert!(
            html.contains("data-yanked=\"broken &lt;build&gt;\""),
            "{html}"
        );
        assert_eq!(
            html,
            std::fs::read_to_string(m.web("simple/six/index.v1_html")).unwrap()
        );
        let page = std::fs::read_to_string(m.web("simple/web-app/index.html")).unwrap();
        assert!(
            page.contains("data-requires-python=\"&gt;=3.8, &lt;4\""),
            "{page}"
        );
        assert!(page.contains("href=\"../../packages/"), "{page}");
        assert!(page.contains("data-core-metadata=\"sha256="), "{page}");
        assert!(page.contains("data-dist-info-metadata=\"sha256="), "{page}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn noop_incremental_fetches_nothing() {
    let fake = populated().await;
    let m = TestMirror::new(&fake);
    m.sync().await;
    let before = m.snapshot();
    fake.clear_log();
    let report = m.sync().await;
    assert_eq!(report.planned, 0);
    assert_eq!(package_gets(&fake), 0);
    assert_eq!(fake.count(|r| r.path.starts_with("/pypi/")), 0);
    assert_eq!(m.snapshot(), before);
}

fn metadata_gets(fake: &FakeUpstream) -> Vec<String> {
    fake.requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.ends_with(".metadata"))
        .map(|r| r.path)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wheels_metadata_comes_out_of_the_wheel_unless_the_index_serves_other_bytes() {
    let fake = populated().await;
    let odd = "Metadata-Version: 2.1\nName: odd\nVersion: 1.0\nSummary: not the wheel's\n";
    fake.add_project_with(
        "odd",
        ProjectSpec {
            releases: vec![ReleaseSpec::with_files(
                "1.0",
                vec![FileSpec::wheel().served_metadata(odd), FileSpec::sdist()],
            )],
        },
    );
    fake.clear_log();
    let m = TestMirror::new(&fake);
    m.sync().await;
    // Every .metadata is the index's, byte for byte (assert_matches checks hashes).
    m.assert_matches(&fake);
    // Only the one whose bytes differ from the wheel's METADATA was requested.
    let gets = metadata_gets(&fake);
    assert_eq!(gets.len(), 1, "{gets:?}");
    assert!(gets[0].contains("/odd-1.0-"), "{gets:?}");
    let wheel = fake
        .expected_files()
        .into_iter()
        .find(|f| f.project == "odd" && f.filename.ends_with(".whl"))
        .unwrap();
    let stored =
        std::fs::read(m.web(&format!("packages/{}.metadata", wheel.path_under_packages))).unwrap();
    assert_eq!(stored, odd.as_bytes());
}

#[tokio::test(flavor = "multi_thread")]
async fn incremental_follows_every_kind_of_change() {
    for api in [ApiMethod::Simple, ApiMethod::Xmlrpc] {
        let fake = populated().await;
        let m = TestMirror::with(&fake, api, MetadataSource::Json);
        m.sync().await;

        // New release: only its files are downloaded.
        fake.clear_log();
        fake.add_release("Foo.Bar", "2.0");
        let r = m.sync().await;
        assert_eq!(r.planned, 1, "{api:?}");
        m.assert_matches(&fake);
        assert_eq!(
            package_gets(&fake),
            2,
            "the wheel (its .metadata comes out of it) and the sdist"
        );
        // The pages it replaced were held aside, then freed before the run ended.
        let replaced = m.root().join(".vorpal/replaced");
        let held = std::fs::read_dir(&replaced).map(|d| d.count());
        assert_eq!(held.ok(), Some(0), "{api:?}: {}", replaced.display());

        // New file in an existing release.
        fake.add_file(
            "six",
            "1.16.0",
            FileSpec::wheel_tagged("py2", "none", "any"),
        );
        m.sync().await;
        m.assert_matches(&fake);

        // Unyank, then yank with a reason.
        fake.unyank("six", "1.16.0");
        m.sync().await;
        let html = std::fs::read_to_string(m.web("simple/six/index.html")).unwrap();
        assert!(!html.contains("data-yanked"), "{html}");
        fake.yank("Foo.Bar", "1.0", None);
        m.sync().await;
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(m.web("simple/foo-bar/index.v1_json")).unwrap())
                .unwrap();
        let yanked: Vec<&serde_json::Value> = json["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["filename"].as_str().unwrap().contains("-1.0"))
            .map(|f| &f["yanked"])
            .collect();
        assert!(
            yanked.iter().all(|y| **y == serde_json::Value::Bool(true)),
            "{yanked:?}"
        );

        // Removed file and removed release: their files leave the tree.
        let sdist = fake
            .expected_files()
            .into_iter()
            .find(|f| f.project == "foo-bar" && f.filename.ends_with("1.1.tar.gz"))
            .unwrap();
        fake.remove_file("Foo.Bar", &sdist.filename);
        m.sync().await;
        m.assert_matches(&fake);
        assert!(
            !m.web(&format!("packages/{}", sdist.path_under_packages))
                .exists()
        );
        fake.remove_release("Foo.Bar", "1.0");
        m.sync().await;
        m.assert_matches(&fake);

        // Removed project: pages and files go; new project arrives.
        fake.remove_project("web_app");
        fake.add_project("newcomer", &["0.1"]);
        m.sync().await;
        m.assert_matches(&fake);
        assert!(
            !m.web("simple/web-app").join("index.html").exists(),
            "{api:?}"
        );
        let root = std::fs::read_to_string(m.web("simple/index.html")).unwrap();
        assert!(!root.contains("web-app/"), "{root}");
        assert!(root.contains("newcomer/"), "{root}");
        assert_eq!(m.status(), fake.serial());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn quarantined_project_lists_no_files() {
    for source in [MetadataSource::Simple, MetadataSource::Json] {
        let fake = populated().await;
        let m = TestMirror::with(&fake, ApiMethod::Simple, source);
        m.sync().await;
        fake.set_status("six", "quarantined", Some("malware report"));
        m.sync().await;
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(m.web("simple/six/index.v1_json")).unwrap())
                .unwrap();
        assert_eq!(json["files"].as_array().unwrap().len(), 0, "{source:?}");
        if source == MetadataSource::Simple {
            // PEP 792 status travels on PEP 691 pages; the JSON API does not carry it.
            assert_eq!(json["project-status"]["status"], "quarantined");
            let html = std::fs::read_to_string(m.web("simple/six/index.html")).unwrap();
            assert!(
                html.contains("pypi:project-status\" content=\"quarantined"),
                "{html}"
            );
        }
        m.assert_matches(&fake);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn named_projects_sync_without_moving_the_serial() {
    let fake = populated().await;
    let m = TestMirror::new(&fake);
    let mut opts = TestMirror::options();
    opts.projects = vec!["six".into()];
    let report = m.try_sync(opts).await.unwrap();
    assert!(report.succeeded());
    assert_eq!(report.updated, 1);
    assert_eq!(m.status(), 0);
    assert!(m.web("simple/six/index.html").is_file());
    assert!(!m.web("simple/foo-bar/index.html").exists());
    let root = std::fs::read_to_string(m.web("simple/index.html")).unwrap();
    assert!(root.contains("six/"));
}

#[tokio::test(flavor = "multi_thread")]
async fn json_api_documents_are_written_when_asked() {
    let fake = populated().await;
    let mut m = TestMirror::new(&fake);
    m.config.mirror.json = true;
    m.sync().await;
    for p in ["json/foo-bar", "pypi/foo-bar/json"] {
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(m.web(p)).unwrap()).unwrap();
        assert_eq!(doc["info"]["name"], "Foo.Bar");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn layout_options_hash_index_root_uri_formats_and_index_only() {
    let fake = populated().await;

    let mut hashed = TestMirror::new(&fake);
    hashed.config.mirror.hash_index = true;
    hashed.config.mirror.simple_format = vorpal::config::SimpleFormat::Json;
    hashed.sync().await;
    assert!(hashed.web("simple/f/foo-bar/index.v1_json").is_file());
    assert!(!hashed.web("simple/f/foo-bar/index.html").exists());
    let json = std::fs::read_to_string(hashed.web("simple/f/foo-bar/index.v1_json")).unwrap();
    assert!(json.contains("\"url\":\"../../../packages/"), "{json}");
    let root = std::fs::read_to_string(hashed.web("simple/index.v1_json")).unwrap();
    assert!(root.contains("Foo.Bar"), "{root}");

    let mut absolute = TestMirror::new(&fake);
    absolute.config.mirror.root_uri = Some("https://mirror.example".into());
    absolute.sync().await;
    let html = std::fs::read_to_string(absolute.web("simple/six/index.html")).unwrap();
    assert!(
        html.contains("href=\"https://mirror.example/packages/"),
        "{html}"
    );

    fake.clear_log();
    let mut index_only = TestMirror::new(&fake);
    index_only.config.mirror.release_files = false;
    index_only.sync().await;
    assert_eq!(
        package_gets(&fake),
        0,
        "no file fetched with release-files = false"
    );
    assert!(!index_only.web("packages").exists());
    let html = std::fs::read_to_string(index_only.web("simple/six/index.html")).unwrap();
    assert!(
        html.contains("href=\"https://files.pythonhosted.org/packages/"),
        "{html}"
    );
    // Links point upstream, where the .metadata files are, so they stay advertised.
    assert!(html.contains("data-core-metadata"), "{html}");
}

#[tokio::test(flavor = "multi_thread")]
async fn diff_file_lists_every_path_written() {
    let fake = populated().await;
    let mut m = TestMirror::new(&fake);
    let diff = m.dir.path().join("changed.txt");
    m.config.mirror.diff_file = Some(diff.clone());
    m.sync().await;
    let listed = std::fs::read_to_string(&diff).unwrap();
    for f in fake.expected_files() {
        assert!(
            listed.contains(&f.path_under_packages),
            "{} missing",
            f.filename
        );
    }
    assert!(listed.contains("simple/index.html"));
    fake.add_release("six", "1.17.0");
    m.sync().await;
    let listed = std::fs::read_to_string(&diff).unwrap();
    assert!(listed.contains("six-1.17.0"), "{listed}");
    assert!(
        !listed.contains("foo_bar-1.0"),
        "unchanged files are not listed: {listed}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn keep_index_versions_and_cleanup() {
    let fake = populated().await;
    let mut m = TestMirror::new(&fake);
    m.config.mirror.keep_index_versions = 2;
    m.config.mirror.cleanup = true;
    std::fs::create_dir_all(m.web("simple/Foo.Bar")).unwrap();
    m.sync().await;
    assert!(
        !m.web("simple/Foo.Bar").exists(),
        "legacy unnormalized folder removed"
    );
    for v in ["2.0", "3.0", "4.0"] {
        fake.add_release("six", v);
        m.sync().await;
    }
    let index = m.web("simple/six/index.html");
    assert!(
        std::fs::symlink_metadata(&index)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(std::fs::read_to_string(&index).unwrap().contains("six-4.0"));
    let versions = std::fs::read_dir(m.web("simple/six/versions"))
        .unwrap()
        .count();
    assert_eq!(versions, 2);
    // The twin page stays a plain file with the same bytes.
    assert_eq!(
        std::fs::read(&index).unwrap(),
        std::fs::read(m.web("simple/six/index.v1_html")).unwrap()
    );
}

/// Plant upstream's bytes for every file of `project` that the mirror lacks, as a
/// crash between publishing files and committing their project leaves them.
fn plant_missing_files(fake: &FakeUpstream, m: &TestMirror, project: &str) -> usize {
    let mut planted = 0;
    for f in fake
        .expected_files()
        .iter()
        .filter(|f| f.project == project)
    {
        let path = m.web(&format!("packages/{}", f.path_under_packages));
        if !path.exists() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, fake.file_bytes(&f.filename).unwrap()).unwrap();
            planted += 1;
        }
    }
    planted
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_files_on_disk_are_hashed_after_an_unfinished_run_and_refetched_after_a_finished_one()
 {
    let fake = FakeUpstream::start(UpstreamOptions::default()).await;
    fake.add_project("alpha", &["1.0"]);
    fake.add_project("beta", &["1.0"]);
    let m = TestMirror::new(&fake);
    m.sync().await;

    // The last run did not finish: a file on disk that state does not know is
    // hashed and kept, not fetched again.
    fake.add_release("alpha", "2.0");
    assert!(plant_missing_files(&fake, &m, "alpha") > 0);
    vorpal::sync::state::StateDb::open(&m.root())
        .unwrap()
        .set_meta("last_run", "running")
        .unwrap();
    fake.clear_log();
    m.sync().await;
    assert_eq!(
        package_gets(&fake),
        1,
        "only the new wheel's .metadata is fetched"
    );
    m.assert_matches(&fake);

    // The last run finished: the inventory is complete, so an unknown file is
    // fetched without looking for it first, and its verified bytes replace
    // whatever was there.
    fake.add_release("beta", "2.0");
    let planted = plant_missing_files(&fake, &m, "beta");
    assert!(planted > 0);
    let stray = fake
        .expected_files()
        .into_iter()
        .find(|f| f.project == "beta" && f.filename.contains("2.0"))
        .unwrap();
    let stray_path = m.web(&format!("packages/{}", stray.path_under_packages));
    std::fs::write(&stray_path, b"not what upstream lists").unwrap();
    fake.clear_log();
    m.sync().await;
    assert!(
        package_gets(&fake) >= planted,
        "unknown files fetched again"
    );
    m.assert_matches(&fake);
    assert!(temp_files(&m.root()).is_empty());
}
