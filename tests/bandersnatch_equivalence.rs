//! vorpal as a drop-in for bandersnatch: one fake upstream, one `bandersnatch.conf`
//! with several filters, mirrored by vorpal and by the real bandersnatch (6.8.0 from
//! the test venv) into two directories; the release files (paths and hashes) and the
//! links of every project page must be the same.
//!
//! Deliberate differences, not compared here:
//! - Core metadata (PEP 658/714): vorpal downloads `<wheel>.metadata` and advertises
//!   it with `data-core-metadata` and `data-dist-info-metadata`, as bandersnatch 8
//!   does; bandersnatch 6.8 does neither. The test asserts vorpal's side of it.
//! - Page text around the links: vorpal writes the current simple-API version in the
//!   `pypi:repository-version` meta tag, a display name in the title, PEP 792 status
//!   meta tags when upstream has them, and `<br />`-style markup of its own;
//!   bandersnatch 6.8 writes `1.0`, the name it was asked for, and no status. Pages
//!   are compared link by link after HTML unescaping, not byte by byte.
//! - Trailing `<!--SERIAL n-->`: both write the project's serial; not compared, since
//!   it is not a link.
//! - JSON pages (`index.v1_json`): vorpal writes PEP 691 1.x with `_last-serial` as a
//!   number, `yanked` as the reason string, `core-metadata`, and root entries with
//!   `_last-serial`; bandersnatch 6.8 writes `_last-serial` as a string, drops yank
//!   reasons, and sorts `versions` as strings. Only the HTML pages are compared.
//! - Root index: both link `<normalized>/` for every mirrored project (compared); the
//!   anchor text is vorpal's display name and bandersnatch's directory name, and
//!   bandersnatch writes the serial it started from in the root JSON, vorpal the one
//!   it reached.
//! - `latest_release` next to other release filters: bandersnatch 6.8 evaluates it
//!   while deleting versions from the same dict, so its result depends on dict order
//!   when another filter removes one of the newest `keep` versions; vorpal applies it
//!   last, over the versions the other filters kept. The data here keeps the filtered
//!   versions out of the newest `keep`, where both agree (a unit test in
//!   src/sync/filters covers vorpal's rule).
//! - Files no page links any more (a release that a filter or upstream dropped): vorpal
//!   deletes them in the same run; bandersnatch 6.8 leaves them on disk until
//!   `bandersnatch verify --delete`. After an incremental run the test requires
//!   vorpal's tree to be exactly the linked files and bandersnatch's to contain them.
//! - Projects deleted upstream: vorpal removes their pages and files (PEP 381;
//!   `keep-deleted = true` opts out); bandersnatch 6.8 keeps them.
//! - A project added to `[allowlist] packages` is fetched by vorpal's next normal sync
//!   (it compares per-project serials with its state); bandersnatch 6.8 only fetches
//!   projects whose serial moved past its `status`, so it needs `--force-check`.
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use support::bandersnatch;
use support::mirror::{TestMirror, snapshot};
use support::tools;
use support::upstream::{FakeUpstream, FileSpec, ProjectSpec, ReleaseSpec, UpstreamOptions};

/// One link of a project page, attribute values unescaped.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Link {
    filename: String,
    /// The href's path after `packages/`, without the fragment.
    path: String,
    sha256: String,
    requires_python: Option<String>,
    yanked: Option<String>,
}

/// A project page's links plus vorpal's core-metadata attributes (kept apart).
#[derive(Debug, Default)]
struct Page {
    links: Vec<Link>,
    core_metadata: BTreeMap<String, (Option<String>, Option<String>)>,
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn parse_page(html: &str) -> Page {
    let anchor = regex::Regex::new(r"<a\s+([^>]*)>([^<]*)</a>").unwrap();
    let attr = regex::Regex::new(r#"([A-Za-z0-9_-]+)="([^"]*)""#).unwrap();
    let mut page = Page::default();
    for a in anchor.captures_iter(html) {
        let attrs: BTreeMap<String, String> = attr
            .captures_iter(&a[1])
            .map(|c| (c[1].to_string(), unescape(&c[2])))
            .collect();
        let href = attrs.get("href").cloned().unwrap_or_default();
        let (url, fragment) = href.split_once('#').unwrap_or((&href, ""));
        let path = url
            .split_once("packages/")
            .map(|(_, p)| p.to_string())
            .unwrap_or_else(|| panic!("link outside packages/: {href}"));
        let filename = unescape(&a[2]);
        page.core_metadata.insert(
            filename.clone(),
            (
                attrs.get("data-core-metadata").cloned(),
                attrs.get("data-dist-info-metadata").cloned(),
            ),
        );
        page.links.push(Link {
            filename,
            path,
            sha256: fragment.strip_prefix("sha256=").unwrap_or(fragment).into(),
            requires_python: attrs.get("data-requires-python").cloned(),
            yanked: attrs.get("data-yanked").cloned(),
        });
    }
    page
}

/// Every `web/simple/<name>/index.html`, parsed.
fn project_pages(web: &Path) -> BTreeMap<String, Page> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(web.join("simple")).unwrap().flatten() {
        let page = e.path().join("index.html");
        if page.is_file() {
            let name = e.file_name().to_string_lossy().into_owned();
            out.insert(name, parse_page(&std::fs::read_to_string(page).unwrap()));
        }
    }
    out
}

/// The hrefs of the root index.
fn root_hrefs(web: &Path) -> BTreeSet<String> {
    let html = std::fs::read_to_string(web.join("simple/index.html")).unwrap();
    let href = regex::Regex::new(r#"href="([^"]*)""#).unwrap();
    href.captures_iter(&html)
        .map(|c| c[1].to_string())
        .collect()
}

/// Release files under `web/packages` → sha256, `.metadata` files apart.
fn release_files(web: &Path) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    snapshot(web)
        .into_iter()
        .filter(|(k, _)| k.starts_with("packages/"))
        .partition(|(k, _)| !k.ends_with(".metadata"))
}

/// One upstream that exercises every filter of both configurations below.
async fn upstream() -> FakeUpstream {
    let fake = FakeUpstream::start(UpstreamOptions::default()).await;
    let three = || {
        vec![
            FileSpec::wheel_tagged("cp311", "cp311", "win_amd64"),
            FileSpec::wheel().requires_python(">=3.8, <4"),
            FileSpec::sdist(),
        ]
    };
    fake.add_project_with(
        "Foo.Bar",
        ProjectSpec {
            releases: ["0.9b1", "1.0", "1.1", "2.0"]
                .iter()
                .map(|v| ReleaseSpec::with_files(v, three()))
                .collect(),
        },
    );
    fake.add_project("six", &["1.14.0", "1.15.0", "1.16.0"]);
    fake.yank("six", "1.16.0", Some("broken <build> & \"quoted\""));
    fake.add_project("blocked-pkg", &["1.0"]);
    fake.add_project_with(
        "web_app",
        ProjectSpec {
            releases: vec![
                ReleaseSpec::with_files(
                    "1.0",
                    vec![
                        FileSpec::wheel_tagged("cp311", "cp311", "manylinux2014_x86_64"),
                        FileSpec::sdist(),
                    ],
                ),
                ReleaseSpec::with_files("1.5", vec![FileSpec::sdist()]),
                // Only a Windows wheel: exclude_platform empties it, so it is dropped,
                // yet it is upstream's info.version, which latest_release keeps.
                ReleaseSpec::with_files(
                    "2.0",
                    vec![FileSpec::wheel_tagged("cp311", "cp311", "win32")],
                ),
            ],
        },
    );
    fake.add_project("nightly", &["1.0.dev1", "1.0a2"]);
    fake.add_project("Old_Thing", &["1.0", "1.0.post1"]);
    fake
}

const BLOCKLISTS: &str = "\
[plugins]
enabled =
    blocklist_project
    blocklist_release
    prerelease_release
    exclude_platform
    latest_release

[blocklist]
packages =
    blocked-pkg
    six<1.15
platforms =
    windows

[latest_release]
keep = 2
";

const ALLOWLISTS: &str = "\
[plugins]
enabled =
    allowlist_project
    allowlist_release
    regex_release

[allowlist]
packages =
    Foo.Bar>=1.1
    six
    web-app
    old_thing

[filter_regex]
releases =
    .+\\.post\\d+
";

/// The same `bandersnatch.conf` (but `directory`) mirrored by both tools.
struct Pair {
    exe: std::path::PathBuf,
    dir: tempfile::TempDir,
    b_conf: std::path::PathBuf,
    vorpal: TestMirror,
}

impl Pair {
    /// `None` when bandersnatch is not installed (outside CI).
    fn new(fake: &FakeUpstream, api_method: &str, filters: &str) -> Option<Pair> {
        let exe = tools::bandersnatch()?;
        let dir = tempfile::tempdir().unwrap();
        let b_conf = dir.path().join("bandersnatch.conf");
        let b_root = dir.path().join("bandersnatch");
        std::fs::write(
            &b_conf,
            bandersnatch::conf_text(fake, &b_root, api_method, filters),
        )
        .unwrap();
        let v_root = dir.path().join("vorpal");
        let v_text = bandersnatch::conf_text(fake, &v_root, api_method, filters);
        let config = bandersnatch::vorpal_config(&v_text, &dir.path().join("vorpal.conf"), fake);
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        let vorpal = TestMirror {
            config,
            dir: tempfile::tempdir().unwrap(),
        };
        Some(Pair {
            exe,
            dir,
            b_conf,
            vorpal,
        })
    }

    /// A normal `mirror` run of each; returns bandersnatch's log.
    async fn sync(&self, fake: &FakeUpstream) -> String {
        let run = bandersnatch::mirror(&self.exe, &self.b_conf, fake).await;
        assert!(run.success, "{}", run.output);
        self.vorpal.sync().await;
        run.output
    }

    fn b_web(&self) -> std::path::PathBuf {
        self.dir.path().join("bandersnatch/web")
    }

    fn v_web(&self) -> std::path::PathBuf {
        self.vorpal.web("")
    }

    /// Compare both trees. bandersnatch 6.8 never deletes a release file, so after an
    /// incremental run (`all_files = false`) its tree may hold files no page links any
    /// more; vorpal's must still be exactly the linked ones. Returns vorpal's pages.
    fn compare(&self, log: &str, all_files: bool) -> BTreeMap<String, Page> {
        let (b_web, v_web) = (self.b_web(), self.v_web());
        let (b_files, b_meta) = release_files(&b_web);
        let (v_files, v_meta) = release_files(&v_web);
        assert!(!b_files.is_empty(), "{log}");
        assert!(b_meta.is_empty(), "bandersnatch 6.8 fetches no .metadata");
        assert_eq!(root_hrefs(&v_web), root_hrefs(&b_web), "root index\n{log}");

        let b_pages = project_pages(&b_web);
        let v_pages = project_pages(&v_web);
        assert_eq!(
            v_pages.keys().collect::<Vec<_>>(),
            b_pages.keys().collect::<Vec<_>>(),
            "project pages differ\n{log}"
        );
        let mut linked = BTreeMap::new();
        for (name, b) in &b_pages {
            let v = &v_pages[name];
            assert_eq!(v.links, b.links, "links of {name} differ\n{log}");
            for link in &v.links {
                linked.insert(format!("packages/{}", link.path), link.sha256.clone());
                // vorpal's addition: every wheel's core metadata, served beside it.
                let (core, dist_info) = &v.core_metadata[&link.filename];
                if link.filename.ends_with(".whl") {
                    let sha = v_meta
                        .get(&format!("packages/{}.metadata", link.path))
                        .unwrap_or_else(|| panic!("no .metadata for {}", link.filename));
                    assert_eq!(core.as_deref(), Some(format!("sha256={sha}").as_str()));
                    assert_eq!(core, dist_info);
                } else {
                    assert_eq!((core, dist_info), (&None, &None), "{}", link.filename);
                }
            }
        }
        assert_eq!(v_files, linked, "vorpal holds exactly the linked files");
        if all_files {
            assert_eq!(v_files, b_files, "release files differ\n{log}");
        } else {
            for (path, sha) in &linked {
                assert_eq!(b_files.get(path), Some(sha), "bandersnatch lacks {path}");
            }
        }
        v_pages
    }
}

/// Mirror `fake` with `filters` by both tools, with both api-methods, and compare;
/// returns vorpal's pages (of the last run) for scenario checks.
async fn both(fake: &FakeUpstream, filters: &str) -> Option<BTreeMap<String, Page>> {
    let mut pages = None;
    for api in ["simple", "xmlrpc"] {
        let pair = Pair::new(fake, api, filters)?;
        let log = pair.sync(fake).await;
        pages = Some(pair.compare(&log, true));
    }
    pages
}

fn versions(page: &Page) -> BTreeSet<String> {
    page.links
        .iter()
        .map(|l| {
            let stem = l
                .filename
                .trim_end_matches(".tar.gz")
                .trim_end_matches(".whl");
            stem.split('-').nth(1).unwrap_or_default().to_string()
        })
        .collect()
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn blocklists_prereleases_platforms_and_latest_match_bandersnatch() {
    let fake = upstream().await;
    let Some(pages) = both(&fake, BLOCKLISTS).await else {
        return;
    };
    // The agreement is about the intended result, not a shared mistake.
    assert!(!pages.contains_key("blocked-pkg"));
    assert_eq!(versions(&pages["foo-bar"]), set(&["1.1", "2.0"]));
    assert!(
        pages["foo-bar"]
            .links
            .iter()
            .all(|l| !l.filename.contains("win_amd64"))
    );
    assert_eq!(versions(&pages["six"]), set(&["1.15.0", "1.16.0"]));
    assert!(
        pages["six"]
            .links
            .iter()
            .any(|l| l.yanked.as_deref() == Some("broken <build> & \"quoted\""))
    );
    assert_eq!(versions(&pages["web-app"]), set(&["1.5"]));
    assert!(pages["nightly"].links.is_empty());
    assert_eq!(versions(&pages["old-thing"]), set(&["1.0", "1.0.post1"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn allowlists_and_regex_release_match_bandersnatch() {
    let fake = upstream().await;
    let Some(pages) = both(&fake, ALLOWLISTS).await else {
        return;
    };
    assert_eq!(
        pages.keys().map(String::as_str).collect::<Vec<_>>(),
        ["foo-bar", "old-thing", "six", "web-app"]
    );
    assert_eq!(versions(&pages["foo-bar"]), set(&["1.1", "2.0"]));
    assert_eq!(pages["foo-bar"].links.len(), 6, "Windows wheels kept here");
    assert_eq!(
        versions(&pages["six"]),
        set(&["1.14.0", "1.15.0", "1.16.0"])
    );
    assert_eq!(versions(&pages["old-thing"]), set(&["1.0"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn incremental_runs_follow_upstream_changes_like_bandersnatch() {
    for api in ["simple", "xmlrpc"] {
        let fake = upstream().await;
        let Some(pair) = Pair::new(&fake, api, BLOCKLISTS) else {
            return;
        };
        let log = pair.sync(&fake).await;
        pair.compare(&log, true);

        fake.add_release_with(
            "Foo.Bar",
            ReleaseSpec::with_files(
                "3.0",
                vec![
                    FileSpec::wheel_tagged("cp312", "cp312", "win_amd64"),
                    FileSpec::wheel(),
                    FileSpec::sdist(),
                ],
            ),
        );
        fake.unyank("six", "1.16.0");
        fake.yank("six", "1.15.0", None);
        fake.add_file("web_app", "1.5", FileSpec::wheel());
        fake.remove_release("Old_Thing", "1.0.post1");
        fake.add_project("Newcomer", &["0.1"]);
        let log = pair.sync(&fake).await;
        let pages = pair.compare(&log, false);

        assert_eq!(versions(&pages["foo-bar"]), set(&["2.0", "3.0"]), "{api}");
        let six = &pages["six"];
        assert!(
            six.links
                .iter()
                .all(|l| l.yanked.is_some() == l.filename.contains("1.15.0")),
            "{six:?}"
        );
        assert_eq!(pages["web-app"].links.len(), 2);
        assert_eq!(versions(&pages["old-thing"]), set(&["1.0"]));
        assert!(pages.contains_key("newcomer"));
        // Foo.Bar 1.1 fell out of latest_release: vorpal deletes its files,
        // bandersnatch 6.8 leaves them for `verify --delete`.
        let old = |web: &Path| {
            release_files(web)
                .0
                .keys()
                .filter(|k| k.ends_with("foo_bar-1.1.tar.gz"))
                .count()
        };
        assert_eq!((old(&pair.v_web()), old(&pair.b_web())), (0, 1), "{api}");
    }
}
