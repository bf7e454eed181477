//! Upstream data is untrusted: invalid names, traversal in file URLs, files on foreign
//! hosts and filenames that disagree with their URL never touch the filesystem.
mod support;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;
use sha2::{Digest, Sha256};
use support::mirror::{TestMirror, temp_files};

const GOOD_BYTES: &[u8] = b"a perfectly ordinary sdist";

fn file(base: &str, filename: &str, path: &str) -> serde_json::Value {
    json!({
        "filename": filename,
        "url": format!("{base}{path}"),
        "digests": {"sha256": hex::encode(Sha256::digest(GOOD_BYTES))},
        "size": GOOD_BYTES.len(),
        "packagetype": "sdist",
        "upload_time_iso_8601": "2024-01-02T03:04:05.000000Z",
        "yanked": false,
    })
}

async fn project(State(base): State<String>, Path(name): Path<String>) -> impl IntoResponse {
    let files = match name.as_str() {
        "good" => vec![file(
            &base,
            "good-1.0.tar.gz",
            "/packages/aa/bb/good-1.0.tar.gz",
        )],
        "trav" => vec![file(
            &base,
            "trav-1.0.tar.gz",
            "/packages/%2e%2e/%2e%2e/%2e%2e/escape/trav-1.0.tar.gz",
        )],
        "foreign" => vec![file(
            "https://elsewhere.invalid",
            "foreign-1.0.tar.gz",
            "/packages/aa/bb/foreign-1.0.tar.gz",
        )],
        "mismatch" => vec![file(
            &base,
            "mismatch-1.0.tar.gz",
            "/packages/aa/bb/other.tar.gz",
        )],
        "slashy" => vec![file(
            &base,
            "../slashy-1.0.tar.gz",
            "/packages/aa/bb/slashy-1.0.tar.gz",
        )],
        _ => return (StatusCode::NOT_FOUND, HeaderMap::new(), String::new()),
    };
    let doc = json!({
        "info": {"name": name, "version": "1.0"},
        "last_serial": 7,
        "releases": {"1.0": files},
        "urls": [],
    });
    let mut h = HeaderMap::new();
    h.insert("x-pypi-last-serial", "7".parse().unwrap());
    h.insert("content-type", "application/json".parse().unwrap());
    (StatusCode::OK, h, doc.to_string())
}

async fn root() -> impl IntoResponse {
    let names = [
        "good", "trav", "foreign", "mismatch", "slashy", "../evil", "bad name",
    ];
    let doc = json!({
        "meta": {"api-version": "1.1", "_last-serial": 7},
        "projects": names.iter().map(|n| json!({"name": n, "_last-serial": 7})).collect::<Vec<_>>(),
    });
    (
        [("content-type", "application/vnd.pypi.simple.v1+json")],
        doc.to_string(),
    )
}

async fn start() -> (SocketAddr, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let app = Router::new()
        .route("/simple/", get(root))
        .route("/pypi/{name}/json", get(project))
        .route("/packages/{*rest}", get(|| async { GOOD_BYTES }))
        .with_state(base.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, base)
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_upstream_data_never_touches_the_filesystem() {
    let (_addr, base) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = vorpal::config::Config::default();
    config.mirror.directory = dir.path().join("mirror");
    config.mirror.master = base.clone();
    config.mirror.allow_non_https = true;
    let m = TestMirror { dir, config };
    let report = m.try_sync(TestMirror::options()).await.unwrap();

    assert_eq!(report.rejected_names, ["../evil", "bad name"]);
    let failed: std::collections::BTreeMap<_, _> = report.failed.iter().cloned().collect();
    assert_eq!(
        failed.keys().collect::<Vec<_>>(),
        ["foreign", "mismatch", "slashy", "trav"],
        "{failed:#?}"
    );
    assert!(
        failed["foreign"].contains("download-hosts"),
        "{}",
        failed["foreign"]
    );
    assert!(
        failed["trav"].contains("unsafe file URL"),
        "{}",
        failed["trav"]
    );
    assert!(
        failed["mismatch"].contains("mismatch-1.0.tar.gz"),
        "{}",
        failed["mismatch"]
    );

    // The good project landed; nothing else exists anywhere.
    assert!(m.web("packages/aa/bb/good-1.0.tar.gz").is_file());
    let snapshot = m.snapshot();
    let files: Vec<&String> = snapshot
        .keys()
        .filter(|k| !k.starts_with("simple/"))
        .collect();
    assert_eq!(files, ["packages/aa/bb/good-1.0.tar.gz"]);
    assert!(!m.dir.path().join("escape").exists());
    assert!(!m.root().join("escape").exists());
    assert!(temp_files(m.dir.path()).is_empty());
    assert_eq!(m.status(), 0, "failures keep the serial");
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_upstream_is_refused_unless_allowed() {
    let (_addr, base) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = vorpal::config::Config::default();
    config.mirror.directory = dir.path().join("mirror");
    config.mirror.master = base;
    let m = TestMirror { dir, config };
    let err = m.try_sync(TestMirror::options()).await.unwrap_err();
    assert!(err.to_string().contains("allow-non-https"), "{err}");
    assert!(
        !m.root().join("web").exists(),
        "nothing created before the refusal"
    );
}
