//! The codec's entry points: [`encode_allocations`] and [`encode_assets`] write a set as one
//! sealed Parquet object; [`decode_any`] reads any ETL object, Parquet or the first format's
//! JSON, told apart by their first bytes; [`decode_allocations`] and [`decode_assets`] want
//! one kind. Every decoder checks the object against [`Limits`] and its checksum before
//! parsing, and against its key when the key is one of the layout's ([`EtlKey`]).

use ampfed_allocation::{Allocation, AllocationSet, AssetSet, Window};
use arrow_array::{
    Array, ArrayRef, Float64Array, Int64Array, ListArray, MapArray, RecordBatch, StringArray, StructArray,
};
use arrow_schema::Field;
use bytes::Bytes;
use std::sync::Arc;

use super::allocations;
use super::assets::{self, AnyAsset};
use super::columns::{self, Row};
use super::container::{self, ColumnChoices, Header, Limits, Opened, SCHEMA_VERSION};
use super::error::{library, ErrorKind, ParquetError};
use super::keys::{Encoding, EtlKey, Kind};
use crate::format::{DecodeError, Decoded};

/// A decoded ETL object.
#[derive(Clone, Debug, PartialEq)]
pub enum EtlSet {
    Allocations(AllocationSet),
    Assets(AssetSet),
}

impl EtlSet {
    pub fn kind(&self) -> Kind {
        match self {
            EtlSet::Allocations(_) => Kind::Allocations,
            EtlSet::Assets(_) => Kind::Assets,
        }
    }

    pub fn window(&self) -> Window {
        match self {
            EtlSet::Allocations(s) => s.window,
            EtlSet::Assets(s) => s.window,
        }
    }
}

/// A decoded object: the set, who wrote it, and how it was stored.
#[derive(Clone, Debug, PartialEq)]
pub struct EtlObject {
    pub set: EtlSet,
    /// The writer's id (`ampfed.source`, or the JSON's `source`), when the object names one.
    pub source: Option<String>,
    pub encoding: Encoding,
    /// The Parquet schema version, or the JSON format version (1).
    pub version: u32,
}

/// The two columns every table starts with: the set's window, on every row.
pub(super) const WINDOW_COLUMNS: [&str; 2] = ["window_start", "window_end"];
/// The assets table's third column.
const TYPE_COLUMN: &str = "type";

/// How an object being written is named in errors.
fn new_object(kind: Kind, window: Window) -> String {
    format!("(new {kind} object {})", window.file_stem())
}

fn window_columns(window: Window, rows: usize) -> Vec<(Field, ArrayRef)> {
    [(WINDOW_COLUMNS[0], window.start), (WINDOW_COLUMNS[1], window.end)]
        .into_iter()
        .map(|(name, v)| {
            let array: ArrayRef = Arc::new(Int64Array::from_value(v, rows));
            (Field::new(name, array.data_type().clone(), false), array)
        })
        .collect()
}

/// The leaf positions of `names` among `fields`.
fn sorting(fields: &[Field], names: &[&str]) -> Result<Vec<i32>, ErrorKind> {
    names
        .iter()
        .map(|n| {
            columns::leaf_index(fields, n)
                .ok_or_else(|| ErrorKind::Schema { detail: format!("no sort column `{n}`") })
        })
        .collect()
}

fn fields_of(columns: &[(Field, ArrayRef)]) -> Vec<Field> {
    columns.iter().map(|(f, _)| f.clone()).collect()
}

fn checked_window(window: Window) -> Result<(), ErrorKind> {
    if window.end <= window.start {
        return Err(ErrorKind::Metadata {
            entry: "ampfed.window_end",
            detail: format!("window {}-{} ends before it starts", window.start, window.end),
        });
    }
    Ok(())
}

/// The Parquet object of an allocation set, naming `source` as its writer when given: rows
/// sorted by name, the same bytes for the same set. Refuses a non-finite number, a window
/// that ends before it starts, and a set over the default [`Limits`] (what readers would
/// refuse).
pub fn encode_allocations(set: &AllocationSet, source: Option<&str>) -> Result<Vec<u8>, ParquetError> {
    let fail = |kind| ParquetError::new(&new_object(Kind::Allocations, set.window), kind);
    checked_window(set.window).map_err(fail)?;
    let mut rows: Vec<&Allocation> = set.allocations.iter().collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    let mut columns = window_columns(set.window, rows.len());
    columns.extend(columns::encode_rows(&allocations::columns(), &rows).map_err(fail)?);
    let sorted_by = sorting(&fields_of(&columns), &["name"]).map_err(fail)?;
    let header = header(Kind::Allocations, set.window, &set.clusters, source);
    container::write(&header, columns, &sorted_by, allocations::CHOICES, &Limits::default()).map_err(fail)
}

/// The Parquet object of an asset set, naming `source` when given: one table, rows sorted by
/// type, cluster and name.
pub fn encode_assets(set: &AssetSet, source: Option<&str>) -> Result<Vec<u8>, ParquetError> {
    let fail = |kind| ParquetError::new(&new_object(Kind::Assets, set.window), kind);
    checked_window(set.window).map_err(fail)?;
    let owned = assets::rows(set);
    let rows: Vec<&AnyAsset> = owned.iter().collect();
    let mut columns = window_columns(set.window, rows.len());
    let types: ArrayRef = Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.type_name())));
    columns.push((Field::new(TYPE_COLUMN, types.data_type().clone(), false), types));
    columns.extend(columns::encode_rows(&assets::columns(), &rows).map_err(fail)?);
    let sorted_by = sorting(&fields_of(&columns), &[TYPE_COLUMN, "cluster", "name"]).map_err(fail)?;
    let header = header(Kind::Assets, set.window, &set.clusters, source);
    container::write(&header, columns, &sorted_by, ColumnChoices::default(), &Limits::default()).map_err(fail)
}

fn header(kind: Kind, window: Window, clusters: &[String], source: Option<&str>) -> Header {
    let mut clusters = clusters.to_vec();
    clusters.sort();
    clusters.dedup();
    Header { version: SCHEMA_VERSION, kind, window, clusters, source: source.map(str::to_owned) }
}

/// Reads any ETL object with the default [`Limits`]; see [`decode_any_with`].
pub fn decode_any(key: &str, bytes: &[u8]) -> Result<EtlObject, ParquetError> {
    decode_any_with(key, bytes, &Limits::default())
}

/// Reads any ETL object: Parquet (`PAR1`) of schema version 1 or 2, or a JSON allocation or
/// asset set of the first format (`{`, `crate::format` version 1), which is read as it is
/// (migrated on read: it holds the same fields, absent ones default). When `key` is one of
/// the layout's, its kind, window and suffix must match the content.
pub fn decode_any_with(key: &str, bytes: &[u8], limits: &Limits) -> Result<EtlObject, ParquetError> {
    let fail = |kind| ParquetError::new(key, kind);
    if bytes.len() as u64 > limits.max_object_bytes {
        return Err(fail(ErrorKind::TooLarge { bytes: bytes.len() as u64, limit: limits.max_object_bytes }));
    }
    let object = if bytes.starts_with(b"PAR1") {
        decode_parquet(bytes, limits).map_err(fail)?
    } else if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        let object = decode_json(key, bytes).map_err(fail)?;
        let rows = match &object.set {
            EtlSet::Allocations(s) => s.allocations.len(),
            EtlSet::Assets(s) => {
                s.nodes.len() + s.disks.len() + s.load_balancers.len() + s.cluster_management.len()
            }
        };
        if rows as u64 > limits.max_rows {
            return Err(fail(ErrorKind::TooManyRows { rows: rows as u64, limit: limits.max_rows }));
        }
        object
    } else {
        let start: String =
            bytes.iter().take(8).map(|b| std::ascii::escape_default(*b).to_string()).collect();
        return Err(fail(ErrorKind::UnknownFormat { start: format!("b\"{start}\"") }));
    };
    let set = &object.set;
    if let Some(k) = EtlKey::parse(key) {
        let detail = if k.kind != set.kind() {
            Some(format!("the key is under {}/, the object holds {}", k.kind, set.kind()))
        } else if k.window != set.window() {
            Some(format!(
                "the key names window {}, the object holds {}",
                k.window.file_stem(),
                set.window().file_stem()
            ))
        } else if k.encoding != object.encoding {
            Some(format!("the key ends in {}, the object is {:?}", k.encoding.suffix(), object.encoding))
        } else {
            None
        };
        if let Some(detail) = detail {
            return Err(fail(ErrorKind::KeyMismatch { detail }));
        }
    }
    Ok(object)
}

/// Reads an allocations object (Parquet, or the first format's JSON).
pub fn decode_allocations(key: &str, bytes: &[u8]) -> Result<Decoded<AllocationSet>, ParquetError> {
    let object = decode_any(key, bytes)?;
    match object.set {
        EtlSet::Allocations(set) => Ok(Decoded { set, source: object.source }),
        EtlSet::Assets(_) => Err(ParquetError::new(
            key,
            ErrorKind::WrongKind { expected: Kind::Allocations, found: Kind::Assets },
        )),
    }
}

/// Reads an assets object (Parquet, or the first format's JSON).
pub fn decode_assets(key: &str, bytes: &[u8]) -> Result<Decoded<AssetSet>, ParquetError> {
    let object = decode_any(key, bytes)?;
    match object.set {
        EtlSet::Assets(set) => Ok(Decoded { set, source: object.source }),
        EtlSet::Allocations(_) => Err(ParquetError::new(
            key,
            ErrorKind::WrongKind { expected: Kind::Assets, found: Kind::Allocations },
        )),
    }
}

/// A format 1 JSON object: an asset object has a top-level `assets`, an allocation set
/// `allocations`; `crate::format` reads each (and refuses other format versions).
fn decode_json(key: &str, bytes: &[u8]) -> Result<EtlObject, ErrorKind> {
    /// Whether the object has `assets`, skipping its value.
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(default)]
        assets: Option<serde::de::IgnoredAny>,
    }
    let json = |e: DecodeError| ErrorKind::Json { detail: e.message() };
    let probe: Probe =
        serde_json::from_slice(bytes).map_err(|e| ErrorKind::Json { detail: e.to_string() })?;
    let (set, source) = match probe.assets {
        Some(_) => {
            let d = crate::format::decode_asset_set(key, bytes).map_err(json)?;
            (EtlSet::Assets(d.set), d.source)
        }
        None => {
            let d = crate::format::decode_set(key, bytes).map_err(json)?;
            (EtlSet::Allocations(d.set), d.source)
        }
    };
    Ok(EtlObject { set, source, encoding: Encoding::Json, version: crate::format::FORMAT_VERSION })
}

fn decode_parquet(bytes: &[u8], limits: &Limits) -> Result<EtlObject, ErrorKind> {
    let opened = container::open(bytes, limits)?;
    let (version, source) = (opened.header.version, opened.header.source.clone());
    let set = match opened.header.kind {
        Kind::Allocations => {
            let columns = allocations::columns();
            columns::check_names(&columns, &WINDOW_COLUMNS, opened.header.version, &opened.schema)?;
            let blank = |b: &RecordBatch, _| Ok(vec![Allocation::default(); b.num_rows()]);
            let (header, rows) = read_rows(opened, &columns, blank)?;
            EtlSet::Allocations(AllocationSet::new(header.clusters, header.window, rows))
        }
        Kind::Assets => {
            let columns = assets::columns();
            let mut fixed = WINDOW_COLUMNS.to_vec();
            fixed.push(TYPE_COLUMN);
            columns::check_names(&columns, &fixed, opened.header.version, &opened.schema)?;
            let (header, rows) = read_rows(opened, &columns, typed_rows)?;
            EtlSet::Assets(assets::into_set(header.clusters, header.window, rows))
        }
    };
    Ok(EtlObject { set, source, encoding: Encoding::Parquet, version })
}

/// Reads every batch into rows: each batch's window columns are checked against the header,
/// its rows made blank by `blank`, then filled in by `columns`.
fn read_rows<T: Row>(
    opened: Opened,
    columns: &[columns::Column<T>],
    blank: impl Fn(&RecordBatch, usize) -> Result<Vec<T>, ErrorKind>,
) -> Result<(Header, Vec<T>), ErrorKind> {
    let batches = opened.batches()?;
    let Opened { header, rows: declared, .. } = opened;
    // Grown as the batches come, not reserved from the footer's word.
    let mut out: Vec<T> = Vec::new();
    for batch in batches {
        let batch = batch.map_err(library)?;
        let first = out.len();
        if first + batch.num_rows() > declared {
            return Err(ErrorKind::Parquet {
                detail: format!("more rows than the {declared} the footer declares"),
            });
        }
        check_window(&batch, &WINDOW_COLUMNS, header.window, first)?;
        let mut rows = blank(&batch, first)?;
        columns::decode_rows(columns, header.version, &batch, &mut rows, first)?;
        out.extend(rows);
    }
    if out.len() != declared {
        return Err(ErrorKind::Parquet {
            detail: format!("{} rows, but the footer declares {declared}", out.len()),
        });
    }
    Ok((header, out))
}

/// Blank assets of each row's `type`.
fn typed_rows(batch: &RecordBatch, first: usize) -> Result<Vec<AnyAsset>, ErrorKind> {
    let missing =
        || ErrorKind::Schema { detail: format!("column `{TYPE_COLUMN}` is missing or not a string") };
    let types = batch
        .column_by_name(TYPE_COLUMN)
        .and_then(|a| a.as_any().downcast_ref::<StringArray>())
        .ok_or_else(missing)?;
    (0..types.len())
        .map(|i| {
            let name = if types.is_valid(i) { types.value(i) } else { "(null)" };
            AnyAsset::of_type(name).ok_or_else(|| ErrorKind::Value {
                row: first + i,
                name: name.to_owned(),
                column: TYPE_COLUMN,
                detail: format!("not an asset type (one of {})", assets::TYPES.join(", ")),
            })
        })
        .collect()
}

/// Checks the window columns among `columns` (both, or those a scan decoded) in `batch`.
pub(super) fn check_window(
    batch: &RecordBatch,
    columns: &[&str],
    window: Window,
    first: usize,
) -> Result<(), ErrorKind> {
    for (name, expected) in [(WINDOW_COLUMNS[0], window.start), (WINDOW_COLUMNS[1], window.end)] {
        if !columns.contains(&name) {
            continue;
        }
        let column =
            batch.column_by_name(name).and_then(|a| a.as_any().downcast_ref::<Int64Array>()).ok_or_else(
                || ErrorKind::Schema { detail: format!("column `{name}` is missing or not a bigint") },
            )?;
        if let Some(i) = (0..column.len()).find(|&i| column.is_null(i) || column.value(i) != expected) {
            return Err(ErrorKind::Value {
                row: first + i,
                name: "window".to_owned(),
                column: name,
                detail: format!("differs from the object's window {}", window.file_stem()),
            });
        }
    }
    Ok(())
}

/// One column of a table, as documented in `docs/etl-format.md`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnInfo {
    pub name: &'static str,
    /// As Athena's DDL writes it: `string`, `bigint`, `double`, `boolean`, `array<string>`,
    /// `map<…>`.
    pub type_name: &'static str,
    /// The schema version that added it.
    pub since: u32,
    /// Null on rows that have no such field (assets of other types).
    pub nullable: bool,
}

/// The columns of `kind`'s table in the current schema version, in file order.
pub fn schema(kind: Kind) -> Vec<ColumnInfo> {
    fn info<T: Row>(c: &columns::Column<T>) -> ColumnInfo {
        ColumnInfo { name: c.name, type_name: c.type_name(), since: c.since, nullable: c.nullable }
    }
    let first = match kind {
        Kind::Allocations => 1,
        Kind::Assets => container::ASSETS_SINCE,
    };
    let fixed = |name| ColumnInfo { name, type_name: "bigint", since: first, nullable: false };
    let mut out = vec![fixed(WINDOW_COLUMNS[0]), fixed(WINDOW_COLUMNS[1])];
    match kind {
        Kind::Allocations => out.extend(allocations::columns().iter().map(info)),
        Kind::Assets => {
            out.push(ColumnInfo { name: TYPE_COLUMN, type_name: "string", since: first, nullable: false });
            out.extend(assets::columns().iter().map(info));
        }
    }
    out
}

/// One input's allocations, held as Arrow columns for [`encode_combined_allocations`]: what
/// the federator combines without making rows of them. The columns are those of the
/// allocations table after the window columns, in file order, with the values today's encoder
/// would build from the set's rows in stored order.
#[derive(Clone, Debug)]
pub struct AllocationPiece {
    clusters: Vec<String>,
    rows: usize,
    columns: Vec<ArrayRef>,
    /// Whether its names are known to increase (checked when the piece was made).
    sorted: bool,
}

impl AllocationPiece {
    pub fn rows(&self) -> usize {
        self.rows
    }
}

/// The allocations table's columns after the window columns for no rows, as the encoder
/// builds them: their fields are what a piece's columns must be.
fn empty_allocations() -> &'static [(Field, ArrayRef)] {
    static EMPTY: std::sync::OnceLock<Vec<(Field, ArrayRef)>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(|| columns::encode_rows::<Allocation>(&allocations::columns(), &[]).unwrap_or_default())
}

fn empty_allocation_columns() -> Vec<ArrayRef> {
    empty_allocations().iter().map(|(_, a)| Arc::clone(a)).collect()
}

/// The piece of an allocations object when it is a current-version Parquet object that
/// passes, in its columns, every check [`decode_allocations`] and `trust::check_set` make for
/// the key of `cluster` and `window`, with its writer id; `None` when anything is off (or of
/// another version, or JSON), for the caller to take the row path, which says exactly what.
pub fn allocation_piece(
    key: &str,
    bytes: Bytes,
    cluster: &str,
    window: Window,
) -> Option<(AllocationPiece, Option<String>)> {
    if !bytes.starts_with(b"PAR1") {
        return None;
    }
    let opened = container::open_bytes(bytes, &Limits::default()).ok()?;
    let header = &opened.header;
    if header.kind != Kind::Allocations
        || header.version != SCHEMA_VERSION
        || header.window != window
        || header.clusters != [cluster]
    {
        return None;
    }
    let k = EtlKey::parse(key)?;
    if k.kind != Kind::Allocations || k.window != window || k.encoding != Encoding::Parquet {
        return None;
    }
    let columns = allocations::columns();
    columns::check_names(&columns, &WINDOW_COLUMNS, header.version, &opened.schema).ok()?;
    // Borrowed from the empty table's, not cloned for each of the tens of thousands of inputs.
    let fields: Vec<&Field> = empty_allocations().iter().map(|(f, _)| f).collect();
    let source = header.source.clone();
    let declared = opened.rows;
    let mut parts: Vec<Vec<ArrayRef>> = vec![Vec::new(); fields.len()];
    let mut rows = 0;
    let prefix = format!("{cluster}/");
    let mut last_name: Option<String> = None;
    for batch in opened.batches().ok()? {
        let batch = batch.ok()?;
        check_window(&batch, &WINDOW_COLUMNS, window, rows).ok()?;
        let mut taken = Vec::with_capacity(fields.len());
        for (j, field) in fields.iter().enumerate() {
            // Where the writer puts it, or (another writer's order) found by name.
            let at = WINDOW_COLUMNS.len() + j;
            let array = match batch.schema_ref().fields().get(at) {
                Some(f) if f.name() == field.name() => batch.column(at),
                _ => batch.column_by_name(field.name())?,
            };
            if array.data_type() != field.data_type() || !canonical(array.as_ref()) {
                return None;
            }
            taken.push(Arc::clone(array));
        }
        let get = |name: &str| fields.iter().position(|f| f.name() == name).map(|i| &taken[i]);
        let names = get("name")?.as_any().downcast_ref::<StringArray>()?;
        let clusters = get("cluster")?.as_any().downcast_ref::<StringArray>()?;
        let starts = get("start")?.as_any().downcast_ref::<Int64Array>()?;
        let ends = get("end")?.as_any().downcast_ref::<Int64Array>()?;
        let mut last: Option<&str> = last_name.as_deref();
        for i in 0..batch.num_rows() {
            let name = names.value(i);
            let (start, end) = (starts.value(i), ends.value(i));
            // Strictly increasing names: sorted as the encoder sorts, and no duplicates.
            if clusters.value(i) != cluster
                || !name.starts_with(&prefix)
                || last.is_some_and(|l| l >= name)
                || !(window.start <= start && start <= end && end <= window.end)
            {
                return None;
            }
            last = Some(name);
        }
        if let Some(l) = last {
            last_name = Some(l.to_owned());
        }
        rows += batch.num_rows();
        for (part, array) in parts.iter_mut().zip(taken) {
            part.push(array);
        }
    }
    if rows != declared {
        return None;
    }
    let columns = match rows {
        0 => empty_allocation_columns(),
        _ => parts.iter().map(|p| concat(p)).collect::<Option<Vec<_>>>()?,
    };
    Some((AllocationPiece { clusters: header_clusters(cluster), rows, columns, sorted: true }, source))
}

fn header_clusters(cluster: &str) -> Vec<String> {
    vec![cluster.to_owned()]
}

/// The piece of a decoded (and trusted) set: its rows in stored order.
pub fn allocation_piece_of(set: &AllocationSet) -> Result<AllocationPiece, ParquetError> {
    let fail = |kind| ParquetError::new(&new_object(Kind::Allocations, set.window), kind);
    let rows: Vec<&Allocation> = set.allocations.iter().collect();
    let columns = columns::encode_rows(&allocations::columns(), &rows).map_err(fail)?;
    Ok(AllocationPiece {
        clusters: set.clusters.clone(),
        rows: rows.len(),
        columns: columns.into_iter().map(|(_, a)| a).collect(),
        sorted: false,
    })
}

/// The Parquet object of the union of `pieces` (in the order given) over `window`, and its
/// rows: the same bytes as [`encode_allocations`] of the set of all their rows, written
/// straight from the columns when the names come sorted (each input's are, and inputs in key
/// order are), through rows otherwise.
pub fn encode_combined_allocations(
    window: Window,
    pieces: Vec<AllocationPiece>,
) -> Result<(usize, Vec<u8>), ParquetError> {
    encode_combined_allocations_with(window, pieces, Writer::Lean)
}

/// Which writer writes a combined window: the lean one (`writer.rs`, what the federator
/// uses) or arrow-rs (what it used before; kept for the benchmark's side-by-side figure).
/// The same rows either way, in other bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Writer {
    Lean,
    ArrowRs,
}

/// [`encode_combined_allocations`] with the writer chosen.
pub fn encode_combined_allocations_with(
    window: Window,
    pieces: Vec<AllocationPiece>,
    writer: Writer,
) -> Result<(usize, Vec<u8>), ParquetError> {
    let fail = |kind| ParquetError::new(&new_object(Kind::Allocations, window), kind);
    checked_window(window).map_err(fail)?;
    let members: Vec<String> = pieces.iter().flat_map(|p| p.clusters.iter().cloned()).collect();
    let rows: usize = pieces.iter().map(|p| p.rows).sum();
    let sorted = names_increase(&pieces);
    // Each column's parts, end to end: the window columns whole, the rest a part a piece.
    let (mut fields, mut parts): (Vec<Field>, Vec<Vec<ArrayRef>>) =
        window_columns(window, rows).into_iter().map(|(f, a)| (f, vec![a])).unzip();
    for (i, (field, empty)) in empty_allocations().iter().enumerate() {
        fields.push(field.clone());
        parts.push(match pieces.len() {
            0 => vec![Arc::clone(empty)],
            _ => pieces.iter().map(|p| Arc::clone(&p.columns[i])).collect(),
        });
    }
    drop(pieces);
    let sorted_by = sorting(&fields, &["name"]).map_err(fail)?;
    let header = header(Kind::Allocations, window, &members, None);
    if sorted && writer == Writer::Lean {
        if let Some(bytes) = container::write_parts(
            &header,
            &fields,
            &parts,
            &sorted_by,
            allocations::CHOICES,
            &Limits::default(),
        )
        .map_err(fail)?
        {
            return Ok((rows, bytes));
        }
    }
    let mut columns = Vec::with_capacity(fields.len());
    for (field, parts) in fields.into_iter().zip(parts) {
        let array = concat(&parts).ok_or_else(|| {
            fail(ErrorKind::Schema { detail: format!("column `{}` does not concatenate", field.name()) })
        })?;
        columns.push((field, array));
    }
    if !sorted {
        // Rows, sorted (stably) as the encoder sorts them.
        let schema = Arc::new(arrow_schema::Schema::new(fields_of(&columns)));
        let batch = RecordBatch::try_new(schema, columns.into_iter().map(|(_, a)| a).collect())
            .map_err(|e| fail(library(e)))?;
        let mut all = vec![Allocation::default(); rows];
        columns::decode_rows(&allocations::columns(), SCHEMA_VERSION, &batch, &mut all, 0).map_err(fail)?;
        let bytes = encode_allocations(&AllocationSet::new(members, window, all), None)?;
        return Ok((rows, bytes));
    }
    let write = match writer {
        Writer::Lean => container::write,
        Writer::ArrowRs => container::write_arrow_rs,
    };
    let bytes =
        write(&header, columns, &sorted_by, allocations::CHOICES, &Limits::default()).map_err(fail)?;
    Ok((rows, bytes))
}

/// Whether the names of `pieces`, end to end, never decrease: within a piece unless it was
/// checked when it was made, and across each boundary.
fn names_increase(pieces: &[AllocationPiece]) -> bool {
    let at = empty_allocations().iter().position(|(f, _)| f.name() == "name");
    let names: Option<Vec<&StringArray>> = pieces
        .iter()
        .map(|p| at.and_then(|i| p.columns.get(i)).and_then(|a| a.as_any().downcast_ref::<StringArray>()))
        .collect();
    let Some(names) = names else { return false };
    let mut last: Option<&str> = None;
    for (piece, names) in pieces.iter().zip(names) {
        if names.is_empty() {
            continue;
        }
        let within = piece.sorted || (1..names.len()).all(|i| names.value(i - 1) <= names.value(i));
        if !within || last.is_some_and(|l| l > names.value(0)) {
            return false;
        }
        last = Some(names.value(names.len() - 1));
    }
    true
}

/// Whether `array` has no nulls (at any depth), only finite floats, and maps whose keys
/// strictly increase within each entry: what the row path's `BTreeMap`s and checks give.
fn canonical(array: &dyn Array) -> bool {
    if array.null_count() != 0 {
        return false;
    }
    let any = array.as_any();
    if let Some(a) = any.downcast_ref::<Float64Array>() {
        return a.values().iter().all(|x| x.is_finite());
    }
    if let Some(a) = any.downcast_ref::<ListArray>() {
        return canonical(a.values().as_ref());
    }
    if let Some(a) = any.downcast_ref::<StructArray>() {
        return a.columns().iter().all(|c| canonical(c.as_ref()));
    }
    if let Some(a) = any.downcast_ref::<MapArray>() {
        let Some(keys) = a.keys().as_any().downcast_ref::<StringArray>() else { return false };
        let offsets = a.value_offsets();
        let increasing = offsets.windows(2).all(|w| {
            let (from, to) = (w[0] as usize, w[1] as usize);
            (from + 1..to).all(|j| keys.value(j - 1) < keys.value(j))
        });
        return increasing && canonical(a.entries());
    }
    any.downcast_ref::<Int64Array>().is_some() || any.downcast_ref::<StringArray>().is_some()
}

/// `parts` (arrays of one type without nulls, as [`canonical`] accepts) end to end.
fn concat(parts: &[ArrayRef]) -> Option<ArrayRef> {
    let first = parts.first()?;
    if parts.len() == 1 && first.offset() == 0 {
        return Some(Arc::clone(first));
    }
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let builder = first.to_data().into_builder().len(len).offset(0).nulls(None);
    let any = first.as_any();
    let data = if any.downcast_ref::<Int64Array>().is_some() {
        let mut values: Vec<i64> = Vec::with_capacity(len);
        for p in parts {
            values.extend_from_slice(p.as_any().downcast_ref::<Int64Array>()?.values());
        }
        builder.buffers(vec![values.into()])
    } else if any.downcast_ref::<Float64Array>().is_some() {
        let mut values: Vec<f64> = Vec::with_capacity(len);
        for p in parts {
            values.extend_from_slice(p.as_any().downcast_ref::<Float64Array>()?.values());
        }
        builder.buffers(vec![values.into()])
    } else if any.downcast_ref::<StringArray>().is_some() {
        let mut offsets: Vec<i32> = Vec::with_capacity(len + 1);
        offsets.push(0);
        let bytes: usize = parts
            .iter()
            .map(|p| p.as_any().downcast_ref::<StringArray>().map_or(0, |a| a.value_data().len()))
            .sum();
        let mut values: Vec<u8> = Vec::with_capacity(bytes);
        for p in parts {
            let a = p.as_any().downcast_ref::<StringArray>()?;
            let o = a.value_offsets();
            let (from, to) = (*o.first()? as usize, *o.last()? as usize);
            let base = i32::try_from(values.len()).ok()? - o[0];
            offsets.extend(o[1..].iter().map(|x| x + base));
            values.extend_from_slice(&a.value_data()[from..to]);
        }
        i32::try_from(values.len()).ok()?;
        builder.buffers(vec![offsets.into(), values.into()])
    } else if any.downcast_ref::<ListArray>().is_some() || any.downcast_ref::<MapArray>().is_some() {
        let mut offsets: Vec<i32> = Vec::with_capacity(len + 1);
        offsets.push(0);
        let mut children: Vec<ArrayRef> = Vec::with_capacity(parts.len());
        let mut at = 0i32;
        for p in parts {
            let (o, child): (&[i32], ArrayRef) = match p.as_any().downcast_ref::<ListArray>() {
                Some(a) => (a.value_offsets(), Arc::clone(a.values())),
                None => {
                    let a = p.as_any().downcast_ref::<MapArray>()?;
                    (a.value_offsets(), Arc::new(a.entries().clone()))
                }
            };
            let (from, to) = (*o.first()?, *o.last()?);
            offsets.extend(o[1..].iter().map(|x| x - from + at));
            at = at.checked_add(to - from)?;
            children.push(child.slice(from as usize, (to - from) as usize));
        }
        builder.buffers(vec![offsets.into()]).child_data(vec![concat(&children)?.to_data()])
    } else if let Some(s) = any.downcast_ref::<StructArray>() {
        let mut child_data = Vec::with_capacity(s.num_columns());
        for i in 0..s.num_columns() {
            let children: Vec<ArrayRef> = parts
                .iter()
                .map(|p| p.as_any().downcast_ref::<StructArray>().map(|s| Arc::clone(s.column(i))))
                .collect::<Option<_>>()?;
            child_data.push(concat(&children)?.to_data());
        }
        builder.buffers(vec![]).child_data(child_data)
    } else {
        return None;
    };
    data.build().ok().map(arrow_array::make_array)
}
