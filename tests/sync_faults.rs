//! Sync under upstream faults: stale serials, bad bytes, broken connections, a second
//! instance. Nothing unverified ever lands, and a failed project never advances the serial.
mod support;

use support::mirror::{TestMirror, temp_files};
use support::upstream::{FakeUpstream, FaultKind, FaultTarget, UpstreamOptions};
use vorpal::sync::state::MirrorLock;

async fn upstream() -> FakeUpstream {
    let fake = FakeUpstream::start(UpstreamOptions::default()).await;
    fake.add_project("alpha", &["1.0"]);
    fake.add_project("beta", &["2.0"]);
    fake
}

fn wheel_of(fake: &FakeUpstream, project: &str) -> support::upstream::ExpectedFile {
    fake.expected_files()
        .into_iter()
        .find(|f| f.project == project && f.filename.ends_with(".whl"))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_page_is_retried_and_then_accepted() {
    let fake = upstream().await;
    fake.inject(
        FaultTarget::Project("alpha".into()),
        FaultKind::StaleSerial,
        1,
    );
    fake.inject(
        FaultTarget::Project("beta".into()),
        FaultKind::MissingSerial,
        2,
    );
    let m = TestMirror::new(&fake);
    m.sync().await;
    m.assert_matches(&fake);
    assert_eq!(fake.count(|r| r.path == "/pypi/alpha/json"), 2);
    // A stripped header (some proxies do that) falls back to the document's own serial.
    assert_eq!(fake.count(|r| r.path == "/pypi/beta/json"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_that_stays_stale_fails_the_project_without_writing_it() {
    let fake = upstream().await;
    let m = TestMirror::new(&fake);
    m.sync().await;
    let serial_before = m.status();
    fake.add_release("alpha", "1.1");
    fake.inject(
        FaultTarget::Project("alpha".into()),
        FaultKind::StaleSerial,
        3,
    );
    let page_before = std::fs::read(m.web("simple/alpha/index.html")).unwrap();

    let report = m.try_sync(TestMirror::options()).await.unwrap();
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert!(report.failed[0].1.contains("stale"), "{:?}", report.failed);
    assert_eq!(m.status(), serial_before, "serial must not advance");
    assert_eq!(
        std::fs::read(m.web("simple/alpha/index.html")).unwrap(),
        page_before
    );
    assert!(
        m.root().join("todo").is_file(),
        "todo kept for the next run"
    );

    // The next run picks it up.
    m.sync().await;
    m.assert_matches(&fake);
    assert_eq!(m.status(), fake.serial());
    assert!(!m.root().join("todo").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_download_does_not_hold_back_the_next_projects_metadata() {
    // `workers` bounds the projects fetching metadata, `download-concurrency` the
    // files: with one worker, the second project's page is fetched while the first
    // project's wheel is still on its way.
    let fake = upstream().await;
    let slow: Vec<String> = ["alpha", "beta"]
        .iter()
        .map(|p| format!("/packages/{}", wheel_of(&fake, p).path_under_packages))
        .collect();
    for path in &slow {
        fake.inject(
            FaultTarget::Path(path.clone()),
            FaultKind::Slow(std::time::Duration::from_millis(1500)),
            1,
        );
    }
    let mut m = TestMirror::new(&fake);
    m.config.mirror.workers = 1;
    m.sync().await;
    m.assert_matches(&fake);
    // The log is written as each answer goes out.
    let log = fake.requests();
    let done = |path: &str| log.iter().position(|r| r.path == path).unwrap();
    let pages = done("/pypi/alpha/json").max(done("/pypi/beta/json"));
    let first_wheel = slow.iter().map(|p| done(p)).min().unwrap();
    assert!(
        pages < first_wheel,
        "a project page waited for another project's download: {:?}",
        log.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bytes_with_a_wrong_hash_never_land() {
    let fake = upstream().await;
    let wheel = wheel_of(&fake, "alpha");
    let path = format!("/packages/{}", wheel.path_under_packages);
    fake.inject(FaultTarget::Path(path.clone()), FaultKind::WrongBytes, 100);
    let m = TestMirror::new(&fake);
    let report = m.try_sync(TestMirror::options()).await.unwrap();
    assert_eq!(report.failed.len(), 1);
    assert!(report.failed[0].1.contains("sha256"), "{:?}", report.failed);
    assert!(
        !m.web(&format!("packages/{}", wheel.path_under_packages))
            .exists()
    );
    assert!(
        !m.web("simple/alpha/index.html").exists(),
        "no page for a failed project"
    );
    assert!(
        m.web("simple/beta/index.html").is_file(),
        "other projects go on"
    );
    assert!(
        temp_files(&m.root()).is_empty(),
        "{:?}",
        temp_files(&m.root())
    );
    assert_eq!(m.status(), 0);

    fake.clear_faults();
    m.sync().await;
    m.assert_matches(&fake);
}

#[tokio::test(flavor = "multi_thread")]
async fn broken_connections_and_server_errors_are_retried() {
    let fake = upstream().await;
    let wheel = wheel_of(&fake, "alpha");
    let path = format!("/packages/{}", wheel.path_under_packages);
    fake.inject(FaultTarget::Path(path.clone()), FaultKind::ResetMidBody, 1);
    let sdist = fake
        .expected_files()
        .into_iter()
        .find(|f| f.project == "beta" && f.filename.ends_with(".tar.gz"))
        .unwrap();
    fake.inject(
        FaultTarget::Path(format!("/packages/{}", sdist.path_under_packages)),
        FaultKind::Truncate,
        1,
    );
    fake.inject(
        FaultTarget::Path("/pypi/beta/json".into()),
        FaultKind::Status(503),
        1,
    );
    fake.inject(
        FaultTarget::Path("/simple/".into()),
        FaultKind::Status(429),
        1,
    );
    let m = TestMirror::new(&fake);
    m.sync().await;
    m.assert_matches(&fake);
    assert!(temp_files(&m.root()).is_empty());
    // Every injected fault was met (and survived) once.
    let faulted = fake
        .requests()
        .into_iter()
        .filter(|r| r.fault.is_some())
        .count();
    assert_eq!(faulted, 4, "{:?}", fake.requests());
    assert_eq!(fake.pending_faults(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_instance_on_the_same_directory_is_refused() {
    let fake = upstream().await;
    let m = TestMirror::new(&fake);
    std::fs::create_dir_all(m.root()).unwrap();
    let _held = MirrorLock::acquire(&m.root()).unwrap();
    let err = m.try_sync(TestMirror::options()).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&m.root().display().to_string()), "{msg}");
    assert_eq!(fake.count(|_| true), 0, "nothing fetched while locked out");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_removed_project_is_kept_when_asked() {
    let fake = upstream().await;
    let mut m = TestMirror::new(&fake);
    m.config.mirror.keep_deleted = true;
    m.sync().await;
    fake.remove_project("beta");
    m.sync().await;
    assert!(m.web("simple/beta/index.html").is_file());
    assert_eq!(m.status(), fake.serial());
}

#[tokio::test(flavor = "multi_thread")]
async fn present_files_are_not_fetched_again_after_state_loss() {
    // A crash after a file landed but before its project was committed leaves a
    // correct file the state does not know: it is hashed, not downloaded again.
    let fake = upstream().await;
    let m = TestMirror::new(&fake);
    m.sync().await;
    std::fs::remove_dir_all(m.root().join(".vorpal")).unwrap();
    std::fs::remove_file(m.root().join("status")).unwrap();
    fake.clear_log();
    m.sync().await;
    assert_eq!(
        fake.count(|r| r.method == "GET" && r.path.starts_with("/packages/")),
        0
    );
    m.assert_matches(&fake);
}
