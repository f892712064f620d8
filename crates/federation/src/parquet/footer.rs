//! A small object's footer as the lean reader needs it: its rows, key-value metadata, and
//! each column chunk's place, size, codec and value count, parsed straight from the
//! `FileMetaData` (Thrift's compact protocol) without arrow-rs' metadata structures, which
//! were a fifth of a small object's read. Its schema list is not parsed: the schema is
//! known by its bytes ([`super::lean::known_schema`]), and the column chunks are checked
//! against it.
//!
//! Anything this parser does not take as plain (a missing required field, a column chunk in
//! another file or encrypted, an encrypted footer, a column count or type that differs from
//! the schema's) is `None`: the caller parses the footer with arrow-rs, which reads it or
//! says what is wrong.

use std::ops::Range;

use ::parquet::basic::Type as PhysicalType;
use ::parquet::file::metadata::{ColumnChunkMetaData, KeyValue, ParquetMetaData};
use ::parquet::schema::types::SchemaDescriptor;

use super::lean::{Thrift, T_BINARY, T_I32, T_I64, T_LIST, T_STRUCT};

/// What the lean reader and the container read of a footer.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Footer {
    pub(super) num_rows: i64,
    pub(super) groups: Vec<Group>,
    pub(super) key_values: Vec<KeyValue>,
}

/// A row group: its rows, its uncompressed size as declared, and a chunk per leaf column.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Group {
    pub(super) num_rows: i64,
    pub(super) total_byte_size: i64,
    pub(super) chunks: Vec<Chunk>,
}

/// How a column chunk's pages are compressed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Codec {
    #[default]
    Uncompressed,
    Snappy,
    /// Any other codec (the lean reader leaves it to arrow-rs).
    Other,
}

/// A leaf column chunk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Chunk {
    pub(super) codec: Codec,
    pub(super) num_values: i64,
    pub(super) uncompressed: i64,
    pub(super) compressed: i64,
    pub(super) data_page_offset: i64,
    pub(super) dictionary_page_offset: Option<i64>,
}

impl Chunk {
    /// Where the chunk's pages are in the file: from its dictionary page when it has one.
    pub(super) fn byte_range(&self) -> Option<Range<usize>> {
        let start = usize::try_from(self.dictionary_page_offset.unwrap_or(self.data_page_offset)).ok()?;
        start.checked_add(usize::try_from(self.compressed).ok()?).map(|end| start..end)
    }

    fn of(chunk: &ColumnChunkMetaData) -> Chunk {
        use ::parquet::basic::Compression;
        Chunk {
            codec: match chunk.compression() {
                Compression::UNCOMPRESSED => Codec::Uncompressed,
                Compression::SNAPPY => Codec::Snappy,
                _ => Codec::Other,
            },
            num_values: chunk.num_values(),
            uncompressed: chunk.uncompressed_size(),
            compressed: chunk.compressed_size(),
            data_page_offset: chunk.data_page_offset(),
            dictionary_page_offset: chunk.dictionary_page_offset(),
        }
    }
}

impl Footer {
    /// The same fields, from arrow-rs' parse of a footer.
    pub(super) fn of(metadata: &ParquetMetaData) -> Footer {
        let file = metadata.file_metadata();
        Footer {
            num_rows: file.num_rows(),
            groups: metadata
                .row_groups()
                .iter()
                .map(|g| Group {
                    num_rows: g.num_rows(),
                    total_byte_size: g.total_byte_size(),
                    chunks: g.columns().iter().map(Chunk::of).collect(),
                })
                .collect(),
            key_values: file.key_value_metadata().cloned().unwrap_or_default(),
        }
    }

    /// Whether every row group has a chunk per leaf of `schema`, of its physical type.
    pub(super) fn fits(&self, schema: &SchemaDescriptor, types: &[PhysicalType]) -> bool {
        types.len() == schema.num_columns()
            && self.groups.iter().all(|g| g.chunks.len() == schema.num_columns())
            && schema.columns().iter().zip(types).all(|(c, t)| c.physical_type() == *t)
    }
}

/// A parsed footer, the range of its schema list within `footer`, and the physical type of
/// each column chunk (of the first row group; every group's must agree).
pub(super) struct Parsed {
    pub(super) footer: Footer,
    pub(super) schema: Range<usize>,
    pub(super) types: Vec<PhysicalType>,
}

/// Parses `footer` (the bytes between the data and the footer's length), or `None` when it
/// is anything but a plain footer (see the module's documentation).
pub(super) fn parse(footer: &[u8]) -> Option<Parsed> {
    let mut t = Thrift { buf: footer, at: 0 };
    let (mut num_rows, mut schema, mut groups) = (None, None, None);
    let mut types: Option<Vec<PhysicalType>> = None;
    let mut key_values = Vec::new();
    let mut last = 0;
    while let Some((id, kind)) = t.field(&mut last)? {
        match (id, kind) {
            (2, T_LIST) => {
                let from = t.at;
                t.skip(kind, false, 0)?;
                schema = Some(from..t.at);
            }
            (3, T_I64) => num_rows = Some(t.zigzag()?),
            (4, T_LIST) => {
                let n = t.list_of(T_STRUCT)?;
                let mut parsed = Vec::with_capacity(n.min(footer.len()));
                for _ in 0..n {
                    parsed.push(group(&mut t, &mut types)?);
                }
                groups = Some(parsed);
            }
            (5, T_LIST) => {
                let n = t.list_of(T_STRUCT)?;
                key_values.reserve(n.min(footer.len()));
                for _ in 0..n {
                    key_values.push(key_value(&mut t)?);
                }
            }
            // An encrypted file's algorithm and key: left to arrow-rs.
            (8 | 9, _) => return None,
            _ => t.skip(kind, false, 0)?,
        }
    }
    let groups = groups?;
    Some(Parsed {
        footer: Footer { num_rows: num_rows?, groups, key_values },
        schema: schema?,
        types: types.unwrap_or_default(),
    })
}

/// A `RowGroup`: its columns, sizes and rows; the chunks' types go to (or are checked
/// against) `types`.
fn group(t: &mut Thrift, types: &mut Option<Vec<PhysicalType>>) -> Option<Group> {
    let (mut chunks, mut total_byte_size, mut num_rows) = (None, None, None);
    let mut last = 0;
    while let Some((id, kind)) = t.field(&mut last)? {
        match (id, kind) {
            (1, T_LIST) => {
                let n = t.list_of(T_STRUCT)?;
                let mut parsed = Vec::with_capacity(n.min(t.buf.len()));
                let mut seen = Vec::with_capacity(n.min(t.buf.len()));
                for _ in 0..n {
                    let (chunk, physical) = column_chunk(t)?;
                    parsed.push(chunk);
                    seen.push(physical);
                }
                match types {
                    Some(known) if *known != seen => return None,
                    Some(_) => {}
                    None => *types = Some(seen),
                }
                chunks = Some(parsed);
            }
            (2, T_I64) => total_byte_size = Some(t.zigzag()?),
            (3, T_I64) => num_rows = Some(t.zigzag()?),
            _ => t.skip(kind, false, 0)?,
        }
    }
    Some(Group { num_rows: num_rows?, total_byte_size: total_byte_size?, chunks: chunks? })
}

/// A `ColumnChunk` whose `ColumnMetaData` is in the footer, and its physical type.
fn column_chunk(t: &mut Thrift) -> Option<(Chunk, PhysicalType)> {
    let (mut file_offset, mut meta) = (false, None);
    let mut last = 0;
    while let Some((id, kind)) = t.field(&mut last)? {
        match (id, kind) {
            // In another file, or encrypted: left to arrow-rs.
            (1 | 8 | 9, _) => return None,
            (2, T_I64) => {
                t.zigzag()?;
                file_offset = true;
            }
            (3, T_STRUCT) => meta = Some(column_meta(t)?),
            _ => t.skip(kind, false, 0)?,
        }
    }
    file_offset.then_some(())?;
    meta
}

/// A `ColumnMetaData`'s fields the reader uses; `None` when a required one is missing.
fn column_meta(t: &mut Thrift) -> Option<(Chunk, PhysicalType)> {
    let mut chunk = Chunk::default();
    let mut physical = None;
    // The required fields met: type, encodings, path, codec, values, sizes, data page.
    let mut seen = 0u16;
    let mut last = 0;
    while let Some((id, kind)) = t.field(&mut last)? {
        match (id, kind) {
            (1, T_I32) => physical = Some(physical_type(t.i32()?)?),
            (4, T_I32) => {
                chunk.codec = match t.i32()? {
                    0 => Codec::Uncompressed,
                    1 => Codec::Snappy,
                    _ => Codec::Other,
                }
            }
            (5, T_I64) => chunk.num_values = t.zigzag()?,
            (6, T_I64) => chunk.uncompressed = t.zigzag()?,
            (7, T_I64) => chunk.compressed = t.zigzag()?,
            (9, T_I64) => chunk.data_page_offset = t.zigzag()?,
            (11, T_I64) => chunk.dictionary_page_offset = Some(t.zigzag()?),
            (2 | 3, T_LIST) => t.skip(kind, false, 0)?,
            (1..=7 | 9, _) => return None,
            _ => t.skip(kind, false, 0)?,
        }
        if matches!(id, 1..=7 | 9) {
            seen |= 1 << id;
        }
    }
    (seen == 0b10_1111_1110).then_some(())?;
    Some((chunk, physical?))
}

/// A `KeyValue`: a key and, optionally, a value (both UTF-8).
fn key_value(t: &mut Thrift) -> Option<KeyValue> {
    let (mut key, mut value) = (None, None);
    let mut last = 0;
    while let Some((id, kind)) = t.field(&mut last)? {
        match (id, kind) {
            (1, T_BINARY) => key = Some(t.string()?),
            (2, T_BINARY) => value = Some(t.string()?),
            _ => t.skip(kind, false, 0)?,
        }
    }
    Some(KeyValue::new(key?, value))
}

/// Parquet's `Type` enum.
fn physical_type(value: i32) -> Option<PhysicalType> {
    Some(match value {
        0 => PhysicalType::BOOLEAN,
        1 => PhysicalType::INT32,
        2 => PhysicalType::INT64,
        3 => PhysicalType::INT96,
        4 => PhysicalType::FLOAT,
        5 => PhysicalType::DOUBLE,
        6 => PhysicalType::BYTE_ARRAY,
        7 => PhysicalType::FIXED_LEN_BYTE_ARRAY,
        _ => return None,
    })
}
