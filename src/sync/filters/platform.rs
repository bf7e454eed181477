//! `exclude_platform`: drop release files for unwanted platforms or Python versions by
//! substrings of their filename (and a few package types), exactly as bandersnatch's
//! `filename_name.py` does. Source distributions are never dropped.
//!
//! Quirks kept for compatibility: `py2` also drops universal `py2.py3` wheels (their
//! name contains `-py2.`); `py3.6` matches `-cp36-`/`-py3.6-` style tags but not `py36`.
//! One addition: `linux` also matches PEP 600 `manylinux_X_Y` tags (bandersnatch
//! issue #830 accepts this as a gap; without it `linux` keeps most modern wheels).

use crate::index::DistFile;

const WINDOWS: &[&str] = &[".win32", "-win32", "win_amd64", "win-amd64"];

const LINUX: &[&str] = &[
    "linux-i686",      // PEP 425
    "linux-x86_64",    // PEP 425
    "linux_armv7l",    // warehouse#2010
    "linux_armv6l",    // warehouse#2012
    "manylinux1_i686", // PEP 513
    "manylinux1_x86_64",
    "manylinux2010_i686", // PEP 571
    "manylinux2010_x86_64",
    "manylinux2014_x86_64", // PEP 599
    "manylinux2014_i686",
    "manylinux2014_aarch64",
    "manylinux2014_armv7l",
    "manylinux2014_ppc64",
    "manylinux2014_ppc64le",
    "manylinux2014_s390x",
    "musllinux",  // PEP 656
    "manylinux_", // PEP 600 (vorpal addition, see module docs)
];

const PYTHON_VERSIONS: &[&str] = &[
    "py2", "py2.4", "py2.5", "py2.6", "py2.7", "py3", "py3.0", "py3.1", "py3.2", "py3.3", "py3.4",
    "py3.5", "py3.6", "py3.7", "py3.8", "py3.9", "py3.10", "py3.11", "py3.12", "py3.13", "py3.14",
];

/// File extensions of source distributions, for files whose package type is unknown.
const SDIST_SUFFIXES: &[&str] = &[
    ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar", ".zip", ".tar.z",
];

/// Whether bandersnatch would recognise `token` in `[blocklist] platforms`.
pub fn is_known_platform(token: &str) -> bool {
    let t = token.to_ascii_lowercase();
    matches!(
        t.as_str(),
        "windows" | "win" | "macos" | "macosx" | "freebsd" | "linux"
    ) || PYTHON_VERSIONS.contains(&t.as_str())
        || WINDOWS.contains(&t.as_str())
        || LINUX.contains(&t.as_str())
}

#[derive(Debug, Clone, Default)]
pub(super) struct PlatformFilter {
    patterns: Vec<String>,
    packagetypes: Vec<&'static str>,
}

impl PlatformFilter {
    pub fn new(platforms: &[String]) -> PlatformFilter {
        let mut f = PlatformFilter::default();
        for platform in platforms {
            let p = platform.to_ascii_lowercase();
            match p.as_str() {
                "windows" | "win" => {
                    f.extend(WINDOWS);
                    f.packagetypes.extend(["bdist_msi", "bdist_wininst"]);
                }
                "macos" | "macosx" => {
                    f.extend(&["macosx_", "macosx-"]);
                    f.packagetypes.push("bdist_dmg");
                }
                "freebsd" => f.extend(&[".freebsd", "-freebsd"]),
                "linux" => {
                    f.extend(LINUX);
                    f.packagetypes.push("bdist_rpm");
                }
                _ if PYTHON_VERSIONS.contains(&p.as_str()) => {
                    f.patterns.extend(python_tag_patterns(&p));
                }
                _ if WINDOWS.contains(&p.as_str()) || LINUX.contains(&p.as_str()) => {
                    f.patterns.push(p);
                }
                // Unknown tokens were reported when the config was read.
                _ => {}
            }
        }
        f
    }

    fn extend(&mut self, patterns: &[&str]) {
        self.patterns.extend(patterns.iter().map(|p| p.to_string()));
    }

    pub fn is_active(&self) -> bool {
        !self.patterns.is_empty() || !self.packagetypes.is_empty()
    }

    /// True when the file is for an excluded platform.
    pub fn drops(&self, file: &DistFile) -> bool {
        let packagetype = file
            .packagetype
            .as_deref()
            .or_else(|| packagetype_from_filename(&file.filename));
        if packagetype == Some("sdist") {
            return false;
        }
        if let Some(pt) = packagetype
            && self.packagetypes.contains(&pt)
        {
            return true;
        }
        self.patterns
            .iter()
            .any(|p| file.filename.contains(p.as_str()))
    }
}

/// bandersnatch's `utils.parse_version`: `py3.6` → `-cp36-`, `-pp36-`, `-ip36-`,
/// `-jy36-`, `-py3.6-`, `-py3.6.`.
fn python_tag_patterns(token: &str) -> Vec<String> {
    let dotted = token.strip_prefix("py").unwrap_or(token);
    let nodot = dotted.replace('.', "");
    let mut out: Vec<String> = ["cp", "pp", "ip", "jy"]
        .iter()
        .map(|i| format!("-{i}{nodot}-"))
        .collect();
    out.push(format!("-py{dotted}-"));
    out.push(format!("-py{dotted}."));
    out
}

/// The package type a simple-API file (which carries none) evidently has.
fn packagetype_from_filename(filename: &str) -> Option<&'static str> {
    let lower = filename.to_ascii_lowercase();
    let ends = |s: &str| lower.ends_with(s);
    if ends(".whl") {
        Some("bdist_wheel")
    } else if ends(".egg") {
        Some("bdist_egg")
    } else if ends(".exe") {
        Some("bdist_wininst")
    } else if ends(".msi") {
        Some("bdist_msi")
    } else if ends(".dmg") {
        Some("bdist_dmg")
    } else if ends(".rpm") {
        Some("bdist_rpm")
    } else if SDIST_SUFFIXES.iter().any(|s| ends(s)) {
        Some("sdist")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, packagetype: Option<&str>) -> DistFile {
        DistFile {
            filename: name.into(),
            packagetype: packagetype.map(str::to_string),
            ..DistFile::default()
        }
    }

    fn filter(tokens: &str) -> PlatformFilter {
        PlatformFilter::new(
            &tokens
                .split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>(),
        )
    }

    const FILES: &[&str] = &[
        "pkg-1.0-cp312-cp312-win_amd64.whl",
        "pkg-1.0-cp312-cp312-macosx_11_0_arm64.whl",
        "pkg-1.0-cp312-cp312-manylinux2014_x86_64.whl",
        "pkg-1.0-cp312-cp312-manylinux_2_28_aarch64.whl",
        "pkg-1.0-cp312-cp312-musllinux_1_2_x86_64.whl",
        "pkg-1.0-cp36-cp36m-freebsd_13_0_amd64.whl",
        "pkg-1.0-py2.py3-none-any.whl",
        "pkg-1.0-py3-none-any.whl",
        "pkg-1.0-cp36-cp36m-manylinux1_x86_64.whl",
        "pkg-1.0.tar.gz",
    ];

    /// Which of FILES survive `tokens`.
    fn kept(tokens: &str) -> Vec<&'static str> {
        let f = filter(tokens);
        FILES
            .iter()
            .copied()
            .filter(|n| !f.drops(&file(n, None)))
            .collect()
    }

    #[test]
    fn platform_keep_drop_matrix() {
        assert_eq!(kept("windows").len(), FILES.len() - 1);
        assert!(!kept("windows").contains(&FILES[0]));
        assert!(!kept("macos").contains(&FILES[1]));
        let linux = kept("linux");
        for gone in [FILES[2], FILES[3], FILES[4], FILES[8]] {
            assert!(!linux.contains(&gone), "{gone}");
        }
        assert!(linux.contains(&FILES[5]), "freebsd is not linux");
        assert!(!kept("freebsd").contains(&FILES[5]));
        let all = kept("windows macos freebsd linux");
        assert_eq!(
            all,
            vec![
                "pkg-1.0-py2.py3-none-any.whl",
                "pkg-1.0-py3-none-any.whl",
                "pkg-1.0.tar.gz",
            ]
        );
    }

    #[test]
    fn python_version_tokens() {
        let k = kept("py3.6");
        assert!(!k.contains(&"pkg-1.0-cp36-cp36m-manylinux1_x86_64.whl"));
        assert!(!k.contains(&"pkg-1.0-cp36-cp36m-freebsd_13_0_amd64.whl"));
        assert!(k.contains(&"pkg-1.0-py3-none-any.whl"));
        // bandersnatch's py2 pattern `-py2.` also hits universal wheels.
        let k = kept("py2");
        assert!(!k.contains(&"pkg-1.0-py2.py3-none-any.whl"));
        assert!(k.contains(&"pkg-1.0-py3-none-any.whl"));
        let k = kept("py3");
        assert!(!k.contains(&"pkg-1.0-py3-none-any.whl"));
        assert!(k.contains(&"pkg-1.0-py2.py3-none-any.whl"));
        assert!(filter("py3.1").drops(&file("p-1-cp31-none-any.whl", None)));
        assert!(!filter("py3.1").drops(&file("p-1-cp310-none-any.whl", None)));
        assert!(filter("py2.7").drops(&file("p-1.0-py2.7.egg", None)));
    }

    #[test]
    fn single_architectures_and_package_types() {
        let f = filter("win_amd64 manylinux2014_aarch64");
        assert!(f.drops(&file("p-1-cp312-cp312-win_amd64.whl", None)));
        assert!(!f.drops(&file("p-1-cp312-cp312-win32.whl", None)));
        assert!(f.drops(&file("p-1-cp312-cp312-manylinux2014_aarch64.whl", None)));
        assert!(!f.drops(&file("p-1-cp312-cp312-manylinux2014_x86_64.whl", None)));
        let w = filter("windows");
        assert!(w.drops(&file("p-1.0.exe", Some("bdist_wininst"))));
        assert!(w.drops(&file("p-1.0.msi", None)));
        assert!(filter("linux").drops(&file("p-1.0-1.noarch.rpm", None)));
    }

    #[test]
    fn sdists_are_never_dropped() {
        let f = filter("windows macos freebsd linux py2 py3");
        assert!(!f.drops(&file("pkg-win_amd64-1.0.tar.gz", Some("sdist"))));
        assert!(!f.drops(&file("pkg-py3-1.0.zip", None)));
        assert!(!f.drops(&file("pkg-macosx_-1.0.tar.gz", None)));
    }

    #[test]
    fn known_tokens() {
        for t in [
            "windows",
            "WIN",
            "macosx",
            "linux",
            "py3.14",
            "musllinux",
            "win-amd64",
        ] {
            assert!(is_known_platform(t), "{t}");
        }
        for t in ["win32", "solaris", "py4"] {
            assert!(!is_known_platform(t), "{t}");
        }
    }
}
