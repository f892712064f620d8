//! The Parquet file around the rows: fixed writer properties (so the same set gives the same
//! bytes), ampfed's key-value metadata ([`Header`]), the whole-file checksum, and the
//! [`Limits`] checked before anything is decoded.
//!
//! The checksum is `ampfed.sha256`, the last key-value entry of the footer: the SHA-256, in
//! lower-case hex, of the whole file as written with 64 ASCII `0`s in place of those 64
//! digits. It covers every byte (data pages, page indexes, statistics, the footer), so a
//! reader checks it before it parses anything. The digits sit right after the key's last
//! occurrence in the footer, behind the two bytes of Thrift's compact encoding of a 64-byte
//! string field (`0x18 0x40`): nothing after the key-value list (`created_by`, the column
//! orders) can hold that key.

use std::sync::{Arc, OnceLock};

use ::parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
};
use ::parquet::arrow::arrow_writer::ArrowWriterOptions;
use ::parquet::arrow::ArrowWriter;
use ::parquet::basic::Compression;
use ::parquet::file::metadata::{
    KeyValue, ParquetMetaData, ParquetMetaDataOptions, ParquetMetaDataReader, ParquetStatisticsPolicy,
    SortingColumn,
};
use ::parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use ::parquet::schema::types::{ColumnPath, SchemaDescPtr};
use ampfed_allocation::Window;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, Field, Schema, SchemaRef};
use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::error::{library, ErrorKind};
use super::footer::{self, Footer};
use super::keys::Kind;
use super::lean;
use super::writer;

/// The schema version this build writes, and the newest it reads.
pub const SCHEMA_VERSION: u32 = 2;
/// The first version with an assets table.
pub(super) const ASSETS_SINCE: u32 = 2;

/// Metadata keys.
pub(super) const VERSION_KEY: &str = "ampfed.schema_version";
const KIND_KEY: &str = "ampfed.kind";
const WINDOW_START_KEY: &str = "ampfed.window_start";
const WINDOW_END_KEY: &str = "ampfed.window_end";
const CLUSTERS_KEY: &str = "ampfed.clusters";
const SOURCE_KEY: &str = "ampfed.source";
const CHECKSUM_KEY: &str = "ampfed.sha256";
/// What the checksum's digits are while the file is hashed.
const PLACEHOLDER: [u8; 64] = [b'0'; 64];
/// Thrift compact: field 2 of `KeyValue`, a binary, then its length, 64.
const VALUE_HEADER: [u8; 2] = [0x18, 0x40];

/// `created_by`, fixed so that the bytes do not change with the parquet crate's version
/// string; written as `<application> version <version>` so readers that parse it (Trino,
/// parquet-mr) do.
const CREATED_BY: &str = "ampfed-etl version 2";
/// Rows per batch when reading, and the most rows in one row group when writing.
const READ_BATCH_ROWS: usize = 8_192;
const ROW_GROUP_ROWS: usize = 1 << 20;

/// The largest ETL object the default [`Limits`] accept: also the most bytes the store reads
/// of any one object ([`crate::Store::fetch`]).
pub const MAX_OBJECT_BYTES: u64 = 256 << 20;

/// Bounds on what a reader accepts (and a writer produces), checked before decoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The object's size.
    pub max_object_bytes: u64,
    /// Rows, as the footer declares them.
    pub max_rows: u64,
    /// Uncompressed column data, as the footer declares it.
    pub max_uncompressed_bytes: u64,
}

impl Default for Limits {
    /// 256 MiB objects, 2 million rows (a combined daily set of 400 clusters of 5,000
    /// containers), 1 GiB uncompressed.
    fn default() -> Limits {
        Limits { max_object_bytes: MAX_OBJECT_BYTES, max_rows: 2_000_000, max_uncompressed_bytes: 1 << 30 }
    }
}

/// What ampfed's metadata says about an object.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Header {
    pub(super) version: u32,
    pub(super) kind: Kind,
    pub(super) window: Window,
    pub(super) clusters: Vec<String>,
    /// The writer's stable id (the cost model's instance), when it names one: what the
    /// federator uses to see two writers claim one cluster id.
    pub(super) source: Option<String>,
}

impl Header {
    pub(super) fn key_values(&self) -> Vec<KeyValue> {
        let clusters = serde_json::to_string(&self.clusters)
            .unwrap_or_else(|e| unreachable!("a list of strings serialises: {e}"));
        let mut kv = vec![
            KeyValue::new(VERSION_KEY.into(), self.version.to_string()),
            KeyValue::new(KIND_KEY.into(), self.kind.as_str().to_owned()),
            KeyValue::new(WINDOW_START_KEY.into(), self.window.start.to_string()),
            KeyValue::new(WINDOW_END_KEY.into(), self.window.end.to_string()),
            KeyValue::new(CLUSTERS_KEY.into(), clusters),
        ];
        if let Some(source) = &self.source {
            kv.push(KeyValue::new(SOURCE_KEY.into(), source.clone()));
        }
        // Last, so that no other entry follows the checksum's digits in the footer.
        kv.push(KeyValue::new(CHECKSUM_KEY.into(), String::from_utf8_lossy(&PLACEHOLDER).into_owned()));
        kv
    }
}

/// Per-column choices of a table, by top-level column name: which (nearly) unique string
/// columns skip dictionary encoding, and which flat columns carry no statistics.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct ColumnChoices {
    /// Plain-encoded: a dictionary of values that hardly repeat is built only to be given up
    /// once it outgrows its page (the allocations' `name`, `pod`).
    pub(super) plain: &'static [&'static str],
    /// Without statistics: flat columns nobody selects row groups by, whose min/max would
    /// cost a comparison of every value. Nested columns keep theirs (a scan reads their null
    /// counts to skip empty maps), as do the window columns (Athena's row-group skipping).
    pub(super) unstated: &'static [&'static str],
}

/// The writer properties: every choice that shapes the bytes is spelled out here.
pub(super) fn properties(
    header: &Header,
    sorting: Vec<SortingColumn>,
    choices: ColumnChoices,
) -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_1_0)
        .set_created_by(CREATED_BY.to_owned())
        .set_compression(Compression::SNAPPY)
        .set_dictionary_enabled(true)
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_bloom_filter_enabled(false)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_sorting_columns(Some(sorting))
        .set_key_value_metadata(Some(header.key_values()));
    for name in choices.plain {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(*name), false);
    }
    for name in choices.unstated {
        builder = builder.set_column_statistics_enabled(ColumnPath::from(*name), EnabledStatistics::None);
    }
    builder.build()
}

/// The sealed Parquet bytes of `columns`, declared sorted by the leaf columns `sorted_by`:
/// from the lean writer when it writes them (`super::writer`), else from arrow-rs.
pub(super) fn write(
    header: &Header,
    columns: Vec<(Field, ArrayRef)>,
    sorted_by: &[i32],
    choices: ColumnChoices,
    limits: &Limits,
) -> Result<Vec<u8>, ErrorKind> {
    let fields: Vec<Field> = columns.iter().map(|(f, _)| f.clone()).collect();
    let parts: Vec<Vec<ArrayRef>> = columns.iter().map(|(_, a)| vec![Arc::clone(a)]).collect();
    if let Some(bytes) = write_parts(header, &fields, &parts, sorted_by, choices, limits)? {
        return Ok(bytes);
    }
    drop(parts);
    write_arrow_rs(header, columns, sorted_by, choices, limits)
}

/// [`write`] by arrow-rs alone.
pub(super) fn write_arrow_rs(
    header: &Header,
    columns: Vec<(Field, ArrayRef)>,
    sorted_by: &[i32],
    choices: ColumnChoices,
    limits: &Limits,
) -> Result<Vec<u8>, ErrorKind> {
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
    let rows = arrays.first().map_or(0, |a| a.len());
    if rows as u64 > limits.max_rows {
        return Err(ErrorKind::TooManyRows { rows: rows as u64, limit: limits.max_rows });
    }
    let schema = Arc::new(Schema::new(fields));
    let sorting = sorted_by
        .iter()
        .map(|&column_idx| SortingColumn { column_idx, descending: false, nulls_first: false })
        .collect();
    let options = ArrowWriterOptions::new()
        .with_properties(properties(header, sorting, choices))
        // The Arrow schema is derived from the Parquet one on reading; storing it too would
        // only add a base64 IPC blob that non-Arrow readers ignore.
        .with_skip_arrow_metadata(true);
    let mut writer =
        ArrowWriter::try_new_with_options(Vec::new(), Arc::clone(&schema), options).map_err(library)?;
    if rows > 0 {
        let batch = RecordBatch::try_new(schema, arrays).map_err(library)?;
        writer.write(&batch).map_err(library)?;
    }
    finish(writer.into_inner().map_err(library)?, limits)
}

/// The lean writer's sealed bytes of `parts` (each column's arrays, end to end), `None` when
/// the table is not of the shapes it writes (the caller then writes it with arrow-rs).
pub(super) fn write_parts(
    header: &Header,
    fields: &[Field],
    parts: &[Vec<ArrayRef>],
    sorted_by: &[i32],
    choices: ColumnChoices,
    limits: &Limits,
) -> Result<Option<Vec<u8>>, ErrorKind> {
    let rows: usize = parts.first().map_or(0, |p| p.iter().map(|a| a.len()).sum());
    if rows as u64 > limits.max_rows {
        return Err(ErrorKind::TooManyRows { rows: rows as u64, limit: limits.max_rows });
    }
    let key_values =
        header.key_values().into_iter().map(|kv| (kv.key, kv.value.unwrap_or_default())).collect();
    let options = writer::Options {
        key_values,
        created_by: CREATED_BY,
        sorted_by,
        plain: choices.plain,
        unstated: choices.unstated,
        row_group_rows: ROW_GROUP_ROWS,
    };
    match writer::write(fields, parts, &options) {
        Some(bytes) => finish(bytes, limits).map(Some),
        None => Ok(None),
    }
}

/// Seals `bytes` and checks their size.
fn finish(mut bytes: Vec<u8>, limits: &Limits) -> Result<Vec<u8>, ErrorKind> {
    seal(&mut bytes)?;
    if bytes.len() as u64 > limits.max_object_bytes {
        return Err(ErrorKind::TooLarge { bytes: bytes.len() as u64, limit: limits.max_object_bytes });
    }
    Ok(bytes)
}

/// Where the checksum's 64 digits are.
fn checksum_at(bytes: &[u8]) -> Result<usize, ErrorKind> {
    let range = lean::footer(bytes)?;
    let missing = |detail: &str| ErrorKind::MissingChecksum { detail: detail.to_owned() };
    let key = CHECKSUM_KEY.as_bytes();
    let found = bytes[range.clone()]
        .windows(key.len())
        .rposition(|w| w == key)
        .ok_or_else(|| missing("the key is not in the footer"))?;
    let header = range.start + found + key.len();
    let digits = header + VALUE_HEADER.len();
    if bytes.get(header..digits) != Some(&VALUE_HEADER[..]) || digits + PLACEHOLDER.len() > range.end {
        return Err(missing("the entry's value is not 64 bytes long"));
    }
    Ok(digits)
}

/// The SHA-256 of `bytes` with the placeholder at `at`.
fn digest(bytes: &[u8], at: usize) -> String {
    let mut hash = Sha256::new();
    hash.update(&bytes[..at]);
    hash.update(PLACEHOLDER);
    hash.update(&bytes[at + PLACEHOLDER.len()..]);
    hex::encode(hash.finalize())
}

/// Writes the checksum over its placeholder.
fn seal(bytes: &mut [u8]) -> Result<(), ErrorKind> {
    let at = checksum_at(bytes)?;
    if bytes[at..at + PLACEHOLDER.len()] != PLACEHOLDER {
        return Err(ErrorKind::MissingChecksum { detail: "the writer did not keep the placeholder".into() });
    }
    let sum = digest(bytes, at);
    bytes[at..at + PLACEHOLDER.len()].copy_from_slice(sum.as_bytes());
    Ok(())
}

/// Checks the checksum: before any parsing, so a corrupted object is reported as such.
fn verify(bytes: &[u8]) -> Result<(), ErrorKind> {
    let at = checksum_at(bytes)?;
    let stored = &bytes[at..at + PLACEHOLDER.len()];
    if !stored.iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)) {
        return Err(ErrorKind::Checksum {
            expected: String::from_utf8_lossy(stored).into_owned(),
            actual: digest(bytes, at),
        });
    }
    let actual = digest(bytes, at);
    if stored != actual.as_bytes() {
        return Err(ErrorKind::Checksum { expected: String::from_utf8_lossy(stored).into_owned(), actual });
    }
    Ok(())
}

/// A verified object, ready to be read batch by batch ([`Opened::batches`]).
pub(super) struct Opened {
    pub(super) header: Header,
    pub(super) schema: SchemaRef,
    pub(super) rows: usize,
    pub(super) bytes: Bytes,
    /// The footer as the lean reader reads it.
    pub(super) footer: Footer,
    /// The Parquet schema.
    pub(super) parquet: SchemaDescPtr,
    /// arrow-rs' parse of the footer: made when the object is opened if the lean parse
    /// could not be used, else when first needed ([`Opened::metadata`]).
    metadata: OnceLock<Arc<ParquetMetaData>>,
    statistics: Statistics,
}

/// An object's batches: from the lean reader (small objects of its shape, a batch a row
/// group) or from arrow-rs.
pub(super) enum Batches {
    Lean(std::vec::IntoIter<RecordBatch>),
    Arrow(ParquetRecordBatchReader),
}

impl Iterator for Batches {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Batches::Lean(batches) => batches.next().map(Ok),
            Batches::Arrow(reader) => reader.next(),
        }
    }
}

impl Opened {
    /// The object's batches, of [`Opened::schema`].
    pub(super) fn batches(&self) -> Result<Batches, ErrorKind> {
        if self.rows <= lean::LEAN_ROWS {
            if let Some(batches) = lean::batches(&self.bytes, &self.footer, &self.parquet, &self.schema) {
                return Ok(Batches::Lean(batches.into_iter()));
            }
        }
        let options = ArrowReaderOptions::new().with_skip_arrow_metadata(true);
        let metadata = ArrowReaderMetadata::try_new(self.metadata()?, options).map_err(library)?;
        // No larger than the object: the readers size their buffers by the batch, and most
        // objects hold a few hundred rows.
        let batch_rows = READ_BATCH_ROWS.min(self.rows.max(1));
        ParquetRecordBatchReaderBuilder::new_with_metadata(self.bytes.clone(), metadata)
            .with_batch_size(batch_rows)
            .build()
            .map(Batches::Arrow)
            .map_err(library)
    }

    /// arrow-rs' parse of the footer (with the column statistics when the object was opened
    /// with [`Statistics::Keep`]).
    pub(super) fn metadata(&self) -> Result<Arc<ParquetMetaData>, ErrorKind> {
        if let Some(metadata) = self.metadata.get() {
            return Ok(Arc::clone(metadata));
        }
        let parsed = Arc::new(parse_metadata(&self.bytes, Some(&self.parquet), self.statistics)?);
        Ok(Arc::clone(self.metadata.get_or_init(|| parsed)))
    }
}

/// arrow-rs' parse of `bytes`' footer, with the Parquet schema when it is known.
fn parse_metadata(
    bytes: &Bytes,
    schema: Option<&SchemaDescPtr>,
    statistics: Statistics,
) -> Result<ParquetMetaData, ErrorKind> {
    let mut options = ParquetMetaDataOptions::new().with_size_stats_policy(ParquetStatisticsPolicy::SkipAll);
    if statistics == Statistics::Skip {
        options = options.with_column_stats_policy(ParquetStatisticsPolicy::SkipAll);
    }
    if let Some(schema) = schema {
        options = options.with_schema(Arc::clone(schema));
    }
    ParquetMetaDataReader::new().with_metadata_options(Some(options)).parse_and_finish(bytes).map_err(library)
}

/// Opens a Parquet object: size, footer, checksum, then the metadata, the version, and the
/// declared rows and sizes against `limits`, all before any row is decoded.
pub(super) fn open(bytes: &[u8], limits: &Limits) -> Result<Opened, ErrorKind> {
    if bytes.len() as u64 > limits.max_object_bytes {
        return Err(ErrorKind::TooLarge { bytes: bytes.len() as u64, limit: limits.max_object_bytes });
    }
    verify(bytes)?;
    open_verified(Bytes::copy_from_slice(bytes), limits, Statistics::Skip)
}

/// [`open`] without copying `bytes`.
pub(super) fn open_bytes(bytes: Bytes, limits: &Limits) -> Result<Opened, ErrorKind> {
    open_bytes_with(bytes, limits, Statistics::Skip)
}

/// Whether the footer's column statistics are decoded: only a scan reads them (the null
/// counts of nested columns); decoding them costs a tenth of a small object's read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Statistics {
    Skip,
    Keep,
}

/// [`open_bytes`], with the column statistics decoded or not.
pub(super) fn open_bytes_with(
    bytes: Bytes,
    limits: &Limits,
    statistics: Statistics,
) -> Result<Opened, ErrorKind> {
    if bytes.len() as u64 > limits.max_object_bytes {
        return Err(ErrorKind::TooLarge { bytes: bytes.len() as u64, limit: limits.max_object_bytes });
    }
    verify(&bytes)?;
    open_verified(bytes, limits, statistics)
}

/// The rest of [`open`], once size and checksum are checked: the footer parsed lean when its
/// schema is a known one (and the statistics are not wanted), else by arrow-rs.
fn open_verified(bytes: Bytes, limits: &Limits, statistics: Statistics) -> Result<Opened, ErrorKind> {
    let range = lean::footer(&bytes).ok();
    let parsed = range.clone().filter(|_| statistics == Statistics::Skip).and_then(|r| {
        // Lean only for a schema met before, found by its bytes (and then stepped over).
        let footer_bytes = &bytes[r];
        let (at, known) = lean::known_schema_in(footer_bytes)?;
        let parsed = footer::parse(footer_bytes, Some(at.clone()))?;
        (parsed.schema == at).then_some(())?;
        parsed.footer.fits(&known.parquet, &parsed.types).then_some((parsed.footer, known))
    });
    let (lean_footer, known, metadata) = match parsed {
        Some((lean_footer, known)) => (lean_footer, known, OnceLock::new()),
        None => {
            let schema_bytes = range.and_then(|r| lean::schema_bytes(&bytes[r]));
            let known = schema_bytes.and_then(lean::known_schema);
            let metadata = parse_metadata(&bytes, known.as_ref().map(|k| &k.parquet), statistics)?;
            let known = match known {
                Some(known) => known,
                None => lean::learn_schema(schema_bytes, metadata.file_metadata().schema_descr_ptr())?,
            };
            (Footer::of(&metadata), known, OnceLock::from(Arc::new(metadata)))
        }
    };
    let header = read_header(&lean_footer.key_values)?;
    let rows = u64::try_from(lean_footer.num_rows).map_err(|_| ErrorKind::Parquet {
        detail: format!("the footer declares {} rows", lean_footer.num_rows),
    })?;
    if rows > limits.max_rows {
        return Err(ErrorKind::TooManyRows { rows, limit: limits.max_rows });
    }
    let uncompressed = lean_footer
        .groups
        .iter()
        .try_fold(0u64, |sum, g| u64::try_from(g.total_byte_size).ok().and_then(|n| sum.checked_add(n)))
        .ok_or_else(|| ErrorKind::Parquet {
            detail: "the footer declares unreadable row group sizes".into(),
        })?;
    if uncompressed > limits.max_uncompressed_bytes {
        return Err(ErrorKind::TooLargeUncompressed {
            bytes: uncompressed,
            limit: limits.max_uncompressed_bytes,
        });
    }
    // `rows` is at most `max_rows`, which a caller sized for memory.
    Ok(Opened {
        header,
        schema: known.arrow,
        rows: rows as usize,
        bytes,
        footer: lean_footer,
        parquet: known.parquet,
        metadata,
        statistics,
    })
}

/// ampfed's metadata: the version first, so that a newer file is refused for what it is.
fn read_header(kv: &[KeyValue]) -> Result<Header, ErrorKind> {
    let get = |entry: &'static str| -> Result<&str, ErrorKind> {
        kv.iter()
            .rev()
            .find(|e| e.key == entry)
            .and_then(|e| e.value.as_deref())
            .ok_or(ErrorKind::Metadata { entry, detail: "missing: not an ampfed ETL object".into() })
    };
    let bad = |entry: &'static str, detail: String| ErrorKind::Metadata { entry, detail };
    let version: u32 =
        get(VERSION_KEY)?.parse().map_err(|e| bad(VERSION_KEY, format!("not a version number: {e}")))?;
    if version > SCHEMA_VERSION {
        return Err(ErrorKind::NewerVersion { found: version, supported: SCHEMA_VERSION });
    }
    if version == 0 {
        return Err(bad(VERSION_KEY, "version 0 does not exist".into()));
    }
    let kind = Kind::parse(get(KIND_KEY)?)
        .ok_or_else(|| bad(KIND_KEY, "neither `allocations` nor `assets`".into()))?;
    if kind == Kind::Assets && version < ASSETS_SINCE {
        return Err(bad(VERSION_KEY, format!("assets objects start at schema version {ASSETS_SINCE}")));
    }
    let number = |entry: &'static str| -> Result<i64, ErrorKind> {
        get(entry)?.parse().map_err(|e| bad(entry, format!("not unix seconds: {e}")))
    };
    let window = Window { start: number(WINDOW_START_KEY)?, end: number(WINDOW_END_KEY)? };
    if window.end <= window.start {
        return Err(bad(
            WINDOW_END_KEY,
            format!("window {}-{} ends before it starts", window.start, window.end),
        ));
    }
    let clusters: Vec<String> = serde_json::from_str(get(CLUSTERS_KEY)?)
        .map_err(|e| bad(CLUSTERS_KEY, format!("not a JSON list of strings: {e}")))?;
    let source = kv.iter().rev().find(|e| e.key == SOURCE_KEY).and_then(|e| e.value.clone());
    Ok(Header { version, kind, window, clusters, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_limits_are_the_documented_ones() {
        let l = Limits::default();
        assert_eq!(
            (l.max_object_bytes, l.max_rows, l.max_uncompressed_bytes),
            (268_435_456, 2_000_000, 1_073_741_824)
        );
    }

    #[test]
    fn short_and_footless_objects_are_truncated() {
        for bytes in [&b"PAR1"[..], b"PAR1\0\0\0\0\0\0\0\0\0", b"PAR1\0\0\0\0\xff\0\0\0PAR1"] {
            let err = verify(bytes).unwrap_err();
            assert!(matches!(err, ErrorKind::Truncated { .. }), "{err}");
        }
        let err = verify(b"PAR1 no checksum in here \x05\0\0\0PAR1").unwrap_err();
        assert!(matches!(err, ErrorKind::MissingChecksum { .. }), "{err}");
    }
}
