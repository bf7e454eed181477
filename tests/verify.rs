//! `vorpal verify` against a mirror synced from the fake upstream: damage found,
//! repaired from upstream, orphans removed (and kept by a dry run).
mod support;

use std::path::PathBuf;

use assert_cmd::Command;
use support::mirror::TestMirror;
use support::upstream::{FakeUpstream, UpstreamOptions};
use vorpal::verify::{ProblemKind, VerifyOptions, VerifyReport, run_verify};

async fn synced() -> (FakeUpstream, TestMirror) {
    let fake = FakeUpstream::start(UpstreamOptions::default()).await;
    fake.add_project("Foo.Bar", &["1.0", "1.1"]);
    fake.add_project("six", &["1.16.0"]);
    fake.add_project("web_app", &["2.0"]);
    let m = TestMirror::new(&fake);
    m.sync().await;
    (fake, m)
}

async fn verify(m: &TestMirror, opts: VerifyOptions) -> VerifyReport {
    let opts = VerifyOptions {
        workers: 3,
        stale_backoff: Some(std::time::Duration::from_millis(20)),
        ..opts
    };
    run_verify(&m.config, m.client(), opts).await.unwrap()
}

/// Three release files: one deleted, one truncated, one with a byte flipped.
fn damage(fake: &FakeUpstream, m: &TestMirror) -> Vec<PathBuf> {
    let files: Vec<PathBuf> = fake
        .expected_files()
        .iter()
        .take(3)
        .map(|f| m.web(&format!("packages/{}", f.path_under_packages)))
        .collect();
    std::fs::remove_file(&files[0]).unwrap();
    let bytes = std::fs::read(&files[1]).unwrap();
    std::fs::write(&files[1], &bytes[..bytes.len() / 2]).unwrap();
    let mut bytes = std::fs::read(&files[2]).unwrap();
    bytes[10] ^= 0x01;
    std::fs::write(&files[2], &bytes).unwrap();
    files
}

fn config_file(m: &TestMirror) -> PathBuf {
    let path = m.dir.path().join("vorpal.toml");
    let text = format!(
        "[mirror]\ndirectory = {:?}\nmaster = {:?}\n[https]\nca-bundle = [{:?}]\n",
        m.root(),
        m.config.mirror.master,
        m.config.https.ca_bundle[0]
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clean_mirror_verifies() {
    let (fake, m) = synced().await;
    let r = verify(&m, VerifyOptions::default()).await;
    let recorded = fake.expected_files().len()
        + fake
            .expected_files()
            .iter()
            .filter(|f| f.metadata_sha256.is_some())
            .count();
    assert_eq!(r.checked as usize, recorded);
    assert_eq!(r.ok, r.checked);
    assert!(r.problems.is_empty());
    assert!(r.succeeded());
}

#[tokio::test(flavor = "multi_thread")]
async fn damage_is_found_and_repaired_from_upstream() {
    let (fake, m) = synced().await;
    let before = m.snapshot();
    let files = damage(&fake, &m);

    let r = verify(&m, VerifyOptions::default()).await;
    assert_eq!(r.problems.len(), 3, "{:?}", r.problems);
    assert_eq!(r.missing(), 1);
    assert_eq!(r.corrupt(), 2);
    assert!(!r.succeeded());
    let missing = r
        .problems
        .iter()
        .find(|p| p.kind == ProblemKind::Missing)
        .unwrap();
    assert!(files[0].ends_with(missing.key.trim_start_matches("web/")));

    // A dry run with --repair changes nothing.
    let r = verify(
        &m,
        VerifyOptions {
            repair: true,
            dry_run: true,
            ..VerifyOptions::default()
        },
    )
    .await;
    assert_eq!(r.remaining.len(), 3);
    assert!(!files[0].exists());

    fake.clear_log();
    let r = verify(
        &m,
        VerifyOptions {
            repair: true,
            ..VerifyOptions::default()
        },
    )
    .await;
    assert!(r.succeeded(), "{:?} {:?}", r.remaining, r.failed_projects);
    assert_eq!(r.repaired, 3);
    assert_eq!(m.snapshot(), before);
    let fetched = fake.count(|r| r.method == "GET" && r.path.starts_with("/packages/"));
    assert_eq!(fetched, 3, "only the damaged files are fetched again");

    let r = verify(&m, VerifyOptions::default()).await;
    assert!(r.problems.is_empty() && r.succeeded());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_command_exits_1_while_problems_remain_and_0_after_repair() {
    let (fake, m) = synced().await;
    damage(&fake, &m);
    let config = config_file(&m);
    let run = |args: &'static [&'static str]| {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            Command::cargo_bin("vorpal")
                .unwrap()
                .arg("-c")
                .arg(config)
                .arg("verify")
                .args(args)
                .env_remove("VORPAL_HTTPS_VERIFY")
                .output()
                .unwrap()
        })
    };
    let out = run(&[]).await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("1 missing, 2 corrupt"), "{stdout}");
    let out = run(&["--repair", "--workers", "2"]).await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn orphans_are_removed_by_delete_and_kept_by_dry_run() {
    let (_fake, m) = synced().await;
    let before = m.snapshot();
    let orphan = m.web("packages/ab/cd/ef0123/stray-1.0-py3-none-any.whl");
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, b"nobody references me").unwrap();
    let temp = m.web("packages/.vorpal-tmp.0123456789abcdef.x.whl");
    std::fs::write(&temp, b"half a download").unwrap();

    let r = verify(
        &m,
        VerifyOptions {
            delete: true,
            dry_run: true,
            ..VerifyOptions::default()
        },
    )
    .await;
    assert_eq!(r.orphans.found, 1);
    assert_eq!(r.orphans.removed, 0);
    assert_eq!(r.orphans.temp_files, 1);
    assert_eq!(
        r.orphans.keys,
        ["web/packages/ab/cd/ef0123/stray-1.0-py3-none-any.whl"]
    );
    assert!(orphan.exists() && temp.exists());

    let r = verify(
        &m,
        VerifyOptions {
            delete: true,
            ..VerifyOptions::default()
        },
    )
    .await;
    assert!(r.succeeded());
    assert_eq!(r.orphans.removed, 1);
    assert_eq!(r.orphans.temp_files, 1);
    assert!(!orphan.exists() && !temp.exists());
    assert!(!m.web("packages/ab").exists(), "empty folders are pruned");
    assert_eq!(m.snapshot(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn json_update_writes_the_json_api_documents() {
    let (_fake, m) = synced().await;
    assert!(!m.web("json/six").exists());
    let r = verify(
        &m,
        VerifyOptions {
            json_update: true,
            ..VerifyOptions::default()
        },
    )
    .await;
    assert!(r.succeeded(), "{:?}", r.failed_projects);
    assert_eq!(r.json_updated, 3);
    for p in ["json/six", "pypi/six/json", "json/foo-bar"] {
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(m.web(p)).unwrap()).unwrap();
        assert!(doc["info"]["name"].is_string(), "{p}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_and_sync_never_overlap() {
    let (_fake, m) = synced().await;
    let _held = vorpal::sync::state::MirrorLock::acquire(&m.root()).unwrap();
    let err = run_verify(&m.config, m.client(), VerifyOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains(".lock"), "{err}");
}

/// Not a test: makes the mirror bench/verify_bench.sh measures. Syncs
/// `VORPAL_BENCH_PROJECTS` generated projects (4 files x 5 releases each, about
/// `VORPAL_BENCH_FILE_KB` KiB per file) into `$VORPAL_BENCH_DIR/mirror` and writes
/// `$VORPAL_BENCH_DIR/vorpal.toml` pointing at it.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark fixture; run by bench/verify_bench.sh"]
async fn make_bench_mirror() {
    let Ok(dir) = std::env::var("VORPAL_BENCH_DIR") else {
        eprintln!("VORPAL_BENCH_DIR is not set; nothing to do");
        return;
    };
    let var = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let fake = FakeUpstream::start(UpstreamOptions {
        file_size: var("VORPAL_BENCH_FILE_KB", 32) * 1024,
        ..UpstreamOptions::default()
    })
    .await;
    fake.generated(var("VORPAL_BENCH_PROJECTS", 100), 4, 5, 7);
    let dir = PathBuf::from(dir);
    let mut m = TestMirror::new(&fake);
    m.config.mirror.directory = dir.join("mirror");
    m.config.mirror.download_concurrency = 32;
    m.sync().await;
    std::fs::write(
        dir.join("vorpal.toml"),
        format!("[mirror]\ndirectory = {:?}\n", m.root()),
    )
    .unwrap();
}
