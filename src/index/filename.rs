//! What a distribution filename says: its version (for PEP 700 `versions`) and whether
//! it is a wheel, plus the path-safety rule every upstream filename must pass.

use crate::index::names::normalize;

/// Sdist and legacy archive suffixes, longest first so `.tar.gz` wins over `.gz`.
const SDIST_SUFFIXES: &[&str] = &[
    ".tar.gz", ".tar.bz2", ".tar.xz", ".tar.Z", ".tgz", ".zip", ".tar",
];

/// True for a name that may become one path component: not empty, not `.`/`..`, and
/// without `/`, `\` or NUL.
pub fn is_safe_filename(filename: &str) -> bool {
    !filename.is_empty()
        && filename != "."
        && filename != ".."
        && !filename.contains(['/', '\\', '\0'])
}

/// True when the filename ends in `.whl` (case-insensitive).
pub fn is_wheel(filename: &str) -> bool {
    let b = filename.as_bytes();
    b.len() > 4 && b[b.len() - 4..].eq_ignore_ascii_case(b".whl")
}

/// The version a filename carries, or `None` when the format is unknown or the name
/// part does not match `project`. Wheels and eggs escape `-` in names, so their version
/// is the second dash-separated field whatever the name says; other formats may have
/// dashes in the name, so the prefix that normalizes to `project` is stripped.
pub fn version_from_filename(filename: &str, project: &str) -> Option<String> {
    let lower = filename.to_ascii_lowercase();
    if is_wheel(filename) {
        let stem = &filename[..filename.len() - 4];
        let parts: Vec<&str> = stem.split('-').collect();
        // name-ver(-build)?-py-abi-plat
        if parts.len() != 5 && parts.len() != 6 {
            return None;
        }
        return non_empty(parts[1]);
    }
    if lower.ends_with(".egg") {
        let stem = &filename[..filename.len() - 4];
        // name-ver(-pyX.Y(-plat)?)?
        let mut parts = stem.split('-');
        parts.next()?;
        return parts.next().and_then(non_empty);
    }
    for suffix in SDIST_SUFFIXES {
        if lower.ends_with(&suffix.to_ascii_lowercase()) {
            let stem = &filename[..filename.len() - suffix.len()];
            return after_name(stem, project).and_then(non_empty);
        }
    }
    if lower.ends_with(".exe") || lower.ends_with(".msi") {
        // name-ver.win32(-pyX.Y)?.exe, name-ver.win-amd64-pyX.Y.msi
        let rest = after_name(&filename[..filename.len() - 4], project)?;
        let cut = rest
            .to_ascii_lowercase()
            .find(".win")
            .or_else(|| rest.find(".linux"))?;
        return non_empty(&rest[..cut]);
    }
    if lower.ends_with(".dmg") || lower.ends_with(".rpm") {
        // name-ver-pyX.Y-macosx10.6.dmg, name-ver-release.arch.rpm
        let rest = after_name(&filename[..filename.len() - 4], project)?;
        let ver = rest.split('-').next()?;
        return non_empty(ver);
    }
    None
}

/// The part of `stem` after the `<name>-` prefix whose name normalizes like `project`.
fn after_name<'a>(stem: &'a str, project: &str) -> Option<&'a str> {
    let want = normalize(project);
    stem.match_indices('-')
        .map(|(i, _)| i)
        .find(|&i| normalize(&stem[..i]) == want)
        .map(|i| &stem[i + 1..])
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wheels() {
        let v = |f: &str| version_from_filename(f, "foo-bar");
        assert_eq!(v("foo_bar-1.0-py3-none-any.whl").as_deref(), Some("1.0"));
        assert_eq!(
            v("Foo_Bar-2.0rc1-1-cp311-cp311-manylinux_2_17_x86_64.whl").as_deref(),
            Some("2.0rc1")
        );
        assert_eq!(v("foo_bar-1.0-py3-none.whl"), None);
        assert!(is_wheel("x-1-py3-none-any.WHL"));
        assert!(!is_wheel("x-1.tar.gz"));
        assert!(!is_wheel(".whl"));
    }

    #[test]
    fn sdists_with_dashes_in_the_name() {
        let v = |f: &str, p: &str| version_from_filename(f, p);
        assert_eq!(
            v("foo-bar-1.2.3.tar.gz", "foo-bar").as_deref(),
            Some("1.2.3")
        );
        assert_eq!(v("Foo.Bar-1.2.3.zip", "foo-bar").as_deref(), Some("1.2.3"));
        assert_eq!(
            v("foo_bar-0.1.dev1.tar.bz2", "Foo_Bar").as_deref(),
            Some("0.1.dev1")
        );
        assert_eq!(v("foo-bar-1.0.tgz", "foo-bar").as_deref(), Some("1.0"));
        assert_eq!(v("foo-bar-1.0.tar.xz", "foo-bar").as_deref(), Some("1.0"));
        assert_eq!(v("foo-1.0-1.tar.gz", "foo").as_deref(), Some("1.0-1"));
        assert_eq!(v("other-1.0.tar.gz", "foo"), None);
        assert_eq!(v("foo-.tar.gz", "foo"), None);
    }

    #[test]
    fn eggs_and_installers() {
        let v = |f: &str| version_from_filename(f, "foo");
        assert_eq!(v("foo-1.0-py2.7.egg").as_deref(), Some("1.0"));
        assert_eq!(v("foo-1.0.egg").as_deref(), Some("1.0"));
        assert_eq!(v("foo-1.0.win32-py2.7.exe").as_deref(), Some("1.0"));
        assert_eq!(v("foo-1.0.win-amd64-py3.5.msi").as_deref(), Some("1.0"));
        assert_eq!(v("foo-1.0-py2.7-macosx10.6.dmg").as_deref(), Some("1.0"));
        assert_eq!(v("foo-1.0-1.noarch.rpm").as_deref(), Some("1.0"));
        assert_eq!(v("foo-1.0.unknown"), None);
        assert_eq!(v("foo.exe"), None);
    }

    #[test]
    fn safe_filenames() {
        for ok in ["a.whl", "foo-1.0.tar.gz", "..a", "a..b"] {
            assert!(is_safe_filename(ok), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "..\\x", "a\0b", "/etc/passwd"] {
            assert!(!is_safe_filename(bad), "{bad:?}");
        }
    }
}
