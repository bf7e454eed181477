//! PEP 700 `versions`: every file's version, ordered by PEP 440, plus upload-time
//! normalization to the form the Simple API requires.

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::LazyLock;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use pep440_rs::Version;
use regex::Regex;

use crate::index::filename::version_from_filename;
use crate::index::model::Project;

/// Sorts and de-duplicates version strings: PEP 440 order first (ties by string), then
/// the unparsable ones as plain strings.
pub fn sort_versions<I: IntoIterator<Item = String>>(versions: I) -> Vec<String> {
    let unique: BTreeSet<String> = versions.into_iter().filter(|v| !v.is_empty()).collect();
    let mut parsed = Vec::new();
    let mut other = Vec::new();
    for v in unique {
        match Version::from_str(&v) {
            Ok(pv) => parsed.push((pv, v)),
            Err(_) => other.push(v),
        }
    }
    parsed.sort();
    parsed.into_iter().map(|(_, v)| v).chain(other).collect()
}

/// A file's version: the one upstream stated, else what the filename says.
pub fn file_version(file: &crate::index::model::DistFile, project: &str) -> Option<String> {
    file.version
        .clone()
        .filter(|v| !v.is_empty())
        .or_else(|| version_from_filename(&file.filename, project))
}

/// The project's listed versions plus every file's version, sorted.
pub fn project_versions(project: &Project) -> Vec<String> {
    let listed = project.versions.iter().cloned();
    let from_files = project
        .files
        .iter()
        .filter_map(|f| file_version(f, &project.name));
    sort_versions(listed.chain(from_files))
}

static UPLOAD_TIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$").expect("static regex")
});

/// Brings an upload time into `YYYY-MM-DDTHH:MM:SS(.ffffff)?Z` (UTC), the only form
/// PEP 700 allows. Accepts RFC 3339 with any offset, a missing zone (taken as UTC) and
/// more than six fraction digits (truncated). `None` when it is not a time at all.
pub fn normalize_upload_time(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if UPLOAD_TIME.is_match(raw) {
        return Some(raw.to_string());
    }
    let utc: DateTime<Utc> = match DateTime::parse_from_rfc3339(raw) {
        Ok(dt) => dt.with_timezone(&Utc),
        Err(_) => {
            let naive = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f")
                .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S%.f"))
                .ok()?;
            naive.and_utc()
        }
    };
    let nanos = utc.timestamp_subsec_nanos();
    let format = if nanos == 0 {
        SecondsFormat::Secs
    } else {
        SecondsFormat::Micros
    };
    let out = utc.to_rfc3339_opts(format, true);
    UPLOAD_TIME.is_match(&out).then_some(out)
}

/// True when `s` is already in the PEP 700 upload-time form.
pub fn is_normal_upload_time(s: &str) -> bool {
    UPLOAD_TIME.is_match(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::model::DistFile;

    #[test]
    fn pep440_order_then_strings() {
        let got = sort_versions(
            [
                "1.10",
                "1.2",
                "1.0rc1",
                "1.0",
                "banana",
                "2!0.1",
                "1.0",
                "apple",
                "1.0.post1",
                "",
            ]
            .map(String::from),
        );
        assert_eq!(
            got,
            [
                "1.0rc1",
                "1.0",
                "1.0.post1",
                "1.2",
                "1.10",
                "2!0.1",
                "apple",
                "banana"
            ]
        );
    }

    #[test]
    fn versions_cover_files() {
        let project = Project {
            name: "foo".into(),
            versions: vec!["0.9".into()],
            files: vec![
                DistFile {
                    filename: "foo-1.0.tar.gz".into(),
                    ..Default::default()
                },
                DistFile {
                    filename: "foo-2.0-py3-none-any.whl".into(),
                    version: Some("2.0".into()),
                    ..Default::default()
                },
                DistFile {
                    filename: "weird.bin".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        assert_eq!(project_versions(&project), ["0.9", "1.0", "2.0"]);
    }

    #[test]
    fn upload_times() {
        let n = |s: &str| normalize_upload_time(s);
        assert_eq!(
            n("2024-01-02T03:04:05.123456Z").as_deref(),
            Some("2024-01-02T03:04:05.123456Z")
        );
        assert_eq!(
            n("2024-01-02T03:04:05Z").as_deref(),
            Some("2024-01-02T03:04:05Z")
        );
        assert_eq!(
            n("2024-01-02T03:04:05.12Z").as_deref(),
            Some("2024-01-02T03:04:05.12Z")
        );
        assert_eq!(
            n("2024-01-02T03:04:05+00:00").as_deref(),
            Some("2024-01-02T03:04:05Z")
        );
        assert_eq!(
            n("2024-01-02T03:04:05.5+01:00").as_deref(),
            Some("2024-01-02T02:04:05.500000Z")
        );
        assert_eq!(
            n("2024-01-02T03:04:05").as_deref(),
            Some("2024-01-02T03:04:05Z")
        );
        assert_eq!(
            n("2024-01-02 03:04:05.123456").as_deref(),
            Some("2024-01-02T03:04:05.123456Z")
        );
        assert_eq!(
            n("2024-01-02T03:04:05.123456789Z").as_deref(),
            Some("2024-01-02T03:04:05.123456Z")
        );
        assert_eq!(n("yesterday"), None);
        assert_eq!(n(""), None);
        assert!(is_normal_upload_time("2024-01-02T03:04:05Z"));
        assert!(!is_normal_upload_time("2024-01-02T03:04:05+00:00"));
    }
}
