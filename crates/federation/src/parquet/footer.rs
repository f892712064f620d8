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

use super::thrift::{Thrift, T_BINARY, T_I32, T_I64, T_LIST, T_STRUCT};

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
/// is anything but a plain footer (see the module's documentation). `schema`, when given, is
/// where the schema list is known to be (its bytes those of a schema met before): the list
/// is then stepped over instead of walked, when it starts there.
pub(super) fn parse(footer: &[u8], schema_at: Option<Range<usize>>) -> Option<Parsed> {
    let mut t = Thrift { buf: footer, at: 0 };
    let (mut num_rows, mut schema, mut groups) = (None, None, None);
    let mut types: Option<Vec<PhysicalType>> = None;
    let mut key_values = Vec::new();
    let mut last = 0;
    while let Some((id, kind)) = t.field(&mut last)? {
        match (id, kind) {
            (2, T_LIST) => {
                let from = t.at;
                match schema_at.as_ref().filter(|r| r.start == from && r.end <= footer.len()) {
                    Some(known) => t.at = known.end,
                    None => t.skip(kind, false, 0)?,
                }
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ::parquet::arrow::ArrowWriter;
    use ::parquet::file::metadata::ParquetMetaDataReader;
    use ::parquet::file::properties::WriterProperties;
    use arrow_array::{Float64Array, Int64Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    use super::*;

    /// A small file of three row groups, with key-value metadata, written by arrow-rs.
    fn file() -> Vec<u8> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("x", DataType::Float64, true),
            Field::new("s", DataType::Utf8, false),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from_iter_values(0..30)),
                Arc::new(Float64Array::from_iter((0..30).map(|i| (i % 3 != 0).then_some(f64::from(i))))),
                Arc::new(StringArray::from_iter_values((0..30).map(|i| format!("name-{i}")))),
            ],
        )
        .unwrap();
        let properties = WriterProperties::builder()
            .set_max_row_group_row_count(Some(10))
            .set_key_value_metadata(Some(vec![
                KeyValue::new("k".into(), "v".to_owned()),
                KeyValue::new("no value".into(), None),
            ]))
            .build();
        let mut writer = ArrowWriter::try_new(Vec::new(), schema, Some(properties)).unwrap();
        writer.write(&batch).unwrap();
        writer.into_inner().unwrap()
    }

    fn footer_bytes(bytes: &[u8]) -> &[u8] {
        &bytes[super::super::lean::footer(bytes).unwrap()]
    }

    #[test]
    fn a_footer_parses_as_arrow_rs_parses_it() {
        let bytes = file();
        let parsed = parse(footer_bytes(&bytes), None).expect("a plain footer");
        let metadata =
            ParquetMetaDataReader::new().parse_and_finish(&bytes::Bytes::from(bytes.clone())).unwrap();
        assert_eq!(parsed.footer, Footer::of(&metadata));
        // Worked by hand: 30 rows in groups of 10, three leaves each, both key-values kept.
        assert_eq!(parsed.footer.num_rows, 30);
        assert_eq!(parsed.footer.groups.iter().map(|g| g.num_rows).collect::<Vec<_>>(), [10, 10, 10]);
        assert!(parsed.footer.groups.iter().all(|g| g.chunks.len() == 3));
        assert_eq!(parsed.footer.key_values[1], KeyValue::new("no value".into(), None));
        assert_eq!(parsed.types, [PhysicalType::INT64, PhysicalType::DOUBLE, PhysicalType::BYTE_ARRAY]);
        let schema = metadata.file_metadata().schema_descr();
        assert!(parsed.footer.fits(schema, &parsed.types));
        assert!(!parsed.footer.fits(schema, &parsed.types[..2]), "a leaf short");
        let mut other = parsed.types.clone();
        other[0] = PhysicalType::INT32;
        assert!(!parsed.footer.fits(schema, &other), "another type");
    }

    #[test]
    fn a_known_schema_is_stepped_over_where_it_starts_and_ignored_elsewhere() {
        let bytes = file();
        let footer = footer_bytes(&bytes);
        let walked = parse(footer, None).expect("a plain footer");
        let at = walked.schema.clone();
        let stepped = parse(footer, Some(at.clone())).expect("a plain footer");
        assert_eq!(
            (stepped.footer, stepped.schema, stepped.types),
            (walked.footer.clone(), at.clone(), walked.types)
        );
        // Where the schema list does not start, the hint is not taken: the list is walked.
        let elsewhere = parse(footer, Some(at.start + 1..at.end)).expect("a plain footer");
        assert_eq!(elsewhere.schema, at);
        assert_eq!(elsewhere.footer, walked.footer);
    }

    #[test]
    fn a_damaged_footer_is_refused_or_parsed_never_a_panic() {
        let bytes = file();
        let footer = footer_bytes(&bytes);
        for end in 0..footer.len() {
            assert!(parse(&footer[..end], None).is_none(), "cut at {end}");
        }
        // Every byte changed in turn, to a few values: parsed or refused, within bounds.
        for at in 0..footer.len() {
            for value in [0x00, 0x19, 0x7f, 0xff] {
                let mut damaged = footer.to_vec();
                damaged[at] = value;
                let _ = parse(&damaged, None);
            }
        }
    }

    #[test]
    fn what_arrow_rs_should_say_is_left_to_it() {
        // A column chunk in another file (`file_path`, field 1 of a ColumnChunk): a struct
        // with field 1 as a string, then the end of the struct.
        let mut t = Thrift { buf: &[0x18, 0x01, b'x', 0x00], at: 0 };
        assert!(column_chunk(&mut t).is_none());
        // A footer with an encryption algorithm (field 8 of FileMetaData, after field 4).
        let mut t = Thrift { buf: &[0x8c, 0x00, 0x00], at: 0 };
        let mut last = 0;
        assert_eq!(t.field(&mut last), Some(Some((8, T_STRUCT))));
        assert!(parse(&[0x8c, 0x00, 0x00], None).is_none());
        // A column's metadata without its data page offset (field 9).
        let meta = [0x15, 0x04, 0x19, 0x00, 0x19, 0x00, 0x15, 0x02, 0x16, 0x02, 0x16, 0x02, 0x16, 0x02, 0x00];
        assert!(column_meta(&mut Thrift { buf: &meta, at: 0 }).is_none());
        // With it (field 9, 100), the same bytes parse: an INT64 chunk in Snappy.
        let mut whole = meta[..meta.len() - 1].to_vec();
        whole.extend([0x26, 0xc8, 0x01, 0x00]);
        let (chunk, physical) =
            column_meta(&mut Thrift { buf: &whole, at: 0 }).expect("every required field");
        assert_eq!(
            (physical, chunk.codec, chunk.data_page_offset),
            (PhysicalType::INT64, Codec::Snappy, 100)
        );
    }
}
