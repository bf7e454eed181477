//! Adopting a mirror bandersnatch made: the first vorpal sync builds its state from
//! the tree (downloading no release file again) and then continues incrementally.
mod support;

use std::path::Path;
use std::process::Command;

use support::mirror::TestMirror;
use support::tools;
use support::upstream::{FakeUpstream, UpstreamOptions};
use vorpal::config::{ApiMethod, MetadataSource};
use vorpal::sync::state::StateDb;

async fn populated() -> FakeUpstream {
    let fake = FakeUpstream::start(UpstreamOptions::default()).await;
    fake.add_project("Foo.Bar", &["1.0", "1.1"]);
    fake.add_project("six", &["1.16.0"]);
    fake.add_project("web_app", &["2.0"]);
    fake
}

fn release_gets(fake: &FakeUpstream) -> Vec<String> {
    fake.requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/packages/"))
        .map(|r| r.path)
        .collect()
}

/// Run the real bandersnatch against the fake into `root`; false if it is not installed.
fn bandersnatch_mirror(fake: &FakeUpstream, root: &Path) -> bool {
    let Some(bin) = tools::bandersnatch() else {
        return false;
    };
    let conf = root.with_extension("conf");
    std::fs::write(
        &conf,
        format!(
            "[mirror]\ndirectory = {}\nmaster = {}\nworkers = 2\njson = false\n\
             timeout = 20\nglobal-timeout = 120\nstop-on-error = true\napi-method = xmlrpc\n",
            root.display(),
            fake.base_url()
        ),
    )
    .unwrap();
    let out = Command::new(bin)
        .arg("-c")
        .arg(&conf)
        .arg("mirror")
        .env("SSL_CERT_FILE", fake.ca_pem_path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bandersnatch failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bandersnatch_mirror_is_adopted_without_downloading_again() {
    let fake = populated().await;
    let m = TestMirror::with(&fake, ApiMethod::Xmlrpc, MetadataSource::Json);
    let root = m.root();
    let made = {
        let root = root.clone();
        let fake_ref = &fake;
        tokio::task::block_in_place(|| bandersnatch_mirror(fake_ref, &root))
    };
    if !made {
        return;
    }
    assert!(root.join("status").is_file());
    assert!(!root.join(".vorpal").exists());
    let serial = std::fs::read_to_string(root.join("status")).unwrap();
    assert_eq!(serial.trim(), fake.serial().to_string());

    fake.clear_log();
    let report = m.sync().await;
    assert_eq!(report.serial_after, fake.serial());
    let gets = release_gets(&fake);
    let dists: Vec<&String> = gets.iter().filter(|p| !p.ends_with(".metadata")).collect();
    assert!(dists.is_empty(), "release files fetched again: {dists:?}");

    let db = StateDb::open(&root).unwrap();
    let expected = fake.expected_files();
    for f in &expected {
        let key = format!("web/packages/{}", f.path_under_packages);
        let rec = db.file(&key).unwrap();
        assert!(rec.is_some(), "{key} not in state");
        assert_eq!(rec.unwrap().sha256, f.sha256);
    }
    let names: Vec<String> = db
        .projects()
        .unwrap()
        .into_iter()
        .map(|p| p.display_name)
        .collect();
    // bandersnatch 6.8's tree carries only normalized names; a later sync of each
    // project brings its display name from the JSON API.
    assert_eq!(names, ["foo-bar", "six", "web-app"]);
    drop(db);

    // From here on, an ordinary incremental sync.
    fake.clear_log();
    fake.add_release("six", "1.17.0");
    let report = m.sync().await;
    assert_eq!(report.planned, 1);
    let gets = release_gets(&fake);
    let dists: Vec<&String> = gets.iter().filter(|p| !p.ends_with(".metadata")).collect();
    assert_eq!(dists.len(), 2, "just the new wheel and sdist: {gets:?}");
    assert!(dists.iter().all(|p| p.contains("1.17.0")), "{gets:?}");
    // The resynced project now also has what bandersnatch 6.8 did not mirror (.metadata).
    let six: Vec<_> = fake
        .expected_files()
        .into_iter()
        .filter(|f| f.project == "six")
        .collect();
    for f in six {
        let p = m.web(&format!("packages/{}", f.path_under_packages));
        assert!(p.is_file(), "{p:?}");
        if f.metadata_sha256.is_some() {
            assert!(
                p.with_file_name(format!("{}.metadata", f.filename))
                    .is_file()
            );
        }
    }
    let db = StateDb::open(&root).unwrap();
    assert_eq!(db.project("six").unwrap().unwrap().display_name, "six");
}

#[tokio::test(flavor = "multi_thread")]
async fn damaged_or_missing_files_of_an_adopted_tree_are_refetched() {
    // A tree in bandersnatch's layout, made by a vorpal sync with its state removed.
    let fake = populated().await;
    let m = TestMirror::new(&fake);
    m.sync().await;
    let before = m.snapshot();
    std::fs::remove_dir_all(m.root().join(".vorpal")).unwrap();
    let files = fake.expected_files();
    let gone = m.web(&format!("packages/{}", files[0].path_under_packages));
    std::fs::remove_file(&gone).unwrap();
    let flipped = m.web(&format!("packages/{}", files[1].path_under_packages));
    let mut bytes = std::fs::read(&flipped).unwrap();
    bytes[3] ^= 0xff;
    std::fs::write(&flipped, bytes).unwrap();

    fake.clear_log();
    let report = m.sync().await;
    assert!(report.succeeded());
    let mut gets = release_gets(&fake);
    gets.sort();
    let mut want = vec![
        format!("/packages/{}", files[0].path_under_packages),
        format!("/packages/{}", files[1].path_under_packages),
    ];
    want.sort();
    assert_eq!(gets, want);
    assert_eq!(m.snapshot(), before);
}
