//! Streaming, verified downloads: bytes are hashed while they are written to a temp
//! file beside the target, and the file lands (rename) only when size and hashes match.

use std::time::SystemTime;

use blake2::Blake2b;
use blake2::digest::consts::U32;
use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest, Sha256};

use crate::https::{FetchError, HttpClient};
use crate::storage::{Key, Staged, StagedWrite, Storage, StorageError};
use crate::sync::progress::Progress;

/// What the bytes must be.
#[derive(Debug, Clone)]
pub struct Expected {
    pub sha256: String,
    pub size: Option<u64>,
    /// From a PyPI-shaped path (see `layout::blake2b_from_path`).
    pub blake2b_256: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{url}: HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: {detail} (tried {tries} times; nothing was written)")]
    Corrupt {
        url: String,
        detail: String,
        tries: u32,
    },
}

impl DownloadError {
    /// Worth another try: the bytes or the connection were bad, not our disk.
    fn is_transient(&self) -> bool {
        matches!(self, DownloadError::Corrupt { .. })
    }
}

/// Largest body a download hands back when asked (a wheel whose `.metadata` is
/// taken from it); larger wheels have theirs fetched.
pub const KEEP_BODY_MAX: u64 = 512 * 1024;

/// A verified download: its size, the staged file the caller publishes (with the
/// rest of its project), and the bytes when they were asked for and small enough.
pub struct Downloaded {
    pub size: u64,
    pub staged: Staged,
    pub body: Option<Bytes>,
}

/// Download `url` for `key`, verified; with `keep_body`, also hand back the bytes
/// when they are at most [`KEEP_BODY_MAX`] and still staged in memory (the same
/// buffer, not a copy).
#[allow(clippy::too_many_arguments)]
pub async fn download_verified(
    client: &HttpClient,
    storage: &dyn Storage,
    key: &Key,
    url: &str,
    expected: &Expected,
    mtime: Option<SystemTime>,
    progress: &Progress,
    keep_body: bool,
) -> Result<Downloaded, DownloadError> {
    let policy = client.retry_policy().clone();
    let attempts = policy.attempts.max(1);
    let mut last = None;
    for attempt in 0..attempts {
        if attempt > 0 {
            tokio::time::sleep(policy.delay(attempt - 1)).await;
        }
        match try_once(
            client,
            storage,
            key,
            url,
            expected,
            mtime,
            progress,
            attempt + 1,
            keep_body,
        )
        .await
        {
            Ok(done) => return Ok(done),
            Err(e) if e.is_transient() => {
                tracing::debug!(%url, attempt, "download failed: {e}");
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| DownloadError::Corrupt {
        url: url.to_string(),
        detail: "no attempt was made".into(),
        tries: 0,
    }))
}

#[allow(clippy::too_many_arguments)]
async fn try_once(
    client: &HttpClient,
    storage: &dyn Storage,
    key: &Key,
    url: &str,
    expected: &Expected,
    mtime: Option<SystemTime>,
    progress: &Progress,
    tries: u32,
    keep_body: bool,
) -> Result<Downloaded, DownloadError> {
    let corrupt = |detail: String| DownloadError::Corrupt {
        url: url.to_string(),
        detail,
        tries,
    };
    let resp = client.get(url, &[]).await?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(DownloadError::Status {
            url: url.to_string(),
            status,
        });
    }
    let mut writer: Box<dyn StagedWrite> = storage.writer(key, expected.size).await?;
    let mut sha = Sha256::new();
    let mut b2 = expected.blake2b_256.as_ref().map(|_| Blake2b::<U32>::new());
    let mut size = 0u64;
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                writer.abort().await;
                return Err(corrupt(format!("connection broke after {size} bytes: {e}")));
            }
        };
        size += chunk.len() as u64;
        if let Some(limit) = expected.size
            && size > limit
        {
            writer.abort().await;
            return Err(corrupt(format!("more bytes than the {limit} listed")));
        }
        sha.update(&chunk);
        if let Some(h) = b2.as_mut() {
            h.update(&chunk);
        }
        if let Err(e) = writer.write(&chunk).await {
            writer.abort().await;
            return Err(e.into());
        }
        progress.add_bytes(chunk.len() as u64);
    }
    if let Some(limit) = expected.size
        && size != limit
    {
        writer.abort().await;
        return Err(corrupt(format!("{size} bytes, expected {limit}")));
    }
    let got = hex::encode(sha.finalize());
    if !got.eq_ignore_ascii_case(&expected.sha256) {
        writer.abort().await;
        return Err(corrupt(format!(
            "sha256 {got} does not match the listed {}",
            expected.sha256
        )));
    }
    if let (Some(h), Some(want)) = (b2, &expected.blake2b_256) {
        let got = hex::encode(h.finalize());
        if !got.eq_ignore_ascii_case(want) {
            writer.abort().await;
            return Err(corrupt(format!(
                "blake2b-256 {got} does not match the path's {want}"
            )));
        }
    }
    let staged = writer.finish(mtime).await?;
    // The staged bytes themselves when they wait in memory: no second copy.
    let body = (keep_body && size <= KEEP_BODY_MAX)
        .then(|| staged.held_bytes())
        .flatten();
    Ok(Downloaded { size, staged, body })
}

/// sha256 and size of what is stored at `key`, read as a stream (constant memory).
pub async fn hash_stored(
    storage: &dyn Storage,
    key: &Key,
) -> Result<Option<(String, u64)>, StorageError> {
    let Some(mut stream) = storage.open(key, None).await? else {
        return Ok(None);
    };
    let mut sha = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        size += chunk.len() as u64;
        sha.update(&chunk);
    }
    Ok(Some((hex::encode(sha.finalize()), size)))
}
