//! The Parquet codec of the federated ETL (`docs/etl-format.md`): one object per cluster,
//! kind and window, `federated/<cluster>/etl/{allocations,assets}/{1d,1h}/<start>-<end>.parquet`
//! ([`EtlKey`]), written with arrow-rs.
//!
//! - **Schema**: allocations are one row per allocation with a flat column per Kubecost field
//!   ([`schema`]); assets are one table with a `type` column. Labels and annotations are
//!   `map<string,string>`. The schema is versioned (`ampfed.schema_version`, now
//!   [`SCHEMA_VERSION`]): an older file reads with the later columns at their defaults, a
//!   newer one is refused with a message to upgrade.
//! - **Deterministic**: rows sorted (allocations by name; assets by type, cluster, name), fixed
//!   writer properties and `created_by`, no timestamps: the same set gives the same bytes.
//! - **Checked**: `ampfed.sha256` in the footer covers the whole file; readers verify it, the
//!   size and the declared rows ([`Limits`]) before they parse or decode anything.
//! - **The first format**: [`decode_any`] also reads format 1's JSON allocation and asset
//!   sets (`crate::format`), recognised by their first byte, so buckets written before this
//!   codec stay readable.
//!
//! Errors are [`ParquetError`]s (the key and an [`ErrorKind`]), which convert into
//! [`crate::FederationError::Format`].

mod allocations;
mod assets;
mod codec;
mod columns;
mod container;
mod error;
mod footer;
mod keys;
mod lean;
pub mod scan;
mod thrift;
mod writer;

pub use codec::{
    allocation_piece, allocation_piece_of, encode_combined_allocations, encode_combined_allocations_with,
    AllocationPiece, Writer,
};
pub use codec::{
    decode_allocations, decode_any, decode_any_with, decode_assets, encode_allocations, encode_assets,
    schema, ColumnInfo, EtlObject, EtlSet,
};
pub use container::{Limits, MAX_OBJECT_BYTES, SCHEMA_VERSION};
pub use error::{ErrorKind, ParquetError};
pub use keys::{Encoding, EtlKey, Kind, Resolution};

/// The `Content-Type` stored with every Parquet ETL object (the media type registered for
/// Apache Parquet).
pub const CONTENT_TYPE: &str = "application/vnd.apache.parquet";
