//! Tests of the fake upstream index itself: what it serves must look like PyPI,
//! and every injected fault must behave as documented.
mod support;

use std::io::Read;
use std::time::Duration;

use blake2::Blake2b;
use blake2::digest::consts::U32;
use serde_json::Value;
use sha2::{Digest, Sha256};
use support::upstream::*;

fn sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

async fn fake() -> FakeUpstream {
    let fake = FakeUpstream::start(UpstreamOptions::default()).await;
    fake.add_project("Foo.Bar", &["1.0", "1.1"]);
    fake.add_project_with(
        "baz",
        ProjectSpec {
            releases: vec![ReleaseSpec::with_files(
                "2.0",
                vec![
                    FileSpec::wheel_tagged("cp312", "cp312", "manylinux_2_17_x86_64")
                        .requires_python(">=3.8,<4")
                        .requires_dist("foo-bar>=1.0"),
                    FileSpec::sdist().requires_python(">=3.8,<4"),
                ],
            )],
        },
    );
    fake
}

async fn get(fake: &FakeUpstream, path: &str, accept: Option<&str>) -> reqwest::Response {
    let mut req = fake.client().get(format!("{}{path}", fake.base_url()));
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    req.send().await.unwrap()
}

/// The body at an absolute URL of the fake upstream.
async fn fetch(fake: &FakeUpstream, url: &str) -> bytes::Bytes {
    fake.client()
        .get(url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
}

fn serial_header(r: &reqwest::Response) -> Option<u64> {
    r.headers()
        .get("x-pypi-last-serial")
        .map(|v| v.to_str().unwrap().parse().unwrap())
}

async fn json(fake: &FakeUpstream, path: &str) -> (Option<u64>, Value) {
    let r = get(fake, path, Some(JSON_TYPE)).await;
    assert_eq!(r.status(), 200, "{path}");
    let serial = serial_header(&r);
    (serial, r.json().await.unwrap())
}

fn xmlrpc_call(method: &str, int_arg: Option<i64>) -> String {
    let params = int_arg
        .map(|n| format!("<param><value><int>{n}</int></value></param>"))
        .unwrap_or_default();
    format!(
        "<?xml version='1.0'?><methodCall><methodName>{method}</methodName><params>{params}</params></methodCall>"
    )
}

async fn xmlrpc(fake: &FakeUpstream, method: &str, int_arg: Option<i64>) -> String {
    let r = fake
        .client()
        .post(format!("{}/pypi", fake.base_url()))
        .header("content-type", "text/xml")
        .body(xmlrpc_call(method, int_arg))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

/// Serials of a changelog response (the last int of each row).
fn changelog_serials(xml: &str) -> Vec<u64> {
    xml.split("<array><data>")
        .skip(2)
        .map(|row| {
            let ints: Vec<u64> = row
                .split("<int>")
                .skip(1)
                .map(|s| s.split('<').next().unwrap().parse().unwrap())
                .collect();
            *ints.last().unwrap()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn json_root_lists_projects_with_serials() {
    let fake = fake().await;
    let (serial, root) = json(&fake, "/simple/").await;
    assert_eq!(serial, Some(fake.serial()));
    assert_eq!(root["meta"]["api-version"], "1.4");
    assert_eq!(root["meta"]["_last-serial"], fake.serial());
    let projects = root["projects"].as_array().unwrap();
    assert_eq!(projects.len(), 2);
    let foo = projects.iter().find(|p| p["name"] == "Foo.Bar").unwrap();
    assert_eq!(foo["_last-serial"], fake.project_serial("foo-bar").unwrap());
    assert!(fake.project_serial("foo-bar").unwrap() < fake.project_serial("baz").unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn negotiation_follows_q_values() {
    let fake = fake().await;
    let cases: &[(Option<&str>, &str)] = &[
        (None, "text/html"),
        (Some("*/*"), "text/html"),
        (Some(PIP_ACCEPT), JSON_TYPE),
        (Some(UV_ACCEPT), JSON_TYPE),
        (Some(JSON_TYPE), JSON_TYPE),
        (Some(V1_HTML_TYPE), V1_HTML_TYPE),
        (Some("application/vnd.pypi.simple.latest+json"), JSON_TYPE),
        (
            Some("application/vnd.pypi.simple.v1+json;q=0.1, application/vnd.pypi.simple.v1+html"),
            V1_HTML_TYPE,
        ),
        (
            Some("application/vnd.pypi.simple.v1+json;q=0, text/html"),
            "text/html",
        ),
        (Some("application/json"), "text/html"),
    ];
    for (accept, want) in cases {
        for path in ["/simple/", "/simple/foo-bar/"] {
            let r = get(&fake, path, *accept).await;
            let ct = r.headers()["content-type"].to_str().unwrap().to_string();
            assert_eq!(ct.split(';').next().unwrap(), *want, "{accept:?} {path}");
            assert_eq!(r.headers()["vary"], "Accept");
        }
    }
    let r = get(
        &fake,
        "/simple/?format=application/vnd.pypi.simple.v1%2Bjson",
        Some("text/html"),
    )
    .await;
    assert_eq!(r.headers()["content-type"], JSON_TYPE);
}

#[tokio::test(flavor = "multi_thread")]
async fn detail_json_hashes_match_served_bytes() {
    let fake = fake().await;
    let (serial, detail) = json(&fake, "/simple/baz/").await;
    assert_eq!(serial, fake.project_serial("baz"));
    assert_eq!(
        detail["meta"]["_last-serial"],
        fake.project_serial("baz").unwrap()
    );
    assert_eq!(detail["name"], "baz");
    assert_eq!(detail["versions"], serde_json::json!(["2.0"]));
    assert_eq!(detail["project-status"]["status"], "active");
    let files = detail["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    let time_re = regex::Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$").unwrap();
    for f in files {
        let url = f["url"].as_str().unwrap();
        assert!(url.starts_with(fake.base_url()));
        let bytes = fetch(&fake, url).await;
        assert_eq!(f["hashes"]["sha256"], sha256(&bytes));
        assert_eq!(f["size"], bytes.len());
        assert_eq!(f["requires-python"], ">=3.8,<4");
        assert_eq!(f["yanked"], false);
        assert!(time_re.is_match(f["upload-time"].as_str().unwrap()));
        // PyPI-shaped path: /packages/<b2[0:2]>/<b2[2:4]>/<b2[4:]>/<filename>.
        let b2 = hex::encode(Blake2b::<U32>::digest(&bytes));
        let filename = f["filename"].as_str().unwrap();
        let want = format!(
            "/packages/{}/{}/{}/{filename}",
            &b2[..2],
            &b2[2..4],
            &b2[4..]
        );
        assert!(url.ends_with(&want), "{url} vs {want}");
        assert!(f.get("dist-info-metadata").is_none());
        if filename.ends_with(".whl") {
            assert!(f["core-metadata"]["sha256"].is_string());
        } else {
            assert_eq!(f["core-metadata"], false);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_file_matches_advertised_hash() {
    let fake = fake().await;
    let (_, detail) = json(&fake, "/simple/baz/").await;
    let wheel = detail["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["filename"].as_str().unwrap().ends_with(".whl"))
        .unwrap()
        .clone();
    let url = format!("{}.metadata", wheel["url"].as_str().unwrap());
    let meta = fetch(&fake, &url).await;
    assert_eq!(wheel["core-metadata"]["sha256"], sha256(&meta));
    let text = String::from_utf8(meta.to_vec()).unwrap();
    assert!(text.starts_with("Metadata-Version: 2.1\n"));
    assert!(text.contains("Name: baz\n"));
    assert!(text.contains("Requires-Python: >=3.8,<4\n"));
    assert!(text.contains("Requires-Dist: foo-bar>=1.0\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn wheel_is_a_valid_zip_with_metadata() {
    let fake = fake().await;
    let name = "foo_bar-1.0-py3-none-any.whl";
    let url = fake.file_url(name).unwrap();
    let bytes = fetch(&fake, &url).await;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut meta = Vec::new();
    zip.by_name("foo_bar-1.0.dist-info/METADATA")
        .unwrap()
        .read_to_end(&mut meta)
        .unwrap();
    assert_eq!(meta, fake.metadata_bytes(name).unwrap());
    assert!(String::from_utf8(meta).unwrap().contains("Name: Foo.Bar\n"));
    let mut record = String::new();
    zip.by_name("foo_bar-1.0.dist-info/RECORD")
        .unwrap()
        .read_to_string(&mut record)
        .unwrap();
    assert!(record.contains("foo_bar/__init__.py,sha256="));
    zip.by_name("foo_bar/__init__.py").unwrap();
    zip.by_name("foo_bar-1.0.dist-info/WHEEL").unwrap();
    // Every entry reads back with a valid CRC.
    for i in 0..zip.len() {
        std::io::copy(&mut zip.by_index(i).unwrap(), &mut std::io::sink()).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sdist_is_gzip_with_a_valid_crc() {
    let fake = fake().await;
    let bytes = fake.file_bytes("foo_bar-1.0.tar.gz").unwrap();
    assert_eq!(&bytes[..2], &[0x1f, 0x8b]);
    assert_eq!(support::wheel::crc32(b"123456789"), 0xcbf4_3926);
    // A single stored block for small files: header, block header, tar, trailer.
    let n = bytes.len();
    let tar = &bytes[15..n - 8];
    assert_eq!(&tar[257..262], b"ustar");
    let crc = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap());
    assert_eq!(crc, support::wheel::crc32(tar));
    assert_eq!(std::str::from_utf8(&tar[345..356]).unwrap(), "foo_bar-1.0");
    assert!(String::from_utf8_lossy(tar).contains("Name: Foo.Bar\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn detail_html_has_pypi_anchors() {
    let fake = fake().await;
    fake.yank("baz", "2.0", Some("broken <build>"));
    let r = get(&fake, "/simple/baz/", None).await;
    assert_eq!(serial_header(&r), fake.project_serial("baz"));
    let html = r.text().await.unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<meta name=\"pypi:repository-version\" content=\"1.4\">"));
    assert!(html.contains(&format!(
        "<!--SERIAL {}-->",
        fake.project_serial("baz").unwrap()
    )));
    assert!(html.contains("data-requires-python=\"&gt;=3.8,&lt;4\""));
    assert!(html.contains("data-yanked=\"broken &lt;build&gt;\""));
    let whl = "baz-2.0-cp312-cp312-manylinux_2_17_x86_64.whl";
    let bytes = fake.file_bytes(whl).unwrap();
    let meta = fake.metadata_bytes(whl).unwrap();
    assert!(html.contains(&format!(
        "href=\"{}#sha256={}\"",
        fake.file_url(whl).unwrap(),
        sha256(&bytes)
    )));
    assert!(html.contains(&format!(
        "data-core-metadata=\"sha256={0}\" data-dist-info-metadata=\"sha256={0}\">{whl}</a>",
        sha256(&meta)
    )));
}

#[tokio::test(flavor = "multi_thread")]
async fn names_redirect_and_unknown_is_404() {
    let fake = fake().await;
    for (path, to) in [
        ("/simple/Foo.Bar/", "/simple/foo-bar/"),
        ("/simple/FOO_bar/", "/simple/foo-bar/"),
        ("/simple/foo--bar/", "/simple/foo-bar/"),
        ("/simple/foo-bar", "/simple/foo-bar/"),
        ("/simple", "/simple/"),
        ("/pypi/Foo.Bar/json", "/pypi/foo-bar/json"),
    ] {
        let r = get(&fake, path, None).await;
        assert_eq!(r.status(), 301, "{path}");
        assert_eq!(r.headers()["location"], to);
    }
    for path in [
        "/simple/nope/",
        "/pypi/nope/json",
        "/packages/aa/bb/cc/x.whl",
    ] {
        assert_eq!(get(&fake, path, None).await.status(), 404, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn json_api_has_warehouse_shape() {
    let fake = fake().await;
    fake.add_release("Foo.Bar", "2.0rc1");
    fake.add_release("Foo.Bar", "1.2");
    fake.yank("Foo.Bar", "1.2", None);
    let r = get(&fake, "/pypi/foo-bar/json", None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(serial_header(&r), fake.project_serial("foo-bar"));
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["info"]["name"], "Foo.Bar");
    assert_eq!(doc["info"]["version"], "1.1", "latest final, not yanked");
    assert_eq!(doc["last_serial"], fake.project_serial("foo-bar").unwrap());
    assert_eq!(doc["vulnerabilities"], serde_json::json!([]));
    let releases = doc["releases"].as_object().unwrap();
    assert_eq!(releases.len(), 4);
    assert_eq!(doc["urls"].as_array().unwrap().len(), 2);
    let yanked = &releases["1.2"][0];
    assert_eq!(yanked["yanked"], true);
    assert_eq!(yanked["yanked_reason"], Value::Null);
    for f in releases["1.0"].as_array().unwrap() {
        let bytes = fake.file_bytes(f["filename"].as_str().unwrap()).unwrap();
        assert_eq!(f["digests"]["sha256"], sha256(&bytes));
        assert_eq!(f["digests"]["md5"], hex::encode(md5::Md5::digest(&bytes)));
        assert_eq!(
            f["digests"]["blake2b_256"],
            hex::encode(Blake2b::<U32>::digest(&bytes))
        );
        assert_eq!(f["size"], bytes.len());
        assert!(f["upload_time_iso_8601"].as_str().unwrap().ends_with('Z'));
        assert!(!f["upload_time"].as_str().unwrap().ends_with('Z'));
        if f["packagetype"] == "bdist_wheel" {
            assert_eq!(f["python_version"], "py3");
            assert!(f["core-metadata"]["sha256"].is_string());
        } else {
            assert_eq!(f["packagetype"], "sdist");
            assert_eq!(f["python_version"], "source");
            assert_eq!(f["core-metadata"], false);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn xmlrpc_changelog_loops_with_small_cap() {
    let fake = FakeUpstream::start(UpstreamOptions {
        changelog_cap: 3,
        ..UpstreamOptions::default()
    })
    .await;
    fake.add_project("Foo.Bar", &["1.0", "1.1"]);
    fake.add_project("baz", &["2.0"]);
    let last = fake.serial();
    assert_eq!(last, 11, "2 creates, 3 releases, 6 files");

    let resp = xmlrpc(&fake, "changelog_last_serial", None).await;
    assert!(resp.contains(&format!("<int>{last}</int>")));

    let mut seen = Vec::new();
    let mut since = 0;
    let mut calls = 0;
    loop {
        let resp = xmlrpc(&fake, "changelog_since_serial", Some(since)).await;
        let serials = changelog_serials(&resp);
        calls += 1;
        if serials.is_empty() {
            break;
        }
        assert!(serials.len() <= 3);
        since = *serials.last().unwrap() as i64;
        seen.extend(serials);
    }
    assert_eq!(seen, (1..=last).collect::<Vec<_>>());
    assert_eq!(calls, 5);
    assert_eq!(
        fake.count(|r| r.xmlrpc_method.as_deref() == Some("changelog_since_serial")),
        5
    );

    let first = xmlrpc(&fake, "changelog_since_serial", Some(0)).await;
    assert!(first.contains("<string>Foo.Bar</string>"));
    assert!(first.contains("<value><nil/></value>"));
    assert!(first.contains("<string>create</string>"));
    assert!(first.contains("<string>new release</string>"));
    assert!(first.contains("<string>add py3 file foo_bar-1.0-py3-none-any.whl</string>"));
    let log = fake.changelog();
    assert_eq!(log[0].action, "create");
    assert!(
        log.iter()
            .any(|e| e.action == "add source file baz-2.0.tar.gz")
    );

    let list = xmlrpc(&fake, "list_packages_with_serial", None).await;
    assert!(list.contains(&format!(
        "<member><name>baz</name><value><int>{last}</int></value></member>"
    )));
    let unknown = xmlrpc(&fake, "no_such_method", None).await;
    assert!(unknown.contains("<fault>"));
}

#[tokio::test(flavor = "multi_thread")]
async fn each_mutation_bumps_serial_and_changes_listing() {
    let fake = fake().await;
    let detail = |fake: &FakeUpstream| {
        let fake_url = fake.base_url().to_string();
        let client = fake.client();
        async move {
            let r = client
                .get(format!("{fake_url}/simple/foo-bar/"))
                .header("accept", JSON_TYPE)
                .send()
                .await
                .unwrap();
            let serial = serial_header(&r);
            (serial, r.json::<Value>().await.unwrap())
        }
    };
    let files = |v: &Value| -> Vec<String> {
        v["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["filename"].as_str().unwrap().to_string())
            .collect()
    };

    let mut serial = fake.serial();
    fn check(serial: &mut u64, new: u64, action: &str, fake: &FakeUpstream) {
        assert!(new > *serial, "{action} must bump the serial");
        assert_eq!(fake.serial(), new);
        assert_eq!(fake.changelog().last().unwrap().action, action);
        *serial = new;
    }
    macro_rules! bumped {
        ($new:expr, $action:expr, $fake:expr $(,)?) => {{
            let new = $new;
            check(&mut serial, new, &$action, $fake)
        }};
    }

    bumped!(
        fake.add_release("Foo.Bar", "1.2"),
        "add source file foo_bar-1.2.tar.gz",
        &fake
    );
    let (s, v) = detail(&fake).await;
    assert_eq!(s, Some(serial));
    assert!(files(&v).contains(&"foo_bar-1.2.tar.gz".to_string()));

    let name = fake.add_file(
        "Foo.Bar",
        "1.2",
        FileSpec::wheel_tagged("cp312", "cp312", "win_amd64"),
    );
    bumped!(fake.serial(), &format!("add cp312 file {name}"), &fake);
    assert!(files(&detail(&fake).await.1).contains(&name));

    bumped!(
        fake.yank("Foo.Bar", "1.2", Some("bad")),
        "yank release",
        &fake
    );
    let (_, v) = detail(&fake).await;
    let f = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["filename"] == name)
        .unwrap();
    assert_eq!(f["yanked"], "bad");

    bumped!(fake.unyank("Foo.Bar", "1.2"), "unyank release", &fake);
    let (_, v) = detail(&fake).await;
    let f = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["filename"] == name)
        .unwrap();
    assert_eq!(f["yanked"], false);

    let url = fake.file_url(&name).unwrap();
    bumped!(
        fake.remove_file("Foo.Bar", &name),
        &format!("remove file {name}"),
        &fake
    );
    assert!(!files(&detail(&fake).await.1).contains(&name));
    assert_eq!(fake.client().get(&url).send().await.unwrap().status(), 404);

    bumped!(
        fake.remove_release("Foo.Bar", "1.2"),
        "remove release",
        &fake
    );
    let (_, v) = detail(&fake).await;
    assert!(!v["versions"].as_array().unwrap().iter().any(|x| x == "1.2"));

    bumped!(
        fake.set_status("Foo.Bar", "quarantined", Some("malware report")),
        "set status quarantined",
        &fake,
    );
    let (_, v) = detail(&fake).await;
    assert_eq!(v["project-status"]["status"], "quarantined");
    assert_eq!(v["project-status"]["reason"], "malware report");
    assert!(files(&v).is_empty());
    assert!(fake.expected_files().iter().all(|f| f.project != "foo-bar"));

    bumped!(fake.remove_project("Foo.Bar"), "remove project", &fake);
    assert_eq!(get(&fake, "/simple/foo-bar/", None).await.status(), 404);
    assert_eq!(get(&fake, "/pypi/foo-bar/json", None).await.status(), 404);
    let (root_serial, root) = json(&fake, "/simple/").await;
    assert_eq!(root_serial, Some(serial));
    assert_eq!(root["projects"].as_array().unwrap().len(), 1);

    bumped!(
        fake.add_project("new-one", &["0.1"]),
        "add source file new_one-0.1.tar.gz",
        &fake
    );
    let (_, root) = json(&fake, "/simple/").await;
    assert_eq!(root["projects"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn stale_and_missing_serial_faults() {
    let fake = fake().await;
    let truth = fake.project_serial("baz");
    fake.inject(
        FaultTarget::Project("baz".into()),
        FaultKind::StaleSerial,
        1,
    );
    fake.inject(
        FaultTarget::Path("/simple/".into()),
        FaultKind::MissingSerial,
        1,
    );
    // The stale fault targets baz; the root request takes the missing-serial one.
    let r = get(&fake, "/simple/", None).await;
    assert_eq!(serial_header(&r), None);
    let r = get(&fake, "/pypi/baz/json", None).await;
    assert_eq!(serial_header(&r), truth.map(|s| s - 1));
    let r = get(&fake, "/pypi/baz/json", None).await;
    assert_eq!(serial_header(&r), truth);
    assert_eq!(fake.pending_faults(), 0);
    assert_eq!(fake.count(|r| r.fault.is_some()), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn status_fault_counts_down() {
    let fake = fake().await;
    fake.inject(
        FaultTarget::Path("/simple/".into()),
        FaultKind::Status(503),
        2,
    );
    fake.inject(
        FaultTarget::Path("/pypi/".into()),
        FaultKind::Status(429),
        1,
    );
    for _ in 0..2 {
        let r = get(&fake, "/simple/foo-bar/", None).await;
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "1");
    }
    assert_eq!(get(&fake, "/simple/foo-bar/", None).await.status(), 200);
    assert_eq!(get(&fake, "/pypi/baz/json", None).await.status(), 429);
    assert_eq!(get(&fake, "/pypi/baz/json", None).await.status(), 200);
    assert_eq!(fake.count(|r| r.status == 503), 2);
    assert_eq!(fake.count(|r| r.path == "/simple/foo-bar/"), 3);
    fake.clear_log();
    assert!(fake.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_mid_body_is_a_body_error() {
    let fake = FakeUpstream::start(UpstreamOptions {
        file_size: 200_000,
        ..UpstreamOptions::default()
    })
    .await;
    fake.add_project("big", &["1.0"]);
    let url = fake.file_url("big-1.0-py3-none-any.whl").unwrap();
    fake.inject(
        FaultTarget::Project("big".into()),
        FaultKind::ResetMidBody,
        1,
    );
    let r = fake.client().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.is_err());
    let ok = fetch(&fake, &url).await;
    assert_eq!(ok, fake.file_bytes("big-1.0-py3-none-any.whl").unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn truncate_and_wrong_bytes() {
    let fake = fake().await;
    let name = "foo_bar-1.0.tar.gz";
    let url = fake.file_url(name).unwrap();
    let full = fake.file_bytes(name).unwrap();

    fake.inject(
        FaultTarget::Path("/packages/".into()),
        FaultKind::Truncate,
        1,
    );
    let r = fake.client().get(&url).send().await.unwrap();
    assert_eq!(r.content_length(), Some(full.len() as u64));
    assert!(
        r.bytes().await.is_err(),
        "a short body must not read as complete"
    );

    fake.inject(
        FaultTarget::Path("/packages/".into()),
        FaultKind::WrongBytes,
        1,
    );
    let wrong = fetch(&fake, &url).await;
    assert_eq!(wrong.len(), full.len());
    assert_ne!(sha256(&wrong), sha256(&full));

    let right = fetch(&fake, &url).await;
    assert_eq!(right, full);
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_and_xmlrpc_faults() {
    let fake = fake().await;
    fake.inject(
        FaultTarget::Path("/simple/".into()),
        FaultKind::Slow(Duration::from_millis(100)),
        1,
    );
    assert_eq!(get(&fake, "/simple/", None).await.status(), 200);
    fake.inject(
        FaultTarget::Path("/pypi".into()),
        FaultKind::XmlRpcFault(-32500),
        1,
    );
    // The JSON API under /pypi/ is not XML-RPC, so it does not take the fault.
    assert_eq!(get(&fake, "/pypi/baz/json", None).await.status(), 200);
    let resp = xmlrpc(&fake, "changelog_last_serial", None).await;
    assert!(resp.contains("<fault>") && resp.contains("<int>-32500</int>"));
    let resp = xmlrpc(&fake, "changelog_last_serial", None).await;
    assert!(!resp.contains("<fault>"));
}

#[tokio::test(flavor = "multi_thread")]
async fn files_support_head_and_ranges() {
    let fake = fake().await;
    let name = "foo_bar-1.1-py3-none-any.whl";
    let url = fake.file_url(name).unwrap();
    let full = fake.file_bytes(name).unwrap();
    let c = fake.client();
    let r = c.head(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-length"],
        full.len().to_string().as_str()
    );
    assert_eq!(r.headers()["accept-ranges"], "bytes");
    let r = c
        .get(&url)
        .header("range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 0-99/{}", full.len()).as_str()
    );
    assert_eq!(r.bytes().await.unwrap(), full.slice(..100));
    let r = c
        .get(&url)
        .header("range", "bytes=-100")
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap(), full.slice(full.len() - 100..));
    let r = c
        .get(&url)
        .header("range", "bytes=0-99")
        .header("if-range", "\"other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c.head(format!("{url}.metadata")).send().await.unwrap();
    assert_eq!(
        r.headers()["content-length"],
        fake.metadata_bytes(name)
            .unwrap()
            .len()
            .to_string()
            .as_str()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_mode() {
    let fake = FakeUpstream::start(UpstreamOptions {
        tls: false,
        ..UpstreamOptions::default()
    })
    .await;
    fake.add_project("plain", &["1.0"]);
    assert!(fake.base_url().starts_with("http://127.0.0.1:"));
    let r = get(&fake, "/simple/plain/", Some(PIP_ACCEPT)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], JSON_TYPE);
    assert!(fake.ca_pem_path().exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn etag_gives_304() {
    let fake = fake().await;
    let r = get(&fake, "/simple/baz/", Some(JSON_TYPE)).await;
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let html = get(&fake, "/simple/baz/", None).await;
    assert_ne!(html.headers()["etag"].to_str().unwrap(), etag);
    let r = fake
        .client()
        .get(format!("{}/simple/baz/", fake.base_url()))
        .header("accept", JSON_TYPE)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
}

#[tokio::test(flavor = "multi_thread")]
async fn expected_files_and_static_tree() {
    let fake = fake().await;
    let expected = fake.expected_files();
    assert_eq!(expected.len(), 6);
    let dir = tempfile::tempdir().unwrap();
    fake.write_static_tree(dir.path(), "").unwrap();
    for f in &expected {
        let bytes =
            std::fs::read(dir.path().join("packages").join(&f.path_under_packages)).unwrap();
        assert_eq!(sha256(&bytes), f.sha256);
        assert_eq!(bytes.len() as u64, f.size);
        if let Some(m) = &f.metadata_sha256 {
            let meta = std::fs::read(
                dir.path()
                    .join("packages")
                    .join(format!("{}.metadata", f.path_under_packages)),
            )
            .unwrap();
            assert_eq!(&sha256(&meta), m);
        }
    }
    let root: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("simple/index.v1_json")).unwrap())
            .unwrap();
    assert_eq!(root["projects"].as_array().unwrap().len(), 2);
    let detail: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("simple/baz/index.json")).unwrap())
            .unwrap();
    assert!(
        detail["files"][0]["url"]
            .as_str()
            .unwrap()
            .starts_with("/packages/")
    );
    assert!(dir.path().join("simple/foo-bar/index.html").exists());
    assert!(dir.path().join("pypi/foo-bar/json").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn generated_data_is_deterministic() {
    let opts = UpstreamOptions {
        file_size: 512,
        ..UpstreamOptions::default()
    };
    let a = FakeUpstream::start(opts.clone()).await;
    let b = FakeUpstream::start(opts).await;
    a.generated(5, 3, 2, 42);
    b.generated(5, 3, 2, 42);
    let (fa, fb) = (a.expected_files(), b.expected_files());
    assert_eq!(fa.len(), 5 * 3 * 2);
    assert_eq!(fa, fb);
    assert_eq!(a.serial(), b.serial());
    let sizes: std::collections::BTreeSet<u64> = fa.iter().map(|f| f.size).collect();
    assert!(sizes.len() > 1, "sizes vary");
    a.stop();
}

/// A client that speaks only HTTP/2 (ALPN h2), like a pooled production client may.
fn h2_client(fake: &FakeUpstream) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(fake.ca_pem_path()).unwrap();
    use rustls::pki_types::pem::PemObject;
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(c.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .http2_prior_knowledge()
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn body_faults_over_http2() {
    let fake = fake().await;
    let c = h2_client(&fake);
    let name = "foo_bar-1.0-py3-none-any.whl";
    let url = fake.file_url(name).unwrap();
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.bytes().await.unwrap(), fake.file_bytes(name).unwrap());
    for kind in [FaultKind::ResetMidBody, FaultKind::Truncate] {
        fake.inject(FaultTarget::Path("/packages/".into()), kind.clone(), 1);
        let r = c.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.bytes().await.is_err(), "{kind:?} over h2");
    }
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap(), fake.file_bytes(name).unwrap());
}
