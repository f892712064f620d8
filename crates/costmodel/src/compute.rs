//! From query results to CPU and RAM allocations, with OpenCost's formulas: the original model
//! behind `CostModel::compute` (the detailed model is `detail`). A missing, zero, negative or
//! non-finite node price takes the default here.

use std::collections::{BTreeMap, BTreeSet};

use ampfed_allocation::{efficiency, Allocation, Properties, Window};
use ampfed_prom::{InstantSample, RangeSeries};

use crate::pricing::{DEFAULT_CPU_PRICE, DEFAULT_RAM_PRICE};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The query results one computation needs.
pub(crate) struct Inputs {
    pub running: Vec<RangeSeries>,
    pub cpu_alloc: Vec<InstantSample>,
    pub cpu_request: Vec<InstantSample>,
    pub cpu_usage: Vec<InstantSample>,
    pub ram_alloc: Vec<InstantSample>,
    pub ram_request: Vec<InstantSample>,
    pub ram_usage: Vec<InstantSample>,
    pub cpu_price: Vec<InstantSample>,
    pub ram_price: Vec<InstantSample>,
}

/// `(namespace, pod, container)`.
type Key = (String, String, String);

fn label<'a>(s: &'a InstantSample, names: &[&str]) -> &'a str {
    names.iter().filter_map(|n| s.labels.get(*n)).find(|v| !v.is_empty()).map(String::as_str).unwrap_or("")
}

fn key(s: &InstantSample) -> Key {
    (
        label(s, &["namespace"]).to_owned(),
        label(s, &["pod", "pod_name"]).to_owned(),
        label(s, &["container", "container_name"]).to_owned(),
    )
}

fn by_key(samples: &[InstantSample]) -> BTreeMap<Key, (f64, String)> {
    samples
        .iter()
        .filter(|s| s.value.is_finite())
        .map(|s| (key(s), (s.value, label(s, &["node"]).to_owned())))
        .collect()
}

fn prices(samples: &[InstantSample]) -> BTreeMap<String, f64> {
    samples.iter().map(|s| (label(s, &["node"]).to_owned(), s.value)).collect()
}

fn price(prices: &BTreeMap<String, f64>, node: &str, default: f64) -> f64 {
    match prices.get(node) {
        Some(&p) if p.is_finite() && p > 0.0 => p,
        _ => default,
    }
}

/// Pod run windows `(namespace, pod) → (start, end)`: first and last sample, a lone sample
/// counting as ± half a resolution step, clamped to the window.
fn pod_windows(
    running: &[RangeSeries],
    window: Window,
    resolution: i64,
) -> BTreeMap<(String, String), (i64, i64)> {
    let mut out = BTreeMap::new();
    for s in running {
        let (Some(first), Some(last)) = (s.points.first(), s.points.last()) else { continue };
        let (mut start, mut end) = (first.0.round() as i64, last.0.round() as i64);
        if start == end {
            start -= resolution / 2;
            end += resolution / 2;
        }
        let (start, end) = (start.max(window.start), end.min(window.end));
        let get = |n: &str| s.labels.get(n).cloned().unwrap_or_default();
        let entry = out.entry((get("namespace"), get("pod"))).or_insert((start, end));
        entry.0 = entry.0.min(start);
        entry.1 = entry.1.max(end);
    }
    out
}

pub(crate) fn allocations(
    cluster: &str,
    window: Window,
    resolution: i64,
    inputs: &Inputs,
) -> Vec<Allocation> {
    let pods = pod_windows(&inputs.running, window, resolution);
    let cpu_alloc = by_key(&inputs.cpu_alloc);
    let cpu_request = by_key(&inputs.cpu_request);
    let cpu_usage = by_key(&inputs.cpu_usage);
    let ram_alloc = by_key(&inputs.ram_alloc);
    let ram_request = by_key(&inputs.ram_request);
    let ram_usage = by_key(&inputs.ram_usage);
    let cpu_prices = prices(&inputs.cpu_price);
    let ram_prices = prices(&inputs.ram_price);

    let keys: BTreeSet<&Key> = cpu_alloc
        .keys()
        .chain(cpu_request.keys())
        .chain(ram_alloc.keys())
        .chain(ram_request.keys())
        .collect();
    let mut out = Vec::new();
    for k in keys {
        let (namespace, pod, container) = k;
        let Some(&(start, end)) = pods.get(&(namespace.clone(), pod.clone())) else {
            tracing::warn!(cluster, namespace, pod, container, "no running time for the pod; skipped");
            continue;
        };
        let node = [&cpu_alloc, &cpu_request, &ram_alloc, &ram_request]
            .iter()
            .filter_map(|m| m.get(k))
            .map(|(_, node)| node.clone())
            .find(|n| !n.is_empty())
            .unwrap_or_default();
        let value = |m: &BTreeMap<Key, (f64, String)>| m.get(k).map_or(0.0, |(v, _)| *v);
        let minutes = (end - start) as f64 / 60.0;
        let hours = minutes / 60.0;

        let cpu_req = value(&cpu_request);
        let cpu_core_hours = (value(&cpu_alloc) * hours).max(cpu_req * hours);
        let cpu_cost = cpu_core_hours * price(&cpu_prices, &node, DEFAULT_CPU_PRICE);
        let cpu_use = value(&cpu_usage);

        let ram_req = value(&ram_request);
        let ram_byte_hours = (value(&ram_alloc) * hours).max(ram_req * hours);
        let ram_cost = ram_byte_hours / GIB * price(&ram_prices, &node, DEFAULT_RAM_PRICE);
        let ram_use = value(&ram_usage);

        let cpu_efficiency = efficiency(cpu_use, cpu_req, cpu_cost);
        let ram_efficiency = efficiency(ram_use, ram_req, ram_cost);
        let total_cost = cpu_cost + ram_cost;
        let total_efficiency = if total_cost > 0.0 {
            (cpu_efficiency * cpu_cost + ram_efficiency * ram_cost) / total_cost
        } else {
            0.0
        };
        let per_hour = |x: f64| if hours > 0.0 { x / hours } else { 0.0 };
        out.push(Allocation {
            name: format!("{cluster}/{node}/{namespace}/{pod}/{container}"),
            properties: Properties {
                cluster: cluster.to_owned(),
                node: node.clone(),
                namespace: namespace.clone(),
                pod: pod.clone(),
                container: container.clone(),
                ..Properties::default()
            },
            start,
            end,
            minutes,
            cpu_cores: per_hour(cpu_core_hours),
            cpu_core_request_average: cpu_req,
            cpu_core_usage_average: cpu_use,
            cpu_core_hours,
            cpu_cost,
            cpu_efficiency,
            ram_bytes: per_hour(ram_byte_hours),
            ram_byte_request_average: ram_req,
            ram_byte_usage_average: ram_use,
            ram_byte_hours,
            ram_cost,
            ram_efficiency,
            total_cost,
            total_efficiency,
            ..Allocation::default()
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(labels: &[(&str, &str)], value: f64) -> InstantSample {
        InstantSample {
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            timestamp: 0.0,
            value,
        }
    }

    fn c(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut l = vec![("namespace", "ns"), ("pod", "p"), ("container", "c"), ("node", "n1")];
        l.extend_from_slice(extra);
        l
    }

    #[test]
    fn formulas_match_opencost() {
        let window = Window { start: 0, end: 86_400 };
        let running = RangeSeries {
            labels: [("namespace", "ns"), ("pod", "p")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            points: vec![(0.0, 1.0), (43_200.0, 1.0)],
        };
        let inputs = Inputs {
            running: vec![running],
            // Allocation averages 0.4 cores but the request is 0.5: the request wins.
            cpu_alloc: vec![sample(&c(&[]), 0.4)],
            cpu_request: vec![sample(&c(&[]), 0.5)],
            cpu_usage: vec![sample(&[("namespace", "ns"), ("pod", "p"), ("container", "c")], 0.25)],
            ram_alloc: vec![sample(&c(&[]), 2.0 * GIB)],
            ram_request: vec![sample(&c(&[]), GIB)],
            ram_usage: vec![sample(&[("namespace", "ns"), ("pod_name", "p"), ("container_name", "c")], GIB)],
            cpu_price: vec![sample(&[("node", "n1")], 0.04)],
            ram_price: vec![],
        };
        let a = &allocations("k", window, 300, &inputs)[0];
        assert_eq!(a.name, "k/n1/ns/p/c");
        assert_eq!(a.minutes, 720.0);
        assert!((a.cpu_core_hours - 6.0).abs() < 1e-12);
        assert!((a.cpu_cost - 0.24).abs() < 1e-12);
        assert!((a.cpu_efficiency - 0.5).abs() < 1e-12);
        // RAM: allocation 2 GiB over 12 h at the default price.
        assert!((a.ram_byte_hours - 24.0 * GIB).abs() < 1.0);
        assert!((a.ram_cost - 24.0 * DEFAULT_RAM_PRICE).abs() < 1e-12);
        assert!((a.ram_efficiency - 1.0).abs() < 1e-12);
        let expected = (0.5 * a.cpu_cost + a.ram_cost) / (a.cpu_cost + a.ram_cost);
        assert!((a.total_efficiency - expected).abs() < 1e-12);
    }

    #[test]
    fn efficiency_without_request() {
        assert_eq!(efficiency(0.0, 0.0, 1.0), 0.0);
        assert_eq!(efficiency(0.2, 0.0, 0.0), 0.0);
        assert_eq!(efficiency(0.2, 0.0, 1.0), 1.0);
    }

    #[test]
    fn a_lone_sample_counts_half_a_step_each_side_clamped() {
        let window = Window { start: 0, end: 1000 };
        let s = |t: f64| RangeSeries {
            labels: [("namespace", "ns"), ("pod", "p")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            points: vec![(t, 1.0)],
        };
        assert_eq!(pod_windows(&[s(500.0)], window, 300)[&("ns".into(), "p".into())], (350, 650));
        assert_eq!(pod_windows(&[s(1000.0)], window, 300)[&("ns".into(), "p".into())], (850, 1000));
    }
}
