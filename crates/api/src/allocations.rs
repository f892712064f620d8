//! `/model/allocation`'s engine: for each step, day by day, read the day's combined set (and
//! its assets when idle or tenancy costs are wanted), answer `ampfed_allocation::query` over
//! it, drop the day and merge its per-key rows into the step ([`crate::collect`]). Memory is
//! bounded by one day's rows plus the keys of the answer, never rows × days.
//!
//! A step longer than a day is the sum of its days' answers (idle and sharing computed per
//! day), not one computation over the step as OpenCost's.
//!
//! The filter follows OpenCost's `AggregateBy`: it applies to the raw allocations, but
//! coefficients are computed over all of them, so
//! - shared costs (shared namespaces and labels, tenancy) that would go to filtered-out
//!   allocations go to a `__filtered__` bin that is dropped;
//! - idle that is shared goes to filtered-out allocations likewise and is dropped;
//! - idle that is not shared is scaled, per cluster (or node) and resource, by the filtered-in
//!   allocations' share of the allocated cost; idle of a cluster (or node) none of whose
//!   allocations pass is dropped.
//!
//! This is done with one `query` call: each allocation's key is computed first and stored in
//! a hidden label (`__filtered__` for those the filter drops), the query aggregates by that
//! label with idle split, and the hidden label, the bin and the idle scaling are handled after.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use ampfed_allocation::{
    generate_key, query, Aggregate, Allocation, AllocationSet, AssetSet, QueryOptions, Window, IDLE,
};

use ampfed_allocation::Properties;
use ampfed_federation::parquet::scan::{scan_allocations_marking, Scan};
use ampfed_federation::parquet::Limits;
use ampfed_federation::{store, FederationError};
use bytes::Bytes;

use crate::cache::{self, DayAnswer, DayCache, DayKey};
use crate::collect::{Collector, Sets, Stats};
use crate::compact::{self, Compacted};
use crate::error::{ApiError, SourceError};
use crate::filter::{AllocationSubject, Filter};
use crate::params::AllocationRequest;
use crate::source::{DayObject, EtlSource, Versioned};

/// The hidden label holding each allocation's key while a filtered query runs.
const KEY_LABEL: &str = "__ampfed_key__";
/// The key of what the filter drops.
const FILTERED: &str = "__filtered__";

/// Allocated CPU, GPU and RAM cost of one idle key: all, and the filtered-in part.
#[derive(Clone, Copy, Debug, Default)]
struct Shares {
    all: [f64; 3],
    kept: [f64; 3],
    any_kept: bool,
}

impl Shares {
    /// Counts `a`'s allocated costs, as kept by the filter or not.
    fn add(&mut self, a: &Allocation, kept: bool) {
        for (r, c) in [a.cpu_cost, a.gpu_cost, a.ram_cost].into_iter().enumerate() {
            self.all[r] += c;
            if kept {
                self.kept[r] += c;
            }
        }
        self.any_kept |= kept;
    }

    fn coefficient(&self, r: usize) -> f64 {
        if self.all[r] != 0.0 {
            self.kept[r] / self.all[r]
        } else if self.any_kept {
            1.0
        } else {
            0.0
        }
    }
}

fn idle_key(opts: &QueryOptions, a: &Allocation) -> String {
    if opts.idle_by_node {
        format!("{}/{}", a.properties.cluster, a.properties.node)
    } else {
        a.properties.cluster.clone()
    }
}

fn scale_idle(a: &mut Allocation, s: &Shares) {
    let [cpu, gpu, ram] = [s.coefficient(0), s.coefficient(1), s.coefficient(2)];
    a.cpu_cost *= cpu;
    a.cpu_core_hours *= cpu;
    a.gpu_cost *= gpu;
    a.gpu_hours *= gpu;
    a.ram_cost *= ram;
    a.ram_byte_hours *= ram;
    a.recompute();
}

/// One day's answer, by key.
pub fn answer_day(
    mut set: AllocationSet,
    assets: Option<&AssetSet>,
    opts: &QueryOptions,
    filter: Option<&Filter>,
) -> Result<BTreeMap<String, Allocation>, ApiError> {
    let data = |e: ampfed_allocation::QueryError| ApiError::Data(e.to_string());
    let Some(filter) = filter else {
        let rows = query(&set, assets, opts).map_err(data)?;
        return Ok(rows.into_iter().map(|a| (a.name.clone(), a)).collect());
    };

    let mut shares: BTreeMap<String, Shares> = BTreeMap::new();
    for a in set.allocations.iter_mut() {
        if a.is_idle() {
            continue;
        }
        let kept = filter.matches(&AllocationSubject { allocation: a, labels: &opts.label_config });
        if !a.is_unmounted() {
            shares.entry(idle_key(opts, a)).or_default().add(a, kept);
        }
        let key = if !kept {
            FILTERED.to_owned()
        } else if opts.aggregate.is_empty() {
            a.name.clone()
        } else {
            generate_key(&a.properties, &opts.aggregate, &opts.label_config)
        };
        a.properties.labels.insert(KEY_LABEL.to_owned(), key);
    }
    finish_filtered(&set, shares, assets, opts, filter)
}

/// The filtered day's answer from its rows marked with their keys (`KEY_LABEL`, `FILTERED`
/// for what the filter drops) and the allocated cost per idle key (`shares`).
fn finish_filtered(
    set: &AllocationSet,
    shares: BTreeMap<String, Shares>,
    assets: Option<&AssetSet>,
    opts: &QueryOptions,
    filter: &Filter,
) -> Result<BTreeMap<String, Allocation>, ApiError> {
    let data = |e: ampfed_allocation::QueryError| ApiError::Data(e.to_string());
    let mut marked = opts.clone();
    marked.aggregate = vec![Aggregate::Label(KEY_LABEL.to_owned())];
    marked.split_idle = true;
    let rows = query(set, assets, &marked).map_err(data)?;
    let mut out = BTreeMap::new();
    let mut idle: Option<Allocation> = None;
    for mut a in rows {
        if a.name == FILTERED {
            continue;
        }
        a.properties.labels.remove(KEY_LABEL);
        if !a.is_idle() {
            out.insert(a.name.clone(), a);
            continue;
        }
        if opts.share_idle {
            // Idle of a resource nobody used: kept if the idle entry itself passes.
            if !filter.matches(&AllocationSubject { allocation: &a, labels: &opts.label_config }) {
                continue;
            }
        } else {
            let id = a.name.strip_suffix(&format!("/{IDLE}")).unwrap_or(&a.name).to_owned();
            let s = shares.get(&id).copied().unwrap_or_default();
            if !s.any_kept {
                continue;
            }
            scale_idle(&mut a, &s);
        }
        if opts.split_idle {
            out.insert(a.name.clone(), a);
        } else {
            match idle.as_mut() {
                Some(m) => m.add(&a),
                None => idle = Some(a),
            }
        }
    }
    if let Some(mut m) = idle {
        m.name = IDLE.to_owned();
        m.recompute();
        out.insert(IDLE.to_owned(), m);
    }
    Ok(out)
}

/// A day's compacted rows ([`crate::compact`]) answered as [`answer_day`] answers the day's
/// raw rows: the query over the rows marked with their keys, then each answer row given the
/// properties its raw members would have given it.
fn answer_compacted(
    set: AllocationSet,
    kept: Vec<bool>,
    properties: BTreeMap<String, Properties>,
    marked: bool,
    assets: Option<&AssetSet>,
    opts: &QueryOptions,
    filter: Option<&Filter>,
) -> Result<BTreeMap<String, Allocation>, ApiError> {
    let data = |e: ampfed_allocation::QueryError| ApiError::Data(e.to_string());
    let mut out = match filter {
        None => {
            let rows = if marked {
                let mut by_label = opts.clone();
                by_label.aggregate = vec![Aggregate::Label(KEY_LABEL.to_owned())];
                query(&set, assets, &by_label)
            } else {
                query(&set, assets, opts)
            };
            rows.map_err(data)?.into_iter().map(|a| (a.name.clone(), a)).collect()
        }
        Some(filter) => {
            let mut shares: BTreeMap<String, Shares> = BTreeMap::new();
            for (a, &kept) in set.allocations.iter().zip(&kept) {
                if !a.is_unmounted() {
                    shares.entry(idle_key(opts, a)).or_default().add(a, kept);
                }
            }
            finish_filtered(&set, shares, assets, opts, filter)?
        }
    };
    for (name, a) in out.iter_mut() {
        if let Some(p) = properties.get(name) {
            if !a.is_idle() {
                a.properties = p.clone();
            }
        }
    }
    Ok(out)
}

/// Which engine answers: [`Engine::Fast`] (column scans and compaction, falling back to the
/// full path where it cannot answer exactly) or [`Engine::Full`] (every row decoded and
/// queried: the reference).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Engine {
    #[default]
    Fast,
    Full,
}

/// A day as read: scanned by column, or decoded whole.
enum Read {
    Scanned(Scan),
    Decoded(AllocationSet),
}

fn decode_whole(key: &str, bytes: &[u8], day: Window) -> Result<AllocationSet, ApiError> {
    let set = ampfed_federation::parquet::decode_allocations(key, bytes)
        .map_err(|e| SourceError::from(FederationError::from(e)))?
        .set;
    if set.window != day {
        return Err(SourceError::WrongWindow { key: key.to_owned(), expected: day, found: set.window }.into());
    }
    Ok(set)
}

/// Reads one day's object: a scan of the columns the fast path needs, or, for what a scan
/// does not read (the first format's JSON) or refuses (the full decoder then says why), the
/// whole set. The scan verifies the object's checksum; the body is checked against its
/// `etag` only when the scan cannot vouch for it: a body damaged on the way is a transient
/// error, not a corrupt object.
fn read_object(key: &str, bytes: Bytes, etag: Option<&str>, day: Window) -> Result<Read, ApiError> {
    match scan_allocations_marking(
        key,
        bytes.clone(),
        compact::COLUMNS,
        compact::DICTIONARY_COLUMNS,
        &compact::MARKS,
        &Limits::default(),
    ) {
        Ok(Some(scan)) if scan.window == day => Ok(Read::Scanned(scan)),
        Ok(Some(scan)) => {
            Err(SourceError::WrongWindow { key: key.to_owned(), expected: day, found: scan.window }.into())
        }
        Ok(None) | Err(_) => {
            if let Some(etag) = etag.filter(|etag| store::damaged_in_transit(&bytes, etag)) {
                return Err(SourceError::from(store::damaged(key, bytes.len(), etag)).into());
            }
            decode_whole(key, &bytes, day).map(Read::Decoded)
        }
    }
}

/// One day's answer by the fast path; the rows read.
fn answer_read(
    read: Read,
    key: &str,
    bytes: &Bytes,
    day: Window,
    assets: Option<&AssetSet>,
    opts: &QueryOptions,
    filter: Option<&Filter>,
) -> Result<(usize, BTreeMap<String, Allocation>), ApiError> {
    match read {
        Read::Decoded(set) => Ok((set.allocations.len(), answer_day(set, assets, opts, filter)?)),
        Read::Scanned(scan) => match compact::compact(&scan, opts, filter, KEY_LABEL, FILTERED) {
            Compacted::Set { set, kept, properties, marked } => {
                // The compacted rows are all the query needs: the scan goes before it runs.
                let rows = scan.rows;
                drop(scan);
                Ok((rows, answer_compacted(set, kept, properties, marked, assets, opts, filter)?))
            }
            Compacted::Fallback(why) => {
                tracing::debug!(key, why, "allocation fast path fell back to the full decode");
                drop(scan);
                let set = decode_whole(key, bytes, day)?;
                Ok((set.allocations.len(), answer_day(set, assets, opts, filter)?))
            }
        },
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Data(format!("the day's computation failed: {e}")))?
}

/// The assets of `day` when the request needs them.
async fn assets_of(
    source: &dyn EtlSource,
    req: &AllocationRequest,
    day: Window,
) -> Result<Option<AssetSet>, ApiError> {
    Ok(assets_versioned(source, req, day).await?.map(|(set, _)| set))
}

/// [`assets_of`] with the version read, when the source names it.
async fn assets_versioned(
    source: &dyn EtlSource,
    req: &AllocationRequest,
    day: Window,
) -> Result<Option<Versioned<AssetSet>>, ApiError> {
    if !req.needs_assets() {
        return Ok(None);
    }
    match source.asset_day_versioned(day).await? {
        Some(a) => Ok(Some(a)),
        None => Err(missing_assets(source, req, day)),
    }
}

/// The answer kept in `cache` for `day` and `fingerprint`, if the day's objects are still the
/// versions it was computed from.
async fn kept_answer(
    source: &dyn EtlSource,
    req: &AllocationRequest,
    day: Window,
    cache: &DayCache,
    fingerprint: &str,
) -> Result<Option<DayAnswer>, ApiError> {
    let Some(versions) = source.day_versions(day, req.needs_assets()).await? else { return Ok(None) };
    let Some(allocations) = versions.allocations else { return Ok(None) };
    let assets = versions.assets;
    Ok(cache.get(&DayKey { day, allocations, assets, request: fingerprint.to_owned() }))
}

/// One day, read and answered: `None` when the source has no set for it.
async fn one_day(
    source: &dyn EtlSource,
    req: &AllocationRequest,
    day: Window,
    engine: Engine,
    cache: Option<(&DayCache, &str)>,
) -> Result<Option<(usize, BTreeMap<String, Allocation>)>, ApiError> {
    let fast = engine == Engine::Fast && !req.options.aggregate.is_empty();
    // Only the fast path's answers are kept: it reads versioned objects.
    let cache = cache.filter(|(c, _)| fast && c.enabled());
    if let Some((c, fingerprint)) = &cache {
        if let Some(kept) = kept_answer(source, req, day, c, fingerprint).await? {
            return Ok(Some(kept));
        }
    }
    let object = if fast { source.allocation_object(day).await? } else { DayObject::Unsupported };
    let (opts, filter) = (req.options.clone(), req.filter.clone());
    match object {
        DayObject::Missing => Ok(None),
        DayObject::Object { key, bytes, etag } => {
            let (k, b, e) = (key.clone(), bytes.clone(), etag.clone());
            let read = blocking(move || read_object(&k, b, e.as_deref(), day)).await?;
            let assets = assets_versioned(source, req, day).await?;
            let assets_etag = assets.as_ref().and_then(|(_, etag)| etag.clone());
            let answer = blocking(move || {
                let assets = assets.map(|(set, _)| set);
                answer_read(read, &key, &bytes, day, assets.as_ref(), &opts, filter.as_ref())
            })
            .await?;
            // Kept under the versions actually read, only when every object read names one.
            if let (Some((c, fingerprint)), Some(allocations)) = (cache, etag) {
                if !req.needs_assets() || assets_etag.is_some() {
                    let key =
                        DayKey { day, allocations, assets: assets_etag, request: fingerprint.to_owned() };
                    c.put(key, answer.clone());
                }
            }
            Ok(Some(answer))
        }
        DayObject::Unsupported => {
            let Some(set) = source.allocation_day(day).await? else { return Ok(None) };
            let assets = assets_of(source, req, day).await?;
            let raw = set.allocations.len();
            let rows = blocking(move || answer_day(set, assets.as_ref(), &opts, filter.as_ref())).await?;
            Ok(Some((raw, rows)))
        }
    }
}

/// Days read and computed at once by [`allocation_sets_with`].
const IN_FLIGHT: usize = 2;

/// A day being read and computed.
type DayFuture<'a> = Pin<Box<dyn Future<Output = Result<Option<DayAnswer>, ApiError>> + Send + 'a>>;

/// A day being read and computed, and its answer once there.
struct Slot<'a> {
    future: Option<DayFuture<'a>>,
    done: Option<Result<Option<DayAnswer>, ApiError>>,
}

/// The first slot's answer, polling every slot meanwhile (so the others progress too).
async fn in_order(queue: &mut VecDeque<Slot<'_>>) -> Result<Option<DayAnswer>, ApiError> {
    std::future::poll_fn(|cx| {
        for slot in queue.iter_mut() {
            if let Some(f) = slot.future.as_mut() {
                if let Poll::Ready(v) = f.as_mut().poll(cx) {
                    slot.done = Some(v);
                    slot.future = None;
                }
            }
        }
        match queue.front_mut().and_then(|s| s.done.take()) {
            Some(v) => {
                queue.pop_front();
                Poll::Ready(v)
            }
            None => Poll::Pending,
        }
    })
    .await
}

/// The answer to `req` from `source`: one set per step (or accumulation group), and what was
/// read and held; by the fast path ([`Engine::Fast`]).
pub async fn allocation_sets(
    source: &dyn EtlSource,
    req: &AllocationRequest,
) -> Result<(Sets<Allocation>, Stats), ApiError> {
    allocation_sets_with(source, req, Engine::Fast).await
}

/// [`allocation_sets`] by the given engine.
pub async fn allocation_sets_with(
    source: &dyn EtlSource,
    req: &AllocationRequest,
    engine: Engine,
) -> Result<(Sets<Allocation>, Stats), ApiError> {
    allocation_sets_in(source, req, engine, None).await
}

/// [`allocation_sets`], each day's answer kept in `cache` and taken from it while the day's
/// objects are the versions it was computed from.
pub async fn allocation_sets_cached(
    source: &dyn EtlSource,
    req: &AllocationRequest,
    cache: &DayCache,
) -> Result<(Sets<Allocation>, Stats), ApiError> {
    allocation_sets_in(source, req, Engine::Fast, Some(cache)).await
}

async fn allocation_sets_in(
    source: &dyn EtlSource,
    req: &AllocationRequest,
    engine: Engine,
    cache: Option<&DayCache>,
) -> Result<(Sets<Allocation>, Stats), ApiError> {
    // The request's fingerprint, once for all its days.
    let cache = cache.filter(|c| c.enabled());
    let fingerprint = cache.map(|_| cache::fingerprint(req));
    let cache = cache.zip(fingerprint.as_deref());
    let steps = req.steps();
    let mut days: Vec<(usize, Window)> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        for day in crate::window::units(*step, req.unit) {
            days.push((i, day));
        }
    }
    let mut c = Collector::new(req.accumulate);
    let last = steps.len().saturating_sub(1);
    // Days are read and computed `IN_FLIGHT` at a time, across steps (a step is often one
    // day), and handed to the collector in order: one day's object is fetched and scanned
    // while another is computed, on both cores. At most `IN_FLIGHT` days' rows are held.
    let mut queue: VecDeque<Slot<'_>> = VecDeque::new();
    let mut next = 0;
    let mut open: Option<usize> = None;
    while next < days.len() || !queue.is_empty() {
        while queue.len() < IN_FLIGHT && next < days.len() {
            let day = days[next].1;
            queue.push_back(Slot {
                future: Some(Box::pin(one_day(source, req, day, engine, cache))),
                done: None,
            });
            next += 1;
        }
        let answer = in_order(&mut queue).await?;
        let (i, day) = days[next - queue.len() - 1];
        if open != Some(i) {
            if let Some(o) = open {
                c.end_step(o == last);
            }
            // Steps without days (none: every step has at least one) would be skipped.
            c.start_step(steps[i]);
            open = Some(i);
        }
        match answer {
            Some((raw, rows)) => c.add_day(raw, rows),
            None => c.missing(day),
        }
    }
    if let Some(o) = open {
        c.end_step(o == last);
    }
    Ok(c.finish())
}

fn missing_assets(source: &dyn EtlSource, req: &AllocationRequest, day: Window) -> ApiError {
    let mut wanted = Vec::new();
    if req.options.idle || req.options.share_idle {
        wanted.push("idle");
    }
    if req.options.share_tenancy_costs {
        wanted.push("shareTenancyCosts");
    }
    ApiError::Data(format!(
        "no asset set for {} ({}), which {} needs: federate the assets, or query with idle=false&shareTenancyCosts=false",
        crate::window::describe(day),
        source.asset_name(day),
        wanted.join(" and ")
    ))
}
