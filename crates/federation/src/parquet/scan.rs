//! A projected reader of allocation objects: only the columns a caller names are decoded, as
//! Arrow batches, for engines that work on columns rather than on [`ampfed_allocation::Allocation`]s
//! (the API's pre-aggregation). The object is checked exactly as [`super::decode_any_with`]
//! checks it before anything is decoded (size, footer, checksum, metadata, schema version,
//! declared rows and sizes against [`Limits`], the top-level columns against the version's,
//! the key against the content), and every batch's window columns against the header.
//!
//! What the full decoder refuses in a value (a null, a non-finite float, a map with a null or
//! repeated key) is refused here too for the columns read, with an [`ErrorKind::Value`];
//! columns not read are not looked at, so a caller that wants the full decoder's exact
//! message for a damaged value decodes the object fully when a scan fails. A list or map
//! column whose chunk statistics count no value at all (every row's list or map is empty, as
//! labels often are) is not decoded either: it is left out of the batches, as a column of an
//! older version is, and reads as empty.
//!
//! Nor is a flat column that holds one value on every row ([`Scan::constants`]): one whose
//! every row group is dictionary-encoded on all its data pages with a dictionary of a single
//! value (a column of zeros, the window columns, a whole-day `start`). The dictionary page is
//! the column's exact set of values, so the value is checked as a decoded one would be (a
//! finite float, the object's window) and no row can hold another.
//!
//! A caller that reads names only to find which hold a few marks (the API: `__idle__`,
//! `__unmounted__`) asks for [`Scan::marked`] instead of the `name` column: the rows whose
//! names hold each mark are found in the name pages' bytes (a page without the marks'
//! first bytes is passed over whole, by its header's count of values), without building a
//! string array. Pages that are not
//! plain (another writer's dictionary) are decoded as a column instead, to the same answer.

use std::collections::HashSet;
use std::sync::Arc;

use ::parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use ::parquet::arrow::ProjectionMask;
use ::parquet::basic::{Encoding as PageEncoding, Type as PhysicalType};
use ::parquet::column::page::{Page, PageReader};
use ::parquet::file::metadata::ParquetMetaData;
use ::parquet::file::serialized_reader::SerializedPageReader;
use ampfed_allocation::Window;
use arrow_array::{
    Array, ArrayRef, Float64Array, ListArray, MapArray, RecordBatch, StringArray, StructArray,
};
use arrow_schema::{DataType, Field, FieldRef, Schema};
use bytes::Bytes;

use super::allocations;
use super::codec::{check_window, WINDOW_COLUMNS};
use super::columns;
use super::container::{self, Limits};
use super::error::{library, ErrorKind, ParquetError};
use super::keys::{Encoding, EtlKey, Kind};

/// Rows per batch of a scan.
const SCAN_BATCH_ROWS: usize = 65_536;

/// The projected batches of one allocation object.
#[derive(Clone, Debug)]
pub struct Scan {
    pub window: Window,
    /// The clusters the header names, sorted as written.
    pub clusters: Vec<String>,
    /// The schema version of the file: columns added later are absent from the batches.
    pub version: u32,
    /// Rows in the object (the footer's count, checked against the batches).
    pub rows: usize,
    /// The batches, in file order (allocations sorted by name), holding the requested
    /// columns that the file's version has, but for the [`Scan::constants`].
    pub batches: Vec<RecordBatch>,
    /// The requested flat columns that hold one value on every row, by name: not decoded,
    /// and not in the batches.
    pub constants: Vec<(String, Constant)>,
    /// For each mark the caller gave, the rows (in file order) whose names hold it.
    pub marked: Vec<Vec<u32>>,
}

/// The one value of a column on every row.
#[derive(Clone, Debug, PartialEq)]
pub enum Constant {
    F64(f64),
    I64(i64),
    Str(String),
}

impl Scan {
    /// Column `name` of batch `b`, `None` when not read, not in the file's version, or
    /// constant ([`Scan::constant`]).
    pub fn column(&self, b: usize, name: &str) -> Option<&ArrayRef> {
        self.batches.get(b).and_then(|batch| batch.column_by_name(name))
    }

    /// The value column `name` holds on every row, when the scan found it constant.
    pub fn constant(&self, name: &str) -> Option<&Constant> {
        self.constants.iter().find(|(n, _)| n == name).map(|(_, c)| c)
    }
}

/// Scans the allocation object `bytes` stored at `key`, decoding only `wanted` (names of the
/// allocations table's columns; unknown names are refused), the string columns among
/// `dictionary` as `Dictionary(Int32, Utf8)` arrays. `Ok(None)` when the object is not Parquet
/// (the first format's JSON, which only the full decoder reads).
pub fn scan_allocations(
    key: &str,
    bytes: Bytes,
    wanted: &[&str],
    dictionary: &[&str],
    limits: &Limits,
) -> Result<Option<Scan>, ParquetError> {
    scan_allocations_marking(key, bytes, wanted, dictionary, &[], limits)
}

/// [`scan_allocations`], and the rows whose names hold each of `marks` ([`Scan::marked`]),
/// found without decoding the names (unless `wanted` holds `name`).
pub fn scan_allocations_marking(
    key: &str,
    bytes: Bytes,
    wanted: &[&str],
    dictionary: &[&str],
    marks: &[&str],
    limits: &Limits,
) -> Result<Option<Scan>, ParquetError> {
    let fail = |kind| ParquetError::new(key, kind);
    if bytes.len() as u64 > limits.max_object_bytes {
        return Err(fail(ErrorKind::TooLarge { bytes: bytes.len() as u64, limit: limits.max_object_bytes }));
    }
    if !bytes.starts_with(b"PAR1") {
        return Ok(None);
    }
    scan(key, bytes, wanted, dictionary, marks, limits).map(Some).map_err(fail)
}

fn scan(
    key: &str,
    bytes: Bytes,
    wanted: &[&str],
    dictionary: &[&str],
    marks: &[&str],
    limits: &Limits,
) -> Result<Scan, ErrorKind> {
    // Every check of the full decoder, before any row is decoded.
    let opened = container::open_bytes_with(bytes.clone(), limits, container::Statistics::Keep)?;
    // Parsed by arrow-rs at open (its statistics are kept).
    let metadata = opened.metadata()?;
    let header = opened.header;
    if header.kind != Kind::Allocations {
        return Err(ErrorKind::WrongKind { expected: Kind::Allocations, found: header.kind });
    }
    let table = allocations::columns();
    columns::check_names(&table, &WINDOW_COLUMNS, header.version, &opened.schema)?;
    if let Some(k) = EtlKey::parse(key) {
        let detail = if k.kind != Kind::Allocations {
            Some(format!("the key is under {}/, the object holds {}", k.kind, Kind::Allocations))
        } else if k.window != header.window {
            Some(format!(
                "the key names window {}, the object holds {}",
                k.window.file_stem(),
                header.window.file_stem()
            ))
        } else if k.encoding != Encoding::Parquet {
            Some(format!("the key ends in {}, the object is {:?}", k.encoding.suffix(), Encoding::Parquet))
        } else {
            None
        };
        if let Some(detail) = detail {
            return Err(ErrorKind::KeyMismatch { detail });
        }
    }
    for name in wanted {
        if !table.iter().any(|c| c.name == *name) && !WINDOW_COLUMNS.contains(name) {
            return Err(ErrorKind::Schema { detail: format!("no allocation column `{name}` to scan") });
        }
    }
    let declared = opened.rows;
    // Marked rows are numbered in u32.
    if !marks.is_empty() && u32::try_from(declared).is_err() {
        return Err(ErrorKind::TooManyRows { rows: declared as u64, limit: u64::from(u32::MAX) });
    }
    // The footer as parsed on opening, and the Arrow schema derived then: the reader is
    // built once, with string columns whose values repeat as dictionaries (their keys
    // without copying a string per row).
    let mut options = ArrowReaderOptions::new().with_skip_arrow_metadata(true);
    if !dictionary.is_empty() {
        let fields: Vec<FieldRef> = opened
            .schema
            .fields()
            .iter()
            .map(|f| {
                if dictionary.contains(&f.name().as_str()) && f.data_type() == &DataType::Utf8 {
                    let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
                    Arc::new(Field::new(f.name(), dict, f.is_nullable()))
                } else {
                    Arc::clone(f)
                }
            })
            .collect();
        options = options.with_schema(Arc::new(Schema::new(fields)));
    }
    let builder = ArrowReaderMetadata::try_new(metadata, options)
        .map(|m| ParquetRecordBatchReaderBuilder::new_with_metadata(bytes.clone(), m))
        .map_err(library)?;
    // A nested column (list, map) whose leaves hold no value in any row group is empty on
    // every row: it is not decoded, and reads as absent (empty).
    let descr = builder.parquet_schema();
    let mut holds_values = vec![false; builder.schema().fields().len()];
    for (leaf, column) in descr.columns().iter().enumerate() {
        let root = descr.get_column_root_idx(leaf);
        let nested = column.max_rep_level() > 0;
        let empty = builder.metadata().row_groups().iter().all(|g| {
            let chunk = g.column(leaf);
            chunk.statistics().and_then(|s| s.null_count_opt()) == u64::try_from(chunk.num_values()).ok()
        });
        if let Some(h) = holds_values.get_mut(root) {
            *h |= !(nested && empty);
        }
    }
    let requested: Vec<usize> = builder
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| WINDOW_COLUMNS.contains(&f.name().as_str()) || wanted.contains(&f.name().as_str()))
        .filter(|(i, _)| holds_values[*i])
        .map(|(i, _)| i)
        .collect();
    let mut constants = Vec::new();
    let mut roots = Vec::with_capacity(requested.len());
    for root in requested {
        let field = &builder.schema().fields()[root];
        match constant(&bytes, builder.metadata(), root, field.data_type()) {
            Some(value) => {
                check_constant(field.name(), &value, header.window)?;
                constants.push((field.name().clone(), value));
            }
            None => roots.push(root),
        }
    }
    // The marks from the name pages' bytes; failing that, from the decoded names.
    let name_root = builder.schema().fields().iter().position(|f| f.name() == "name");
    let mut marked = match (marks.is_empty(), name_root) {
        (true, _) => Some(Vec::new()),
        (false, Some(root)) => marked_in_pages(&bytes, builder.metadata(), root, marks),
        (false, None) => None,
    };
    // Names that are one value (another writer's one-value dictionary, asked for as a column):
    // every row or none holds each mark.
    if let (None, Some((_, Constant::Str(name)))) = (&marked, constants.iter().find(|(n, _)| n == "name")) {
        let rows = |m: &&str| if name.contains(m) { (0..declared as u32).collect() } else { Vec::new() };
        marked = Some(marks.iter().map(rows).collect());
    }
    // `marked` is `None` only when there are marks to find.
    let decode_names = marked.is_none() && !wanted.contains(&"name");
    if decode_names {
        if let Some(root) = name_root.filter(|r| !roots.contains(r)) {
            roots.push(root);
            roots.sort_unstable();
        }
    }
    let decoded_window: Vec<&str> =
        WINDOW_COLUMNS.into_iter().filter(|w| !constants.iter().any(|(n, _)| n == w)).collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder.with_projection(mask).with_batch_size(SCAN_BATCH_ROWS).build().map_err(library)?;
    let mut batches = Vec::new();
    let mut seen = 0usize;
    let mut marked_rows: Option<Vec<Vec<u32>>> = None;
    for batch in reader {
        let batch = batch.map_err(library)?;
        if seen + batch.num_rows() > declared {
            return Err(ErrorKind::Parquet {
                detail: format!("more rows than the {declared} the footer declares"),
            });
        }
        check_window(&batch, &decoded_window, header.window, seen)?;
        check_values(&batch, seen)?;
        let batch = if marked.is_none() {
            let names = batch.column_by_name("name").and_then(|a| a.as_any().downcast_ref::<StringArray>());
            let names =
                names.ok_or_else(|| ErrorKind::Schema { detail: "column `name` is not a string".into() })?;
            let found = marked_rows.get_or_insert_with(|| vec![Vec::new(); marks.len()]);
            for r in 0..names.len() {
                for (rows, mark) in found.iter_mut().zip(marks) {
                    if holds(names.value(r).as_bytes(), mark) {
                        rows.push((seen + r) as u32);
                    }
                }
            }
            match decode_names {
                true => batch
                    .project(
                        &(0..batch.num_columns())
                            .filter(|&i| batch.schema().field(i).name() != "name")
                            .collect::<Vec<_>>(),
                    )
                    .map_err(library)?,
                false => batch,
            }
        } else {
            batch
        };
        seen += batch.num_rows();
        batches.push(batch);
    }
    if seen != declared {
        return Err(ErrorKind::Parquet {
            detail: format!("{seen} rows, but the footer declares {declared}"),
        });
    }
    let marked = marked.or(marked_rows).unwrap_or_else(|| vec![Vec::new(); marks.len()]);
    Ok(Scan {
        window: header.window,
        clusters: header.clusters,
        version: header.version,
        rows: declared,
        batches,
        constants,
        marked,
    })
}

/// The value of flat column `root` (of Arrow type `data_type`) on every row, when every row
/// group holds it alone: a one-value dictionary and only dictionary-encoded data pages.
/// `None` for anything else (the column is then decoded, and any damage found there).
fn constant(
    bytes: &Bytes,
    metadata: &ParquetMetaData,
    root: usize,
    data_type: &DataType,
) -> Option<Constant> {
    let leaf = flat_leaf(metadata, root)?;
    let physical = metadata.file_metadata().schema_descr().column(leaf).physical_type();
    if metadata.row_groups().is_empty() {
        return None;
    }
    let utf8 = match data_type {
        DataType::Dictionary(_, values) => values.as_ref() == &DataType::Utf8,
        other => other == &DataType::Utf8,
    };
    let mut found: Option<Constant> = None;
    for group in metadata.row_groups() {
        let chunk = group.column(leaf);
        let dictionary_only = chunk.page_encoding_stats_mask().is_some_and(|m| {
            m.is_only(PageEncoding::PLAIN_DICTIONARY) || m.is_only(PageEncoding::RLE_DICTIONARY)
        });
        if chunk.dictionary_page_offset().is_none() || !dictionary_only {
            return None;
        }
        let rows = usize::try_from(group.num_rows()).ok()?;
        let mut pages = SerializedPageReader::new(Arc::new(bytes.clone()), chunk, rows, None).ok()?;
        let Ok(Some(Page::DictionaryPage { buf, num_values: 1, encoding, .. })) = pages.get_next_page()
        else {
            return None;
        };
        if !matches!(encoding, PageEncoding::PLAIN | PageEncoding::PLAIN_DICTIONARY) {
            return None;
        }
        let value = match (physical, data_type) {
            (PhysicalType::DOUBLE, DataType::Float64) => {
                Constant::F64(f64::from_le_bytes(buf.as_ref().try_into().ok()?))
            }
            (PhysicalType::INT64, DataType::Int64) => {
                Constant::I64(i64::from_le_bytes(buf.as_ref().try_into().ok()?))
            }
            (PhysicalType::BYTE_ARRAY, _) if utf8 => {
                let (len, rest) = buf.split_first_chunk::<4>()?;
                if u32::from_le_bytes(*len) as usize != rest.len() {
                    return None;
                }
                Constant::Str(std::str::from_utf8(rest).ok()?.to_owned())
            }
            _ => return None,
        };
        let same = match (&found, &value) {
            (None, _) => true,
            (Some(Constant::F64(a)), Constant::F64(b)) => a.to_bits() == b.to_bits(),
            (Some(a), b) => a == b,
        };
        if !same {
            return None;
        }
        found = Some(value);
    }
    found
}

/// The rows whose names (flat column `root`) hold each of `marks`, read from the column's
/// plain data pages (version 1: a required column's values follow the header, each a
/// 4-byte little-endian length and its bytes). `None` when a page is anything else, or
/// its values do not add up to the row group's rows: the names are then decoded.
fn marked_in_pages(
    bytes: &Bytes,
    metadata: &ParquetMetaData,
    root: usize,
    marks: &[&str],
) -> Option<Vec<Vec<u32>>> {
    let leaf = flat_leaf(metadata, root)?;
    if metadata.file_metadata().schema_descr().column(leaf).physical_type() != PhysicalType::BYTE_ARRAY {
        return None;
    }
    let firsts: Vec<u8> = marks.iter().map(|m| m.as_bytes().first().copied()).collect::<Option<_>>()?;
    let mut found = vec![Vec::new(); marks.len()];
    let mut row = 0usize;
    for group in metadata.row_groups() {
        let rows = usize::try_from(group.num_rows()).ok()?;
        let chunk = group.column(leaf);
        let mut pages = SerializedPageReader::new(Arc::new(bytes.clone()), chunk, rows, None).ok()?;
        let mut in_group = 0usize;
        while let Some(page) = pages.get_next_page().ok()? {
            let Page::DataPage { buf, num_values, encoding: PageEncoding::PLAIN, .. } = page else {
                return None;
            };
            let n = num_values as usize;
            if !firsts.iter().any(|b| buf.contains(b)) {
                // No value of the page can hold a mark: its header's count is all that is
                // needed (the row group's total is checked below; the names themselves are
                // not read, as no column a caller did not ask for is).
            } else {
                let mut at = 0usize;
                for i in 0..n {
                    let len = u32::from_le_bytes(buf.get(at..at + 4)?.try_into().ok()?) as usize;
                    let value = buf.get(at + 4..at + 4 + len)?;
                    for ((rows, mark), first) in found.iter_mut().zip(marks).zip(&firsts) {
                        if value.contains(first) && holds(value, mark) {
                            rows.push(u32::try_from(row + in_group + i).ok()?);
                        }
                    }
                    at += 4 + len;
                }
                if at != buf.len() {
                    return None;
                }
            }
            in_group += n;
        }
        if in_group != rows {
            return None;
        }
        row += rows;
    }
    Some(found)
}

/// The allocation table's (or window's) column `name`, as the errors name it.
fn column_name(name: &str) -> &'static str {
    allocations::columns().iter().map(|c| c.name).chain(WINDOW_COLUMNS).find(|n| *n == name).unwrap_or("?")
}

/// The leaf of flat, required column `root`: `None` for a nested or nullable one.
fn flat_leaf(metadata: &ParquetMetaData, root: usize) -> Option<usize> {
    let descr = metadata.file_metadata().schema_descr();
    let leaf = (0..descr.num_columns()).find(|&l| descr.get_column_root_idx(l) == root)?;
    let column = descr.column(leaf);
    (column.max_rep_level() == 0 && column.max_def_level() == 0).then_some(leaf)
}

/// Whether a name's bytes hold `mark`.
fn holds(name: &[u8], mark: &str) -> bool {
    name.windows(mark.len()).any(|w| w == mark.as_bytes())
}

/// What [`check_values`] and [`check_window`] refuse, in a constant column.
fn check_constant(name: &str, value: &Constant, window: Window) -> Result<(), ErrorKind> {
    let column = column_name(name);
    match value {
        Constant::F64(x) if !x.is_finite() => Err(ErrorKind::Value {
            row: 0,
            name: "row 0".into(),
            column,
            detail: format!("{x} is not a finite number"),
        }),
        Constant::I64(x)
            if name == WINDOW_COLUMNS[0] && *x != window.start
                || name == WINDOW_COLUMNS[1] && *x != window.end =>
        {
            Err(ErrorKind::Value {
                row: 0,
                name: "window".to_owned(),
                column,
                detail: format!("differs from the object's window {}", window.file_stem()),
            })
        }
        _ => Ok(()),
    }
}

/// What the full decoder refuses in the columns read: nulls (no allocation column is
/// nullable), non-finite floats, null or repeated map keys.
fn check_values(batch: &RecordBatch, first: usize) -> Result<(), ErrorKind> {
    let schema = batch.schema();
    for (field, array) in schema.fields().iter().zip(batch.columns()) {
        let column = column_name(field.name());
        let refuse = |row: usize, detail: String| ErrorKind::Value {
            row: first + row,
            name: format!("row {}", first + row),
            column,
            detail,
        };
        if array.null_count() > 0 {
            let i = (0..array.len()).find(|&i| array.is_null(i)).unwrap_or(0);
            return Err(refuse(i, "is null, but the row has this field".into()));
        }
        if let Some(a) = array.as_any().downcast_ref::<Float64Array>() {
            if let Some(i) = a.values().iter().position(|x| !x.is_finite()) {
                return Err(refuse(i, format!("{} is not a finite number", a.value(i))));
            }
        } else if let Some(m) = array.as_any().downcast_ref::<MapArray>() {
            let keys = m.keys();
            if keys.null_count() > 0 || m.values().null_count() > 0 {
                let row = (0..m.len()).find(|&i| m.value(i).null_count() > 0).unwrap_or(0);
                return Err(refuse(row, "holds a null key or value".into()));
            }
            if let Some(s) = m.values().as_any().downcast_ref::<StructArray>() {
                if s.columns().iter().any(|c| c.null_count() > 0) {
                    return Err(refuse(0, "holds a null key, PV or PV field".into()));
                }
                for c in s.columns() {
                    if let Some(f) = c.as_any().downcast_ref::<Float64Array>() {
                        if f.values().iter().any(|x| !x.is_finite()) {
                            return Err(refuse(0, "holds a PV field that is not a finite number".into()));
                        }
                    }
                }
            }
            let keys = keys.as_any().downcast_ref::<StringArray>().ok_or_else(|| ErrorKind::Schema {
                detail: format!("column `{column}`: its keys are not strings"),
            })?;
            let offsets = m.value_offsets();
            for i in 0..m.len() {
                let (a, b) = (offsets[i] as usize, offsets[i + 1] as usize);
                let sorted = (a + 1..b).all(|j| keys.value(j - 1) < keys.value(j));
                if !sorted {
                    let mut set = HashSet::new();
                    if let Some(j) = (a..b).find(|&j| !set.insert(keys.value(j))) {
                        return Err(refuse(i, format!("holds key {:?} twice", keys.value(j))));
                    }
                }
            }
        } else if let Some(l) = array.as_any().downcast_ref::<ListArray>() {
            if l.values().null_count() > 0 {
                return Err(refuse(0, "holds a null element".into()));
            }
        }
    }
    Ok(())
}
