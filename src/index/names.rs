//! Project names (PEP 503 normalization and the PyPA validity rule).

use std::borrow::Cow;

/// `re.sub(r"[-_.]+", "-", name).lower()`, written out because it is one pass over bytes.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
                in_run = true;
            }
        } else {
            out.extend(c.to_lowercase());
            in_run = false;
        }
    }
    out
}

/// [`normalize`], borrowing a name that is normalized already, as most names in an
/// upstream's list are: a plan compares each of PyPI's ~700,000 names with state.
pub fn normalize_cow(name: &str) -> Cow<'_, str> {
    let bytes = name.as_bytes();
    let normalized = bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && !bytes.windows(2).any(|w| w == b"--");
    if normalized {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(normalize(name))
    }
}

/// `^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$`, case-insensitive. Anything else from an
/// upstream is rejected before it becomes part of a path.
pub fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_cow_borrows_only_what_is_normalized_already() {
        for name in [
            "six",
            "zope-interface",
            "a1-b2",
            "Foo.Bar",
            "foo--bar",
            "a_b",
            "x.",
            "-a",
            "Ab",
            "ÄÖ",
        ] {
            let cow = normalize_cow(name);
            assert_eq!(cow, normalize(name), "{name}");
            assert_eq!(
                matches!(cow, Cow::Borrowed(_)),
                normalize(name) == name,
                "{name}"
            );
        }
    }

    #[test]
    fn normalizes_runs_and_case() {
        assert_eq!(normalize("Foo.Bar"), "foo-bar");
        assert_eq!(normalize("FOO_bar"), "foo-bar");
        assert_eq!(normalize("foo--bar"), "foo-bar");
        assert_eq!(normalize("a._-b"), "a-b");
        assert_eq!(normalize("zope.interface"), "zope-interface");
    }

    #[test]
    fn validity() {
        for ok in ["a", "A1", "foo.bar", "foo_bar-baz", "9"] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in [
            "", "-a", "a-", "../x", "a/b", "a b", "é", ".", "a\\b", "a\0",
        ] {
            assert!(!is_valid_name(bad), "{bad:?}");
        }
    }
}
