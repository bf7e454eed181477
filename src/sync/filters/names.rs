//! Name and specifier lists: `allowlist_*`, `blocklist_*`, `project_requirements*`.
//!
//! Like bandersnatch, release specifiers are evaluated with pre-releases allowed
//! (`requirement.specifier.prereleases = True`): `black>=25.1.0` matches `25.2.0rc1` but
//! not `25.1.0rc1`, which sorts before `25.1.0`. Versions that are not PEP 440 never
//! match a specifier (so an allowlist drops them and a blocklist keeps them).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{Requirement, VerbatimUrl, VersionOrUrl};

use crate::config::ConfigError;
use crate::config::filters::FilterConfig;
use crate::index::{is_valid_name, normalize};

/// A parsed requirement line: normalized name and its specifiers (empty: every version).
#[derive(Debug, Clone)]
pub(super) struct Req {
    pub name: String,
    pub specifiers: VersionSpecifiers,
}

impl Req {
    pub fn parse(line: &str) -> Result<Req, String> {
        let r = Requirement::<VerbatimUrl>::from_str(line)
            .map_err(|e| e.to_string().lines().next().unwrap_or_default().to_string())?;
        let specifiers = match r.version_or_url {
            Some(VersionOrUrl::VersionSpecifier(s)) => s,
            // A URL requirement names the project but pins no version.
            Some(VersionOrUrl::Url(_)) | None => VersionSpecifiers::empty(),
        };
        Ok(Req {
            name: normalize(r.name.as_ref()),
            specifiers,
        })
    }
}

/// Parse configured requirement lines (already validated by the config reader).
pub(super) fn parse_lines(
    lines: &[String],
    section: &str,
    option: &str,
) -> Result<Vec<Req>, ConfigError> {
    lines
        .iter()
        .map(|l| {
            Req::parse(l).map_err(|e| {
                ConfigError::new(format!(
                    "[{section}] {option} = {l:?} is not a valid requirement: {e}"
                ))
            })
        })
        .collect()
}

/// bandersnatch's `blocklist_project` takes only lines that are exactly a project name
/// (no specifier, extras or marker); the rest are for `blocklist_release`.
pub(super) fn bare_names(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| is_valid_name(l))
        .map(|l| normalize(l))
        .collect()
}

/// Whether any requirement for `name` (normalized) contains `version`.
pub(super) fn matches(reqs: &[Req], name: &str, version: &str) -> bool {
    let Ok(version) = Version::from_str(version) else {
        return false;
    };
    reqs.iter()
        .any(|r| r.name == name && r.specifiers.contains(&version))
}

/// The requirement files `[allowlist] requirements` names, resolved against
/// `requirements_path` (itself relative to the config file's directory).
pub(super) fn requirement_files(cfg: &FilterConfig) -> Result<Vec<PathBuf>, ConfigError> {
    let base = match &cfg.requirements_path {
        Some(p) => cfg.base_dir.join(p),
        None => cfg.base_dir.clone(),
    };
    let mut files = Vec::new();
    for entry in &cfg.requirements {
        let path = base.join(entry);
        if entry.contains(['*', '?', '[']) {
            let pattern = path.to_string_lossy().into_owned();
            let found = glob::glob(&pattern).map_err(|e| {
                ConfigError::new(format!(
                    "[allowlist] requirements = {entry:?} is not a valid glob ({e}); use *, ? and [...] patterns"
                ))
            })?;
            let mut matched: Vec<PathBuf> = found.filter_map(Result::ok).collect();
            if matched.is_empty() {
                tracing::warn!(
                    "[allowlist] requirements glob {} matches no file",
                    path.display()
                );
            }
            matched.sort();
            files.extend(matched);
        } else {
            files.push(path);
        }
    }
    Ok(files)
}

/// Every requirement in the given files.
pub(super) fn read_requirement_files(files: &[PathBuf]) -> Result<Vec<Req>, ConfigError> {
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|e| {
            ConfigError::new(format!(
                "cannot read requirements file {} ([allowlist] requirements): {e}; fix requirements_path or the file name",
                file.display()
            ))
        })?;
        out.extend(parse_requirements_text(file, &text));
    }
    Ok(out)
}

/// A pip requirements file: comments, blank lines and option lines (`-r`, `-c`, `-e`,
/// `--index-url`, ...) are skipped, per-requirement options (`--hash=...`) cut off,
/// `\` continuations joined. Lines that are not PEP 508 (paths, bare URLs) are skipped
/// with a warning rather than failing the whole mirror.
fn parse_requirements_text(file: &Path, text: &str) -> Vec<Req> {
    let mut logical = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let line = match line
            .find(" #")
            .or_else(|| line.starts_with('#').then_some(0))
        {
            Some(i) => &line[..i],
            None => line,
        };
        if let Some(body) = line.trim_end().strip_suffix('\\') {
            pending.push_str(body);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        logical.push(std::mem::take(&mut pending));
    }
    logical.push(pending);

    let mut out = Vec::new();
    for line in logical {
        let line = line.trim();
        if line.is_empty() || line.starts_with('-') {
            continue;
        }
        let requirement = match line.find(" -") {
            Some(i) => line[..i].trim(),
            None => line,
        };
        match Req::parse(requirement) {
            Ok(r) => out.push(r),
            Err(e) => tracing::warn!(
                "{}: skipping requirement line {requirement:?}: {e}",
                file.display()
            ),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reqs(lines: &[&str]) -> Vec<Req> {
        lines.iter().map(|l| Req::parse(l).unwrap()).collect()
    }

    #[test]
    fn specifiers_follow_bandersnatch_prerelease_rule() {
        let r = reqs(&["black>=25.1.0"]);
        assert!(matches(&r, "black", "25.1.0"));
        assert!(
            matches(&r, "black", "25.2.0rc1"),
            "pre-releases above the bound match"
        );
        assert!(!matches(&r, "black", "25.1.0rc1"), "25.1.0rc1 < 25.1.0");
        assert!(!matches(&r, "black", "24.10.0"));
        assert!(!matches(&r, "black", "not a version"));
        assert!(!matches(&r, "other", "25.1.0"));
    }

    #[test]
    fn bare_name_matches_every_version_and_names_normalize() {
        let r = reqs(&["Foo.Bar", "pkg @ https://example.invalid/pkg-1.0.whl"]);
        assert!(matches(&r, "foo-bar", "0.1.dev3"));
        assert!(matches(&r, "pkg", "7"));
        assert_eq!(
            bare_names(&["Foo.Bar".into(), "x>=1".into(), "y[extra]".into()]),
            vec!["foo-bar"]
        );
    }

    #[test]
    fn requirements_text() {
        let text = "# pinned\n-r other.txt\n--index-url https://x\nrequests==2.31.0 \\\n    --hash=sha256:abc\nDjango>=4 ; python_version >= \"3.8\"  # web\n./local/path\n\n-e .\n";
        let r = parse_requirements_text(Path::new("r.txt"), text);
        let names: Vec<_> = r.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, vec!["requests", "django"]);
        assert!(matches(&r, "requests", "2.31.0"));
        assert!(!matches(&r, "requests", "2.31.1"));
    }
}
