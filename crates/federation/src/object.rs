//! An object as a read returns it, and what both read paths (the SDK's and
//! [`crate::direct`]'s) judge it by: its MD5 ETag, whether a body was damaged on the way, and
//! the class of an S3 answer.

use md5::Digest as _;

use crate::{FederationError, S3Failure};

/// One object as read: its bytes and the ETag of that version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub etag: String,
}

/// S3's ETag of a single-part upload of `bytes`, as the embedded server, LocalStack and S3
/// (without SSE-KMS) give it: the quoted MD5 hex.
pub fn md5_etag(bytes: &[u8]) -> String {
    format!("\"{}\"", hex::encode(md5::Md5::digest(bytes)))
}

/// Whether `etag` looks like the MD5 of the body (32 hex digits, not a multipart `-N` ETag),
/// so that a body read can be checked against it.
pub fn is_md5_etag(etag: &str) -> bool {
    let bare = etag.trim_matches('"');
    bare.len() == 32 && bare.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `body` does not match `etag`, when that is an MD5: it was cut or changed on the
/// way, a transient failure to read again.
pub fn damaged_in_transit(body: &[u8], etag: &str) -> bool {
    is_md5_etag(etag) && md5_etag(body) != etag
}

/// The transient error of a body of `len` bytes read from `key` that does not match `etag`.
pub fn damaged(key: &str, len: usize, etag: &str) -> FederationError {
    FederationError::S3 {
        operation: "GetObject body",
        target: key.to_owned(),
        message: format!("the body read ({len} bytes) does not match its ETag {etag}: read it again"),
        failure: S3Failure::Transient,
    }
}

impl Fetched {
    /// [`damaged_in_transit`] of this body and ETag.
    pub fn damaged_in_transit(&self) -> bool {
        damaged_in_transit(&self.bytes, &self.etag)
    }
}

/// The class of S3's answer with `status` and error `code` (the SDK's and the direct reads').
pub(crate) fn classify(status: Option<u16>, code: Option<&str>) -> S3Failure {
    match (status, code) {
        (Some(412), _) | (Some(409), Some("ConditionalRequestConflict")) => S3Failure::Precondition,
        (Some(404), _) => S3Failure::NotFound,
        (Some(501), _) => S3Failure::NotImplemented,
        (Some(408 | 429 | 500 | 502 | 503 | 504), _) => S3Failure::Transient,
        (_, Some("RequestTimeout" | "SlowDown" | "InternalError")) => S3Failure::Transient,
        _ => S3Failure::Refused,
    }
}
