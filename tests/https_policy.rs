//! The real binary: `vorpal https` under controlled environments and files.
mod https_common;
mod support;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// Run `vorpal <args>` with an empty environment plus `vars`, in a scratch
/// directory (so no ./vorpal.toml is found), with a system file path of our choosing.
fn vorpal(dir: &Path, system_file: &Path, vars: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vorpal"))
        .env_clear()
        .envs(vars.iter().copied())
        .current_dir(dir)
        .arg("--cert-verification-config")
        .arg(system_file)
        .args(args)
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}; stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let sys = dir.path().join("cert-verification.cfg");
    (dir, sys)
}

#[test]
fn variable_zero_disables_and_warns_once_naming_the_source() {
    let (dir, sys) = setup();
    let out = vorpal(
        dir.path(),
        &sys,
        &[("VORPAL_HTTPS_VERIFY", "0")],
        &["https", "--json"],
    );
    let v = json(&out);
    assert_eq!(v["verify"], false);
    assert_eq!(v["source"], "environment_variable");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("VERIFICATION IS OFF").count(), 1, "{stderr}");
    assert!(stderr.contains("VORPAL_HTTPS_VERIFY"), "{stderr}");
}

#[test]
fn ignore_environment_ignores_the_variable() {
    let (dir, sys) = setup();
    let v = json(&vorpal(
        dir.path(),
        &sys,
        &[("VORPAL_HTTPS_VERIFY", "0")],
        &["-E", "https", "--json"],
    ));
    assert_eq!(v["verify"], true);
    assert_eq!(v["source"], "platform_default");
    assert_eq!(v["capabilities"]["environment_ignored"], true);
    // -E with the system file saying disable: the file decides.
    std::fs::write(&sys, "[https]\nverify = disable\n").unwrap();
    let v = json(&vorpal(
        dir.path(),
        &sys,
        &[("VORPAL_HTTPS_VERIFY", "0")],
        &["-E", "https", "--json"],
    ));
    assert_eq!(v["verify"], false);
    assert_eq!(v["source"], "system_file");
    assert_eq!(v["source_path"], sys.to_str().unwrap());
}

#[test]
fn only_exact_zero_disables() {
    let (dir, sys) = setup();
    for value in ["0 ", " 0", "", "false", "no"] {
        let v = json(&vorpal(
            dir.path(),
            &sys,
            &[("VORPAL_HTTPS_VERIFY", value)],
            &["https", "--json"],
        ));
        assert_eq!(v["verify"], true, "{value:?}");
        assert_eq!(v["source"], "environment_variable", "{value:?}");
    }
}

#[test]
fn broken_system_file_exits_2_naming_file_and_line() {
    let (dir, sys) = setup();
    std::fs::write(&sys, "[https]\n# fine\nverify disable\n").unwrap();
    let out = vorpal(dir.path(), &sys, &[], &["https"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("{}:3", sys.display())), "{stderr}");
}

#[test]
fn flag_beats_variable() {
    let (dir, sys) = setup();
    let v = json(&vorpal(
        dir.path(),
        &sys,
        &[("VORPAL_HTTPS_VERIFY", "0")],
        &["--https-verify", "enable", "https", "--json"],
    ));
    assert_eq!(v["verify"], true);
    assert_eq!(v["source"], "runtime_flag");
    let v = json(&vorpal(
        dir.path(),
        &sys,
        &[],
        &["--https-verify", "disable", "https", "--json"],
    ));
    assert_eq!(v["verify"], false);
}

#[test]
fn mirror_config_sits_above_the_system_file() {
    let (dir, sys) = setup();
    std::fs::write(&sys, "[https]\nverify = enable\n").unwrap();
    let cfg = dir.path().join("vorpal.toml");
    std::fs::write(&cfg, "[https]\nverify = \"disable\"\n").unwrap();
    let v = json(&vorpal(
        dir.path(),
        &sys,
        &[],
        &["-c", cfg.to_str().unwrap(), "https", "--json"],
    ));
    assert_eq!(v["verify"], false);
    assert_eq!(v["source"], "mirror_config");
    assert_eq!(v["source_path"], cfg.to_str().unwrap());
}

#[test]
fn json_has_the_documented_keys() {
    let (dir, sys) = setup();
    let v = json(&vorpal(dir.path(), &sys, &[], &["https", "--json"]));
    let caps = &v["capabilities"];
    assert_eq!(caps["runtime_switch"], "--https-verify");
    assert_eq!(caps["library_switch"], "ClientBuilder::verify_certificates");
    assert_eq!(caps["environment_variable"], "VORPAL_HTTPS_VERIFY");
    assert_eq!(caps["environment_ignored"], false);
    assert_eq!(caps["system_config"], sys.to_str().unwrap());
    assert_eq!(caps["system_config_exists"], false);
    for key in [
        "verify",
        "source",
        "source_detail",
        "source_path",
        "roots",
        "insecure_hosts",
        "client_cert",
        "proxies",
        "no_proxy",
        "warnings",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert!(v["roots"]["total"].as_u64().unwrap() > 0);
    assert!(v["roots"]["sources"].is_array());
    assert_eq!(v["source"], "platform_default");
}

#[test]
fn unknown_system_value_warns_and_enables() {
    let (dir, sys) = setup();
    std::fs::write(&sys, "[https]\nverify = Enable\n").unwrap();
    let v = json(&vorpal(dir.path(), &sys, &[], &["https", "--json"]));
    assert_eq!(v["verify"], true);
    assert_eq!(v["warnings"].as_array().unwrap().len(), 1);
}

#[test]
fn bad_ssl_cert_file_exits_2() {
    let (dir, sys) = setup();
    let out = vorpal(
        dir.path(),
        &sys,
        &[("SSL_CERT_FILE", "/nonexistent/bundle.pem")],
        &["https"],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("SSL_CERT_FILE=/nonexistent/bundle.pem"),
        "{stderr}"
    );
}

#[test]
fn check_reports_handshakes() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (dir, sys) = setup();
    let ca = support::tls::TestCa::new("check CA");
    let ca_pem = ca.write_pem(dir.path(), "ca.pem");
    let server = rt
        .block_on(https_common::start(
            "127.0.0.1:0",
            Some(support::tls::server_config(&ca.leaf(&["127.0.0.1"]))),
            0,
            https_common::ok("hi"),
        ))
        .unwrap();
    let url = format!("https://127.0.0.1:{}/", server.port());

    let ok = vorpal(
        dir.path(),
        &sys,
        &[],
        &[
            "--cert",
            ca_pem.to_str().unwrap(),
            "https",
            "--json",
            "--check",
            &url,
        ],
    );
    let v = json(&ok);
    assert_eq!(v["check"]["ok"], true);
    assert_eq!(v["check"]["verified"], true);
    assert_eq!(v["check"]["alpn"], "h2");

    let bad = vorpal(dir.path(), &sys, &[], &["https", "--check", &url]);
    assert_eq!(bad.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&bad.stdout);
    assert!(
        stdout.contains("unknown") && stdout.contains("ca-bundle"),
        "{stdout}"
    );

    let retired = vorpal(
        dir.path(),
        &sys,
        &[],
        &["https", "--check", "https://b.pypi.python.org/"],
    );
    assert_eq!(retired.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&retired.stderr).contains("PEP 449"));
    drop(server);
}
