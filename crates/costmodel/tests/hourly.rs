//! Hand-worked hourly sets: the hours of a day are computed from the day's subqueries cut to
//! each hour and from the hourly averages, and add up to the day.
//!
//! The day is 2026-01-01 (UTC), resolution 5 minutes. Cluster `c1` has one node `n1` (4 cores,
//! 16 GiB, all day, $0.031247 per core-hour and $0.004188 per GiB-hour) and one container,
//! `batch/report-1/report`, running 10:00–14:00 and requesting 0.5 core and 1 GiB:
//! - the day: 0.5 × 4 = 2 core-hours → 2 × 0.031247 = 0.062494; 1 × 4 = 4 GiB-hours →
//!   4 × 0.004188 = 0.016752; total 0.079246;
//! - each of hours 10, 11, 12 and 13: 0.5 core-hour → 0.0156235; 1 GiB-hour → 0.004188; total
//!   0.0198115 (× 4 = 0.079246); no other hour has the container, hour 9 included, though the
//!   range query at 10:00 sees the sample written at 10:00;
//! - the node each hour: 4 × 0.031247 = 0.124988 CPU and 16 × 0.004188 = 0.067008 RAM, 24 times
//!   the day's 2.999712 and 1.608192.

mod support;

use ampfed_allocation::{AllocationSet, Window};
use ampfed_costmodel::{compute_from_results, compute_hours_from_results, hours_of, Config, QueryResults};
use support::{close, s, span, DAY, GIB, H, START};

const NAME: &str = "c1/n1/batch/report-1/report";

const CONTAINER: [(&str, &str); 4] =
    [("namespace", "batch"), ("pod", "report-1"), ("container", "report"), ("node", "n1")];

/// The instant results of a window in which the container ran (or, with `container` false,
/// did not): the same averages for the day and for each hour, as the values are constant.
fn instants(container: bool) -> QueryResults {
    let price = |v: f64| s(&[("node", "n1"), ("instance_type", "m5.xlarge")], v);
    let requests = |v: f64| if container { vec![s(&CONTAINER, v)] } else { Vec::new() };
    QueryResults {
        cpu_alloc: requests(0.5),
        cpu_request: requests(0.5),
        ram_alloc: requests(GIB),
        ram_request: requests(GIB),
        cpu_price: vec![price(0.031247)],
        ram_price: vec![price(0.004188)],
        node_is_spot: vec![s(&[("node", "n1")], 0.0)],
        node_cpu_capacity: vec![s(&[("node", "n1")], 4.0)],
        node_ram_capacity: vec![s(&[("node", "n1")], 16.0 * GIB)],
        ..QueryResults::default()
    }
}

fn daily() -> QueryResults {
    QueryResults {
        running: vec![span(&[("namespace", "batch"), ("pod", "report-1")], 10, 14)],
        node_active: vec![span(&[("node", "n1")], 0, 24)],
        ..instants(true)
    }
}

/// What the hourly range queries give: the container's averages at the end of hours 9 (the
/// sample at 10:00) to 13, the node's every hour.
fn hourly() -> Vec<QueryResults> {
    (0..24).map(|h| instants((9..=13).contains(&h))).collect()
}

fn cost(set: &AllocationSet) -> Option<(f64, f64, f64)> {
    set.allocations.iter().find(|a| a.name == NAME).map(|a| (a.cpu_cost, a.ram_cost, a.total_cost))
}

#[test]
fn a_container_running_10_to_14_is_in_four_hours_that_add_up_to_its_day() {
    let config = Config::default();
    let day = compute_from_results("c1", DAY, &daily(), &config);
    let (cpu, ram, total) = cost(&day.allocations).unwrap();
    close(cpu, 0.062494);
    close(ram, 0.016752);
    close(total, 0.079246);

    let hours = compute_hours_from_results("c1", DAY, &daily(), &hourly(), &config);
    assert_eq!(hours.len(), 24);
    assert_eq!(hours.iter().map(|h| h.allocations.window).collect::<Vec<_>>(), hours_of(DAY));
    let with: Vec<usize> = (0..24).filter(|&h| cost(&hours[h].allocations).is_some()).collect();
    assert_eq!(with, [10, 11, 12, 13]);
    for (computed, hour) in hours.iter().zip(hours_of(DAY)).take(14).skip(10) {
        let a = computed.allocations.allocations.iter().find(|a| a.name == NAME).unwrap();
        assert_eq!((a.start, a.end), (hour.start, hour.end));
        close(a.minutes, 60.0);
        close(a.cpu_core_hours, 0.5);
        close(a.cpu_cost, 0.0156235);
        close(a.ram_byte_hours, GIB);
        close(a.ram_cost, 0.004188);
        close(a.total_cost, 0.0198115);
    }
    let sum =
        |f: fn((f64, f64, f64)) -> f64| hours.iter().filter_map(|h| cost(&h.allocations)).map(f).sum::<f64>();
    close(sum(|c| c.0), 0.062494);
    close(sum(|c| c.1), 0.016752);
    close(sum(|c| c.2), 0.079246);

    // The node: 24 hours of 0.124988 + 0.067008, the day's 2.999712 + 1.608192.
    let node = |set: &ampfed_allocation::AssetSet| {
        let n = set.nodes.iter().find(|n| n.name == "n1").unwrap();
        (n.cpu_cost, n.ram_cost)
    };
    close(node(&day.assets).0, 2.999712);
    close(node(&day.assets).1, 1.608192);
    for h in &hours {
        close(node(&h.assets).0, 0.124988);
        close(node(&h.assets).1, 0.067008);
    }
    close(hours.iter().map(|h| node(&h.assets).0).sum(), 2.999712);
}

#[test]
fn an_hour_with_no_range_results_has_only_what_ran_in_it() {
    // No hourly averages at all: the container still runs 10:00–14:00 (from the day's
    // subquery) but has no requests in any hour, so it costs nothing there.
    let hours = compute_hours_from_results("c1", DAY, &daily(), &[], &Config::default());
    assert_eq!(hours.len(), 24);
    assert!(hours.iter().all(|h| cost(&h.allocations).is_none_or(|c| c.2 == 0.0)));
    // The node ran every hour, unpriced: the default prices, still one hour each.
    assert!(hours.iter().all(|h| h.assets.nodes.len() == 1 && h.assets.nodes[0].minutes == 60.0));
}

/// A cost model whose Prometheus (port 9) answers nothing: for checks made before any query.
fn unreachable() -> ampfed_costmodel::CostModel {
    ampfed_costmodel::CostModel::new(
        ampfed_prom::Client::new("http://127.0.0.1:9", "/api/v1/write"),
        "c1",
        "cluster_id",
    )
}

#[test]
fn only_a_utc_day_is_split_into_hours() {
    // Nothing is queried: the window is checked first.
    let model = unreachable();
    let late = Window { start: START + H, end: START + 25 * H };
    let err = model.compute_day_and_hours(late).unwrap_err();
    assert!(matches!(err, ampfed_costmodel::CostModelError::Daily { .. }), "{err}");
    assert_eq!(hours_of(DAY).len(), 24);
    assert_eq!(hours_of(DAY)[23], Window { start: START + 23 * H, end: START + 24 * H });
}

#[test]
fn a_day_cut_at_13_30_ends_in_a_half_hour_and_still_adds_up() {
    // Today up to now (13:30): the container ran 10:00–13:30 of it, so the day has 3.5 of
    // hour 10's costs: 3.5 × 0.0198115 = 0.06934025; hours 10–12 hold 0.0198115 each and the
    // half hour 13:00–13:30 half of it, 0.00990575 (30 minutes, 0.25 core-hour).
    let config = Config::default();
    let cut = Window { start: START, end: START + 13 * H + H / 2 };
    let day = compute_from_results("c1", cut, &daily(), &config);
    close(cost(&day.allocations).unwrap().2, 0.06934025);
    let hourly: Vec<QueryResults> = (0..14).map(|h| instants((9..=13).contains(&h))).collect();
    let hours = compute_hours_from_results("c1", cut, &daily(), &hourly, &config);
    assert_eq!(hours.len(), 14);
    assert_eq!(hours[13].allocations.window, Window { start: START + 13 * H, end: cut.end });
    let half = hours[13].allocations.allocations.iter().find(|a| a.name == NAME).unwrap();
    close(half.minutes, 30.0);
    close(half.cpu_core_hours, 0.25);
    close(half.total_cost, 0.00990575);
    close(hours.iter().filter_map(|h| cost(&h.allocations)).map(|c| c.2).sum(), 0.06934025);
}

#[test]
fn only_a_window_from_a_utc_hour_of_at_most_a_day_is_split_into_hours() {
    let model = unreachable();
    for window in [Window { start: START + 60, end: START + H }, Window { start: START, end: START + 25 * H }]
    {
        let err = model.compute_window_and_hours(window).unwrap_err();
        assert!(matches!(err, ampfed_costmodel::CostModelError::Hours { .. }), "{err}");
        assert!(err.to_string().contains("must start on a UTC hour"), "{err}");
    }
}
