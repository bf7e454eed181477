use std::collections::BTreeMap;

use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use super::*;

const SHA_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const SHA_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const SHA_M: &str = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

fn hashes(sha: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("sha256".to_string(), sha.to_string())])
}

fn sample() -> Project {
    Project {
        name: "foo-bar".into(),
        display_name: "Foo.Bar".into(),
        last_serial: 4242,
        files: vec![
            DistFile {
                filename: "foo_bar-1.0-py3-none-any.whl".into(),
                url: "https://files.example/packages/aa/bb/foo_bar-1.0-py3-none-any.whl".into(),
                hashes: hashes(SHA_A),
                requires_python: Some(">=3.8, <4".into()),
                core_metadata: Some(CoreMetadata {
                    hashes: hashes(SHA_M),
                }),
                yanked: Yanked::Yes(Some("broken \"build\" & <more>".into())),
                provenance: Some("https://files.example/integrity/foo-bar/1.0/prov".into()),
                ..Default::default()
            },
            DistFile {
                filename: "foo.bar-0.9 +local.tar.gz".into(),
                url: "https://files.example/packages/cc/dd/foo.bar-0.9 +local.tar.gz".into(),
                hashes: hashes(SHA_B),
                yanked: Yanked::Yes(None),
                core_metadata: Some(CoreMetadata::default()),
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

/// bandersnatch-style relative link with a percent-encoded filename.
fn rel_href(f: &DistFile) -> String {
    format!(
        "../../packages/xx/{}",
        utf8_percent_encode(&f.filename, NON_ALPHANUMERIC)
    )
}

fn anchors(html: &str) -> Vec<(Vec<(String, String)>, String)> {
    scan(html)
        .into_iter()
        .filter_map(|t| match t {
            Tag::Anchor(a, text) => Some((a, text)),
            Tag::Meta(_) => None,
        })
        .collect()
}

#[test]
fn doctype_meta_title_and_serial() {
    let html = render_project_html(&sample(), &rel_href);
    assert!(html.starts_with("<!DOCTYPE html>\n"));
    assert!(html.contains(r#"<meta name="pypi:repository-version" content="1.4">"#));
    assert!(html.contains("<title>Links for Foo.Bar</title>"));
    assert!(html.contains("<h1>Links for Foo.Bar</h1>"));
    assert!(html.ends_with("</body>\n</html>\n<!--SERIAL 4242-->"));
    assert_eq!(html_serial(&html), Some(4242));
    assert!(!html.contains("project-status"));
}

#[test]
fn anchors_sorted_text_matches_href_and_escaped() {
    let html = render_project_html(&sample(), &rel_href);
    let a = anchors(&html);
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].1, "foo.bar-0.9 +local.tar.gz");
    assert_eq!(a[1].1, "foo_bar-1.0-py3-none-any.whl");
    for (attrs, text) in &a {
        let href = attr(attrs, "href").unwrap();
        let (path, frag) = href.split_once('#').unwrap();
        let last = path.rsplit('/').next().unwrap();
        assert_eq!(&percent_decode_str(last).decode_utf8().unwrap(), text);
        assert!(frag.starts_with("sha256="));
        assert_eq!(
            attr(attrs, "data-core-metadata"),
            attr(attrs, "data-dist-info-metadata"),
            "twin attributes must be equal"
        );
    }
    assert!(html.contains(r#"data-requires-python="&gt;=3.8, &lt;4""#));
    assert!(html.contains(r#"data-yanked="broken &quot;build&quot; &amp; &lt;more&gt;""#));
    assert!(html.contains(&format!(r#"data-core-metadata="sha256={SHA_M}""#)));
    assert!(html.contains(r#"data-dist-info-metadata="true" data-core-metadata="true""#));
    assert!(html.contains(r#"data-yanked="""#));
    assert!(html.contains("</a><br />\n"));
    assert!(
        !html.contains("<4"),
        "raw < must never appear in attributes"
    );
}

#[test]
fn not_yanked_has_no_attribute() {
    let mut p = sample();
    for f in &mut p.files {
        f.yanked = Yanked::No;
        f.core_metadata = None;
    }
    let html = render_project_html(&p, &rel_href);
    assert!(!html.contains("data-yanked"));
    assert!(!html.contains("data-core-metadata"));
    assert!(!html.contains("data-dist-info-metadata"));
}

#[test]
fn project_status_and_quarantine() {
    let mut p = sample();
    p.status = Some(ProjectStatus {
        status: "archived".into(),
        reason: Some("moved to <bar>".into()),
    });
    let html = render_project_html(&p, &rel_href);
    assert!(html.contains(r#"<meta name="pypi:project-status" content="archived">"#));
    assert!(
        html.contains(r#"<meta name="pypi:project-status-reason" content="moved to &lt;bar&gt;">"#)
    );
    assert_eq!(html_project_status(&html), p.status);
    assert_eq!(anchors(&html).len(), 2);

    p.status = Some(ProjectStatus {
        status: "quarantined".into(),
        reason: None,
    });
    let html = render_project_html(&p, &rel_href);
    assert!(anchors(&html).is_empty());
    assert!(!html.contains("project-status-reason"));
    assert_eq!(html_project_status(&html).unwrap().status, "quarantined");
}

#[test]
fn round_trip_render_parse() {
    let p = sample();
    let page = Url::parse("https://mirror.example/simple/foo-bar/").unwrap();
    let html = render_project_html(&p, &rel_href);
    let got = parse_project_html(&html, &page).unwrap();
    let mut want = p.files.clone();
    want.sort_by(|a, b| a.filename.cmp(&b.filename));
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.filename, w.filename);
        assert_eq!(g.hashes, w.hashes);
        assert_eq!(g.requires_python, w.requires_python);
        assert_eq!(g.yanked, w.yanked);
        assert_eq!(g.core_metadata, w.core_metadata);
        assert_eq!(g.provenance, w.provenance);
        let expect_url = page.join(&rel_href(w)).unwrap();
        assert_eq!(g.url, expect_url.as_str());
        assert!(g.url.starts_with("https://mirror.example/packages/xx/"));
    }
    assert_eq!(got[0].version.as_deref(), Some("0.9 +local"));
    assert_eq!(got[1].version.as_deref(), Some("1.0"));
}

#[test]
fn parses_pypi_style_page() {
    let html = r#"<!DOCTYPE html>
<html>
  <head>
    <meta name="pypi:repository-version" content="1.4">
    <title>Links for six</title>
  </head>
  <body>
    <h1>Links for six</h1>
<!-- <a href="/ignored.whl">ignored.whl</a> -->
<a href="https://files.pythonhosted.org/packages/d9/5a/six-1.17.0-py2.py3-none-any.whl#sha256=4721F391ED90541FDDACAB5ACF947AA0D3DC7D27B2E1E8EDA2BE8970586C3274" data-requires-python="!=3.0.*,&gt;=2.7" data-dist-info-metadata="sha256=ABC" data-core-metadata="sha256=abc">six-1.17.0-py2.py3-none-any.whl</a><br />
<A HREF=../../packages/six-1.0.tar.gz data-yanked>six-1.0.tar.gz</A>
<a href='/packages/x/six-0.9.zip#md5=00ff' data-yanked='bad &#39;release&#x27; &amp;&unknown; &#0;'>  <span>six-0.9.zip</span> </a>
<a name="no-href">not a file</a>
  </body>
</html>
<!--SERIAL 27463411-->"#;
    let page = Url::parse("https://pypi.org/simple/six/").unwrap();
    let files = parse_project_html(html, &page).unwrap();
    assert_eq!(files.len(), 3);
    let w = &files[0];
    assert_eq!(w.filename, "six-1.17.0-py2.py3-none-any.whl");
    assert_eq!(
        w.url,
        "https://files.pythonhosted.org/packages/d9/5a/six-1.17.0-py2.py3-none-any.whl"
    );
    assert_eq!(
        w.sha256(),
        Some("4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274")
    );
    assert_eq!(w.requires_python.as_deref(), Some("!=3.0.*,>=2.7"));
    assert_eq!(w.core_metadata.as_ref().unwrap().hashes["sha256"], "abc");
    assert_eq!(w.yanked, Yanked::No);
    assert_eq!(w.version.as_deref(), Some("1.17.0"));
    assert_eq!(files[1].url, "https://pypi.org/packages/six-1.0.tar.gz");
    assert_eq!(files[1].yanked, Yanked::Yes(None));
    assert_eq!(files[1].version.as_deref(), Some("1.0"));
    assert_eq!(files[2].filename, "six-0.9.zip");
    assert_eq!(files[2].hashes["md5"], "00ff");
    assert_eq!(
        files[2].yanked,
        Yanked::Yes(Some("bad 'release' &&unknown; \u{FFFD}".into()))
    );
    assert_eq!(html_serial(html), Some(27463411));
}

#[test]
fn falls_back_to_href_segment_when_text_empty() {
    let page = Url::parse("https://x.example/simple/foo/index.html").unwrap();
    let files = parse_project_html(r#"<a href="/p/foo-1.0%2Blocal.tar.gz"></a>"#, &page).unwrap();
    assert_eq!(files[0].filename, "foo-1.0+local.tar.gz");
    assert_eq!(files[0].version.as_deref(), Some("1.0+local"));
}

#[test]
fn rejects_unsafe_filenames_and_bad_links() {
    let page = Url::parse("https://x.example/simple/foo/").unwrap();
    for text in ["../etc/passwd", "..", "a\\b", "a&#0;b/"] {
        let html = format!(r#"<a href="/f">{text}</a>"#);
        let err = parse_project_html(&html, &page).unwrap_err();
        assert!(
            matches!(err, IndexError::InvalidFilename { .. }),
            "{text}: {err}"
        );
        assert!(err.to_string().contains("https://x.example/simple/foo/"));
    }
    let err = parse_project_html(r#"<a href="http://[::1">f.whl</a>"#, &page).unwrap_err();
    assert!(matches!(err, IndexError::BadUrl { .. }), "{err}");
}

#[test]
fn serial_absent_or_garbage() {
    assert_eq!(html_serial("<html></html>"), None);
    assert_eq!(html_serial("<!--SERIAL abc-->"), None);
    assert_eq!(html_serial("<!--SERIAL 1--><!--SERIAL 2-->"), Some(2));
    assert_eq!(html_serial("<!--SERIAL 7"), None);
}

#[test]
fn tolerates_truncated_markup() {
    let page = Url::parse("https://x.example/simple/foo/").unwrap();
    for html in [
        "<",
        "<a",
        "<a href=",
        "<a href=\"x",
        "<!--",
        "<a href=x>foo",
        "&#xZZ;<",
    ] {
        let _ = parse_project_html(html, &page);
    }
    let files = parse_project_html("<a href=x>foo-1.0.zip", &page).unwrap();
    assert_eq!(files[0].filename, "foo-1.0.zip");
    // An unclosed anchor ends at the next one; <abbr> inside text is not a closer.
    let html = "<a href=1>foo-1.0.zip<br><A href=2>foo-<abbr>2.0</abbr>.zip</a>";
    let files = parse_project_html(html, &page).unwrap();
    let names: Vec<&str> = files.iter().map(|f| f.filename.as_str()).collect();
    assert_eq!(names, ["foo-1.0.zip", "foo-2.0.zip"]);
}

#[test]
fn root_page() {
    let projects = [
        RootEntry {
            name: "zope-interface",
            display: "zope.interface",
            serial: 7,
        },
        RootEntry {
            name: "a-b",
            display: "A_B",
            serial: 3,
        },
    ];
    let html = render_root_html(&projects, "");
    assert!(html.starts_with("<!DOCTYPE html>\n"));
    assert!(html.contains(r#"<meta name="pypi:repository-version" content="1.4">"#));
    let a = html.find(r#"<a href="a-b/">A_B</a><br/>"#).unwrap();
    let z = html
        .find(r#"<a href="zope-interface/">zope.interface</a><br/>"#)
        .unwrap();
    assert!(a < z);
    let html = render_root_html(&projects, "/simple/");
    assert!(html.contains(r#"<a href="/simple/a-b/">A_B</a><br/>"#));
}

#[test]
fn entities() {
    assert_eq!(
        decode_entities("a&amp;b&lt;&gt;&quot;&apos;&#65;&#x42;&nbsp;"),
        "a&b<>\"'AB\u{A0}"
    );
    assert_eq!(decode_entities("?a=1&b=2"), "?a=1&b=2");
    assert_eq!(decode_entities("&#x110000;&"), "\u{FFFD}&");
    assert_eq!(
        escape("<a href=\"x\">&'"),
        "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;"
    );
}
