//! Hashing what is stored: straight from the file on a local filesystem (large
//! buffered reads on a blocking thread, as fast as `sha256sum`), else as a stream.

use std::io::{self, Read};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::storage::{Key, Storage, StorageError};
use crate::sync::download::hash_stored;

/// Bytes read per call: big enough to keep the disk busy, small enough that N
/// workers stay well under a few MiB in total.
const BUF: usize = 256 * 1024;

/// sha256 (lowercase hex) and size of what is stored at `key`; `None` if absent.
pub async fn hash_key(
    storage: &Arc<dyn Storage>,
    key: &Key,
) -> Result<Option<(String, u64)>, StorageError> {
    let Some(path) = storage.local_path(key) else {
        return hash_stored(storage.as_ref(), key).await;
    };
    let key_path = path.clone();
    let joined = tokio::task::spawn_blocking(move || hash_file(&path)).await;
    let result = joined.unwrap_or_else(|e| Err(io::Error::other(e.to_string())));
    match result {
        Ok(found) => Ok(found),
        Err(e) => Err(StorageError::io("read", &key_path, &key_path, e)),
    }
}

fn hash_file(path: &std::path::Path) -> io::Result<Option<(String, u64)>> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if file.metadata()?.is_dir() {
        return Ok(None);
    }
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; BUF];
    let mut size = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        sha.update(&buf[..n]);
        size += n as u64;
    }
    Ok(Some((hex::encode(sha.finalize()), size)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::FsStorage;

    #[tokio::test]
    async fn hashes_local_files_and_reports_absent_ones() {
        let dir = tempfile::tempdir().unwrap();
        let storage: Arc<dyn Storage> = Arc::new(FsStorage::new(dir.path()));
        let key = Key::new("web/packages/a/b.whl").unwrap();
        assert_eq!(hash_key(&storage, &key).await.unwrap(), None);
        let data = vec![7u8; BUF * 2 + 3];
        storage.put(&key, data.clone().into()).await.unwrap();
        let (sha, size) = hash_key(&storage, &key).await.unwrap().unwrap();
        assert_eq!(size, data.len() as u64);
        assert_eq!(sha, hex::encode(Sha256::digest(&data)));
        let dir_key = Key::new("web/packages/a").unwrap();
        assert_eq!(hash_key(&storage, &dir_key).await.unwrap(), None);
    }
}
