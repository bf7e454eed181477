//! The real binary: exit codes, messages, and kill -9 at random moments followed by a
//! rerun that ends with exactly the tree an uninterrupted sync makes.
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use support::mirror::{TestMirror, snapshot, temp_files};
use support::upstream::{FakeUpstream, FaultKind, FaultTarget, UpstreamOptions};

fn vorpal(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vorpal"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .current_dir(dir)
        .stdin(Stdio::null());
    cmd
}

fn write_config(dir: &Path, fake: &FakeUpstream, extra: &str) -> PathBuf {
    let path = dir.join("vorpal.toml");
    let text = format!(
        "[mirror]\ndirectory = \"{}\"\nmaster = \"{}\"\nworkers = 4\n{extra}\n[https]\nca-bundle = \"{}\"\n",
        dir.join("mirror").display(),
        fake.base_url(),
        fake.ca_pem_path().display()
    );
    std::fs::write(&path, text).unwrap();
    // Commands without -c in this directory must not pick it up by accident.
    let named = dir.join("test-mirror.toml");
    std::fs::rename(&path, &named).unwrap();
    named
}

async fn run(cmd: &mut Command) -> Output {
    let mut cmd = std::mem::replace(cmd, Command::new("true"));
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_codes_say_what_happened() {
    let fake = FakeUpstream::start(UpstreamOptions::default()).await;
    fake.add_project("alpha", &["1.0"]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &fake, "");

    let ok = run(vorpal(dir.path()).args(["sync", "-c"]).arg(&cfg)).await;
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    assert!(
        String::from_utf8_lossy(&ok.stdout).contains("1 updated"),
        "{}",
        text(&ok)
    );

    fake.add_release("alpha", "2.0");
    fake.inject(
        FaultTarget::Project("alpha".into()),
        FaultKind::StaleSerial,
        10,
    );
    let partial = run(vorpal(dir.path()).args(["sync", "-c"]).arg(&cfg)).await;
    assert_eq!(partial.status.code(), Some(1), "{}", text(&partial));
    assert!(
        String::from_utf8_lossy(&partial.stderr).contains("alpha"),
        "{}",
        text(&partial)
    );
    fake.clear_faults();

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[mirror]\napi-method = \"soap\"\n").unwrap();
    let usage = run(vorpal(dir.path()).args(["sync", "-c"]).arg(&bad)).await;
    assert_eq!(usage.status.code(), Some(2), "{}", text(&usage));
    let err = String::from_utf8_lossy(&usage.stderr);
    assert!(
        err.contains("api-method") && err.contains("xmlrpc"),
        "{err}"
    );

    let retired = run(vorpal(dir.path()).args([
        "sync",
        "--master",
        "https://b.pypi.python.org",
        "--directory",
        "m2",
    ]))
    .await;
    assert_eq!(retired.status.code(), Some(2), "{}", text(&retired));
    let err = String::from_utf8_lossy(&retired.stderr);
    assert!(
        err.contains("PEP 449") && err.contains("https://pypi.org"),
        "{err}"
    );

    let plain = run(vorpal(dir.path()).args([
        "sync",
        "--master",
        "http://127.0.0.1:9",
        "--directory",
        "m3",
    ]))
    .await;
    assert_eq!(plain.status.code(), Some(2), "{}", text(&plain));

    let _lock = vorpal::sync::state::MirrorLock::acquire(&dir.path().join("mirror")).unwrap();
    let locked = run(vorpal(dir.path()).args(["sync", "-c"]).arg(&cfg)).await;
    assert_eq!(locked.status.code(), Some(2), "{}", text(&locked));
    assert!(
        String::from_utf8_lossy(&locked.stderr).contains("mirror"),
        "{}",
        text(&locked)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_at_random_points_then_rerun_gives_the_uninterrupted_tree() {
    let fake = FakeUpstream::start(UpstreamOptions {
        file_size: 48 * 1024,
        ..UpstreamOptions::default()
    })
    .await;
    fake.generated(60, 2, 2, 7);

    // The reference: one uninterrupted sync.
    let reference = TestMirror::new(&fake);
    reference.sync().await;
    let want = reference.snapshot();

    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &fake, "download-concurrency = 4");
    let seed: u64 = rand::rng().random();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for round in 0..6 {
        let mut child = vorpal(dir.path())
            .args(["sync", "-q", "-c"])
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let wait = Duration::from_millis(rng.random_range(30..600));
        tokio::time::sleep(wait).await;
        let _ = child.kill(); // SIGKILL
        let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap();
        eprintln!("round {round} (seed {seed}): killed after {wait:?}: {status:?}");
    }
    let done = run(vorpal(dir.path()).args(["sync", "-c"]).arg(&cfg)).await;
    assert_eq!(done.status.code(), Some(0), "seed {seed}: {}", text(&done));

    let root = dir.path().join("mirror");
    assert_eq!(snapshot(&root.join("web")), want, "seed {seed}");
    assert!(
        temp_files(&root).is_empty(),
        "seed {seed}: {:?}",
        temp_files(&root)
    );
    let status = std::fs::read_to_string(root.join("status")).unwrap();
    assert_eq!(status, fake.serial().to_string());
    assert!(!root.join("todo").exists());
}
