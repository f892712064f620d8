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

use std::borrow::Cow;
use std::collections::BTreeMap;

use ampfed_allocation::{
    generate_key, query, Aggregate, Allocation, AllocationSet, AssetSet, LabelConfig, QueryOptions, Window,
    IDLE,
};

use crate::collect::{Collector, Sets, Stats};
use crate::error::ApiError;
use crate::filter::{Filter, Subject};
use crate::params::AllocationRequest;
use crate::source::EtlSource;

/// The hidden label holding each allocation's key while a filtered query runs.
const KEY_LABEL: &str = "__ampfed_key__";
/// The key of what the filter drops.
const FILTERED: &str = "__filtered__";

/// An allocation as a filter sees it.
pub struct AllocationSubject<'a> {
    pub allocation: &'a Allocation,
    pub labels: &'a LabelConfig,
}

impl AllocationSubject<'_> {
    fn alias(&self, names: &str) -> Cow<'_, str> {
        let p = &self.allocation.properties;
        for name in names.split(',') {
            let name = ampfed_allocation::sanitize(name.trim());
            if let Some(v) = p.labels.get(&name).or_else(|| p.annotations.get(&name)) {
                return Cow::Borrowed(v.as_str());
            }
        }
        Cow::Borrowed("")
    }
}

impl Subject for AllocationSubject<'_> {
    fn text(&self, field: &str) -> Cow<'_, str> {
        let p = &self.allocation.properties;
        let l = self.labels;
        Cow::Borrowed(match field {
            "cluster" => &p.cluster,
            "node" => &p.node,
            "namespace" => &p.namespace,
            "controllerName" => &p.controller,
            "controllerKind" => &p.controller_kind,
            "container" => &p.container,
            "pod" => &p.pod,
            "provider" => &p.provider_id,
            "department" => return self.alias(&l.department),
            "environment" => return self.alias(&l.environment),
            "owner" => return self.alias(&l.owner),
            "product" => return self.alias(&l.product),
            "team" => return self.alias(&l.team),
            _ => "",
        })
    }

    fn list(&self, field: &str) -> &[String] {
        match field {
            "services" => &self.allocation.properties.services,
            _ => &[],
        }
    }

    fn map(&self, field: &str) -> Option<&BTreeMap<String, String>> {
        match field {
            "label" => Some(&self.allocation.properties.labels),
            "annotation" => Some(&self.allocation.properties.annotations),
            _ => None,
        }
    }
}

/// Allocated CPU, GPU and RAM cost of one idle key: all, and the filtered-in part.
#[derive(Clone, Copy, Debug, Default)]
struct Shares {
    all: [f64; 3],
    kept: [f64; 3],
    any_kept: bool,
}

impl Shares {
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
            let s = shares.entry(idle_key(opts, a)).or_default();
            let costs = [a.cpu_cost, a.gpu_cost, a.ram_cost];
            for (r, c) in costs.into_iter().enumerate() {
                s.all[r] += c;
                if kept {
                    s.kept[r] += c;
                }
            }
            s.any_kept |= kept;
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
    let mut marked = opts.clone();
    marked.aggregate = vec![Aggregate::Label(KEY_LABEL.to_owned())];
    marked.split_idle = true;
    let rows = query(&set, assets, &marked).map_err(data)?;

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

/// The answer to `req` from `source`: one set per step (or accumulation group), and what was
/// read and held.
pub async fn allocation_sets(
    source: &dyn EtlSource,
    req: &AllocationRequest,
) -> Result<(Sets<Allocation>, Stats), ApiError> {
    let steps = req.steps();
    let mut c = Collector::new(req.accumulate);
    let last = steps.len().saturating_sub(1);
    for (i, step) in steps.into_iter().enumerate() {
        c.start_step(step);
        for day in step.utc_days().map_err(|e| ApiError::Data(e.to_string()))? {
            let Some(set) = source.allocation_day(day).await? else {
                c.missing(day);
                continue;
            };
            let assets = if req.needs_assets() {
                match source.asset_day(day).await? {
                    Some(a) => Some(a),
                    None => return Err(missing_assets(source, req, day)),
                }
            } else {
                None
            };
            let raw = set.allocations.len();
            let (opts, filter) = (req.options.clone(), req.filter.clone());
            let rows =
                tokio::task::spawn_blocking(move || answer_day(set, assets.as_ref(), &opts, filter.as_ref()))
                    .await
                    .map_err(|e| ApiError::Data(format!("the day's computation failed: {e}")))??;
            c.add_day(raw, rows);
        }
        c.end_step(i == last);
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
