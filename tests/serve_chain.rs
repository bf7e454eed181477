//! Chaining mirrors: mirror A syncs from the fake upstream and `vorpal serve` serves it
//! over TLS; mirror B (another vorpal) and bandersnatch mirror A, fully and then
//! incrementally, and end up with A's files and pages.
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;
use support::mirror::{TestMirror, snapshot};
use support::served::{Served, serve};
use support::tools;
use support::upstream::{FakeUpstream, FileSpec, ProjectSpec, ReleaseSpec, UpstreamOptions};
use vorpal::config::{ApiMethod, Config, MetadataSource};
use vorpal::upstream::Upstream;

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
                        .requires_dist("util"),
                    FileSpec::sdist(),
                ],
            )],
        },
    );
    fake.add_project("lib", &["0.9", "1.0"]);
    fake.add_project_with(
        "Foo.Bar",
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
    fake.add_project("util", &["2.0"]);
    fake.add_project("doomed", &["0.1"]);
    fake.yank("lib", "0.9", Some("broken <build>"));
    fake
}

/// Mirror A: synced from the fake, with the JSON API (downstream `metadata-source =
/// json` and bandersnatch read it).
async fn mirror_a(fake: &FakeUpstream) -> TestMirror {
    let mut a = TestMirror::new(fake);
    a.config.mirror.json = true;
    a.sync().await;
    a.assert_matches(fake);
    a
}

/// Mirror B: a vorpal whose upstream is the served A.
fn mirror_b(served: &Served, api: ApiMethod, source: MetadataSource) -> TestMirror {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.mirror.directory = dir.path().join("mirror");
    config.mirror.master = served.base.clone();
    config.mirror.api_method = api;
    config.mirror.metadata_source = source;
    config.mirror.workers = 4;
    config.mirror.download_concurrency = 8;
    config.https.ca_bundle = vec![served.ca_pem.clone()];
    TestMirror { dir, config }
}

const COMBINATIONS: [(ApiMethod, MetadataSource); 4] = [
    (ApiMethod::Simple, MetadataSource::Json),
    (ApiMethod::Simple, MetadataSource::Simple),
    (ApiMethod::Xmlrpc, MetadataSource::Json),
    (ApiMethod::Xmlrpc, MetadataSource::Simple),
];

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What a client sees of a project page's files: filename → (url, hashes, yanked,
/// requires-python, core-metadata, size, upload-time).
fn page_files(page: &Value) -> BTreeMap<String, Value> {
    page["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let seen = serde_json::json!({
                "url": f["url"],
                "hashes": f["hashes"],
                "yanked": f["yanked"],
                "requires-python": f["requires-python"],
                "core-metadata": f["core-metadata"],
                "size": f["size"],
                "upload-time": f["upload-time"],
            });
            (f["filename"].as_str().unwrap().to_string(), seen)
        })
        .collect()
}

/// B holds exactly A's release files, and pages that say the same things. Returns the
/// pages whose HTML bytes differ (expected: none, hrefs are relative in both).
fn assert_same_as(a: &TestMirror, b: &TestMirror, label: &str) -> Vec<String> {
    let tree_a = a.snapshot();
    let tree_b = b.snapshot();
    let packages = |t: &BTreeMap<String, String>| -> BTreeMap<String, String> {
        t.iter()
            .filter(|(k, _)| k.starts_with("packages/"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    assert_eq!(
        packages(&tree_b),
        packages(&tree_a),
        "{label}: web/packages"
    );

    let pages = |t: &BTreeMap<String, String>| -> Vec<String> {
        t.keys()
            .filter(|k| {
                k.starts_with("simple/")
                    && k.ends_with("/index.v1_json")
                    && *k != "simple/index.v1_json"
            })
            .cloned()
            .collect()
    };
    assert_eq!(pages(&tree_b), pages(&tree_a), "{label}: project pages");
    let mut html_differs = Vec::new();
    for page in pages(&tree_a) {
        let (pa, pb) = (read_json(&a.web(&page)), read_json(&b.web(&page)));
        assert_eq!(pb["name"], pa["name"], "{label}: {page}");
        assert_eq!(pb["versions"], pa["versions"], "{label}: {page}");
        assert_eq!(page_files(&pb), page_files(&pa), "{label}: {page}");
        assert_eq!(
            pb["meta"]["_last-serial"], pa["meta"]["_last-serial"],
            "{label}: {page}"
        );
        let dir = page.trim_end_matches("index.v1_json");
        for html in ["index.html", "index.v1_html"] {
            let rel = format!("{dir}{html}");
            assert!(tree_a.contains_key(&rel), "{label}: A has no {rel}");
            if tree_a.get(&rel) != tree_b.get(&rel) {
                html_differs.push(rel);
            }
        }
    }
    let root_a = read_json(&a.web("simple/index.v1_json"));
    let root_b = read_json(&b.web("simple/index.v1_json"));
    assert_eq!(
        root_b["projects"], root_a["projects"],
        "{label}: root index"
    );
    assert_eq!(b.status(), a.status(), "{label}: status");
    html_differs
}

#[tokio::test(flavor = "multi_thread")]
async fn vorpal_mirrors_a_served_vorpal_with_every_api_method_and_source() {
    let fake = upstream().await;
    let a = mirror_a(&fake).await;
    let served = serve(&a.root()).await;

    let bs: Vec<(TestMirror, String)> = COMBINATIONS
        .iter()
        .map(|&(api, source)| {
            (
                mirror_b(&served, api, source),
                format!("{api:?}/{source:?}"),
            )
        })
        .collect();
    for (b, label) in &bs {
        let report = b.sync().await;
        assert_eq!(report.updated, 5, "{label}");
        let html_differs = assert_same_as(&a, b, label);
        assert!(
            html_differs.is_empty(),
            "{label}: HTML pages differ from A's: {html_differs:?}"
        );
    }

    // Upstream changes; A follows, then every B follows A.
    let status_before = a.status();
    fake.add_release("lib", "2.0");
    fake.add_project("newcomer", &["0.1"]);
    fake.yank("util", "2.0", Some("use 2.1"));
    let sdist = fake
        .expected_files()
        .into_iter()
        .find(|f| f.project == "foo-bar" && f.filename.ends_with(".tar.gz"))
        .unwrap();
    fake.remove_file("Foo.Bar", &sdist.filename);
    fake.remove_project("doomed");
    a.sync().await;
    a.assert_matches(&fake);

    // A's changelog (over XML-RPC, from its journal) names every change after B's serial.
    let (b_xmlrpc, _) = &bs[2];
    let rpc = Upstream::new(b_xmlrpc.client(), &b_xmlrpc.config.mirror).unwrap();
    let changes = rpc.changes_since(status_before).await.unwrap();
    let seen: Vec<(&str, &str)> = changes
        .iter()
        .map(|c| (c.name.as_str(), c.action.as_str()))
        .collect();
    for (name, action) in [
        ("lib", "add file lib-2.0-py3-none-any.whl"),
        ("newcomer", "create"),
        ("util", "update"),
        ("doomed", "remove project"),
    ] {
        assert!(
            seen.contains(&(name, action)),
            "{name} {action} missing from {seen:?}"
        );
    }
    assert!(
        seen.iter()
            .any(|(n, a)| *n == "Foo.Bar" && a.starts_with("remove file")),
        "{seen:?}"
    );
    assert!(changes.iter().all(|c| c.serial > status_before));
    assert_eq!(rpc.last_serial().await.unwrap(), a.status());

    // The server trusts a cached page for up to a second before revalidating it
    // (pages carry max-age=600 anyway); a follower that syncs right after its
    // upstream may see the old root once, so give the cache that second.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    for (b, label) in &bs {
        let report = b.sync().await;
        assert_eq!(
            (report.updated, report.removed),
            (4, 1),
            "{label}: lib, newcomer, util, Foo.Bar updated; doomed removed"
        );
        let html_differs = assert_same_as(&a, b, label);
        assert!(
            html_differs.is_empty(),
            "{label}: HTML pages differ from A's: {html_differs:?}"
        );
        assert!(!b.web("simple/doomed/index.html").exists(), "{label}");
    }
    served.server.shutdown().await;
}

fn bandersnatch_conf(dir: &Path, master: &str, api: &str) -> PathBuf {
    let conf = dir.join("bandersnatch.conf");
    std::fs::write(
        &conf,
        format!(
            "[mirror]\ndirectory = {}\nmaster = {master}\njson = false\nrelease-files = true\n\
             workers = 2\ntimeout = 30\nglobal-timeout = 600\nstop-on-error = true\n\
             hash-index = false\napi-method = {api}\n",
            dir.join("mirror").display()
        ),
    )
    .unwrap();
    conf
}

async fn run_bandersnatch(bin: &Path, conf: &Path, home: &Path, ca_pem: &Path) {
    let out = tokio::process::Command::new(bin)
        .env_clear()
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", bin.parent().unwrap().display()),
        )
        .env("HOME", home)
        .env("LANG", "C.UTF-8")
        // aiohttp's default SSL context loads OpenSSL's default paths, which honour this.
        .env("SSL_CERT_FILE", ca_pem)
        .current_dir(home)
        .arg("-c")
        .arg(conf)
        .arg("mirror")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "bandersnatch failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Release files (no `.metadata`: bandersnatch 6 does not fetch them) → sha256.
fn release_files(web: &Path) -> BTreeMap<String, String> {
    snapshot(web)
        .into_iter()
        .filter(|(k, _)| k.starts_with("packages/") && !k.ends_with(".metadata"))
        .collect()
}

/// bandersnatch aims for the highest serial among the projects it was told about
/// (not the index's serial), so it ends at A's newest project serial.
fn assert_status(dir: &Path, a: &TestMirror, api: &str) {
    let root = read_json(&a.web("simple/index.v1_json"));
    let newest = root["projects"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["_last-serial"].as_u64())
        .max()
        .unwrap();
    let status = std::fs::read_to_string(dir.join("mirror/status")).unwrap();
    assert_eq!(status.trim(), newest.to_string(), "api-method={api}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bandersnatch_mirrors_a_served_vorpal() {
    let Some(bin) = tools::bandersnatch() else {
        return;
    };
    let fake = upstream().await;
    // bandersnatch 6 does not delete what upstream deleted; keep this chain additive.
    fake.remove_project("doomed");
    let a = mirror_a(&fake).await;
    let served = serve(&a.root()).await;
    let scratch = tempfile::tempdir().unwrap();
    let mut runs = Vec::new();
    for api in ["simple", "xmlrpc"] {
        let dir = scratch.path().join(api);
        std::fs::create_dir_all(&dir).unwrap();
        let conf = bandersnatch_conf(&dir, &served.base, api);
        run_bandersnatch(&bin, &conf, &dir, &served.ca_pem).await;
        let web = dir.join("mirror/web");
        assert_eq!(
            release_files(&web),
            release_files(&a.root().join("web")),
            "bandersnatch api-method={api}"
        );
        assert_status(&dir, &a, api);
        runs.push((api, dir, conf));
    }

    // Incremental: new release, new project, a yank; bandersnatch with api-method =
    // xmlrpc learns of them from A's journal changelog.
    fake.add_release("lib", "2.0");
    fake.add_project("newcomer", &["0.1"]);
    fake.yank("util", "2.0", None);
    a.sync().await;
    // See above: the server may answer from its page cache for up to a second.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    for (api, dir, conf) in &runs {
        run_bandersnatch(&bin, conf, dir, &served.ca_pem).await;
        assert_eq!(
            release_files(&dir.join("mirror/web")),
            release_files(&a.root().join("web")),
            "bandersnatch api-method={api}, incremental"
        );
        assert_status(dir, &a, api);
        let util = std::fs::read_to_string(dir.join("mirror/web/simple/util/index.html")).unwrap();
        assert!(util.contains("data-yanked"), "api-method={api}: {util}");
    }
    served.server.shutdown().await;
}
