//! PEP 493's decision: does the HTTPS client verify certificates by default?
//!
//! Precedence, highest first: the runtime switch (`--https-verify` or
//! `ClientBuilder::verify_certificates`) > `VORPAL_HTTPS_VERIFY` (unless `-E`) >
//! the mirror config's `[https] verify` > the system file > enable.

use std::fmt;
use std::path::{Path, PathBuf};

use super::VERIFY_ENV_VAR;
use crate::config::{ConfigError, VerifySetting, ini};
use crate::environment::Environment;

/// The runtime switch and who flipped it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeSwitch {
    /// `--https-verify enable|disable`.
    Flag(bool),
    /// `ClientBuilder::verify_certificates(bool)`.
    Library(bool),
}

/// Which source made the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecisionSource {
    RuntimeFlag,
    Library,
    EnvironmentVariable,
    MirrorConfig(PathBuf),
    SystemFile(PathBuf),
    PlatformDefault,
}

impl DecisionSource {
    /// Stable machine name (used by `vorpal https --json`).
    pub fn key(&self) -> &'static str {
        match self {
            DecisionSource::RuntimeFlag => "runtime_flag",
            DecisionSource::Library => "library",
            DecisionSource::EnvironmentVariable => "environment_variable",
            DecisionSource::MirrorConfig(_) => "mirror_config",
            DecisionSource::SystemFile(_) => "system_file",
            DecisionSource::PlatformDefault => "platform_default",
        }
    }

    /// The file behind the decision, if a file made it.
    pub fn path(&self) -> Option<&Path> {
        match self {
            DecisionSource::MirrorConfig(p) | DecisionSource::SystemFile(p) => Some(p),
            _ => None,
        }
    }
}

impl fmt::Display for DecisionSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecisionSource::RuntimeFlag => write!(f, "the --https-verify flag"),
            DecisionSource::Library => write!(f, "ClientBuilder::verify_certificates"),
            DecisionSource::EnvironmentVariable => {
                write!(f, "the environment variable {VERIFY_ENV_VAR}")
            }
            DecisionSource::MirrorConfig(p) => write!(f, "[https] verify in {}", p.display()),
            DecisionSource::SystemFile(p) => write!(f, "the system file {}", p.display()),
            DecisionSource::PlatformDefault => write!(f, "the platform default (enable)"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub verify: bool,
    pub source: DecisionSource,
    /// Things the user should know (an unknown value treated as absent, ...).
    pub warnings: Vec<String>,
}

/// The mirror config's own choice and the file it came from.
#[derive(Debug, Clone, Copy)]
pub struct MirrorSetting<'a> {
    pub verify: Option<VerifySetting>,
    pub path: &'a Path,
}

/// Resolve the decision from every source, highest precedence first.
pub fn resolve(
    runtime: Option<RuntimeSwitch>,
    env: &Environment,
    mirror: Option<MirrorSetting<'_>>,
    system_file: &Path,
) -> Result<Decision, ConfigError> {
    let decided = |verify, source| Decision {
        verify,
        source,
        warnings: Vec::new(),
    };
    match runtime {
        Some(RuntimeSwitch::Flag(v)) => return Ok(decided(v, DecisionSource::RuntimeFlag)),
        Some(RuntimeSwitch::Library(v)) => return Ok(decided(v, DecisionSource::Library)),
        None => {}
    }
    // As in the combined PEP 493 backport, a *set* variable decides whatever its
    // value (even empty): only the exact string "0" disables, and the lower
    // sources (mirror config, system file) are then not consulted at all.
    // `Environment` already hides VORPAL_* under -E.
    if let Some(value) = env.get_os(VERIFY_ENV_VAR) {
        return Ok(decided(value != "0", DecisionSource::EnvironmentVariable));
    }
    // In the mirror config, `platform_default` defers to the platform, whose
    // policy is the system file.
    if let Some(m) = mirror {
        match m.verify {
            Some(VerifySetting::Enable) => {
                return Ok(decided(true, DecisionSource::MirrorConfig(m.path.into())));
            }
            Some(VerifySetting::Disable) => {
                return Ok(decided(false, DecisionSource::MirrorConfig(m.path.into())));
            }
            Some(VerifySetting::PlatformDefault) | None => {}
        }
    }
    let mut warnings = Vec::new();
    if let Some(verify) = read_system_file(system_file, &mut warnings)? {
        return Ok(Decision {
            verify,
            source: DecisionSource::SystemFile(system_file.into()),
            warnings,
        });
    }
    Ok(Decision {
        verify: true,
        source: DecisionSource::PlatformDefault,
        warnings,
    })
}

/// The system file's choice, or `None` when it is absent in PEP 493's sense
/// (missing or unreadable file, no `[https]`, no `verify`, unknown value).
/// A syntactically broken file is an error: never a silent downgrade.
pub fn read_system_file(
    path: &Path,
    warnings: &mut Vec<String>,
) -> Result<Option<bool>, ConfigError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        // Missing, unreadable, a directory: PEP 493 treats all of these as absent.
        Err(_) => return Ok(None),
    };
    let text = String::from_utf8(bytes).map_err(|_| {
        ConfigError::new(format!(
            "{}: not UTF-8 text; fix or remove the certificate-verification file",
            path.display()
        ))
    })?;
    let doc = ini::parse(&text).map_err(|e| {
        ConfigError::new(format!(
            "{}:{}: {}; the certificate-verification file must be INI with [https] verify = enable|disable|platform_default",
            path.display(),
            e.line,
            e.message
        ))
    })?;
    let Some(value) = doc.get("https", "verify") else {
        return Ok(None);
    };
    match VerifySetting::parse(value) {
        Some(VerifySetting::Enable) => Ok(Some(true)),
        Some(VerifySetting::Disable) => Ok(Some(false)),
        Some(VerifySetting::PlatformDefault) => Ok(Some(true)),
        None => {
            warnings.push(format!(
                "{}: [https] verify = {value:?} is not one of enable, disable, platform_default; treated as not set",
                path.display()
            ));
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const V: bool = true;
    const N: bool = false;

    fn env(var: Option<&str>, ignore: bool) -> Environment {
        Environment::from_pairs(var.map(|v| (VERIFY_ENV_VAR, v)), ignore)
    }

    fn file(contents: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(contents.as_bytes()).unwrap();
        f
    }

    fn missing() -> PathBuf {
        PathBuf::from("/nonexistent/vorpal/cert-verification.cfg")
    }

    fn decide(var: Option<&str>, ignore: bool, system: &Path) -> Decision {
        resolve(None, &env(var, ignore), None, system).unwrap()
    }

    #[test]
    fn variable_rows() {
        assert_eq!(decide(None, false, &missing()).verify, V);
        assert_eq!(
            decide(None, false, &missing()).source,
            DecisionSource::PlatformDefault
        );
        let d = decide(Some("0"), false, &missing());
        assert_eq!(
            (d.verify, d.source),
            (N, DecisionSource::EnvironmentVariable)
        );
        for value in [
            "", "1", "enabled", "foo", " 0", "0 ", "00", "false", "no", "off", "0\n",
        ] {
            let d = decide(Some(value), false, &missing());
            assert_eq!(d.verify, V, "var {value:?}");
            assert_eq!(
                d.source,
                DecisionSource::EnvironmentVariable,
                "var {value:?}"
            );
        }
    }

    #[test]
    fn ignore_environment_rows() {
        let d = decide(Some("0"), true, &missing());
        assert_eq!((d.verify, d.source), (V, DecisionSource::PlatformDefault));
        let f = file("[https]\nverify = disable\n");
        let d = decide(Some("0"), true, f.path());
        assert_eq!(d.verify, N);
        assert_eq!(d.source, DecisionSource::SystemFile(f.path().into()));
    }

    #[test]
    fn system_file_rows() {
        let rows: &[(&str, bool, bool)] = &[
            // (contents, expected, decided by the file)
            ("[https]\nverify = enable\n", V, true),
            ("[https]\nverify = disable\n", N, true),
            ("[https]\nverify = platform_default\n", V, true),
            ("[HTTPS]\nverify = disable\n", V, false),
            ("[https]\nother = disable\n", V, false),
            ("[https]\nVERIFY = disable\n", N, true),
            ("[https]\nverify:disable\n", N, true),
            ("[https]\nverify =  disable ; x\n", N, true),
            ("[DEFAULT]\nverify = disable\n[https]\n", N, true),
        ];
        for (contents, expected, by_file) in rows {
            let f = file(contents);
            let d = decide(None, false, f.path());
            assert_eq!(d.verify, *expected, "{contents:?}");
            assert!(d.warnings.is_empty(), "{contents:?}");
            let src = if *by_file {
                DecisionSource::SystemFile(f.path().into())
            } else {
                DecisionSource::PlatformDefault
            };
            assert_eq!(d.source, src, "{contents:?}");
        }
    }

    #[test]
    fn unknown_values_are_absent_with_a_warning() {
        for value in ["Enable", "true", ""] {
            let f = file(&format!("[https]\nverify = {value}\n"));
            let d = decide(None, false, f.path());
            assert_eq!(d.verify, V, "{value:?}");
            assert_eq!(d.source, DecisionSource::PlatformDefault);
            assert_eq!(d.warnings.len(), 1, "{value:?}");
            assert!(d.warnings[0].contains(&f.path().display().to_string()));
        }
    }

    #[test]
    fn missing_and_unreadable_files_are_absent() {
        assert_eq!(decide(None, false, &missing()).verify, V);
        // Tests run as root, where mode 000 is still readable; a directory at the
        // path is unreadable as a file for everyone, so it stands in for mode 000.
        let dir = tempfile::tempdir().unwrap();
        let d = decide(None, false, dir.path());
        assert_eq!((d.verify, d.source), (V, DecisionSource::PlatformDefault));
        // And the real mode-000 case where it means something (not root).
        let f = file("[https]\nverify = disable\n");
        let is_root = unsafe { libc::geteuid() } == 0;
        if !is_root {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(0o000)).unwrap();
            assert_eq!(decide(None, false, f.path()).verify, V);
        }
    }

    #[test]
    fn broken_file_is_an_error_naming_file_and_line() {
        let f = file("[https]\nverify = disable\nthis is not ini\n");
        let e = resolve(None, &env(None, false), None, f.path()).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains(&format!("{}:3", f.path().display())), "{msg}");
        let f = file("verify = disable\n");
        assert!(resolve(None, &env(None, false), None, f.path()).is_err());
    }

    #[test]
    fn variable_and_file_combinations() {
        let disable = file("[https]\nverify = disable\n");
        let enable = file("[https]\nverify = enable\n");
        assert_eq!(decide(Some("1"), false, disable.path()).verify, V);
        assert_eq!(decide(Some("0"), false, enable.path()).verify, N);
        let d = decide(Some(""), false, disable.path());
        assert_eq!(
            (d.verify, d.source),
            (V, DecisionSource::EnvironmentVariable)
        );
        // A set variable means the file is never read, so even a broken one is fine.
        let broken = file("nonsense\n");
        assert_eq!(decide(Some("1"), false, broken.path()).verify, V);
    }

    #[test]
    fn runtime_switch_wins() {
        let disable = file("[https]\nverify = disable\n");
        let d = resolve(
            Some(RuntimeSwitch::Flag(true)),
            &env(Some("0"), false),
            None,
            disable.path(),
        )
        .unwrap();
        assert_eq!((d.verify, d.source), (V, DecisionSource::RuntimeFlag));
        let d = resolve(
            Some(RuntimeSwitch::Library(false)),
            &env(Some("1"), false),
            None,
            &missing(),
        )
        .unwrap();
        assert_eq!((d.verify, d.source), (N, DecisionSource::Library));
    }

    #[test]
    fn mirror_config_sits_between_variable_and_system_file() {
        let cfg = PathBuf::from("/srv/vorpal.toml");
        let disable = file("[https]\nverify = disable\n");
        let m = |v| {
            Some(MirrorSetting {
                verify: Some(v),
                path: &cfg,
            })
        };
        let d = resolve(
            None,
            &env(None, false),
            m(VerifySetting::Enable),
            disable.path(),
        )
        .unwrap();
        assert_eq!(
            (d.verify, d.source),
            (V, DecisionSource::MirrorConfig(cfg.clone()))
        );
        let d = resolve(
            None,
            &env(Some("1"), false),
            m(VerifySetting::Disable),
            &missing(),
        )
        .unwrap();
        assert_eq!(d.verify, V);
        let d = resolve(
            None,
            &env(None, false),
            m(VerifySetting::Disable),
            &missing(),
        )
        .unwrap();
        assert_eq!(
            (d.verify, d.source),
            (N, DecisionSource::MirrorConfig(cfg.clone()))
        );
        // platform_default in the mirror config defers to the system file.
        let d = resolve(
            None,
            &env(None, false),
            m(VerifySetting::PlatformDefault),
            disable.path(),
        )
        .unwrap();
        assert_eq!(d.verify, N);
    }

    #[test]
    fn environment_is_a_snapshot() {
        // The decision reads the snapshot handed in, never the live process
        // environment (the live-change row is tests/https_env_snapshot.rs).
        let snapshot = env(None, false);
        let later = env(Some("0"), false);
        assert_eq!(
            resolve(None, &snapshot, None, &missing()).unwrap().verify,
            V
        );
        assert_eq!(resolve(None, &later, None, &missing()).unwrap().verify, N);
    }
}
