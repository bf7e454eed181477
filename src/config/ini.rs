//! ConfigParser-compatible INI reading, for PEP 493's system file and bandersnatch.conf.
//!
//! Hand-written because no crate follows Python's exact rules: `=` and `:` delimiters
//! (first one wins), case-sensitive section names, lowercased option names, trimmed
//! values, `#`/`;` full-line comments, inline comments only after whitespace,
//! indented continuation lines, `[DEFAULT]` inherited by every section, and
//! duplicate options/sections merged with the last value winning (`strict=False`).

use std::fmt;

/// The name of the section whose options every other section inherits.
pub const DEFAULT_SECTION: &str = "DEFAULT";

/// A syntax error, with the 1-based line it was found on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct IniError {
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Section {
    name: String,
    /// Option names (lowercased) and values, in first-seen order.
    options: Vec<(String, String)>,
}

impl Section {
    fn set(&mut self, name: String, value: String) -> usize {
        match self.options.iter().position(|(n, _)| *n == name) {
            Some(i) => {
                self.options[i].1 = value;
                i
            }
            None => {
                self.options.push((name, value));
                self.options.len() - 1
            }
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A parsed INI document. Sections keep file order; `[DEFAULT]` is held apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IniDocument {
    defaults: Section,
    sections: Vec<Section>,
}

impl IniDocument {
    /// Section names in file order, without `DEFAULT` (as ConfigParser's `sections()`).
    pub fn sections(&self) -> impl Iterator<Item = &str> {
        self.sections.iter().map(|s| s.name.as_str())
    }

    pub fn has_section(&self, section: &str) -> bool {
        self.sections.iter().any(|s| s.name == section)
    }

    /// The value of `option` in `section`, falling back to `[DEFAULT]`. The option
    /// name is case-insensitive, the section name is not. `None` if the section
    /// does not exist (unless it is `DEFAULT` itself).
    pub fn get(&self, section: &str, option: &str) -> Option<&str> {
        let option = option.trim().to_lowercase();
        if section == DEFAULT_SECTION {
            return self.defaults.get(&option);
        }
        let sect = self.sections.iter().find(|s| s.name == section)?;
        sect.get(&option).or_else(|| self.defaults.get(&option))
    }

    /// `(name, value)` pairs of a section including inherited defaults, in
    /// ConfigParser's `items()` order: defaults first (with overrides applied),
    /// then the section's own options. Empty if the section does not exist.
    pub fn options<'a>(&'a self, section: &str) -> impl Iterator<Item = (&'a str, &'a str)> {
        let own: Option<&Section> = if section == DEFAULT_SECTION {
            None
        } else {
            self.sections.iter().find(|s| s.name == section)
        };
        let exists = own.is_some() || section == DEFAULT_SECTION;
        let mut out: Vec<(&str, &str)> = Vec::new();
        if exists {
            for (n, v) in &self.defaults.options {
                let v = own.and_then(|s| s.get(n)).unwrap_or(v);
                out.push((n, v));
            }
            if let Some(s) = own {
                for (n, v) in &s.options {
                    if self.defaults.get(n).is_none() {
                        out.push((n, v));
                    }
                }
            }
        }
        out.into_iter()
    }
}

fn is_comment(stripped: &str) -> bool {
    stripped.starts_with('#') || stripped.starts_with(';')
}

/// Cut an inline comment: `;` or `#` preceded by whitespace.
fn strip_inline_comment(s: &str) -> &str {
    let mut prev_space = false;
    for (i, c) in s.char_indices() {
        if (c == ';' || c == '#') && prev_space {
            return &s[..i];
        }
        prev_space = c.is_whitespace();
    }
    s
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn err(line: usize, message: impl Into<String>) -> IniError {
    IniError {
        line,
        message: message.into(),
    }
}

/// Parse INI text with ConfigParser's rules (see the module comment).
pub fn parse(text: &str) -> Result<IniDocument, IniError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut doc = IniDocument {
        defaults: Section {
            name: DEFAULT_SECTION.into(),
            options: Vec::new(),
        },
        sections: Vec::new(),
    };
    // Which section we are in: None before any header, Some(None) = DEFAULT,
    // Some(Some(i)) = doc.sections[i].
    let mut current: Option<Option<usize>> = None;
    // The option a continuation line would extend: (index in its section, indent of its line).
    let mut last_option: Option<(usize, usize)> = None;

    for (idx, raw) in text.lines().enumerate() {
        let lineno = idx + 1;
        let stripped = raw.trim();
        if stripped.is_empty() {
            last_option = None;
            continue;
        }
        if is_comment(stripped) {
            continue;
        }
        let value = strip_inline_comment(stripped).trim();
        let indent = indent_of(raw);

        if let (Some(sect), Some((opt, opt_indent))) = (current, last_option)
            && indent > opt_indent
        {
            let section = match sect {
                None => &mut doc.defaults,
                Some(i) => &mut doc.sections[i],
            };
            let entry = &mut section.options[opt].1;
            entry.push('\n');
            entry.push_str(value);
            continue;
        }

        if value.starts_with('[') {
            let Some(end) = value.rfind(']') else {
                return Err(err(
                    lineno,
                    format!("section header {value:?} has no closing ']'"),
                ));
            };
            let name = &value[1..end];
            if name.is_empty() {
                return Err(err(lineno, "empty section name '[]'"));
            }
            current = Some(if name == DEFAULT_SECTION {
                None
            } else {
                match doc.sections.iter().position(|s| s.name == name) {
                    Some(i) => Some(i),
                    None => {
                        doc.sections.push(Section {
                            name: name.to_string(),
                            options: Vec::new(),
                        });
                        Some(doc.sections.len() - 1)
                    }
                }
            });
            last_option = None;
            continue;
        }

        let Some(sect) = current else {
            return Err(err(
                lineno,
                format!("{value:?} comes before any [section] header"),
            ));
        };
        let Some(pos) = value.find(['=', ':']) else {
            return Err(err(
                lineno,
                format!("{value:?} is not `name = value`, a [section] header or a comment"),
            ));
        };
        let name = value[..pos].trim().to_lowercase();
        let val = value[pos + 1..].trim().to_string();
        let section = match sect {
            None => &mut doc.defaults,
            Some(i) => &mut doc.sections[i],
        };
        let opt = section.set(name, val);
        last_option = Some((opt, indent));
    }
    Ok(doc)
}

impl fmt::Display for IniDocument {
    /// Render back as INI (for messages and round-trip tests).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let all = std::iter::once(&self.defaults)
            .filter(|d| !d.options.is_empty())
            .chain(self.sections.iter());
        for s in all {
            writeln!(f, "[{}]", s.name)?;
            for (n, v) in &s.options {
                writeln!(f, "{n} = {}", v.replace('\n', "\n    "))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> IniDocument {
        parse(text).unwrap()
    }

    #[test]
    fn both_delimiters_and_trimmed_values() {
        let d = doc("[https]\nverify = disable\nother:  x y  \n");
        assert_eq!(d.get("https", "verify"), Some("disable"));
        assert_eq!(d.get("https", "other"), Some("x y"));
        let d = doc("[https]\nverify:disable\n");
        assert_eq!(d.get("https", "verify"), Some("disable"));
    }

    #[test]
    fn first_delimiter_wins() {
        let d = doc("[m]\nurl = https://x:443/\na:b=c\n");
        assert_eq!(d.get("m", "url"), Some("https://x:443/"));
        assert_eq!(d.get("m", "a"), Some("b=c"));
    }

    #[test]
    fn option_names_case_insensitive_sections_not() {
        let d = doc("[https]\nVERIFY = disable\n[HTTPS]\nverify = enable\n");
        assert_eq!(d.get("https", "verify"), Some("disable"));
        assert_eq!(d.get("https", "Verify"), Some("disable"));
        assert_eq!(d.get("HTTPS", "verify"), Some("enable"));
        assert_eq!(d.get("Https", "verify"), None);
        assert_eq!(d.sections().collect::<Vec<_>>(), vec!["https", "HTTPS"]);
    }

    #[test]
    fn comments_full_line_and_inline() {
        let d = doc(
            "# top\n; top\n[https]\n  # indented comment\nverify =  disable ; x\n\
             a = b # c\nurl = http://h/#frag\nsemi = x;y\n",
        );
        assert_eq!(d.get("https", "verify"), Some("disable"));
        assert_eq!(d.get("https", "a"), Some("b"));
        assert_eq!(d.get("https", "url"), Some("http://h/#frag"));
        assert_eq!(d.get("https", "semi"), Some("x;y"));
    }

    #[test]
    fn continuation_lines() {
        let d = doc("[m]\npackages =\n    foo\n    bar ; note\n  # c\n    baz\nnext = 1\n");
        assert_eq!(d.get("m", "packages"), Some("\nfoo\nbar\nbaz"));
        assert_eq!(d.get("m", "next"), Some("1"));
    }

    #[test]
    fn blank_line_ends_continuation() {
        let d = doc("[m]\na = 1\n\n  b = 2\n");
        assert_eq!(d.get("m", "a"), Some("1"));
        assert_eq!(d.get("m", "b"), Some("2"));
    }

    #[test]
    fn defaults_are_inherited() {
        let d = doc("[DEFAULT]\nverify = enable\nx = 1\n[https]\nx = 2\ny = 3\n");
        assert_eq!(d.get("https", "verify"), Some("enable"));
        assert_eq!(d.get("https", "x"), Some("2"));
        assert_eq!(d.get("DEFAULT", "x"), Some("1"));
        assert_eq!(d.get("nosuch", "verify"), None);
        assert_eq!(d.sections().collect::<Vec<_>>(), vec!["https"]);
        let items: Vec<_> = d.options("https").collect();
        assert_eq!(items, vec![("verify", "enable"), ("x", "2"), ("y", "3")]);
        assert_eq!(d.options("nosuch").count(), 0);
    }

    #[test]
    fn duplicates_last_wins_and_sections_merge() {
        let d = doc("[a]\nk = 1\nK = 2\n[b]\n[a]\nj = 3\n");
        assert_eq!(d.get("a", "k"), Some("2"));
        assert_eq!(d.get("a", "j"), Some("3"));
        assert_eq!(d.sections().collect::<Vec<_>>(), vec!["a", "b"]);
    }

    #[test]
    fn empty_value_and_crlf_and_bom() {
        let d = doc("\u{feff}[https]\r\nverify =\r\n");
        assert_eq!(d.get("https", "verify"), Some(""));
    }

    #[test]
    fn errors_carry_line_numbers() {
        let e = parse("verify = disable\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("before any [section]"), "{e}");
        let e = parse("[https]\n\nverify disable\n").unwrap_err();
        assert_eq!(e.line, 3);
        let e = parse("# c\n[https\nverify = x\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("closing"), "{e}");
        assert!(parse("[]\n").is_err());
    }

    #[test]
    fn display_round_trips() {
        let d = doc("[DEFAULT]\nx = 1\n[a]\nk =\n  v1\n  v2\n");
        assert_eq!(parse(&d.to_string()).unwrap(), d);
    }
}
