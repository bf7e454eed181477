//! Real distribution files built in memory: wheels (zip with METADATA, WHEEL and
//! RECORD) and sdists (tar.gz with PKG-INFO), padded with deterministic
//! pseudo-random bytes so sizes vary and content never repeats across files.

use std::io::{Cursor, Write};

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// What goes into one distribution file.
pub struct DistInput<'a> {
    pub display_name: &'a str,
    pub version: &'a str,
    pub requires_python: Option<&'a str>,
    pub requires_dist: &'a [String],
    /// Bytes of pseudo-random padding (a `data.bin` inside the archive).
    pub pad_len: usize,
    pub seed: u64,
}

/// The name as it appears in file names: normalized, runs of `-_.` become `_`.
pub fn escaped_name(name: &str) -> String {
    super::upstream::normalize(name).replace('-', "_")
}

pub fn wheel_filename(
    name: &str,
    version: &str,
    python: &str,
    abi: &str,
    platform: &str,
) -> String {
    format!(
        "{}-{version}-{python}-{abi}-{platform}.whl",
        escaped_name(name)
    )
}

pub fn sdist_filename(name: &str, version: &str) -> String {
    format!("{}-{version}.tar.gz", escaped_name(name))
}

/// Core metadata (the `METADATA` / `PKG-INFO` file), Metadata-Version 2.1.
pub fn metadata(input: &DistInput) -> Vec<u8> {
    let mut m = format!(
        "Metadata-Version: 2.1\nName: {}\nVersion: {}\nSummary: Fake package {} for mirror tests\n",
        input.display_name, input.version, input.display_name
    );
    if let Some(rp) = input.requires_python {
        m.push_str(&format!("Requires-Python: {rp}\n"));
    }
    for d in input.requires_dist {
        m.push_str(&format!("Requires-Dist: {d}\n"));
    }
    m.push('\n');
    m.into_bytes()
}

/// A wheel for `tag` (`py3-none-any`); returns (wheel bytes, METADATA bytes).
pub fn build_wheel(input: &DistInput, tag: &str) -> (Vec<u8>, Vec<u8>) {
    let pkg = escaped_name(input.display_name);
    let dist_info = format!("{pkg}-{}.dist-info", input.version);
    let meta = metadata(input);
    let wheel = format!(
        "Wheel-Version: 1.0\nGenerator: vorpal-fake-upstream\nRoot-Is-Purelib: true\nTag: {tag}\n"
    );
    let init = format!("__version__ = \"{}\"\n", input.version);
    let pad = pseudo_random(input.pad_len, input.seed);

    let entries: Vec<(String, &[u8])> = vec![
        (format!("{pkg}/__init__.py"), init.as_bytes()),
        (format!("{pkg}/data.bin"), &pad),
        (format!("{dist_info}/METADATA"), &meta),
        (format!("{dist_info}/WHEEL"), wheel.as_bytes()),
    ];
    let mut record = String::new();
    for (name, data) in &entries {
        record.push_str(&format!(
            "{name},sha256={},{}\n",
            b64_urlsafe_nopad(&Sha256::digest(data)),
            data.len()
        ));
    }
    record.push_str(&format!("{dist_info}/RECORD,,\n"));

    // Stored entries and a fixed timestamp keep the bytes deterministic and cheap.
    let opts = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .last_modified_time(DateTime::default());
    let record_name = format!("{dist_info}/RECORD");
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let all = entries
        .iter()
        .map(|(n, d)| (n.as_str(), *d))
        .chain(std::iter::once((record_name.as_str(), record.as_bytes())));
    for (name, data) in all {
        zip.start_file(name, opts).expect("zip entry in memory");
        zip.write_all(data).expect("zip write in memory");
    }
    let bytes = zip.finish().expect("zip finish in memory").into_inner();
    (bytes, meta)
}

/// An sdist: `<name>-<ver>/PKG-INFO`, `setup.py` and the padding, as tar.gz.
pub fn build_sdist(input: &DistInput) -> Vec<u8> {
    let root = format!("{}-{}", escaped_name(input.display_name), input.version);
    let setup = format!(
        "from setuptools import setup\nsetup(name={:?}, version={:?})\n",
        input.display_name, input.version
    );
    let tar = tar(&[
        (&root, "PKG-INFO", &metadata(input)),
        (&root, "setup.py", setup.as_bytes()),
        (&root, "data.bin", &pseudo_random(input.pad_len, input.seed)),
    ]);
    gzip_stored(&tar)
}

/// FNV-1a: a stable seed from a string (file names), so bytes never depend on order.
pub fn seed_of(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// SplitMix64, a tiny deterministic generator (rand's generators may change output
/// across versions; fixtures must not).
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform-enough in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = SplitMix(seed);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.truncate(len);
    out
}

// RECORD wants urlsafe base64 without padding; no base64 crate among the dependencies.
pub fn b64_urlsafe_nopad(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

// Minimal ustar writer (no tar crate among the dependencies): (dir, file, bytes).
fn tar(entries: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (dir, name, data) in entries {
        let mut h = [0u8; 512];
        put(&mut h[0..100], name.as_bytes());
        put(&mut h[100..108], b"0000644\0");
        put(&mut h[108..116], b"0000000\0");
        put(&mut h[116..124], b"0000000\0");
        put(
            &mut h[124..136],
            format!("{:011o}\0", data.len()).as_bytes(),
        );
        put(&mut h[136..148], b"00000000000\0");
        put(&mut h[148..156], b"        ");
        h[156] = b'0';
        put(&mut h[257..263], b"ustar\0");
        put(&mut h[263..265], b"00");
        put(&mut h[345..500], dir.as_bytes());
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        put(&mut h[148..156], format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

fn put(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
}

// gzip with stored deflate blocks (RFC 1951 BTYPE=00): valid, deterministic, and
// needs no compression crate.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut chunks = data.chunks(65_535).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        let len = chunk.len() as u16;
        out.push(u8::from(last));
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

pub fn crc32(data: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (i, t) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *t = c;
    }
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc = table[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}
