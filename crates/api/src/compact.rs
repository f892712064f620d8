//! The fast path of `/model/allocation`: one day's object is scanned by column
//! ([`ampfed_federation::parquet::scan`]) and its rows pre-aggregated (compacted) into one row
//! per group of rows that the query cannot tell apart, before `ampfed_allocation::query` runs
//! over the compacted set. The answer is the full path's (`crate::allocations::answer_day`),
//! within floating-point summation order.
//!
//! A group is every row with the same signature: the values of the fields the request reads
//! (the aggregation properties, the cluster, the node with `idleByNode`, the namespace and
//! labels for shared namespaces and labels, the fields the filter names) and whether the row
//! is unmounted. What the query does with a row is then the same for the whole group and
//! linear in its numbers: costs and hours are summed, request and usage averages summed
//! weighted by minutes (`Allocation::add`'s weights), the span's start and end kept, PVs
//! summed per PV. Idle rows (their names hold `__idle__`) are left out, as the query leaves
//! them out.
//!
//! The compacted rows carry only what the query reads of them: the signature's fields, and,
//! with a filter or an aggregation by labels, annotations or services, a hidden label holding
//! each group's key, by which the query then aggregates (as the filtered full path does). The
//! properties of each answer row, which `Allocation::add` builds by intersecting its members'
//! in name order, are folded here over the raw rows in file (name) order, field by field (on
//! interned ids) as `add` does, and put on the answer after the query.
//!
//! [`compact`] gives up ([`Compacted::Fallback`]) on what it cannot reproduce exactly: no
//! aggregation (one answer row per allocation), a row ending before it starts, a negative CPU,
//! GPU or RAM cost (idle sharing is not linear in it), a key holding `__idle__`, one PV with two
//! provider ids, or a column of an unexpected type; the caller then decodes the object fully.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use ampfed_allocation::{
    generate_key, sanitize, str_eq as eq, Aggregate, Allocation, AllocationSet, Properties, PvAllocation,
    QueryOptions, Window, IDLE, UNMOUNTED,
};
use ampfed_federation::parquet::scan::{Constant, Scan};
use arrow_array::types::Int32Type;
use arrow_array::{
    Array, DictionaryArray, Float64Array, Int64Array, ListArray, MapArray, StringArray, StructArray,
};

use crate::filter::{AllocationSubject, Expr, FieldKind, Filter};

/// The columns the fast path reads: all but the derived ones (`cpu_cores`, efficiencies,
/// `ram_bytes`, `gpu_count`, `pv_bytes`, `pv_byte_hours`, `pv_cost`), which the query
/// recomputes, and `name`, of which only [`MARKS`] are read.
pub const COLUMNS: &[&str] = &[
    "cluster",
    "node",
    "namespace",
    "pod",
    "container",
    "controller_kind",
    "controller",
    "provider_id",
    "start",
    "end",
    "minutes",
    "cpu_core_request_average",
    "cpu_core_usage_average",
    "cpu_core_hours",
    "cpu_cost",
    "gpu_request_average",
    "gpu_usage_average",
    "gpu_hours",
    "gpu_cost",
    "ram_byte_request_average",
    "ram_byte_usage_average",
    "ram_byte_hours",
    "ram_cost",
    "load_balancer_cost",
    "shared_cost",
    "total_cost",
    "services",
    "labels",
    "annotations",
    "namespace_labels",
    "namespace_annotations",
    "pvs",
];

/// What the fast path reads of the names ([`Scan::marked`]): which rows are idle (the query
/// leaves them out) and which unmounted (it tells them by their names).
pub const MARKS: [&str; 2] = [IDLE, UNMOUNTED];

/// The columns the fast path reads as dictionaries (their values repeat, and the writer
/// stores them dictionary-encoded): the string properties but `pod`, which is written plain
/// (nearly one value a row) and would only be built into a dictionary on reading.
pub const DICTIONARY_COLUMNS: &[&str] =
    &["cluster", "node", "namespace", "container", "controller_kind", "controller", "provider_id"];

/// The string properties, in [`STR_COLUMNS`] order.
const CLUSTER: usize = 0;
const NODE: usize = 1;
const NAMESPACE: usize = 2;
const POD: usize = 3;
const CONTAINER: usize = 4;
const KIND: usize = 5;
const CONTROLLER: usize = 6;
const PROVIDER: usize = 7;
const STR_COLUMNS: [&str; 8] =
    ["cluster", "node", "namespace", "pod", "container", "controller_kind", "controller", "provider_id"];
/// Signature fields beyond the strings.
const LABELS: usize = 8;
const ANNOTATIONS: usize = 9;
const SERVICES: usize = 10;
const FIELDS: usize = 11;

/// The averages, weighted by minutes when added, and the sums, in column order.
const AVERAGES: [&str; 6] = [
    "cpu_core_request_average",
    "cpu_core_usage_average",
    "gpu_request_average",
    "gpu_usage_average",
    "ram_byte_request_average",
    "ram_byte_usage_average",
];
const SUMS: [&str; 9] = [
    "cpu_core_hours",
    "cpu_cost",
    "gpu_hours",
    "gpu_cost",
    "ram_byte_hours",
    "ram_cost",
    "load_balancer_cost",
    "shared_cost",
    "total_cost",
];
/// Positions in [`SUMS`] of the costs idle sharing divides.
const COMPUTE_COSTS: [usize; 3] = [1, 3, 5];

/// FxHash: the signatures are small integers, hashed once per row.
#[derive(Default)]
struct Fx(u64);

impl Hasher for Fx {
    fn finish(&self) -> u64 {
        // MurmurHash3's finaliser: the table indexes by the low bits, which a multiply alone
        // leaves poorly mixed.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(word));
        }
        let mut word = [0u8; 8];
        let rest = chunks.remainder();
        word[..rest.len()].copy_from_slice(rest);
        self.write_u64(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;

/// The group of a row the query leaves out (idle).
const SKIP: u32 = u32::MAX;

/// A row of the scan: batch and position in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RowRef {
    b: u32,
    r: u32,
}

/// A string column of one batch: read as a dictionary (the scan asks for one), as plain
/// strings, one value on every row (a constant column), or absent (an older schema
/// version: empty).
#[derive(Clone, Copy)]
enum StrCol<'a> {
    Absent,
    Const(&'a str),
    Plain(&'a StringArray),
    Dict { keys: &'a [i32], values: &'a StringArray },
}

impl<'a> StrCol<'a> {
    fn of(scan: &'a Scan, b: usize, name: &str) -> Result<StrCol<'a>, Unexpected> {
        match scan.constant(name) {
            Some(Constant::Str(s)) => return Ok(StrCol::Const(s)),
            Some(_) => return Err(Unexpected),
            None => {}
        }
        let Some(a) = scan.column(b, name) else { return Ok(StrCol::Absent) };
        if let Some(plain) = a.as_any().downcast_ref::<StringArray>() {
            return Ok(StrCol::Plain(plain));
        }
        let dict = a.as_any().downcast_ref::<DictionaryArray<Int32Type>>().ok_or(Unexpected)?;
        let values = dict.values().as_any().downcast_ref::<StringArray>().ok_or(Unexpected)?;
        let keys = dict.keys().values();
        // Every key in range (a negative one is huge as u32): a reduction without an early
        // exit, which vectorises.
        let largest = keys.iter().fold(0u32, |m, &k| m.max(k as u32));
        if !keys.is_empty() && largest as usize >= values.len() {
            return Err(Unexpected);
        }
        Ok(StrCol::Dict { keys, values })
    }

    fn value(&self, r: usize) -> &'a str {
        match self {
            StrCol::Absent => "",
            StrCol::Const(s) => s,
            StrCol::Plain(a) => a.value(r),
            StrCol::Dict { keys, values } => values.value(keys[r] as usize),
        }
    }

    /// Each row's id in `interner`: a dictionary's values are interned once, and its rows
    /// looked up only when asked for.
    fn ids(&self, interner: &mut Interner) -> IdCol<'a> {
        match self {
            StrCol::Absent => IdCol::Const(0),
            StrCol::Const(s) => IdCol::Const(interner.id(s)),
            StrCol::Plain(a) => IdCol::Rows((0..a.len()).map(|r| interner.id(a.value(r))).collect()),
            StrCol::Dict { keys, values } => {
                let identity = (
                    values.values().as_ptr() as usize,
                    values.value_offsets().as_ptr() as usize,
                    values.len(),
                );
                let lut = match &interner.dictionary {
                    Some((held, lut)) if *held == identity => lut.clone(),
                    _ => {
                        let lut: Vec<u32> = (0..values.len()).map(|i| interner.id(values.value(i))).collect();
                        interner.dictionary = Some((identity, lut.clone()));
                        lut
                    }
                };
                IdCol::Dict { keys, lut }
            }
        }
    }
}

/// The interned ids of a string column's rows.
enum IdCol<'a> {
    /// Not interned (compared as strings).
    None,
    /// One id on every row.
    Const(u32),
    /// Each row's id.
    Rows(Vec<u32>),
    /// A dictionary's keys and the ids of its values (every key checked in range).
    Dict { keys: &'a [i32], lut: Vec<u32> },
}

impl IdCol<'_> {
    #[inline(always)]
    fn at(&self, r: usize) -> u32 {
        match self {
            IdCol::None => 0,
            IdCol::Const(id) => *id,
            IdCol::Rows(ids) => ids[r],
            IdCol::Dict { keys, lut } => lut[keys[r] as usize],
        }
    }
}

/// A number column of one batch: its values, or the one value of every row (a constant
/// column, or 0 for a column the file's version lacks).
#[derive(Clone, Copy)]
enum Num<'a, T> {
    Const(T),
    Values(&'a [T]),
}

impl<T: Copy> Num<'_, T> {
    fn at(&self, r: usize) -> T {
        match self {
            Num::Const(c) => *c,
            Num::Values(v) => v[r],
        }
    }
}

/// One batch's columns, absent ones (an older schema version) reading as defaults.
struct Batch<'a> {
    rows: usize,
    strs: [StrCol<'a>; 8],
    /// The strings' ids, per column; `None` for a column not interned (compared as strings,
    /// and only while a fold still holds a value of it).
    ids: [IdCol<'a>; 8],
    start: Num<'a, i64>,
    end: Num<'a, i64>,
    minutes: Num<'a, f64>,
    averages: [Num<'a, f64>; 6],
    sums: [Num<'a, f64>; 9],
    services: Option<&'a ListArray>,
    labels: Option<&'a MapArray>,
    annotations: Option<&'a MapArray>,
    namespace_labels: Option<&'a MapArray>,
    namespace_annotations: Option<&'a MapArray>,
    pvs: Option<&'a MapArray>,
}

/// A column of an unexpected type: the full decoder says what is wrong.
#[derive(Debug)]
struct Unexpected;

fn typed<'a, A: Array + 'static>(scan: &'a Scan, b: usize, name: &str) -> Result<Option<&'a A>, Unexpected> {
    match scan.column(b, name) {
        None => Ok(None),
        Some(a) => a.as_any().downcast_ref::<A>().map(Some).ok_or(Unexpected),
    }
}

/// A float column: absent reads as 0.
fn float<'a>(scan: &'a Scan, b: usize, name: &str) -> Result<Num<'a, f64>, Unexpected> {
    match scan.constant(name) {
        Some(Constant::F64(x)) => Ok(Num::Const(*x)),
        Some(_) => Err(Unexpected),
        None => {
            Ok(typed::<Float64Array>(scan, b, name)?.map_or(Num::Const(0.0), |a| Num::Values(a.values())))
        }
    }
}

/// A bigint column that every version has.
fn bigint<'a>(scan: &'a Scan, b: usize, name: &str) -> Result<Num<'a, i64>, Unexpected> {
    match scan.constant(name) {
        Some(Constant::I64(x)) => Ok(Num::Const(*x)),
        Some(_) => Err(Unexpected),
        None => Ok(Num::Values(typed::<Int64Array>(scan, b, name)?.ok_or(Unexpected)?.values())),
    }
}

impl<'a> Batch<'a> {
    /// The batch's columns, with the ids of the string columns that are `interned`.
    fn of(
        scan: &'a Scan,
        b: usize,
        interners: &mut [Interner],
        interned: &[bool; 8],
    ) -> Result<Batch<'a>, Unexpected> {
        let rows = scan.batches.get(b).ok_or(Unexpected)?.num_rows();
        let mut strs = [StrCol::Absent; 8];
        for (s, column) in strs.iter_mut().zip(STR_COLUMNS) {
            *s = StrCol::of(scan, b, column)?;
        }
        let ids: [IdCol<'a>; 8] = std::array::from_fn(|i| match interned[i] {
            true => strs[i].ids(&mut interners[i]),
            false => IdCol::None,
        });
        let mut averages = [Num::Const(0.0); 6];
        for (s, name) in averages.iter_mut().zip(AVERAGES) {
            *s = float(scan, b, name)?;
        }
        let mut sums = [Num::Const(0.0); 9];
        for (s, name) in sums.iter_mut().zip(SUMS) {
            *s = float(scan, b, name)?;
        }
        Ok(Batch {
            rows,
            strs,
            ids,
            start: bigint(scan, b, "start")?,
            end: bigint(scan, b, "end")?,
            minutes: float(scan, b, "minutes")?,
            averages,
            sums,
            services: typed::<ListArray>(scan, b, "services")?,
            labels: typed::<MapArray>(scan, b, "labels")?,
            annotations: typed::<MapArray>(scan, b, "annotations")?,
            namespace_labels: typed::<MapArray>(scan, b, "namespace_labels")?,
            namespace_annotations: typed::<MapArray>(scan, b, "namespace_annotations")?,
            pvs: typed::<MapArray>(scan, b, "pvs")?,
        })
    }

    fn str(&self, f: usize, r: usize) -> &'a str {
        self.strs[f].value(r)
    }
}

/// The entries of row `r` of a string map.
fn map_entries(m: Option<&MapArray>, r: usize) -> Result<Vec<(&str, &str)>, Unexpected> {
    let Some(m) = m else { return Ok(Vec::new()) };
    let keys = m.keys().as_any().downcast_ref::<StringArray>().ok_or(Unexpected)?;
    let values = m.values().as_any().downcast_ref::<StringArray>().ok_or(Unexpected)?;
    let offsets = m.value_offsets();
    let (a, b) = (offsets[r] as usize, offsets[r + 1] as usize);
    Ok((a..b).map(|j| (keys.value(j), values.value(j))).collect())
}

fn map_of(m: Option<&MapArray>, r: usize) -> Result<BTreeMap<String, String>, Unexpected> {
    Ok(map_entries(m, r)?.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
}

fn list_of(l: Option<&ListArray>, r: usize) -> Result<Vec<String>, Unexpected> {
    let Some(l) = l else { return Ok(Vec::new()) };
    let items = l.values().as_any().downcast_ref::<StringArray>().ok_or(Unexpected)?;
    let offsets = l.value_offsets();
    let (a, b) = (offsets[r] as usize, offsets[r + 1] as usize);
    Ok((a..b).map(|j| items.value(j).to_owned()).collect())
}

/// Whether row `r` of a map or list column has no entries.
fn is_empty_at(offsets: &[i32], r: usize) -> bool {
    offsets[r] == offsets[r + 1]
}

/// Interned values of one signature field; 0 is the empty value.
struct Interner {
    ids: FxMap<Box<str>, u32>,
    /// The last value seen and its id: runs of equal values (the rows are sorted by name, so
    /// by cluster, node, namespace) skip the hash.
    last: (String, u32),
    /// The last dictionary interned (its buffers and length) and its values' ids: batches of
    /// one column chunk share their dictionary.
    dictionary: Option<((usize, usize, usize), Vec<u32>)>,
}

impl Interner {
    fn new() -> Interner {
        let mut ids = FxMap::default();
        ids.insert(Box::from(""), 0);
        Interner { ids, last: (String::new(), 0), dictionary: None }
    }

    fn id(&mut self, v: &str) -> u32 {
        if eq(v, &self.last.0) {
            return self.last.1;
        }
        let id = match self.ids.get(v) {
            Some(&id) => id,
            None => {
                let id = self.ids.len() as u32;
                self.ids.insert(Box::from(v), id);
                id
            }
        };
        self.last.0.clear();
        self.last.0.push_str(v);
        self.last.1 = id;
        id
    }
}

/// Which signature fields a request reads.
fn signature_fields(opts: &QueryOptions, filter: Option<&Filter>) -> [bool; FIELDS] {
    let mut on = [false; FIELDS];
    on[CLUSTER] = true;
    on[NODE] = opts.idle_by_node;
    if !opts.share_namespaces.is_empty() {
        on[NAMESPACE] = true;
    }
    if !opts.share_labels.is_empty() {
        on[LABELS] = true;
    }
    for agg in &opts.aggregate {
        match agg {
            Aggregate::Cluster => on[CLUSTER] = true,
            Aggregate::Node => on[NODE] = true,
            Aggregate::Namespace => on[NAMESPACE] = true,
            Aggregate::Pod => on[POD] = true,
            Aggregate::Container => on[CONTAINER] = true,
            Aggregate::ProviderId => on[PROVIDER] = true,
            Aggregate::ControllerKind => on[KIND] = true,
            Aggregate::Controller
            | Aggregate::Deployment
            | Aggregate::StatefulSet
            | Aggregate::DaemonSet
            | Aggregate::Job => {
                on[KIND] = true;
                on[CONTROLLER] = true;
            }
            Aggregate::Service => {
                on[SERVICES] = true;
                on[POD] = true;
                on[NAMESPACE] = true;
                on[CONTAINER] = true;
            }
            Aggregate::Label(_) => on[LABELS] = true,
            Aggregate::Annotation(_) => on[ANNOTATIONS] = true,
            Aggregate::Alias(_) => {
                on[LABELS] = true;
                on[ANNOTATIONS] = true;
            }
        }
    }
    fn walk(e: &Expr, on: &mut [bool; FIELDS]) {
        match e {
            Expr::All(xs) | Expr::Any(xs) => xs.iter().for_each(|x| walk(x, on)),
            Expr::Compare(c) => match (c.kind, c.field.as_str()) {
                (FieldKind::Map, "label") => on[LABELS] = true,
                (FieldKind::Map, "annotation") => on[ANNOTATIONS] = true,
                (FieldKind::List, "services") => on[SERVICES] = true,
                (_, "cluster") => on[CLUSTER] = true,
                (_, "node") => on[NODE] = true,
                (_, "namespace") => on[NAMESPACE] = true,
                (_, "controllerName") => on[CONTROLLER] = true,
                (_, "controllerKind") => on[KIND] = true,
                (_, "container") => on[CONTAINER] = true,
                (_, "pod") => on[POD] = true,
                (_, "provider") => on[PROVIDER] = true,
                (_, "department" | "environment" | "owner" | "product" | "team") => {
                    on[LABELS] = true;
                    on[ANNOTATIONS] = true;
                }
                // Anything else reads as empty on every allocation.
                _ => {}
            },
        }
    }
    if let Some(e) = filter.and_then(|f| f.expr.as_ref()) {
        walk(e, &mut on);
    }
    on
}

/// The running intersection of one answer row's properties, as `Allocation::add` builds it:
/// each string a row whose value every member so far shares (`None`: the empty string), the
/// maps and services of the only member (dropped once there are two), the namespace labels
/// and annotations of the row `Properties::intersection` takes them from.
#[derive(Clone, Debug, Default)]
struct Fold {
    count: usize,
    strs: [Option<RowRef>; 8],
    /// Bit `i` set when `strs[i]` holds a row.
    held: u8,
    /// The ids of `strs` (0 for `None`).
    ids: [u32; 8],
    only: Option<RowRef>,
    namespace_meta: Option<RowRef>,
}

/// One group's sums.
#[derive(Clone, Debug)]
struct Group {
    key: usize,
    first: RowRef,
    count: usize,
    start: i64,
    end: i64,
    first_minutes: f64,
    first_averages: [f64; 6],
    weighted: [f64; 6],
    sums: [f64; 9],
    pvs: BTreeMap<String, PvAllocation>,
    shared: bool,
    kept: bool,
    unmounted: bool,
}

/// A day compacted for the query.
pub enum Compacted {
    /// The compacted set, whether each row passes the filter, and each answer row's properties
    /// by key. When `marked`, each row is labelled with its key by `key_label` (`filtered` for
    /// what the filter drops) and the query aggregates by that label; otherwise (no filter, an
    /// aggregation by string properties only) the rows hold the properties their key is made
    /// of and the query aggregates as asked.
    Set { set: AllocationSet, kept: Vec<bool>, properties: BTreeMap<String, Properties>, marked: bool },
    /// What the fast path cannot answer exactly: decode the object fully.
    Fallback(&'static str),
}

struct Day<'a> {
    batches: Vec<Batch<'a>>,
    /// Which string columns have ids (the signature's, and the cheap ones); the others are
    /// compared as strings.
    interned: [bool; 8],
    /// The id of `__unmounted__` among the containers, when interned and present.
    unmounted_container: Option<u32>,
}

impl Day<'_> {
    fn str(&self, at: RowRef, f: usize) -> &str {
        self.batches[at.b as usize].str(f, at.r as usize)
    }

    fn properties(&self, at: RowRef, on: &[bool; FIELDS]) -> Result<Properties, Unexpected> {
        let b = &self.batches[at.b as usize];
        let r = at.r as usize;
        Ok(Properties {
            services: if on[SERVICES] { list_of(b.services, r)? } else { Vec::new() },
            labels: if on[LABELS] { map_of(b.labels, r)? } else { BTreeMap::new() },
            annotations: if on[ANNOTATIONS] { map_of(b.annotations, r)? } else { BTreeMap::new() },
            ..string_properties(|f| if on[f] { b.str(f, r).to_owned() } else { String::new() })
        })
    }

    fn folded(&self, f: &Fold) -> Result<Properties, Unexpected> {
        let mut p = string_properties(|i| f.strs[i].map_or(String::new(), |at| self.str(at, i).to_owned()));
        if let Some(at) = f.only {
            let b = &self.batches[at.b as usize];
            let r = at.r as usize;
            p.services = list_of(b.services, r)?;
            p.labels = map_of(b.labels, r)?;
            p.annotations = map_of(b.annotations, r)?;
        }
        if let Some(at) = f.namespace_meta {
            let b = &self.batches[at.b as usize];
            p.namespace_labels = map_of(b.namespace_labels, at.r as usize)?;
            p.namespace_annotations = map_of(b.namespace_annotations, at.r as usize)?;
        }
        Ok(p)
    }

    /// Whether row `at` (ids `row`) has the value of field `i` the fold holds.
    #[inline(always)]
    fn same(&self, f: &Fold, at: RowRef, i: usize, row: &impl Fn(usize) -> u32) -> bool {
        if self.interned[i] {
            return f.ids[i] == row(i);
        }
        match f.strs[i] {
            None => self.str(at, i).is_empty(),
            Some(h) => eq(self.str(h, i), self.str(at, i)),
        }
    }

    /// Adds raw row `at`, whose string ids are `row`, into the fold, as `Allocation::add` adds
    /// its properties.
    fn fold(&self, f: &mut Fold, at: RowRef, row: impl Fn(usize) -> u32) {
        f.count += 1;
        if f.count == 1 {
            f.strs = [Some(at); 8];
            f.held = u8::MAX;
            f.ids = std::array::from_fn(&row);
            f.only = Some(at);
            f.namespace_meta = Some(at);
            return;
        }
        // Whether the row has the value the fold holds (none: the empty string, what an
        // intersection leaves of values that differ): by id for an interned column, by string
        // otherwise; asked only where needed, since a field the fold no longer holds stays so
        // whatever the row's value.
        let same = |i: usize| self.same(f, at, i, &row);
        // `&&` and a loop over the held fields' bits: this runs for every row.
        let same_key = same(CLUSTER) && same(NODE) && same(NAMESPACE) && same(POD) && same(CONTAINER);
        let mut clear = 0u8;
        let mut bits = f.held;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if !self.same(f, at, i, &row) {
                clear |= 1 << i;
            }
        }
        let controller = (same_key && !same(CONTROLLER)).then(|| {
            let (l, r) =
                (f.strs[CONTROLLER].map_or("", |h| self.str(h, CONTROLLER)), self.str(at, CONTROLLER));
            if l.is_empty() || (!r.is_empty() && r < l) {
                (Some(at), row(CONTROLLER))
            } else {
                (f.strs[CONTROLLER], f.ids[CONTROLLER])
            }
        });
        // The namespace metadata: from the accumulated side unless its container is
        // unmounted, kept only when both have the same namespace.
        let same_namespace = same(NAMESPACE);
        let unmounted = match (self.interned[CONTAINER], f.strs[CONTAINER]) {
            (_, None) => false,
            (true, Some(_)) => Some(f.ids[CONTAINER]) == self.unmounted_container,
            (false, Some(h)) => self.str(h, CONTAINER) == UNMOUNTED,
        };
        let source = if unmounted { Some(at) } else { f.namespace_meta };
        f.namespace_meta = if same_namespace { source } else { None };
        let mut bits = clear;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            f.strs[i] = None;
            f.ids[i] = 0;
        }
        f.held &= !clear;
        if let Some((c, id)) = controller {
            f.strs[CONTROLLER] = c;
            f.ids[CONTROLLER] = id;
            match c {
                Some(_) => f.held |= 1 << CONTROLLER,
                None => f.held &= !(1 << CONTROLLER),
            }
        }
        f.only = None;
    }
}

/// Properties holding only the string properties, `value` of each [`STR_COLUMNS`] position.
fn string_properties(value: impl Fn(usize) -> String) -> Properties {
    Properties {
        cluster: value(CLUSTER),
        node: value(NODE),
        namespace: value(NAMESPACE),
        pod: value(POD),
        container: value(CONTAINER),
        controller_kind: value(KIND),
        controller: value(CONTROLLER),
        provider_id: value(PROVIDER),
        ..Properties::default()
    }
}

/// Whether `p` is shared, as `ampfed_allocation::query` partitions.
fn is_shared(opts: &QueryOptions, share_labels: &[(String, String)], p: &Properties) -> bool {
    opts.share_namespaces.iter().any(|n| n.trim() == p.namespace)
        || share_labels.iter().any(|(k, v)| p.labels.get(k) == Some(v))
}

/// Compacts one scanned day for `opts` and `filter`; the compacted rows carry their key in
/// the label `key_label` (`filtered` for those the filter drops).
pub fn compact(
    scan: &Scan,
    opts: &QueryOptions,
    filter: Option<&Filter>,
    key_label: &str,
    filtered: &str,
) -> Compacted {
    match compact_checked(scan, opts, filter, key_label, filtered) {
        Ok(c) => c,
        Err(Unexpected) => Compacted::Fallback("a column of an unexpected type"),
    }
}

fn compact_checked(
    scan: &Scan,
    opts: &QueryOptions,
    filter: Option<&Filter>,
    key_label: &str,
    filtered: &str,
) -> Result<Compacted, Unexpected> {
    if opts.aggregate.is_empty() {
        return Ok(Compacted::Fallback("no aggregation: one answer row per allocation"));
    }
    let on = signature_fields(opts, filter);
    // The signature's columns have ids, and so do those whose ids cost next to nothing (a
    // dictionary's values are interned once, a constant's or an absent column's value once):
    // the fold compares those by id. Only a plain column outside the signature (`pod`) is
    // compared as strings, and only while a fold still holds a value of it.
    let cheap = |i: usize| {
        let name = STR_COLUMNS[i];
        scan.constant(name).is_some()
            || scan.column(0, name).is_none_or(|a| a.as_any().is::<DictionaryArray<Int32Type>>())
    };
    let interned: [bool; 8] = std::array::from_fn(|i| on[i] || cheap(i));
    let mut interners: Vec<Interner> = (0..FIELDS).map(|_| Interner::new()).collect();
    let batches = (0..scan.batches.len())
        .map(|b| Batch::of(scan, b, &mut interners, &interned))
        .collect::<Result<_, _>>()?;
    let unmounted_container = interners[CONTAINER].ids.get(UNMOUNTED).copied();
    let day = Day { batches, interned, unmounted_container };
    let direct = filter.is_none()
        && opts.aggregate.iter().all(|a| {
            matches!(
                a,
                Aggregate::Cluster
                    | Aggregate::Node
                    | Aggregate::Namespace
                    | Aggregate::Pod
                    | Aggregate::Container
                    | Aggregate::ProviderId
                    | Aggregate::ControllerKind
                    | Aggregate::Controller
                    | Aggregate::Deployment
                    | Aggregate::StatefulSet
                    | Aggregate::DaemonSet
                    | Aggregate::Job
            )
        });
    let share_labels: Vec<(String, String)> =
        opts.share_labels.iter().map(|(k, v)| (sanitize(k.trim()), v.trim().to_owned())).collect();
    let fields: Vec<usize> = (0..FIELDS).filter(|&f| on[f]).collect();
    // Signatures of at most three string ids (and the unmounted flag) are packed straight
    // from the id columns: no slice built or compared per row.
    let packable = fields.len() <= 3 && fields.iter().all(|&f| f < LABELS);
    let mut groups_by_sig: FxMap<Vec<u32>, usize> = FxMap::default();
    let mut packed_groups: FxMap<u128, usize> = FxMap::default();
    let (mut last_packed, mut last_group): (Option<(u128, usize)>, usize) = (None, 0);
    let mut groups: Vec<Group> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    let mut key_ids: FxMap<String, usize> = FxMap::default();
    let mut folds: Vec<Fold> = Vec::new();
    let mut pv_providers: FxMap<String, String> = FxMap::default();
    let mut sig: Vec<u32> = Vec::with_capacity(fields.len() + 1);
    let mut text = String::new();
    // Each row's group, [`SKIP`] for the idle rows the query leaves out; each group's rows
    // in the batch, and the groups the batch has rows of.
    let mut of_row: Vec<u32> = Vec::new();
    let mut in_batch: Vec<u32> = Vec::new();
    let mut touched: Vec<usize> = Vec::new();

    let mut first_row = 0usize;
    for (bi, b) in day.batches.iter().enumerate() {
        let n = b.rows;
        let services_offsets = b.services.map(|l| l.value_offsets());
        let labels_offsets = b.labels.map(|m| m.value_offsets());
        let annotations_offsets = b.annotations.map(|m| m.value_offsets());
        // The batch's idle and unmounted rows (`None`: none), from the rows the scan found
        // marked (in file order).
        let flags = |marked: &[u32]| {
            let at = marked.partition_point(|&r| (r as usize) < first_row);
            let rows: Vec<usize> =
                marked[at..].iter().map(|&r| r as usize - first_row).take_while(|&r| r < n).collect();
            (!rows.is_empty()).then(|| {
                let mut flags = vec![false; n];
                rows.into_iter().for_each(|r| flags[r] = true);
                flags
            })
        };
        let (idle_flags, unmounted_flags) = match scan.marked.as_slice() {
            [idle, unmounted] => (flags(idle), flags(unmounted)),
            _ => return Err(Unexpected),
        };
        let idle_rows = idle_flags.as_deref();
        let idle = |r: usize| idle_rows.is_some_and(|idle| idle[r]);
        // What the fast path cannot reproduce, checked column by column over the rows kept.
        let ends_before = match (b.start, b.end) {
            (Num::Const(s), Num::Const(e)) => e <= s && any_kept(n, idle_rows, |_| true),
            (start, end) => any_kept(n, idle_rows, |r| end.at(r) <= start.at(r)),
        };
        if ends_before {
            return Ok(Compacted::Fallback("an allocation ends before it starts"));
        }
        let negative = COMPUTE_COSTS.iter().any(|&i| match b.sums[i] {
            Num::Const(c) => c < 0.0 && any_kept(n, idle_rows, |_| true),
            Num::Values(v) => any_kept(n, idle_rows, |r| v[r] < 0.0),
        });
        if negative {
            return Ok(Compacted::Fallback("a negative CPU, GPU or RAM cost"));
        }

        of_row.clear();
        of_row.reserve(n);
        for r in 0..n {
            if idle(r) {
                of_row.push(SKIP);
                continue;
            }
            let unmounted = unmounted_flags.as_ref().is_some_and(|flags| flags[r]);
            let at = RowRef { b: bi as u32, r: r as u32 };
            let packed = if packable {
                Some(
                    fields.iter().fold(u128::from(unmounted), |p, &f| (p << 32) | u128::from(b.ids[f].at(r))),
                )
            } else {
                sig.clear();
                sig.push(u32::from(unmounted));
                for &f in &fields {
                    let id = match f {
                        LABELS | ANNOTATIONS | SERVICES => {
                            let (offsets, empty) = match f {
                                LABELS => (labels_offsets, b.labels.is_none()),
                                ANNOTATIONS => (annotations_offsets, b.annotations.is_none()),
                                _ => (services_offsets, b.services.is_none()),
                            };
                            if empty || offsets.is_some_and(|o| is_empty_at(o, r)) {
                                0
                            } else {
                                text.clear();
                                if f == SERVICES {
                                    for s in list_of(b.services, r)? {
                                        text.push_str(&s);
                                        text.push('\0');
                                    }
                                } else {
                                    let m = if f == LABELS { b.labels } else { b.annotations };
                                    for (k, v) in map_entries(m, r)? {
                                        text.push_str(k);
                                        text.push('\0');
                                        text.push_str(v);
                                        text.push('\0');
                                    }
                                }
                                interners[f].id(&text)
                            }
                        }
                        f => b.ids[f].at(r),
                    };
                    sig.push(id);
                }
                (sig.len() <= 4).then(|| sig.iter().fold(0u128, |p, &x| (p << 32) | u128::from(x)))
            };
            // Rows come sorted by cluster, node, namespace: the previous row's group is often
            // this one's.
            let found = match packed {
                Some(p) if last_packed == Some((p, last_group)) => Some(last_group),
                Some(p) => packed_groups.get(&p).copied(),
                None => groups_by_sig.get(sig.as_slice()).copied(),
            };
            let g = match found {
                Some(g) => g,
                None => {
                    let p = day.properties(at, &on)?;
                    let key = generate_key(&p, &opts.aggregate, &opts.label_config);
                    if key.contains(IDLE) {
                        return Ok(Compacted::Fallback("an aggregation key holds __idle__"));
                    }
                    let shared = is_shared(opts, &share_labels, &p);
                    let kept = filter.is_none_or(|f| {
                        let a = Allocation { properties: p, ..Allocation::default() };
                        f.matches(&AllocationSubject { allocation: &a, labels: &opts.label_config })
                    });
                    let k = match key_ids.get(&key) {
                        Some(&k) => k,
                        None => {
                            key_ids.insert(key.clone(), keys.len());
                            keys.push(key);
                            folds.push(Fold::default());
                            keys.len() - 1
                        }
                    };
                    match packed {
                        Some(p) => packed_groups.insert(p, groups.len()),
                        None => groups_by_sig.insert(sig.clone(), groups.len()),
                    };
                    groups.push(Group {
                        key: k,
                        first: at,
                        count: 0,
                        start: b.start.at(r),
                        end: b.end.at(r),
                        first_minutes: b.minutes.at(r),
                        first_averages: b.averages.map(|a| a.at(r)),
                        weighted: [0.0; 6],
                        sums: [0.0; 9],
                        pvs: BTreeMap::new(),
                        shared,
                        kept,
                        unmounted,
                    });
                    groups.len() - 1
                }
            };
            last_group = g;
            last_packed = packed.map(|p| (p, g));
            of_row.push(g as u32);
            if g == in_batch.len() {
                in_batch.push(0);
            }
            if in_batch[g] == 0 {
                touched.push(g);
            }
            in_batch[g] += 1;
            let group = &mut groups[g];
            group.count += 1;
            if let Some(m) = b.pvs.filter(|m| !is_empty_at(m.value_offsets(), r)) {
                if add_pvs(m, r, &mut group.pvs, &mut pv_providers)? {
                    return Ok(Compacted::Fallback("one PV with two provider ids"));
                }
            }
            if !group.shared && group.kept {
                let k = group.key;
                day.fold(&mut folds[k], at, |i| b.ids[i].at(r));
            }
        }

        // The numbers, column by column: each group's in row order, as `Allocation::add`
        // adds them; a constant once a group, times the group's rows in the batch (one
        // rounding where the rows' sum has one each). A zero adds nothing to a sum that
        // starts at +0 (nor makes it -0).
        let rows_of = || of_row.iter().enumerate().filter(|(_, &g)| g != SKIP).map(|(r, &g)| (r, g as usize));
        let times = |g: usize| f64::from(in_batch[g]);
        for (i, column) in b.sums.iter().enumerate() {
            match *column {
                Num::Const(0.0) => {}
                Num::Const(c) => touched.iter().for_each(|&g| groups[g].sums[i] += c * times(g)),
                Num::Values(v) => rows_of().for_each(|(r, g)| groups[g].sums[i] += v[r]),
            }
        }
        for (i, column) in b.averages.iter().enumerate() {
            match (*column, b.minutes) {
                (Num::Const(0.0), _) => {}
                (Num::Const(c), Num::Const(m)) => {
                    touched.iter().for_each(|&g| groups[g].weighted[i] += c * m * times(g))
                }
                (average, minutes) => {
                    rows_of().for_each(|(r, g)| groups[g].weighted[i] += average.at(r) * minutes.at(r))
                }
            }
        }
        // A constant start or end is the one each group took from its first row.
        if let Num::Values(v) = b.start {
            rows_of().for_each(|(r, g)| groups[g].start = groups[g].start.min(v[r]));
        }
        if let Num::Values(v) = b.end {
            rows_of().for_each(|(r, g)| groups[g].end = groups[g].end.max(v[r]));
        }
        for g in touched.drain(..) {
            in_batch[g] = 0;
        }
        first_row += n;
    }

    let mut rows = Vec::with_capacity(groups.len());
    let mut kept = Vec::with_capacity(groups.len());
    for g in groups {
        let first = g.first;
        let bt = &day.batches[first.b as usize];
        let r = first.r as usize;
        let mut labels = BTreeMap::new();
        for (k, _) in &share_labels {
            if let Some(l) = bt.labels {
                if let Some((_, v)) = map_entries(Some(l), r)?.into_iter().find(|(key, _)| key == k) {
                    labels.insert(k.clone(), v.to_owned());
                }
            }
        }
        if !direct {
            let key = if g.kept { keys[g.key].clone() } else { filtered.to_owned() };
            labels.insert(key_label.to_owned(), key);
        }
        // Only what the query reads (the answer's properties are the fold's): the fields of
        // the signature, which the group's rows share.
        let field = |f: usize| if on[f] { bt.str(f, r).to_owned() } else { String::new() };
        let (minutes, averages) = if g.count == 1 {
            (g.first_minutes, g.first_averages)
        } else {
            let minutes = Window { start: g.start, end: g.end }.duration_secs() as f64 / 60.0;
            let avg = |w: f64| if minutes > 0.0 { w / minutes } else { 0.0 };
            (minutes, g.weighted.map(avg))
        };
        let s = g.sums;
        rows.push(Allocation {
            // The query tells unmounted rows by their names; no other name is read.
            name: if g.unmounted { UNMOUNTED.to_owned() } else { String::new() },
            properties: Properties {
                cluster: field(CLUSTER),
                node: field(NODE),
                namespace: field(NAMESPACE),
                pod: field(POD),
                container: field(CONTAINER),
                controller_kind: field(KIND),
                controller: field(CONTROLLER),
                provider_id: field(PROVIDER),
                labels,
                ..Properties::default()
            },
            start: g.start,
            end: g.end,
            minutes,
            cpu_core_request_average: averages[0],
            cpu_core_usage_average: averages[1],
            gpu_request_average: averages[2],
            gpu_usage_average: averages[3],
            ram_byte_request_average: averages[4],
            ram_byte_usage_average: averages[5],
            cpu_core_hours: s[0],
            cpu_cost: s[1],
            gpu_hours: s[2],
            gpu_cost: s[3],
            ram_byte_hours: s[4],
            ram_cost: s[5],
            load_balancer_cost: s[6],
            shared_cost: s[7],
            total_cost: s[8],
            pvs: g.pvs,
            ..Allocation::default()
        });
        kept.push(g.kept);
    }
    let mut properties = BTreeMap::new();
    for (key, fold) in keys.into_iter().zip(&folds) {
        if fold.count > 0 {
            properties.insert(key, day.folded(fold)?);
        }
    }
    // The rows are in the order of their groups' first rows (the file's name order); their
    // names are blank (or `__unmounted__`): the query keys them by their properties or label.
    let set = AllocationSet { clusters: scan.clusters.clone(), window: scan.window, allocations: rows };
    Ok(Compacted::Set { set, kept, properties, marked: !direct })
}

/// Whether `test` holds for any of the `n` rows but the `idle` ones.
fn any_kept(n: usize, idle: Option<&[bool]>, test: impl Fn(usize) -> bool) -> bool {
    match idle {
        None => (0..n).any(test),
        Some(idle) => (0..n).any(|r| !idle[r] && test(r)),
    }
}

/// Adds row `r`'s PVs into `into`, as `Allocation::add` does; true when a PV has shown two
/// different non-empty provider ids (`providers` holds the first of each PV).
fn add_pvs(
    m: &MapArray,
    r: usize,
    into: &mut BTreeMap<String, PvAllocation>,
    providers: &mut FxMap<String, String>,
) -> Result<bool, Unexpected> {
    let mut conflict = false;
    let keys = m.keys().as_any().downcast_ref::<StringArray>().ok_or(Unexpected)?;
    let pvs = m.values().as_any().downcast_ref::<StructArray>().ok_or(Unexpected)?;
    let field = |name: &str| pvs.column_by_name(name).ok_or(Unexpected);
    let byte_hours = field("byte_hours")?.as_any().downcast_ref::<Float64Array>().ok_or(Unexpected)?;
    let cost = field("cost")?.as_any().downcast_ref::<Float64Array>().ok_or(Unexpected)?;
    let provider = field("provider_id")?.as_any().downcast_ref::<StringArray>().ok_or(Unexpected)?;
    let offsets = m.value_offsets();
    for j in offsets[r] as usize..offsets[r + 1] as usize {
        let key = keys.value(j);
        let id = provider.value(j);
        if !id.is_empty() {
            match providers.get(key) {
                Some(held) if held != id => conflict = true,
                Some(_) => {}
                None => {
                    providers.insert(key.to_owned(), id.to_owned());
                }
            }
        }
        let mine = into.entry(key.to_owned()).or_default();
        mine.byte_hours += byte_hours.value(j);
        mine.cost += cost.value(j);
        if mine.provider_id.is_empty() {
            mine.provider_id = id.to_owned();
        }
    }
    Ok(conflict)
}
