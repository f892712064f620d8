//! A lean reader for the small objects the federator reads by the tens of thousands: the
//! same Arrow batches as arrow-rs' `ParquetRecordBatchReader` gives, built straight from the
//! column chunks' pages, without its per-column reader machinery (about half of a 200-row
//! object's decode, and most of a 2-row asset object's, was that set-up).
//!
//! It reads what ampfed's writer writes, and anything else of that shape: version 1 data
//! pages (levels RLE-encoded, behind their 4-byte lengths) whose values are `PLAIN` or
//! dictionary indices (`RLE_DICTIONARY`, `PLAIN_DICTIONARY`) into a `PLAIN` dictionary page;
//! physical types `INT64`, `DOUBLE`, `BOOLEAN` and `BYTE_ARRAY`, as Arrow's `Int64`,
//! `Float64`, `Boolean` and `Utf8`; flat columns, required or optional; and lists and maps
//! of one repetition level whose every leaf below the repetition is required (a
//! `map<string,string>`, a `list<string>`, a map to a struct of such leaves). Anything else
//! (another page kind or encoding, another type, deeper nesting, levels that do not add up)
//! is `None`: the caller reads the object with arrow-rs, which decodes it or says what is
//! wrong. Every length, index and level is checked against the page it comes from; the
//! arrays are built with Arrow's checked constructors (UTF-8 validated), so a damaged page is
//! `None`, never a panic.
//!
//! The Arrow schema is the one arrow-rs derives from the Parquet schema (without the
//! footer's key-value metadata). Both are kept by the bytes of the footer's schema list
//! ([`known_schema`]): the objects of a bucket share a handful of schemas, and a footer whose
//! schema bytes were met before is parsed without its schema (the same bytes are the same
//! schema), which was half of a small object's footer.

use std::sync::{Arc, Mutex};

use ::parquet::arrow::parquet_to_arrow_schema;
use ::parquet::basic::Type as PhysicalType;
use ::parquet::schema::types::{ColumnDescriptor, SchemaDescPtr, SchemaDescriptor};
use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, ListArray, MapArray, RecordBatch, StringArray,
    StructArray,
};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, SchemaRef};
use bytes::Bytes;

use super::error::{library, ErrorKind};
use super::footer::{Chunk, Codec, Footer};
use super::thrift::{Thrift, T_I32, T_LIST, T_STRUCT};

/// Objects of at most this many rows are read lean, each row group as one batch; larger ones
/// (combined windows) are read by arrow-rs in bounded batches.
pub(super) const LEAN_ROWS: usize = 65_536;
/// Distinct Parquet schemas kept (two kinds × a few versions).
const KEPT_SCHEMAS: usize = 16;

/// The file's magic, at both ends.
pub(super) const MAGIC: &[u8; 4] = b"PAR1";

/// Where the footer is: `bytes[range]`, between the data and the length and magic.
pub(super) fn footer(bytes: &[u8]) -> Result<std::ops::Range<usize>, ErrorKind> {
    let truncated = |detail: String| ErrorKind::Truncated { bytes: bytes.len() as u64, detail };
    if bytes.len() < 12 {
        return Err(truncated("shorter than the magic, a footer length and the magic again".into()));
    }
    if !bytes.ends_with(MAGIC) {
        return Err(truncated("it does not end with `PAR1`, so its footer is missing".into()));
    }
    let at = bytes.len() - 8;
    let mut len = [0u8; 4];
    len.copy_from_slice(&bytes[at..at + 4]);
    let len = u32::from_le_bytes(len) as usize;
    if len > at - MAGIC.len() {
        return Err(truncated(format!("its footer claims {len} bytes, more than the object holds")));
    }
    Ok(at - len..at)
}

/// A Parquet schema as a footer spells it, parsed, and the Arrow schema arrow-rs reads it
/// as (without key-value metadata).
#[derive(Clone)]
pub(super) struct KnownSchema {
    pub(super) parquet: SchemaDescPtr,
    pub(super) arrow: SchemaRef,
}

/// The schemas met so far, by the bytes of the footer's schema list.
static KNOWN: Mutex<Vec<(Vec<u8>, KnownSchema)>> = Mutex::new(Vec::new());

/// Where the schema list (field 2 of a `FileMetaData` in Thrift's compact protocol) starts
/// in `footer`, found by walking the fields before it.
fn schema_start(footer: &[u8]) -> Option<usize> {
    let mut t = Thrift { buf: footer, at: 0 };
    let mut last = 0;
    loop {
        let (id, kind) = t.field(&mut last)??;
        if id == 2 && kind == T_LIST {
            return Some(t.at);
        }
        t.skip(kind, false, 0)?;
    }
}

/// The bytes of the schema list in `footer`.
pub(super) fn schema_bytes(footer: &[u8]) -> Option<&[u8]> {
    let start = schema_start(footer)?;
    let mut t = Thrift { buf: footer, at: start };
    t.skip(T_LIST, false, 0)?;
    footer.get(start..t.at)
}

/// A schema met before that `footer`'s schema list begins with, and where that list is in
/// `footer`: found by comparing bytes, without walking the list's elements (a list's header
/// holds its length, so a whole known list at the start is the whole of this one).
pub(super) fn known_schema_in(footer: &[u8]) -> Option<(std::ops::Range<usize>, KnownSchema)> {
    let start = schema_start(footer)?;
    let rest = footer.get(start..)?;
    let known = KNOWN.lock().ok()?;
    known.iter().find(|(b, _)| rest.starts_with(b)).map(|(b, k)| (start..start + b.len(), k.clone()))
}

/// The schema whose footer bytes are `bytes`, when one was met before: the same bytes are
/// the same schema, so the footer's copy need not be parsed again.
pub(super) fn known_schema(bytes: &[u8]) -> Option<KnownSchema> {
    let known = KNOWN.lock().ok()?;
    known.iter().find(|(b, _)| b == bytes).map(|(_, k)| k.clone())
}

/// Keeps `parquet` (parsed from a footer whose schema list is `bytes`) with its Arrow
/// schema, which it returns.
pub(super) fn learn_schema(bytes: Option<&[u8]>, parquet: SchemaDescPtr) -> Result<KnownSchema, ErrorKind> {
    let arrow: SchemaRef = Arc::new(parquet_to_arrow_schema(&parquet, None).map_err(library)?);
    let known = KnownSchema { parquet, arrow };
    if let (Some(bytes), Ok(mut kept)) = (bytes, KNOWN.lock()) {
        if kept.len() < KEPT_SCHEMAS && !kept.iter().any(|(b, _)| b == bytes) {
            kept.push((bytes.to_vec(), known.clone()));
        }
    }
    Ok(known)
}

/// The object's row groups as batches of `schema` (what [`arrow_schema`] gave for its
/// Parquet schema), or `None` when it is not of the shape this reader reads.
pub(super) fn batches(
    bytes: &Bytes,
    footer: &Footer,
    descr: &SchemaDescriptor,
    schema: &SchemaRef,
) -> Option<Vec<RecordBatch>> {
    let mut out = Vec::with_capacity(footer.groups.len());
    // One page body and one index buffer for all the object's leaves.
    let mut buffers = Buffers::default();
    for group in &footer.groups {
        let rows = usize::try_from(group.num_rows).ok()?;
        if group.chunks.len() != descr.num_columns() {
            return None;
        }
        let mut leaf = 0;
        let mut columns = Vec::with_capacity(schema.fields().len());
        for (root, field) in schema.fields().iter().enumerate() {
            let first = leaf;
            while leaf < descr.num_columns() && descr.get_column_root_idx(leaf) == root {
                leaf += 1;
            }
            let leaves = (first..leaf)
                .map(|l| read_leaf(bytes, &group.chunks[l], descr.column(l).as_ref(), rows, &mut buffers))
                .collect::<Option<Vec<Leaf>>>()?;
            columns.push(assemble(field, leaves, rows)?);
        }
        if leaf != descr.num_columns() {
            return None;
        }
        out.push(RecordBatch::try_new(Arc::clone(schema), columns).ok()?);
    }
    Some(out)
}

/// A leaf column chunk's levels (empty where the column has none) and its non-null values.
struct Leaf {
    max_def: i16,
    def: Vec<i16>,
    rep: Vec<i16>,
    /// Level entries: the values, nulls and empty lists of the chunk.
    levels: usize,
    values: Values,
}

/// Decoded values of one physical type.
enum Values {
    I64(Vec<i64>),
    F64(Vec<f64>),
    Bool(Vec<bool>),
    Bytes { offsets: Vec<i32>, data: Vec<u8> },
}

impl Values {
    fn empty(physical: PhysicalType) -> Option<Values> {
        Some(match physical {
            PhysicalType::INT64 => Values::I64(Vec::new()),
            PhysicalType::DOUBLE => Values::F64(Vec::new()),
            PhysicalType::BOOLEAN => Values::Bool(Vec::new()),
            PhysicalType::BYTE_ARRAY => Values::Bytes { offsets: vec![0], data: Vec::new() },
            _ => return None,
        })
    }

    fn reserve(&mut self, n: usize) {
        match self {
            Values::I64(v) => v.reserve(n),
            Values::F64(v) => v.reserve(n),
            Values::Bool(v) => v.reserve(n),
            Values::Bytes { offsets, .. } => offsets.reserve(n),
        }
    }

    fn len(&self) -> usize {
        match self {
            Values::I64(v) => v.len(),
            Values::F64(v) => v.len(),
            Values::Bool(v) => v.len(),
            Values::Bytes { offsets, .. } => offsets.len() - 1,
        }
    }

    /// Appends `n` `PLAIN` values, which must be all of `body`.
    fn plain(&mut self, body: &[u8], n: usize) -> Option<()> {
        match self {
            Values::I64(v) => {
                if body.len() != n.checked_mul(8)? {
                    return None;
                }
                v.extend(body.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap_or_default())));
            }
            Values::F64(v) => {
                if body.len() != n.checked_mul(8)? {
                    return None;
                }
                v.extend(body.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or_default())));
            }
            Values::Bool(v) => {
                if body.len() != n.div_ceil(8) {
                    return None;
                }
                v.extend((0..n).map(|i| body[i / 8] >> (i % 8) & 1 == 1));
            }
            Values::Bytes { offsets, data } => {
                // The values take less than the page.
                data.reserve(body.len());
                let mut at = 0usize;
                for _ in 0..n {
                    let len = u32::from_le_bytes(body.get(at..at + 4)?.try_into().ok()?) as usize;
                    let value = body.get(at + 4..(at + 4).checked_add(len)?)?;
                    data.extend_from_slice(value);
                    offsets.push(i32::try_from(data.len()).ok()?);
                    at += 4 + len;
                }
                if at != body.len() {
                    return None;
                }
            }
        }
        Some(())
    }

    /// Appends the `n` values of `dictionary` that the indices in `body` (a bit width, then
    /// the RLE/bit-packed hybrid) name: a run of one index as that value repeated, without
    /// spelling out its indices.
    fn gather(&mut self, dictionary: &Values, body: &[u8], n: usize, indices: &mut Vec<u32>) -> Option<()> {
        let (&width, runs) = body.split_first()?;
        let size = dictionary.len();
        self.reserve(n);
        hybrid_runs(runs, width, n, indices, |run| {
            let (ids, repeat) = match run {
                Run::Repeat(id, count) => (std::slice::from_ref(id), count),
                Run::Packed(ids) => (ids, 1),
            };
            if ids.iter().any(|&i| i as usize >= size) {
                return None;
            }
            match (&mut *self, dictionary) {
                (Values::I64(v), Values::I64(d)) => repeat_each(v, d, ids, repeat),
                (Values::F64(v), Values::F64(d)) => repeat_each(v, d, ids, repeat),
                (Values::Bool(v), Values::Bool(d)) => repeat_each(v, d, ids, repeat),
                (Values::Bytes { offsets, data }, Values::Bytes { offsets: o, data: d }) => {
                    let entry = |i: u32| &d[o[i as usize] as usize..o[i as usize + 1] as usize];
                    data.reserve(ids.iter().map(|&i| entry(i).len()).sum::<usize>() * repeat);
                    for &i in ids {
                        let value = entry(i);
                        for _ in 0..repeat {
                            data.extend_from_slice(value);
                            offsets.push(i32::try_from(data.len()).ok()?);
                        }
                    }
                }
                _ => return None,
            }
            Some(())
        })?;
        Some(())
    }
}

/// Appends the values of `dictionary` at `ids` (each checked to be in it), each `repeat` times.
fn repeat_each<T: Copy>(out: &mut Vec<T>, dictionary: &[T], ids: &[u32], repeat: usize) {
    for &i in ids {
        out.extend(std::iter::repeat_n(dictionary[i as usize], repeat));
    }
}

/// Appends `n` values of the RLE/bit-packed hybrid of `width` bits in `buf` to `out`; the
/// bytes it took. A bit-packed run's last group may hold padding past `n`.
#[cfg(test)]
pub(super) fn hybrid(buf: &[u8], width: u8, n: usize, out: &mut Vec<u32>) -> Option<usize> {
    let mut scratch = Vec::new();
    out.reserve(n);
    hybrid_runs(buf, width, n, &mut scratch, |run| {
        match run {
            Run::Repeat(value, count) => out.extend(std::iter::repeat_n(*value, count)),
            Run::Packed(values) => out.extend_from_slice(values),
        }
        Some(())
    })
}

/// One run of the hybrid encoding, as [`hybrid_runs`] hands it on.
enum Run<'a> {
    /// A value, so many times.
    Repeat(&'a u32, usize),
    /// Bit-packed values, unpacked.
    Packed(&'a [u32]),
}

/// Takes `n` values of the RLE/bit-packed hybrid of `width` bits in `buf` run by run to
/// `each` (bit-packed ones unpacked into `scratch`); the bytes it took. A bit-packed run's
/// last group may hold padding past `n`.
fn hybrid_runs(
    buf: &[u8],
    width: u8,
    n: usize,
    scratch: &mut Vec<u32>,
    mut each: impl FnMut(Run) -> Option<()>,
) -> Option<usize> {
    if width > 32 {
        return None;
    }
    let width = usize::from(width);
    let mut at = 0usize;
    let mut left = n;
    while left > 0 {
        let mut t = Thrift { buf, at };
        let header = t.varint()?;
        at = t.at;
        if header & 1 == 0 {
            let count = usize::try_from(header >> 1).ok()?;
            if count == 0 {
                return None;
            }
            let bytes = width.div_ceil(8);
            let mut value = 0u32;
            for (k, b) in buf.get(at..at + bytes)?.iter().enumerate() {
                value |= u32::from(*b) << (8 * k);
            }
            at += bytes;
            if width < 32 && value >> width != 0 {
                return None;
            }
            let take = count.min(left);
            each(Run::Repeat(&value, take))?;
            left -= take;
        } else {
            let groups = usize::try_from(header >> 1).ok()?;
            let bytes = groups.checked_mul(width)?;
            let packed = buf.get(at..at.checked_add(bytes)?)?;
            at += bytes;
            let take = (groups * 8).min(left);
            let mask = if width == 32 { u64::from(u32::MAX) } else { (1u64 << width) - 1 };
            scratch.clear();
            scratch.reserve(take);
            for i in 0..take {
                let bit = i * width;
                let from = bit / 8;
                let mut word = [0u8; 8];
                let end = packed.len().min(from + 8);
                word[..end - from].copy_from_slice(&packed[from..end]);
                scratch.push(((u64::from_le_bytes(word) >> (bit % 8)) & mask) as u32);
            }
            each(Run::Packed(scratch))?;
            left -= take;
        }
    }
    Some(at)
}

/// Appends the `n` levels (at most `max`) at `at`, behind their 4-byte length; where the
/// values start.
fn levels(
    buf: &[u8],
    at: usize,
    max: i16,
    n: usize,
    out: &mut Vec<i16>,
    scratch: &mut Vec<u32>,
) -> Option<usize> {
    let len = u32::from_le_bytes(buf.get(at..at + 4)?.try_into().ok()?) as usize;
    let runs = buf.get(at + 4..(at + 4).checked_add(len)?)?;
    let width = (16 - max.leading_zeros()) as u8;
    out.reserve(n);
    hybrid_runs(runs, width, n, scratch, |run| {
        let (levels, repeat) = match run {
            Run::Repeat(level, count) => (std::slice::from_ref(level), count),
            Run::Packed(levels) => (levels, 1),
        };
        if levels.iter().any(|&l| l > max as u32) {
            return None;
        }
        for &l in levels {
            out.extend(std::iter::repeat_n(l as i16, repeat));
        }
        Some(())
    })?;
    Some(at + 4 + len)
}

/// Scratch space a leaf's read needs and does not keep: a page's body, decoded indices or levels.
#[derive(Default)]
struct Buffers {
    page: Vec<u8>,
    scratch: Vec<u32>,
}

/// Reads one leaf column chunk of `rows` rows.
fn read_leaf(
    bytes: &[u8],
    chunk: &Chunk,
    column: &ColumnDescriptor,
    rows: usize,
    buffers: &mut Buffers,
) -> Option<Leaf> {
    let (max_def, max_rep) = (column.max_def_level(), column.max_rep_level());
    if max_rep > 1 {
        return None;
    }
    let physical = column.physical_type();
    let mut leaf =
        Leaf { max_def, def: Vec::new(), rep: Vec::new(), levels: 0, values: Values::empty(physical)? };
    // Room for what the metadata declares (checked once read), bounded by what a lean
    // object may hold.
    let declared = usize::try_from(chunk.num_values).ok()?.min(4 * LEAN_ROWS);
    if max_def > 0 {
        leaf.def.reserve(declared);
    }
    if max_rep > 0 {
        leaf.rep.reserve(declared);
    }
    leaf.values.reserve(declared);
    let mut dictionary: Option<Values> = None;
    let Buffers { page, scratch } = buffers;
    let mut pages = Pages::of(bytes, chunk)?;
    while let Some(header) = pages.next(page)? {
        match header.kind {
            DICTIONARY_PAGE => {
                if dictionary.is_some() || !matches!(header.encoding, PLAIN | PLAIN_DICTIONARY) {
                    return None;
                }
                let mut values = Values::empty(physical)?;
                values.plain(page, header.num_values)?;
                dictionary = Some(values);
            }
            DATA_PAGE => {
                let n = header.num_values;
                let mut at = 0;
                if max_rep > 0 {
                    if header.rep_encoding != RLE {
                        return None;
                    }
                    at = levels(page, at, max_rep, n, &mut leaf.rep, scratch)?;
                }
                let present = if max_def > 0 {
                    if header.def_encoding != RLE {
                        return None;
                    }
                    let from = leaf.def.len();
                    at = levels(page, at, max_def, n, &mut leaf.def, scratch)?;
                    leaf.def[from..].iter().filter(|d| **d == max_def).count()
                } else {
                    n
                };
                let body = page.get(at..)?;
                match header.encoding {
                    PLAIN => leaf.values.plain(body, present)?,
                    RLE_DICTIONARY | PLAIN_DICTIONARY => {
                        leaf.values.gather(dictionary.as_ref()?, body, present, scratch)?
                    }
                    _ => return None,
                }
                leaf.levels = leaf.levels.checked_add(n)?;
            }
            _ => return None,
        }
    }
    // The chunk's values as its metadata counts them, and a row each for a flat column.
    if u64::try_from(leaf.levels).ok()? != u64::try_from(chunk.num_values).ok()?
        || (max_rep == 0 && leaf.levels != rows)
    {
        return None;
    }
    Some(leaf)
}

/// Page types and encodings as Parquet's Thrift enums number them.
pub(super) const DATA_PAGE: i32 = 0;
pub(super) const DICTIONARY_PAGE: i32 = 2;
pub(super) const PLAIN: i32 = 0;
pub(super) const PLAIN_DICTIONARY: i32 = 2;
pub(super) const RLE: i32 = 3;
const RLE_DICTIONARY: i32 = 8;

/// What a page header says (the fields this reader uses).
#[derive(Debug, Default, PartialEq)]
struct PageHeader {
    kind: i32,
    uncompressed: usize,
    compressed: usize,
    num_values: usize,
    encoding: i32,
    def_encoding: i32,
    rep_encoding: i32,
}

/// The pages of one column chunk: each header, and its body decompressed.
struct Pages<'a> {
    chunk: &'a [u8],
    at: usize,
    snappy: bool,
    /// No page may claim more than the whole chunk's uncompressed size.
    most: usize,
}

impl<'a> Pages<'a> {
    fn of(bytes: &'a [u8], chunk: &Chunk) -> Option<Pages<'a>> {
        let chunk_bytes = bytes.get(chunk.byte_range()?)?;
        let snappy = match chunk.codec {
            Codec::Snappy => true,
            Codec::Uncompressed => false,
            Codec::Other => return None,
        };
        let most = usize::try_from(chunk.uncompressed).ok()?;
        Some(Pages { chunk: chunk_bytes, at: 0, snappy, most })
    }

    /// The next page's header, its body in `body`; `Some(None)` past the last page.
    fn next(&mut self, body: &mut Vec<u8>) -> Option<Option<PageHeader>> {
        if self.at == self.chunk.len() {
            return Some(None);
        }
        let mut thrift = Thrift { buf: self.chunk, at: self.at };
        let header = page_header(&mut thrift)?;
        let from = thrift.at;
        let raw = self.chunk.get(from..from.checked_add(header.compressed)?)?;
        self.at = from + header.compressed;
        if header.uncompressed > self.most {
            return None;
        }
        body.clear();
        if self.snappy {
            if snap::raw::decompress_len(raw).ok()? != header.uncompressed {
                return None;
            }
            body.resize(header.uncompressed, 0);
            let n = snap::raw::Decoder::new().decompress(raw, body).ok()?;
            if n != header.uncompressed {
                return None;
            }
        } else {
            if raw.len() != header.uncompressed {
                return None;
            }
            body.extend_from_slice(raw);
        }
        Some(Some(header))
    }
}

/// A `PageHeader`: type, sizes, and the data or dictionary page header's count and
/// encodings; every other field skipped. `None` when a required field is missing.
fn page_header(t: &mut Thrift) -> Option<PageHeader> {
    let mut header = PageHeader::default();
    let (mut kind, mut uncompressed, mut compressed) = (None, None, None);
    // Which of the data (5) and dictionary (7) page headers came, with its count.
    let mut counted: Option<i16> = None;
    let mut last = 0;
    while let Some((id, k)) = t.field(&mut last)? {
        match (id, k) {
            (1, T_I32) => kind = Some(t.i32()?),
            (2, T_I32) => uncompressed = Some(t.size()?),
            (3, T_I32) => compressed = Some(t.size()?),
            // DataPageHeader, DictionaryPageHeader: num_values, encoding (then the levels').
            (5 | 7, T_STRUCT) => {
                let mut inner = 0;
                while let Some((f, k)) = t.field(&mut inner)? {
                    match (f, k) {
                        (1, T_I32) => {
                            header.num_values = t.size()?;
                            counted = Some(id);
                        }
                        (2, T_I32) => header.encoding = t.i32()?,
                        (3, T_I32) if id == 5 => header.def_encoding = t.i32()?,
                        (4, T_I32) if id == 5 => header.rep_encoding = t.i32()?,
                        _ => t.skip(k, false, 1)?,
                    }
                }
            }
            _ => t.skip(k, false, 0)?,
        }
    }
    header.kind = kind?;
    header.uncompressed = uncompressed?;
    header.compressed = compressed?;
    // A data page needs its data page header, a dictionary page its dictionary page header.
    let wanted = match header.kind {
        DATA_PAGE => Some(5),
        DICTIONARY_PAGE => Some(7),
        _ => None,
    };
    if wanted.is_some() && counted != wanted {
        return None;
    }
    Some(header)
}

/// The column of `field` from its leaves.
fn assemble(field: &Field, mut leaves: Vec<Leaf>, rows: usize) -> Option<ArrayRef> {
    let nested = matches!(field.data_type(), DataType::List(_) | DataType::Map(..));
    if !nested {
        if leaves.len() != 1 {
            return None;
        }
        let leaf = leaves.pop()?;
        if leaf.levels != rows || !leaf.rep.is_empty() {
            return None;
        }
        let valid: Option<Vec<bool>> = match leaf.max_def {
            0 => None,
            1 => Some(leaf.def.iter().map(|d| *d == 1).collect()),
            _ => return None,
        };
        return flat(field.data_type(), leaf.values, valid);
    }
    // One repetition level, everything below it required: every leaf has the same levels,
    // and the deepest level means an entry.
    let first = leaves.first()?;
    let root_present = i16::from(field.is_nullable());
    let entry = root_present + 1;
    if first.max_def != entry || first.rep.len() != first.levels || first.def.len() != first.levels {
        return None;
    }
    if leaves.iter().any(|l| l.max_def != entry || l.rep != first.rep || l.def != first.def) {
        return None;
    }
    let mut offsets: Vec<i32> = Vec::with_capacity(rows + 1);
    let mut valid: Vec<bool> = Vec::with_capacity(rows);
    let mut entries = 0i32;
    for (i, (&r, &d)) in first.rep.iter().zip(&first.def).enumerate() {
        match r {
            0 => {
                offsets.push(entries);
                valid.push(d >= root_present);
            }
            _ if i == 0 || d != entry => return None,
            _ => {}
        }
        if d == entry {
            entries = entries.checked_add(1)?;
        }
    }
    offsets.push(entries);
    if valid.len() != rows || leaves.iter().any(|l| l.values.len() != entries as usize) {
        return None;
    }
    let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
    let nulls = valid.iter().any(|v| !v).then(|| NullBuffer::from(valid));
    let mut leaves = leaves.into_iter().map(|l| l.values);
    let array: ArrayRef = match field.data_type() {
        DataType::List(element) => {
            let values = required(element, &mut leaves)?;
            Arc::new(ListArray::try_new(Arc::clone(element), offsets, values, nulls).ok()?)
        }
        DataType::Map(entries_field, sorted) => {
            let DataType::Struct(fields) = entries_field.data_type() else { return None };
            let children = fields.iter().map(|f| required(f, &mut leaves)).collect::<Option<Vec<_>>>()?;
            let entries = StructArray::try_new(fields.clone(), children, None).ok()?;
            Arc::new(MapArray::try_new(Arc::clone(entries_field), offsets, entries, nulls, *sorted).ok()?)
        }
        _ => return None,
    };
    leaves.next().is_none().then_some(array)
}

/// A required array below the repetition: a leaf, or a struct of them.
fn required(field: &Field, leaves: &mut impl Iterator<Item = Values>) -> Option<ArrayRef> {
    match field.data_type() {
        DataType::Struct(fields) => {
            let children = fields.iter().map(|f| required(f, leaves)).collect::<Option<Vec<_>>>()?;
            Some(Arc::new(StructArray::try_new(fields.clone(), children, None).ok()?))
        }
        other => flat(other, leaves.next()?, None),
    }
}

/// A flat array of `values`, spread over the rows `valid` marks when it is given (a null row
/// holds no value).
fn flat(data_type: &DataType, values: Values, valid: Option<Vec<bool>>) -> Option<ArrayRef> {
    let rows = valid.as_ref().map_or(values.len(), Vec::len);
    if let Some(v) = &valid {
        if v.iter().filter(|x| **x).count() != values.len() {
            return None;
        }
    }
    let nulls = valid.as_deref().map(NullBuffer::from);
    // Each row's index into the values, for the rows that have one.
    let spread = |n: usize| -> Vec<Option<usize>> {
        let mut next = 0;
        match &valid {
            None => (0..n).map(Some).collect(),
            Some(v) => v
                .iter()
                .map(|ok| {
                    ok.then(|| {
                        next += 1;
                        next - 1
                    })
                })
                .collect(),
        }
    };
    Some(match (data_type, values) {
        (DataType::Int64, Values::I64(v)) => {
            let v = match valid {
                None => v,
                Some(_) => spread(rows).into_iter().map(|i| i.map_or(0, |i| v[i])).collect(),
            };
            Arc::new(Int64Array::try_new(ScalarBuffer::from(v), nulls).ok()?)
        }
        (DataType::Float64, Values::F64(v)) => {
            let v = match valid {
                None => v,
                Some(_) => spread(rows).into_iter().map(|i| i.map_or(0.0, |i| v[i])).collect(),
            };
            Arc::new(Float64Array::try_new(ScalarBuffer::from(v), nulls).ok()?)
        }
        (DataType::Boolean, Values::Bool(v)) => {
            let v: Vec<bool> = match valid {
                None => v,
                Some(_) => spread(rows).into_iter().map(|i| i.is_some_and(|i| v[i])).collect(),
            };
            Arc::new(BooleanArray::new(BooleanBuffer::from(v), nulls))
        }
        (DataType::Utf8, Values::Bytes { offsets, data }) => {
            let offsets = match valid {
                None => offsets,
                Some(_) => {
                    let mut spread_offsets = Vec::with_capacity(rows + 1);
                    spread_offsets.push(0);
                    for i in spread(rows) {
                        let end = match i {
                            Some(i) => offsets[i + 1],
                            None => *spread_offsets.last()?,
                        };
                        spread_offsets.push(end);
                    }
                    spread_offsets
                }
            };
            let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
            Arc::new(StringArray::try_new(offsets, Buffer::from_vec(data), nulls).ok()?)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use ::parquet::arrow::ArrowWriter;
    use ::parquet::file::metadata::ParquetMetaDataReader;
    use ::parquet::file::properties::{WriterProperties, WriterVersion};
    use arrow_array::builder::{
        BooleanBuilder, Float64Builder, Int64Builder, ListBuilder, MapBuilder, StringBuilder, StructBuilder,
    };
    use arrow_array::{Array, Int32Array};
    use arrow_schema::Fields;

    /// Rows with nulls, repeats (dictionaries), empty and null maps and lists, a map to a
    /// struct, and strings beyond ASCII.
    fn columns(rows: usize) -> Vec<(&'static str, ArrayRef)> {
        let mut ints = Int64Builder::new();
        let mut floats = Float64Builder::new();
        let mut opt_floats = Float64Builder::new();
        let mut strings = StringBuilder::new();
        let mut opt_strings = StringBuilder::new();
        let mut unique = StringBuilder::new();
        let mut bools = BooleanBuilder::new();
        // Required below the repetition, as ampfed's writer declares its maps and lists.
        let value = || Field::new("value", DataType::Utf8, false);
        let mut map =
            MapBuilder::new(None, StringBuilder::new(), StringBuilder::new()).with_values_field(value());
        let mut opt_map =
            MapBuilder::new(None, StringBuilder::new(), StringBuilder::new()).with_values_field(value());
        let mut list =
            ListBuilder::new(StringBuilder::new()).with_field(Field::new("element", DataType::Utf8, false));
        let pv_fields = Fields::from(vec![
            Field::new("cost", DataType::Float64, false),
            Field::new("id", DataType::Utf8, false),
        ]);
        let pv = Field::new("value", DataType::Struct(pv_fields.clone()), false);
        let mut pvs = MapBuilder::new(None, StringBuilder::new(), StructBuilder::from_fields(pv_fields, 0))
            .with_values_field(pv);
        for i in 0..rows {
            ints.append_value(i as i64 * 7 - 3);
            floats.append_value((i % 5) as f64 * 0.25);
            opt_floats.append_option((i % 3 != 0).then_some(i as f64 / 3.0));
            strings.append_value(["kube-system", "shop", "dé☃"][i % 3]);
            opt_strings.append_option((i % 4 != 1).then(|| format!("v{}", i % 2)));
            unique.append_value(format!("cluster/ns/pod-{i:05}"));
            bools.append_option((i % 5 != 2).then_some(i % 2 == 0));
            for k in 0..i % 3 {
                map.keys().append_value(format!("k{k}"));
                map.values().append_value(format!("value {i}"));
            }
            map.append(true).unwrap();
            if i % 4 == 3 {
                opt_map.append(false).unwrap();
            } else {
                for k in 0..i % 2 {
                    opt_map.keys().append_value(format!("label{k}"));
                    opt_map.values().append_value("x");
                }
                opt_map.append(true).unwrap();
            }
            for k in 0..(i + 1) % 3 {
                list.values().append_value(format!("svc{k}"));
            }
            list.append(true);
            if i % 2 == 0 {
                pvs.keys().append_value(format!("pv{i}"));
                let v = pvs.values();
                v.field_builder::<Float64Builder>(0).unwrap().append_value(i as f64);
                v.field_builder::<StringBuilder>(1).unwrap().append_value("vol");
                v.append(true);
            }
            pvs.append(true).unwrap();
        }
        vec![
            ("ints", Arc::new(ints.finish()) as ArrayRef),
            ("floats", Arc::new(floats.finish())),
            ("opt_floats", Arc::new(opt_floats.finish())),
            ("strings", Arc::new(strings.finish())),
            ("opt_strings", Arc::new(opt_strings.finish())),
            ("unique", Arc::new(unique.finish())),
            ("bools", Arc::new(bools.finish())),
            ("map", Arc::new(map.finish())),
            ("opt_map", Arc::new(opt_map.finish())),
            ("list", Arc::new(list.finish())),
            ("pvs", Arc::new(pvs.finish())),
        ]
    }

    fn write(columns: Vec<(&'static str, ArrayRef)>, properties: WriterProperties) -> Bytes {
        let fields: Vec<Field> = columns
            .iter()
            .map(|(name, a)| {
                // Required where the builder made no null, as ampfed's writer declares them.
                let nullable = a.null_count() > 0 || name.starts_with("opt_");
                Field::new(*name, a.data_type().clone(), nullable)
            })
            .collect();
        let schema = Arc::new(arrow_schema::Schema::new(fields));
        let batch =
            RecordBatch::try_new(Arc::clone(&schema), columns.into_iter().map(|(_, a)| a).collect()).unwrap();
        let mut writer = ArrowWriter::try_new(Vec::new(), schema, Some(properties)).unwrap();
        writer.write(&batch).unwrap();
        Bytes::from(writer.into_inner().unwrap())
    }

    /// The lean batches and arrow-rs' of `bytes`, each cut into one-row batches.
    fn both(bytes: &Bytes) -> (Option<Vec<RecordBatch>>, Vec<RecordBatch>) {
        let metadata = ParquetMetaDataReader::new().parse_and_finish(bytes).unwrap();
        let schema = learn_schema(None, metadata.file_metadata().schema_descr_ptr()).unwrap().arrow;
        // The footer parses as arrow-rs parses it (but for what arrow-rs is left).
        let parsed = crate::parquet::footer::parse(&bytes[super::footer(bytes).unwrap()], None)
            .expect("a plain footer");
        assert_eq!(parsed.footer, Footer::of(&metadata));
        assert!(parsed.footer.fits(metadata.file_metadata().schema_descr(), &parsed.types));
        let footer = parsed.footer;
        let lean =
            batches(bytes, &footer, metadata.file_metadata().schema_descr(), &schema).map(|b| rows(&b));
        let options =
            ::parquet::arrow::arrow_reader::ArrowReaderOptions::new().with_skip_arrow_metadata(true);
        let reader = ParquetRecordBatchReaderBuilder::try_new_with_options(bytes.clone(), options)
            .unwrap()
            .build()
            .unwrap();
        let arrow: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
        assert!(arrow.iter().all(|b| b.schema() == schema), "the same schema");
        (lean, rows(&arrow))
    }

    fn rows(batches: &[RecordBatch]) -> Vec<RecordBatch> {
        batches.iter().flat_map(|b| (0..b.num_rows()).map(|i| b.slice(i, 1))).collect()
    }

    fn v1() -> ::parquet::file::properties::WriterPropertiesBuilder {
        WriterProperties::builder().set_writer_version(WriterVersion::PARQUET_1_0)
    }

    #[test]
    fn the_lean_batches_are_arrow_rs_batches() {
        let cases = [
            ("dictionaries, one page", v1().build(), 300),
            (
                "plain after the dictionary outgrows its page, many pages",
                v1().set_dictionary_page_size_limit(256).set_data_page_row_count_limit(17).build(),
                500,
            ),
            ("no dictionaries", v1().set_dictionary_enabled(false).build(), 64),
            ("row groups of 33 rows", v1().set_max_row_group_row_count(Some(33)).build(), 100),
            ("one row", v1().build(), 1),
        ];
        for (what, properties, rows) in cases {
            let bytes = write(columns(rows), properties);
            let (lean, arrow) = both(&bytes);
            let lean = lean.unwrap_or_else(|| panic!("{what}: read lean"));
            assert_eq!((lean.len(), arrow.len()), (rows, rows), "{what}");
            for (row, (l, a)) in lean.iter().zip(&arrow).enumerate() {
                for (c, field) in a.schema().fields().iter().enumerate() {
                    let (l, a) = (l.column(c), a.column(c));
                    assert_eq!(l.as_ref(), a.as_ref(), "{what}: row {row}, column {}", field.name());
                    assert_eq!(
                        l.logical_null_count(),
                        a.logical_null_count(),
                        "{what}: row {row}, {}",
                        field.name()
                    );
                }
            }
        }
    }

    #[test]
    fn what_it_does_not_read_is_left_to_arrow_rs() {
        let v2 = WriterProperties::builder().set_writer_version(WriterVersion::PARQUET_2_0).build();
        let int32: ArrayRef = Arc::new(Int32Array::from(vec![1, 2, 3]));
        let mut nullable_elements = ListBuilder::new(StringBuilder::new());
        nullable_elements.values().append_value("a");
        nullable_elements.values().append_null();
        nullable_elements.append(true);
        let nullable_elements: ArrayRef = Arc::new(nullable_elements.finish());
        for (what, bytes) in [
            ("version 2 data pages", write(columns(10), v2)),
            ("an INT32 column", write(vec![("small", int32)], v1().build())),
            ("a list of nullable strings", write(vec![("list", nullable_elements)], v1().build())),
        ] {
            let (lean, arrow) = both(&bytes);
            assert!(lean.is_none(), "{what}");
            assert!(!arrow.is_empty(), "{what}: arrow-rs reads it");
        }
    }

    /// The footer's bytes.
    fn footer(bytes: &[u8]) -> &[u8] {
        let at = bytes.len() - 8;
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        &bytes[at - len..at]
    }

    #[test]
    fn a_schema_is_known_by_the_bytes_of_its_footer_list() {
        let one = write(columns(5), v1().build());
        let other_rows = write(columns(40), v1().set_max_row_group_row_count(Some(7)).build());
        let mut fewer = columns(5);
        fewer.pop();
        let other_schema = write(fewer, v1().build());
        let [a, b, c] =
            [&one, &other_rows, &other_schema].map(|f| schema_bytes(footer(f)).map(<[u8]>::to_vec));
        assert!(a.as_ref().is_some_and(|a| a.len() > 100), "the list of a dozen columns' elements");
        assert_eq!(a, b, "the same columns, other rows and row groups");
        assert_ne!(a, c, "a column fewer");
        // Read with the known schema, a footer gives the metadata it gives parsed whole.
        let whole = ParquetMetaDataReader::new().parse_and_finish(&other_rows).unwrap();
        let options = ::parquet::file::metadata::ParquetMetaDataOptions::new().with_schema(
            ParquetMetaDataReader::new().parse_and_finish(&one).unwrap().file_metadata().schema_descr_ptr(),
        );
        let hinted = ParquetMetaDataReader::new()
            .with_metadata_options(Some(options))
            .parse_and_finish(&other_rows)
            .unwrap();
        assert_eq!(hinted.file_metadata().schema_descr(), whole.file_metadata().schema_descr());
        assert_eq!(hinted.row_groups(), whole.row_groups());
        assert_eq!(schema_bytes(b"\x15\x02"), None, "a footer cut short");
    }

    #[test]
    fn the_hybrid_decoder_reads_runs_and_packed_groups_and_refuses_what_overruns() {
        let decode = |buf: &[u8], width: u8, n: usize| {
            let mut out = Vec::new();
            hybrid(buf, width, n, &mut out).map(|used| (out, used))
        };
        // A run of 5 threes (header 5 << 1 = 10), width 2: one value byte.
        assert_eq!(decode(&[10, 3], 2, 5), Some((vec![3, 3, 3, 3, 3], 2)));
        // One bit-packed group (header 1 << 1 | 1 = 3) of 8 values 0..8 at 3 bits: 3 bytes,
        // LSB first: 0b10_001_000, 0b1_100_011_0, 0b111_110_10.
        assert_eq!(decode(&[3, 0b1000_1000, 0b1100_0110, 0b1111_1010], 3, 8), Some(((0..8).collect(), 4)));
        // Only the first 6 of the group are wanted: padding is skipped.
        assert_eq!(decode(&[3, 0b1000_1000, 0b1100_0110, 0b1111_1010], 3, 6), Some(((0..6).collect(), 4)));
        // A run value wider than its width, a missing byte, an empty run, an endless varint.
        assert_eq!(decode(&[10, 4], 2, 5), None);
        assert_eq!(decode(&[3, 0b1000_1000], 3, 8), None);
        assert_eq!(decode(&[0, 1], 1, 1), None);
        assert_eq!(decode(&[0x80; 11], 1, 1), None);
    }
}
