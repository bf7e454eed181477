//! Errors from parsing upstream index documents. Each names the document it came from so
//! an operator can tell which upstream page is broken.

/// Something in an upstream index document (HTML page, JSON page, JSON API document)
/// that vorpal refuses to use.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(
        "{doc}: not valid JSON: {source}; the upstream answered something other than an index page"
    )]
    Json {
        doc: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{doc}: {detail}")]
    Malformed { doc: String, detail: String },
    #[error(
        "{doc}: invalid project name {name:?} (PEP 508 names match ^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$); refusing to use it"
    )]
    InvalidName { doc: String, name: String },
    #[error(
        "{doc}: unsafe filename {filename:?} (empty, \".\", \"..\", or contains '/', '\\\\' or NUL); refusing to use it as a path"
    )]
    InvalidFilename { doc: String, filename: String },
    #[error("{doc}: cannot resolve link {href:?}: {source}")]
    BadUrl {
        doc: String,
        href: String,
        #[source]
        source: url::ParseError,
    },
    #[error("{doc}: unsupported api-version {version:?}; vorpal speaks major version 1")]
    UnsupportedApiVersion { doc: String, version: String },
}

impl IndexError {
    pub(crate) fn malformed(doc: &str, detail: impl Into<String>) -> Self {
        IndexError::Malformed {
            doc: doc.to_string(),
            detail: detail.into(),
        }
    }
}

/// Refuses a project name that is not a valid PyPA name.
pub(crate) fn check_name(doc: &str, name: &str) -> Result<(), IndexError> {
    if crate::index::names::is_valid_name(name) {
        Ok(())
    } else {
        Err(IndexError::InvalidName {
            doc: doc.to_string(),
            name: name.to_string(),
        })
    }
}

/// Refuses a filename that could escape its directory or is not a name at all.
pub(crate) fn check_filename(doc: &str, filename: &str) -> Result<(), IndexError> {
    if crate::index::filename::is_safe_filename(filename) {
        Ok(())
    } else {
        Err(IndexError::InvalidFilename {
            doc: doc.to_string(),
            filename: filename.to_string(),
        })
    }
}
