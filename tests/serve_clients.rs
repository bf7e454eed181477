//! Real clients against the real binary: a mirror synced from the fake upstream is
//! served by `vorpal serve` (a subprocess, TLS with a test CA, JSON logs), then
//! `pip install` and `uv pip install` resolve and install from it. The server's
//! access log shows how they got there: through `.metadata` files, downloading only
//! the wheels they install, once each.
mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::mirror::TestMirror;
use support::tls::TestCa;
use support::tools;
use support::upstream::{
    ExpectedFile, FakeUpstream, FileSpec, ProjectSpec, ReleaseSpec, UpstreamOptions,
};
use vorpal::config::ApiMethod;
use vorpal::upstream::Upstream;

/// Upper bound for "eventually" (start-up), only so a broken build fails instead of hanging.
const EVENTUALLY: Duration = Duration::from_secs(60);

/// `app` needs `lib>=1` and `util`; `lib` also has an older release; `big-one` and
/// `big_two` are unrelated and heavy.
async fn upstream() -> FakeUpstream {
    let fake = FakeUpstream::start(UpstreamOptions::default()).await;
    fake.add_project_with(
        "app",
        ProjectSpec {
            releases: vec![ReleaseSpec::with_files(
                "1.0",
                vec![
                    FileSpec::wheel()
                        .requires_dist("lib>=1")
                        .requires_dist("util")
                        .requires_python(">=3.8"),
                    FileSpec::sdist(),
                ],
            )],
        },
    );
    fake.add_project("lib", &["0.9", "1.0"]);
    fake.add_project_with(
        "util",
        ProjectSpec {
            releases: vec![ReleaseSpec::with_files(
                "2.0",
                vec![FileSpec::wheel().requires_dist("lib"), FileSpec::sdist()],
            )],
        },
    );
    for name in ["big-one", "Big_Two"] {
        fake.add_project_with(
            name,
            ProjectSpec {
                releases: vec![ReleaseSpec::with_files(
                    "3.0",
                    vec![FileSpec::wheel().size(3 << 20), FileSpec::sdist()],
                )],
            },
        );
    }
    fake
}

/// `vorpal serve` running as a child process; stderr lines are collected.
struct ServeProcess {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
    base: String,
}

impl ServeProcess {
    fn start(mirror: &Path, cert: &Path, key: &Path, scratch: &Path) -> ServeProcess {
        let config = scratch.join("vorpal.toml");
        std::fs::write(&config, "").unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_vorpal"))
            .env_clear()
            .current_dir(scratch)
            .arg("-c")
            .arg(&config)
            .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
            .arg("--directory")
            .arg(mirror)
            .arg("--tls-cert")
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let start = Instant::now();
        let base = loop {
            let found = lines.lock().unwrap().iter().find_map(|l| {
                let msg = serde_json::from_str::<Value>(l).ok()?["message"]
                    .as_str()?
                    .to_string();
                let at = msg.find(" on https://")?;
                Some(msg[at + 4..].trim_end_matches('/').to_string())
            });
            if let Some(b) = found {
                break b;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "vorpal serve exited with {status}: {:?}",
                    lines.lock().unwrap()
                );
            }
            assert!(start.elapsed() < EVENTUALLY, "vorpal serve did not start");
            std::thread::sleep(Duration::from_millis(20));
        };
        ServeProcess {
            child,
            lines,
            reader: Some(reader),
            base,
        }
    }

    /// SIGTERM (graceful: in-flight requests finish and are logged), then every
    /// JSON line the server wrote.
    fn stop(mut self) -> Vec<Value> {
        // SAFETY: signals our own child by its pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let status = self.child.wait().unwrap();
        assert!(status.success(), "vorpal serve exited with {status}");
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        let lines = self.lines.lock().unwrap();
        lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One `vorpal::access` record.
#[derive(Debug, Clone)]
struct Access {
    method: String,
    path: String,
    status: u64,
    user_agent: String,
}

fn access_log(lines: &[Value]) -> Vec<Access> {
    lines
        .iter()
        .filter(|l| l["target"] == "vorpal::access")
        .map(|l| Access {
            method: l["method"].as_str().unwrap_or_default().to_string(),
            path: l["path"].as_str().unwrap_or_default().to_string(),
            status: l["status"].as_u64().unwrap_or(0),
            user_agent: l["user_agent"].as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

/// A clean environment for a client: nothing from ours leaks in (no PIP_*, UV_*,
/// proxies, config files), only what the test sets.
fn client_command(program: &Path, home: &Path, ca_pem: &Path) -> tokio::process::Command {
    let bin = program.parent().unwrap();
    let mut cmd = tokio::process::Command::new(program);
    cmd.env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("SSL_CERT_FILE", ca_pem)
        .env("LANG", "C.UTF-8")
        .current_dir(home)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

async fn run(mut cmd: tokio::process::Command, what: &str) -> String {
    let out = cmd.output().await.unwrap();
    let text = format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{text}",
        out.status
    );
    text
}

async fn pip_install(pip: &Path, base: &str, ca_pem: &Path, scratch: &Path) -> PathBuf {
    let home = scratch.join("pip-home");
    let target = scratch.join("pip-target");
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = client_command(pip, &home, ca_pem);
    cmd.env("PIP_NO_CACHE_DIR", "1")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env("PIP_NO_INPUT", "1")
        .args(["install", "--no-cache-dir", "--index-url"])
        .arg(format!("{base}/simple/"))
        .arg("--cert")
        .arg(ca_pem)
        .arg("--target")
        .arg(&target)
        .arg("app");
    run(cmd, "pip install").await;
    target
}

async fn uv_install(
    uv: &Path,
    python: &Path,
    base: &str,
    ca_pem: &Path,
    scratch: &Path,
) -> PathBuf {
    let home = scratch.join("uv-home");
    let target = scratch.join("uv-target");
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = client_command(uv, &home, ca_pem);
    // uv trusts SSL_CERT_FILE (set by client_command) on top of its bundled roots.
    cmd.env("UV_NO_CACHE", "1")
        .env("UV_NO_CONFIG", "1")
        .env("UV_PYTHON_DOWNLOADS", "never")
        .args(["pip", "install", "--no-cache", "--no-config", "--python"])
        .arg(python)
        .arg("--index-url")
        .arg(format!("{base}/simple/"))
        .arg("--target")
        .arg(&target)
        .arg("app");
    run(cmd, "uv pip install").await;
    target
}

fn assert_installed(target: &Path, who: &str) {
    for pkg in ["app", "lib", "util"] {
        assert!(
            target.join(pkg).join("__init__.py").is_file(),
            "{who}: {pkg} not installed in {}",
            target.display()
        );
    }
    for other in ["big_one", "big_two"] {
        assert!(!target.join(other).exists(), "{who} installed {other}");
    }
    let lib_version = std::fs::read_to_string(target.join("lib/__init__.py")).unwrap();
    assert!(lib_version.contains("1.0"), "{who}: {lib_version}");
}

/// What one client fetched under /packages/, by the fake's file records.
fn check_fetches(log: &[Access], files: &BTreeMap<String, ExpectedFile>, who: &str) {
    let ours: Vec<&Access> = log
        .iter()
        .filter(|a| a.user_agent.to_ascii_lowercase().starts_with(who))
        .collect();
    assert!(
        ours.iter().any(|a| a.path.starts_with("/simple/app/")),
        "{who} never asked for app's page: {ours:#?}"
    );
    let mut wheel_gets: BTreeMap<&str, usize> = BTreeMap::new();
    let mut metadata_gets: BTreeMap<&str, usize> = BTreeMap::new();
    for a in ours.iter().filter(|a| a.path.starts_with("/packages/")) {
        assert!(
            a.status == 200 || a.status == 206,
            "{who}: {} {} answered {}",
            a.method,
            a.path,
            a.status
        );
        let rel = a.path.trim_start_matches("/packages/");
        let (rel, is_metadata) = match rel.strip_suffix(".metadata") {
            Some(r) => (r, true),
            None => (rel, false),
        };
        let f = files
            .get(rel)
            .unwrap_or_else(|| panic!("{who} fetched {} which the mirror does not list", a.path));
        assert!(
            matches!(f.project.as_str(), "app" | "lib" | "util"),
            "{who} fetched {} of {}, a project it does not install",
            a.path,
            f.project
        );
        if a.method != "GET" {
            continue;
        }
        let counts = if is_metadata {
            &mut metadata_gets
        } else {
            &mut wheel_gets
        };
        *counts.entry(f.filename.as_str()).or_default() += 1;
    }
    let expected_wheels = [
        "app-1.0-py3-none-any.whl",
        "lib-1.0-py3-none-any.whl",
        "util-2.0-py3-none-any.whl",
    ];
    assert_eq!(
        wheel_gets.keys().copied().collect::<Vec<_>>(),
        expected_wheels,
        "{who} downloaded other files than the three wheels it installs"
    );
    for (wheel, n) in &wheel_gets {
        assert_eq!(*n, 1, "{who} downloaded {wheel} {n} times");
    }
    // Resolution went through PEP 658 metadata, at least for the dependencies.
    for dep in ["lib-1.0-py3-none-any.whl", "util-2.0-py3-none-any.whl"] {
        assert!(
            metadata_gets.contains_key(dep),
            "{who} resolved without {dep}.metadata: {metadata_gets:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pip_and_uv_install_from_vorpal_serve_through_metadata_files() {
    let pip = tools::pip();
    let uv = tools::uv();
    let python = tools::python();
    if pip.is_none() && uv.is_none() {
        return;
    }
    let fake = upstream().await;
    let mirror = TestMirror::new(&fake);
    mirror.sync().await;
    mirror.assert_matches(&fake);
    let files: BTreeMap<String, ExpectedFile> = fake
        .expected_files()
        .into_iter()
        .map(|f| (f.path_under_packages.clone(), f))
        .collect();
    // The mirror no longer needs its upstream: clients only see vorpal.
    fake.stop();

    let scratch = tempfile::tempdir().unwrap();
    let ca = TestCa::new("vorpal serve test CA");
    let ca_pem = ca.write_pem(scratch.path(), "ca.pem");
    let (cert, key) = ca
        .leaf(&["127.0.0.1", "localhost"])
        .write(scratch.path(), "leaf");
    let server = ServeProcess::start(&mirror.root(), &cert, &key, scratch.path());
    let base = server.base.clone();

    // pip 24.2+ verifies through truststore, which fails on an IP-address index URL
    // ("check_hostname requires server_hostname", pypa/pip#12906): pip gets the name.
    let pip_base = base.replace("https://127.0.0.1:", "https://localhost:");
    let pip_target = match &pip {
        Some(p) => Some(pip_install(p, &pip_base, &ca_pem, scratch.path()).await),
        None => None,
    };
    let uv_target = match (&uv, &python) {
        (Some(u), Some(py)) => Some(uv_install(u, py, &base, &ca_pem, scratch.path()).await),
        _ => None,
    };
    // The binary answers XML-RPC from the mirror's journal without being asked to.
    let mut follower = TestMirror {
        dir: tempfile::tempdir().unwrap(),
        config: mirror.config.clone(),
    };
    follower.config.mirror.master = base.clone();
    follower.config.mirror.api_method = ApiMethod::Xmlrpc;
    follower.config.https.ca_bundle = vec![ca_pem.clone()];
    let rpc = Upstream::new(follower.client(), &follower.config.mirror).unwrap();
    assert_eq!(rpc.last_serial().await.unwrap(), mirror.status());
    let (_, listed) = rpc.list_projects().await.unwrap();
    let mut names: Vec<String> = listed.into_iter().map(|p| p.name).collect();
    names.sort();
    assert_eq!(names, ["Big_Two", "app", "big-one", "lib", "util"]);
    let changes = rpc.changes_since(0).await.unwrap();
    assert!(
        changes
            .iter()
            .any(|c| c.name == "app" && c.action == "add file app-1.0-py3-none-any.whl"),
        "{changes:?}"
    );

    let lines = server.stop();
    let log = access_log(&lines);
    assert!(!log.is_empty(), "no access log lines in {lines:#?}");

    if let Some(t) = pip_target {
        assert_installed(&t, "pip");
        check_fetches(&log, &files, "pip/");
    }
    if let Some(t) = uv_target {
        assert_installed(&t, "uv");
        check_fetches(&log, &files, "uv/");
    }
}
