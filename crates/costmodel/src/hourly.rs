//! Hourly sets from one day's queries: OpenCost's 1h ETL without 24 times the PromQL. The
//! day's instant queries (averages over `[<window>]`) are asked once more as range queries over
//! `[3600s]`, one step per hour end ([`CostModel::fetch_hours`](crate::CostModel::fetch_hours)),
//! and the day's subqueries (when a pod, node, volume, load balancer or the cluster ran) are cut
//! into the hours ([`hourly_results`]); a node's price, spot and GPU samples are kept only in
//! the hours the node ran. So an hour sees the running time inside it and the
//! averages of its own samples, and a constant container's hourly costs add up to its daily
//! cost exactly: `max(allocation, request) × hours` is linear in the hours.
//!
//! The two tables ([`instant_queries`], [`subqueries`]) are the one list of the detailed
//! model's queries and the [`QueryResults`] field each one fills.

use std::collections::BTreeSet;

use ampfed_allocation::Window;
use ampfed_prom::{InstantSample, RangeSeries};

use crate::queries::Queries;
use crate::results::{start_end, QueryResults};

/// Seconds in an hour.
pub(crate) const HOUR_SECS: i64 = 3_600;

/// The field of [`QueryResults`] an instant query fills.
pub(crate) type InstantSlot = fn(&mut QueryResults) -> &mut Vec<InstantSample>;
/// The field of [`QueryResults`] a subquery fills.
pub(crate) type RangeSlot = fn(&mut QueryResults) -> &mut Vec<RangeSeries>;

/// Every instant query of the detailed model with the field it fills (35).
pub(crate) fn instant_queries(q: &Queries) -> [(InstantSlot, String); 35] {
    [
        (|r| &mut r.cpu_alloc, q.cpu_allocation()),
        (|r| &mut r.cpu_request, q.requests("cpu", "core")),
        (|r| &mut r.cpu_usage, q.cpu_usage()),
        (|r| &mut r.ram_alloc, q.ram_allocation()),
        (|r| &mut r.ram_request, q.requests("memory", "byte")),
        (|r| &mut r.ram_usage, q.ram_usage()),
        (|r| &mut r.gpu_request, q.gpu_requests()),
        (|r| &mut r.gpu_alloc, q.gpu_allocation()),
        (|r| &mut r.cpu_price, q.node_price("node_cpu_hourly_cost")),
        (|r| &mut r.ram_price, q.node_price("node_ram_hourly_cost")),
        (|r| &mut r.gpu_price, q.node_price("node_gpu_hourly_cost")),
        (|r| &mut r.node_is_spot, q.node_is_spot()),
        (|r| &mut r.node_cpu_capacity, q.node_resource("kube_node_status_capacity_cpu_cores")),
        (|r| &mut r.node_ram_capacity, q.node_resource("kube_node_status_capacity_memory_bytes")),
        (|r| &mut r.node_cpu_allocatable, q.node_resource("kube_node_status_allocatable_cpu_cores")),
        (|r| &mut r.node_ram_allocatable, q.node_resource("kube_node_status_allocatable_memory_bytes")),
        (|r| &mut r.node_gpu_count, q.node_gpu_count()),
        (|r| &mut r.node_labels, q.metadata("kube_node_labels")),
        (|r| &mut r.namespace_labels, q.metadata("kube_namespace_labels")),
        (|r| &mut r.namespace_annotations, q.metadata("kube_namespace_annotations")),
        (|r| &mut r.pod_labels, q.metadata("kube_pod_labels")),
        (|r| &mut r.pod_annotations, q.metadata("kube_pod_annotations")),
        (|r| &mut r.service_labels, q.metadata("service_selector_labels")),
        (|r| &mut r.deployment_labels, q.metadata("deployment_match_labels")),
        (|r| &mut r.statefulset_labels, q.metadata("statefulSet_match_labels")),
        (|r| &mut r.pod_owners, q.pod_owners()),
        (|r| &mut r.replicaset_owners, q.replicaset_owners()),
        (|r| &mut r.job_owners, q.job_owners()),
        (|r| &mut r.pod_pvc_allocation, q.pod_pvc_allocation()),
        (|r| &mut r.pvc_bytes_requested, q.pvc_bytes_requested()),
        (|r| &mut r.pv_bytes, q.pv_bytes()),
        (|r| &mut r.pv_cost, q.pv_cost()),
        (|r| &mut r.pv_meta, q.pv_meta()),
        (|r| &mut r.lb_cost, q.lb_cost()),
        (|r| &mut r.cluster_management_cost, q.cluster_management_cost()),
    ]
}

/// Every subquery of the detailed model (when something ran) with the field it fills (6).
pub(crate) fn subqueries(q: &Queries) -> [(RangeSlot, String); 6] {
    [
        (|r| &mut r.running, q.running()),
        (|r| &mut r.node_active, q.node_active()),
        (|r| &mut r.pvc_info, q.pvc_info()),
        (|r| &mut r.pv_active, q.pv_active()),
        (|r| &mut r.lb_active, q.lb_active()),
        (|r| &mut r.cluster_management_active, q.cluster_management_active()),
    ]
}

/// The hours of `day`, in order.
pub fn hours_of(day: Window) -> Vec<Window> {
    day.split(HOUR_SECS)
}

/// Puts the points of the hourly range query that filled `slot` into the hour each one ends:
/// `hours[i]` is hour `i` of the day starting at `day_start`; points not at an hour end of the
/// day are left out.
pub(crate) fn spread(
    hours: &mut [QueryResults],
    slot: InstantSlot,
    day_start: i64,
    series: Vec<RangeSeries>,
) {
    for s in series {
        for (t, value) in s.points {
            let t = t.round() as i64;
            let since = t - day_start;
            if since <= 0 || since % HOUR_SECS != 0 {
                continue;
            }
            let Some(hour) = usize::try_from(since / HOUR_SECS - 1).ok().and_then(|i| hours.get_mut(i))
            else {
                continue;
            };
            slot(hour).push(InstantSample { labels: s.labels.clone(), timestamp: t as f64, value });
        }
    }
}

/// The part of each of `day`'s subquery series that falls in `hour`: the series' run (OpenCost's
/// start and end over the day, a lone sample counting ± half a step) cut to the hour, as two
/// points; a series that does not run in the hour is left out.
fn cut(series: &[RangeSeries], day: Window, hour: Window, resolution: i64) -> Vec<RangeSeries> {
    series
        .iter()
        .filter_map(|s| {
            let (start, end) = start_end(s, day, resolution)?;
            let (lo, hi) = (start.max(hour.start), end.min(hour.end));
            let value = s.points.first()?.1;
            (hi > lo).then(|| RangeSeries {
                labels: s.labels.clone(),
                points: vec![(lo as f64, value), (hi as f64, value)],
            })
        })
        .collect()
}

/// The results of each hour of `day`: `hourly[i]`'s instant fields (what the hourly range
/// queries gave at the end of hour `i`; missing hours count as empty) with `daily`'s subqueries
/// cut to the hour. `hourly`'s own subquery fields are not read.
pub fn hourly_results(
    day: Window,
    daily: &QueryResults,
    hourly: &[QueryResults],
    resolution: i64,
) -> Vec<(Window, QueryResults)> {
    let q = Queries::new("", "", 0, 0);
    // The slots want `&mut`; only the subquery fields of this copy are read.
    let mut source = daily.clone();
    hours_of(day)
        .into_iter()
        .enumerate()
        .map(|(i, hour)| {
            let mut results = hourly.get(i).cloned().unwrap_or_default();
            for (slot, _) in subqueries(&q) {
                *slot(&mut results) = cut(slot(&mut source), day, hour, resolution);
            }
            // A node that stopped on the hour before still has a price sample in this hour's
            // average (the sample at the hour's start) but no running time in it: it is not a
            // node of this hour, as it would be of no day.
            let active: BTreeSet<String> =
                results.node_active.iter().filter_map(|s| s.labels.get("node").cloned()).collect();
            for prices in [
                &mut results.cpu_price,
                &mut results.ram_price,
                &mut results.gpu_price,
                &mut results.node_is_spot,
                &mut results.node_gpu_count,
            ] {
                prices.retain(|s| s.labels.get("node").is_some_and(|n| active.contains(n)));
            }
            (hour, results)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_fill_every_field_once() {
        let q = Queries::new("cluster_id", "c", 3600, 300);
        let mut r = QueryResults::default();
        let sample = InstantSample { labels: Default::default(), timestamp: 0.0, value: 0.0 };
        for (n, (slot, _)) in instant_queries(&q).into_iter().enumerate() {
            *slot(&mut r) = vec![sample.clone(); n + 1];
        }
        for (n, (slot, _)) in subqueries(&q).into_iter().enumerate() {
            *slot(&mut r) = vec![RangeSeries { labels: Default::default(), points: Vec::new() }; n + 1];
        }
        // Each slot still holds what it was given: no two slots share a field.
        for (n, (slot, _)) in instant_queries(&q).into_iter().enumerate() {
            assert_eq!(slot(&mut r).len(), n + 1);
        }
        for (n, (slot, _)) in subqueries(&q).into_iter().enumerate() {
            assert_eq!(slot(&mut r).len(), n + 1);
        }
        // 41 fields in `QueryResults`, counted by hand.
        assert_eq!(instant_queries(&q).len() + subqueries(&q).len(), 41);
        assert!(instant_queries(&q).iter().all(|(_, query)| !query.contains("[3600s:")));
        assert!(subqueries(&q).iter().all(|(_, query)| query.contains("[3600s:300s]")));
    }

    #[test]
    fn points_go_to_the_hour_they_end_and_runs_are_cut_to_hours() {
        let day = Window { start: 86_400, end: 2 * 86_400 };
        let mut hours = vec![QueryResults::default(); 24];
        let series = RangeSeries {
            labels: Default::default(),
            // The end of hour 0 and of hour 23; 90 000 + 60 and the day's start are no hour end.
            points: vec![(86_400.0, 9.0), (90_000.0, 1.0), (90_060.0, 7.0), (172_800.0, 2.0)],
        };
        spread(&mut hours, |r| &mut r.cpu_alloc, day.start, vec![series]);
        assert_eq!(hours[0].cpu_alloc.iter().map(|s| s.value).collect::<Vec<_>>(), [1.0]);
        assert_eq!(hours[23].cpu_alloc[0].value, 2.0);
        assert_eq!(hours.iter().map(|h| h.cpu_alloc.len()).sum::<usize>(), 2);

        // Ran 10:00–14:00 (points every 300 s): in hours 10, 11, 12 and 13 only, whole.
        let points =
            (day.start + 10 * 3600..=day.start + 14 * 3600).step_by(300).map(|t| (t as f64, 1.0)).collect();
        let daily = QueryResults {
            running: vec![RangeSeries { labels: Default::default(), points }],
            ..QueryResults::default()
        };
        let cut = hourly_results(day, &daily, &[], 300);
        let ran: Vec<(usize, f64, f64)> = cut
            .iter()
            .enumerate()
            .filter_map(|(i, (_, r))| r.running.first().map(|s| (i, s.points[0].0, s.points[1].0)))
            .collect();
        let at = |h: i64| (day.start + h * 3600) as f64;
        assert_eq!(
            ran,
            [(10, at(10), at(11)), (11, at(11), at(12)), (12, at(12), at(13)), (13, at(13), at(14))]
        );
        // A lone sample at 12:00 counts 11:57:30–12:02:30: half in hour 11, half in hour 12.
        let lone = QueryResults {
            running: vec![RangeSeries { labels: Default::default(), points: vec![(at(12), 1.0)] }],
            ..QueryResults::default()
        };
        let cut = hourly_results(day, &lone, &[], 300);
        assert_eq!(cut[11].1.running[0].points, [(at(12) - 150.0, 1.0), (at(12), 1.0)]);
        assert_eq!(cut[12].1.running[0].points, [(at(12), 1.0), (at(12) + 150.0, 1.0)]);
        assert_eq!(cut.iter().filter(|(_, r)| !r.running.is_empty()).count(), 2);
    }

    #[test]
    fn a_node_keeps_its_prices_only_in_the_hours_it_ran() {
        let day = Window { start: 0, end: 86_400 };
        let node = |name: &str| -> std::collections::BTreeMap<String, String> {
            [("node".to_owned(), name.to_owned())].into()
        };
        // n1 ran 00:00–01:00; n2 all day. Both have a price sample at the end of hour 1 (n1's
        // last sample, at 01:00, is inside hour 1's average).
        let points = |to: i64| (0..=to).step_by(300).map(|t| (t as f64, 1.0)).collect();
        let daily = QueryResults {
            node_active: vec![
                RangeSeries { labels: node("n1"), points: points(3600) },
                RangeSeries { labels: node("n2"), points: points(86_400) },
            ],
            ..QueryResults::default()
        };
        let price = |name: &str| InstantSample { labels: node(name), timestamp: 7200.0, value: 0.03 };
        let hour1 = QueryResults { cpu_price: vec![price("n1"), price("n2")], ..QueryResults::default() };
        let cut = hourly_results(day, &daily, &[QueryResults::default(), hour1], 300);
        assert_eq!(cut[1].1.cpu_price, [price("n2")]);
        assert_eq!(cut[0].1.node_active.len(), 2);
        assert_eq!(cut[1].1.node_active.len(), 1);
    }
}
