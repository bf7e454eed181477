//! A wheel's core metadata (PEP 658), read from the wheel just downloaded instead of
//! fetched as `<wheel>.metadata`. The index serves the wheel's own
//! `*.dist-info/METADATA` bytes under that name, so one request in three of a
//! PyPI-shaped project is saved. The bytes are kept only if their sha256 is the one
//! the index lists for the `.metadata` file; otherwise the caller fetches it.

use std::io::{Cursor, Read};

use sha2::{Digest, Sha256};

/// A METADATA file larger than this is not looked for in the wheel (PyPI's largest
/// are a few MB of long description); the `.metadata` file is fetched instead.
const METADATA_MAX: u64 = 16 << 20;

/// The wheel's `<name>-<version>.dist-info/METADATA` if its sha256 is `sha256`
/// (lowercase hex). `None` when the wheel is not a readable zip, has no single
/// such entry, or the bytes differ.
pub fn metadata_from_wheel(wheel: &[u8], sha256: &str) -> Option<Vec<u8>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(wheel)).ok()?;
    let found: Vec<String> = archive
        .file_names()
        .filter(|n| is_dist_info_metadata(n))
        .take(2)
        .map(str::to_string)
        .collect();
    let [name] = found.as_slice() else {
        return None;
    };
    let entry = archive.by_name(name).ok()?;
    if entry.size() > METADATA_MAX {
        return None;
    }
    let mut bytes = Vec::with_capacity(entry.size() as usize);
    // The declared size may lie: read at most one byte past the cap.
    entry.take(METADATA_MAX + 1).read_to_end(&mut bytes).ok()?;
    if bytes.len() as u64 > METADATA_MAX {
        return None;
    }
    let got = hex::encode(Sha256::digest(&bytes));
    got.eq_ignore_ascii_case(sha256).then_some(bytes)
}

/// `x.dist-info/METADATA` at the top of the archive.
fn is_dist_info_metadata(name: &str) -> bool {
    name.strip_suffix("/METADATA")
        .is_some_and(|dir| dir.ends_with(".dist-info") && !dir.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn wheel(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in entries {
            zip.start_file(*name, opts).unwrap();
            zip.write_all(data).unwrap();
        }
        zip.finish().unwrap();
        out.into_inner()
    }

    fn sha(data: &[u8]) -> String {
        hex::encode(Sha256::digest(data))
    }

    #[test]
    fn the_metadata_with_the_listed_hash_is_found() {
        let meta = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n";
        let whl = wheel(&[
            ("demo/__init__.py", b"x = 1\n"),
            ("demo-1.0.dist-info/METADATA", meta),
            ("demo-1.0.dist-info/RECORD", b""),
        ]);
        assert_eq!(
            metadata_from_wheel(&whl, &sha(meta)).as_deref(),
            Some(&meta[..])
        );
        assert_eq!(
            metadata_from_wheel(&whl, &sha(meta).to_uppercase()).as_deref(),
            Some(&meta[..])
        );
    }

    #[test]
    fn other_bytes_no_entry_two_entries_or_no_zip_give_nothing() {
        let meta = b"Metadata-Version: 2.1\nName: demo\n";
        let whl = wheel(&[("demo-1.0.dist-info/METADATA", meta)]);
        assert_eq!(metadata_from_wheel(&whl, &sha(b"other bytes")), None);
        let none = wheel(&[
            ("demo/__init__.py", b""),
            ("nested/demo-1.0.dist-info/METADATA", meta),
        ]);
        assert_eq!(metadata_from_wheel(&none, &sha(meta)), None);
        let two = wheel(&[
            ("a-1.0.dist-info/METADATA", meta),
            ("b-1.0.dist-info/METADATA", meta),
        ]);
        assert_eq!(metadata_from_wheel(&two, &sha(meta)), None);
        assert_eq!(metadata_from_wheel(b"not a zip at all", &sha(meta)), None);
        assert_eq!(metadata_from_wheel(&whl[..whl.len() / 2], &sha(meta)), None);
    }
}
