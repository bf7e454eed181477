//! The meaning of `[mirror]`, `[s3]`, `[https]` and `[serve]`, written once for both
//! file formats: each format hands in a [`Section`] over its own values.

use std::path::PathBuf;

use super::filters::FILTER_SECTIONS;
use super::options::{ConfigValue, Section};
use super::*;

/// bandersnatch's default for `root_uri` when `release-files = false`.
pub(crate) const DEFAULT_ROOT_URI: &str = "https://files.pythonhosted.org";

/// Sections read here; the filter sections are [`FILTER_SECTIONS`].
const OWN_SECTIONS: &[&str] = &["mirror", "https", "serve", "s3"];

/// Every `[mirror]` key but `directory`, which the caller has read (a bandersnatch.conf
/// requires it, a vorpal.toml defaults it). Warnings go to `m`.
pub(crate) fn read_mirror<V: ConfigValue + ?Sized>(
    m: &mut Section<'_, V>,
    directory: PathBuf,
) -> Result<MirrorConfig, ConfigError> {
    let d = MirrorConfig::default();

    let release_files = m.bool("release-files")?.unwrap_or(d.release_files);
    let mut root_uri = m.text("root-uri")?;
    if !release_files && root_uri.is_none() {
        m.warn(format!(
            "release-files = false without root_uri; links point at {DEFAULT_ROOT_URI}"
        ));
        root_uri = Some(DEFAULT_ROOT_URI.to_string());
    }
    let download_mirror = m.text("download-mirror")?;
    let no_fallback = m.bool("download-mirror-no-fallback")?.unwrap_or(false);
    if no_fallback && download_mirror.is_none() {
        m.warn("download-mirror-no-fallback has no effect without download-mirror");
    }
    if let Some(v) = m.uint("verifiers", 1, 10)? {
        m.warn(format!(
            "verifiers = {v} is accepted but unused; use vorpal verify --workers N"
        ));
    }
    if let Some(v) = m.string("log-config")? {
        m.warn(format!(
            "log-config = {v} is ignored; vorpal logs through -v/-q, --log-format and VORPAL_LOG"
        ));
    }
    // bandersnatch 1.x-3.x: delete-packages = false kept projects removed upstream.
    let delete_packages = m.bool("delete-packages")?;
    let keep_deleted = match (m.bool("keep-deleted")?, delete_packages) {
        (Some(keep), _) => keep,
        (None, Some(delete)) => !delete,
        (None, None) => d.keep_deleted,
    };

    Ok(MirrorConfig {
        directory,
        master: m
            .string("master")?
            .map(|s| s.trim_end_matches('/').to_string())
            .unwrap_or(d.master),
        api_method: m.named("api-method")?,
        metadata_source: m.named("metadata-source")?,
        workers: m.uint("workers", 1, 256)?.map_or(d.workers, |v| v as usize),
        download_concurrency: m
            .uint("download-concurrency", 1, 1024)?
            .map_or(d.download_concurrency, |v| v as usize),
        json: m.bool("json")?.unwrap_or(d.json),
        allow_non_https: m.bool("allow-non-https")?.unwrap_or(d.allow_non_https),
        timeout: m.seconds("timeout")?.unwrap_or(d.timeout),
        global_timeout: m.seconds("global-timeout")?.unwrap_or(d.global_timeout),
        stop_on_error: m.bool("stop-on-error")?.unwrap_or(d.stop_on_error),
        release_files,
        core_metadata: m.bool("core-metadata")?.unwrap_or(d.core_metadata),
        hash_index: m.bool("hash-index")?.unwrap_or(d.hash_index),
        simple_format: m.named("simple-format")?,
        compare_method: m.named("compare-method")?,
        digest_name: m
            .choice("digest-name", &[("sha256", "sha256"), ("md5", "md5")])?
            .map_or(d.digest_name, str::to_string),
        keep_index_versions: m
            .uint("keep-index-versions", 0, 1000)?
            .map_or(d.keep_index_versions, |v| v as u32),
        cleanup: m.bool("cleanup")?.unwrap_or(d.cleanup),
        root_uri,
        download_mirror,
        download_mirror_no_fallback: no_fallback,
        diff_file: m.path("diff-file")?,
        diff_append_epoch: m.bool("diff-append-epoch")?.unwrap_or(d.diff_append_epoch),
        proxy: m.text("proxy")?,
        download_hosts: m.strings("download-hosts")?.unwrap_or(d.download_hosts),
        stale_retries: m
            .uint("stale-retries", 1, 20)?
            .map_or(d.stale_retries, |v| v as u32),
        keep_deleted,
        storage_backend: m.named("storage-backend")?,
    })
}

/// `[s3]`, bandersnatch's keys.
pub(crate) fn read_s3<V: ConfigValue + ?Sized>(
    s: &mut Section<'_, V>,
) -> Result<S3Config, ConfigError> {
    Ok(S3Config {
        region_name: s.string("region-name")?,
        aws_access_key_id: s.string("aws-access-key-id")?,
        aws_secret_access_key: s.string("aws-secret-access-key")?,
        endpoint_url: s.string("endpoint-url")?,
        signature_version: s.string("signature-version")?,
    })
}

/// `[https]`; an unknown `verify` value is a warning and counts as not set.
pub(crate) fn read_https<V: ConfigValue + ?Sized>(
    h: &mut Section<'_, V>,
) -> Result<HttpsConfig, ConfigError> {
    let verify = h.string("verify")?;
    let https = HttpsConfig {
        verify: verify
            .as_deref()
            .and_then(|v| VerifySetting::parse(v.trim())),
        ca_bundle: h
            .strings("ca-bundle")?
            .unwrap_or_default()
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .collect(),
        insecure_hosts: h.strings("insecure-hosts")?.unwrap_or_default(),
        client_cert: h.path("client-cert")?,
    };
    if let Some(v) = verify
        && https.verify.is_none()
    {
        h.warn(format!(
            "verify = \"{v}\" is not one of enable, disable, platform_default; treated as not set"
        ));
    }
    Ok(https)
}

/// `[serve]`.
pub(crate) fn read_serve<V: ConfigValue + ?Sized>(
    s: &mut Section<'_, V>,
) -> Result<ServeConfig, ConfigError> {
    Ok(ServeConfig {
        listen: s.strings("listen")?.unwrap_or_default(),
        tls_cert: s.path("tls-cert")?,
        tls_key: s.path("tls-key")?,
        public_url: s.text("public-url")?,
    })
}

/// Checks that need more than one section.
pub(crate) fn cross_checks(cfg: &Config, file: &str) -> Vec<String> {
    let mut out = Vec::new();
    if cfg.mirror.digest_name != "sha256" {
        out.push(format!(
            "{file}: [mirror] digest_name = {} is accepted, but links always carry #sha256= (md5 proves nothing against tampering, and pip and uv prefer sha256)",
            cfg.mirror.digest_name
        ));
    }
    if cfg.mirror.storage_backend == StorageBackend::S3 {
        out.push(format!(
            "{file}: [mirror] storage-backend = s3 is not available yet; the mirror is written to the local directory"
        ));
    }
    out
}

/// A warning for every section neither these readers nor the filters read.
pub(crate) fn unknown_sections<'a>(
    file: &str,
    names: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    names
        .into_iter()
        .filter(|n| !OWN_SECTIONS.contains(n) && !FILTER_SECTIONS.contains(n))
        .map(|n| format!("{file}: unknown section [{n}] is ignored"))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn toml(text: &str) -> Result<Config, ConfigError> {
        parse_toml(Path::new("/etc/vorpal.toml"), text)
    }

    fn ini(text: &str) -> Result<Config, ConfigError> {
        parse_bandersnatch(Path::new("/etc/bandersnatch.conf"), text)
    }

    /// Every key [mirror], [s3], [https] and [serve] read, away from its default.
    const TOML: &str = r#"
[mirror]
directory = "/srv/pypi"
master = "https://mirror.example/"
api-method = "xmlrpc"
metadata_source = "simple"
workers = 9
download-concurrency = 40
json = true
allow-non-https = true
timeout = 12.5
global-timeout = 3600
stop-on-error = true
release-files = false
core-metadata = false
hash-index = true
simple-format = "JSON"
compare-method = "stat"
digest_name = "md5"
keep_index_versions = 3
cleanup = true
root_uri = "https://files.example"
download-mirror = "https://dl.example"
download-mirror-no-fallback = true
diff-file = "/srv/pypi/mirrored-files"
diff-append-epoch = true
proxy = "http://proxy.example:3128"
download-hosts = ["files.example", "dl.example"]
stale-retries = 5
delete-packages = false
storage-backend = "s3"

[s3]
region_name = "eu-west-1"
endpoint_url = "https://minio.example:9000"

[https]
verify = "disable"
ca-bundle = ["/etc/ssl/a.pem", "/etc/ssl/b.pem"]
insecure-hosts = ["mirror.internal:8443"]
client-cert = "/etc/vorpal/client.pem"

[serve]
listen = ["127.0.0.1:8443", "[::1]:8443"]
tls-cert = "/etc/vorpal/cert.pem"
tls-key = "/etc/vorpal/key.pem"
public-url = "https://pypi.example.internal"
"#;

    /// [`TOML`] as a bandersnatch.conf: ConfigParser booleans, lists one per line.
    const INI: &str = "
[mirror]
directory = /srv/pypi
master = https://mirror.example/
api-method = xmlrpc
metadata_source = simple
workers = 9
download-concurrency = 40
json = yes
allow-non-https = on
timeout = 12.5
global-timeout = 3600
stop-on-error = 1
release-files = no
core-metadata = off
hash-index = True
simple-format = JSON
compare-method = stat
digest_name = md5
keep_index_versions = 3
cleanup = true
root_uri = https://files.example
download-mirror = https://dl.example
download-mirror-no-fallback = yes
diff-file = {{mirror_directory}}/mirrored-files
diff-append-epoch = 1
proxy = http://proxy.example:3128
download-hosts =
    files.example
    dl.example
stale-retries = 5
delete-packages = false
storage-backend = s3

[s3]
region_name = eu-west-1
endpoint_url = https://minio.example:9000

[https]
verify = disable
ca-bundle = /etc/ssl/a.pem /etc/ssl/b.pem
insecure-hosts = mirror.internal:8443
client-cert = /etc/vorpal/client.pem

[serve]
listen = 127.0.0.1:8443 [::1]:8443
tls-cert = /etc/vorpal/cert.pem
tls-key = /etc/vorpal/key.pem
public-url = https://pypi.example.internal
";

    #[test]
    fn one_option_set_in_both_formats_gives_one_config() {
        let (t, i) = (toml(TOML).unwrap(), ini(INI).unwrap());
        // Only the notes about accepted-but-inactive values (md5 links, s3) are left.
        assert_eq!(t.warnings.len(), 2, "{:?}", t.warnings);
        assert_eq!(i.warnings.len(), 2, "{:?}", i.warnings);
        assert_eq!(t.mirror, i.mirror);
        assert_ne!(t.mirror, MirrorConfig::default());
        assert!(t.mirror.keep_deleted, "delete-packages = false");
        assert_eq!(t.s3, i.s3);
        assert_eq!(format!("{:?}", t.https), format!("{:?}", i.https));
        assert_eq!(t.https.ca_bundle.len(), 2);
        assert_eq!(format!("{:?}", t.serve), format!("{:?}", i.serve));
        assert_eq!(t.serve.listen.len(), 2);
    }

    #[test]
    fn notes_and_defaults_apply_to_both_formats() {
        let cases = [
            (
                "[mirror]\nrelease-files = false\n",
                "[mirror]\ndirectory = ./mirror\nrelease-files = false\n",
                "release-files = false without root_uri",
            ),
            (
                "[mirror]\ndownload-mirror-no-fallback = true\n",
                "[mirror]\ndirectory = ./mirror\ndownload-mirror-no-fallback = true\n",
                "no effect without download-mirror",
            ),
            (
                "[mirror]\nverifiers = 4\n",
                "[mirror]\ndirectory = ./mirror\nverifiers = 4\n",
                "verifiers = 4 is accepted but unused",
            ),
            (
                "[mirror]\nlog-config = \"/etc/log.conf\"\n",
                "[mirror]\ndirectory = ./mirror\nlog-config = /etc/log.conf\n",
                "log-config = /etc/log.conf is ignored",
            ),
            (
                "[mirror]\nstorage-backend = \"s3\"\n",
                "[mirror]\ndirectory = ./mirror\nstorage-backend = s3\n",
                "storage-backend = s3 is not available yet",
            ),
            (
                "[mirror]\nroot-uri = \"https://a\"\nroot_uri = \"https://b\"\n",
                "[mirror]\ndirectory = ./mirror\nroot-uri = https://a\nroot_uri = https://b\n",
                "root-uri is set more than once (root-uri, root_uri); root_uri is used",
            ),
        ];
        for (t, i, note) in cases {
            let (t, i) = (toml(t).unwrap(), ini(i).unwrap());
            assert_eq!(t.mirror, i.mirror, "{note}");
            for c in [&t, &i] {
                assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
                assert!(c.warnings[0].contains(note), "{:?}", c.warnings);
            }
        }
        let c = toml("[mirror]\nrelease-files = false\n").unwrap();
        assert_eq!(c.mirror.root_uri.as_deref(), Some(DEFAULT_ROOT_URI));
        let c = toml("[mirror]\nroot-uri = \"https://a\"\nroot_uri = \"https://b\"\n").unwrap();
        assert_eq!(c.mirror.root_uri.as_deref(), Some("https://b"));
    }

    #[test]
    fn each_format_keeps_its_value_rules() {
        // A ConfigParser boolean word is not a TOML boolean.
        let e = toml("[mirror]\njson = \"yes\"\n").unwrap_err().0;
        assert!(
            e.contains("/etc/vorpal.toml: [mirror] json = \"yes\"") && e.contains("true or false"),
            "{e}"
        );
        // TOML's infinity is not a timeout.
        let e = toml("[mirror]\ntimeout = inf\n").unwrap_err().0;
        assert!(e.contains("positive number of seconds"), "{e}");
        let e = ini("[mirror]\ndirectory = /m\ntimeout = inf\n")
            .unwrap_err()
            .0;
        assert!(e.contains("positive number of seconds"), "{e}");
        let e = toml("[mirror]\nworkers = \"4\"\n").unwrap_err().0;
        assert!(e.contains("a whole number from 1 to 256"), "{e}");
        let e = toml("[s3]\nregion_name = 1\n").unwrap_err().0;
        assert!(
            e.contains("[s3] region-name = 1") && e.contains("a string"),
            "{e}"
        );
        // An empty INI value is an empty list.
        let c = ini("[mirror]\ndirectory = /m\n[serve]\nlisten =\n").unwrap();
        assert!(c.serve.listen.is_empty() && c.warnings.is_empty());
    }
}
