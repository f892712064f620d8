//! The allocation query with idle and sharing, as Kubecost's
//! `/model/allocation?aggregate=…&idle=…&shareIdle=…&shareNamespaces=…&accumulate=true`
//! answers it for one window: OpenCost's `AllocationSet.AggregateBy` order of operations, plus
//! Kubecost's `shareTenancyCosts`.
//!
//! 1. Idle allocations are computed from the assets (`crate::idle`) when idle is on or
//!    shared.
//! 2. Allocations are split into idle ones, shared ones (in a shared namespace or with a
//!    shared `label=value`) and the rest.
//! 3. Idle coefficients: per idle key (cluster, or cluster/node), per allocation and per
//!    resource, the allocation's share of that resource's allocated cost (the rest and the
//!    shared ones together).
//! 4. Share coefficients: per aggregated key, its share of the rest's cost excluding shared
//!    and unmounted costs (`weighted`), or 1/number of keys (`even`).
//! 5. Each of the rest gets its idle share (`shareIdle`), then is added into its key
//!    ([`Allocation::add`]); unshared idle keeps its own name.
//! 6. Shared allocations get their idle share, then their total cost is spread over the keys
//!    by the share coefficients, into `sharedCost`.
//! 7. Idle that could not be shared (a resource with idle cost but no allocated cost of it)
//!    stays as `<key>/__idle__` with only that cost.
//! 8. Tenancy costs (cluster management, and disks attached to nodes) are spread per cluster
//!    over that cluster's keys, with the same split, into `sharedCost`.
//! 9. Idle entries merge into one `__idle__` unless `splitIdle`.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::assets::AssetSet;
use crate::idle::{idle_allocations, idle_key, IdleBy, IdleError};
use crate::key::{generate_key_into, sanitize, Aggregate, LabelConfig};
use crate::model::{Allocation, AllocationSet, IDLE};

/// How shared costs are split over the keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ShareSplit {
    /// In proportion to each key's cost (Kubecost's default).
    #[default]
    Weighted,
    /// The same amount to every key.
    Even,
}

impl std::str::FromStr for ShareSplit {
    type Err = String;
    fn from_str(s: &str) -> Result<ShareSplit, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "weighted" => Ok(ShareSplit::Weighted),
            "even" => Ok(ShareSplit::Even),
            other => Err(format!("unknown shareSplit {other:?}: use weighted or even")),
        }
    }
}

/// The query's parameters; `Default` is Kubecost's defaults (`idle=true`,
/// `shareTenancyCosts=true`, `shareSplit=weighted`, everything else off).
#[derive(Clone, Debug, PartialEq)]
pub struct QueryOptions {
    /// Properties to aggregate by; empty keeps one entry per allocation (named as it is).
    pub aggregate: Vec<Aggregate>,
    /// Add idle entries (`idle`, OpenCost's `includeIdle`).
    pub idle: bool,
    /// Spread idle into the others' CPU, GPU and RAM cost, per resource, by cost.
    pub share_idle: bool,
    /// Keep one idle entry per cluster (or node) instead of one `__idle__`.
    pub split_idle: bool,
    /// Compute and share idle per node rather than per cluster.
    pub idle_by_node: bool,
    /// Namespaces whose cost is shared onto the others.
    pub share_namespaces: Vec<String>,
    /// `(label, value)` pairs whose allocations' cost is shared onto the others.
    pub share_labels: Vec<(String, String)>,
    pub share_split: ShareSplit,
    /// Share each cluster's management fee (and node-attached disks) over its allocations.
    pub share_tenancy_costs: bool,
    pub label_config: LabelConfig,
}

impl Default for QueryOptions {
    fn default() -> QueryOptions {
        QueryOptions {
            aggregate: Vec::new(),
            idle: true,
            share_idle: false,
            split_idle: false,
            idle_by_node: false,
            share_namespaces: Vec::new(),
            share_labels: Vec::new(),
            share_split: ShareSplit::Weighted,
            share_tenancy_costs: true,
            label_config: LabelConfig::default(),
        }
    }
}

/// Why a query cannot be answered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    #[error("{0} needs the window's assets; pass the asset set or turn it off")]
    NeedsAssets(&'static str),
    #[error(transparent)]
    Idle(#[from] IdleError),
}

/// Share coefficients by key id (see [`Keys`]).
type IdCoefficients = BTreeMap<usize, f64>;

/// The aggregation keys of the rows, each distinct key stored once: row `i`'s key is
/// `names[ids[i]]`.
struct Keys {
    names: Vec<String>,
    ids: Vec<usize>,
}

impl Keys {
    fn of<'a>(rows: impl IntoIterator<Item = &'a Allocation>, opts: &QueryOptions) -> Keys {
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut names: Vec<String> = Vec::new();
        let mut ids = Vec::new();
        let mut buf = String::new();
        for a in rows {
            let key: &str = if opts.aggregate.is_empty() {
                &a.name
            } else {
                generate_key_into(&mut buf, &a.properties, &opts.aggregate, &opts.label_config);
                &buf
            };
            let id = match index.get(key) {
                Some(&id) => id,
                None => {
                    let id = names.len();
                    names.push(key.to_owned());
                    index.insert(key.to_owned(), id);
                    id
                }
            };
            ids.push(id);
        }
        Keys { names, ids }
    }
}

/// Per-resource coefficient of one allocation for its idle key.
#[derive(Clone, Copy, Debug, Default)]
struct Resources {
    cpu: f64,
    gpu: f64,
    ram: f64,
}

fn normalise(coeffs: &mut IdCoefficients, total: f64) {
    for c in coeffs.values_mut() {
        *c = if *c > 0.0 && total > 0.0 { *c / total } else { 0.0 };
    }
}

/// Share coefficients over `allocations` by key: weighted by total cost less shared cost, or
/// even (OpenCost's `computeShareCoeffs`; idle and unmounted entries left out).
fn share_coefficients<'a>(
    allocations: impl IntoIterator<Item = (&'a Allocation, usize)>,
    split: ShareSplit,
) -> IdCoefficients {
    let mut coeffs = IdCoefficients::new();
    let mut total = 0.0;
    for (a, key) in allocations {
        if a.is_idle() || a.is_unmounted() {
            continue;
        }
        match split {
            ShareSplit::Even => {
                coeffs.insert(key, 1.0);
                total = coeffs.len() as f64;
            }
            ShareSplit::Weighted => {
                let w = a.total_cost - a.shared_cost;
                *coeffs.entry(key).or_default() += w;
                total += w;
            }
        }
    }
    normalise(&mut coeffs, total);
    coeffs
}

/// Idle entries by idle key.
type IdleIndex<'a> = BTreeMap<String, Vec<&'a Allocation>>;

fn add_idle(a: &mut Allocation, idle: &IdleIndex<'_>, coeff: Option<&Resources>, by: IdleBy) {
    let Some(c) = coeff else { return };
    let id = idle_key(by, &a.properties.cluster, &a.properties.node);
    for i in idle.get(&id).into_iter().flatten() {
        a.cpu_core_hours += i.cpu_core_hours * c.cpu;
        a.gpu_hours += i.gpu_hours * c.gpu;
        a.ram_byte_hours += i.ram_byte_hours * c.ram;
        a.cpu_cost += i.cpu_cost * c.cpu;
        a.gpu_cost += i.gpu_cost * c.gpu;
        a.ram_cost += i.ram_cost * c.ram;
    }
    a.recompute();
}

/// Adds `a` into the entry `name` of `out`, or makes it that entry.
fn insert(name: String, mut a: Allocation, out: &mut BTreeMap<String, Allocation>) {
    match out.get_mut(&name) {
        Some(acc) => acc.add(&a),
        None => {
            a.name = name.clone();
            out.insert(name, a);
        }
    }
}

/// [`insert`] of a borrowed `a`, cloned only when it makes a new entry.
fn insert_ref(name: &str, a: &Allocation, out: &mut BTreeMap<String, Allocation>) {
    match out.get_mut(name) {
        Some(acc) => acc.add(a),
        None => {
            let mut a = a.clone();
            a.name = name.to_owned();
            out.insert(name.to_owned(), a);
        }
    }
}

/// Answers the query over one window's `set` (one cluster or combined), with that window's
/// `assets` when idle or tenancy costs are wanted. Entries are sorted by name; floats are not
/// rounded (see [`Allocation::rounded`]).
pub fn query(
    set: &AllocationSet,
    assets: Option<&AssetSet>,
    opts: &QueryOptions,
) -> Result<Vec<Allocation>, QueryError> {
    let by = if opts.idle_by_node { IdleBy::Node } else { IdleBy::Cluster };
    let want_idle = opts.idle || opts.share_idle;
    let mut idle: Vec<Allocation> = Vec::new();
    if want_idle {
        let assets = assets.ok_or(QueryError::NeedsAssets("idle"))?;
        idle = idle_allocations(set, assets, by)?;
    }
    let mut tenancy: BTreeMap<String, f64> = BTreeMap::new();
    if opts.share_tenancy_costs {
        let assets = assets.ok_or(QueryError::NeedsAssets("shareTenancyCosts"))?;
        for m in &assets.cluster_management {
            *tenancy.entry(m.cluster.clone()).or_default() += m.total_cost;
        }
        let nodes: HashSet<(&str, &str)> =
            assets.nodes.iter().map(|n| (n.cluster.as_str(), n.name.as_str())).collect();
        for d in assets.disks.iter().filter(|d| nodes.contains(&(d.cluster.as_str(), d.name.as_str()))) {
            *tenancy.entry(d.cluster.clone()).or_default() += d.total_cost;
        }
    }

    // (2) Partition.
    let share_labels: Vec<(String, String)> =
        opts.share_labels.iter().map(|(k, v)| (sanitize(k.trim()), v.trim().to_owned())).collect();
    let is_shared = |a: &Allocation| {
        opts.share_namespaces.iter().any(|n| n.trim() == a.properties.namespace)
            || share_labels.iter().any(|(k, v)| a.properties.labels.get(k) == Some(v))
    };
    // The rest are borrowed: most are added into an entry, not made one.
    let mut rest: Vec<&Allocation> = Vec::new();
    let mut shared: Vec<Allocation> = Vec::new();
    for a in &set.allocations {
        if a.is_idle() {
            continue;
        }
        if is_shared(a) {
            shared.push(a.clone());
        } else {
            rest.push(a);
        }
    }
    let keys = Keys::of(rest.iter().copied(), opts);

    // (3) Idle coefficients, per member of rest and shared (by position), and the allocated
    // totals per idle key.
    let mut allocated: BTreeMap<String, Resources> = BTreeMap::new();
    let mut rest_coeffs: Vec<Option<Resources>> = vec![None; rest.len()];
    let mut shared_coeffs: Vec<Option<Resources>> = vec![None; shared.len()];
    if opts.share_idle && !idle.is_empty() {
        for a in rest.iter().copied().chain(&shared) {
            let t = allocated.entry(idle_key(by, &a.properties.cluster, &a.properties.node)).or_default();
            t.cpu += a.cpu_cost;
            t.gpu += a.gpu_cost;
            t.ram += a.ram_cost;
        }
        let coeff = |a: &Allocation| {
            let t = allocated
                .get(&idle_key(by, &a.properties.cluster, &a.properties.node))
                .copied()
                .unwrap_or_default();
            let part = |x: f64, total: f64| if x > 0.0 && total > 0.0 { x / total } else { x };
            Some(Resources {
                cpu: part(a.cpu_cost, t.cpu),
                gpu: part(a.gpu_cost, t.gpu),
                ram: part(a.ram_cost, t.ram),
            })
        };
        rest_coeffs = rest.iter().map(|a| coeff(a)).collect();
        shared_coeffs = shared.iter().map(coeff).collect();
    }

    // (4) Share coefficients, from the rest before idle is added.
    let share_coeffs = if shared.is_empty() {
        IdCoefficients::new()
    } else {
        share_coefficients(rest.iter().copied().zip(keys.ids.iter().copied()), opts.share_split)
    };
    // Each cluster's members, found in one pass over the rows (not one pass per cluster: at
    // 1000 clusters × 200k rows a day that was most of a query's time).
    let clusters: BTreeMap<&str, usize> =
        tenancy.keys().enumerate().map(|(i, cluster)| (cluster.as_str(), i)).collect();
    let mut members: Vec<Vec<(&Allocation, usize)>> = vec![Vec::new(); clusters.len()];
    // Rows come grouped by cluster: a run of one cluster is looked up once.
    let mut run: Option<(&str, Option<usize>)> = None;
    for (&a, &id) in rest.iter().zip(&keys.ids) {
        let cluster = a.properties.cluster.as_str();
        let at = match run {
            Some((held, at)) if held == cluster => at,
            _ => clusters.get(cluster).copied(),
        };
        run = Some((cluster, at));
        if let Some(i) = at {
            members[i].push((a, id));
        }
    }
    // In `tenancy`'s (cluster) order.
    let tenancy_coeffs: Vec<IdCoefficients> =
        members.into_iter().map(|list| share_coefficients(list, opts.share_split)).collect();

    let mut idle_index: IdleIndex<'_> = BTreeMap::new();
    for i in &idle {
        idle_index.entry(idle_key(by, &i.properties.cluster, &i.properties.node)).or_default().push(i);
    }

    // (5) Distribute idle and aggregate.
    let mut out: BTreeMap<String, Allocation> = BTreeMap::new();
    if !opts.share_idle {
        for i in &idle {
            insert(i.name.clone(), i.clone(), &mut out);
        }
    }
    for ((a, c), &id) in rest.into_iter().zip(rest_coeffs).zip(&keys.ids) {
        let k = &keys.names[id];
        if c.is_some() {
            let mut a = a.clone();
            add_idle(&mut a, &idle_index, c.as_ref(), by);
            insert(k.clone(), a, &mut out);
        } else {
            insert_ref(k, a, &mut out);
        }
    }

    // (6) Share the shared allocations, idle included.
    for (a, c) in shared.iter_mut().zip(&shared_coeffs) {
        add_idle(a, &idle_index, c.as_ref(), by);
    }
    let shared_total: f64 = shared.iter().map(|a| a.total_cost).sum();
    for (&k, c) in &share_coeffs {
        if let Some(entry) = out.get_mut(&keys.names[k]) {
            entry.shared_cost += shared_total * c;
        }
    }

    // (7) Idle that no allocation could take.
    if opts.share_idle {
        for i in &idle {
            let id = idle_key(by, &i.properties.cluster, &i.properties.node);
            let t = allocated.get(&id).copied().unwrap_or_default();
            let mut left = i.clone();
            let mut any = false;
            for (cost, total) in
                [(&mut left.cpu_cost, t.cpu), (&mut left.gpu_cost, t.gpu), (&mut left.ram_cost, t.ram)]
            {
                if *cost > 0.0 && total == 0.0 {
                    any = true;
                } else {
                    *cost = 0.0;
                }
            }
            if any {
                left.recompute();
                insert(format!("{id}/{IDLE}"), left, &mut out);
            }
        }
    }

    // (8) Tenancy costs, per cluster.
    for ((_, cost), coeffs) in tenancy.iter().zip(&tenancy_coeffs) {
        for (&k, c) in coeffs {
            if let Some(entry) = out.get_mut(&keys.names[k]) {
                entry.shared_cost += cost * c;
            }
        }
    }

    // (9) One idle entry unless split.
    if !opts.split_idle {
        let idle_names: Vec<String> = out.keys().filter(|k| k.contains(IDLE)).cloned().collect();
        let mut merged: Option<Allocation> = None;
        for n in idle_names {
            if let Some(a) = out.remove(&n) {
                match merged.as_mut() {
                    Some(m) => m.add(&a),
                    None => merged = Some(a),
                }
            }
        }
        if let Some(mut m) = merged {
            m.name = IDLE.to_owned();
            out.insert(m.name.clone(), m);
        }
    }

    Ok(out
        .into_values()
        .map(|mut a| {
            a.recompute();
            a
        })
        .collect())
}
