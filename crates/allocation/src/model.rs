//! The allocation model every component shares: a [`Window`], one container's [`Allocation`]
//! with Kubecost's fields and meanings, the [`AllocationSet`] of a window, and Kubecost's
//! [`efficiency`]. The cost model produces sets, federation stores and combines them, queries
//! aggregate them.
//!
//! Fields added after the first ETL format (GPU, PV, load balancer, shared cost, controller,
//! labels, …) default when absent and are left out of the JSON when empty or zero, so sets
//! that carry none of them serialise exactly as before.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Seconds in a day.
pub const DAY_SECS: i64 = 86_400;

/// A time window in unix seconds, `[start, end)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Window {
    pub start: i64,
    pub end: i64,
}

/// Why a window cannot be a daily (`1d/`) set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("window {start}..{end} is empty or reversed")]
    Empty { start: i64, end: i64 },
    #[error("window {start}..{end} is not one UTC day: a daily set starts at 00:00:00Z and lasts 86400 s")]
    NotADay { start: i64, end: i64 },
    #[error("window {start}..{end} does not start and end on UTC midnights")]
    NotDayAligned { start: i64, end: i64 },
}

impl Window {
    /// The window's length in seconds; 0 when `end` is not after `start`. Never overflows,
    /// whatever the (outside) values.
    pub fn duration_secs(&self) -> i64 {
        self.end.saturating_sub(self.start).max(0)
    }

    pub fn hours(&self) -> f64 {
        self.duration_secs() as f64 / 3600.0
    }

    /// `<start>-<end>`, as in the ETL object names.
    pub fn file_stem(&self) -> String {
        format!("{}-{}", self.start, self.end)
    }

    /// The UTC day starting at `start`, refused unless `start` is a UTC midnight.
    pub fn utc_day(start: i64) -> Result<Window, WindowError> {
        let day = Window { start, end: start.saturating_add(DAY_SECS) };
        day.check_utc_day()?;
        Ok(day)
    }

    /// Ok when the window is exactly one UTC day (00:00:00Z to the next midnight): the only
    /// windows Kubecost files under `…/allocations/1d/`.
    pub fn check_utc_day(&self) -> Result<(), WindowError> {
        if self.end <= self.start {
            return Err(WindowError::Empty { start: self.start, end: self.end });
        }
        if self.start.rem_euclid(DAY_SECS) != 0 || self.duration_secs() != DAY_SECS {
            return Err(WindowError::NotADay { start: self.start, end: self.end });
        }
        Ok(())
    }

    /// The UTC days the window covers, in order; refused unless it starts and ends on UTC
    /// midnights.
    pub fn utc_days(&self) -> Result<Vec<Window>, WindowError> {
        if self.end <= self.start {
            return Err(WindowError::Empty { start: self.start, end: self.end });
        }
        if self.start.rem_euclid(DAY_SECS) != 0 || self.end.rem_euclid(DAY_SECS) != 0 {
            return Err(WindowError::NotDayAligned { start: self.start, end: self.end });
        }
        let mut days = Vec::new();
        let mut s = self.start;
        while s < self.end {
            days.push(Window { start: s, end: s + DAY_SECS });
            s += DAY_SECS;
        }
        Ok(days)
    }

    /// Pieces of at most `max_secs` from the start, the last one shorter: how OpenCost's
    /// `ComputeAllocation` cuts a window longer than its maximum Prometheus query duration.
    /// A `max_secs` of 0 or less gives the window whole.
    pub fn split(&self, max_secs: i64) -> Vec<Window> {
        if max_secs <= 0 || self.duration_secs() <= max_secs {
            return vec![*self];
        }
        let mut out = Vec::new();
        let mut s = self.start;
        while s < self.end {
            let e = s.saturating_add(max_secs).min(self.end);
            out.push(Window { start: s, end: e });
            s = e;
        }
        out
    }
}

/// All allocations of one window, from one cluster or (combined) from many.
#[derive(Clone, Debug, PartialEq)]
pub struct AllocationSet {
    /// The clusters whose allocations the set holds, sorted.
    pub clusters: Vec<String>,
    pub window: Window,
    /// Sorted by `name`.
    pub allocations: Vec<Allocation>,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// What an allocation belongs to. Label and annotation keys are sanitised like Prometheus
/// label names (`app.kubernetes.io/name` → `app_kubernetes_io_name`).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Properties {
    pub cluster: String,
    pub node: String,
    pub namespace: String,
    pub pod: String,
    pub container: String,
    /// The controller's name (`web` for `deployment:web`); empty when the pod has none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub controller: String,
    /// Lower case: `deployment`, `statefulset`, `daemonset`, `job`, `replicaset`, `rollout`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub controller_kind: String,
    #[serde(default, rename = "providerID", skip_serializing_if = "String::is_empty")]
    pub provider_id: String,
    /// Services whose selector matches the pod, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    /// Node, then namespace, then pod labels, later ones winning (OpenCost's merge).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Namespace, then pod annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub namespace_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub namespace_annotations: BTreeMap<String, String>,
}

impl Properties {
    /// The fields on which both agree (OpenCost's `Intersection`): strings kept when equal,
    /// namespace labels and annotations kept when the namespace is, other maps and lists
    /// dropped.
    pub fn intersection(&self, that: &Properties) -> Properties {
        let keep = |a: &String, b: &String| if str_eq(a, b) { a.clone() } else { String::new() };
        let same_namespace = str_eq(&self.namespace, &that.namespace);
        // An unmounted entry carries no namespace metadata: take the other side's.
        let ns_source = if str_eq(&self.container, UNMOUNTED) { that } else { self };
        Properties {
            cluster: keep(&self.cluster, &that.cluster),
            node: keep(&self.node, &that.node),
            namespace: keep(&self.namespace, &that.namespace),
            pod: keep(&self.pod, &that.pod),
            container: keep(&self.container, &that.container),
            controller: keep(&self.controller, &that.controller),
            controller_kind: keep(&self.controller_kind, &that.controller_kind),
            provider_id: keep(&self.provider_id, &that.provider_id),
            services: Vec::new(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            namespace_labels: if same_namespace {
                ns_source.namespace_labels.clone()
            } else {
                BTreeMap::new()
            },
            namespace_annotations: if same_namespace {
                ns_source.namespace_annotations.clone()
            } else {
                BTreeMap::new()
            },
        }
    }
}

impl Properties {
    /// `*self = self.intersection(that)`, in place, except `controller`, which the caller
    /// decides: strings equal to `that`'s are kept (not cloned), others cleared.
    fn intersect_with(&mut self, that: &Properties) {
        fn keep(a: &mut String, b: &str) {
            if !str_eq(a, b) {
                a.clear();
            }
        }
        let same_namespace = str_eq(&self.namespace, &that.namespace);
        let from_that = str_eq(&self.container, UNMOUNTED);
        keep(&mut self.cluster, &that.cluster);
        keep(&mut self.node, &that.node);
        keep(&mut self.namespace, &that.namespace);
        keep(&mut self.pod, &that.pod);
        keep(&mut self.container, &that.container);
        keep(&mut self.controller_kind, &that.controller_kind);
        keep(&mut self.provider_id, &that.provider_id);
        self.services.clear();
        self.labels.clear();
        self.annotations.clear();
        if !same_namespace {
            self.namespace_labels.clear();
            self.namespace_annotations.clear();
        } else if from_that {
            self.namespace_labels.clone_from(&that.namespace_labels);
            self.namespace_annotations.clone_from(&that.namespace_annotations);
        }
    }
}

/// String equality that never calls `memcmp` for empty or different-length strings. Most
/// property comparisons are of empty strings, whose pointers dangle: glibc's AVX-512 `memcmp`
/// reads short strings with a masked load, which at a dangling address costs a fault-suppression
/// assist of hundreds of cycles (measured here: 966 ns an `Allocation::add` of mostly empty
/// properties with `==`).
#[inline]
pub fn str_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && (a.is_empty() || a.as_bytes() == b.as_bytes())
}

/// Marks idle allocations: `<cluster>/__idle__`, `<cluster>/<node>/__idle__`, `__idle__`.
pub const IDLE: &str = "__idle__";
/// Marks PV and load balancer cost that no pod used.
pub const UNMOUNTED: &str = "__unmounted__";
/// A key segment for an allocation that lacks the aggregated property.
pub const UNALLOCATED: &str = "__unallocated__";
/// Marks shared-cost entries.
pub const SHARED: &str = "__shared__";

/// One PV's share in an allocation: keyed `cluster=<c>:name=<pv>` in [`Allocation::pvs`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PvAllocation {
    pub byte_hours: f64,
    pub cost: f64,
    #[serde(default, rename = "providerID", skip_serializing_if = "String::is_empty")]
    pub provider_id: String,
}

/// The key of a PV in [`Allocation::pvs`], as OpenCost's `PVKey.String()`.
pub fn pv_key(cluster: &str, name: &str) -> String {
    format!("cluster={cluster}:name={name}")
}

/// One container's allocation over (part of) a window, with Kubecost's fields and meanings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Allocation {
    /// `cluster/node/namespace/pod/container`.
    pub name: String,
    pub properties: Properties,
    /// When the pod ran, unix seconds, clamped to the window.
    pub start: i64,
    pub end: i64,
    pub minutes: f64,
    pub cpu_cores: f64,
    pub cpu_core_request_average: f64,
    pub cpu_core_usage_average: f64,
    pub cpu_core_hours: f64,
    pub cpu_cost: f64,
    pub cpu_efficiency: f64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gpu_count: f64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gpu_request_average: f64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gpu_usage_average: f64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gpu_hours: f64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gpu_cost: f64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub load_balancer_cost: f64,
    /// Average PV bytes: `pvByteHours / hours`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pv_bytes: f64,
    /// The sum over `pvs`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pv_byte_hours: f64,
    /// The sum over `pvs`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pv_cost: f64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pvs: BTreeMap<String, PvAllocation>,
    pub ram_bytes: f64,
    pub ram_byte_request_average: f64,
    pub ram_byte_usage_average: f64,
    pub ram_byte_hours: f64,
    pub ram_cost: f64,
    pub ram_efficiency: f64,
    /// Cost shared onto this allocation (shared namespaces and labels, tenancy costs).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub shared_cost: f64,
    /// `cpuCost + gpuCost + ramCost + pvCost + loadBalancerCost + sharedCost`.
    pub total_cost: f64,
    pub total_efficiency: f64,
}

/// Kubecost's efficiency of a resource: usage over request; with no request, 0 if nothing was
/// used or nothing cost, else 1.
pub fn efficiency(usage: f64, request: f64, cost: f64) -> f64 {
    if request > 0.0 {
        usage / request
    } else if usage == 0.0 || cost == 0.0 {
        0.0
    } else {
        1.0
    }
}

impl Allocation {
    /// Hours from `minutes`.
    pub fn hours(&self) -> f64 {
        self.minutes / 60.0
    }

    /// Whether this is an idle allocation (its name holds `__idle__`, as OpenCost tests it).
    pub fn is_idle(&self) -> bool {
        self.name.contains(IDLE)
    }

    /// Whether this holds unmounted PV or load balancer cost (its name holds `__unmounted__`).
    pub fn is_unmounted(&self) -> bool {
        self.name.contains(UNMOUNTED)
    }

    /// CPU, GPU and RAM cost: what idle is computed from.
    pub fn compute_cost(&self) -> f64 {
        self.cpu_cost + self.gpu_cost + self.ram_cost
    }

    /// Recomputes every derived field from the cumulative ones: averages of hours over the
    /// run (`cpuCores`, `ramBytes`, `gpuCount`, `pvBytes`), the PV sums, the efficiencies and
    /// `totalCost`, as OpenCost derives them when it encodes an allocation.
    pub fn recompute(&mut self) {
        let hours = self.hours();
        let per_hour = |x: f64| if hours > 0.0 { x / hours } else { 0.0 };
        self.pv_byte_hours = self.pvs.values().map(|p| p.byte_hours).sum();
        self.pv_cost = self.pvs.values().map(|p| p.cost).sum();
        self.cpu_cores = per_hour(self.cpu_core_hours);
        self.ram_bytes = per_hour(self.ram_byte_hours);
        self.gpu_count = per_hour(self.gpu_hours);
        self.pv_bytes = per_hour(self.pv_byte_hours);
        self.cpu_efficiency =
            efficiency(self.cpu_core_usage_average, self.cpu_core_request_average, self.cpu_cost);
        self.ram_efficiency =
            efficiency(self.ram_byte_usage_average, self.ram_byte_request_average, self.ram_cost);
        self.total_cost = self.cpu_cost
            + self.gpu_cost
            + self.ram_cost
            + self.pv_cost
            + self.load_balancer_cost
            + self.shared_cost;
        let cpu_ram = self.cpu_cost + self.ram_cost;
        self.total_efficiency = if cpu_ram > 0.0 {
            (self.cpu_efficiency * self.cpu_cost + self.ram_efficiency * self.ram_cost) / cpu_ram
        } else {
            0.0
        };
    }

    /// Adds `that` into `self` as Kubecost's `Allocation.add`: the result spans the earlier
    /// start to the later end (so `minutes` is that span, not a sum), request and usage
    /// averages are weighted by each side's minutes over the new span, hours, bytes and costs
    /// are summed, PVs are summed per PV, properties keep what both agree on (two entries
    /// with the same container key but different controllers keep the non-empty, or the
    /// alphabetically first, controller), and derived fields are recomputed.
    pub fn add(&mut self, that: &Allocation) {
        let (p, q) = (&self.properties, &that.properties);
        let same_key = str_eq(&p.cluster, &q.cluster)
            && str_eq(&p.node, &q.node)
            && str_eq(&p.namespace, &q.namespace)
            && str_eq(&p.pod, &q.pod)
            && str_eq(&p.container, &q.container);
        // The controller as `intersection` then the same-key rule give it, decided before the
        // other fields are intersected in place.
        if !str_eq(&self.properties.controller, &that.properties.controller) {
            let (left, right) = (&self.properties.controller, &that.properties.controller);
            if !same_key {
                self.properties.controller.clear();
            } else if left.is_empty() || (!right.is_empty() && right < left) {
                self.properties.controller.clone_from(right);
            }
        }
        self.properties.intersect_with(&that.properties);

        let (m1, m2) = (self.minutes, that.minutes);
        let weighted = |a: f64, b: f64| a * m1 + b * m2;
        let cpu_req = weighted(self.cpu_core_request_average, that.cpu_core_request_average);
        let cpu_use = weighted(self.cpu_core_usage_average, that.cpu_core_usage_average);
        let ram_req = weighted(self.ram_byte_request_average, that.ram_byte_request_average);
        let ram_use = weighted(self.ram_byte_usage_average, that.ram_byte_usage_average);
        let gpu_req = weighted(self.gpu_request_average, that.gpu_request_average);
        let gpu_use = weighted(self.gpu_usage_average, that.gpu_usage_average);

        self.start = self.start.min(that.start);
        self.end = self.end.max(that.end);
        self.minutes = Window { start: self.start, end: self.end }.duration_secs() as f64 / 60.0;
        let avg = |x: f64| if self.minutes > 0.0 { x / self.minutes } else { 0.0 };
        self.cpu_core_request_average = avg(cpu_req);
        self.cpu_core_usage_average = avg(cpu_use);
        self.ram_byte_request_average = avg(ram_req);
        self.ram_byte_usage_average = avg(ram_use);
        self.gpu_request_average = avg(gpu_req);
        self.gpu_usage_average = avg(gpu_use);

        self.cpu_core_hours += that.cpu_core_hours;
        self.gpu_hours += that.gpu_hours;
        self.ram_byte_hours += that.ram_byte_hours;
        self.cpu_cost += that.cpu_cost;
        self.gpu_cost += that.gpu_cost;
        self.ram_cost += that.ram_cost;
        self.load_balancer_cost += that.load_balancer_cost;
        self.shared_cost += that.shared_cost;
        for (key, pv) in &that.pvs {
            if !self.pvs.contains_key(key) {
                self.pvs.insert(key.clone(), PvAllocation::default());
            }
            let Some(mine) = self.pvs.get_mut(key) else { unreachable!("inserted above") };
            mine.byte_hours += pv.byte_hours;
            mine.cost += pv.cost;
            if mine.provider_id.is_empty() {
                mine.provider_id = pv.provider_id.clone();
            }
        }
        self.recompute();
    }

    /// The allocation with every float rounded to `digits` decimals (see [`crate::round`]),
    /// for output.
    pub fn rounded(&self, digits: i32) -> Allocation {
        let r = |x: f64| crate::round::round(x, digits);
        Allocation {
            name: self.name.clone(),
            properties: self.properties.clone(),
            start: self.start,
            end: self.end,
            minutes: r(self.minutes),
            cpu_cores: r(self.cpu_cores),
            cpu_core_request_average: r(self.cpu_core_request_average),
            cpu_core_usage_average: r(self.cpu_core_usage_average),
            cpu_core_hours: r(self.cpu_core_hours),
            cpu_cost: r(self.cpu_cost),
            cpu_efficiency: r(self.cpu_efficiency),
            gpu_count: r(self.gpu_count),
            gpu_request_average: r(self.gpu_request_average),
            gpu_usage_average: r(self.gpu_usage_average),
            gpu_hours: r(self.gpu_hours),
            gpu_cost: r(self.gpu_cost),
            load_balancer_cost: r(self.load_balancer_cost),
            pv_bytes: r(self.pv_bytes),
            pv_byte_hours: r(self.pv_byte_hours),
            pv_cost: r(self.pv_cost),
            // As OpenCost: values nested in `pvs` are not rounded.
            pvs: self.pvs.clone(),
            ram_bytes: r(self.ram_bytes),
            ram_byte_request_average: r(self.ram_byte_request_average),
            ram_byte_usage_average: r(self.ram_byte_usage_average),
            ram_byte_hours: r(self.ram_byte_hours),
            ram_cost: r(self.ram_cost),
            ram_efficiency: r(self.ram_efficiency),
            shared_cost: r(self.shared_cost),
            total_cost: r(self.total_cost),
            total_efficiency: r(self.total_efficiency),
        }
    }
}

impl AllocationSet {
    /// A set with allocations sorted by name and clusters sorted and unique.
    pub fn new(clusters: Vec<String>, window: Window, mut allocations: Vec<Allocation>) -> AllocationSet {
        allocations.sort_by(|a, b| a.name.cmp(&b.name));
        let mut clusters = clusters;
        clusters.sort();
        clusters.dedup();
        AllocationSet { clusters, window, allocations }
    }

    /// Accumulates sets of consecutive windows into one over their union, as OpenCost's
    /// `AllocationSetRange.Accumulate`: allocations with the same name are added
    /// ([`Allocation::add`]), and labels, annotations and services, which `add` drops, are
    /// merged back onto each result (later sets' values winning). `None` for no sets.
    pub fn accumulate(sets: &[AllocationSet]) -> Option<AllocationSet> {
        let first = sets.first()?;
        let mut window = first.window;
        let mut clusters = Vec::new();
        let mut by_name: BTreeMap<String, Allocation> = BTreeMap::new();
        let mut labels: BTreeMap<String, Properties> = BTreeMap::new();
        for set in sets {
            window.start = window.start.min(set.window.start);
            window.end = window.end.max(set.window.end);
            clusters.extend(set.clusters.iter().cloned());
            for a in &set.allocations {
                let meta = labels.entry(a.name.clone()).or_default();
                meta.labels.extend(a.properties.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
                meta.annotations.extend(a.properties.annotations.iter().map(|(k, v)| (k.clone(), v.clone())));
                meta.services.extend(a.properties.services.iter().cloned());
                match by_name.get_mut(&a.name) {
                    Some(acc) => acc.add(a),
                    None => {
                        by_name.insert(a.name.clone(), a.clone());
                    }
                }
            }
        }
        let allocations = by_name
            .into_iter()
            .map(|(name, mut a)| {
                if let Some(meta) = labels.remove(&name) {
                    a.properties.labels = meta.labels;
                    a.properties.annotations = meta.annotations;
                    let mut services = meta.services;
                    services.sort();
                    services.dedup();
                    a.properties.services = services;
                }
                a
            })
            .collect();
        Some(AllocationSet::new(clusters, window, allocations))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_set_is_sorted() {
        let a = Allocation { name: "b".into(), ..Allocation::default() };
        let b = Allocation { name: "a".into(), cpu_cost: 0.1, ..Allocation::default() };
        let set = AllocationSet::new(
            vec!["c2".into(), "c1".into(), "c2".into()],
            Window { start: 0, end: 86400 },
            vec![a, b],
        );
        assert_eq!(set.allocations[0].name, "a");
        assert_eq!(set.clusters, ["c1", "c2"]);
    }

    #[test]
    fn extreme_windows_do_not_overflow() {
        assert_eq!(Window { start: 0, end: 86_400 }.hours(), 24.0);
        assert_eq!(Window { start: i64::MIN, end: i64::MAX }.duration_secs(), i64::MAX);
        assert_eq!(Window { start: 10, end: 5 }.duration_secs(), 0);
        assert!(Window::utc_day(i64::MAX - 5).is_err());
    }

    #[test]
    fn efficiency_without_a_request_is_all_or_nothing() {
        assert_eq!(efficiency(0.5, 2.0, 1.0), 0.25);
        assert_eq!(efficiency(0.5, 0.0, 1.0), 1.0);
        assert_eq!(efficiency(0.0, 0.0, 1.0), 0.0);
        assert_eq!(efficiency(0.5, 0.0, 0.0), 0.0);
    }

    #[test]
    fn daily_windows_are_utc_midnight_to_midnight() {
        // 2026-01-01T00:00:00Z.
        let day = 1_767_225_600;
        assert_eq!(Window::utc_day(day), Ok(Window { start: day, end: day + DAY_SECS }));
        assert_eq!(
            Window::utc_day(day + 3600),
            Err(WindowError::NotADay { start: day + 3600, end: day + 3600 + DAY_SECS })
        );
        assert!(Window { start: day, end: day + 2 * DAY_SECS }.check_utc_day().is_err());
        let two = Window { start: day, end: day + 2 * DAY_SECS }.utc_days().unwrap();
        assert_eq!(two.len(), 2);
        assert_eq!(two[1], Window { start: day + DAY_SECS, end: day + 2 * DAY_SECS });
        assert!(Window { start: day, end: day + 3600 }.utc_days().is_err());
    }

    #[test]
    fn long_windows_split_into_pieces_of_the_maximum() {
        let w = Window { start: 0, end: 2 * DAY_SECS + 3600 };
        let parts = w.split(DAY_SECS);
        assert_eq!(
            parts,
            [
                Window { start: 0, end: DAY_SECS },
                Window { start: DAY_SECS, end: 2 * DAY_SECS },
                Window { start: 2 * DAY_SECS, end: 2 * DAY_SECS + 3600 }
            ]
        );
        assert_eq!(w.split(0), [w]);
    }

    #[test]
    fn new_fields_are_left_out_when_empty() {
        let a = Allocation { name: "x".into(), ..Allocation::default() };
        let json = serde_json::to_string(&a).unwrap();
        for absent in ["gpuCost", "pvs", "sharedCost", "controller", "labels", "providerID"] {
            assert!(!json.contains(absent), "{json}");
        }
        let back: Allocation = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn detailed_fields_round_trip() {
        let mut a = Allocation {
            name: "c/n/ns/p/k".into(),
            properties: Properties {
                controller: "web".into(),
                controller_kind: "deployment".into(),
                labels: [("team".to_owned(), "x".to_owned())].into(),
                ..Properties::default()
            },
            minutes: 60.0,
            gpu_hours: 1.0,
            gpu_cost: 0.95,
            ..Allocation::default()
        };
        a.pvs.insert(
            pv_key("c", "pv"),
            PvAllocation { byte_hours: 1.0, cost: 0.1, provider_id: "vol".into() },
        );
        a.recompute();
        let json = serde_json::to_string(&a).unwrap();
        assert!(json.contains("\"cluster=c:name=pv\""), "{json}");
        assert!(json.contains("\"controllerKind\":\"deployment\""), "{json}");
        assert_eq!(serde_json::from_str::<Allocation>(&json).unwrap(), a);
        assert!((a.total_cost - 1.05).abs() < 1e-12);
    }

    #[test]
    fn adding_intersects_properties_and_weights_averages() {
        // Pod 1: 00:00-02:00, 1 core requested; pod 2: 10:00-12:00, 3 cores requested. The
        // sum spans 00:00-12:00 = 720 minutes; request average (1×120 + 3×120) / 720 = 2/3.
        let p = |pod: &str, start: i64, req: f64| Allocation {
            name: pod.into(),
            properties: Properties {
                cluster: "c".into(),
                namespace: "ns".into(),
                pod: pod.into(),
                controller: "web".into(),
                controller_kind: "deployment".into(),
                labels: [("app".to_owned(), "web".to_owned())].into(),
                ..Properties::default()
            },
            start,
            end: start + 7200,
            minutes: 120.0,
            cpu_core_request_average: req,
            cpu_core_hours: req * 2.0,
            cpu_cost: req,
            ..Allocation::default()
        };
        let mut a = p("p1", 0, 1.0);
        a.add(&p("p2", 36_000, 3.0));
        assert_eq!(a.minutes, 720.0);
        assert!((a.cpu_core_request_average - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(a.cpu_core_hours, 8.0);
        assert_eq!(a.total_cost, 4.0);
        assert_eq!(a.properties.pod, "");
        assert_eq!(a.properties.controller, "web");
        assert!(a.properties.labels.is_empty());
    }

    #[test]
    fn accumulating_adds_same_names_and_keeps_labels() {
        let a = |start: i64, label: &str| Allocation {
            name: "c/n/ns/p/k".into(),
            properties: Properties {
                labels: [(label.to_owned(), "1".to_owned())].into(),
                ..Properties::default()
            },
            start,
            end: start + 3600,
            minutes: 60.0,
            cpu_cost: 1.0,
            ..Allocation::default()
        };
        let s1 = AllocationSet::new(vec!["c".into()], Window { start: 0, end: 3600 }, vec![a(0, "x")]);
        let s2 = AllocationSet::new(vec!["c".into()], Window { start: 3600, end: 7200 }, vec![a(3600, "y")]);
        let acc = AllocationSet::accumulate(&[s1, s2]).unwrap();
        assert_eq!(acc.window, Window { start: 0, end: 7200 });
        assert_eq!(acc.allocations.len(), 1);
        assert_eq!(acc.allocations[0].cpu_cost, 2.0);
        assert_eq!(acc.allocations[0].minutes, 120.0);
        assert_eq!(acc.allocations[0].properties.labels.len(), 2);
        assert!(AllocationSet::accumulate(&[]).is_none());
    }
}
