//! Validated object keys: relative '/'-separated paths inside the mirror root.

use std::fmt;

use super::StorageError;
use super::atomic::is_temp_name;

/// A relative path inside the mirror root, e.g. `web/simple/foo/index.html`.
///
/// Valid by construction: never empty or absolute, no `.`/`..`/empty segments, no
/// backslash, NUL or control characters, and no segment that looks like one of
/// vorpal's temp files. Joining it under a root can therefore never escape the root.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(String);

impl Key {
    /// Validate `s` as a key.
    pub fn new(s: impl Into<String>) -> Result<Key, StorageError> {
        let s = s.into();
        match problem(&s) {
            None => Ok(Key(s)),
            Some(reason) => Err(StorageError::InvalidKey { key: s, reason }),
        }
    }

    /// This key with `rel` (one segment or a relative path) appended.
    pub fn join(&self, rel: &str) -> Result<Key, StorageError> {
        Key::new(format!("{}/{}", self.0, rel))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key of the containing directory; `None` for a single-segment key.
    pub fn parent(&self) -> Option<Key> {
        self.0.rfind('/').map(|i| Key(self.0[..i].to_string()))
    }

    /// The last segment.
    pub fn file_name(&self) -> &str {
        match self.0.rfind('/') {
            Some(i) => &self.0[i + 1..],
            None => &self.0,
        }
    }

    /// The segments, first to last.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// Where a file whose upstream URL has path `url_path` lives in the mirror:
    /// `web/packages/` + what follows the first `/packages/` of the percent-decoded
    /// path (bandersnatch copies that part verbatim). The last segment must equal
    /// `expected_filename`, so a project page cannot make us write under another name.
    pub fn from_url_path(url_path: &str, expected_filename: &str) -> Result<Key, StorageError> {
        let bad = |reason: String| StorageError::InvalidUrlPath {
            path: url_path.to_string(),
            reason,
        };
        let decoded = percent_encoding::percent_decode_str(url_path)
            .decode_utf8()
            .map_err(|_| bad("it is not valid UTF-8 once percent-decoded".into()))?;
        let Some(at) = decoded.find("/packages/") else {
            return Err(bad("it does not contain \"/packages/\"".into()));
        };
        let rest = &decoded[at + "/packages/".len()..];
        if rest.is_empty() {
            return Err(bad("nothing follows \"/packages/\"".into()));
        }
        if let Some(reason) = problem(rest) {
            return Err(bad(format!("the part after \"/packages/\" {reason}")));
        }
        let key = Key(format!("web/packages/{rest}"));
        if key.file_name() != expected_filename {
            return Err(bad(format!(
                "it ends in {:?} but the file is named {expected_filename:?}",
                key.file_name()
            )));
        }
        Ok(key)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Key {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Why `s` is not a valid key, phrased to follow "the key ...".
fn problem(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("is empty".into());
    }
    if s.starts_with('/') {
        return Some("is absolute (starts with '/')".into());
    }
    if s.contains('\\') {
        return Some("contains a backslash".into());
    }
    if s.contains('\0') {
        return Some("contains a NUL byte".into());
    }
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Some(format!("contains the control character {c:?}"));
    }
    for seg in s.split('/') {
        match seg {
            "" => return Some("has an empty segment ('//' or a trailing '/')".into()),
            "." => return Some("has a '.' segment".into()),
            ".." => return Some("has a '..' segment".into()),
            _ if is_temp_name(seg) => {
                return Some(format!("has a segment {seg:?} named like a temp file"));
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_validation_table() {
        let cases: &[(&str, bool)] = &[
            ("web/simple/foo/index.html", true),
            ("web/packages/ab/cd/ef01/foo-1.0-py3-none-any.whl", true),
            ("generation", true),
            ("web/packages/x/.hidden", true),
            ("", false),
            ("/etc/passwd", false),
            ("web/../etc", false),
            ("..", false),
            ("web/./simple", false),
            ("web//simple", false),
            ("web/simple/", false),
            ("web\\simple", false),
            ("web/a\0b", false),
            ("web/a\nb", false),
            ("web/a\u{7f}b", false),
            ("web/simple/.vorpal-tmp.abc.index.html", false),
            (".vorpal-tmp.x", false),
        ];
        for (input, ok) in cases {
            let got = Key::new(*input);
            assert_eq!(got.is_ok(), *ok, "{input:?} -> {got:?}");
        }
    }

    #[test]
    fn key_error_names_the_key_and_reason() {
        let err = Key::new("a/../b").unwrap_err().to_string();
        assert!(err.contains("a/../b") && err.contains("'..'"), "{err}");
    }

    #[test]
    fn join_parent_file_name() {
        let k = Key::new("web/simple").unwrap();
        let j = k.join("foo/index.html").unwrap();
        assert_eq!(j.as_str(), "web/simple/foo/index.html");
        assert_eq!(j.file_name(), "index.html");
        assert_eq!(j.parent().unwrap().as_str(), "web/simple/foo");
        assert_eq!(Key::new("web").unwrap().parent(), None);
        assert!(k.join("../x").is_err());
        assert!(k.join("").is_err());
        assert!(k.join(".vorpal-tmp.1.x").is_err());
    }

    #[test]
    fn from_url_path_takes_what_follows_packages() {
        let k = Key::from_url_path(
            "/packages/ab/cd/ef0123/foo-1.0-py3-none-any.whl",
            "foo-1.0-py3-none-any.whl",
        )
        .unwrap();
        assert_eq!(
            k.as_str(),
            "web/packages/ab/cd/ef0123/foo-1.0-py3-none-any.whl"
        );
        // A mirror of a mirror may put the tree under a prefix.
        let k = Key::from_url_path("/pypi/packages/a/b/foo.tar.gz", "foo.tar.gz").unwrap();
        assert_eq!(k.as_str(), "web/packages/a/b/foo.tar.gz");
        // Percent-decoded, as bandersnatch does.
        let k =
            Key::from_url_path("/packages/a/b/foo%2Bbar-1.0.tar.gz", "foo+bar-1.0.tar.gz").unwrap();
        assert_eq!(k.as_str(), "web/packages/a/b/foo+bar-1.0.tar.gz");
    }

    #[test]
    fn from_url_path_rejections() {
        let cases: &[(&str, &str, &str)] = &[
            ("/files/a/b/foo.whl", "foo.whl", "does not contain"),
            ("/packages/", "foo.whl", "nothing follows"),
            ("/packages/a/%2e%2e/%2e%2e/etc/foo.whl", "foo.whl", "'..'"),
            ("/packages/a/%2E%2E/foo.whl", "foo.whl", "'..'"),
            ("/packages/a%2F..%2Fb/foo.whl", "foo.whl", "'..'"),
            ("/packages/a%5Cb/foo.whl", "foo.whl", "backslash"),
            ("/packages/a/%00/foo.whl", "foo.whl", "NUL"),
            ("/packages/a//foo.whl", "foo.whl", "empty segment"),
            (
                "/packages/a/.vorpal-tmp.1.foo.whl",
                ".vorpal-tmp.1.foo.whl",
                "temp",
            ),
            ("/packages/a/b/other.whl", "foo.whl", "\"other.whl\""),
            ("/packages/a/%ff/foo.whl", "foo.whl", "UTF-8"),
        ];
        for (path, name, needle) in cases {
            let err = Key::from_url_path(path, name).unwrap_err().to_string();
            assert!(err.contains(needle), "{path}: {err}");
            assert!(
                err.contains(path),
                "{path}: error must name the path: {err}"
            );
        }
    }
}
