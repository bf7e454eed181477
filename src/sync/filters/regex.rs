//! `regex_project` and `regex_release` (`[filter_regex] packages` / `releases`): a
//! match excludes. Patterns use Python `re.match` semantics (anchored at the start,
//! not at the end), as bandersnatch compiles them.

use regex::Regex;

use crate::config::ConfigError;
use crate::config::filters::compile_regex;

#[derive(Debug, Clone, Default)]
pub(super) struct RegexList(Vec<Regex>);

impl RegexList {
    pub fn new(section_option: &str, patterns: &[String]) -> Result<RegexList, ConfigError> {
        patterns
            .iter()
            .map(|p| {
                compile_regex(p, true)
                    .map_err(|e| ConfigError::new(format!("{section_option} = {p:?}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(RegexList)
    }

    pub fn matches(&self, text: &str) -> bool {
        self.0.iter().any(|r| r.is_match(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchored_at_start_only() {
        let l = RegexList::new("t", &[r"\d+\.\d+\.dev".into(), "test-.*".into()]).unwrap();
        assert!(l.matches("1.2.dev3"));
        assert!(!l.matches("v1.2.dev3"), "re.match anchors at the start");
        assert!(l.matches("test-pkg"));
        assert!(l.matches("test-pkg-extra-stuff"), "but not at the end");
        assert!(!l.matches("my-test-pkg"));
    }
}
