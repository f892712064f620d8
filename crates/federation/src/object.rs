//! An object as a read or a listing returns it, and what both read paths (the SDK's and
//! [`crate::direct`]'s) share: the buffer a body is read into under its limit, its MD5 ETag,
//! whether a body was damaged on the way, and the class of an S3 answer.

use md5::Digest as _;

use crate::{FederationError, S3Failure};

/// One object as read: its bytes and the ETag of that version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub etag: String,
}

/// One object of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    /// As S3 gives it, quoted.
    pub etag: String,
    pub size: i64,
}

/// What one listing asks for: the objects under `prefix` (rolled up at the next `delimiter`,
/// when given), from the first key after `start_after`; it may stop at the first page that
/// reaches `stop_at` (what it lists from there on is the caller's to drop).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Span<'a> {
    pub(crate) prefix: &'a str,
    pub(crate) delimiter: Option<&'a str>,
    pub(crate) start_after: Option<&'a str>,
    pub(crate) stop_at: Option<&'a str>,
}

impl Span<'_> {
    /// Whether a page ending at `last` (its last key) reached the stop.
    pub(crate) fn stops(&self, last: Option<&Listed>) -> bool {
        matches!((self.stop_at, last), (Some(stop), Some(last)) if last.key.as_str() >= stop)
    }
}

/// One level of a listing by delimiter: the objects at it, and the common prefixes below it
/// (each a folder, listed on its own), in S3's order.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Level {
    pub(crate) listed: Vec<Listed>,
    pub(crate) prefixes: Vec<String>,
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
    /// `bytes` with S3's `etag` or, when it gave none, the MD5 ETag of the bytes.
    pub(crate) fn with_etag(bytes: Vec<u8>, etag: Option<String>) -> Fetched {
        let etag = etag.unwrap_or_else(|| md5_etag(&bytes));
        Fetched { bytes, etag }
    }

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

/// A GetObject body being read into one buffer, refused past `limit` bytes
/// ([`FederationError::TooLarge`]) before more than `limit` of it is kept.
pub(crate) struct BodyBuffer<'k> {
    key: &'k str,
    limit: u64,
    bytes: Vec<u8>,
}

impl<'k> BodyBuffer<'k> {
    /// A buffer for the body of `key`, refused at once when the length S3 declares is over
    /// `limit`; the declared length is only a hint for the buffer (bounded by the limit and
    /// 256 MiB).
    pub(crate) fn new(
        key: &'k str,
        declared: Option<u64>,
        limit: u64,
    ) -> Result<BodyBuffer<'k>, FederationError> {
        let buffer = BodyBuffer { key, limit, bytes: Vec::new() };
        if let Some(length) = declared.filter(|&l| l > limit) {
            return Err(buffer.too_large(length));
        }
        let hint = declared.unwrap_or(0).min(limit).min(256 << 20);
        Ok(BodyBuffer { bytes: Vec::with_capacity(usize::try_from(hint).unwrap_or(0)), ..buffer })
    }

    /// Adds the next chunk, or refuses the body when it takes it past the limit.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Result<(), FederationError> {
        let read = (self.bytes.len() + chunk.len()) as u64;
        if read > self.limit {
            return Err(self.too_large(read));
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    /// The bytes read so far.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// The object read, with S3's ETag or, when it gave none, the MD5 ETag of the bytes.
    pub(crate) fn finish(self, etag: Option<String>) -> Fetched {
        Fetched::with_etag(self.bytes, etag)
    }

    /// The bytes read, for an answer that is no object (a listing page): no ETag, and none
    /// computed.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    fn too_large(&self, size: u64) -> FederationError {
        FederationError::TooLarge { key: self.key.to_owned(), size, limit: self.limit }
    }
}
