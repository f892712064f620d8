//! Idle as Kubecost computes it (OpenCost's `computeIdleAllocations`): per cluster, or per
//! node with `idleByNode`, and per resource, idle = the nodes' cost (after discount) − what
//! the allocations were charged. CPU, GPU and RAM only: PV, load balancer, network and
//! cluster-management costs never enter idle. Idle may be negative (allocations charged more
//! than the nodes cost, e.g. with usage above capacity); it is reported as it is, as Kubecost
//! does.
//!
//! [`check_balance`] is the check that the numbers add up: per cluster, allocated + idle =
//! node cost.

use std::collections::BTreeMap;

use crate::assets::AssetSet;
use crate::model::{str_eq, Allocation, AllocationSet, Properties, Window, IDLE};

/// What idle is computed (and shared) per.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IdleBy {
    /// One idle entry per cluster, `<cluster>/__idle__` (Kubecost's default).
    #[default]
    Cluster,
    /// One per node, `<cluster>/<node>/__idle__` (`idleByNode=true`).
    Node,
}

/// Why idle cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdleError {
    #[error(
        "cannot compute idle: the allocations cover {}..{} but the assets {}..{}",
        allocations.start, allocations.end, assets.start, assets.end
    )]
    WindowMismatch { allocations: Window, assets: Window },
}

/// The key allocations and nodes are grouped by: the cluster, or `cluster/node`.
pub(crate) fn idle_key(by: IdleBy, cluster: &str, node: &str) -> String {
    match by {
        IdleBy::Cluster => cluster.to_owned(),
        IdleBy::Node => format!("{cluster}/{node}"),
    }
}

/// Per-resource cost totals of one idle key.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Totals {
    pub cluster: String,
    /// The node when every member is on the same one, else empty.
    pub node: String,
    pub start: i64,
    pub end: i64,
    pub count: usize,
    pub cpu: f64,
    pub gpu: f64,
    pub ram: f64,
}

impl Totals {
    fn include(&mut self, cluster: &str, node: &str, start: i64, end: i64) {
        if self.count == 0 {
            self.cluster = cluster.to_owned();
            self.node = node.to_owned();
            self.start = start;
            self.end = end;
        } else {
            if !str_eq(&self.node, node) {
                self.node.clear();
            }
            self.start = self.start.min(start);
            self.end = self.end.max(end);
        }
        self.count += 1;
    }
}

/// Allocated CPU, GPU and RAM cost per idle key, idle and unmounted entries left out
/// (OpenCost's `ComputeAllocationTotals`).
pub(crate) fn allocation_totals<'a>(
    allocations: impl IntoIterator<Item = &'a Allocation>,
    by: IdleBy,
) -> BTreeMap<String, Totals> {
    // Totals by position, found by key; rows come grouped by cluster (and node), so a run of
    // one key is looked up once.
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut totals: Vec<Totals> = Vec::new();
    let mut key = String::new();
    let mut last: Option<usize> = None;
    for a in allocations {
        if a.is_idle() || a.is_unmounted() {
            continue;
        }
        let p = &a.properties;
        let same = last.is_some_and(|_| match by {
            IdleBy::Cluster => key == p.cluster,
            IdleBy::Node => {
                key.len() == p.cluster.len() + 1 + p.node.len()
                    && key.starts_with(p.cluster.as_str())
                    && key[p.cluster.len()..].starts_with('/')
                    && key.ends_with(p.node.as_str())
            }
        });
        let i = match last {
            Some(i) if same => i,
            _ => {
                key.clear();
                key.push_str(&p.cluster);
                if by == IdleBy::Node {
                    key.push('/');
                    key.push_str(&p.node);
                }
                match index.get(key.as_str()) {
                    Some(&i) => i,
                    None => {
                        index.insert(key.clone(), totals.len());
                        totals.push(Totals::default());
                        totals.len() - 1
                    }
                }
            }
        };
        last = Some(i);
        let t = &mut totals[i];
        t.include(&p.cluster, &p.node, a.start, a.end);
        t.cpu += a.cpu_cost;
        t.gpu += a.gpu_cost;
        t.ram += a.ram_cost;
    }
    let mut totals: Vec<Option<Totals>> = totals.into_iter().map(Some).collect();
    index.into_iter().map(|(k, i)| (k, totals[i].take().unwrap_or_default())).collect()
}

/// Node CPU, GPU and RAM cost per idle key, CPU and RAM after the discount (OpenCost's
/// `ComputeAssetTotals` for nodes; ampfed has no adjustments).
pub(crate) fn node_totals(assets: &AssetSet, by: IdleBy) -> BTreeMap<String, Totals> {
    let mut out: BTreeMap<String, Totals> = BTreeMap::new();
    for n in &assets.nodes {
        let t = out.entry(idle_key(by, &n.cluster, &n.name)).or_default();
        t.include(&n.cluster, &n.name, n.start, n.end);
        let rate = if n.total_cost - n.adjustment == 0.0 {
            0.0
        } else if n.adjustment == 0.0 {
            1.0
        } else {
            n.total_cost / (n.total_cost - n.adjustment)
        };
        t.cpu += n.discounted_cpu_cost() * rate;
        t.ram += n.discounted_ram_cost() * rate;
        t.gpu += n.gpu_cost * rate;
    }
    out
}

/// The idle allocations of `set` given its `assets` (same window): one per cluster or node
/// that has nodes, named `<key>/__idle__`, with `cpuCost`, `gpuCost` and `ramCost` the
/// nodes' cost less the allocated cost (possibly negative) and no hours, as OpenCost's.
pub fn idle_allocations(
    set: &AllocationSet,
    assets: &AssetSet,
    by: IdleBy,
) -> Result<Vec<Allocation>, IdleError> {
    if set.window != assets.window {
        return Err(IdleError::WindowMismatch { allocations: set.window, assets: assets.window });
    }
    let allocated = allocation_totals(&set.allocations, by);
    let mut out = Vec::new();
    for (key, nodes) in node_totals(assets, by) {
        let used = allocated.get(&key).cloned().unwrap_or_default();
        let mut idle = Allocation {
            name: format!("{key}/{IDLE}"),
            properties: Properties {
                cluster: nodes.cluster.clone(),
                node: nodes.node.clone(),
                provider_id: nodes.node.clone(),
                ..Properties::default()
            },
            start: nodes.start,
            end: nodes.end,
            minutes: Window { start: nodes.start, end: nodes.end }.duration_secs() as f64 / 60.0,
            cpu_cost: nodes.cpu - used.cpu,
            gpu_cost: nodes.gpu - used.gpu,
            ram_cost: nodes.ram - used.ram,
            ..Allocation::default()
        };
        idle.recompute();
        out.push(idle);
    }
    Ok(out)
}

/// One cluster's account: what its allocations were charged, its idle, and its nodes' cost
/// (CPU + GPU + RAM after discount).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Balance {
    pub cluster: String,
    pub allocated: f64,
    pub idle: f64,
    pub node_cost: f64,
}

impl Balance {
    /// `|allocated + idle − nodeCost| / nodeCost` (or the absolute difference when the nodes
    /// cost nothing).
    pub fn relative_error(&self) -> f64 {
        let diff = (self.allocated + self.idle - self.node_cost).abs();
        if self.node_cost.abs() > 0.0 {
            diff / self.node_cost.abs()
        } else {
            diff
        }
    }
}

/// Clusters whose allocated + idle is off their node cost by more than the tolerance.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("allocated + idle differs from node cost: {}", describe(.0))]
pub struct Imbalance(pub Vec<Balance>);

fn describe(b: &[Balance]) -> String {
    b.iter()
        .map(|b| {
            format!(
                "{}: allocated {:.6} + idle {:.6} vs nodes {:.6} ({:.3} %)",
                b.cluster,
                b.allocated,
                b.idle,
                b.node_cost,
                100.0 * b.relative_error()
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Checks, per cluster, that the CPU + GPU + RAM cost of `rows` adds up to the cluster's node
/// cost within `tolerance` (0.001 for 0.1 %). `rows` are query results whose entries each
/// keep their cluster (aggregated by cluster or finer, idle split or shared, see
/// `crate::query`): idle rows count as idle, unmounted rows are left out (they hold PV and load
/// balancer cost only). Returns every cluster's [`Balance`], or the failing ones.
pub fn check_balance(
    rows: &[Allocation],
    assets: &AssetSet,
    tolerance: f64,
) -> Result<Vec<Balance>, Imbalance> {
    let mut by_cluster: BTreeMap<String, Balance> = BTreeMap::new();
    for n in &assets.nodes {
        let b = by_cluster.entry(n.cluster.clone()).or_default();
        b.cluster = n.cluster.clone();
        b.node_cost += n.discounted_cpu_cost() + n.discounted_ram_cost() + n.gpu_cost + n.adjustment;
    }
    for r in rows.iter().filter(|r| !r.is_unmounted()) {
        let b = by_cluster.entry(r.properties.cluster.clone()).or_default();
        b.cluster = r.properties.cluster.clone();
        if r.is_idle() {
            b.idle += r.compute_cost();
        } else {
            b.allocated += r.compute_cost();
        }
    }
    let all: Vec<Balance> = by_cluster.into_values().collect();
    let failing: Vec<Balance> = all.iter().filter(|b| b.relative_error() > tolerance).cloned().collect();
    if failing.is_empty() {
        Ok(all)
    } else {
        Err(Imbalance(failing))
    }
}
