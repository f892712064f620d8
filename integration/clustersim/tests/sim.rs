//! Tests of the simulator on the real fixtures under `fixtures/`: determinism, remote-write
//! well-formedness, the metric semantics the cost model relies on, and fixture error messages.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use ampfed_clustersim::fixture::WorkloadKind;
use ampfed_clustersim::{generate, load_cluster, load_clusters_dir, load_prices, SimConfig, Simulation};
use ampfed_prom::remote_write::{encode, TimeSeries};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn simulate(cluster: &str) -> Simulation {
    let c =
        load_cluster(&fixtures().join(format!("clusters/{cluster}.yaml"))).expect("cluster fixture loads");
    let p = load_prices(&fixtures().join("prices/aws-us-east-1.yaml")).expect("prices load");
    generate(&c, &p, &SimConfig::default()).expect("generates")
}

fn clusters() -> [Simulation; 3] {
    [simulate("cluster-a"), simulate("cluster-b"), simulate("cluster-c")]
}

fn key(ts: &TimeSeries) -> String {
    ts.labels.iter().map(|l| format!("{}={:?}", l.name, l.value)).collect::<Vec<_>>().join(",")
}

#[test]
fn real_fixtures_load_and_have_a_sensible_size() {
    let all = load_clusters_dir(&fixtures().join("clusters")).expect("all cluster fixtures load");
    let names: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["cluster-a", "cluster-b", "cluster-c"]);
    for sim in clusters() {
        let stats = sim.stats();
        eprintln!("{}: {} series, {} samples", sim.cluster(), stats.series, stats.samples);
        assert!((150..=700).contains(&stats.series), "{}: {stats:?}", sim.cluster());
    }
}

#[test]
fn generation_is_deterministic_to_the_byte() {
    for cluster in ["cluster-a", "cluster-b", "cluster-c"] {
        let a: Vec<Vec<u8>> = simulate(cluster).batches(12_000).map(|r| encode(&r)).collect();
        let b: Vec<Vec<u8>> = simulate(cluster).batches(12_000).map(|r| encode(&r)).collect();
        assert!(a.len() > 1);
        assert!(a == b, "{cluster}: two runs differ");
    }
}

#[test]
fn an_interval_of_the_day_sends_exactly_the_samples_stamped_in_it() {
    let sim = simulate("cluster-c");
    let (start, step) = (sim.start_ms(), sim.step_ms());
    // Whole steps, a cut inside a step (13:00:30 to 13:03:30 holds 13:01, 13:02, 13:03),
    // before the grid, the last step, past the end, and nothing.
    let cases = [
        (start + 600 * step, start + 610 * step),
        (start + 780 * step + step / 2, start + 783 * step + step / 2),
        (start - 5 * step, start + 2 * step),
        (sim.end_ms() - step, sim.end_ms() + 10 * step),
        (sim.end_ms(), sim.end_ms() + step),
        (start + 5 * step, start + 5 * step),
    ];
    for (from, to) in cases {
        let mut want: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for ts in sim.series() {
            let stamps: Vec<i64> =
                ts.samples.iter().map(|s| s.timestamp).filter(|t| (from..to).contains(t)).collect();
            if !stamps.is_empty() {
                want.entry(key(ts)).or_default().extend(stamps);
            }
        }
        let mut got: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for req in sim.requests_between(from, to, 700) {
            assert!(req.sample_count() <= 700);
            for ts in &req.timeseries {
                let mut labels = ts.labels.clone();
                assert_eq!(labels.iter().filter(|l| l.name == "cluster_id").count(), 1, "the external label");
                labels.retain(|l| l.name != "cluster_id");
                let k = key(&TimeSeries { labels, samples: Vec::new() });
                got.entry(k).or_default().extend(ts.samples.iter().map(|s| s.timestamp));
            }
        }
        assert_eq!(got, want, "[{from}, {to})");
        assert_eq!(sim.samples_between(from, to), want.values().map(Vec::len).sum::<usize>());
    }
}

#[test]
fn batches_carry_every_sample_in_time_order_within_the_limit() {
    for sim in clusters() {
        for max in [1, 500, 12_000, 10_000_000] {
            let mut last: BTreeMap<String, i64> = BTreeMap::new();
            let mut total = 0;
            for req in sim.batches(max) {
                assert!(req.sample_count() <= max.max(1));
                total += req.sample_count();
                for ts in &req.timeseries {
                    let prev = last.entry(key(ts)).or_insert(i64::MIN);
                    for s in &ts.samples {
                        assert!(s.timestamp > *prev, "{}: samples out of order", key(ts));
                        *prev = s.timestamp;
                    }
                }
            }
            assert_eq!(total, sim.stats().samples, "max {max}");
            let distinct: BTreeSet<String> = sim.series().iter().map(key).collect();
            assert_eq!(last.len(), distinct.len());
        }
        // With a generous limit, a request carries every series with many samples each.
        let first = sim.batches(sim.stats().series * 60).next().expect("one batch");
        // Each series brings all of its samples of the first 60 steps.
        let cut = sim.start_ms() + 60 * sim.step_ms();
        let mut early: BTreeMap<String, usize> = BTreeMap::new();
        for ts in sim.series() {
            *early.entry(key(ts)).or_default() += ts.samples.iter().filter(|s| s.timestamp < cut).count();
        }
        for ts in &first.timeseries {
            let mut labels = ts.labels.clone();
            labels.retain(|l| l.name != "cluster_id");
            let k = key(&TimeSeries { labels, samples: Vec::new() });
            assert_eq!(ts.samples.len(), early[&k], "{k}");
        }
    }
}

#[test]
fn labels_are_sorted_unique_non_empty_and_only_remote_written_data_carries_the_cluster() {
    for sim in clusters() {
        let mut keys = BTreeSet::new();
        for ts in sim.series() {
            let names: Vec<&str> = ts.labels.iter().map(|l| l.name.as_str()).collect();
            assert!(names.windows(2).all(|w| w[0] < w[1]), "unsorted or duplicate: {names:?}");
            assert!(ts.labels.iter().all(|l| !l.value.is_empty()), "{}", key(ts));
            // As in the cluster's own Prometheus: the external label is not on stored series.
            assert_eq!(ts.label("cluster_id"), None);
            // A StatefulSet pod replaced under its own name continues its pod-level series.
            if !keys.insert(key(ts)) {
                assert!(ts.label("uid").is_none() && ts.label("id").is_none(), "series twice: {}", key(ts));
                continue;
            }
            assert!(!ts.samples.is_empty());
            assert!(ts.samples.windows(2).all(|w| w[1].timestamp - w[0].timestamp == sim.step_ms()));
            assert!(ts.samples.iter().all(|s| s.value.is_finite() && s.value >= 0.0));
            assert!(ts.samples.iter().all(|s| (sim.start_ms()..sim.end_ms()).contains(&s.timestamp)));
        }
        for req in sim.batches(20_000) {
            for ts in &req.timeseries {
                let names: Vec<&str> = ts.labels.iter().map(|l| l.name.as_str()).collect();
                assert!(names.windows(2).all(|w| w[0] < w[1]), "unsorted or duplicate: {names:?}");
                assert_eq!(ts.label("cluster_id"), Some(sim.cluster()));
            }
        }
    }
}

#[test]
fn the_cluster_label_name_is_configurable() {
    let c = load_cluster(&fixtures().join("clusters/cluster-a.yaml")).unwrap();
    let p = load_prices(&fixtures().join("prices/aws-us-east-1.yaml")).unwrap();
    let cfg = SimConfig { cluster_label: "cluster".to_owned(), duration_secs: 3600, ..SimConfig::default() };
    let sim = generate(&c, &p, &cfg).unwrap();
    assert_eq!(sim.cluster_label(), "cluster");
    assert!(sim
        .batches(5_000)
        .flat_map(|r| r.timeseries)
        .all(|ts| ts.label("cluster") == Some("cluster-a") && ts.label("cluster_id").is_none()));
    let bad = SimConfig { cluster_label: "node".to_owned(), ..SimConfig::default() };
    let err = generate(&c, &p, &bad).unwrap_err().to_string();
    assert!(err.contains("`cluster_label` clashes"), "{err}");
}

#[test]
fn cpu_counters_are_monotonic() {
    for sim in clusters() {
        let mut n = 0;
        for ts in sim.series_named("container_cpu_usage_seconds_total") {
            assert!(ts.samples.windows(2).all(|w| w[1].value >= w[0].value), "{}", key(ts));
            n += 1;
        }
        assert!(n > 10);
    }
}

/// The series of `metric` for a container, found by the given labels.
fn find<'a>(sim: &'a Simulation, metric: &str, want: &[(&str, &str)]) -> &'a TimeSeries {
    let mut it = sim.series_named(metric).filter(|ts| want.iter().all(|(k, v)| ts.label(k) == Some(v)));
    let found = it.next().unwrap_or_else(|| panic!("no {metric} with {want:?}"));
    assert!(it.next().is_none(), "several {metric} with {want:?}");
    found
}

#[test]
fn allocation_is_the_max_of_request_and_usage_per_sample() {
    let mut above_request = 0;
    // cluster-c has pods replaced under their own names and restarted containers, whose
    // series `find` cannot tell apart; `timeline.rs` covers them.
    for sim in &clusters()[..2] {
        for ts in sim.series_named("container_memory_allocation_bytes") {
            let (ns, pod, c) =
                (ts.label("namespace").unwrap(), ts.label("pod").unwrap(), ts.label("container").unwrap());
            let id = [("namespace", ns), ("pod", pod), ("container", c)];
            let usage = find(sim, "container_memory_working_set_bytes", &id);
            let request = sim
                .series_named("kube_pod_container_resource_requests")
                .find(|r| {
                    id.iter().all(|(k, v)| r.label(k) == Some(v)) && r.label("resource") == Some("memory")
                })
                .map_or(0.0, |r| r.samples[0].value);
            assert_eq!(usage.samples.len(), ts.samples.len());
            for (a, u) in ts.samples.iter().zip(&usage.samples) {
                assert_eq!(a.timestamp, u.timestamp);
                assert_eq!(a.value, u.value.max(request), "{}", key(ts));
            }
        }
        for ts in sim.series_named("container_cpu_allocation") {
            let (ns, pod, c) =
                (ts.label("namespace").unwrap(), ts.label("pod").unwrap(), ts.label("container").unwrap());
            let id = [("namespace", ns), ("pod", pod), ("container", c)];
            let counter = find(sim, "container_cpu_usage_seconds_total", &id);
            let request = sim
                .series_named("kube_pod_container_resource_requests")
                .find(|r| id.iter().all(|(k, v)| r.label(k) == Some(v)) && r.label("resource") == Some("cpu"))
                .map_or(0.0, |r| r.samples[0].value);
            let step_secs = sim.step_ms() as f64 / 1000.0;
            for (w, a) in counter.samples.windows(2).zip(&ts.samples[1..]) {
                // irate at a step recovers that step's usage.
                let usage = (w[1].value - w[0].value) / step_secs;
                assert!((a.value - usage.max(request)).abs() < 1e-6, "{}: {} vs {usage}", key(ts), a.value);
                if usage > request + 1e-6 {
                    above_request += 1;
                }
            }
        }
    }
    // The fixtures include containers that use more than they request (and ones with none).
    assert!(above_request > 100, "{above_request}");
}

#[test]
fn a_jobs_series_lie_only_inside_its_run_window() {
    let sim = simulate("cluster-a");
    let job = sim.pods().iter().find(|p| p.workload_kind == WorkloadKind::Job).expect("a Job pod");
    let start = sim.start_ms() + 2 * 3_600_000;
    let end = sim.start_ms() + 4 * 3_600_000 + 30 * 60_000;
    assert_eq!((job.first_sample_ms, job.last_sample_ms), (start, end - sim.step_ms()));
    let mut n = 0;
    for ts in sim.series() {
        if ts.label("pod").or(ts.label("pod_name")) == Some(job.name.as_str()) {
            n += 1;
            assert_eq!(ts.samples.first().unwrap().timestamp, start, "{}", key(ts));
            assert_eq!(ts.samples.last().unwrap().timestamp, end - sim.step_ms(), "{}", key(ts));
        }
    }
    // Owner, info, labels, annotations, 2 pause-container series, 2 cAdvisor (both label
    // styles on one series), 2 requests, running, restarts, 2 allocation.
    assert_eq!(n, 14);
    assert_eq!(job.owner_kind, "Job");
    assert!(job.name.starts_with("nightly-report-") && job.name.len() == "nightly-report-".len() + 5);
}

#[test]
fn cadvisor_series_carry_the_fixtures_label_style_including_the_pause_container() {
    for sim in clusters() {
        // cluster-c is `modern`; the others take the default, `both` on one series.
        let modern_only = sim.cluster() == "cluster-c";
        for pod in sim.pods() {
            for container in pod.containers.iter().map(String::as_str).chain(["POD"]) {
                for metric in ["container_cpu_usage_seconds_total", "container_memory_working_set_bytes"] {
                    let series: Vec<&TimeSeries> = sim
                        .series_named(metric)
                        .filter(|ts| {
                            ts.label("namespace") == Some(&pod.namespace)
                                && ts.label("pod") == Some(&pod.name)
                                && ts.label("container") == Some(container)
                                && ts.label("id").is_some_and(|id| id.contains(&pod.uid))
                        })
                        .collect();
                    assert!(!series.is_empty(), "{metric} {}/{}/{container}", pod.namespace, pod.name);
                    for ts in series {
                        if modern_only {
                            assert!(ts.label("container_name").is_none() && ts.label("pod_name").is_none());
                        } else {
                            assert_eq!(ts.label("container_name"), Some(container));
                            assert_eq!(ts.label("pod_name"), Some(pod.name.as_str()));
                        }
                        for l in ["instance", "id", "image", "name"] {
                            assert!(ts.label(l).is_some(), "{metric} lacks {l}");
                        }
                        assert_eq!(ts.label("instance"), Some(pod.node.as_str()));
                        assert!(ts.label("node").is_none(), "cAdvisor has no node label");
                    }
                }
            }
        }
    }
}

#[test]
fn kube_state_metrics_and_cost_model_series_have_the_expected_labels() {
    let sim = simulate("cluster-a");
    let deploy = sim.pods().iter().find(|p| p.workload == "frontend").unwrap();
    assert_eq!(deploy.owner_kind, "ReplicaSet");
    assert!(deploy.name.starts_with(&format!("{}-", deploy.owner_name)));
    assert_eq!(deploy.name.len(), "frontend-".len() + 10 + 1 + 5);
    let owner = find(&sim, "kube_pod_owner", &[("pod", &deploy.name)]);
    assert_eq!(owner.label("owner_is_controller"), Some("true"));
    assert_eq!(owner.label("owner_name"), Some(deploy.owner_name.as_str()));
    let labels = find(&sim, "kube_pod_labels", &[("pod", &deploy.name)]);
    assert_eq!(labels.label("label_app_kubernetes_io_part_of"), Some("shop"));
    assert_eq!(labels.label("label_pod_template_hash"), deploy.owner_name.strip_prefix("frontend-"));
    let ns = find(&sim, "kube_namespace_labels", &[("namespace", "shop")]);
    assert_eq!(ns.label("label_team"), Some("storefront"));
    let cpu_req = find(
        &sim,
        "kube_pod_container_resource_requests",
        &[("pod", &deploy.name), ("container", "app"), ("resource", "cpu")],
    );
    assert_eq!(cpu_req.label("unit"), Some("core"));
    assert_eq!(cpu_req.label("node"), Some(deploy.node.as_str()));
    assert_eq!(cpu_req.label("uid"), Some(deploy.uid.as_str()));
    assert_eq!(cpu_req.samples[0].value, 0.25);
    // The log shipper sets no requests.
    assert_eq!(
        sim.series_named("kube_pod_container_resource_requests")
            .filter(|ts| ts.label("container") == Some("log-shipper"))
            .count(),
        0
    );
    let alloc =
        find(&sim, "container_cpu_allocation", &[("pod", &deploy.name), ("container", "log-shipper")]);
    assert_eq!(alloc.label("instance"), alloc.label("node"));
    let node = "ip-10-10-3-52.ec2.internal";
    let price = find(&sim, "node_total_hourly_cost", &[("node", node)]);
    assert!((price.samples[0].value - 0.384).abs() < 1e-3, "{}", price.samples[0].value);
    assert_eq!(price.label("instance_type"), Some("m5.2xlarge"));
    assert_eq!(price.label("arch"), Some("amd64"));
    assert!(price.label("provider_id").unwrap().starts_with("aws:///us-east-1c/i-"));
    assert_eq!(find(&sim, "node_ram_hourly_cost", &[("node", node)]).samples[0].value, 0.004188);
    assert_eq!(find(&sim, "kube_node_status_capacity_cpu_cores", &[("node", node)]).samples[0].value, 8.0);
    assert_eq!(sim.series_named("kube_node_info").count(), 3);
    let node_labels = find(&sim, "kube_node_labels", &[("node", node)]);
    assert_eq!(node_labels.label("label_node_kubernetes_io_instance_type"), Some("m5.2xlarge"));
    assert_eq!(node_labels.label("label_eks_amazonaws_com_nodegroup"), Some("data"));
    // One aws-node pod per node.
    let ds: BTreeSet<&str> = sim
        .pods()
        .iter()
        .filter(|p| p.workload_kind == WorkloadKind::DaemonSet)
        .map(|p| p.node.as_str())
        .collect();
    assert_eq!(ds.len(), 3);
}

#[test]
fn the_clusters_share_a_namespace_and_a_pod_name() {
    let [a, b, _] = clusters();
    let names = |s: &Simulation| {
        s.pods().iter().map(|p| (p.namespace.clone(), p.name.clone())).collect::<BTreeSet<_>>()
    };
    let shared: Vec<_> = names(&a).intersection(&names(&b)).cloned().collect();
    assert_eq!(shared, [("shop".to_owned(), "postgres-0".to_owned())]);
    // Other pods of the same workload get different names in each cluster.
    let frontend = |s: &Simulation| s.pods().iter().find(|p| p.workload == "frontend").unwrap().name.clone();
    assert_ne!(frontend(&a), frontend(&b));
}

/// A label matcher: name, whether it is `=` (else `!=`), value.
type Matcher = (String, bool, String);

/// The selectors of a PromQL expression: metric name and `=`/`!=` matchers.
fn selectors(expr: &str) -> Vec<(String, Vec<Matcher>)> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let skip_to = |i: &mut usize, close: char| {
        while *i < chars.len() && chars[*i] != close {
            *i += 1;
        }
        *i += 1;
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '[' {
            skip_to(&mut i, ']');
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            let ident: String = chars[start..i].iter().collect();
            while i < chars.len() && chars[i] == ' ' {
                i += 1;
            }
            if ident == "by" || ident == "without" {
                skip_to(&mut i, ')');
            } else if i < chars.len() && chars[i] == '(' {
                i += 1;
            } else {
                let mut matchers = Vec::new();
                if i < chars.len() && chars[i] == '{' {
                    let open = i + 1;
                    skip_to(&mut i, '}');
                    let body: String = chars[open..i - 1].iter().collect();
                    for m in body.split(',').map(str::trim).filter(|m| !m.is_empty()) {
                        let (name, eq, value) = match m.split_once("!=") {
                            Some((n, v)) => (n, false, v),
                            None => {
                                let (n, v) = m.split_once('=').expect("matcher");
                                (n, true, v)
                            }
                        };
                        matchers.push((
                            name.trim().to_owned(),
                            eq,
                            value.trim().trim_matches('"').to_owned(),
                        ));
                    }
                }
                out.push((ident, matchers));
            }
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn every_selector_of_the_guides_recording_rules_finds_series() {
    let text = std::fs::read_to_string(fixtures().join("rules/kubecost-amp.yaml")).expect("rules file");
    let rules: serde_yaml::Value = serde_yaml::from_str(&text).expect("rules parse");
    let mut checked = BTreeSet::new();
    // cluster-c speaks the modern label style only, where the guide's `container_name` rules
    // select nothing (docs/kubecost-model.md, known quirks); `timeline.rs` checks that.
    for sim in &clusters()[..2] {
        for group in rules["groups"].as_sequence().expect("groups") {
            for rule in group["rules"].as_sequence().expect("rules") {
                let expr = rule["expr"].as_str().expect("expr");
                for (metric, matchers) in selectors(expr) {
                    let hits = sim
                        .series_named(&metric)
                        .filter(|ts| {
                            matchers.iter().all(|(n, eq, v)| (ts.label(n).unwrap_or("") == v) == *eq)
                        })
                        .count();
                    assert!(
                        hits > 0,
                        "{}: `{metric}{matchers:?}` of `{expr}` selects nothing",
                        sim.cluster()
                    );
                    checked.insert(metric);
                }
            }
        }
    }
    let expected = [
        "container_cpu_allocation",
        "container_cpu_usage_seconds_total",
        "container_memory_allocation_bytes",
        "container_memory_working_set_bytes",
        "kube_node_info",
        "kube_pod_owner",
    ];
    assert_eq!(checked.into_iter().collect::<Vec<_>>(), expected);
}

#[test]
fn the_allocation_queries_metrics_are_all_present() {
    for sim in clusters() {
        for metric in [
            "kube_pod_container_status_running",
            "kube_pod_container_resource_requests",
            "kube_pod_labels",
            "kube_namespace_labels",
            "kube_node_labels",
            "kube_node_status_capacity_cpu_cores",
            "kube_node_status_capacity_memory_bytes",
            "node_cpu_hourly_cost",
            "node_ram_hourly_cost",
            "node_total_hourly_cost",
        ] {
            assert!(sim.series_named(metric).next().is_some(), "{}: no {metric}", sim.cluster());
        }
        // The modern-style usage selector of the allocation queries skips the pause container
        // and the legacy series.
        let usage = sim.series_named("container_cpu_usage_seconds_total").filter(|ts| {
            let c = ts.label("container").unwrap_or("");
            !c.is_empty() && c != "POD" && ts.label("container_name").unwrap_or("") != "POD"
        });
        let containers: usize = sim.pods().iter().map(|p| p.containers.len()).sum();
        let (first, restarted): (Vec<_>, Vec<_>) =
            usage.partition(|ts| ts.label("name").is_some_and(|n| n.ends_with("_0")));
        assert_eq!(first.len(), containers);
        // cluster-c's trainer is OOM-killed every 4 hours: 5 more attempts in a day.
        let restarts = if sim.cluster() == "cluster-c" { 5 } else { 0 };
        assert_eq!(restarted.len(), restarts, "{}", sim.cluster());
    }
}

fn tmp(name: &str, text: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("clustersim");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_broken_fixture_file_is_named_with_line_and_fix() {
    let good = std::fs::read_to_string(fixtures().join("clusters/cluster-b.yaml")).unwrap();
    let bad = good.replacen("    zone: us-east-1b", "    zone: us-east-1b\n    gpu: 1", 1);
    let line = bad.lines().position(|l| l.contains("gpu: 1")).unwrap() + 1;
    let path = tmp("unknown-field.yaml", &bad);
    let msg = load_cluster(&path).unwrap_err().to_string();
    assert!(msg.starts_with(&format!("{}:{line}:5: ", path.display())), "{msg}");
    assert!(msg.contains("unknown field `gpu`") && msg.contains("fix: "), "{msg}");

    let bad = good.replacen("nodes: [ip-10-20-2-88.ec2.internal]", "nodes: [ip-10-20-9-99.ec2.internal]", 1);
    let line = bad.lines().position(|l| l.contains("ip-10-20-9-99")).unwrap() + 1;
    let path = tmp("unknown-node.yaml", &bad);
    let msg = load_cluster(&path).unwrap_err().to_string();
    assert!(msg.starts_with(&format!("{}:{line}:13: `workloads[3].nodes[0]`: ", path.display())), "{msg}");
    assert!(
        msg.contains(
            "workload `shop/postgres` (StatefulSet): node `ip-10-20-9-99.ec2.internal` is not a node"
        ),
        "{msg}"
    );

    let missing = fixtures().join("clusters/does-not-exist.yaml");
    let msg = load_cluster(&missing).unwrap_err().to_string();
    assert!(msg.starts_with("cannot read ") && msg.contains("does-not-exist.yaml"), "{msg}");

    let prices = std::fs::read_to_string(fixtures().join("prices/aws-us-east-1.yaml")).unwrap();
    let path = tmp("bad-prices.yaml", &prices.replacen("    arch: arm64", "    arch: arm", 1));
    let msg = load_prices(&path).unwrap_err().to_string();
    let line = prices.lines().position(|l| l.contains("arch: arm64")).unwrap() + 1;
    assert!(msg.contains(&format!(":{line}:5: `instance_types[\"m6g.xlarge\"].arch`: instance type `m6g.xlarge`: is `arm`; expected amd64 or arm64")), "{msg}");
}

#[test]
fn a_price_list_without_the_instance_type_is_refused() {
    let c = load_cluster(&fixtures().join("clusters/cluster-a.yaml")).unwrap();
    let mut p = load_prices(&fixtures().join("prices/aws-us-east-1.yaml")).unwrap();
    p.instance_types.remove("m5.2xlarge");
    let msg = generate(&c, &p, &SimConfig::default()).unwrap_err().to_string();
    assert!(msg.contains("cluster-a.yaml does not fit prices fixture"), "{msg}");
    assert!(
        msg.contains("node `ip-10-10-3-52.ec2.internal`: instance type `m5.2xlarge` has no price"),
        "{msg}"
    );
}
