//! `vorpal serve` against PROTOCOLS.md's "Conformance checks for a served mirror":
//! a hand-built mirror tree in a tempdir, the server in-process over real TLS, and a
//! reqwest client (plus a raw TLS client where reqwest would normalise the request).

mod support;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest as _};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;
use support::tls::TestCa;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vorpal::serve::{RunningServer, ServeOptions, TlsPaths, XmlRpcHandler, bind};

const PIP: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";
const UV: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";
const JSON: &str = "application/vnd.pypi.simple.v1+json";
const V1HTML: &str = "application/vnd.pypi.simple.v1+html";
const HTML: &str = "text/html; charset=utf-8";

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// `<b2[0:2]>/<b2[2:4]>/<b2[4:]>/<filename>`, as PyPI lays files out.
fn pypi_path(bytes: &[u8], filename: &str) -> String {
    let b2 = hex::encode(Blake2b::<U32>::digest(bytes));
    format!("{}/{}/{}/{filename}", &b2[0..2], &b2[2..4], &b2[4..])
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

const METADATA: &str =
    "Metadata-Version: 2.1\nName: Foo.Bar\nVersion: 1.0\nRequires-Python: >=3.8\n\n";

/// A real (small) wheel.
fn wheel() -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        z.start_file("foo_bar/__init__.py", opts).unwrap();
        for i in 0..200 {
            writeln!(z, "VALUE_{i} = {}", i * 7919 % 1013).unwrap();
        }
        z.start_file("foo_bar-1.0.dist-info/METADATA", opts)
            .unwrap();
        z.write_all(METADATA.as_bytes()).unwrap();
        z.start_file("foo_bar-1.0.dist-info/WHEEL", opts).unwrap();
        z.write_all(
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        .unwrap();
        z.start_file("foo_bar-1.0.dist-info/RECORD", opts).unwrap();
        z.finish().unwrap();
    }
    buf.into_inner()
}

struct Mirror {
    dir: tempfile::TempDir,
    wheel: Vec<u8>,
    /// URL path of the wheel, `/packages/...`.
    wheel_url: String,
    sdist: Vec<u8>,
}

/// The tree sync (and bandersnatch) write: three projects, one of them `Foo.Bar`, one
/// in a hash-index folder, one with bandersnatch's string serials; files, state files
/// and litter that must never be served.
fn build_mirror() -> Mirror {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let web = root.join("web");
    let wheel = wheel();
    let sdist: Vec<u8> = (0..3000u32).map(|i| (i * 31 % 251) as u8).collect();
    let wheel_rel = pypi_path(&wheel, "foo_bar-1.0-py3-none-any.whl");
    let sdist_rel = pypi_path(&sdist, "foo_bar-0.9.tar.gz");
    write(&web.join("packages").join(&wheel_rel), &wheel);
    write(
        &web.join("packages").join(format!("{wheel_rel}.metadata")),
        METADATA,
    );
    write(&web.join("packages").join(&sdist_rel), &sdist);
    let (wsha, ssha, msha) = (
        sha256_hex(&wheel),
        sha256_hex(&sdist),
        sha256_hex(METADATA.as_bytes()),
    );

    // Root index.
    let root_html = "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.4\">\n    <title>Simple index</title>\n  </head>\n  <body>\n    <a href=\"foo-bar/\">Foo.Bar</a>\n    <a href=\"hashed/\">hashed</a>\n    <a href=\"plain/\">plain</a>\n  </body>\n</html>\n<!--SERIAL 100-->";
    write(&web.join("simple/index.html"), root_html);
    write(&web.join("simple/index.v1_html"), root_html);
    write(
        &web.join("simple/index.v1_json"),
        json!({"meta": {"api-version": "1.4", "_last-serial": 100},
               "projects": [{"name": "Foo.Bar", "_last-serial": 100},
                            {"name": "hashed", "_last-serial": 70},
                            {"name": "plain", "_last-serial": 50}]})
        .to_string(),
    );

    // foo-bar.
    let html = format!(
        "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.4\">\n    <title>Links for foo-bar</title>\n  </head>\n  <body>\n    <h1>Links for foo-bar</h1>\n    <a href=\"../../packages/{sdist_rel}#sha256={ssha}\" data-requires-python=\"&lt;4,&gt;=3.7\" data-yanked=\"broken build\">foo_bar-0.9.tar.gz</a><br/>\n    <a href=\"../../packages/{wheel_rel}#sha256={wsha}\" data-requires-python=\"&gt;=3.8\" data-core-metadata=\"sha256={msha}\" data-dist-info-metadata=\"sha256={msha}\">foo_bar-1.0-py3-none-any.whl</a><br/>\n  </body>\n</html>\n<!--SERIAL 100-->"
    );
    write(&web.join("simple/foo-bar/index.html"), &html);
    write(&web.join("simple/foo-bar/index.v1_html"), &html);
    write(
        &web.join("simple/foo-bar/index.v1_json"),
        json!({
            "meta": {"api-version": "1.4", "_last-serial": 100},
            "name": "foo-bar",
            "versions": ["0.9", "1.0"],
            "files": [
                {"filename": "foo_bar-0.9.tar.gz", "url": format!("../../packages/{sdist_rel}"),
                 "hashes": {"sha256": ssha}, "requires-python": "<4,>=3.7", "size": sdist.len(),
                 "upload-time": "2024-01-01T00:00:00.123456Z", "yanked": "broken build",
                 "core-metadata": false},
                {"filename": "foo_bar-1.0-py3-none-any.whl", "url": format!("../../packages/{wheel_rel}"),
                 "hashes": {"sha256": wsha}, "requires-python": ">=3.8", "size": wheel.len(),
                 "upload-time": "2024-01-02T00:00:00Z", "yanked": false,
                 "core-metadata": {"sha256": msha}}
            ],
            "project-status": {"status": "active"}
        })
        .to_string(),
    );
    let file = |filename: &str, rel: &str, sha: &str, size: usize| {
        json!({"filename": filename,
               "url": format!("https://files.pythonhosted.org/packages/{rel}"),
               "digests": {"sha256": sha}, "size": size, "packagetype": "bdist_wheel",
               "yanked": false, "yanked_reason": null})
    };
    write(
        &web.join("pypi/foo-bar/json"),
        json!({
            "info": {"name": "Foo.Bar", "version": "1.0", "requires_python": ">=3.8",
                     "package_url": "https://pypi.org/project/Foo.Bar/"},
            "last_serial": 100,
            "releases": {
                "0.9": [file("foo_bar-0.9.tar.gz", &sdist_rel, &ssha, sdist.len())],
                "1.0": [file("foo_bar-1.0-py3-none-any.whl", &wheel_rel, &wsha, wheel.len())]
            },
            "urls": [file("foo_bar-1.0-py3-none-any.whl", &wheel_rel, &wsha, wheel.len())],
            "vulnerabilities": []
        })
        .to_string(),
    );

    // plain: bandersnatch-style string serials; JSON API only under web/json/.
    let plain_html = "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.0\"></head><body></body></html>\n<!--SERIAL 50-->";
    write(&web.join("simple/plain/index.html"), plain_html);
    write(&web.join("simple/plain/index.v1_html"), plain_html);
    write(
        &web.join("simple/plain/index.v1_json"),
        r#"{"meta":{"api-version":"1.0","_last-serial":"50"},"name":"plain","versions":[],"files":[]}"#,
    );
    write(
        &web.join("json/plain"),
        r#"{"info":{"name":"plain","version":"2.0"},"last_serial":50,"releases":{},"urls":[]}"#,
    );

    // hashed: a hash-index tree (simple/<first char>/<name>/).
    let hashed_html = "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.0\"></head><body>hashed</body></html>\n<!--SERIAL 70-->";
    write(&web.join("simple/h/hashed/index.html"), hashed_html);
    write(
        &web.join("simple/h/hashed/index.v1_json"),
        r#"{"meta":{"api-version":"1.0","_last-serial":70},"name":"hashed","versions":[],"files":[]}"#,
    );

    write(&web.join("last-modified"), "20240102T03:04:05\n");
    // State and litter: never served.
    write(&root.join("status"), "100");
    write(&root.join("generation"), "5");
    write(&root.join(".lock"), "");
    write(&root.join("todo"), "100\nfoo-bar 100\n");
    write(&root.join(".vorpal/state.db"), "secret state");
    write(&web.join("packages/aa/bb/.vorpal-tmp.abc"), "partial");
    write(&web.join("simple/foo-bar/.vorpal-tmp.1"), "partial");
    write(&web.join(".hidden"), "hidden");
    std::fs::create_dir_all(web.join("packages/ee/ff")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.join("status"), web.join("packages/ee/ff/escape.whl")).unwrap();

    Mirror {
        dir,
        wheel,
        wheel_url: format!("/packages/{wheel_rel}"),
        sdist,
    }
}

struct Fixture {
    mirror: Mirror,
    ca: TestCa,
    server: RunningServer,
    addr: SocketAddr,
    client: Client,
    _certs: tempfile::TempDir,
}

impl Fixture {
    async fn start(configure: impl FnOnce(&mut ServeOptions)) -> Fixture {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mirror = build_mirror();
        let ca = TestCa::new("vorpal serve test CA");
        let certs = tempfile::tempdir().unwrap();
        let (cert, key) = ca
            .leaf(&["localhost", "127.0.0.1"])
            .write(certs.path(), "server");
        let mut opts = ServeOptions::new(mirror.dir.path());
        opts.listen = vec!["127.0.0.1:0".parse().unwrap()];
        opts.tls = Some(TlsPaths { cert, key });
        configure(&mut opts);
        let server = bind(opts).await.unwrap();
        let addr = server.local_addrs()[0];
        let client = client(&ca, addr, false);
        Fixture {
            mirror,
            ca,
            server,
            addr,
            client,
            _certs: certs,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    async fn get(&self, path: &str, accept: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(self.url(path));
        if let Some(a) = accept {
            req = req.header("accept", a);
        }
        req.send().await.unwrap()
    }

    async fn raw(&self, request_target: &str, headers: &str) -> (u16, String) {
        raw_request(self.addr, &self.ca, request_target, headers).await
    }
}

fn client(ca: &TestCa, addr: SocketAddr, http1_only: bool) -> Client {
    let mut b = Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.cert_pem.as_bytes()).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .resolve("localhost", addr);
    if http1_only {
        b = b.http1_only();
    }
    b.build().unwrap()
}

/// An HTTP/1.1 request written byte for byte (reqwest normalises `..` and escapes),
/// without an Accept header unless given. Returns the status and the whole response.
async fn raw_request(addr: SocketAddr, ca: &TestCa, target: &str, headers: &str) -> (u16, String) {
    let connector = tokio_rustls::TlsConnector::from(ca.client_config());
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let req = format!(
        "GET {target} HTTP/1.1\r\nHost: localhost:{}\r\n{headers}Connection: close\r\n\r\n",
        addr.port()
    );
    tls.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn media_type(resp: &reqwest::Response) -> String {
    header(resp.headers(), "content-type").to_string()
}

#[tokio::test]
async fn names_redirect_to_the_canonical_url() {
    let f = Fixture::start(|_| {}).await;
    for (from, to) in [
        ("/simple/Foo.Bar/", "/simple/foo-bar/"),
        ("/simple/FOO_bar/", "/simple/foo-bar/"),
        ("/simple/foo--bar/", "/simple/foo-bar/"),
        ("/simple/foo-bar", "/simple/foo-bar/"),
        ("/simple/Foo.Bar", "/simple/foo-bar/"),
        ("/simple", "/simple/"),
        ("/simple?format=text/html", "/simple/?format=text/html"),
        (
            "/simple/Foo.Bar/?format=text/html",
            "/simple/foo-bar/?format=text/html",
        ),
        ("/pypi/Foo.Bar/json", "/pypi/foo-bar/json"),
        ("/pypi/FOO_BAR/1.0/json", "/pypi/foo-bar/1.0/json"),
    ] {
        let resp = f.get(from, None).await;
        assert_eq!(resp.status(), StatusCode::MOVED_PERMANENTLY, "{from}");
        assert_eq!(header(resp.headers(), "location"), to, "{from}");
        if from.starts_with("/simple") {
            assert_eq!(header(resp.headers(), "vary"), "Accept", "{from}");
        }
    }
    for missing in [
        "/simple/nope/",
        "/simple/nope",
        "/pypi/nope/json",
        "/nothing",
    ] {
        let resp = f.get(missing, None).await;
        let expected = if missing == "/simple/nope" {
            StatusCode::MOVED_PERMANENTLY
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!(resp.status(), expected, "{missing}");
    }
    assert_eq!(
        f.get("/simple/nope/", None).await.status(),
        StatusCode::NOT_FOUND
    );
    // hash-index layout: simple/h/hashed/ serves /simple/hashed/.
    let resp = f.get("/simple/hashed/", Some(JSON)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(resp.headers(), "x-pypi-last-serial"), "70");
    f.server.shutdown().await;
}

#[tokio::test]
async fn negotiation_follows_q_values() {
    let f = Fixture::start(|_| {}).await;
    // No Accept header at all (reqwest always sends one, so raw).
    for path in ["/simple/", "/simple/foo-bar/"] {
        let (status, text) = f.raw(path, "").await;
        assert_eq!(status, 200);
        assert!(
            text.to_ascii_lowercase()
                .contains("content-type: text/html; charset=utf-8"),
            "{text}"
        );
        assert!(text.to_ascii_lowercase().contains("vary: accept"));
    }
    let cases: &[(&str, &str)] = &[
        ("*/*", HTML),
        ("text/*", HTML),
        ("text/html", HTML),
        (JSON, JSON),
        (V1HTML, V1HTML),
        (PIP, JSON),
        (UV, JSON),
        (
            "application/vnd.pypi.simple.v1+json;q=0.1, application/vnd.pypi.simple.v1+html",
            V1HTML,
        ),
        ("application/vnd.pypi.simple.v1+json;q=0, text/html", HTML),
        ("application/vnd.pypi.simple.latest+json", JSON),
        ("application/vnd.pypi.simple.latest+html", V1HTML),
        ("application/json", HTML),
        ("image/png", HTML),
    ];
    for path in ["/simple/", "/simple/foo-bar/"] {
        for (accept, expected) in cases {
            let resp = f.get(path, Some(accept)).await;
            assert_eq!(resp.status(), StatusCode::OK, "{path} {accept}");
            assert_eq!(media_type(&resp), *expected, "{path} Accept: {accept}");
            assert_eq!(header(resp.headers(), "vary"), "Accept");
            let ct = media_type(&resp);
            let body = resp.bytes().await.unwrap();
            if ct == JSON {
                let v: Value = serde_json::from_slice(&body).unwrap();
                assert!(v["meta"]["api-version"].is_string());
            } else {
                assert!(body.starts_with(b"<!DOCTYPE html>"));
            }
        }
    }
    // ?format= overrides Accept, for all five types.
    for (format, expected) in [
        ("application/vnd.pypi.simple.v1%2Bjson", JSON),
        ("application/vnd.pypi.simple.v1+json", JSON),
        ("application/vnd.pypi.simple.latest%2Bjson", JSON),
        ("application/vnd.pypi.simple.v1%2Bhtml", V1HTML),
        ("application/vnd.pypi.simple.latest%2Bhtml", V1HTML),
        ("text/html", HTML),
    ] {
        for accept in ["text/html", PIP] {
            let resp = f
                .get(&format!("/simple/foo-bar/?format={format}"), Some(accept))
                .await;
            assert_eq!(
                media_type(&resp),
                expected,
                "format={format} Accept: {accept}"
            );
            assert_eq!(header(resp.headers(), "vary"), "Accept");
        }
    }
    f.server.shutdown().await;
}

#[tokio::test]
async fn strict_mode_answers_406() {
    let f = Fixture::start(|o| o.not_acceptable_406 = true).await;
    let resp = f.get("/simple/foo-bar/", Some("application/json")).await;
    assert_eq!(resp.status(), StatusCode::NOT_ACCEPTABLE);
    assert_eq!(header(resp.headers(), "vary"), "Accept");
    assert_eq!(
        media_type(&f.get("/simple/foo-bar/", Some("*/*")).await),
        HTML
    );
    assert_eq!(
        media_type(&f.get("/simple/foo-bar/", Some(PIP)).await),
        JSON
    );
    let resp = f
        .get(
            "/simple/foo-bar/?format=text/html",
            Some("application/json"),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    f.server.shutdown().await;
}

#[tokio::test]
async fn etags_conditional_requests_and_serials() {
    let f = Fixture::start(|_| {}).await;
    for path in ["/simple/", "/simple/foo-bar/", "/simple/plain/"] {
        let mut etags = Vec::new();
        for accept in [JSON, V1HTML, "text/html"] {
            let resp = f.get(path, Some(accept)).await;
            assert_eq!(resp.status(), StatusCode::OK);
            let h = resp.headers().clone();
            let etag = header(&h, "etag").to_string();
            assert!(
                etag.starts_with('"') && etag.ends_with('"'),
                "strong ETag: {etag}"
            );
            assert_eq!(header(&h, "cache-control"), "max-age=600, public");
            let serial: i64 = header(&h, "x-pypi-last-serial").parse().unwrap();
            let body = resp.bytes().await.unwrap();
            // The header equals the serial the body carries.
            let body_serial = if accept == JSON {
                let v: Value = serde_json::from_slice(&body).unwrap();
                match &v["meta"]["_last-serial"] {
                    Value::Number(n) => n.as_i64().unwrap(),
                    Value::String(s) => s.parse().unwrap(),
                    other => panic!("serial {other}"),
                }
            } else {
                let text = String::from_utf8_lossy(&body);
                let start = text.rfind("<!--SERIAL ").unwrap() + 11;
                text[start..text.rfind("-->").unwrap()]
                    .trim()
                    .parse()
                    .unwrap()
            };
            assert_eq!(serial, body_serial, "{path} {accept}");

            // 304 on a match, in the single, list and * forms.
            for inm in [etag.clone(), format!("\"nope\", {etag}"), "*".to_string()] {
                let resp = f
                    .client
                    .get(f.url(path))
                    .header("accept", accept)
                    .header("if-none-match", inm.as_str())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    resp.status(),
                    StatusCode::NOT_MODIFIED,
                    "{path} {accept} {inm}"
                );
                assert_eq!(header(resp.headers(), "etag"), etag);
                assert_eq!(header(resp.headers(), "vary"), "Accept");
            }
            etags.push(etag);
        }
        // Different per representation, even where the bytes are the same.
        assert_ne!(etags[0], etags[1]);
        assert_ne!(etags[1], etags[2]);
        assert_ne!(etags[0], etags[2]);
        // Another representation's ETag does not match.
        let resp = f
            .client
            .get(f.url(path))
            .header("accept", "text/html")
            .header("if-none-match", etags[0].as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }
    // The same page twice: same ETag (cached per path and mtime).
    let a = f.get("/simple/foo-bar/", Some(JSON)).await;
    let b = f.get("/simple/foo-bar/", Some(JSON)).await;
    assert_eq!(header(a.headers(), "etag"), header(b.headers(), "etag"));
    // A rewritten page gets a new ETag.
    let page = f.mirror.dir.path().join("web/simple/foo-bar/index.v1_json");
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&page).unwrap()).unwrap();
    doc["meta"]["_last-serial"] = json!(101);
    let tmp = page.with_file_name(".vorpal-tmp.page");
    std::fs::write(&tmp, doc.to_string()).unwrap();
    std::fs::rename(&tmp, &page).unwrap();
    // Cached pages are revalidated about once a second: wait (boundedly) for the new one.
    let mut c = f.get("/simple/foo-bar/", Some(JSON)).await;
    for _ in 0..100 {
        if header(a.headers(), "etag") != header(c.headers(), "etag") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        c = f.get("/simple/foo-bar/", Some(JSON)).await;
    }
    assert_ne!(header(a.headers(), "etag"), header(c.headers(), "etag"));
    assert_eq!(header(c.headers(), "x-pypi-last-serial"), "101");
    // HEAD: same head, Content-Length of the GET body.
    let get = f.get("/simple/foo-bar/", Some("text/html")).await;
    let len = get.bytes().await.unwrap().len();
    let head = f
        .client
        .head(f.url("/simple/foo-bar/"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(head.headers(), "content-length"), len.to_string());
    f.server.shutdown().await;
}

fn anchors(html: &str) -> Vec<(Vec<(String, String)>, String)> {
    let a = regex::Regex::new(r#"<a ([^>]*)>([^<]*)</a>"#).unwrap();
    let attr = regex::Regex::new(r#"([a-z-]+)="([^"]*)""#).unwrap();
    a.captures_iter(html)
        .map(|c| {
            let attrs = attr
                .captures_iter(&c[1])
                .map(|x| (x[1].to_string(), x[2].to_string()))
                .collect();
            (attrs, c[2].to_string())
        })
        .collect()
}

#[tokio::test]
async fn pages_and_files_agree() {
    let f = Fixture::start(|_| {}).await;
    let page_url = url::Url::parse(&f.url("/simple/foo-bar/")).unwrap();
    let html = f
        .get("/simple/foo-bar/", Some("text/html"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains(r#"<meta name="pypi:repository-version" content="1.4">"#));
    assert!(html.contains("&gt;=3.8") && html.contains("&lt;4,&gt;=3.7"));
    let links = anchors(&html);
    assert_eq!(links.len(), 2);
    for (attrs, text) in &links {
        let get = |k: &str| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let href = get("href").unwrap();
        let target = page_url.join(&href).unwrap();
        let last = target.path_segments().unwrap().next_back().unwrap();
        let decoded = percent_encoding::percent_decode_str(last)
            .decode_utf8()
            .unwrap();
        assert_eq!(&decoded, text, "anchor text is the file name");
        let body = f
            .client
            .get(target.as_str())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(
            target.fragment().unwrap(),
            format!("sha256={}", sha256_hex(&body)),
            "#sha256 equals the served bytes"
        );
        assert_eq!(get("data-core-metadata"), get("data-dist-info-metadata"));
        if let Some(meta) = get("data-core-metadata") {
            let resp = f
                .client
                .get(format!(
                    "{}.metadata",
                    target.as_str().split('#').next().unwrap()
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            assert_eq!(
                header(resp.headers(), "content-type"),
                "application/octet-stream"
            );
            let bytes = resp.bytes().await.unwrap();
            assert_eq!(meta, format!("sha256={}", sha256_hex(&bytes)));
            let text = String::from_utf8(bytes.to_vec()).unwrap();
            let name = text.lines().find_map(|l| l.strip_prefix("Name: ")).unwrap();
            assert_eq!(vorpal::index::names::normalize(name), "foo-bar");
        }
        match get("data-yanked") {
            Some(reason) => assert_eq!(reason, "broken build"),
            None => assert!(text.ends_with(".whl")),
        }
    }

    let v: Value = f
        .get("/simple/foo-bar/", Some(JSON))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["name"], "foo-bar");
    let upload = regex::Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$").unwrap();
    let versions: Vec<&str> = v["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    for file in v["files"].as_array().unwrap() {
        let name = file["filename"].as_str().unwrap();
        let version = if let Some(stem) = name.strip_suffix(".tar.gz") {
            stem.rsplit_once('-').unwrap().1
        } else {
            name.split('-').nth(1).unwrap()
        };
        assert!(versions.contains(&version), "{version} in versions");
        assert!(upload.is_match(file["upload-time"].as_str().unwrap()));
        assert_ne!(file["yanked"], json!(""));
        assert!(file.get("dist-info-metadata").is_none());
        assert!(file["size"].is_u64());
        let url = page_url.join(file["url"].as_str().unwrap()).unwrap();
        let body = f
            .client
            .get(url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(file["hashes"]["sha256"], sha256_hex(&body));
        assert_eq!(file["size"], body.len());
    }
    assert_eq!(
        f.get(&f.mirror.wheel_url, None)
            .await
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        f.mirror.wheel.as_slice()
    );
    assert!(!f.mirror.sdist.is_empty());
    f.server.shutdown().await;
}

#[tokio::test]
async fn files_support_head_and_ranges() {
    let f = Fixture::start(|_| {}).await;
    let wheel = &f.mirror.wheel;
    let len = wheel.len();
    assert!(len > 200);
    let url = f.url(&f.mirror.wheel_url);

    let head = f.client.head(&url).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    let h = head.headers();
    assert_eq!(header(h, "content-length"), len.to_string());
    assert_eq!(header(h, "accept-ranges"), "bytes");
    assert_eq!(header(h, "cache-control"), "max-age=31536000, immutable");
    assert_eq!(header(h, "content-type"), "application/octet-stream");
    assert!(!header(h, "last-modified").is_empty());
    let etag = header(h, "etag").to_string();
    assert!(etag.starts_with('"'));

    let ranged = |range: &'static str| {
        let req = f.client.get(&url).header("range", range);
        async move { req.send().await.unwrap() }
    };
    let r = ranged("bytes=0-99").await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header(r.headers(), "content-range"),
        format!("bytes 0-99/{len}")
    );
    assert_eq!(header(r.headers(), "content-length"), "100");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &wheel[..100]);

    let r = ranged("bytes=-100").await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header(r.headers(), "content-range"),
        format!("bytes {}-{}/{len}", len - 100, len - 1)
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), &wheel[len - 100..]);

    let r = ranged("bytes=100-").await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &wheel[100..]);

    // Multiple ranges: the whole file (RFC 9110 allows ignoring Range).
    let r = ranged("bytes=0-1,5-6").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().len(), len);

    let r = f
        .client
        .get(&url)
        .header("range", format!("bytes={len}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        header(r.headers(), "content-range"),
        format!("bytes */{len}")
    );

    // If-Range: failing → 200 full; matching ETag or date → 206.
    let r = f
        .client
        .get(&url)
        .header("range", "bytes=0-99")
        .header("if-range", "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().len(), len);
    let r = f
        .client
        .get(&url)
        .header("range", "bytes=0-99")
        .header("if-range", "Mon, 01 Jan 2001 00:00:00 GMT")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = f
        .client
        .get(&url)
        .header("range", "bytes=0-99")
        .header("if-range", etag.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    let last_modified = header(head.headers(), "last-modified").to_string();
    let r = f
        .client
        .get(&url)
        .header("range", "bytes=0-99")
        .header("if-range", last_modified.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);

    // Conditional GET.
    let r = f
        .client
        .get(&url)
        .header("if-none-match", etag.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);

    // HEAD of the .metadata file.
    let r = f
        .client
        .head(format!("{url}.metadata"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        header(r.headers(), "content-length"),
        METADATA.len().to_string()
    );
    assert_eq!(header(r.headers(), "accept-ranges"), "bytes");
    f.server.shutdown().await;
}

#[tokio::test]
async fn json_api_rewrites_file_urls() {
    let f = Fixture::start(|_| {}).await;
    let resp = f.get("/pypi/foo-bar/json", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(resp.headers(), "content-type"), "application/json");
    assert_eq!(header(resp.headers(), "x-pypi-last-serial"), "100");
    assert!(!header(resp.headers(), "etag").is_empty());
    let doc: Value = resp.json().await.unwrap();
    assert_eq!(doc["info"]["name"], "Foo.Bar");
    assert_eq!(
        doc["info"]["package_url"],
        "https://pypi.org/project/Foo.Bar/"
    );
    let base = f.url("/packages/");
    for file in doc["releases"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|v| v.as_array().unwrap())
        .chain(doc["urls"].as_array().unwrap())
    {
        let url = file["url"].as_str().unwrap();
        assert!(url.starts_with(&base), "{url} points at this server");
        let body = f
            .client
            .get(url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(file["digests"]["sha256"], sha256_hex(&body));
    }
    // The same over HTTP/1.1 (Host header instead of :authority).
    let h1 = client(&f.ca, f.addr, true);
    let doc: Value = h1
        .get(f.url("/pypi/foo-bar/json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["urls"][0]["url"].as_str().unwrap().starts_with(&base));

    // Per-version document.
    let v: Value = f
        .get("/pypi/foo-bar/0.9/json", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["urls"][0]["filename"], "foo_bar-0.9.tar.gz");
    assert!(v.get("releases").is_none());
    assert_eq!(
        f.get("/pypi/foo-bar/3.0/json", None).await.status(),
        StatusCode::NOT_FOUND
    );
    // web/json/<name> is used when web/pypi/<name>/json is absent.
    let resp = f.get("/pypi/plain/json", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(resp.headers(), "x-pypi-last-serial"), "50");
    f.server.shutdown().await;

    let f = Fixture::start(|o| o.public_url = Some("https://mirror.example/pypi/".into())).await;
    let doc: Value = f
        .get("/pypi/foo-bar/json", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        doc["urls"][0]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://mirror.example/pypi/packages/")
    );
    f.server.shutdown().await;
}

#[tokio::test]
async fn forbidden_paths_are_refused() {
    let f = Fixture::start(|_| {}).await;
    for target in [
        "/status",
        "/.lock",
        "/generation",
        "/todo",
        "/.vorpal/state.db",
        "/web/last-modified",
        "/packages/../status",
        "/packages/../../status",
        "/packages/%2e%2e/%2e%2e/status",
        "/packages/%2E%2E/%2E%2E/.vorpal/state.db",
        "/simple/../../status",
        "/simple/..%2f..%2fstatus/",
        "/simple/%2e%2e/",
        "/pypi/..%2F..%2Fstatus/json",
        "/packages/a%5c..%5c..%5cstatus",
        "/packages/x%00y",
        "/packages/aa/bb/.vorpal-tmp.abc",
        "/simple/foo-bar/.vorpal-tmp.1",
        "/packages/ee/ff/escape.whl",
        "/packages/aa/",
        "/packages/aa",
        "/packages/",
        "/.hidden",
        "/packages/../.hidden",
        "/simple/.vorpal/",
    ] {
        let (status, text) = f.raw(target, "").await;
        assert!(
            status == 400 || status == 404 || status == 301,
            "{target}: {status}\n{text}"
        );
        if status == 301 {
            // Only a normalising redirect, never content.
            assert!(text.contains("location: /simple/"), "{target}: {text}");
        }
        assert!(!text.contains("secret state") && !text.contains("partial"));
    }
    // The symlink exists and points outside web/: refused even though the target is a file.
    assert!(
        f.mirror
            .dir
            .path()
            .join("web/packages/ee/ff/escape.whl")
            .exists()
    );
    f.server.shutdown().await;
}

#[tokio::test]
async fn operational_endpoints() {
    let f = Fixture::start(|_| {}).await;
    let resp = f.get("/last-modified", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(header(resp.headers(), "content-type").starts_with("text/plain"));
    assert_eq!(resp.text().await.unwrap().trim(), "20240102T03:04:05");

    let resp = f.get("/health", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().await.unwrap().trim(), "ok");
    let v: Value = f
        .get("/health", Some("application/json"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["serial"], 100);
    assert_eq!(v["last_modified"], "20240102T03:04:05");

    // Traffic for several route classes, then the metrics must show it.
    f.get("/simple/", Some(JSON)).await.bytes().await.unwrap();
    f.get("/simple/foo-bar/", Some(JSON))
        .await
        .bytes()
        .await
        .unwrap();
    f.get(&f.mirror.wheel_url, None)
        .await
        .bytes()
        .await
        .unwrap();
    f.get(&format!("{}.metadata", f.mirror.wheel_url), None)
        .await
        .bytes()
        .await
        .unwrap();
    f.get("/pypi/foo-bar/json", None)
        .await
        .bytes()
        .await
        .unwrap();
    f.get("/simple/nope/", None).await.bytes().await.unwrap();
    let expected = [
        "vorpal_requests_total{route=\"simple_root\",status=\"200\"}",
        "vorpal_requests_total{route=\"simple_project\",status=\"200\"}",
        "vorpal_requests_total{route=\"simple_project\",status=\"404\"}",
        "vorpal_requests_total{route=\"packages\",status=\"200\"}",
        "vorpal_requests_total{route=\"metadata\",status=\"200\"}",
        "vorpal_requests_total{route=\"json_api\",status=\"200\"}",
        "# TYPE vorpal_request_duration_seconds histogram",
        "vorpal_request_duration_seconds_bucket{route=\"packages\",le=\"+Inf\"}",
        "vorpal_bytes_sent_total ",
        "vorpal_open_connections ",
        "vorpal_mirror_serial 100\n",
        "vorpal_mirror_last_sync_timestamp_seconds 1704164645\n",
    ];
    // A request is recorded when its body is dropped, just after the client has it:
    // poll until every line shows up.
    let mut text = String::new();
    for _ in 0..100 {
        let resp = f.get("/metrics", None).await;
        assert!(header(resp.headers(), "content-type").starts_with("text/plain"));
        text = resp.text().await.unwrap();
        if expected.iter().all(|e| text.contains(e)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for e in expected {
        assert!(text.contains(e), "missing {e:?} in\n{text}");
    }
    let bytes: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("vorpal_bytes_sent_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(bytes >= f.mirror.wheel.len() as u64);

    // XML-RPC without a handler: 501 with a message.
    let resp = f
        .client
        .post(f.url("/pypi"))
        .body("<x/>")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_IMPLEMENTED);
    assert!(resp.text().await.unwrap().contains("XML-RPC"));
    // Other methods on pages.
    let resp = f
        .client
        .request(Method::DELETE, f.url("/simple/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    f.server.shutdown().await;
}

struct Echo;

impl XmlRpcHandler for Echo {
    fn handle(
        &self,
        body: bytes::Bytes,
    ) -> futures::future::BoxFuture<'static, Result<String, String>> {
        Box::pin(async move {
            if body.is_empty() {
                Err("empty request".into())
            } else {
                Ok(format!(
                    "<?xml version=\"1.0\"?><methodResponse><params><param><value><int>{}</int></value></param></params></methodResponse>",
                    body.len()
                ))
            }
        })
    }
}

#[tokio::test]
async fn xmlrpc_extension_point() {
    let f = Fixture::start(|o| o.xmlrpc = Some(Arc::new(Echo))).await;
    for path in ["/pypi", "/RPC2"] {
        let resp = f
            .client
            .post(f.url(path))
            .header("content-type", "text/xml")
            .body("<methodCall/>")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(header(resp.headers(), "content-type").starts_with("text/xml"));
        assert!(resp.text().await.unwrap().contains("<int>13</int>"));
    }
    let resp = f.client.post(f.url("/pypi")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    f.server.shutdown().await;
}

#[tokio::test]
async fn http2_and_http1_over_tls() {
    let f = Fixture::start(|_| {}).await;
    let resp = f.get("/simple/", Some(JSON)).await;
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(resp.status(), StatusCode::OK);
    let h1 = client(&f.ca, f.addr, true);
    let resp = h1.get(f.url("/simple/")).send().await.unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_11);
    assert_eq!(resp.status(), StatusCode::OK);
    let mut hm = HeaderMap::new();
    hm.insert("accept", HeaderValue::from_static(PIP));
    let resp = h1
        .get(f.url("/simple/foo-bar/"))
        .headers(hm)
        .send()
        .await
        .unwrap();
    assert_eq!(media_type(&resp), JSON);
    f.server.shutdown().await;
}

#[tokio::test]
async fn symlinks_inside_web_are_followed_and_escapes_refused() {
    let f = Fixture::start(|_| {}).await;
    let root = f.mirror.dir.path().to_path_buf();
    let web = root.join("web");
    let wheel_rel = f
        .mirror
        .wheel_url
        .trim_start_matches("/packages/")
        .to_string();
    let (top, below) = wheel_rel.split_once('/').unwrap();
    let link = |to: &str, at: &str| std::os::unix::fs::symlink(to, web.join(at)).unwrap();
    let abs = |p: std::path::PathBuf| p.to_str().unwrap().to_string();
    link(&format!("../../{wheel_rel}"), "packages/ee/ff/rel.whl");
    link(
        &abs(web.join("packages").join(&wheel_rel)),
        "packages/ee/ff/abs.whl",
    );
    link(top, "packages/linked");
    link(&abs(web.join("packages").join(top)), "packages/abslinked");
    link("foo-bar", "simple/linked-project");
    link("../../../../status", "packages/ee/ff/rel-escape.whl");
    link("../..", "packages/up");
    link(&abs(root.clone()), "packages/absup");

    for path in [
        "/packages/ee/ff/rel.whl".to_string(),
        "/packages/ee/ff/abs.whl".to_string(),
        format!("/packages/linked/{below}"),
        format!("/packages/abslinked/{below}"),
    ] {
        let resp = f.get(&path, None).await;
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(resp.bytes().await.unwrap(), f.mirror.wheel, "{path}");
    }
    let json = "application/vnd.pypi.simple.v1+json";
    let direct = f.get("/simple/foo-bar/", Some(json)).await;
    let linked = f.get("/simple/linked-project/", Some(json)).await;
    assert_eq!(direct.status(), 200);
    assert_eq!(linked.status(), 200);
    assert_eq!(direct.bytes().await.unwrap(), linked.bytes().await.unwrap());

    for target in [
        "/packages/ee/ff/rel-escape.whl",
        "/packages/up/status",
        "/packages/absup/status",
    ] {
        let (status, text) = f.raw(target, "").await;
        assert_eq!(status, 404, "{target}: {text}");
    }
    f.server.shutdown().await;
}

#[tokio::test]
async fn a_page_replaced_by_rename_is_served_fresh() {
    let f = Fixture::start(|_| {}).await;
    let json = "application/vnd.pypi.simple.v1+json";
    let page = f.mirror.dir.path().join("web/simple/foo-bar/index.v1_json");
    let old = f
        .get("/simple/foo-bar/", Some(json))
        .await
        .bytes()
        .await
        .unwrap();
    // Served twice so it is certainly in the page cache.
    assert_eq!(
        f.get("/simple/foo-bar/", Some(json))
            .await
            .bytes()
            .await
            .unwrap(),
        old
    );

    let new = r#"{"meta":{"api-version":"1.1","_last-serial":999},"name":"foo-bar","versions":[],"files":[]}"#;
    let tmp = page.with_file_name(".vorpal-tmp.fresh");
    write(&tmp, new);
    std::fs::rename(&tmp, &page).unwrap();
    // Revalidation happens within about a second; allow a generous bound on a busy machine.
    let mut seen = Vec::new();
    for _ in 0..100 {
        let resp = f.get("/simple/foo-bar/", Some(json)).await;
        let serial = header(resp.headers(), "x-pypi-last-serial").to_string();
        seen = resp.bytes().await.unwrap().to_vec();
        if seen == new.as_bytes() {
            assert_eq!(serial, "999");
            break;
        }
        assert_eq!(seen, old, "only the old or the new page, never a mix");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(String::from_utf8_lossy(&seen), new);
    f.server.shutdown().await;
}

#[tokio::test]
async fn a_cached_file_replaced_or_deleted_is_noticed_within_a_second() {
    let f = Fixture::start(|_| {}).await;
    let url = f.mirror.wheel_url.clone();
    let path = f
        .mirror
        .dir
        .path()
        .join("web")
        .join(url.trim_start_matches('/'));
    let first = f.get(&url, None).await;
    let etag = header(first.headers(), "etag").to_string();
    assert_eq!(first.bytes().await.unwrap(), f.mirror.wheel);
    // Served again from memory: the same validators and bytes.
    let again = f.get(&url, None).await;
    assert_eq!(header(again.headers(), "etag"), etag);
    let ranged = f.client.get(f.url(&url)).header("range", "bytes=10-19");
    let ranged = ranged.send().await.unwrap();
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(ranged.bytes().await.unwrap(), f.mirror.wheel[10..20]);

    // Replaced by rename (new inode): the new bytes within about a second.
    let tmp = path.with_file_name(".vorpal-tmp.replacement");
    write(&tmp, b"replacement bytes");
    std::fs::rename(&tmp, &path).unwrap();
    let mut seen = Vec::new();
    for _ in 0..50 {
        let resp = f.get(&url, None).await;
        seen = resp.bytes().await.unwrap().to_vec();
        if seen == b"replacement bytes" {
            break;
        }
        assert_eq!(seen, f.mirror.wheel, "only the old or the new bytes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, b"replacement bytes");

    // Deleted: 404 within about a second.
    std::fs::remove_file(&path).unwrap();
    let mut status = StatusCode::OK;
    for _ in 0..50 {
        status = f.get(&url, None).await.status();
        if status == StatusCode::NOT_FOUND {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, StatusCode::NOT_FOUND);
    f.server.shutdown().await;
}
