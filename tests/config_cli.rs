//! `-c bandersnatch.conf` and `vorpal config convert`, through the real binary.
mod support;

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use vorpal::config::Config;

/// Many of bandersnatch's keys, in its own spellings and value styles.
const BANDERSNATCH_CONF: &str = "\
; a bandersnatch.conf as operators write them
[mirror]
directory = /srv/pypi
master = https://mirror.example/
json = yes
release-files = true
hash-index = On
timeout = 12.5
global-timeout = 3600
workers = 7
verifiers = 4
stop-on-error = false
simple-format = JSON
compare-method = stat
digest_name = sha256
keep_index_versions = 2
cleanup = true
root_uri = https://files.example
diff-file = {{mirror_directory}}/mirrored-files
diff-append-epoch = true
api-method = xmlrpc
storage-backend = filesystem

[plugins]
enabled =
    allowlist_project
    prerelease_release

[allowlist]
packages =
    requests
    six  # inline comment
";

fn vorpal(args: &[&str]) -> Output {
    Command::cargo_bin("vorpal")
        .unwrap()
        .args(args)
        .env_remove("VORPAL_HTTPS_VERIFY")
        .env_remove("VORPAL_LOG")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn https_command_runs_with_a_bandersnatch_conf() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(dir.path(), "bandersnatch.conf", BANDERSNATCH_CONF);
    let out = vorpal(&["-c", &conf, "https", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let warnings = report["warnings"].to_string();
    // Only a loaded bandersnatch.conf can produce this warning.
    assert!(warnings.contains("verifiers = 4"), "{warnings}");
}

#[test]
fn a_conf_without_the_extension_is_recognised_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(dir.path(), "mirror-settings", BANDERSNATCH_CONF);
    let out = vorpal(&["-c", &conf, "https", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn convert_prints_a_vorpal_toml_with_the_same_meaning() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(dir.path(), "bandersnatch.conf", BANDERSNATCH_CONF);
    let out = vorpal(&["config", "convert", &conf]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let toml_text = String::from_utf8(out.stdout).unwrap();
    let toml_path = write(dir.path(), "vorpal.toml", &toml_text);
    let from_toml = Config::load(Some(Path::new(&toml_path))).unwrap();
    let from_ini = Config::load(Some(Path::new(&conf))).unwrap();
    // MirrorConfig holds floats, so it has no Eq: compare every field through Debug.
    assert_eq!(
        format!("{:?}", from_toml.mirror),
        format!("{:?}", from_ini.mirror)
    );
    assert_eq!(
        format!("{:?}", from_toml.filters),
        format!("{:?}", from_ini.filters)
    );
    assert_eq!(from_ini.mirror.workers, 7);
    assert!(from_ini.mirror.hash_index);
    assert_eq!(
        from_ini.mirror.diff_file.as_deref(),
        Some(Path::new("/srv/pypi/mirrored-files"))
    );
}

#[test]
fn an_invalid_value_exits_2_naming_key_value_and_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(
        dir.path(),
        "bandersnatch.conf",
        "[mirror]\ndirectory = /srv/pypi\ncompare-method = mtime\n",
    );
    for args in [
        vec!["-c", conf.as_str(), "https"],
        vec!["config", "convert", conf.as_str()],
    ] {
        let out = vorpal(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("compare-method"), "{err}");
        assert!(err.contains("mtime"), "{err}");
        assert!(err.contains("hash") && err.contains("stat"), "{err}");
    }
}

#[test]
fn an_ini_syntax_error_exits_2_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(
        dir.path(),
        "bandersnatch.conf",
        "[mirror]\ndirectory = /srv/pypi\nthis line has no delimiter\n",
    );
    let out = vorpal(&["-c", &conf, "https"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{conf}:3")), "{err}");
}
