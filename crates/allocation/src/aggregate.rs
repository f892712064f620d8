//! Allocation queries over a set: [`aggregate`] groups a window's allocations by properties the way Kubecost's
//! `/model/allocation?aggregate=…&accumulate=true` does, summing hours and costs and
//! recomputing efficiencies from the sums.

use std::collections::BTreeMap;
use std::str::FromStr;

use crate::model::{efficiency, Allocation, AllocationSet, Window};
use crate::round::round;
use serde::Serialize;

/// A property to aggregate by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Property {
    Cluster,
    Node,
    Namespace,
    Pod,
    Container,
}

/// An aggregation name that is not supported.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("unknown aggregate {0:?}: use cluster, node, namespace, pod or container, comma-separated")]
pub struct UnknownAggregate(pub String);

impl FromStr for Property {
    type Err = UnknownAggregate;
    fn from_str(s: &str) -> Result<Property, UnknownAggregate> {
        Ok(match s {
            "cluster" => Property::Cluster,
            "node" => Property::Node,
            "namespace" => Property::Namespace,
            "pod" => Property::Pod,
            "container" => Property::Container,
            _ => return Err(UnknownAggregate(s.to_owned())),
        })
    }
}

/// Parses `namespace,cluster` into properties.
pub fn parse_aggregate(s: &str) -> Result<Vec<Property>, UnknownAggregate> {
    s.split(',').map(|p| p.trim().parse()).collect()
}

/// One aggregated row; field names as in Kubecost's allocation API.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub name: String,
    pub allocations: usize,
    pub minutes: f64,
    pub cpu_core_hours: f64,
    pub cpu_core_request_average: f64,
    pub cpu_core_usage_average: f64,
    pub cpu_cost: f64,
    pub cpu_efficiency: f64,
    pub ram_byte_hours: f64,
    pub ram_byte_request_average: f64,
    pub ram_byte_usage_average: f64,
    pub ram_cost: f64,
    pub ram_efficiency: f64,
    pub total_cost: f64,
    pub total_efficiency: f64,
}

impl Row {
    /// The row with every float rounded to `digits` decimals, as OpenCost rounds its output.
    pub fn rounded(&self, digits: i32) -> Row {
        let r = |x: f64| round(x, digits);
        Row {
            name: self.name.clone(),
            allocations: self.allocations,
            minutes: r(self.minutes),
            cpu_core_hours: r(self.cpu_core_hours),
            cpu_core_request_average: r(self.cpu_core_request_average),
            cpu_core_usage_average: r(self.cpu_core_usage_average),
            cpu_cost: r(self.cpu_cost),
            cpu_efficiency: r(self.cpu_efficiency),
            ram_byte_hours: r(self.ram_byte_hours),
            ram_byte_request_average: r(self.ram_byte_request_average),
            ram_byte_usage_average: r(self.ram_byte_usage_average),
            ram_cost: r(self.ram_cost),
            ram_efficiency: r(self.ram_efficiency),
            total_cost: r(self.total_cost),
            total_efficiency: r(self.total_efficiency),
        }
    }
}

fn key(a: &Allocation, by: &[Property]) -> String {
    by.iter()
        .map(|p| {
            let v = match p {
                Property::Cluster => &a.properties.cluster,
                Property::Node => &a.properties.node,
                Property::Namespace => &a.properties.namespace,
                Property::Pod => &a.properties.pod,
                Property::Container => &a.properties.container,
            };
            if v.is_empty() {
                "__unallocated__"
            } else {
                v.as_str()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[derive(Default)]
struct Sums {
    allocations: usize,
    /// Earliest start and latest end of the members (unix seconds).
    start: Option<i64>,
    end: Option<i64>,
    cpu_core_hours: f64,
    cpu_request_hours: f64,
    cpu_usage_hours: f64,
    cpu_cost: f64,
    ram_byte_hours: f64,
    ram_request_hours: f64,
    ram_usage_hours: f64,
    ram_cost: f64,
}

/// Aggregates a set by `by`, rows sorted by name. A group runs from its members' earliest
/// start to their latest end; its request and usage averages are the members' hour-weighted
/// sums over that span (Kubecost's `Allocation.add`).
pub fn aggregate(set: &AllocationSet, by: &[Property]) -> Vec<Row> {
    let mut groups: BTreeMap<String, Sums> = BTreeMap::new();
    for a in &set.allocations {
        let hours = a.minutes / 60.0;
        let s = groups.entry(key(a, by)).or_default();
        s.allocations += 1;
        s.start = Some(s.start.map_or(a.start, |t| t.min(a.start)));
        s.end = Some(s.end.map_or(a.end, |t| t.max(a.end)));
        s.cpu_core_hours += a.cpu_core_hours;
        s.cpu_request_hours += a.cpu_core_request_average * hours;
        s.cpu_usage_hours += a.cpu_core_usage_average * hours;
        s.cpu_cost += a.cpu_cost;
        s.ram_byte_hours += a.ram_byte_hours;
        s.ram_request_hours += a.ram_byte_request_average * hours;
        s.ram_usage_hours += a.ram_byte_usage_average * hours;
        s.ram_cost += a.ram_cost;
    }
    groups
        .into_iter()
        .map(|(name, s)| {
            // As Kubecost's Allocation.add: the group spans its members' earliest start to
            // latest end, and averages are the hour-weighted sums over that span.
            let span = Window { start: s.start.unwrap_or(0), end: s.end.unwrap_or(0) };
            let minutes = span.duration_secs() as f64 / 60.0;
            let hours = minutes / 60.0;
            let avg = |x: f64| if hours > 0.0 { x / hours } else { 0.0 };
            let cpu_efficiency = efficiency(s.cpu_usage_hours, s.cpu_request_hours, s.cpu_cost);
            let ram_efficiency = efficiency(s.ram_usage_hours, s.ram_request_hours, s.ram_cost);
            let total_cost = s.cpu_cost + s.ram_cost;
            Row {
                name,
                allocations: s.allocations,
                minutes,
                cpu_core_hours: s.cpu_core_hours,
                cpu_core_request_average: avg(s.cpu_request_hours),
                cpu_core_usage_average: avg(s.cpu_usage_hours),
                cpu_cost: s.cpu_cost,
                cpu_efficiency,
                ram_byte_hours: s.ram_byte_hours,
                ram_byte_request_average: avg(s.ram_request_hours),
                ram_byte_usage_average: avg(s.ram_usage_hours),
                ram_cost: s.ram_cost,
                ram_efficiency,
                total_cost,
                total_efficiency: if total_cost > 0.0 {
                    (cpu_efficiency * s.cpu_cost + ram_efficiency * s.ram_cost) / total_cost
                } else {
                    0.0
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Properties;

    fn alloc(cluster: &str, ns: &str, pod: &str, cpu_req: f64, cpu_use: f64, cost: f64) -> Allocation {
        Allocation {
            name: format!("{cluster}/n/{ns}/{pod}/c"),
            properties: Properties {
                cluster: cluster.into(),
                node: "n".into(),
                namespace: ns.into(),
                pod: pod.into(),
                container: "c".into(),
                ..Properties::default()
            },
            start: 0,
            end: 86_400,
            minutes: 1440.0,
            cpu_core_hours: cpu_req * 24.0,
            cpu_core_request_average: cpu_req,
            cpu_core_usage_average: cpu_use,
            cpu_cost: cost,
            total_cost: cost,
            ..Allocation::default()
        }
    }

    #[test]
    fn sums_costs_and_recomputes_efficiency_from_sums() {
        let set = AllocationSet::new(
            vec!["a".into(), "b".into()],
            Window { start: 0, end: 86_400 },
            vec![
                alloc("a", "web", "p1", 1.0, 0.5, 1.0),
                alloc("b", "web", "p2", 3.0, 0.5, 3.0),
                alloc("a", "db", "p3", 1.0, 1.0, 2.0),
            ],
        );
        let rows = aggregate(&set, &[Property::Namespace]);
        assert_eq!(rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["db", "web"]);
        let web = &rows[1];
        assert_eq!(web.allocations, 2);
        assert_eq!(web.total_cost, 4.0);
        assert_eq!(web.cpu_core_request_average, 4.0);
        assert_eq!(web.cpu_efficiency, 0.25);
        let by_cluster = aggregate(&set, &parse_aggregate("cluster").unwrap());
        assert_eq!(by_cluster[0].total_cost, 3.0);
    }

    #[test]
    fn a_group_spans_its_members_and_averages_over_that_span() {
        // Two 2-hour pods, 00:00-02:00 and 10:00-12:00, each requesting 1 core.
        let pod = |name: &str, start: i64| Allocation {
            start,
            end: start + 7200,
            minutes: 120.0,
            cpu_core_hours: 2.0,
            cpu_core_request_average: 1.0,
            ..alloc("a", "batch", name, 1.0, 0.0, 0.0)
        };
        let set = AllocationSet::new(
            vec!["a".into()],
            Window { start: 0, end: 86_400 },
            vec![pod("p1", 0), pod("p2", 36_000)],
        );
        let row = &aggregate(&set, &[Property::Namespace])[0];
        assert_eq!(row.minutes, 720.0);
        assert_eq!(row.cpu_core_hours, 4.0);
        assert!((row.cpu_core_request_average - 4.0 / 12.0).abs() < 1e-12);
    }

    #[test]
    fn unknown_aggregates_are_named() {
        assert_eq!(parse_aggregate("namespace,colour"), Err(UnknownAggregate("colour".into())));
    }

    #[test]
    fn rounding_is_to_the_given_digits() {
        let row = Row { cpu_cost: 0.123456789, ram_cost: -0.000001, ..Row::default() }.rounded(5);
        assert_eq!(row.cpu_cost, 0.12346);
        assert_eq!(row.ram_cost.to_bits(), 0f64.to_bits());
    }
}
