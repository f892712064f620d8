//! Columns as data: each row type (allocations, assets) lists its [`Column`]s once, with the
//! column's name, the schema version that added it, whether it may be null, and how to get
//! it from a row and put it back ([`Access`]). [`encode_rows`] builds the Arrow arrays from
//! that list and [`decode_rows`] reads them back, so a column is defined in one place for
//! both directions, for the docs' tables ([`Column::type_name`]) and for the version rules.
//!
//! A getter returns `None` when the row has no such field (a disk has no CPU cores): the
//! column is then null for that row, and a reader refuses a value there, as it refuses a null
//! where the row needs one. Floats must be finite both ways.

use std::collections::BTreeMap;
use std::sync::Arc;

use ampfed_allocation::PvAllocation;
use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, ListBuilder, MapBuilder, MapFieldNames, StringBuilder,
    StructBuilder,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, ListArray, MapArray, RecordBatch, StringArray,
    StructArray,
};
use arrow_schema::{DataType, Field, Fields, Schema};

use super::error::{library, ErrorKind};

/// Labels, annotations: sorted string maps.
pub(super) type StrMap = BTreeMap<String, String>;
/// An allocation's PVs by `cluster=<c>:name=<pv>`.
pub(super) type PvMap = BTreeMap<String, PvAllocation>;

/// A row type: how a row is named in error messages.
pub(super) trait Row {
    fn label(&self) -> String;
}

/// How a column's value is read from a row (`None`: the row has no such field) and written
/// into one.
pub(super) enum Access<T> {
    Str(fn(&T) -> Option<&str>, fn(&mut T, String)),
    Int(fn(&T) -> Option<i64>, fn(&mut T, i64)),
    Float(fn(&T) -> Option<f64>, fn(&mut T, f64)),
    Bool(fn(&T) -> Option<bool>, fn(&mut T, bool)),
    List(fn(&T) -> Option<&[String]>, fn(&mut T, Vec<String>)),
    Map(fn(&T) -> Option<&StrMap>, fn(&mut T, StrMap)),
    Pvs(fn(&T) -> Option<&PvMap>, fn(&mut T, PvMap)),
}

/// One column of a row type's table.
pub(super) struct Column<T> {
    pub(super) name: &'static str,
    /// The schema version that added the column: files of older versions lack it and read it
    /// as the field's default.
    pub(super) since: u32,
    /// Whether the column may be null (only for fields that some rows do not have).
    pub(super) nullable: bool,
    pub(super) access: Access<T>,
}

/// The names of a map's parts, as the Parquet spec spells them (`key_value`, `key`, `value`).
fn map_names() -> MapFieldNames {
    MapFieldNames { entry: "key_value".into(), key: "key".into(), value: "value".into() }
}

/// The fields of one PV in the `pvs` map.
fn pv_fields() -> Fields {
    Fields::from(vec![
        Field::new("byte_hours", DataType::Float64, false),
        Field::new("cost", DataType::Float64, false),
        Field::new("provider_id", DataType::Utf8, false),
    ])
}

impl<T: Row> Column<T> {
    /// The column's type as the docs and Athena's DDL write it.
    pub(super) fn type_name(&self) -> &'static str {
        match self.access {
            Access::Str(..) => "string",
            Access::Int(..) => "bigint",
            Access::Float(..) => "double",
            Access::Bool(..) => "boolean",
            Access::List(..) => "array<string>",
            Access::Map(..) => "map<string,string>",
            Access::Pvs(..) => "map<string,struct<byte_hours:double,cost:double,provider_id:string>>",
        }
    }

    fn refuse(&self, row: usize, of: &T, detail: impl Into<String>) -> ErrorKind {
        ErrorKind::Value { row, name: of.label(), column: self.name, detail: detail.into() }
    }

    fn finite(&self, row: usize, of: &T, what: &str, x: f64) -> Result<f64, ErrorKind> {
        if x.is_finite() {
            Ok(x)
        } else {
            Err(self.refuse(
                row,
                of,
                format!("{what}{x} is not a finite number; only finite numbers are stored"),
            ))
        }
    }

    /// The column's array for `rows`.
    fn encode(&self, rows: &[&T]) -> Result<(Field, ArrayRef), ErrorKind> {
        let array: ArrayRef = match &self.access {
            Access::Str(get, _) => {
                let mut b = StringBuilder::new();
                rows.iter().for_each(|r| b.append_option(get(r)));
                Arc::new(b.finish())
            }
            Access::Int(get, _) => {
                let mut b = Int64Builder::with_capacity(rows.len());
                rows.iter().for_each(|r| b.append_option(get(r)));
                Arc::new(b.finish())
            }
            Access::Float(get, _) => {
                let mut b = Float64Builder::with_capacity(rows.len());
                for (i, r) in rows.iter().enumerate() {
                    let v = get(r).map(|x| self.finite(i, r, "", x)).transpose()?;
                    b.append_option(v);
                }
                Arc::new(b.finish())
            }
            Access::Bool(get, _) => {
                let mut b = BooleanBuilder::with_capacity(rows.len());
                rows.iter().for_each(|r| b.append_option(get(r)));
                Arc::new(b.finish())
            }
            Access::List(get, _) => {
                let mut b = ListBuilder::new(StringBuilder::new()).with_field(Field::new(
                    "element",
                    DataType::Utf8,
                    false,
                ));
                for r in rows {
                    match get(r) {
                        Some(items) => {
                            items.iter().for_each(|s| b.values().append_value(s));
                            b.append(true);
                        }
                        None => b.append(false),
                    }
                }
                Arc::new(b.finish())
            }
            Access::Map(get, _) => {
                let mut b = MapBuilder::new(Some(map_names()), StringBuilder::new(), StringBuilder::new())
                    .with_values_field(Field::new("value", DataType::Utf8, false));
                for r in rows {
                    let entries = get(r);
                    for (k, v) in entries.into_iter().flatten() {
                        b.keys().append_value(k);
                        b.values().append_value(v);
                    }
                    b.append(entries.is_some()).map_err(library)?;
                }
                Arc::new(b.finish())
            }
            Access::Pvs(get, _) => {
                let values = StructBuilder::new(
                    pv_fields(),
                    vec![
                        Box::new(Float64Builder::new()),
                        Box::new(Float64Builder::new()),
                        Box::new(StringBuilder::new()),
                    ],
                );
                let mut b = MapBuilder::new(Some(map_names()), StringBuilder::new(), values)
                    .with_values_field(Field::new("value", DataType::Struct(pv_fields()), false));
                for (i, r) in rows.iter().enumerate() {
                    let pvs = get(r);
                    for (key, pv) in pvs.into_iter().flatten() {
                        let byte_hours = self.finite(i, r, &format!("{key}: byte_hours "), pv.byte_hours)?;
                        let cost = self.finite(i, r, &format!("{key}: cost "), pv.cost)?;
                        b.keys().append_value(key);
                        let s = b.values();
                        let builder_lost =
                            || ErrorKind::Parquet { detail: "the PV struct builder lost a field".into() };
                        s.field_builder::<Float64Builder>(0)
                            .ok_or_else(builder_lost)?
                            .append_value(byte_hours);
                        s.field_builder::<Float64Builder>(1).ok_or_else(builder_lost)?.append_value(cost);
                        s.field_builder::<StringBuilder>(2)
                            .ok_or_else(builder_lost)?
                            .append_value(&pv.provider_id);
                        s.append(true);
                    }
                    b.append(pvs.is_some()).map_err(library)?;
                }
                Arc::new(b.finish())
            }
        };
        Ok((Field::new(self.name, array.data_type().clone(), self.nullable), array))
    }

    /// Reads the column's `array` into `rows`, the rows of the file from `first` on.
    fn decode(&self, array: &dyn Array, rows: &mut [T], first: usize) -> Result<(), ErrorKind> {
        match &self.access {
            Access::Str(get, set) => {
                let a: &StringArray = self.downcast(array)?;
                self.apply(
                    rows,
                    first,
                    |r| get(r).is_some(),
                    |i| Ok(a.is_valid(i).then(|| a.value(i).to_owned())),
                    *set,
                )
            }
            Access::Int(get, set) => {
                let a: &Int64Array = self.downcast(array)?;
                self.apply(rows, first, |r| get(r).is_some(), |i| Ok(a.is_valid(i).then(|| a.value(i))), *set)
            }
            Access::Float(get, set) => {
                let a: &Float64Array = self.downcast(array)?;
                let value = |i: usize| {
                    let x = a.value(i);
                    match (a.is_valid(i), x.is_finite()) {
                        (false, _) => Ok(None),
                        (true, true) => Ok(Some(x)),
                        (true, false) => Err(format!("{x} is not a finite number")),
                    }
                };
                self.apply(rows, first, |r| get(r).is_some(), value, *set)
            }
            Access::Bool(get, set) => {
                let a: &BooleanArray = self.downcast(array)?;
                self.apply(rows, first, |r| get(r).is_some(), |i| Ok(a.is_valid(i).then(|| a.value(i))), *set)
            }
            Access::List(get, set) => {
                let a: &ListArray = self.downcast(array)?;
                let items: &StringArray = self.downcast_part(a.values().as_ref(), "element")?;
                let offsets = a.value_offsets();
                let value = |i: usize| {
                    if a.is_null(i) {
                        return Ok(None);
                    }
                    let mut out = Vec::new();
                    for j in span(offsets, i)? {
                        if items.is_null(j) {
                            return Err("holds a null element".to_owned());
                        }
                        out.push(items.value(j).to_owned());
                    }
                    Ok(Some(out))
                };
                self.apply(rows, first, |r| get(r).is_some(), value, *set)
            }
            Access::Map(get, set) => {
                let a: &MapArray = self.downcast(array)?;
                let keys: &StringArray = self.downcast_part(a.keys().as_ref(), "key")?;
                let values: &StringArray = self.downcast_part(a.values().as_ref(), "value")?;
                let offsets = a.value_offsets();
                let value = |i: usize| {
                    if a.is_null(i) {
                        return Ok(None);
                    }
                    let mut out = StrMap::new();
                    for j in span(offsets, i)? {
                        if keys.is_null(j) || values.is_null(j) {
                            return Err("holds a null key or value".to_owned());
                        }
                        let key = keys.value(j);
                        if out.insert(key.to_owned(), values.value(j).to_owned()).is_some() {
                            return Err(format!("holds key {key:?} twice"));
                        }
                    }
                    Ok(Some(out))
                };
                self.apply(rows, first, |r| get(r).is_some(), value, *set)
            }
            Access::Pvs(get, set) => {
                let a: &MapArray = self.downcast(array)?;
                let keys: &StringArray = self.downcast_part(a.keys().as_ref(), "key")?;
                let pvs: &StructArray = self.downcast_part(a.values().as_ref(), "value")?;
                let field = |name: &str| {
                    pvs.column_by_name(name).ok_or_else(|| ErrorKind::Schema {
                        detail: format!("column `{}`: the PV struct has no field `{name}`", self.name),
                    })
                };
                let byte_hours: &Float64Array =
                    self.downcast_part(field("byte_hours")?.as_ref(), "byte_hours")?;
                let cost: &Float64Array = self.downcast_part(field("cost")?.as_ref(), "cost")?;
                let provider: &StringArray =
                    self.downcast_part(field("provider_id")?.as_ref(), "provider_id")?;
                let offsets = a.value_offsets();
                let value = |i: usize| {
                    if a.is_null(i) {
                        return Ok(None);
                    }
                    let mut out = PvMap::new();
                    for j in span(offsets, i)? {
                        let parts = [keys.is_null(j), pvs.is_null(j), byte_hours.is_null(j), cost.is_null(j)];
                        if parts.into_iter().any(|null| null) || provider.is_null(j) {
                            return Err("holds a null key, PV or PV field".to_owned());
                        }
                        let key = keys.value(j);
                        let (bh, c) = (byte_hours.value(j), cost.value(j));
                        if !bh.is_finite() || !c.is_finite() {
                            return Err(format!("{key}: byte_hours {bh} or cost {c} is not a finite number"));
                        }
                        let pv = PvAllocation {
                            byte_hours: bh,
                            cost: c,
                            provider_id: provider.value(j).to_owned(),
                        };
                        if out.insert(key.to_owned(), pv).is_some() {
                            return Err(format!("holds key {key:?} twice"));
                        }
                    }
                    Ok(Some(out))
                };
                self.apply(rows, first, |r| get(r).is_some(), value, *set)
            }
        }
    }

    /// Sets each row's field from `value(i)`, refusing a null where the row has the field and
    /// a value where it has not.
    fn apply<V>(
        &self,
        rows: &mut [T],
        first: usize,
        has: impl Fn(&T) -> bool,
        value: impl Fn(usize) -> Result<Option<V>, String>,
        set: fn(&mut T, V),
    ) -> Result<(), ErrorKind> {
        for (i, row) in rows.iter_mut().enumerate() {
            let v = value(i).map_err(|detail| self.refuse(first + i, row, detail))?;
            match (v, has(row)) {
                (Some(v), true) => set(row, v),
                (None, false) => {}
                (None, true) => {
                    return Err(self.refuse(first + i, row, "is null, but the row has this field"))
                }
                (Some(_), false) => {
                    return Err(self.refuse(
                        first + i,
                        row,
                        "has a value, but the row's type has no such field",
                    ))
                }
            }
        }
        Ok(())
    }

    fn downcast<'a, A: Array + 'static>(&self, array: &'a dyn Array) -> Result<&'a A, ErrorKind> {
        array.as_any().downcast_ref::<A>().ok_or_else(|| ErrorKind::Schema {
            detail: format!("column `{}` is {}, expected {}", self.name, array.data_type(), self.type_name()),
        })
    }

    fn downcast_part<'a, A: Array + 'static>(
        &self,
        array: &'a dyn Array,
        part: &str,
    ) -> Result<&'a A, ErrorKind> {
        array.as_any().downcast_ref::<A>().ok_or_else(|| ErrorKind::Schema {
            detail: format!(
                "column `{}`: its {part} is {}, expected the parts of {}",
                self.name,
                array.data_type(),
                self.type_name()
            ),
        })
    }
}

/// The child positions of list or map entry `i`.
fn span(offsets: &[i32], i: usize) -> Result<std::ops::Range<usize>, String> {
    let bound = |k: usize| offsets.get(k).and_then(|o| usize::try_from(*o).ok());
    match (bound(i), bound(i + 1)) {
        (Some(a), Some(b)) if a <= b => Ok(a..b),
        _ => Err("has unreadable offsets".to_owned()),
    }
}

/// The arrays of `columns` for `rows`, in order.
pub(super) fn encode_rows<T: Row>(
    columns: &[Column<T>],
    rows: &[&T],
) -> Result<Vec<(Field, ArrayRef)>, ErrorKind> {
    columns.iter().map(|c| c.encode(rows)).collect()
}

/// Reads `batch` into `rows` (as many as the batch has, each already of its type), the rows
/// of the file from `first` on: every column of `columns` that schema version `version` has.
pub(super) fn decode_rows<T: Row>(
    columns: &[Column<T>],
    version: u32,
    batch: &RecordBatch,
    rows: &mut [T],
    first: usize,
) -> Result<(), ErrorKind> {
    let wanted = columns.iter().filter(|c| c.since <= version);
    // In the writer's order, the version's columns are the batch's last ones: each is looked
    // for where it would be first, then by name.
    let offset = batch.num_columns().saturating_sub(wanted.clone().count());
    let fields = batch.schema_ref().fields();
    for (k, column) in wanted.enumerate() {
        let array = match fields.get(offset + k) {
            Some(f) if f.name() == column.name => Some(batch.column(offset + k)),
            _ => batch.column_by_name(column.name),
        }
        .ok_or_else(|| ErrorKind::Schema { detail: format!("column `{}` is missing", column.name) })?;
        column.decode(array.as_ref(), rows, first)?;
    }
    Ok(())
}

/// Refuses a file whose top-level columns are not exactly `fixed` and the columns of
/// `columns` that schema version `version` has (in any order).
pub(super) fn check_names<T>(
    columns: &[Column<T>],
    fixed: &[&str],
    version: u32,
    schema: &Schema,
) -> Result<(), ErrorKind> {
    // The common case, without building maps: exactly the version's columns, in the
    // writer's order.
    let in_order = fixed.iter().copied().chain(columns.iter().filter(|c| c.since <= version).map(|c| c.name));
    if schema.fields().iter().map(|f| f.name().as_str()).eq(in_order) {
        return Ok(());
    }
    let expected: BTreeMap<&str, u32> = fixed
        .iter()
        .map(|n| (*n, 1))
        .chain(columns.iter().filter(|c| c.since <= version).map(|c| (c.name, c.since)))
        .collect();
    let mut seen = BTreeMap::new();
    for field in schema.fields() {
        let name = field.name().as_str();
        if seen.insert(name, ()).is_some() {
            return Err(ErrorKind::Schema { detail: format!("column `{name}` appears twice") });
        }
        if !expected.contains_key(name) {
            let later = columns.iter().find(|c| c.name == name).map(|c| c.since);
            let detail = match later {
                Some(since) => format!(
                    "column `{name}` was added in schema version {since}, but the file says {version}"
                ),
                None => format!("column `{name}` is not part of schema version {version}"),
            };
            return Err(ErrorKind::Schema { detail });
        }
    }
    if let Some((name, since)) = expected.iter().find(|(name, _)| !seen.contains_key(*name)) {
        return Err(ErrorKind::Schema {
            detail: format!("column `{name}` (schema version {since} and later) is missing"),
        });
    }
    Ok(())
}

/// The position of top-level column `name` among the file's leaf columns (what a Parquet
/// `SortingColumn` names).
pub(super) fn leaf_index(fields: &[Field], name: &str) -> Option<i32> {
    fn leaves(t: &DataType) -> usize {
        match t {
            DataType::List(f) | DataType::LargeList(f) | DataType::Map(f, _) => leaves(f.data_type()),
            DataType::Struct(fs) => fs.iter().map(|f| leaves(f.data_type())).sum(),
            _ => 1,
        }
    }
    let at = fields.iter().position(|f| f.name() == name)?;
    i32::try_from(fields[..at].iter().map(|f| leaves(f.data_type())).sum::<usize>()).ok()
}
