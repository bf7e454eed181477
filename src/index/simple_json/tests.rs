use super::*;
use crate::index::versions::is_normal_upload_time;
use serde_json::json;

const SHA_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const SHA_M: &str = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

fn hashes(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn sample() -> Project {
    Project {
        name: "foo-bar".into(),
        display_name: "Foo.Bar".into(),
        last_serial: 99,
        versions: vec!["0.1".into()],
        files: vec![
            DistFile {
                filename: "foo_bar-1.10-py3-none-any.whl".into(),
                url: "https://up.example/f/foo_bar-1.10-py3-none-any.whl".into(),
                hashes: hashes(&[("sha256", SHA_A), ("blake2b_256", "dd"), ("md5", "ee")]),
                requires_python: Some(">=3.8".into()),
                size: Some(1234),
                upload_time: Some("2024-01-02T03:04:05+00:00".into()),
                yanked: Yanked::Yes(Some("security".into())),
                core_metadata: Some(CoreMetadata {
                    hashes: hashes(&[("sha256", SHA_M)]),
                }),
                provenance: Some("https://up.example/prov".into()),
                version: Some("1.10".into()),
                ..Default::default()
            },
            DistFile {
                filename: "foo.bar-1.9.tar.gz".into(),
                url: "https://up.example/f/foo.bar-1.9.tar.gz".into(),
                hashes: hashes(&[("sha256", SHA_A)]),
                size: Some(10),
                upload_time: Some("not a time".into()),
                yanked: Yanked::Yes(Some(String::new())),
                core_metadata: Some(CoreMetadata::default()),
                ..Default::default()
            },
            DistFile {
                filename: "foo_bar-2.0a1-py3-none-any.whl".into(),
                url: "https://up.example/f/foo_bar-2.0a1-py3-none-any.whl".into(),
                hashes: hashes(&[("sha256", SHA_A)]),
                upload_time: Some("2024-01-02T03:04:05.123456Z".into()),
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

fn local_url(f: &DistFile) -> String {
    format!("../../packages/{}", f.filename)
}

fn render(p: &Project) -> Value {
    serde_json::from_str(&render_project_json(p, &local_url)).unwrap()
}

#[test]
fn detail_keys_and_types() {
    let v = render(&sample());
    assert_eq!(v["meta"]["api-version"], "1.4");
    assert!(v["meta"]["_last-serial"].is_u64());
    assert_eq!(v["meta"]["_last-serial"], 99);
    assert_eq!(v["name"], "foo-bar");
    assert_eq!(
        v["versions"],
        serde_json::json!(["0.1", "1.9", "1.10", "2.0a1"])
    );
    let files = v["files"].as_array().unwrap();
    let names: Vec<&str> = files
        .iter()
        .map(|f| f["filename"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "foo.bar-1.9.tar.gz",
            "foo_bar-1.10-py3-none-any.whl",
            "foo_bar-2.0a1-py3-none-any.whl"
        ]
    );
    let sdist = &files[0];
    assert_eq!(
        sdist["yanked"], true,
        "empty reason must become true, never \"\""
    );
    assert_eq!(sdist["core-metadata"], true);
    assert!(
        sdist.get("upload-time").is_none(),
        "unparsable time is omitted"
    );
    assert!(sdist.get("requires-python").is_none());
    assert_eq!(sdist["url"], "../../packages/foo.bar-1.9.tar.gz");
    let whl = &files[1];
    assert_eq!(whl["yanked"], "security");
    assert_eq!(whl["core-metadata"], serde_json::json!({"sha256": SHA_M}));
    assert_eq!(whl["hashes"], serde_json::json!({"sha256": SHA_A}));
    assert_eq!(whl["requires-python"], ">=3.8");
    assert_eq!(whl["size"], 1234);
    assert_eq!(whl["upload-time"], "2024-01-02T03:04:05Z");
    assert_eq!(whl["provenance"], "https://up.example/prov");
    assert_eq!(files[2]["yanked"], false);
    assert_eq!(files[2]["core-metadata"], false);
    assert!(files[2].get("size").is_none());
    for f in files {
        if let Some(t) = f.get("upload-time") {
            assert!(is_normal_upload_time(t.as_str().unwrap()), "{t}");
        }
        assert!(f["yanked"].is_boolean() || !f["yanked"].as_str().unwrap().is_empty());
        assert!(f.get("dist-info-metadata").is_none());
        assert!(f.get("data-dist-info-metadata").is_none());
    }
    let text = render_project_json(&sample(), &local_url);
    assert!(!text.contains("dist-info-metadata"));
    assert!(v.get("project-status").is_none());
}

#[test]
fn status_and_quarantine() {
    let mut p = sample();
    p.status = Some(ProjectStatus {
        status: "deprecated".into(),
        reason: Some("use baz".into()),
    });
    let v = render(&p);
    assert_eq!(
        v["project-status"],
        serde_json::json!({"status": "deprecated", "reason": "use baz"})
    );
    assert_eq!(v["files"].as_array().unwrap().len(), 3);
    p.status = Some(ProjectStatus {
        status: "quarantined".into(),
        reason: None,
    });
    let v = render(&p);
    assert_eq!(
        v["project-status"],
        serde_json::json!({"status": "quarantined"})
    );
    assert!(v["files"].as_array().unwrap().is_empty());
}

#[test]
fn round_trip_render_parse() {
    let p = sample();
    let page = Url::parse("https://mirror.example/simple/foo-bar/").unwrap();
    let body = render_project_json(&p, &local_url);
    let got = parse_project_json(body.as_bytes(), &page).unwrap();
    assert_eq!(got.name, "foo-bar");
    assert_eq!(got.last_serial, 99);
    assert_eq!(got.versions, ["0.1", "1.9", "1.10", "2.0a1"]);
    let mut want = p.files.clone();
    want.sort_by(|a, b| a.filename.cmp(&b.filename));
    assert_eq!(got.files.len(), 3);
    for (g, w) in got.files.iter().zip(&want) {
        assert_eq!(g.filename, w.filename);
        assert_eq!(
            g.url,
            format!("https://mirror.example/packages/{}", w.filename)
        );
        assert_eq!(g.sha256(), w.sha256());
        assert_eq!(g.requires_python, w.requires_python);
        assert_eq!(g.size, w.size);
        assert_eq!(g.provenance, w.provenance);
        assert_eq!(g.core_metadata, w.core_metadata);
        assert_eq!(g.yanked.is_yanked(), w.yanked.is_yanked());
        assert_eq!(
            g.upload_time,
            w.upload_time.as_deref().and_then(normalize_upload_time)
        );
    }
    assert_eq!(got.files[1].yanked, Yanked::Yes(Some("security".into())));
    assert_eq!(got.files[0].version.as_deref(), Some("1.9"));
}

#[test]
fn parses_upstream_page_tolerantly() {
    let body = br#"{
      "meta": {"api-version": "1.1", "_last-serial": "123"},
      "name": "Foo_Bar",
      "versions": ["1.0"],
      "files": [
        {"filename": "foo_bar-1.0.tar.gz", "url": "/packages/x/foo_bar-1.0.tar.gz",
         "hashes": {"SHA256": "ABCDEF", "blake2b_256": "00", "weird": 5},
         "requires-python": null, "size": 5, "upload-time": "2020-05-06T07:08:09Z",
         "yanked": "", "dist-info-metadata": {"sha256": "FF"}, "extra": [1]},
        {"filename": "foo_bar-2.0-py3-none-any.whl", "url": "https://cdn.example/w.whl",
         "hashes": {}, "yanked": false, "data-dist-info-metadata": true, "core-metadata": false}
      ],
      "project-status": {"status": "archived"}
    }"#;
    let page = Url::parse("https://up.example/simple/foo-bar/").unwrap();
    let p = parse_project_json(body, &page).unwrap();
    assert_eq!(p.name, "foo-bar");
    assert_eq!(p.display_name, "Foo_Bar");
    assert_eq!(p.last_serial, 123);
    assert_eq!(p.versions, ["1.0", "2.0"]);
    assert_eq!(p.status.as_ref().unwrap().status, "archived");
    let f = &p.files[0];
    assert_eq!(f.url, "https://up.example/packages/x/foo_bar-1.0.tar.gz");
    assert_eq!(
        f.hashes,
        hashes(&[("sha256", "abcdef"), ("blake2b_256", "00")])
    );
    assert_eq!(f.yanked, Yanked::Yes(None));
    assert_eq!(f.core_metadata.as_ref().unwrap().hashes["sha256"], "ff");
    assert_eq!(f.upload_time.as_deref(), Some("2020-05-06T07:08:09Z"));
    assert_eq!(f.requires_python, None);
    let w = &p.files[1];
    assert_eq!(
        w.core_metadata, None,
        "core-metadata wins over the legacy key"
    );
    assert_eq!(w.url, "https://cdn.example/w.whl");
}

#[test]
fn parse_errors_name_the_problem() {
    let page = Url::parse("https://up.example/simple/x/").unwrap();
    let cases: &[(&[u8], &str)] = &[
        (b"not json", "not valid JSON"),
        (b"[]", "not an object"),
        (br#"{"name":"x"}"#, "\"files\""),
        (
            br#"{"name":"../x","files":[]}"#,
            "invalid project name \"../x\"",
        ),
        (
            br#"{"name":"x","files":[{"filename":"../a","url":"u"}]}"#,
            "unsafe filename \"../a\"",
        ),
        (
            br#"{"name":"x","files":[{"filename":"a.whl"}]}"#,
            "no string \"url\"",
        ),
        (
            br#"{"name":"x","files":[{"filename":"a.whl","url":"http://[::1"}]}"#,
            "cannot resolve link",
        ),
        (
            br#"{"meta":{"api-version":"2.0"},"name":"x","files":[]}"#,
            "api-version \"2.0\"",
        ),
    ];
    for (body, want) in cases {
        let err = parse_project_json(body, &page).unwrap_err().to_string();
        assert!(err.contains(want), "{err} should contain {want}");
        assert!(err.starts_with("https://up.example/simple/x/"), "{err}");
    }
}

#[test]
fn root_render_and_parse() {
    let projects = [
        RootEntry {
            name: "zope-interface",
            display: "Zope.Interface",
            serial: 7,
        },
        RootEntry {
            name: "a-b",
            display: "a_b",
            serial: 3,
        },
    ];
    let body = render_root_json(&projects, 10);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["meta"],
        serde_json::json!({"api-version": "1.4", "_last-serial": 10})
    );
    assert_eq!(
        v["projects"],
        serde_json::json!([{"name": "a_b", "_last-serial": 3}, {"name": "Zope.Interface", "_last-serial": 7}])
    );
    let (serial, listed) = parse_root_json(body.as_bytes()).unwrap();
    assert_eq!(serial, Some(10));
    assert_eq!(
        listed,
        vec![
            ListedProject {
                name: "a_b".into(),
                serial: 3
            },
            ListedProject {
                name: "Zope.Interface".into(),
                serial: 7
            },
        ]
    );
}

#[test]
fn root_parse_bandersnatch_and_errors() {
    // bandersnatch writes the serial as a string and no per-project serials.
    let body = br#"{"meta":{"_last-serial":"42","api-version":"1.1"},"projects":[{"name":"six"},{"name":"Foo.Bar"}]}"#;
    let (serial, listed) = parse_root_json(body).unwrap();
    assert_eq!(serial, Some(42));
    assert_eq!(
        listed[0],
        ListedProject {
            name: "six".into(),
            serial: 0
        }
    );
    assert_eq!(listed[1].name, "Foo.Bar");
    let (serial, _) = parse_root_json(br#"{"projects":[]}"#).unwrap();
    assert_eq!(serial, None);
    // An invalid name is passed on for the planner to reject; it does not fail the list.
    let (_, listed) = parse_root_json(br#"{"projects":[{"name":"bad/name"}]}"#).unwrap();
    assert_eq!(listed[0].name, "bad/name");
    let err = parse_root_json(br#"{"projects":[{"nom":"x"}]}"#).unwrap_err();
    assert!(err.to_string().contains("projects[0]"), "{err}");
    assert!(parse_root_json(br#"{"meta":{}}"#).is_err());
}

#[test]
fn root_parse_typed_reading_agrees_with_the_generic_one() {
    let doc = "simple root JSON page";
    for body in [
        r#"{"meta":{"_last-serial":9,"api-version":"1.4"},"projects":[{"name":"a","_last-serial":"5"},{"name":"b","_last-serial":null},{"name":"c","extra":[1,{"x":2}]}]}"#,
        r#"{"meta":"odd","projects":[{"name":"a","_last-serial":-3},{"name":"b","_last-serial":1.5}],"more":{}}"#,
        r#"{"projects":[{"name":"a","name":"b","_last-serial":2}]}"#,
        r#"{"projects":[{"name":"a\u002db"}]}"#,
    ] {
        let typed = parse_root_json(body.as_bytes()).unwrap();
        let generic = parse_root_json_generic(doc, body.as_bytes()).unwrap();
        assert_eq!(typed, generic, "{body}");
    }
    for body in [
        r#"{"meta":{"api-version":"2.0"},"projects":[]}"#,
        r#"{"projects":["a"]}"#,
        r#"{"projects":[{"name":7}]}"#,
        r#"{"projects":{}}"#,
        r#"[]"#,
        // serde's derived structs would take these as fields by position.
        r#"[null, [{"name": "a"}]]"#,
        r#"{"projects":[["a", 5]]}"#,
    ] {
        let typed = parse_root_json(body.as_bytes()).unwrap_err().to_string();
        let generic = parse_root_json_generic(doc, body.as_bytes())
            .unwrap_err()
            .to_string();
        assert_eq!(typed, generic, "{body}");
    }
}

/// The typed reading of a project page reads every page it accepts as the generic
/// reading does, and gives up on the others, which the generic reading decides.
#[test]
fn project_parse_typed_reading_agrees_with_the_generic_one() {
    let page = Url::parse("https://up.example/simple/foo-bar/").unwrap();
    let base = render(&sample());
    let variant = |change: &dyn Fn(&mut Value)| {
        let mut v = base.clone();
        change(&mut v);
        v.to_string()
    };
    let accepted = [
        base.to_string(),
        variant(&|v| v["files"][0]["core-metadata"] = Value::Null),
        variant(&|v| v["files"][0]["hashes"] = json!({"SHA256": "AB", "sha256": "cd", "x": null})),
        variant(&|v| v["files"][0]["yanked"] = json!("reason")),
        variant(&|v| v["files"][0]["url"] = json!("/packages/a\u{e9}/f.whl")),
        variant(&|v| v["meta"] = json!("odd")),
        variant(&|v| v["versions"] = json!(["1.0", null, "0.1"])),
        variant(&|v| v["versions"] = Value::Null),
        variant(&|v| v["project-status"] = json!("quarantined")),
        variant(&|v| drop(v.as_object_mut().unwrap().remove("meta"))),
        r#"{"name":"foo-bar","files":[{"filename":"foo_bar-1.0.tar.gz","url":"\/x\/foo_bar-1.0.tar.gz"}]}"#
            .to_string(),
    ];
    for body in &accepted {
        let typed =
            typed::parse_project(body.as_bytes(), &page).unwrap_or_else(|| panic!("{body}"));
        let generic = parse_project_generic(body.as_bytes(), &page).unwrap();
        assert_eq!(typed, generic, "{body}");
    }
    let given_up = [
        variant(&|v| v["files"][0]["size"] = json!(-1)),
        variant(&|v| v["files"][0]["hashes"] = json!({"sha256": 5})),
        variant(&|v| v["files"][0] = json!(["f.whl", "https://x.example/f.whl"])),
        variant(&|v| v["files"] = Value::Null),
        variant(&|v| v["versions"] = json!({})),
        variant(&|v| v["versions"] = json!([1])),
        variant(&|v| v["meta"]["api-version"] = json!("2.0")),
        variant(&|v| v["name"] = json!("../x")),
        variant(&|v| v["files"][0]["filename"] = json!("../x.whl")),
        variant(&|v| v["files"][0]["url"] = json!("http://[::1")),
        r#"{"name":"a","name":"b","files":[]}"#.to_string(),
        r#"["foo-bar", []]"#.to_string(),
    ];
    for body in &given_up {
        assert!(
            typed::parse_project(body.as_bytes(), &page).is_none(),
            "{body}"
        );
        let public = parse_project_json(body.as_bytes(), &page).map_err(|e| e.to_string());
        let generic = parse_project_generic(body.as_bytes(), &page).map_err(|e| e.to_string());
        assert_eq!(public, generic, "{body}");
    }
}
