//! What can go wrong reading or writing a Parquet ETL object: a [`ParquetError`] names the
//! object (its key, or the set being encoded) and says what is wrong in an [`ErrorKind`];
//! it converts into [`FederationError::Format`] for the store, and into the JSON codec's
//! [`DecodeError`] for the federator's trust checks.

use super::keys::Kind;
use crate::format::{DecodeError, DecodeReason};
use crate::FederationError;

/// An object that could not be read, or a set that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("object {key}: {kind}")]
pub struct ParquetError {
    /// The object's key (as given to the decoder), or `new <kind> object <start>-<end>` for
    /// a set being encoded.
    pub key: String,
    pub kind: ErrorKind,
}

impl ParquetError {
    pub(super) fn new(key: &str, kind: ErrorKind) -> ParquetError {
        ParquetError { key: key.to_owned(), kind }
    }
}

/// Why an object was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ErrorKind {
    /// Refused before reading anything: the object is larger than [`super::Limits`] allows.
    #[error("{bytes} bytes is over the limit of {limit} bytes for one ETL object")]
    TooLarge { bytes: u64, limit: u64 },
    /// Refused before decoding: the footer declares more rows than [`super::Limits`] allows.
    #[error("{rows} rows is over the limit of {limit} rows for one ETL object")]
    TooManyRows { rows: u64, limit: u64 },
    /// Refused before decoding: the footer declares more uncompressed bytes than allowed.
    #[error("{bytes} uncompressed bytes is over the limit of {limit} bytes for one ETL object")]
    TooLargeUncompressed { bytes: u64, limit: u64 },
    /// Not a whole Parquet file: no footer, or a footer longer than the object.
    #[error("truncated or incomplete Parquet object ({bytes} bytes): {detail}")]
    Truncated { bytes: u64, detail: String },
    /// Neither `PAR1` nor a JSON object at the start.
    #[error("neither Parquet (no `PAR1` magic) nor a JSON ETL object: it starts with {start}")]
    UnknownFormat { start: String },
    /// The footer holds no `ampfed.sha256` entry (or a damaged one).
    #[error("no readable ampfed checksum (`ampfed.sha256`) in the footer: {detail}")]
    MissingChecksum { detail: String },
    /// The bytes do not hash to the checksum the footer carries.
    #[error(
        "checksum mismatch: the footer says SHA-256 {expected}, the object hashes to {actual}; \
         the object is corrupted (rewrite it from its source)"
    )]
    Checksum { expected: String, actual: String },
    /// Written by a newer ampfed.
    #[error(
        "schema version {found} is newer than this build, which reads versions 1 to {supported}; \
         upgrade ampfed to read it"
    )]
    NewerVersion { found: u32, supported: u32 },
    /// A key-value metadata entry is missing or unreadable.
    #[error("metadata entry `{entry}`: {detail}")]
    Metadata { entry: &'static str, detail: String },
    /// An allocations object read as assets, or the other way round.
    #[error("holds {found}, read as {expected}")]
    WrongKind { expected: Kind, found: Kind },
    /// The object's key and its content disagree (kind, window, encoding).
    #[error("the key does not match the content: {detail}")]
    KeyMismatch { detail: String },
    /// A column is missing, unknown, or of the wrong type.
    #[error("schema: {detail}")]
    Schema { detail: String },
    /// One value is unusable: null where the schema requires one, not finite, a duplicate
    /// map key, a value of another asset type.
    #[error("row {row} ({name}), column `{column}`: {detail}")]
    Value { row: usize, name: String, column: &'static str, detail: String },
    /// The Parquet or Arrow library refused the bytes (or, encoding, the arrays).
    #[error("Parquet: {detail}")]
    Parquet { detail: String },
    /// A JSON (format version 1) object that does not read.
    #[error("JSON: {detail}")]
    Json { detail: String },
}

impl From<ParquetError> for FederationError {
    fn from(e: ParquetError) -> FederationError {
        FederationError::Format { key: e.key, message: e.kind.to_string() }
    }
}

/// For the federator's trust checks, which sort undecodable objects by [`DecodeReason`]: a
/// newer schema version is a version, a window that ends before it starts a window, anything
/// else malformed.
impl From<ParquetError> for DecodeError {
    fn from(e: ParquetError) -> DecodeError {
        let reason = match &e.kind {
            ErrorKind::NewerVersion { found, .. } => DecodeReason::Version { found: *found },
            ErrorKind::Metadata { entry: "ampfed.window_end", .. } => {
                DecodeReason::Window(e.kind.to_string())
            }
            other => DecodeReason::Malformed(other.to_string()),
        };
        DecodeError { key: e.key, reason }
    }
}

/// The library's errors, as [`ErrorKind::Parquet`].
pub(super) fn library<E: std::fmt::Display>(e: E) -> ErrorKind {
    ErrorKind::Parquet { detail: e.to_string() }
}
