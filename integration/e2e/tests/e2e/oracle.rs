//! The cost model's answer, which took the whole path (remote write through the proxy, AMP,
//! Prometheus, PromQL, S3, federation), checked against the simulator's own samples: the
//! allocation formulas applied directly to what was generated.

use std::collections::BTreeMap;

use ampfed_clustersim as sim;
use ampfed_prom::remote_write::TimeSeries;

/// Mean sample value per `(namespace, pod, container)` of a metric, optionally filtered by
/// `resource`.
fn means(
    sim: &sim::Simulation,
    metric: &str,
    resource: Option<&str>,
) -> BTreeMap<(String, String, String), f64> {
    let mut out = BTreeMap::new();
    let series: Vec<&TimeSeries> = sim
        .series_named(metric)
        .filter(|ts| resource.is_none_or(|r| ts.label("resource") == Some(r)))
        .filter(|ts| ts.label("container").is_some_and(|c| !c.is_empty() && c != "POD"))
        .collect();
    for ts in series {
        let key = (
            ts.label("namespace").unwrap_or_default().to_owned(),
            ts.label("pod").unwrap_or_default().to_owned(),
            ts.label("container").unwrap_or_default().to_owned(),
        );
        let mean = ts.samples.iter().map(|s| s.value).sum::<f64>() / ts.samples.len() as f64;
        out.insert(key, mean);
    }
    out
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-9 * want.abs().max(1.0)
}

#[test]
fn allocations_equal_the_formulas_applied_to_the_simulated_samples() {
    let combined = &crate::happy().combined;
    let fixtures = ampfed_common::paths::fixtures_dir();
    let prices = sim::load_prices(&fixtures.join("prices/aws-us-east-1.yaml")).expect("prices");
    let clusters = sim::load_clusters_dir(&fixtures.join("clusters")).expect("clusters");
    let config = ampfed_e2e::sim::Settings::default().config();
    let mut checked = 0;
    for cluster in &clusters {
        let sim = sim::generate(cluster, &prices, &config).expect("simulate");
        let cpu_alloc = means(&sim, "container_cpu_allocation", None);
        let cpu_req = means(&sim, "kube_pod_container_resource_requests", Some("cpu"));
        let ram_alloc = means(&sim, "container_memory_allocation_bytes", None);
        let ram_req = means(&sim, "kube_pod_container_resource_requests", Some("memory"));
        for (key, alloc) in &cpu_alloc {
            let a = combined
                .allocations
                .iter()
                .find(|a| {
                    a.properties.cluster == cluster.name
                        && (&a.properties.namespace, &a.properties.pod, &a.properties.container)
                            == (&key.0, &key.1, &key.2)
                })
                .unwrap_or_else(|| panic!("no allocation for {}/{key:?}", cluster.name));
            let hours = a.minutes / 60.0;
            let want_cpu = alloc.max(cpu_req.get(key).copied().unwrap_or(0.0)) * hours;
            assert!(
                close(a.cpu_core_hours, want_cpu),
                "{}: cpuCoreHours {} != {want_cpu}",
                a.name,
                a.cpu_core_hours
            );
            let want_ram = ram_alloc[key].max(ram_req.get(key).copied().unwrap_or(0.0)) * hours;
            assert!(
                close(a.ram_byte_hours, want_ram),
                "{}: ramByteHours {} != {want_ram}",
                a.name,
                a.ram_byte_hours
            );
            checked += 1;
        }
    }
    // Every container allocation was checked; the rest hold volumes nothing mounts
    // (`…/__unmounted__`), which have no container series to check against.
    let unmounted = combined.allocations.iter().filter(|a| a.is_unmounted()).count();
    assert_eq!(unmounted, 1, "cluster-c's old-backups claim");
    assert_eq!(
        checked + unmounted,
        combined.allocations.len(),
        "every allocation was checked against the simulation"
    );
}
