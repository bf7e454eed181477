//! bandersnatch.conf → Config, and Config → vorpal.toml → Config.

use std::path::Path;

use super::*;
use crate::config::filters::{Plugin, SortBy, map};

fn read(sections: &[(&str, &[(&str, &str)])]) -> Result<Config, ConfigError> {
    from_ini_sections(&map(sections), Path::new("/etc/bandersnatch.conf"))
}

/// Every [mirror] key bandersnatch documents, set away from its default.
const EVERY_KEY: &[(&str, &str)] = &[
    ("directory", "/srv/pypi"),
    ("master", "https://mirror.example/"),
    ("proxy", "http://proxy.example:3128"),
    ("allow-non-https", "yes"),
    ("timeout", "12.5"),
    ("global-timeout", "3600"),
    ("workers", "10"),
    ("verifiers", "4"),
    ("stop-on-error", "On"),
    ("json", "TRUE"),
    ("release-files", "0"),
    ("core-metadata", "no"),
    ("hash-index", "1"),
    ("simple-format", "JSON"),
    ("compare-method", "stat"),
    ("digest_name", "md5"),
    ("keep_index_versions", "3"),
    ("cleanup", "true"),
    ("storage-backend", "s3"),
    ("root_uri", "https://files.example"),
    ("download-mirror", "https://dl.example"),
    ("download-mirror-no-fallback", "true"),
    ("diff-file", "{{mirror_directory}}/mirrored-files"),
    ("diff-append-epoch", "true"),
    ("log-config", "/etc/bandersnatch-log.conf"),
    ("api-method", "xmlrpc"),
];

#[test]
fn every_mirror_key_maps() {
    let c = read(&[
        ("mirror", EVERY_KEY),
        (
            "s3",
            &[
                ("region_name", "eu-west-1"),
                ("aws_access_key_id", "AKIDEXAMPLE"),
                ("aws_secret_access_key", "secret"),
                ("endpoint_url", "https://minio.example:9000"),
                ("signature_version", "s3v4"),
            ],
        ),
    ])
    .unwrap();
    let m = &c.mirror;
    assert_eq!(m.directory, PathBuf::from("/srv/pypi"));
    assert_eq!(m.master, "https://mirror.example");
    assert_eq!(m.proxy.as_deref(), Some("http://proxy.example:3128"));
    assert!(m.allow_non_https);
    assert_eq!(m.timeout, 12.5);
    assert_eq!(m.global_timeout, 3600.0);
    assert_eq!(m.workers, 10);
    assert!(m.stop_on_error && m.json && !m.release_files && !m.core_metadata && m.hash_index);
    assert_eq!(m.simple_format, SimpleFormat::Json);
    assert_eq!(m.compare_method, CompareMethod::Stat);
    assert_eq!(m.digest_name, "md5");
    assert_eq!(m.keep_index_versions, 3);
    assert!(m.cleanup);
    assert_eq!(m.storage_backend, StorageBackend::S3);
    assert_eq!(m.root_uri.as_deref(), Some("https://files.example"));
    assert_eq!(m.download_mirror.as_deref(), Some("https://dl.example"));
    assert!(m.download_mirror_no_fallback);
    assert_eq!(m.diff_file, Some(PathBuf::from("/srv/pypi/mirrored-files")));
    assert!(m.diff_append_epoch);
    assert_eq!(m.api_method, ApiMethod::Xmlrpc);
    let s3 = c.s3.as_ref().unwrap();
    assert_eq!(s3.region_name.as_deref(), Some("eu-west-1"));
    assert_eq!(s3.aws_access_key_id.as_deref(), Some("AKIDEXAMPLE"));
    assert_eq!(s3.aws_secret_access_key.as_deref(), Some("secret"));
    assert_eq!(
        s3.endpoint_url.as_deref(),
        Some("https://minio.example:9000")
    );
    assert_eq!(s3.signature_version.as_deref(), Some("s3v4"));
    // verifiers, log-config, md5 links and s3 are accepted with a note; nothing is unknown.
    assert_eq!(c.warnings.len(), 4, "{:?}", c.warnings);
    assert!(c.warnings.iter().all(|w| !w.contains("unknown")));
    assert!(c.warnings.iter().any(|w| w.contains("verifiers")));
    assert!(c.warnings.iter().any(|w| w.contains("log-config")));
}

#[test]
fn defaults_and_required_keys() {
    let c = read(&[("mirror", &[("directory", "/m")])]).unwrap();
    assert_eq!(c.mirror.master, "https://pypi.org");
    assert!(c.mirror.release_files && c.mirror.core_metadata && !c.mirror.json);
    assert_eq!(c.mirror.storage_backend, StorageBackend::Filesystem);
    assert!(c.s3.is_none() && c.warnings.is_empty(), "{:?}", c.warnings);

    let e = read(&[("plugins", &[])]).unwrap_err().0;
    assert!(e.contains("[mirror]"), "{e}");
    let e = read(&[("mirror", &[("master", "https://pypi.org")])])
        .unwrap_err()
        .0;
    assert!(e.contains("directory is required"), "{e}");
}

#[test]
fn release_files_off_defaults_root_uri() {
    let c = read(&[("mirror", &[("directory", "/m"), ("release-files", "false")])]).unwrap();
    assert_eq!(
        c.mirror.root_uri.as_deref(),
        Some("https://files.pythonhosted.org")
    );
    assert_eq!(c.warnings.len(), 1);
}

#[test]
fn booleans_as_configparser_reads_them() {
    for (raw, want) in [
        ("yes", true),
        ("No", false),
        ("ON", true),
        ("off", false),
        ("1", true),
        ("0", false),
        ("True", true),
        ("false", false),
    ] {
        let c = read(&[("mirror", &[("directory", "/m"), ("json", raw)])]).unwrap();
        assert_eq!(c.mirror.json, want, "{raw}");
    }
}

#[test]
fn invalid_values_name_key_value_and_allowed() {
    let cases: &[(&str, &str, &str)] = &[
        ("json", "maybe", "yes/no"),
        ("workers", "0", "from 1 to"),
        ("timeout", "-1", "positive number"),
        ("simple-format", "XML", "all, html, json"),
        ("compare-method", "size", "hash, stat"),
        ("digest_name", "sha1", "sha256, md5"),
        ("storage-backend", "swift", "filesystem, s3"),
        ("api-method", "soap", "simple, xmlrpc"),
        ("verifiers", "11", "from 1 to 10"),
        ("keep_index_versions", "-2", "whole number"),
    ];
    for (key, value, allowed) in cases {
        let e = read(&[("mirror", &[("directory", "/m"), (key, value)])])
            .unwrap_err()
            .0;
        let folded = key.replace('_', "-");
        assert!(e.contains(&format!("[mirror] {folded}")), "{e}");
        assert!(e.contains(value) && e.contains(allowed), "{e}");
    }
}

#[test]
fn unknown_keys_and_sections_warn() {
    let c = read(&[
        ("mirror", &[("directory", "/m"), ("wokers", "3")]),
        ("s3", &[("config_param_ServerSideEncryption", "AES256")]),
        ("statistics", &[("access-log-pattern", "x")]),
    ])
    .unwrap();
    assert_eq!(c.warnings.len(), 3, "{:?}", c.warnings);
    assert!(c.warnings.iter().any(|w| w.contains("[mirror] wokers")));
    assert!(c.warnings.iter().any(|w| w.contains("[statistics]")));
}

#[test]
fn legacy_delete_packages_and_vorpal_keys() {
    let c = read(&[(
        "mirror",
        &[("directory", "/m"), ("delete-packages", "false")],
    )])
    .unwrap();
    assert!(c.mirror.keep_deleted);
    let c = read(&[(
        "mirror",
        &[
            ("directory", "/m"),
            ("download-concurrency", "64"),
            ("metadata-source", "simple"),
        ],
    )])
    .unwrap();
    assert_eq!(c.mirror.download_concurrency, 64);
    assert_eq!(c.mirror.metadata_source, MetadataSource::Simple);
}

#[test]
fn diff_file_references() {
    let m = map(&[
        (
            "mirror",
            &[("directory", "/srv/pypi"), ("master", "https://pypi.org")],
        ),
        ("extra", &[("out_dir", "/var/diffs")]),
    ]);
    let sub = |v: &str| substitute_reference(&m, "f", v);
    assert_eq!(sub("{{mirror_directory}}/new").unwrap(), "/srv/pypi/new");
    assert_eq!(sub("{{ mirror_directory }}/new").unwrap(), "/srv/pypi/new");
    assert_eq!(sub("/x/{{extra_out_dir}}").unwrap(), "/x//var/diffs");
    assert_eq!(sub("/plain/path").unwrap(), "/plain/path");
    let e = sub("{{mirror_nothing}}/x").unwrap_err().0;
    assert!(
        e.contains("no option nothing") && e.contains("{{mirror_directory}}"),
        "{e}"
    );
    let e = sub("{{nosection_x}}").unwrap_err().0;
    assert!(e.contains("no section [nosection]"), "{e}");
}

#[test]
fn filter_sections_come_through() {
    let c = read(&[
        ("mirror", &[("directory", "/m")]),
        (
            "plugins",
            &[("enabled", "\nallowlist_project\nlatest_release\n")],
        ),
        (
            "allowlist",
            &[("packages", "\nFoo.Bar\nblack>=25.1.0  # pinned\n")],
        ),
        ("latest_release", &[("keep", "3"), ("sort_by", "time")]),
    ])
    .unwrap();
    assert_eq!(
        c.filters.enabled,
        vec![Plugin::AllowlistProject, Plugin::LatestRelease]
    );
    assert_eq!(
        c.filters.allowlist_packages,
        vec!["Foo.Bar", "black>=25.1.0"]
    );
    assert_eq!(c.filters.latest_sort_by, SortBy::Time);
    let e = read(&[
        ("mirror", &[("directory", "/m")]),
        ("filter_regex", &[("packages", "[")]),
    ])
    .unwrap_err()
    .0;
    assert!(e.contains("[filter_regex] packages"), "{e}");
}

#[test]
fn to_toml_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("bandersnatch.conf");
    let mut every: Vec<(&str, &str)> = EVERY_KEY.to_vec();
    every.retain(|(k, _)| !matches!(*k, "verifiers" | "log-config"));
    let sections = map(&[
        ("mirror", &every),
        (
            "s3",
            &[
                ("region_name", "eu-west-1"),
                ("endpoint_url", "https://minio.example"),
            ],
        ),
        ("plugins", &[("enabled", "all")]),
        (
            "allowlist",
            &[
                ("packages", "Foo.Bar\nblack>=25.1.0"),
                ("requirements_path", "reqs"),
                ("requirements", "a.txt\n*.in"),
            ],
        ),
        (
            "blocklist",
            &[("packages", "evil"), ("platforms", "windows py2")],
        ),
        (
            "filter_regex",
            &[("packages", ".+-nightly$"), ("releases", r".*\.post\d+$")],
        ),
        ("filter_prerelease", &[("packages", "numpy")]),
        ("latest_release", &[("keep", "5"), ("sort_by", "time")]),
        ("size_project_metadata", &[("max_package_size", "1G")]),
        (
            "versions_count_project_metadata",
            &[("min_versions", "2"), ("max_versions", "900")],
        ),
        (
            "regex_project_metadata",
            &[("not-null:info.classifiers", "License :: OSI Approved")],
        ),
        (
            "regex_release_file_metadata",
            &[("search", "yes"), ("none:release_file.filename", "macosx_")],
        ),
        (
            "version_range_release_file_metadata",
            &[("release_file.requires_python", "3.12\n3.13")],
        ),
    ]);
    let before = from_ini_sections(&sections, &source).unwrap();
    let text = to_toml(&before);
    assert!(text.contains("\"none:release_file.filename\""), "{text}");
    let at = |s: &str| text.find(s).unwrap_or(usize::MAX);
    assert!(
        at("[mirror]") < at("[s3]")
            && at("[s3]") < at("[plugins]")
            && at("[plugins]") < at("[allowlist]"),
        "{text}"
    );
    let toml_path = dir.path().join("vorpal.toml");
    let after = crate::config::parse_toml(&toml_path, &text).unwrap();
    // Only the notes about accepted-but-inactive values (md5 links, s3) remain.
    assert!(
        after
            .warnings
            .iter()
            .all(|w| w.contains("digest_name") || w.contains("storage-backend = s3")),
        "{:?}\n{text}",
        after.warnings
    );
    assert_eq!(
        format!("{:?}", after.mirror),
        format!("{:?}", before.mirror)
    );
    assert_eq!(after.s3, before.s3);
    // Requirement paths were made absolute, so they resolve to the same files.
    let mut expected = before.filters.clone();
    expected.requirements_path = Some(dir.path().join("reqs"));
    assert_eq!(after.filters, expected);
    assert_eq!(after.filters.max_package_size, Some(1 << 30));
}
