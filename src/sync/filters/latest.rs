//! `latest_release`: keep the newest `keep` releases by PEP 440 version or by upload
//! time, and always the version upstream calls current (`info.version`), which takes the
//! place of the oldest kept one — bandersnatch's `latest_name.py`.

use std::cmp::Ordering;
use std::str::FromStr;

use pep440_rs::Version;

use crate::config::filters::SortBy;

/// One candidate release: its version and the upload time of its first remaining file.
pub(super) struct Candidate<'a> {
    pub version: &'a str,
    pub first_upload: Option<&'a str>,
}

/// The versions to keep, from `releases` in upstream order.
pub(super) fn keep<'a>(
    releases: &[Candidate<'a>],
    keep: u64,
    sort_by: SortBy,
    info_version: Option<&'a str>,
) -> Vec<&'a str> {
    let all = || releases.iter().map(|c| c.version).collect();
    if keep == 0 || keep > releases.len() as u64 {
        return all();
    }
    let mut order: Vec<&Candidate> = releases.iter().collect();
    match sort_by {
        // Stable, newest first: equal times keep upstream order, as Python's sorted does.
        SortBy::Time => order.sort_by(|a, b| b.first_upload.cmp(&a.first_upload)),
        SortBy::Version => {
            // Python sorts (Version, str) pairs; versions that are not PEP 440 rank lowest.
            let key = |c: &Candidate| Version::from_str(c.version).ok();
            order.sort_by(|a, b| match key(b).cmp(&key(a)) {
                Ordering::Equal => b.version.cmp(a.version),
                o => o,
            });
        }
    }
    let mut kept: Vec<&str> = order
        .iter()
        .take(keep as usize)
        .map(|c| c.version)
        .collect();
    if let Some(current) = info_version
        && !kept.contains(&current)
        && let Some(last) = kept.last_mut()
    {
        *last = current;
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c<'a>(version: &'a str, time: &'a str) -> Candidate<'a> {
        Candidate {
            version,
            first_upload: Some(time),
        }
    }

    fn sorted(mut v: Vec<&str>) -> Vec<&str> {
        v.sort();
        v
    }

    #[test]
    fn by_version_with_ties_and_current() {
        let r = [
            c("1.0", "2020"),
            c("2.0", "2021"),
            c("1.10", "2022"),
            c("2.0.0", "2019"),
            c("junk", "2030"),
        ];
        // 2.0 == 2.0.0 as versions; the longer string sorts first, as (Version, str) does.
        assert_eq!(keep(&r, 2, SortBy::Version, None), vec!["2.0.0", "2.0"]);
        assert_eq!(
            keep(&r, 3, SortBy::Version, None),
            vec!["2.0.0", "2.0", "1.10"]
        );
        // info.version replaces the oldest kept release.
        assert_eq!(
            keep(&r, 2, SortBy::Version, Some("1.0")),
            vec!["2.0.0", "1.0"]
        );
        assert_eq!(
            keep(&r, 2, SortBy::Version, Some("2.0")),
            vec!["2.0.0", "2.0"]
        );
        assert_eq!(keep(&r, 0, SortBy::Version, None).len(), 5);
        assert_eq!(keep(&r, 6, SortBy::Version, None).len(), 5);
        assert_eq!(
            keep(&r, 5, SortBy::Version, None)[4],
            "junk",
            "invalid ranks last"
        );
    }

    #[test]
    fn by_time_with_ties() {
        let r = [
            c("1.0", "2024-01-01T00:00:00"),
            c("3.0", "2024-03-01T00:00:00"),
            c("1.1", "2024-03-01T00:00:00"),
            c("2.0", "2024-02-01T00:00:00"),
        ];
        // 3.0 and 1.1 tie; upstream order decides.
        assert_eq!(keep(&r, 1, SortBy::Time, None), vec!["3.0"]);
        assert_eq!(sorted(keep(&r, 2, SortBy::Time, None)), vec!["1.1", "3.0"]);
        assert_eq!(
            sorted(keep(&r, 3, SortBy::Time, None)),
            vec!["1.1", "2.0", "3.0"]
        );
        assert_eq!(
            sorted(keep(&r, 2, SortBy::Time, Some("1.0"))),
            vec!["1.0", "3.0"]
        );
        let missing = [
            Candidate {
                version: "9",
                first_upload: None,
            },
            c("1", "2020"),
        ];
        assert_eq!(
            keep(&missing, 1, SortBy::Time, None),
            vec!["1"],
            "no time ranks oldest"
        );
    }
}
