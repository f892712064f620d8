//! What the API answers, in Kubecost's JSON: the envelope (`{"code":200,"status":"success",
//! "data":[…]}`, or `{"code":400,"data":null,"message":"…"}`), one map per step from key to
//! an allocation ([`AllocationJson`], OpenCost's field order) or an asset ([`AssetJson`]).
//!
//! Allocation floats are rounded to 5 decimals ([`ampfed_allocation::round`]), asset floats
//! to 6 (Kubecost writes them with six fixed decimals); NaN and infinities become `null`.
//! Values nested in `pvs` are not rounded, as OpenCost's.

use std::collections::BTreeMap;

use ampfed_allocation::{efficiency, round, Allocation, Properties, Window};
use serde::Serialize;

use crate::window::rfc3339;

/// A rounded number, `null` when not finite.
pub type Num = Option<f64>;

fn num(x: f64, digits: i32) -> Num {
    x.is_finite().then(|| round(x, digits))
}

/// An allocation's number: 5 decimals.
fn a(x: f64) -> Num {
    num(x, 5)
}

/// An asset's number: 6 decimals.
fn n6(x: f64) -> Num {
    num(x, 6)
}

/// `{"start": "…", "end": "…"}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WindowJson {
    pub start: String,
    pub end: String,
}

impl From<Window> for WindowJson {
    fn from(w: Window) -> WindowJson {
        WindowJson { start: rfc3339(w.start), end: rfc3339(w.end) }
    }
}

/// An allocation's `properties`, each field left out when empty.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertiesJson {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub node: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub container: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub controller: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub controller_kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pod: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    #[serde(rename = "providerID", skip_serializing_if = "String::is_empty")]
    pub provider_id: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub namespace_labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub namespace_annotations: BTreeMap<String, String>,
}

impl From<&Properties> for PropertiesJson {
    fn from(p: &Properties) -> PropertiesJson {
        PropertiesJson {
            cluster: p.cluster.clone(),
            node: p.node.clone(),
            container: p.container.clone(),
            controller: p.controller.clone(),
            controller_kind: p.controller_kind.clone(),
            namespace: p.namespace.clone(),
            pod: p.pod.clone(),
            services: p.services.clone(),
            provider_id: p.provider_id.clone(),
            labels: p.labels.clone(),
            annotations: p.annotations.clone(),
            namespace_labels: p.namespace_labels.clone(),
            namespace_annotations: p.namespace_annotations.clone(),
        }
    }
}

/// One PV in an allocation's `pvs`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PvJson {
    pub byte_hours: f64,
    pub cost: f64,
    #[serde(rename = "providerID")]
    pub provider_id: String,
    pub adjustment: f64,
}

/// One allocation as Kubecost's API writes it (OpenCost's field order). Fields ampfed does
/// not compute (adjustments, `*CostIdle`, network, external) are 0; the breakdowns are null.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AllocationJson {
    pub name: String,
    pub properties: PropertiesJson,
    pub window: WindowJson,
    pub start: String,
    pub end: String,
    pub minutes: Num,
    pub cpu_cores: Num,
    pub cpu_core_request_average: Num,
    pub cpu_core_usage_average: Num,
    pub cpu_core_hours: Num,
    pub cpu_cost: Num,
    pub cpu_cost_adjustment: Num,
    pub cpu_cost_idle: Num,
    pub cpu_efficiency: Num,
    pub gpu_count: Num,
    pub gpu_request_average: Num,
    pub gpu_usage_average: Num,
    pub gpu_hours: Num,
    pub gpu_cost: Num,
    pub gpu_cost_adjustment: Num,
    pub gpu_cost_idle: Num,
    pub gpu_efficiency: Num,
    pub network_transfer_bytes: Num,
    pub network_receive_bytes: Num,
    pub network_cost: Num,
    pub network_cross_zone_cost: Num,
    pub network_cross_region_cost: Num,
    pub network_internet_cost: Num,
    pub network_cost_adjustment: Num,
    pub load_balancer_cost: Num,
    pub load_balancer_cost_adjustment: Num,
    pub pv_bytes: Num,
    pub pv_byte_hours: Num,
    pub pv_cost: Num,
    pub pvs: Option<BTreeMap<String, PvJson>>,
    pub pv_cost_adjustment: Num,
    pub ram_bytes: Num,
    pub ram_byte_request_average: Num,
    pub ram_byte_usage_average: Num,
    pub ram_byte_hours: Num,
    pub ram_cost: Num,
    pub ram_cost_adjustment: Num,
    pub ram_cost_idle: Num,
    pub ram_efficiency: Num,
    pub external_cost: Num,
    pub shared_cost: Num,
    pub total_cost: Num,
    pub total_efficiency: Num,
    pub proportional_asset_resource_costs: Option<BTreeMap<String, f64>>,
    pub lb_allocations: Option<BTreeMap<String, f64>>,
    pub shared_cost_breakdown: Option<BTreeMap<String, f64>>,
}

impl AllocationJson {
    /// `x`, named `name`, in the step `window`.
    pub fn new(name: &str, x: &Allocation, window: Window) -> AllocationJson {
        let pvs = (!x.pvs.is_empty()).then(|| {
            x.pvs
                .iter()
                .map(|(k, p)| {
                    let pv = PvJson {
                        byte_hours: p.byte_hours,
                        cost: p.cost,
                        provider_id: p.provider_id.clone(),
                        adjustment: 0.0,
                    };
                    (k.clone(), pv)
                })
                .collect()
        });
        AllocationJson {
            name: name.to_owned(),
            properties: (&x.properties).into(),
            window: window.into(),
            start: rfc3339(x.start),
            end: rfc3339(x.end),
            minutes: a(x.minutes),
            cpu_cores: a(x.cpu_cores),
            cpu_core_request_average: a(x.cpu_core_request_average),
            cpu_core_usage_average: a(x.cpu_core_usage_average),
            cpu_core_hours: a(x.cpu_core_hours),
            cpu_cost: a(x.cpu_cost),
            cpu_cost_adjustment: a(0.0),
            cpu_cost_idle: a(0.0),
            cpu_efficiency: a(x.cpu_efficiency),
            gpu_count: a(x.gpu_count),
            gpu_request_average: a(x.gpu_request_average),
            gpu_usage_average: a(x.gpu_usage_average),
            gpu_hours: a(x.gpu_hours),
            gpu_cost: a(x.gpu_cost),
            gpu_cost_adjustment: a(0.0),
            gpu_cost_idle: a(0.0),
            gpu_efficiency: a(efficiency(x.gpu_usage_average, x.gpu_request_average, x.gpu_cost)),
            network_transfer_bytes: a(0.0),
            network_receive_bytes: a(0.0),
            network_cost: a(0.0),
            network_cross_zone_cost: a(0.0),
            network_cross_region_cost: a(0.0),
            network_internet_cost: a(0.0),
            network_cost_adjustment: a(0.0),
            load_balancer_cost: a(x.load_balancer_cost),
            load_balancer_cost_adjustment: a(0.0),
            pv_bytes: a(x.pv_bytes),
            pv_byte_hours: a(x.pv_byte_hours),
            pv_cost: a(x.pv_cost),
            pvs,
            pv_cost_adjustment: a(0.0),
            ram_bytes: a(x.ram_bytes),
            ram_byte_request_average: a(x.ram_byte_request_average),
            ram_byte_usage_average: a(x.ram_byte_usage_average),
            ram_byte_hours: a(x.ram_byte_hours),
            ram_cost: a(x.ram_cost),
            ram_cost_adjustment: a(0.0),
            ram_cost_idle: a(0.0),
            ram_efficiency: a(x.ram_efficiency),
            external_cost: a(0.0),
            shared_cost: a(x.shared_cost),
            total_cost: a(x.total_cost),
            total_efficiency: a(x.total_efficiency),
            proportional_asset_resource_costs: None,
            lb_allocations: None,
            shared_cost_breakdown: None,
        }
    }
}

/// An asset's `properties`, each field left out when empty.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetPropertiesJson {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub category: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub provider: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub project: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(rename = "providerID", skip_serializing_if = "String::is_empty")]
    pub provider_id: String,
}

/// A Node's own fields.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeJson {
    pub node_type: String,
    pub cpu_cores: Num,
    pub ram_bytes: Num,
    pub cpu_core_hours: Num,
    pub ram_byte_hours: Num,
    #[serde(rename = "GPUHours")]
    pub gpu_hours: Num,
    /// The share of the time the node(s) were preemptible, 0 to 1, as Kubecost's.
    pub preemptible: Num,
    pub discount: Num,
    pub cpu_cost: Num,
    pub gpu_cost: Num,
    pub gpu_count: Num,
    pub ram_cost: Num,
    pub adjustment: Num,
    pub total_cost: Num,
}

/// A Disk's own fields.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiskJson {
    pub byte_hours: Num,
    pub bytes: Num,
    pub adjustment: Num,
    pub total_cost: Num,
    pub storage_class: String,
    pub volume_name: String,
    pub claim_name: String,
    pub claim_namespace: String,
}

/// A LoadBalancer's own fields.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerJson {
    pub adjustment: Num,
    pub total_cost: Num,
    pub private: bool,
    pub ip: String,
}

/// The fields of a ClusterManagement asset, and of an `Any` (assets of several types
/// aggregated together) with its adjustment.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TotalJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adjustment: Option<Num>,
    pub total_cost: Num,
}

/// The type-specific part of an asset.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AssetDetail {
    Node(NodeJson),
    Disk(DiskJson),
    LoadBalancer(LoadBalancerJson),
    Total(TotalJson),
}

/// One asset (or aggregate of assets) as Kubecost's `/model/assets` writes it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetJson {
    #[serde(rename = "type")]
    pub asset_type: String,
    pub properties: AssetPropertiesJson,
    pub labels: BTreeMap<String, String>,
    pub window: WindowJson,
    pub start: String,
    pub end: String,
    pub minutes: Num,
    #[serde(flatten)]
    pub detail: AssetDetail,
}

impl AssetJson {
    /// The asset's `totalCost`.
    pub fn total_cost(&self) -> Num {
        match &self.detail {
            AssetDetail::Node(n) => n.total_cost,
            AssetDetail::Disk(d) => d.total_cost,
            AssetDetail::LoadBalancer(l) => l.total_cost,
            AssetDetail::Total(t) => t.total_cost,
        }
    }
}

/// Builds an asset's number (6 decimals).
pub(crate) fn asset_num(x: f64) -> Num {
    n6(x)
}

/// One step of an answer: its window and its entries by key (sorted).
#[derive(Clone, Debug, PartialEq)]
pub struct Step<T> {
    pub window: Window,
    pub entries: BTreeMap<String, T>,
}

/// What an answer holds.
#[derive(Clone, Debug, PartialEq)]
pub enum ReplyBody {
    Allocations(Vec<Step<AllocationJson>>),
    Assets(Vec<Step<AssetJson>>),
    /// The error message.
    Error(String),
    /// `/healthz`.
    Healthy,
}

/// An answer of the API: the HTTP status (also the envelope's `code`), the body and an
/// optional warning (days with no data).
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    pub code: u16,
    pub body: ReplyBody,
    pub warning: Option<String>,
}

#[derive(Serialize)]
struct Success<'a, T> {
    code: u16,
    status: &'static str,
    data: Vec<&'a BTreeMap<String, T>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<&'a str>,
}

#[derive(Serialize)]
struct Failure<'a> {
    code: u16,
    data: Option<()>,
    message: &'a str,
}

impl Reply {
    /// An error answer.
    pub fn error(code: u16, message: impl Into<String>) -> Reply {
        Reply { code, body: ReplyBody::Error(message.into()), warning: None }
    }

    /// The error message, if this is an error.
    pub fn message(&self) -> Option<&str> {
        match &self.body {
            ReplyBody::Error(m) => Some(m),
            _ => None,
        }
    }

    fn success<T: Serialize>(&self, steps: &[Step<T>], pretty: bool) -> String {
        let body = Success {
            code: self.code,
            status: "success",
            data: steps.iter().map(|s| &s.entries).collect(),
            warning: self.warning.as_deref(),
        };
        let text = if pretty { serde_json::to_string_pretty(&body) } else { serde_json::to_string(&body) };
        text.unwrap_or_else(|e| unreachable!("plain structs serialise: {e}"))
    }

    fn render(&self, pretty: bool) -> String {
        match &self.body {
            ReplyBody::Allocations(steps) => self.success(steps, pretty),
            ReplyBody::Assets(steps) => self.success(steps, pretty),
            ReplyBody::Healthy => self.success::<()>(&[], pretty),
            ReplyBody::Error(message) => {
                let body = Failure { code: self.code, data: None, message };
                let text =
                    if pretty { serde_json::to_string_pretty(&body) } else { serde_json::to_string(&body) };
                text.unwrap_or_else(|e| unreachable!("plain structs serialise: {e}"))
            }
        }
    }

    /// The JSON body, compact.
    pub fn to_json(&self) -> String {
        self.render(false)
    }

    /// The JSON body, indented.
    pub fn to_json_pretty(&self) -> String {
        self.render(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_are_rounded_in_opencost_order_and_nan_is_null() {
        let x = Allocation {
            name: "c/n/ns/p/k".into(),
            properties: Properties { cluster: "c".into(), namespace: "ns".into(), ..Properties::default() },
            start: 1_767_225_600,
            end: 1_767_312_000,
            minutes: 1440.0,
            cpu_cost: 0.123456789,
            ram_cost: f64::NAN,
            total_cost: f64::INFINITY,
            ..Allocation::default()
        };
        let j = AllocationJson::new("ns", &x, Window { start: 1_767_225_600, end: 1_767_312_000 });
        let text = serde_json::to_string(&j).unwrap();
        assert!(text.starts_with(
            r#"{"name":"ns","properties":{"cluster":"c","namespace":"ns"},"window":{"start":"2026-01-01T00:00:00Z","end":"2026-01-02T00:00:00Z"},"start":"2026-01-01T00:00:00Z","end":"2026-01-02T00:00:00Z","minutes":1440.0,"cpuCores":0.0"#
        ), "{text}");
        assert!(text.contains(r#""cpuCost":0.12346,"#), "{text}");
        assert!(text.contains(r#""ramCost":null,"#), "{text}");
        assert!(text.contains(r#""totalCost":null,"#), "{text}");
        assert!(text.contains(r#""pvs":null,"#), "{text}");
        assert!(text.ends_with(r#""lbAllocations":null,"sharedCostBreakdown":null}"#), "{text}");
    }

    #[test]
    fn envelopes() {
        let ok = Reply { code: 200, body: ReplyBody::Allocations(vec![]), warning: Some("w".into()) };
        assert_eq!(ok.to_json(), r#"{"code":200,"status":"success","data":[],"warning":"w"}"#);
        let bad = Reply::error(400, "invalid 'window' parameter: x");
        assert_eq!(bad.to_json(), r#"{"code":400,"data":null,"message":"invalid 'window' parameter: x"}"#);
    }
}
