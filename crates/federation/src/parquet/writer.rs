//! A lean writer for tables of the allocations' shape: the Parquet bytes of required flat
//! columns (`INT64`, `DOUBLE`, `BYTE_ARRAY` strings) and of required lists and maps one
//! repetition level deep whose every leaf is required (a `list<string>`, a
//! `map<string,string>`, a map to a struct of such leaves), written straight from Arrow
//! arrays, or from several arrays of a column end to end (the federator's pieces, never
//! concatenated). Anything else (a null, an optional column, another type, deeper nesting)
//! is `None`, and the caller writes the table with arrow-rs.
//!
//! It writes what arrow-rs writes with the container's properties, in the same layout:
//! version 1 data pages whose levels are RLE-encoded behind their 4-byte lengths, a `PLAIN`
//! dictionary page and dictionary indices, or `PLAIN` values where the column is to have no
//! dictionary or its dictionary outgrows [`DICTIONARY_BYTES`]; Snappy; chunk statistics
//! (null counts, and exact minimum and maximum where asked; none for the flat columns told to
//! go without); page encoding statistics
//! (what a scan reads to know a column holds one value); the schema exactly as arrow-rs
//! writes it (its bytes are taken from an empty file arrow-rs wrote, [`Shape`]). What it
//! saves is arrow-rs' per-value work: a combined window's dictionaries are interned here by
//! a plain hash of each value (and the previous value, first), which was an eighth of a
//! federation run in arrow-rs' generic interner.
//!
//! The bytes are not arrow-rs' (a chunk here is all dictionary or all plain, where arrow-rs
//! falls back page by page), but they are the same for the same rows, however the rows are
//! cut into parts: each chunk is written from its values alone.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::ops::Range;
use std::sync::{Arc, Mutex};

use ::parquet::arrow::ArrowWriter;
use ::parquet::basic::Type as PhysicalType;
use ::parquet::file::metadata::ParquetMetaDataReader;
use ::parquet::schema::types::SchemaDescriptor;
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, ListArray, MapArray, StringArray, StructArray};
use arrow_schema::{DataType, Field, Schema};

use super::lean::{self, DATA_PAGE, DICTIONARY_PAGE, MAGIC, PLAIN, PLAIN_DICTIONARY, RLE};
use super::thrift::{T_BINARY, T_FALSE, T_I16, T_I32, T_I64, T_LIST, T_STRUCT, T_TRUE};

/// Rows in one data page at most (arrow-rs' default row count limit).
const PAGE_ROWS: usize = 20_000;
/// A data page is cut once its values take this many bytes (arrow-rs' default page size).
const PAGE_BYTES: usize = 1 << 20;
/// A chunk's dictionary may take this many bytes, `PLAIN`-encoded (arrow-rs' default
/// dictionary page size); a larger one is dropped and the chunk written `PLAIN`.
const DICTIONARY_BYTES: usize = 1 << 20;

/// What the caller decides about the file.
pub(super) struct Options<'a> {
    /// The footer's key-value metadata, in order.
    pub(super) key_values: Vec<(String, String)>,
    pub(super) created_by: &'a str,
    /// The leaf columns the rows are sorted by (ascending, nulls last).
    pub(super) sorted_by: &'a [i32],
    /// Top-level columns written `PLAIN`, without a dictionary.
    pub(super) plain: &'a [&'a str],
    /// Top-level flat columns without minimum and maximum statistics.
    pub(super) unstated: &'a [&'a str],
    /// The most rows in one row group.
    pub(super) row_group_rows: usize,
}

/// The Parquet file of `columns` (each a column's parts, end to end) of `fields`; `None`
/// when a column is not of the shapes this writer writes.
pub(super) fn write(fields: &[Field], columns: &[Vec<ArrayRef>], options: &Options) -> Option<Vec<u8>> {
    if fields.len() != columns.len() || fields.is_empty() {
        return None;
    }
    let rows: usize = columns[0].iter().map(|a| a.len()).sum();
    let shape = Shape::of(fields)?;
    let mut leaves: Vec<LeafPlan> = Vec::with_capacity(shape.descr.num_columns());
    for (root, (field, parts)) in fields.iter().zip(columns).enumerate() {
        if parts.iter().map(|a| a.len()).sum::<usize>() != rows {
            return None;
        }
        let first = leaves.len();
        let name = field.name().as_str();
        let dictionary = !options.plain.contains(&name);
        let stated = !options.unstated.contains(&name);
        let sources: Vec<Vec<Source>> =
            parts.iter().map(|a| sources(field, a.as_ref())).collect::<Option<Vec<_>>>()?;
        let count = sources.first().map_or_else(|| leaf_count(field.data_type()), Vec::len);
        for leaf in 0..count {
            let l = first + leaf;
            if l >= shape.descr.num_columns() || shape.descr.get_column_root_idx(l) != root {
                return None;
            }
            let column = shape.descr.column(l);
            let nested = matches!(field.data_type(), DataType::List(_) | DataType::Map(..));
            let levels = (column.max_def_level(), column.max_rep_level());
            if levels != if nested { (1, 1) } else { (0, 0) } {
                return None;
            }
            let physical = column.physical_type();
            let parts = sources.iter().map(|s| s[leaf].clone()).collect::<Vec<_>>();
            if parts.iter().any(|s| !s.is(physical)) {
                return None;
            }
            leaves.push(LeafPlan {
                path: column.path().parts().to_vec(),
                physical,
                nested,
                dictionary,
                stated: stated && !nested,
                parts,
            });
        }
    }
    if leaves.len() != shape.descr.num_columns() {
        return None;
    }
    let mut out = Vec::with_capacity(rows * 16 + 4096);
    out.extend_from_slice(MAGIC);
    let mut groups = Vec::new();
    let mut from = 0;
    while from < rows {
        let to = (from + options.row_group_rows.max(1)).min(rows);
        let mut chunks = Vec::with_capacity(leaves.len());
        for leaf in &leaves {
            chunks.push(leaf.write(from..to, &mut out)?);
        }
        groups.push(Group { rows: to - from, chunks });
        from = to;
    }
    let footer = footer(&shape, rows, &groups, &leaves, options);
    let len = u32::try_from(footer.len()).ok()?;
    out.extend_from_slice(&footer);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(MAGIC);
    Some(out)
}

/// A schema as arrow-rs writes it: the Thrift bytes of its footer's schema list, and the
/// parsed descriptor.
struct Shape {
    schema_list: Vec<u8>,
    descr: Arc<SchemaDescriptor>,
}

/// The shapes met so far, by their Arrow fields.
static SHAPES: Mutex<Vec<(Vec<Field>, Arc<Shape>)>> = Mutex::new(Vec::new());
/// Distinct shapes kept.
const KEPT_SHAPES: usize = 16;

impl Shape {
    /// The shape of `fields`, from an empty file arrow-rs writes of them (once per shape).
    fn of(fields: &[Field]) -> Option<Arc<Shape>> {
        if let Some((_, s)) = SHAPES.lock().ok()?.iter().find(|(f, _)| f.as_slice() == fields) {
            return Some(Arc::clone(s));
        }
        let schema = Arc::new(Schema::new(fields.to_vec()));
        let options =
            ::parquet::arrow::arrow_writer::ArrowWriterOptions::new().with_skip_arrow_metadata(true);
        let writer = ArrowWriter::try_new_with_options(Vec::new(), schema, options).ok()?;
        let bytes = bytes::Bytes::from(writer.into_inner().ok()?);
        let metadata = ParquetMetaDataReader::new().parse_and_finish(&bytes).ok()?;
        let footer = bytes.get(lean::footer(&bytes).ok()?)?;
        let schema_list = lean::schema_bytes(footer)?.to_vec();
        let shape = Arc::new(Shape { schema_list, descr: metadata.file_metadata().schema_descr_ptr() });
        let mut shapes = SHAPES.lock().ok()?;
        if shapes.len() < KEPT_SHAPES {
            shapes.push((fields.to_vec(), Arc::clone(&shape)));
        }
        Some(shape)
    }
}

/// How many leaves a column of `data_type` has.
fn leaf_count(data_type: &DataType) -> usize {
    match data_type {
        DataType::List(_) => 1,
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(f) => f.iter().map(|f| leaf_count(f.data_type())).sum(),
            _ => 0,
        },
        DataType::Struct(f) => f.iter().map(|f| leaf_count(f.data_type())).sum(),
        _ => 1,
    }
}

/// The values of one leaf in one part: its array, and for a nested column the part's
/// offsets (a row's entries).
#[derive(Clone)]
struct Source<'a> {
    offsets: Option<&'a [i32]>,
    values: Values<'a>,
}

#[derive(Clone, Copy)]
enum Values<'a> {
    I64(&'a [i64]),
    F64(&'a [f64]),
    Str { offsets: &'a [i32], data: &'a [u8] },
}

impl Source<'_> {
    fn is(&self, physical: PhysicalType) -> bool {
        matches!(
            (self.values, physical),
            (Values::I64(_), PhysicalType::INT64)
                | (Values::F64(_), PhysicalType::DOUBLE)
                | (Values::Str { .. }, PhysicalType::BYTE_ARRAY)
        )
    }

    /// The value range of rows `rows` of this part.
    fn value_range(&self, rows: Range<usize>) -> Range<usize> {
        match self.offsets {
            None => rows,
            Some(o) => o[rows.start] as usize..o[rows.end] as usize,
        }
    }
}

/// The leaves of one part of a column: `None` for a null anywhere, a nullable field, or a
/// type this writer does not write.
fn sources<'a>(field: &Field, array: &'a dyn Array) -> Option<Vec<Source<'a>>> {
    if field.is_nullable() || array.null_count() != 0 {
        return None;
    }
    let any = array.as_any();
    match field.data_type() {
        DataType::List(element) => {
            let list = any.downcast_ref::<ListArray>()?;
            let values = list.values().as_ref();
            if element.is_nullable() || values.null_count() != 0 {
                return None;
            }
            let offsets = list.value_offsets();
            Some(vec![Source { offsets: Some(offsets), values: flat(element.data_type(), values)? }])
        }
        DataType::Map(entries, _) => {
            let map = any.downcast_ref::<MapArray>()?;
            let offsets = map.value_offsets();
            let DataType::Struct(fields) = entries.data_type() else { return None };
            let mut out = Vec::new();
            entry_leaves(fields, map.entries(), offsets, &mut out)?;
            Some(out)
        }
        other => Some(vec![Source { offsets: None, values: flat(other, array)? }]),
    }
}

/// The leaves of a struct below the repetition (a map's entries, a struct value).
fn entry_leaves<'a>(
    fields: &arrow_schema::Fields,
    entries: &'a StructArray,
    offsets: &'a [i32],
    out: &mut Vec<Source<'a>>,
) -> Option<()> {
    for (f, child) in fields.iter().zip(entries.columns()) {
        if f.is_nullable() || child.null_count() != 0 {
            return None;
        }
        match f.data_type() {
            DataType::Struct(inner) => {
                entry_leaves(inner, child.as_any().downcast_ref::<StructArray>()?, offsets, out)?
            }
            other => out.push(Source { offsets: Some(offsets), values: flat(other, child.as_ref())? }),
        }
    }
    Some(())
}

fn flat<'a>(data_type: &DataType, array: &'a dyn Array) -> Option<Values<'a>> {
    if array.null_count() != 0 {
        return None;
    }
    let any = array.as_any();
    Some(match data_type {
        DataType::Int64 => Values::I64(any.downcast_ref::<Int64Array>()?.values()),
        DataType::Float64 => Values::F64(any.downcast_ref::<Float64Array>()?.values()),
        DataType::Utf8 => {
            let s = any.downcast_ref::<StringArray>()?;
            Values::Str { offsets: s.value_offsets(), data: s.value_data() }
        }
        _ => return None,
    })
}

/// One leaf column to write, over all parts.
struct LeafPlan<'a> {
    path: Vec<String>,
    physical: PhysicalType,
    nested: bool,
    dictionary: bool,
    stated: bool,
    parts: Vec<Source<'a>>,
}

/// A written column chunk, as its metadata tells it.
struct Chunk {
    start: usize,
    dictionary_at: Option<usize>,
    data_at: usize,
    values: usize,
    compressed: usize,
    uncompressed: usize,
    /// (page type, encoding, pages).
    page_stats: Vec<(i32, i32, usize)>,
    null_count: usize,
    /// Minimum and maximum, `PLAIN`-encoded (a string without its length).
    min_max: Option<(Vec<u8>, Vec<u8>)>,
}

struct Group {
    rows: usize,
    chunks: Vec<Chunk>,
}

/// The Thrift enum value of Snappy (the page kinds and encodings are the lean reader's).
const SNAPPY: i32 = 1;

impl LeafPlan<'_> {
    /// Writes rows `rows` of the leaf as one column chunk at the end of `out`.
    fn write(&self, rows: Range<usize>, out: &mut Vec<u8>) -> Option<Chunk> {
        // The parts' row ranges within `rows`.
        let mut segments: Vec<(&Source, Range<usize>)> = Vec::new();
        let mut at = 0;
        for part in &self.parts {
            let len = match (part.offsets, part.values) {
                (Some(o), _) => o.len().checked_sub(1)?,
                (None, Values::I64(v)) => v.len(),
                (None, Values::F64(v)) => v.len(),
                (None, Values::Str { offsets, .. }) => offsets.len().checked_sub(1)?,
            };
            let (from, to) = (rows.start.max(at), rows.end.min(at + len));
            if from < to {
                segments.push((part, from - at..to - at));
            }
            at += len;
        }
        match self.physical {
            PhysicalType::INT64 => self.chunk::<i64>(&segments, out),
            PhysicalType::DOUBLE => self.chunk::<f64>(&segments, out),
            _ => self.chunk::<&[u8]>(&segments, out),
        }
    }

    fn chunk<'s, V: Value<'s>>(
        &self,
        segments: &[(&Source<'s>, Range<usize>)],
        out: &mut Vec<u8>,
    ) -> Option<Chunk> {
        // Every value, and for a nested leaf every level.
        // Reserved whole: grown part by part, the copies took a tenth of a window's encoding.
        let total: usize = segments.iter().map(|(s, rows)| s.value_range(rows.clone()).len()).sum();
        let mut values: Vec<V> = Vec::with_capacity(total);
        // A row's levels are its values', or one for an empty row.
        let most_levels =
            if self.nested { total + segments.iter().map(|(_, r)| r.len()).sum::<usize>() } else { 0 };
        let (mut rep, mut def) = (Vec::with_capacity(most_levels), Vec::with_capacity(most_levels));
        for (source, rows) in segments {
            let range = source.value_range(rows.clone());
            V::extend(source.values, range, &mut values)?;
            if let Some(o) = source.offsets {
                for w in o[rows.start..=rows.end].windows(2) {
                    let n = usize::try_from(w[1] - w[0]).ok()?;
                    if n == 0 {
                        rep.push(0u32);
                        def.push(0u32);
                    } else {
                        rep.push(0);
                        def.push(1);
                        rep.extend(std::iter::repeat_n(1, n - 1));
                        def.extend(std::iter::repeat_n(1, n - 1));
                    }
                }
            }
        }
        let levels = if self.nested { def.len() } else { values.len() };
        let null_count = if self.nested { levels - values.len() } else { 0 };
        let dictionary = if self.dictionary { Dictionary::of(&values) } else { None };
        let min_max = if !self.stated {
            None
        } else {
            let domain: &[V] = dictionary.as_ref().map_or(&values, |d| &d.values);
            V::min_max(domain).map(|(lo, hi)| (lo.stat(), hi.stat()))
        };
        let start = out.len();
        let mut chunk = Chunk {
            start,
            dictionary_at: None,
            data_at: start,
            values: levels,
            compressed: 0,
            uncompressed: 0,
            page_stats: Vec::new(),
            null_count,
            min_max,
        };
        let mut page = Vec::new();
        let mut body = Vec::new();
        if let Some(d) = &dictionary {
            for v in &d.values {
                v.plain(&mut body);
            }
            let header = |t: &mut Thrift| {
                t.struct_field(7);
                t.i32(1, i32::try_from(d.values.len()).unwrap_or(i32::MAX));
                t.i32(2, PLAIN_DICTIONARY);
                t.end();
            };
            page_out(DICTIONARY_PAGE, &body, header, out, &mut chunk)?;
            chunk.dictionary_at = Some(start);
            chunk.page_stats.push((DICTIONARY_PAGE, PLAIN_DICTIONARY, 1));
            chunk.data_at = out.len();
        }
        let encoding = if dictionary.is_some() { PLAIN_DICTIONARY } else { PLAIN };
        let width = dictionary.as_ref().map_or(0, |d| bit_width(d.values.len().saturating_sub(1)));
        // Pages: whole rows, at most PAGE_ROWS of them and about PAGE_BYTES of values.
        let (mut level, mut value, mut pages) = (0usize, 0usize, 0usize);
        while level < levels {
            let (first_level, first_value) = (level, value);
            let (mut page_rows, mut bytes) = (0usize, 0usize);
            if !self.nested && (dictionary.is_some() || V::FIXED) {
                // A row a value of at most 8 bytes: PAGE_ROWS of them fit in PAGE_BYTES.
                level = levels.min(level + PAGE_ROWS);
                value = level;
                page_rows = PAGE_ROWS;
            }
            while level < levels && page_rows < PAGE_ROWS && bytes < PAGE_BYTES {
                // One row: its first level, and those that repeat it.
                let mut end = level + 1;
                if self.nested {
                    while end < levels && rep[end] == 1 {
                        end += 1;
                    }
                    let entries = def[level..end].iter().filter(|d| **d == 1).count();
                    for v in &values[value..value + entries] {
                        bytes += if dictionary.is_some() { 4 } else { v.size() };
                    }
                    value += entries;
                } else {
                    bytes += values[value].size();
                    value += 1;
                }
                level = end;
                page_rows += 1;
            }
            body.clear();
            if self.nested {
                levels_out(&rep[first_level..level], &mut page, &mut body);
                levels_out(&def[first_level..level], &mut page, &mut body);
            }
            match &dictionary {
                Some(d) => {
                    body.push(width);
                    hybrid(&d.ids[first_value..value], width, &mut body);
                }
                None => {
                    for v in &values[first_value..value] {
                        v.plain(&mut body);
                    }
                }
            }
            let n = i32::try_from(level - first_level).ok()?;
            let header = |t: &mut Thrift| {
                t.struct_field(5);
                t.i32(1, n);
                t.i32(2, encoding);
                t.i32(3, RLE);
                t.i32(4, RLE);
                t.end();
            };
            page_out(DATA_PAGE, &body, header, out, &mut chunk)?;
            pages += 1;
        }
        if pages > 0 {
            chunk.page_stats.push((DATA_PAGE, encoding, pages));
        }
        Some(chunk)
    }
}

/// Writes a page: its header, then `body` Snappy-compressed.
fn page_out(
    kind: i32,
    body: &[u8],
    header: impl Fn(&mut Thrift),
    out: &mut Vec<u8>,
    chunk: &mut Chunk,
) -> Option<()> {
    let compressed = snap::raw::Encoder::new().compress_vec(body).ok()?;
    let mut t = Thrift::new();
    t.i32(1, kind);
    t.i32(2, i32::try_from(body.len()).ok()?);
    t.i32(3, i32::try_from(compressed.len()).ok()?);
    header(&mut t);
    let header = t.finish();
    chunk.uncompressed += header.len() + body.len();
    chunk.compressed += header.len() + compressed.len();
    out.extend_from_slice(&header);
    out.extend_from_slice(&compressed);
    Some(())
}

/// Levels of width 1 behind their 4-byte length.
fn levels_out(levels: &[u32], scratch: &mut Vec<u8>, body: &mut Vec<u8>) {
    scratch.clear();
    hybrid(levels, 1, scratch);
    body.extend_from_slice(&(scratch.len() as u32).to_le_bytes());
    body.extend_from_slice(scratch);
}

/// Bits to write values up to `max`.
fn bit_width(max: usize) -> u8 {
    (usize::BITS - max.leading_zeros()) as u8
}

/// Appends `values` (each below 2^`width`) in the RLE/bit-packed hybrid: a run of 8 or more
/// equal values as one RLE run, the rest bit-packed in groups of 8 (the last group padded).
fn hybrid(values: &[u32], width: u8, out: &mut Vec<u8>) {
    let n = values.len();
    let mut i = 0;
    let mut packed_from = 0;
    while i < n {
        let v = values[i];
        let mut run = 1;
        while i + run < n && values[i + run] == v {
            run += 1;
        }
        if run >= 8 {
            packed(&values[packed_from..i], width, out);
            varint((run as u64) << 1, out);
            let bytes = usize::from(width).div_ceil(8);
            out.extend_from_slice(&v.to_le_bytes()[..bytes]);
            i += run;
            packed_from = i;
        } else {
            i = (i + 8).min(n);
        }
    }
    packed(&values[packed_from..n], width, out);
}

/// One bit-packed run of `values`, padded to whole groups of 8.
fn packed(values: &[u32], width: u8, out: &mut Vec<u8>) {
    if values.is_empty() {
        return;
    }
    let groups = values.len().div_ceil(8);
    varint(((groups as u64) << 1) | 1, out);
    let width = u32::from(width);
    let (mut acc, mut bits) = (0u64, 0u32);
    for k in 0..groups * 8 {
        let v = values.get(k).copied().unwrap_or(0);
        acc |= u64::from(v) << bits;
        bits += width;
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A chunk's dictionary: its values in order of first appearance, and each value's index.
struct Dictionary<V> {
    values: Vec<V>,
    ids: Vec<u32>,
}

impl<'s, V: Value<'s>> Dictionary<V> {
    /// `None` when the dictionary would take more than [`DICTIONARY_BYTES`], or when its
    /// values collide in the hash table beyond [`COLLISION_BUDGET`] (values made to collide
    /// cost a probe each for every other; the chunk is then written `PLAIN`, in linear time).
    fn of(values: &[V]) -> Option<Dictionary<V>> {
        let misses = std::cell::Cell::new(0usize);
        let budget = values.len().saturating_mul(COLLISION_BUDGET).saturating_add(4_096);
        // The cell counts comparisons; it is no part of a key's hash or equality.
        #[allow(clippy::mutable_key_type)]
        let mut index: HashMap<Probe<V::Key>, u32, BuildHasherDefault<Fx>> = HashMap::default();
        let mut out = Dictionary { values: Vec::new(), ids: Vec::with_capacity(values.len()) };
        let mut bytes = 0usize;
        let mut last: Option<(V, u32)> = None;
        for v in values {
            if let Some((l, id)) = last {
                if l.same(v) {
                    out.ids.push(id);
                    continue;
                }
            }
            let next = out.values.len() as u32;
            let id = *index.entry(Probe { key: v.key(), misses: &misses }).or_insert(next);
            if id == next {
                bytes += v.size();
                if bytes > DICTIONARY_BYTES || misses.get() > budget {
                    return None;
                }
                out.values.push(*v);
            }
            out.ids.push(id);
            last = Some((*v, id));
        }
        Some(out)
    }
}

/// Unequal keys compared, per value, that a dictionary may take before it is given up.
const COLLISION_BUDGET: usize = 4;

/// A dictionary key that counts the comparisons it loses: the table compares keys only when
/// their hashes' tags match, so many losses mean many values of one hash.
struct Probe<'c, K> {
    key: K,
    misses: &'c std::cell::Cell<usize>,
}

impl<K: PartialEq> PartialEq for Probe<'_, K> {
    fn eq(&self, other: &Self) -> bool {
        let equal = self.key == other.key;
        if !equal {
            self.misses.set(self.misses.get() + 1);
        }
        equal
    }
}

impl<K: Eq> Eq for Probe<'_, K> {}

impl<K: Hash> Hash for Probe<'_, K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

/// A value of a leaf's physical type.
trait Value<'s>: Copy + Sized {
    type Key: Eq + Hash;
    /// Whether every value's `PLAIN` size is 8 bytes.
    const FIXED: bool;
    fn key(&self) -> Self::Key;
    fn same(&self, other: &Self) -> bool;
    /// Appends the values `range` of `values` (of this type) to `out`.
    fn extend(values: Values<'s>, range: Range<usize>, out: &mut Vec<Self>) -> Option<()>;
    fn plain(&self, out: &mut Vec<u8>);
    /// Its `PLAIN` size.
    fn size(&self) -> usize;
    /// The least and greatest of `values`, as Parquet orders them; `None` for none.
    fn min_max(values: &[Self]) -> Option<(Self, Self)>;
    /// Its statistics bytes.
    fn stat(&self) -> Vec<u8>;
}

impl<'s> Value<'s> for i64 {
    type Key = i64;
    const FIXED: bool = true;
    fn key(&self) -> i64 {
        *self
    }
    fn same(&self, other: &i64) -> bool {
        self == other
    }
    fn extend(values: Values<'s>, range: Range<usize>, out: &mut Vec<i64>) -> Option<()> {
        let Values::I64(v) = values else { return None };
        out.extend_from_slice(v.get(range)?);
        Some(())
    }
    fn plain(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn size(&self) -> usize {
        8
    }
    fn min_max(values: &[i64]) -> Option<(i64, i64)> {
        Some((*values.iter().min()?, *values.iter().max()?))
    }
    fn stat(&self) -> Vec<u8> {
        self.to_le_bytes().to_vec()
    }
}

impl<'s> Value<'s> for f64 {
    type Key = u64;
    const FIXED: bool = true;
    fn key(&self) -> u64 {
        self.to_bits()
    }
    fn same(&self, other: &f64) -> bool {
        self.to_bits() == other.to_bits()
    }
    fn extend(values: Values<'s>, range: Range<usize>, out: &mut Vec<f64>) -> Option<()> {
        let Values::F64(v) = values else { return None };
        out.extend_from_slice(v.get(range)?);
        Some(())
    }
    fn plain(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn size(&self) -> usize {
        8
    }
    /// NaNs left out; a zero minimum is written -0.0 and a zero maximum +0.0, as the
    /// format asks.
    fn min_max(values: &[f64]) -> Option<(f64, f64)> {
        let mut numbers = values.iter().copied().filter(|x| !x.is_nan());
        let first = numbers.next()?;
        let (lo, hi) = numbers.fold((first, first), |(lo, hi), x| (lo.min(x), hi.max(x)));
        let lo = if lo == 0.0 { -0.0 } else { lo };
        let hi = if hi == 0.0 { 0.0 } else { hi };
        Some((lo, hi))
    }
    fn stat(&self) -> Vec<u8> {
        self.to_le_bytes().to_vec()
    }
}

impl<'s> Value<'s> for &'s [u8] {
    type Key = Short<'s>;
    const FIXED: bool = false;
    fn key(&self) -> Short<'s> {
        Short(self)
    }
    fn same(&self, other: &&'s [u8]) -> bool {
        Short(self) == Short(other)
    }
    fn extend(values: Values<'s>, range: Range<usize>, out: &mut Vec<&'s [u8]>) -> Option<()> {
        let Values::Str { offsets, data } = values else { return None };
        let o = offsets.get(range.start..=range.end)?;
        for w in o.windows(2) {
            out.push(data.get(w[0] as usize..w[1] as usize)?);
        }
        Some(())
    }
    fn plain(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.len() as u32).to_le_bytes());
        out.extend_from_slice(self);
    }
    fn size(&self) -> usize {
        4 + self.len()
    }
    fn min_max(values: &[&'s [u8]]) -> Option<(&'s [u8], &'s [u8])> {
        Some((*values.iter().min()?, *values.iter().max()?))
    }
    fn stat(&self) -> Vec<u8> {
        self.to_vec()
    }
}

/// A string as a dictionary key: compared and hashed a word at a time, without a call to
/// `memcmp` for the short values most columns hold (namespaces, nodes, label values).
#[derive(Clone, Copy)]
struct Short<'s>(&'s [u8]);

impl PartialEq for Short<'_> {
    /// Up to 16 bytes as one or two word compares (the second word overlapping the first),
    /// longer values by `memcmp`. This runs for every row of a string column (each value
    /// against the one before it): an iterator of padded words was a thirtieth of a run.
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.0, other.0);
        let n = a.len();
        n == b.len()
            && match n {
                0..=8 => word(a) == word(b),
                9..=16 => word(&a[..8]) == word(&b[..8]) && word(&a[n - 8..]) == word(&b[n - 8..]),
                _ => a == b,
            }
    }
}

/// Up to 8 bytes as a little-endian word, zero-padded.
fn word(bytes: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(w)
}

/// `bytes` as little-endian words of 8 bytes, the last one zero-padded (none for no bytes
/// left): what [`Fx`] hashes.
fn words(bytes: &[u8]) -> impl Iterator<Item = u64> + '_ {
    let whole = bytes.chunks_exact(8);
    let rest = whole.remainder();
    whole.map(word).chain((!rest.is_empty()).then(|| word(rest)))
}

impl Eq for Short<'_> {}

impl Hash for Short<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.0.len());
        state.write(self.0);
    }
}

/// A multiply-rotate hash (as rustc's, with a final mix), fixed so that the bytes written
/// never depend on a seed; values crafted to collide are caught by [`Probe`]'s count.
#[derive(Default)]
struct Fx(u64);

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Fx {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        words(bytes).for_each(|w| self.add(w));
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    fn write_i64(&mut self, n: i64) {
        self.add(n as u64);
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    /// With a final mix: the multiply moves entropy only upwards, and the table indexes by
    /// the low bits (without it, `cluster-0001`…`cluster-0999` or whole numbers as floats,
    /// which differ only in high bits, fell into a handful of buckets).
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
}

/// The file's footer: a `FileMetaData` in Thrift's compact protocol.
fn footer(shape: &Shape, rows: usize, groups: &[Group], leaves: &[LeafPlan], options: &Options) -> Vec<u8> {
    let mut t = Thrift::new();
    t.i32(1, 1);
    t.raw_field(2, T_LIST, &shape.schema_list);
    t.i64(3, rows as i64);
    t.list(4, T_STRUCT, groups.len());
    let mut ordinal = 0i16;
    for g in groups {
        t.element();
        t.list(1, T_STRUCT, g.chunks.len());
        for (c, leaf) in g.chunks.iter().zip(leaves) {
            t.element();
            t.i64(2, c.start as i64);
            t.struct_field(3);
            column_meta(&mut t, c, leaf);
            t.end();
            t.end();
        }
        t.i64(2, g.chunks.iter().map(|c| c.uncompressed as i64).sum());
        t.i64(3, g.rows as i64);
        t.list(4, T_STRUCT, options.sorted_by.len());
        for &column in options.sorted_by {
            t.element();
            t.i32(1, column);
            t.bool(2, false);
            t.bool(3, false);
            t.end();
        }
        t.i64(5, g.chunks.first().map_or(0, |c| c.start as i64));
        t.i64(6, g.chunks.iter().map(|c| c.compressed as i64).sum());
        t.i16(7, ordinal);
        ordinal = ordinal.saturating_add(1);
        t.end();
    }
    t.list(5, T_STRUCT, options.key_values.len());
    for (k, v) in &options.key_values {
        t.element();
        t.binary(1, k.as_bytes());
        t.binary(2, v.as_bytes());
        t.end();
    }
    t.binary(6, options.created_by.as_bytes());
    t.list(7, T_STRUCT, leaves.len());
    for _ in leaves {
        // ColumnOrder { 1: TypeDefinedOrder {} }
        t.element();
        t.struct_field(1);
        t.end();
        t.end();
    }
    t.finish()
}

fn column_meta(t: &mut Thrift, c: &Chunk, leaf: &LeafPlan) {
    let physical = match leaf.physical {
        PhysicalType::INT64 => 2,
        PhysicalType::DOUBLE => 5,
        _ => 6,
    };
    t.i32(1, physical);
    // The values' encoding, and the levels'.
    let encodings = [if c.dictionary_at.is_some() { PLAIN_DICTIONARY } else { PLAIN }, RLE];
    t.list(2, T_I32, encodings.len());
    for e in encodings {
        t.list_i32(e);
    }
    t.list(3, T_BINARY, leaf.path.len());
    for p in &leaf.path {
        t.list_binary(p.as_bytes());
    }
    t.i32(4, SNAPPY);
    t.i64(5, c.values as i64);
    t.i64(6, c.uncompressed as i64);
    t.i64(7, c.compressed as i64);
    t.i64(9, c.data_at as i64);
    if let Some(at) = c.dictionary_at {
        t.i64(11, at as i64);
    }
    // A flat column without statistics has none at all, as arrow-rs writes it.
    if leaf.nested || leaf.stated {
        statistics(t, c, leaf);
    }
    t.list(13, T_STRUCT, c.page_stats.len());
    for (page, encoding, count) in &c.page_stats {
        t.element();
        t.i32(1, *page);
        t.i32(2, *encoding);
        t.i32(3, i32::try_from(*count).unwrap_or(i32::MAX));
        t.end();
    }
}

/// A chunk's `Statistics`: its null count, and its exact minimum and maximum when stated.
fn statistics(t: &mut Thrift, c: &Chunk, leaf: &LeafPlan) {
    t.struct_field(12);
    // The deprecated signed minimum and maximum too, for numbers (whose order is signed).
    if let Some((lo, hi)) = &c.min_max {
        if leaf.physical != PhysicalType::BYTE_ARRAY {
            t.binary(1, hi);
            t.binary(2, lo);
        }
    }
    t.i64(3, c.null_count as i64);
    if let Some((lo, hi)) = &c.min_max {
        t.binary(5, hi);
        t.binary(6, lo);
        t.bool(7, true);
        t.bool(8, true);
    }
    t.end();
}

/// Writes Thrift's compact protocol: fields of nested structs, each struct's last field id
/// on a stack.
struct Thrift {
    buf: Vec<u8>,
    last: Vec<i16>,
}

impl Thrift {
    fn new() -> Thrift {
        Thrift { buf: Vec::new(), last: vec![0] }
    }

    fn header(&mut self, id: i16, kind: u8) {
        let last = self.last.last_mut().map_or(0, |l| std::mem::replace(l, id));
        match id - last {
            delta @ 1..=15 => self.buf.push(((delta as u8) << 4) | kind),
            _ => {
                self.buf.push(kind);
                varint(zigzag(i64::from(id)), &mut self.buf);
            }
        }
    }

    fn i16(&mut self, id: i16, v: i16) {
        self.header(id, T_I16);
        varint(zigzag(i64::from(v)), &mut self.buf);
    }

    fn i32(&mut self, id: i16, v: i32) {
        self.header(id, T_I32);
        varint(zigzag(i64::from(v)), &mut self.buf);
    }

    fn i64(&mut self, id: i16, v: i64) {
        self.header(id, T_I64);
        varint(zigzag(v), &mut self.buf);
    }

    fn bool(&mut self, id: i16, v: bool) {
        self.header(id, if v { T_TRUE } else { T_FALSE });
    }

    fn binary(&mut self, id: i16, v: &[u8]) {
        self.header(id, T_BINARY);
        self.list_binary(v);
    }

    /// A field whose value is already encoded.
    fn raw_field(&mut self, id: i16, kind: u8, value: &[u8]) {
        self.header(id, kind);
        self.buf.extend_from_slice(value);
    }

    fn struct_field(&mut self, id: i16) {
        self.header(id, T_STRUCT);
        self.last.push(0);
    }

    fn list(&mut self, id: i16, kind: u8, n: usize) {
        self.header(id, T_LIST);
        if n < 15 {
            self.buf.push(((n as u8) << 4) | kind);
        } else {
            self.buf.push(0xf0 | kind);
            varint(n as u64, &mut self.buf);
        }
    }

    /// A struct element of a list.
    fn element(&mut self) {
        self.last.push(0);
    }

    fn list_i32(&mut self, v: i32) {
        varint(zigzag(i64::from(v)), &mut self.buf);
    }

    fn list_binary(&mut self, v: &[u8]) {
        varint(v.len() as u64, &mut self.buf);
        self.buf.extend_from_slice(v);
    }

    /// Ends the innermost struct.
    fn end(&mut self) {
        self.buf.push(0);
        self.last.pop();
    }

    /// Ends the outermost struct: the bytes.
    fn finish(mut self) -> Vec<u8> {
        self.buf.push(0);
        self.buf
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parquet::allocations;
    use crate::parquet::columns;
    use crate::parquet::container::{properties, Header, SCHEMA_VERSION};
    use crate::parquet::keys::Kind;
    use ::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use ::parquet::file::metadata::{ParquetMetaData, SortingColumn};
    use ::parquet::file::statistics::Statistics;
    use ampfed_allocation::{Allocation, Properties, PvAllocation, Window};
    use arrow_array::{BooleanArray, RecordBatch};
    use bytes::Bytes;
    use std::collections::BTreeMap;

    const WINDOW: Window = Window { start: 1_690_761_600, end: 1_690_848_000 };

    /// A small deterministic generator (no test here needs more than a spread of values).
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) % n.max(1)
        }
    }

    /// `n` allocations with every kind of field: repeated and unique strings (some beyond
    /// ASCII, some empty), zero to four labels, empty and full lists and maps, PVs, negative
    /// zeros and large numbers.
    fn allocations(n: usize, seed: u64) -> Vec<Allocation> {
        let mut r = Lcg(seed);
        let mut rows: Vec<Allocation> = (0..n)
            .map(|i| {
                let cluster = format!("c{}", r.below(3));
                let namespace = ["web", "kube-system", "données", ""][r.below(4) as usize].to_owned();
                let labels: BTreeMap<String, String> =
                    (0..r.below(5)).map(|k| (format!("l{k}"), format!("v{}", r.below(7)))).collect();
                let pvs: BTreeMap<String, PvAllocation> = (0..r.below(3))
                    .map(|k| {
                        let pv = PvAllocation {
                            byte_hours: r.below(1000) as f64 * 1.5,
                            cost: -0.0,
                            provider_id: format!("vol-{k}"),
                        };
                        (format!("cluster={cluster}:name=pv-{k}"), pv)
                    })
                    .collect();
                Allocation {
                    name: format!("{cluster}/node/{namespace}/pod-{i}/app"),
                    properties: Properties {
                        cluster: cluster.clone(),
                        node: format!("node-{}", r.below(4)),
                        namespace,
                        pod: format!("pod-{i}"),
                        container: "app ☃".into(),
                        services: (0..r.below(3)).map(|k| format!("svc-{k}")).collect(),
                        labels,
                        annotations: BTreeMap::new(),
                        ..Properties::default()
                    },
                    start: WINDOW.start + r.below(600) as i64,
                    end: WINDOW.end,
                    minutes: 1440.0,
                    cpu_cost: r.below(1000) as f64 * 0.01,
                    ram_bytes: 1e12 + r.below(10) as f64,
                    total_cost: -(r.below(5) as f64),
                    pvs,
                    ..Allocation::default()
                }
            })
            .collect();
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        rows
    }

    /// The allocations table of `rows`, with its window columns.
    fn table(rows: &[Allocation]) -> Vec<(Field, ArrayRef)> {
        let refs: Vec<&Allocation> = rows.iter().collect();
        let n = rows.len();
        let mut out: Vec<(Field, ArrayRef)> = [("window_start", WINDOW.start), ("window_end", WINDOW.end)]
            .into_iter()
            .map(|(name, v)| {
                let a: ArrayRef = Arc::new(Int64Array::from_value(v, n));
                (Field::new(name, DataType::Int64, false), a)
            })
            .collect();
        out.extend(columns::encode_rows(&allocations::columns(), &refs).unwrap());
        out
    }

    fn header() -> Header {
        Header {
            version: SCHEMA_VERSION,
            kind: Kind::Allocations,
            window: WINDOW,
            clusters: vec!["c0".into(), "c1".into(), "c2".into()],
            source: None,
        }
    }

    fn options(row_group_rows: usize) -> Options<'static> {
        let key_values =
            header().key_values().into_iter().map(|kv| (kv.key, kv.value.unwrap_or_default())).collect();
        Options {
            key_values,
            created_by: "ampfed-etl version 2",
            sorted_by: &[2],
            plain: allocations::CHOICES.plain,
            unstated: allocations::CHOICES.unstated,
            row_group_rows,
        }
    }

    /// The lean writer's file of `columns`, each cut into parts at `cuts` (row numbers).
    fn lean_write(columns: &[(Field, ArrayRef)], cuts: &[usize], row_group_rows: usize) -> Vec<u8> {
        let fields: Vec<Field> = columns.iter().map(|(f, _)| f.clone()).collect();
        let n = columns[0].1.len();
        let ends: Vec<usize> = std::iter::once(0).chain(cuts.iter().copied()).chain([n]).collect();
        let parts: Vec<Vec<ArrayRef>> = columns
            .iter()
            .map(|(_, a)| ends.windows(2).map(|w| a.slice(w[0], w[1] - w[0])).collect())
            .collect();
        write(&fields, &parts, &options(row_group_rows)).expect("a table of the allocations' shape")
    }

    fn arrow_rs_write(columns: &[(Field, ArrayRef)]) -> Vec<u8> {
        let schema = Arc::new(Schema::new(columns.iter().map(|(f, _)| f.clone()).collect::<Vec<_>>()));
        let sorting = vec![SortingColumn { column_idx: 2, descending: false, nulls_first: false }];
        let options = ::parquet::arrow::arrow_writer::ArrowWriterOptions::new()
            .with_properties(properties(&header(), sorting, allocations::CHOICES))
            .with_skip_arrow_metadata(true);
        let mut w = ArrowWriter::try_new_with_options(Vec::new(), Arc::clone(&schema), options).unwrap();
        let batch =
            RecordBatch::try_new(schema, columns.iter().map(|(_, a)| Arc::clone(a)).collect()).unwrap();
        w.write(&batch).unwrap();
        w.into_inner().unwrap()
    }

    fn metadata(bytes: &[u8]) -> ParquetMetaData {
        ParquetMetaDataReader::new().parse_and_finish(&Bytes::copy_from_slice(bytes)).unwrap()
    }

    /// The file's rows as one batch, read by arrow-rs.
    fn arrow_rs_read(bytes: &[u8]) -> RecordBatch {
        let reader = ParquetRecordBatchReaderBuilder::try_new(Bytes::copy_from_slice(bytes))
            .unwrap()
            .with_batch_size(1 << 20)
            .build()
            .unwrap();
        let mut batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        assert_eq!(batches.len(), 1, "one batch across the row groups");
        batches.remove(0)
    }

    fn expected(columns: &[(Field, ArrayRef)]) -> RecordBatch {
        let schema = Arc::new(Schema::new(columns.iter().map(|(f, _)| f.clone()).collect::<Vec<_>>()));
        RecordBatch::try_new(schema, columns.iter().map(|(_, a)| Arc::clone(a)).collect()).unwrap()
    }

    #[test]
    fn arrow_rs_and_the_lean_reader_read_back_the_arrays_written() {
        let columns = table(&allocations(3_000, 7));
        let bytes = lean_write(&columns, &[], ROWS_ALL);
        assert_eq!(arrow_rs_read(&bytes), expected(&columns));
        let meta = metadata(&bytes);
        let schema = expected(&columns).schema();
        // The lean footer parse reads what arrow-rs reads of this writer's footer.
        let footer = crate::parquet::footer::parse(&bytes[lean::footer(&bytes).unwrap()], None)
            .expect("a plain footer");
        assert_eq!(footer.footer, crate::parquet::footer::Footer::of(&meta));
        let lean = lean::batches(
            &Bytes::from(bytes.clone()),
            &footer.footer,
            meta.file_metadata().schema_descr(),
            &schema,
        )
        .expect("the lean reader reads it");
        assert_eq!(lean, [expected(&columns)]);
        // The same schema as arrow-rs writes, leaf by leaf.
        let theirs = metadata(&arrow_rs_write(&columns));
        assert_eq!(meta.file_metadata().schema_descr(), theirs.file_metadata().schema_descr());
    }

    const ROWS_ALL: usize = 1 << 20;

    #[test]
    fn the_bytes_do_not_depend_on_how_the_rows_are_cut_into_parts() {
        let columns = table(&allocations(2_500, 11));
        let whole = lean_write(&columns, &[], ROWS_ALL);
        assert_eq!(lean_write(&columns, &[1, 999, 1_000], ROWS_ALL), whole);
        assert_eq!(lean_write(&columns, &[0, 2_500], ROWS_ALL), whole);
    }

    #[test]
    fn statistics_dictionaries_and_page_kinds_are_those_arrow_rs_writes() {
        let columns = table(&allocations(3_000, 3));
        let ours = metadata(&lean_write(&columns, &[], ROWS_ALL));
        let theirs = metadata(&arrow_rs_write(&columns));
        let (ours, theirs) = (&ours.row_groups()[0], &theirs.row_groups()[0]);
        assert_eq!(ours.num_rows(), theirs.num_rows());
        assert_eq!(ours.sorting_columns(), theirs.sorting_columns());
        for (o, t) in ours.columns().iter().zip(theirs.columns()) {
            let path = o.column_path().string();
            assert_eq!(o.num_values(), t.num_values(), "{path}");
            assert_eq!(o.dictionary_page_offset().is_some(), t.dictionary_page_offset().is_some(), "{path}");
            let only_dictionary = |c: &::parquet::file::metadata::ColumnChunkMetaData| {
                c.page_encoding_stats_mask().map(|m| {
                    m.is_only(::parquet::basic::Encoding::PLAIN_DICTIONARY)
                        || m.is_only(::parquet::basic::Encoding::RLE_DICTIONARY)
                })
            };
            assert_eq!(only_dictionary(o), only_dictionary(t), "{path}");
            let (os, ts) = (o.statistics(), t.statistics());
            assert_eq!(os.is_some(), ts.is_some(), "{path}");
            let (Some(os), Some(ts)) = (os, ts) else { continue };
            assert_eq!(os.null_count_opt(), ts.null_count_opt(), "{path}");
            if o.column_descr().max_rep_level() > 0 {
                continue;
            }
            match (os, ts) {
                (Statistics::Int64(a), Statistics::Int64(b)) => {
                    assert_eq!((a.min_opt(), a.max_opt()), (b.min_opt(), b.max_opt()), "{path}")
                }
                (Statistics::Double(a), Statistics::Double(b)) => {
                    let bits = |x: Option<&f64>| x.map(|x| x.to_bits());
                    assert_eq!(bits(a.min_opt()), bits(b.min_opt()), "{path}");
                    assert_eq!(bits(a.max_opt()), bits(b.max_opt()), "{path}");
                }
                (Statistics::ByteArray(a), Statistics::ByteArray(b)) => {
                    assert_eq!((a.min_opt(), a.max_opt()), (b.min_opt(), b.max_opt()), "{path}")
                }
                other => panic!("{path}: statistics of other types: {other:?}"),
            }
        }
    }

    #[test]
    fn pages_and_row_groups_are_cut_and_a_large_dictionary_gives_way_to_plain() {
        let n = 45_000;
        let mut columns = table(&allocations(n, 5));
        // A dictionary column of unique, long values: over a MiB of dictionary.
        let at = columns.iter().position(|(f, _)| f.name() == "container").unwrap();
        let unique: ArrayRef = Arc::new(StringArray::from_iter_values((0..n).map(|i| format!("{i:040}"))));
        columns[at].1 = unique;
        let bytes = lean_write(&columns, &[10_000], 30_000);
        assert_eq!(arrow_rs_read(&bytes), expected(&columns));
        let meta = metadata(&bytes);
        assert_eq!(meta.row_groups().iter().map(|g| g.num_rows()).collect::<Vec<_>>(), [30_000, 15_000]);
        let group = &meta.row_groups()[0];
        let container = group.columns().iter().find(|c| c.column_path().string() == "container").unwrap();
        assert!(container.dictionary_page_offset().is_none(), "the dictionary was not dropped");
        // 30,000 rows of the flat `cpu_cost`: two data pages after the dictionary.
        let cost = group.columns().iter().find(|c| c.column_path().string() == "cpu_cost").unwrap();
        use ::parquet::column::page::{Page, PageReader};
        let mut reader = ::parquet::file::serialized_reader::SerializedPageReader::new(
            Arc::new(Bytes::from(bytes.clone())),
            cost,
            30_000,
            None,
        )
        .unwrap();
        let mut pages = Vec::new();
        while let Some(page) = reader.get_next_page().unwrap() {
            pages.push(match page {
                Page::DictionaryPage { .. } => "dictionary".to_owned(),
                Page::DataPage { num_values, .. } => format!("data {num_values}"),
                Page::DataPageV2 { .. } => "data v2".to_owned(),
            });
        }
        assert_eq!(pages, ["dictionary", "data 20000", "data 10000"]);
    }

    #[test]
    fn the_hybrid_encoding_reads_back_for_every_width() {
        let mut r = Lcg(1);
        for width in [0u8, 1, 2, 3, 7, 8, 9, 13, 16, 31, 32] {
            for n in [0usize, 1, 7, 8, 9, 15, 16, 17, 100, 1_001] {
                let most = if width == 32 { u64::from(u32::MAX) } else { (1u64 << width) - 1 };
                // Runs of random lengths (some of 8 and more) of random values.
                let mut values = Vec::with_capacity(n);
                while values.len() < n {
                    let v = (r.below(most.saturating_add(1)) as u32) & (most as u32);
                    let run = [1, 1, 2, 8, 9, 30][r.below(6) as usize];
                    values.extend(std::iter::repeat_n(v, run.min(n - values.len())));
                }
                let mut bytes = Vec::new();
                hybrid(&values, width, &mut bytes);
                let mut back = Vec::new();
                let used = lean::hybrid(&bytes, width, n, &mut back);
                assert_eq!(used, Some(bytes.len()), "width {width}, {n} values");
                assert_eq!(back, values, "width {width}, {n} values");
            }
        }
    }

    /// Keys of 9 word pairs, each pair in one of two forms that leave the hash's state the
    /// same (the first word's top bit flipped, the second's bit 4, where the rotation moves
    /// it): 512 keys of one hash.
    fn colliding_keys() -> Vec<Vec<u8>> {
        (0..512u64)
            .map(|i| {
                let mut key = Vec::new();
                for j in 0..9 {
                    let bit = (i >> j) & 1;
                    key.extend_from_slice(&(0x1111_1111_1111_1111u64 ^ (bit << 63)).to_le_bytes());
                    key.extend_from_slice(&(0x2222_2222_2222_2222u64 ^ (bit << 4)).to_le_bytes());
                }
                key
            })
            .collect()
    }

    #[test]
    fn short_keys_are_equal_exactly_when_their_bytes_are() {
        for n in 0..40usize {
            let a: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
            assert!(Short(&a) == Short(&a.clone()), "{n} bytes");
            // One byte changed anywhere, a byte more or less, a zero byte appended.
            for at in 0..n {
                let mut b = a.clone();
                b[at] ^= 1;
                assert!(Short(&a) != Short(&b), "{n} bytes, byte {at} differs");
            }
            let mut longer = a.clone();
            longer.push(0);
            assert!(Short(&a) != Short(&longer) && Short(&longer) != Short(&a), "{n} and {} bytes", n + 1);
        }
        // The words hashed: whole words, then the rest zero-padded.
        let w: Vec<u64> = words(b"0123456789").collect();
        assert_eq!(w, [u64::from_le_bytes(*b"01234567"), u64::from_le_bytes(*b"89\0\0\0\0\0\0")]);
        assert_eq!(words(b"").count(), 0);
        assert_eq!(words(b"01234567").count(), 1);
    }

    #[test]
    fn values_made_to_collide_give_up_the_dictionary_in_linear_time() {
        let keys = colliding_keys();
        let hash = |k: &[u8]| {
            let mut h = Fx::default();
            Short(k).hash(&mut h);
            h.finish()
        };
        assert!(keys.iter().all(|k| hash(k) == hash(&keys[0])), "the keys do not collide");
        let values: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        assert!(Dictionary::of(&values).is_none(), "the colliding dictionary was kept");
        // As many distinct keys of spread hashes keep theirs.
        let spread: Vec<Vec<u8>> = (0..512u64).map(|i| format!("{i:0144}").into_bytes()).collect();
        let values: Vec<&[u8]> = spread.iter().map(Vec::as_slice).collect();
        let d = Dictionary::of(&values).expect("a dictionary");
        assert_eq!((d.values.len(), d.ids[511]), (512, 511));
    }

    #[test]
    fn what_it_does_not_write_is_left_to_arrow_rs() {
        let write_one = |field: Field, array: ArrayRef| {
            let options = options(ROWS_ALL);
            write(&[field], &[vec![array]], &options)
        };
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![1, 2]));
        assert!(write_one(Field::new("x", DataType::Int64, false), Arc::clone(&ints)).is_some());
        // A nullable field, a null, another type.
        assert!(write_one(Field::new("x", DataType::Int64, true), ints).is_none());
        let nulls: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None]));
        assert!(write_one(Field::new("x", DataType::Int64, false), nulls).is_none());
        let flags: ArrayRef = Arc::new(BooleanArray::from(vec![true, false]));
        assert!(write_one(Field::new("x", DataType::Boolean, false), flags).is_none());
    }
}
