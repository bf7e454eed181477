//! `prerelease_release`: drop versions that look like pre-releases, by bandersnatch's
//! four patterns on the version string (not PEP 440 parsing: `1.0-rc.1` is kept, as
//! there), optionally only for `[filter_prerelease] packages`.

use regex::Regex;

use crate::index::normalize;

const PATTERNS: &[&str] = &[
    r".+rc\d+$",
    r".+a(lpha)?\d+$",
    r".+b(eta)?\d+$",
    r".+dev\d+$",
];

#[derive(Debug, Clone)]
pub(super) struct PrereleaseFilter {
    patterns: Vec<Regex>,
    /// Normalized names; empty means every project.
    only: Vec<String>,
}

impl PrereleaseFilter {
    pub fn new(packages: &[String]) -> PrereleaseFilter {
        PrereleaseFilter {
            patterns: PATTERNS
                .iter()
                .filter_map(|p| Regex::new(&format!("^(?:{p})")).ok())
                .collect(),
            only: packages.iter().map(|p| normalize(p)).collect(),
        }
    }

    /// True when `version` of project `name` (normalized) is dropped.
    pub fn drops(&self, name: &str, version: &str) -> bool {
        if !self.only.is_empty() && !self.only.iter().any(|n| n == name) {
            return false;
        }
        self.patterns.iter().any(|p| p.is_match(version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let f = PrereleaseFilter::new(&[]);
        for v in [
            "1.0rc1",
            "1.0a1",
            "1.0alpha2",
            "2.0b3",
            "2.0beta1",
            "1.0.dev0",
            "2.0b1.dev3",
        ] {
            assert!(f.drops("x", v), "{v}");
        }
        for v in [
            "1.0",
            "1.0.post1",
            "1.0-rc.1",
            "1.0c1",
            "rc1",
            "1.0rc1.post1",
        ] {
            assert!(!f.drops("x", v), "{v}");
        }
    }

    #[test]
    fn only_listed_packages() {
        let f = PrereleaseFilter::new(&["Foo.Bar".into()]);
        assert!(f.drops("foo-bar", "1.0rc1"));
        assert!(!f.drops("other", "1.0rc1"));
    }
}
