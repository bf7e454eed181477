use super::*;
use crate::index::model::{CoreMetadata, Yanked};
use crate::index::versions::is_normal_upload_time;

/// Shaped like https://pypi.org/pypi/<name>/json (trimmed `info`).
const SAMPLE: &str = r#"{
  "info": {
    "author": "Jane", "classifiers": ["Programming Language :: Python :: 3"],
    "description": "long text", "name": "Zope.Interface-Demo",
    "package_url": "https://pypi.org/project/Zope.Interface-Demo/",
    "project_urls": {"Homepage": "https://example.org"},
    "requires_dist": ["setuptools"], "requires_python": ">=3.8",
    "summary": "demo", "version": "1.1", "yanked": false, "yanked_reason": null
  },
  "last_serial": 27463411,
  "releases": {
    "0.9": [],
    "1.0": [
      {
        "comment_text": "", "digests": {
          "blake2b_256": "d95a9e4e1a9ac8e0bcbdc2e1aa9a0cb5f8d8e2b0e1e7b4fd54e4f6df4ab3ef37f7",
          "md5": "0C7D6E9F2B5C3B2E1A1F1E1D1C1B1A19",
          "sha256": "1E61C37477A1626458E36F7B1D82AA5C9B094FA4802892072E49DE9C60C4C926"
        },
        "downloads": -1, "filename": "zope_interface_demo-1.0.tar.gz", "has_sig": false,
        "md5_digest": "0c7d6e9f2b5c3b2e1a1f1e1d1c1b1a19", "packagetype": "sdist",
        "python_version": "source", "requires_python": null, "size": 34549,
        "upload_time": "2016-05-05T18:40:22", "upload_time_iso_8601": "2016-05-05T18:40:22.126433Z",
        "url": "https://files.pythonhosted.org/packages/d9/5a/9e4e1a/zope_interface_demo-1.0.tar.gz",
        "yanked": true, "yanked_reason": "broken"
      }
    ],
    "1.1": [
      {
        "comment_text": "", "digests": {
          "blake2b_256": "b7ce149a00dd41f10bc29e5921b496af8b574d8413afcd5e30dfa0ed46c2cc5e",
          "md5": "aa", "sha256": "4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274"
        },
        "downloads": -1, "filename": "zope_interface_demo-1.1-py3-none-any.whl", "has_sig": false,
        "packagetype": "bdist_wheel", "python_version": "py3", "requires_python": ">=3.8",
        "size": 11053, "upload_time": "2024-12-04T17:35:26",
        "upload_time_iso_8601": "2024-12-04T17:35:26+00:00",
        "url": "https://files.pythonhosted.org/packages/b7/ce/149a00/zope_interface_demo-1.1-py3-none-any.whl",
        "yanked": false, "yanked_reason": null,
        "core-metadata": {"sha256": "ABCD"}, "data-dist-info-metadata": {"sha256": "abcd"}
      },
      {
        "digests": {"sha256": "ff"}, "filename": "zope_interface_demo-1.1.tar.gz",
        "packagetype": "sdist", "python_version": "source", "size": 9,
        "upload_time": "2024-12-04T17:35:27",
        "url": "https://files.pythonhosted.org/packages/ff/zope_interface_demo-1.1.tar.gz",
        "yanked": false, "data-dist-info-metadata": false
      }
    ]
  },
  "urls": [
    {
      "digests": {"sha256": "4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274"},
      "filename": "zope_interface_demo-1.1-py3-none-any.whl", "packagetype": "bdist_wheel",
      "python_version": "py3", "size": 11053,
      "url": "https://files.pythonhosted.org/packages/b7/ce/149a00/zope_interface_demo-1.1-py3-none-any.whl",
      "yanked": false
    }
  ],
  "vulnerabilities": []
}"#;

fn mirror_url(f: &DistFile) -> String {
    format!("https://mirror.example/packages/{}", f.filename)
}

#[test]
fn parses_realistic_document() {
    let p = parse_jsonapi(SAMPLE.as_bytes()).unwrap();
    assert_eq!(p.name, "zope-interface-demo");
    assert_eq!(p.display_name, "Zope.Interface-Demo");
    assert_eq!(p.last_serial, 27463411);
    assert_eq!(p.info_version.as_deref(), Some("1.1"));
    assert_eq!(
        p.versions,
        ["0.9", "1.0", "1.1"],
        "empty releases are versions too"
    );
    assert_eq!(p.files.len(), 3);
    let sdist = &p.files[0];
    assert_eq!(sdist.filename, "zope_interface_demo-1.0.tar.gz");
    assert_eq!(sdist.version.as_deref(), Some("1.0"));
    assert_eq!(
        sdist.sha256(),
        Some("1e61c37477a1626458e36f7b1d82aa5c9b094fa4802892072e49de9c60c4c926")
    );
    assert_eq!(sdist.hashes["md5"], "0c7d6e9f2b5c3b2e1a1f1e1d1c1b1a19");
    assert!(sdist.hashes.contains_key("blake2b_256"));
    assert_eq!(sdist.packagetype.as_deref(), Some("sdist"));
    assert_eq!(sdist.python_version.as_deref(), Some("source"));
    assert_eq!(sdist.requires_python, None);
    assert_eq!(sdist.size, Some(34549));
    assert_eq!(
        sdist.upload_time.as_deref(),
        Some("2016-05-05T18:40:22.126433Z")
    );
    assert_eq!(sdist.yanked, Yanked::Yes(Some("broken".into())));
    assert_eq!(sdist.core_metadata, None);
    let whl = &p.files[1];
    assert_eq!(whl.upload_time.as_deref(), Some("2024-12-04T17:35:26Z"));
    assert_eq!(whl.requires_python.as_deref(), Some(">=3.8"));
    assert_eq!(whl.core_metadata.as_ref().unwrap().hashes["sha256"], "abcd");
    assert_eq!(whl.yanked, Yanked::No);
    let other = &p.files[2];
    assert_eq!(
        other.upload_time.as_deref(),
        Some("2024-12-04T17:35:27Z"),
        "fallback upload_time + Z"
    );
    assert_eq!(other.core_metadata, None);
    assert!(p.json_api.is_some());
}

#[test]
fn falls_back_to_urls_without_releases() {
    let mut v: Value = serde_json::from_str(SAMPLE).unwrap();
    v.as_object_mut().unwrap().remove("releases");
    let p = parse_jsonapi(v.to_string().as_bytes()).unwrap();
    assert_eq!(p.files.len(), 1);
    assert_eq!(p.files[0].version.as_deref(), Some("1.1"));
    assert_eq!(p.versions, ["1.1"]);
}

#[test]
fn status_tolerated_in_either_place() {
    let mut v: Value = serde_json::from_str(SAMPLE).unwrap();
    v["project-status"] = json!({"status": "archived", "reason": "done"});
    let p = parse_jsonapi(v.to_string().as_bytes()).unwrap();
    assert_eq!(
        p.status,
        Some(ProjectStatus {
            status: "archived".into(),
            reason: Some("done".into())
        })
    );
    let mut v: Value = serde_json::from_str(SAMPLE).unwrap();
    v["info"]["project_status"] = json!("deprecated");
    let p = parse_jsonapi(v.to_string().as_bytes()).unwrap();
    assert_eq!(p.status.unwrap().status, "deprecated");
}

#[test]
fn rejects_bad_names_filenames_and_shapes() {
    let mut v: Value = serde_json::from_str(SAMPLE).unwrap();
    v["info"]["name"] = json!("../../etc");
    let err = parse_jsonapi(v.to_string().as_bytes()).unwrap_err();
    assert!(
        err.to_string()
            .contains("invalid project name \"../../etc\""),
        "{err}"
    );

    let mut v: Value = serde_json::from_str(SAMPLE).unwrap();
    v["releases"]["1.0"][0]["filename"] = json!("a/b.tar.gz");
    let err = parse_jsonapi(v.to_string().as_bytes()).unwrap_err();
    assert!(
        err.to_string()
            .contains("JSON API document for Zope.Interface-Demo"),
        "{err}"
    );
    assert!(err.to_string().contains("\"a/b.tar.gz\""), "{err}");

    let mut v: Value = serde_json::from_str(SAMPLE).unwrap();
    v["releases"]["1.0"] = json!({});
    assert!(parse_jsonapi(v.to_string().as_bytes()).is_err());

    let mut v: Value = serde_json::from_str(SAMPLE).unwrap();
    v["releases"]["1.0"][0]["url"] = json!("/relative.tar.gz");
    assert!(parse_jsonapi(v.to_string().as_bytes()).is_err());
    let base = Url::parse("https://up.example/pypi/zope-interface-demo/json").unwrap();
    let p = parse_jsonapi_at(Bytes::from(v.to_string()), Some(&base)).unwrap();
    assert_eq!(p.files[0].url, "https://up.example/relative.tar.gz");

    assert!(
        parse_jsonapi(b"{}")
            .unwrap_err()
            .to_string()
            .contains("\"info\"")
    );
    assert!(parse_jsonapi(b"<html>").is_err());
}

#[test]
fn render_rewrites_urls_and_keeps_the_rest() {
    let mut p = parse_jsonapi(SAMPLE.as_bytes()).unwrap();
    // A file the mirror filtered out keeps its upstream URL.
    p.files
        .retain(|f| f.filename != "zope_interface_demo-1.1.tar.gz");
    let out: Value = serde_json::from_str(&render_jsonapi(&p, &mirror_url)).unwrap();
    let orig: Value = serde_json::from_str(SAMPLE).unwrap();
    assert_eq!(out["info"], orig["info"]);
    assert_eq!(out["last_serial"], 27463411);
    assert_eq!(out["vulnerabilities"], json!([]));
    assert_eq!(out["releases"]["0.9"], json!([]));
    assert_eq!(
        out["releases"]["1.1"][0]["url"],
        "https://mirror.example/packages/zope_interface_demo-1.1-py3-none-any.whl"
    );
    assert_eq!(
        out["releases"]["1.1"][0]["digests"],
        orig["releases"]["1.1"][0]["digests"]
    );
    assert_eq!(
        out["releases"]["1.1"][1]["url"],
        orig["releases"]["1.1"][1]["url"]
    );
    assert_eq!(
        out["urls"][0]["url"],
        "https://mirror.example/packages/zope_interface_demo-1.1-py3-none-any.whl"
    );
    assert_eq!(
        out["releases"]["1.0"][0]["url"],
        "https://mirror.example/packages/zope_interface_demo-1.0.tar.gz"
    );
}

#[test]
fn synthesized_document_round_trips() {
    let mut p = parse_jsonapi(SAMPLE.as_bytes()).unwrap();
    p.json_api = None;
    p.files[1].provenance = Some("https://prov.example/x".into());
    p.files[0].core_metadata = Some(CoreMetadata::default());
    let body = render_jsonapi(&p, &mirror_url);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["info"]["name"], "Zope.Interface-Demo");
    assert_eq!(v["info"]["version"], "1.1");
    assert_eq!(v["info"]["requires_python"], ">=3.8");
    assert_eq!(v["last_serial"], 27463411);
    assert_eq!(v["releases"]["0.9"], json!([]));
    assert_eq!(v["urls"].as_array().unwrap().len(), 2);
    let f = &v["releases"]["1.0"][0];
    assert_eq!(f["upload_time"], "2016-05-05T18:40:22");
    assert!(is_normal_upload_time(
        f["upload_time_iso_8601"].as_str().unwrap()
    ));
    assert_eq!(f["yanked"], true);
    assert_eq!(f["yanked_reason"], "broken");
    assert_eq!(f["core-metadata"], true);
    assert_eq!(f["core-metadata"], f["data-dist-info-metadata"]);

    let back = parse_jsonapi(body.as_bytes()).unwrap();
    assert_eq!(back.name, p.name);
    assert_eq!(back.versions, p.versions);
    assert_eq!(back.files.len(), p.files.len());
    for (b, o) in back.files.iter().zip(&p.files) {
        assert_eq!(b.filename, o.filename);
        assert_eq!(b.url, mirror_url(o));
        assert_eq!(b.hashes, o.hashes);
        assert_eq!(b.size, o.size);
        assert_eq!(b.upload_time, o.upload_time);
        assert_eq!(b.yanked, o.yanked);
        assert_eq!(b.core_metadata, o.core_metadata);
        assert_eq!(b.provenance, o.provenance);
        assert_eq!(b.version, o.version);
        assert_eq!(b.packagetype, o.packagetype);
    }
}

#[test]
fn synthesized_without_info_version_uses_latest() {
    let p = Project {
        name: "foo".into(),
        files: vec![
            DistFile {
                filename: "foo-1.10.tar.gz".into(),
                ..Default::default()
            },
            DistFile {
                filename: "foo-1.9.tar.gz".into(),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let v: Value = serde_json::from_str(&render_jsonapi(&p, &mirror_url)).unwrap();
    assert_eq!(v["info"]["name"], "foo");
    assert_eq!(v["info"]["version"], "1.10");
    assert_eq!(v["urls"][0]["filename"], "foo-1.10.tar.gz");
}

/// The typed reading reads every document it accepts as the generic reading does,
/// and gives up on the others, which the generic reading then decides.
#[test]
fn typed_reading_agrees_with_the_generic_one() {
    let base: Value = serde_json::from_str(SAMPLE).unwrap();
    let variant = |change: &dyn Fn(&mut Value)| {
        let mut v = base.clone();
        change(&mut v);
        v.to_string()
    };
    let generic = |body: &str| parse_generic(Bytes::copy_from_slice(body.as_bytes()), None);
    let accepted = [
        SAMPLE.to_string(),
        SAMPLE.replace("1.0.tar.gz\", \"has_sig", "1.0\\u002etar.gz\", \"has_sig"),
        variant(&|v| drop(v.as_object_mut().unwrap().remove("releases"))),
        // A null key stops the fallback to the next spelling.
        variant(&|v| v["releases"]["1.1"][0]["core-metadata"] = Value::Null),
        variant(&|v| v["project-status"] = json!({"status": "quarantined"})),
        variant(&|v| v["info"]["project_status"] = json!("archived")),
        variant(&|v| v["last_serial"] = json!("12")),
        variant(&|v| {
            v["releases"]["1.1"][0]["digests"] =
                json!({"SHA256": "AB", "sha256": "cd", "md5": null})
        }),
        variant(&|v| v["releases"]["1.1"][0]["yanked"] = json!("bad build")),
        variant(&|v| v["releases"]["1.1"][0]["upload_time_iso_8601"] = Value::Null),
        variant(&|v| v["releases"]["1.1"][0]["digests"] = Value::Null),
        variant(&|v| v["info"]["version"] = json!("")),
        variant(&|v| v["urls"] = Value::Null),
        r#"{"info":{"name":"a"},"releases":{"1.0":[],"1.0":[
            {"filename":"a-1.0.tar.gz","url":"https://x.example/a-1.0.tar.gz"}]}}"#
            .to_string(),
        r#"{"info":{"name":"a"},"releases":{"1.0":[
            {"filename":"a-1.0.tar.gz","url":"https://x.example/1/a-1.0.tar.gz"}],"2.0":[
            {"filename":"a-1.0.tar.gz","url":"https://x.example/2/a-1.0.tar.gz"}]}}"#
            .to_string(),
    ];
    assert_ne!(accepted[1], SAMPLE, "the escape is in place");
    for body in &accepted {
        let typed = typed::parse(body.as_bytes(), None).unwrap_or_else(|| panic!("{body}"));
        let mut generic = generic(body).unwrap();
        generic.json_api = None;
        assert_eq!(typed, generic, "{body}");
    }
    let given_up = [
        variant(&|v| v["releases"]["1.1"][0]["size"] = json!(-1)),
        variant(&|v| v["releases"]["1.1"][0]["packagetype"] = json!(3)),
        variant(&|v| v["releases"] = Value::Null),
        variant(&|v| v["releases"]["1.1"][0] = json!(["f.whl", "https://x.example/f.whl"])),
        variant(&|v| v["info"] = json!(["a"])),
        variant(&|v| v["info"]["name"] = json!("bad name!")),
        variant(&|v| v["releases"]["1.1"][0]["filename"] = json!("../x.whl")),
        variant(&|v| v["releases"]["1.1"][0]["url"] = json!("not a url")),
        variant(&|v| v["urls"] = json!({})),
        r#"[{"name": "a"}]"#.to_string(),
        r#"{"info":{"name":"a","name":"b"},"releases":{}}"#.to_string(),
    ];
    for body in &given_up {
        assert!(typed::parse(body.as_bytes(), None).is_none(), "{body}");
        let public = parse_jsonapi(body.as_bytes()).map_err(|e| e.to_string());
        assert_eq!(public, generic(body).map_err(|e| e.to_string()), "{body}");
    }
}

#[test]
fn the_document_is_kept_as_bytes_and_read_as_a_tree_on_demand() {
    let p = parse_jsonapi(SAMPLE.as_bytes()).unwrap();
    let tree = p.json_api.as_ref().and_then(RawJson::tree).unwrap();
    assert_eq!(tree, &serde_json::from_str::<Value>(SAMPLE).unwrap());
}
