//! `/model/assets`'s engine: each day's [`AssetSet`] becomes rows ([`AssetRow`]: Node, Disk,
//! LoadBalancer, ClusterManagement), filtered, keyed by the aggregate properties (or
//! Kubecost's unaggregated key `provider/account/project/category/cluster/type/service/
//! providerID/name`, empty parts `__undefined__`), merged per key, then per step and group as
//! allocations are ([`crate::collect`]).
//!
//! Rows of one type merge into that type (sums of hours and costs, spans from the earliest
//! start to the latest end, capacities re-averaged over the span, a Node's discount weighted
//! by its CPU and RAM cost, its preemptibility by its minutes); rows of different types merge
//! into an `Any` with only the adjustment and total cost. Properties and labels keep what
//! all members agree on.

use std::borrow::Cow;
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

use ampfed_allocation::{AssetSet, Window};

use crate::collect::{Collector, Merge, Sets, Stats};
use crate::error::ApiError;
use crate::filter::Subject;
use crate::json::{
    asset_num, AssetDetail, AssetJson, AssetPropertiesJson, DiskJson, LoadBalancerJson, NodeJson, TotalJson,
};
use crate::params::{AssetProperty, AssetRequest};
use crate::source::EtlSource;
use crate::window::rfc3339;

/// An empty key part.
pub const UNDEFINED: &str = "__undefined__";

/// What an asset is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssetKind {
    Node,
    Disk,
    LoadBalancer,
    ClusterManagement,
    /// Several types merged.
    Any,
}

impl AssetKind {
    pub fn name(self) -> &'static str {
        match self {
            AssetKind::Node => "Node",
            AssetKind::Disk => "Disk",
            AssetKind::LoadBalancer => "LoadBalancer",
            AssetKind::ClusterManagement => "ClusterManagement",
            AssetKind::Any => "Any",
        }
    }

    /// OpenCost's asset category.
    fn category(self) -> &'static str {
        match self {
            AssetKind::Node => "Compute",
            AssetKind::Disk => "Storage",
            AssetKind::LoadBalancer => "Network",
            AssetKind::ClusterManagement => "Management",
            AssetKind::Any => "",
        }
    }
}

/// One asset, or several merged, over (part of) a window.
#[derive(Clone, Debug, PartialEq)]
pub struct AssetRow {
    pub kind: AssetKind,
    pub properties: AssetPropertiesJson,
    pub labels: BTreeMap<String, String>,
    pub start: i64,
    pub end: i64,
    pub node_type: String,
    pub cpu_core_hours: f64,
    pub ram_byte_hours: f64,
    pub gpu_hours: f64,
    pub cpu_cost: f64,
    pub gpu_cost: f64,
    pub ram_cost: f64,
    /// Σ discount × (CPU + RAM cost).
    discount_weight: f64,
    /// Σ minutes preemptible, and Σ minutes.
    preemptible_minutes: f64,
    node_minutes: f64,
    pub byte_hours: f64,
    pub storage_class: String,
    pub claim_name: String,
    pub claim_namespace: String,
    pub private: bool,
    pub ip: String,
    pub adjustment: f64,
    pub total_cost: f64,
}

impl AssetRow {
    fn new(kind: AssetKind, cluster: &str, name: &str, provider_id: &str, start: i64, end: i64) -> AssetRow {
        AssetRow {
            kind,
            properties: AssetPropertiesJson {
                category: kind.category().to_owned(),
                cluster: cluster.to_owned(),
                name: name.to_owned(),
                provider_id: provider_id.to_owned(),
                ..AssetPropertiesJson::default()
            },
            labels: BTreeMap::new(),
            start,
            end,
            node_type: String::new(),
            cpu_core_hours: 0.0,
            ram_byte_hours: 0.0,
            gpu_hours: 0.0,
            cpu_cost: 0.0,
            gpu_cost: 0.0,
            ram_cost: 0.0,
            discount_weight: 0.0,
            preemptible_minutes: 0.0,
            node_minutes: 0.0,
            byte_hours: 0.0,
            storage_class: String::new(),
            claim_name: String::new(),
            claim_namespace: String::new(),
            private: false,
            ip: String::new(),
            adjustment: 0.0,
            total_cost: 0.0,
        }
    }

    fn hours(&self) -> f64 {
        Window { start: self.start, end: self.end }.duration_secs() as f64 / 3600.0
    }

    /// The JSON of the row in the step `window`.
    pub fn to_json(&self, window: Window) -> AssetJson {
        let hours = self.hours();
        let per_hour = |x: f64| if hours > 0.0 { x / hours } else { 0.0 };
        let n = asset_num;
        let detail = match self.kind {
            AssetKind::Node => {
                let cpu_ram = self.cpu_cost + self.ram_cost;
                AssetDetail::Node(NodeJson {
                    node_type: self.node_type.clone(),
                    cpu_cores: n(per_hour(self.cpu_core_hours)),
                    ram_bytes: n(per_hour(self.ram_byte_hours)),
                    cpu_core_hours: n(self.cpu_core_hours),
                    ram_byte_hours: n(self.ram_byte_hours),
                    gpu_hours: n(self.gpu_hours),
                    preemptible: n(if self.node_minutes > 0.0 {
                        self.preemptible_minutes / self.node_minutes
                    } else {
                        0.0
                    }),
                    discount: n(if cpu_ram != 0.0 { self.discount_weight / cpu_ram } else { 0.0 }),
                    cpu_cost: n(self.cpu_cost),
                    gpu_cost: n(self.gpu_cost),
                    gpu_count: n(per_hour(self.gpu_hours)),
                    ram_cost: n(self.ram_cost),
                    adjustment: n(self.adjustment),
                    total_cost: n(self.total_cost),
                })
            }
            AssetKind::Disk => AssetDetail::Disk(DiskJson {
                byte_hours: n(self.byte_hours),
                bytes: n(per_hour(self.byte_hours)),
                adjustment: n(self.adjustment),
                total_cost: n(self.total_cost),
                storage_class: self.storage_class.clone(),
                volume_name: self.properties.name.clone(),
                claim_name: self.claim_name.clone(),
                claim_namespace: self.claim_namespace.clone(),
            }),
            AssetKind::LoadBalancer => AssetDetail::LoadBalancer(LoadBalancerJson {
                adjustment: n(self.adjustment),
                total_cost: n(self.total_cost),
                private: self.private,
                ip: self.ip.clone(),
            }),
            AssetKind::ClusterManagement => {
                AssetDetail::Total(TotalJson { adjustment: None, total_cost: n(self.total_cost) })
            }
            AssetKind::Any => AssetDetail::Total(TotalJson {
                adjustment: Some(n(self.adjustment)),
                total_cost: n(self.total_cost),
            }),
        };
        AssetJson {
            asset_type: self.kind.name().to_owned(),
            properties: self.properties.clone(),
            labels: self.labels.clone(),
            window: window.into(),
            start: rfc3339(self.start),
            end: rfc3339(self.end),
            minutes: n(hours * 60.0),
            detail,
        }
    }

    /// The value of `p` in this row's key.
    fn key_part(&self, p: &AssetProperty) -> String {
        let props = &self.properties;
        let v = match p {
            AssetProperty::Account => props.account.clone(),
            AssetProperty::Category => props.category.clone(),
            AssetProperty::Cluster => props.cluster.clone(),
            AssetProperty::Name => props.name.clone(),
            AssetProperty::Project => props.project.clone(),
            AssetProperty::Provider => props.provider.clone(),
            AssetProperty::ProviderId => props.provider_id.clone(),
            AssetProperty::Service => props.service.clone(),
            AssetProperty::Type => self.kind.name().to_owned(),
            AssetProperty::Label(k) => match self.labels.get(k) {
                Some(v) => format!("{k}={v}"),
                None => String::new(),
            },
        };
        if v.is_empty() {
            UNDEFINED.to_owned()
        } else {
            v
        }
    }

    /// The row's key for `by`; Kubecost's full key when `by` is empty.
    pub fn key(&self, by: &[AssetProperty]) -> String {
        const FULL: [AssetProperty; 9] = [
            AssetProperty::Provider,
            AssetProperty::Account,
            AssetProperty::Project,
            AssetProperty::Category,
            AssetProperty::Cluster,
            AssetProperty::Type,
            AssetProperty::Service,
            AssetProperty::ProviderId,
            AssetProperty::Name,
        ];
        let by = if by.is_empty() { &FULL[..] } else { by };
        by.iter().map(|p| self.key_part(p)).collect::<Vec<_>>().join("/")
    }

    fn without_adjustment(mut self) -> AssetRow {
        self.total_cost -= self.adjustment;
        self.adjustment = 0.0;
        self
    }
}

fn keep(a: &mut String, b: &str) {
    if a != b {
        a.clear();
    }
}

impl Merge for AssetRow {
    fn merge(&mut self, o: AssetRow) {
        if self.kind != o.kind {
            self.kind = AssetKind::Any;
        }
        let p = &mut self.properties;
        keep(&mut p.category, &o.properties.category);
        keep(&mut p.provider, &o.properties.provider);
        keep(&mut p.account, &o.properties.account);
        keep(&mut p.project, &o.properties.project);
        keep(&mut p.service, &o.properties.service);
        keep(&mut p.cluster, &o.properties.cluster);
        keep(&mut p.name, &o.properties.name);
        keep(&mut p.provider_id, &o.properties.provider_id);
        self.labels.retain(|k, v| o.labels.get(k) == Some(v));
        self.start = self.start.min(o.start);
        self.end = self.end.max(o.end);
        keep(&mut self.node_type, &o.node_type);
        keep(&mut self.storage_class, &o.storage_class);
        keep(&mut self.claim_name, &o.claim_name);
        keep(&mut self.claim_namespace, &o.claim_namespace);
        keep(&mut self.ip, &o.ip);
        self.private = self.private && o.private;
        self.cpu_core_hours += o.cpu_core_hours;
        self.ram_byte_hours += o.ram_byte_hours;
        self.gpu_hours += o.gpu_hours;
        self.cpu_cost += o.cpu_cost;
        self.gpu_cost += o.gpu_cost;
        self.ram_cost += o.ram_cost;
        self.discount_weight += o.discount_weight;
        self.preemptible_minutes += o.preemptible_minutes;
        self.node_minutes += o.node_minutes;
        self.byte_hours += o.byte_hours;
        self.adjustment += o.adjustment;
        self.total_cost += o.total_cost;
    }
}

/// The rows of one day's asset set.
pub fn rows(set: &AssetSet) -> Vec<AssetRow> {
    let mut out = Vec::new();
    for n in &set.nodes {
        let mut r = AssetRow::new(AssetKind::Node, &n.cluster, &n.name, &n.provider_id, n.start, n.end);
        r.labels = n.labels.clone();
        r.node_type = n.node_type.clone();
        r.cpu_core_hours = n.cpu_core_hours;
        r.ram_byte_hours = n.ram_byte_hours;
        r.gpu_hours = n.gpu_hours;
        r.cpu_cost = n.cpu_cost;
        r.gpu_cost = n.gpu_cost;
        r.ram_cost = n.ram_cost;
        r.discount_weight = n.discount * (n.cpu_cost + n.ram_cost);
        r.node_minutes = n.minutes;
        r.preemptible_minutes = if n.preemptible { n.minutes } else { 0.0 };
        r.adjustment = n.adjustment;
        r.total_cost = n.total_cost;
        out.push(r);
    }
    for d in &set.disks {
        let mut r = AssetRow::new(AssetKind::Disk, &d.cluster, &d.name, &d.provider_id, d.start, d.end);
        r.byte_hours = d.byte_hours;
        r.storage_class = d.storage_class.clone();
        r.claim_name = d.claim_name.clone();
        r.claim_namespace = d.claim_namespace.clone();
        r.adjustment = d.adjustment;
        r.total_cost = d.total_cost;
        out.push(r);
    }
    for l in &set.load_balancers {
        let mut r =
            AssetRow::new(AssetKind::LoadBalancer, &l.cluster, &l.name, &l.provider_id, l.start, l.end);
        r.private = l.private;
        r.ip = l.ip.clone();
        r.adjustment = l.adjustment;
        r.total_cost = l.total_cost;
        out.push(r);
    }
    for m in &set.cluster_management {
        let mut r = AssetRow::new(AssetKind::ClusterManagement, &m.cluster, "", "", m.start, m.end);
        r.adjustment = m.adjustment;
        r.total_cost = m.total_cost;
        out.push(r);
    }
    out
}

impl Subject for AssetRow {
    fn text(&self, field: &str) -> Cow<'_, str> {
        let p = &self.properties;
        Cow::Borrowed(match field {
            "cluster" => &p.cluster,
            "name" => &p.name,
            "type" => self.kind.name(),
            "category" => &p.category,
            "provider" => &p.provider,
            "providerID" => &p.provider_id,
            "account" => &p.account,
            "project" => &p.project,
            "service" => &p.service,
            _ => "",
        })
    }

    fn list(&self, _field: &str) -> &[String] {
        &[]
    }

    fn map(&self, field: &str) -> Option<&BTreeMap<String, String>> {
        (field == "label").then_some(&self.labels)
    }
}

/// One day's rows by key.
pub fn answer_day(set: &AssetSet, req: &AssetRequest) -> BTreeMap<String, AssetRow> {
    let mut out: BTreeMap<String, AssetRow> = BTreeMap::new();
    for r in rows(set) {
        if req.filter.as_ref().is_some_and(|f| !f.matches(&r)) {
            continue;
        }
        let r = if req.disable_adjustments { r.without_adjustment() } else { r };
        match out.entry(r.key(&req.aggregate)) {
            Entry::Occupied(mut e) => e.get_mut().merge(r),
            Entry::Vacant(e) => {
                e.insert(r);
            }
        }
    }
    out
}

/// The answer to `req` from `source`.
pub async fn asset_sets(
    source: &dyn EtlSource,
    req: &AssetRequest,
) -> Result<(Sets<AssetRow>, Stats), ApiError> {
    let steps = req.steps();
    let mut c = Collector::new(req.accumulate);
    let last = steps.len().saturating_sub(1);
    for (i, step) in steps.into_iter().enumerate() {
        c.start_step(step);
        for day in crate::window::units(step, req.unit) {
            let Some(set) = source.asset_day(day).await? else {
                c.missing(day);
                continue;
            };
            let raw =
                set.nodes.len() + set.disks.len() + set.load_balancers.len() + set.cluster_management.len();
            let rows = answer_day(&set, req);
            drop(set);
            c.add_day(raw, rows);
        }
        c.end_step(i == last);
    }
    Ok(c.finish())
}
