//! Hand-worked cases for the detailed cost model, fed with query results built by hand (no
//! Prometheus). Every expected number is worked out in the comments from the inputs.
//!
//! The day is 2026-01-01 (UTC), resolution 5 minutes; a subquery series "from h1 to h2" has a
//! point every 300 s from h1 to h2 inclusive, so it spans h2 − h1 hours.
//!
//! Cluster `c1`:
//! - `n1`, an on-demand m5.xlarge (4 cores, 16 GiB), all day, at the exporter's $0.031247 per
//!   core-hour and $0.004188 per GiB-hour: CPU 4 × 24 × 0.031247 = 2.999712, RAM
//!   16 × 24 × 0.004188 = 1.608192, node 4.607904.
//! - `n2`, a spot m5.large (2 cores, 8 GiB), 12:00–24:00, with no price series: Kubecost's
//!   spot defaults $0.006655 and $0.000892: CPU 2 × 12 × 0.006655 = 0.15972, RAM
//!   8 × 12 × 0.000892 = 0.085632, node 0.245352.
//! - `shop/web-7d4f9-abc` (ReplicaSet `web-7d4f9` of Deployment `web`) on n1 all day:
//!   `nginx` requests 0.5 core and 1 GiB (allocation the same), uses 0.1 core:
//!   12 core-h → 12 × 0.031247 = 0.374964; 24 GiB-h → 24 × 0.004188 = 0.100512;
//!   `log-shipper` has usage only (0.05 core, 64 MiB): kept at zero cost.
//! - `shop/postgres-0` (StatefulSet) on n1 00:00–12:00: 1 core, 2 GiB: 12 core-h → 0.374964,
//!   24 GiB-h → 0.100512; it mounts the claim `data-postgres-0` (20 GiB, all day) on PV
//!   `pv-db` at $0.000136986 per GiB-hour.
//! - `batch/backup-29000000-x7k` (Job `backup-29000000` of CronJob `backup`) on n2
//!   12:00–14:00: 1 core, 0.5 GiB: 2 core-h → 2 × 0.006655 = 0.01331; 1 GiB-h → 0.000892.
//! - `default/debug`, a bare pod on n1 all day: 0.1 core: 2.4 core-h → 0.0749928.
//! - PV `pv-orphan`, 5 GiB, all day, claimed by nobody.
//! - Load balancers: `shop/web-lb` ($0.025/h, selects app=web) and `shop/old-lb` ($0.01/h,
//!   selects nothing running), both all day; EKS management $0.10/h.

mod support;

use ampfed_allocation::{
    check_balance, parse_properties, query, Allocation, AllocationSet, QueryOptions, Window, UNALLOCATED,
};
use ampfed_costmodel::{
    compute_from_results, Computed, Config, CostModel, CostModelError, CustomPricing, QueryResults,
};
use ampfed_prom::{Client, InstantSample};
use support::{close, s, span, DAY, GIB, H, START};

/// $0.10 per GiB-month over 730 hours.
const PV_PRICE: f64 = 0.000136986;

fn container(ns: &str, pod: &str, c: &str, node: &str) -> Vec<(&'static str, String)> {
    vec![("namespace", ns.into()), ("pod", pod.into()), ("container", c.into()), ("node", node.into())]
}

fn cs(pairs: Vec<(&'static str, String)>, value: f64) -> InstantSample {
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    s(&borrowed, value)
}

/// The cluster described in the module documentation.
fn results() -> QueryResults {
    let web = |c: &str| container("shop", "web-7d4f9-abc", c, "n1");
    let pg = container("shop", "postgres-0", "postgres", "n1");
    let backup = container("batch", "backup-29000000-x7k", "backup", "n2");
    let debug = container("default", "debug", "debug", "n1");
    let node_price = |node: &str, v: f64| {
        s(&[("node", node), ("instance_type", "m5.xlarge"), ("provider_id", "aws:///us-east-1a/i-1")], v)
    };
    QueryResults {
        running: vec![
            span(&[("namespace", "shop"), ("pod", "web-7d4f9-abc")], 0, 24),
            span(&[("namespace", "shop"), ("pod", "postgres-0")], 0, 12),
            span(&[("namespace", "batch"), ("pod", "backup-29000000-x7k")], 12, 14),
            span(&[("namespace", "default"), ("pod", "debug")], 0, 24),
        ],
        cpu_alloc: vec![
            cs(web("nginx"), 0.5),
            cs(pg.clone(), 1.0),
            cs(backup.clone(), 1.0),
            cs(debug.clone(), 0.1),
        ],
        cpu_request: vec![
            cs(web("nginx"), 0.5),
            cs(pg.clone(), 1.0),
            cs(backup.clone(), 1.0),
            cs(debug.clone(), 0.1),
        ],
        cpu_usage: vec![
            s(
                &[
                    ("namespace", "shop"),
                    ("pod", "web-7d4f9-abc"),
                    ("container", "nginx"),
                    ("instance", "n1"),
                ],
                0.1,
            ),
            s(
                &[
                    ("namespace", "shop"),
                    ("pod", "web-7d4f9-abc"),
                    ("container", "log-shipper"),
                    ("instance", "n1"),
                ],
                0.05,
            ),
        ],
        ram_alloc: vec![cs(web("nginx"), GIB), cs(pg.clone(), 2.0 * GIB), cs(backup.clone(), 0.5 * GIB)],
        ram_request: vec![cs(web("nginx"), GIB), cs(pg, 2.0 * GIB), cs(backup, 0.5 * GIB)],
        ram_usage: vec![s(
            &[
                ("namespace", "shop"),
                ("pod", "web-7d4f9-abc"),
                ("container", "log-shipper"),
                ("instance", "n1"),
            ],
            64.0 * 1024.0 * 1024.0,
        )],
        cpu_price: vec![node_price("n1", 0.031247)],
        ram_price: vec![node_price("n1", 0.004188)],
        node_is_spot: vec![s(&[("node", "n1")], 0.0), s(&[("node", "n2")], 1.0)],
        node_cpu_capacity: vec![s(&[("node", "n1")], 4.0), s(&[("node", "n2")], 2.0)],
        node_ram_capacity: vec![s(&[("node", "n1")], 16.0 * GIB), s(&[("node", "n2")], 8.0 * GIB)],
        node_active: vec![span(&[("node", "n1")], 0, 24), span(&[("node", "n2")], 12, 24)],
        node_labels: vec![s(
            &[
                ("node", "n1"),
                ("label_eks_amazonaws_com_nodegroup", "general"),
                ("label_kubernetes_io_hostname", "n1"),
            ],
            1.0,
        )],
        namespace_labels: vec![s(
            &[("namespace", "shop"), ("label_team", "storefront"), ("label_env", "prod")],
            1.0,
        )],
        namespace_annotations: vec![s(&[("namespace", "shop"), ("annotation_owner", "ana")], 1.0)],
        pod_labels: vec![
            s(
                &[
                    ("namespace", "shop"),
                    ("pod", "web-7d4f9-abc"),
                    ("label_app", "web"),
                    ("label_team", "web-team"),
                ],
                1.0,
            ),
            s(&[("namespace", "shop"), ("pod", "postgres-0"), ("label_app", "postgres")], 1.0),
        ],
        pod_annotations: vec![s(
            &[("namespace", "shop"), ("pod", "web-7d4f9-abc"), ("annotation_owner", "bo")],
            1.0,
        )],
        service_labels: vec![
            s(&[("namespace", "shop"), ("service", "web-lb"), ("label_app", "web")], 1.0),
            s(&[("namespace", "shop"), ("service", "old-lb"), ("label_app", "old")], 1.0),
        ],
        pod_owners: vec![
            s(
                &[
                    ("namespace", "shop"),
                    ("pod", "web-7d4f9-abc"),
                    ("owner_kind", "ReplicaSet"),
                    ("owner_name", "web-7d4f9"),
                    ("owner_is_controller", "true"),
                ],
                1.0,
            ),
            s(
                &[
                    ("namespace", "shop"),
                    ("pod", "postgres-0"),
                    ("owner_kind", "StatefulSet"),
                    ("owner_name", "postgres"),
                    ("owner_is_controller", "true"),
                ],
                1.0,
            ),
            s(
                &[
                    ("namespace", "batch"),
                    ("pod", "backup-29000000-x7k"),
                    ("owner_kind", "Job"),
                    ("owner_name", "backup-29000000"),
                    ("owner_is_controller", "true"),
                ],
                1.0,
            ),
            s(
                &[
                    ("namespace", "default"),
                    ("pod", "debug"),
                    ("owner_kind", "<none>"),
                    ("owner_name", "<none>"),
                    ("owner_is_controller", "<none>"),
                ],
                1.0,
            ),
        ],
        replicaset_owners: vec![s(
            &[
                ("namespace", "shop"),
                ("replicaset", "web-7d4f9"),
                ("owner_kind", "Deployment"),
                ("owner_name", "web"),
            ],
            1.0,
        )],
        job_owners: vec![s(
            &[
                ("namespace", "batch"),
                ("job_name", "backup-29000000"),
                ("owner_kind", "CronJob"),
                ("owner_name", "backup"),
            ],
            1.0,
        )],
        pvc_info: vec![span(
            &[
                ("namespace", "shop"),
                ("persistentvolumeclaim", "data-postgres-0"),
                ("volumename", "pv-db"),
                ("storageclass", "gp3"),
            ],
            0,
            24,
        )],
        pod_pvc_allocation: vec![s(
            &[
                ("namespace", "shop"),
                ("pod", "postgres-0"),
                ("persistentvolumeclaim", "data-postgres-0"),
                ("persistentvolume", "pv-db"),
            ],
            20.0 * GIB,
        )],
        pvc_bytes_requested: vec![s(
            &[("namespace", "shop"), ("persistentvolumeclaim", "data-postgres-0")],
            20.0 * GIB,
        )],
        pv_active: vec![
            span(&[("persistentvolume", "pv-db")], 0, 24),
            span(&[("persistentvolume", "pv-orphan")], 0, 24),
        ],
        pv_bytes: vec![
            s(&[("persistentvolume", "pv-db")], 20.0 * GIB),
            s(&[("persistentvolume", "pv-orphan")], 5.0 * GIB),
        ],
        pv_cost: vec![
            s(&[("persistentvolume", "pv-db"), ("volumename", "pv-db"), ("provider_id", "vol-1")], PV_PRICE),
            s(
                &[("persistentvolume", "pv-orphan"), ("volumename", "pv-orphan"), ("provider_id", "vol-2")],
                PV_PRICE,
            ),
        ],
        lb_cost: vec![
            s(&[("namespace", "shop"), ("service_name", "web-lb"), ("ingress_ip", "3.3.3.3")], 0.025),
            s(&[("namespace", "shop"), ("service_name", "old-lb"), ("ingress_ip", "10.0.0.5")], 0.01),
        ],
        lb_active: vec![
            span(&[("namespace", "shop"), ("service_name", "web-lb")], 0, 24),
            span(&[("namespace", "shop"), ("service_name", "old-lb")], 0, 24),
        ],
        cluster_management_cost: vec![s(&[("provisioner_name", "EKS")], 0.1)],
        cluster_management_active: vec![span(&[], 0, 24)],
        ..QueryResults::default()
    }
}

fn computed() -> Computed {
    compute_from_results("c1", DAY, &results(), &Config::default())
}

fn get<'a>(set: &'a AllocationSet, name: &str) -> &'a Allocation {
    let names: Vec<&str> = set.allocations.iter().map(|a| a.name.as_str()).collect();
    set.allocations.iter().find(|a| a.name == name).unwrap_or_else(|| panic!("no {name} in {names:?}"))
}

#[test]
fn cpu_ram_and_efficiency_of_a_deployment_pod() {
    let c = computed();
    let nginx = get(&c.allocations, "c1/n1/shop/web-7d4f9-abc/nginx");
    // 0.5 core × 24 h = 12 core-hours → 12 × 0.031247 = 0.374964.
    close(nginx.minutes, 1440.0);
    close(nginx.cpu_core_hours, 12.0);
    close(nginx.cpu_cost, 0.374964);
    // 1 GiB × 24 h = 24 GiB-hours → 24 × 0.004188 = 0.100512.
    close(nginx.ram_byte_hours, 24.0 * GIB);
    close(nginx.ram_cost, 0.100512);
    // Usage 0.1 of a 0.5 request: 20 % efficient.
    close(nginx.cpu_efficiency, 0.2);
    // A ReplicaSet rolls up to its Deployment.
    assert_eq!(
        (nginx.properties.controller_kind.as_str(), nginx.properties.controller.as_str()),
        ("deployment", "web")
    );
    assert_eq!(nginx.properties.provider_id, "aws:///us-east-1a/i-1");
}

#[test]
fn a_usage_only_container_is_kept_at_zero_cost() {
    // No allocation or request series: OpenCost's appendContainer keeps it with its usage;
    // the usage series name no node, so neither does the allocation.
    let c = computed();
    let shipper = get(&c.allocations, "c1//shop/web-7d4f9-abc/log-shipper");
    close(shipper.minutes, 1440.0);
    close(shipper.cpu_core_usage_average, 0.05);
    close(shipper.ram_byte_usage_average, 64.0 * 1024.0 * 1024.0);
    assert_eq!((shipper.cpu_cost, shipper.ram_cost, shipper.cpu_core_hours), (0.0, 0.0, 0.0));
    // No request but usage and no cost: 0 % (Kubecost's rule needs a cost for 100 %).
    assert_eq!(shipper.cpu_efficiency, 0.0);
    assert_eq!(shipper.properties.controller, "web");
}

#[test]
fn a_spot_node_without_prices_takes_the_spot_defaults() {
    let c = computed();
    let backup = get(&c.allocations, "c1/n2/batch/backup-29000000-x7k/backup");
    // 12:00–14:00: 120 minutes; 1 core → 2 core-h × 0.006655 = 0.01331; 0.5 GiB → 1 GiB-h ×
    // 0.000892 = 0.000892.
    close(backup.minutes, 120.0);
    close(backup.cpu_cost, 0.01331);
    close(backup.ram_cost, 0.000892);
    let n2 = c.assets.nodes.iter().find(|n| n.name == "n2").unwrap();
    assert!(n2.preemptible);
    assert_eq!(n2.price_source, "default");
    // 12 h of 2 cores and 8 GiB: 0.15972 + 0.085632 = 0.245352.
    close(n2.minutes, 720.0);
    close(n2.cpu_core_hours, 24.0);
    close(n2.cpu_cost, 0.15972);
    close(n2.ram_cost, 0.085632);
    close(n2.total_cost, 0.245352);
}

#[test]
fn a_cronjob_job_rolls_up_to_the_cronjob() {
    let c = computed();
    let backup = get(&c.allocations, "c1/n2/batch/backup-29000000-x7k/backup");
    assert_eq!(backup.properties.controller_kind, "job");
    assert_eq!(backup.properties.controller, "backup");
    let rows = query(
        &c.allocations,
        None,
        &QueryOptions {
            aggregate: parse_properties("controller").unwrap(),
            idle: false,
            share_tenancy_costs: false,
            ..Default::default()
        },
    )
    .unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    // The bare pod and the unmounted entries have no controller.
    assert_eq!(names, [UNALLOCATED, "deployment:web", "job:backup", "statefulset:postgres"]);
    // Without kube_job_owner, OpenCost's rule strips the timestamp from the Job name.
    let mut r = results();
    r.job_owners.clear();
    let c = compute_from_results("c1", DAY, &r, &Config::default());
    assert_eq!(get(&c.allocations, "c1/n2/batch/backup-29000000-x7k/backup").properties.controller, "backup");
}

#[test]
fn a_pvc_is_charged_to_its_pod_and_the_rest_is_unmounted() {
    let c = computed();
    // The claim's cost over its life: 0.000136986 × 20 GiB × 24 h = 0.06575328. postgres-0
    // mounted it 00:00–12:00, half its life: 0.03287664 and 20 × 24 × 0.5 = 240 GiB-h; the
    // other half goes to shop's unmounted-claims entry. (OpenCost would charge the pod its
    // 12 hours × the half: 0.01643832, and lose a quarter of the cost.)
    let pg = get(&c.allocations, "c1/n1/shop/postgres-0/postgres");
    close(pg.pv_cost, 0.03287664);
    close(pg.pv_byte_hours, 240.0 * GIB);
    close(pg.cpu_cost, 0.374964);
    // pvBytes is the average over the pod's 12 hours: 240 / 12 = 20 GiB.
    close(pg.pv_bytes, 20.0 * GIB);
    let pv = &pg.pvs["cluster=c1:name=pv-db"];
    assert_eq!(pv.provider_id, "vol-1");
    let claims = get(&c.allocations, "c1//shop/shop-unmounted-pvcs/__unmounted__");
    close(claims.pv_cost, 0.03287664);
    // The unclaimed PV: 0.000136986 × 5 × 24 = 0.01643832 on the cluster's unmounted entry,
    // with the load balancer that selects no pod (below).
    let unmounted = get(&c.allocations, "c1//__unmounted__/__unmounted__/__unmounted__");
    close(unmounted.pv_cost, 0.01643832);
    // The disk assets match what the allocations were charged.
    let disk = c.assets.disks.iter().find(|d| d.name == "pv-db").unwrap();
    close(disk.cost, 0.06575328);
    assert_eq!((disk.claim_name.as_str(), disk.storage_class.as_str()), ("data-postgres-0", "gp3"));
}

#[test]
fn load_balancers_go_to_the_services_pods() {
    let c = computed();
    // 0.025 × 24 h = 0.6 (OpenCost's interpolation adds one 5-minute resolution, 289/12 h;
    // ampfed keeps it inside the day), split over the web pod's two containers by overlap
    // hours (equal): half each.
    let lb = 0.025 * 24.0;
    close(get(&c.allocations, "c1/n1/shop/web-7d4f9-abc/nginx").load_balancer_cost, lb / 2.0);
    close(get(&c.allocations, "c1//shop/web-7d4f9-abc/log-shipper").load_balancer_cost, lb / 2.0);
    // old-lb selects no running pod: 0.01 × 24 = 0.24 on the unmounted entry.
    let unmounted = get(&c.allocations, "c1//__unmounted__/__unmounted__/__unmounted__");
    close(unmounted.load_balancer_cost, 0.01 * 24.0);
    assert_eq!(unmounted.properties.services, ["old-lb"]);
    let assets: Vec<(&str, bool)> =
        c.assets.load_balancers.iter().map(|l| (l.name.as_str(), l.private)).collect();
    assert_eq!(assets, [("shop/old-lb", true), ("shop/web-lb", false)]);
}

#[test]
fn labels_merge_node_then_namespace_then_pod() {
    let c = computed();
    let nginx = get(&c.allocations, "c1/n1/shop/web-7d4f9-abc/nginx");
    let l = &nginx.properties.labels;
    // The node label on the include list is inherited; the hostname label is not.
    assert_eq!(l.get("eks_amazonaws_com_nodegroup").map(String::as_str), Some("general"));
    assert!(!l.contains_key("kubernetes_io_hostname"));
    // The pod's team overrides the namespace's; the namespace's env is inherited.
    assert_eq!(l.get("team").map(String::as_str), Some("web-team"));
    assert_eq!(l.get("env").map(String::as_str), Some("prod"));
    assert_eq!(nginx.properties.namespace_labels.get("team").map(String::as_str), Some("storefront"));
    assert_eq!(nginx.properties.annotations.get("owner").map(String::as_str), Some("bo"));
    assert_eq!(nginx.properties.services, ["web-lb"]);
    // Usable by aggregation: label:team.
    let rows = query(
        &c.allocations,
        None,
        &QueryOptions {
            aggregate: parse_properties("label:team").unwrap(),
            idle: false,
            share_tenancy_costs: false,
            ..Default::default()
        },
    )
    .unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, [UNALLOCATED, "storefront", "web-team"]);
}

#[test]
fn idle_balances_and_the_bill_is_complete() {
    let c = computed();
    // On n1: nginx 0.374964 + 0.100512, postgres 0.374964 + 0.100512, debug 0.0749928 →
    // CPU 0.8249208, RAM 0.201024; on n2: backup 0.01331 + 0.000892. Allocated 1.0401468;
    // nodes 4.607904 + 0.245352 = 4.853256; idle 4.853256 − 1.0401468 = 3.8131092.
    let rows = query(
        &c.allocations,
        Some(&c.assets),
        &QueryOptions {
            aggregate: parse_properties("cluster").unwrap(),
            split_idle: true,
            ..Default::default()
        },
    )
    .unwrap();
    let balance = check_balance(&rows, &c.assets, 0.001).unwrap();
    close(balance[0].allocated, 1.0401468);
    close(balance[0].idle, 3.8131092);
    close(balance[0].node_cost, 4.853256);
    // Everything the cluster paid for is in the answer: nodes 4.853256, disks 0.06575328 +
    // 0.01643832, load balancers (0.025 + 0.01) × 24, management 0.10 × 24 = 2.4 (shared
    // as tenancy cost by default).
    let bill = 4.853256 + 0.06575328 + 0.01643832 + 0.035 * 24.0 + 2.4;
    close(c.assets.total_cost(), bill);
    let answered: f64 = rows.iter().map(|r| r.total_cost).sum();
    close(answered, bill);
    let by_namespace = query(
        &c.allocations,
        Some(&c.assets),
        &QueryOptions {
            aggregate: parse_properties("namespace").unwrap(),
            share_idle: true,
            ..Default::default()
        },
    )
    .unwrap();
    close(by_namespace.iter().map(|r| r.total_cost).sum(), bill);
}

#[test]
fn discounts_apply_to_cpu_and_ram_on_both_sides() {
    // 30 % general and 10 % negotiated: 1 − 0.7 × 0.9 = 0.37 off CPU and RAM.
    let pricing = CustomPricing::from_json(r#"{"discount":"30%","negotiatedDiscount":"10%"}"#).unwrap();
    let c = compute_from_results("c1", DAY, &results(), &Config { pricing, ..Config::default() });
    let nginx = get(&c.allocations, "c1/n1/shop/web-7d4f9-abc/nginx");
    // 0.374964 × 0.63 = 0.23622732; 0.100512 × 0.63 = 0.06332256.
    close(nginx.cpu_cost, 0.23622732);
    close(nginx.ram_cost, 0.06332256);
    let n1 = c.assets.nodes.iter().find(|n| n.name == "n1").unwrap();
    close(n1.discount, 0.37);
    // Stored before discount; the total after: 4.607904 × 0.63 = 2.90297952.
    close(n1.cpu_cost, 2.999712);
    close(n1.total_cost, 2.90297952);
}

#[test]
fn custom_prices_replace_the_exporters() {
    // customPricesEnabled: CPU $0.04, RAM $0.005 for every on-demand node: nginx 12 × 0.04 =
    // 0.48 and 24 × 0.005 = 0.12. The spot node takes the file's spot prices (defaults here).
    let pricing =
        CustomPricing::from_json(r#"{"CPU":"0.04","RAM":"0.005","customPricesEnabled":"true"}"#).unwrap();
    let c = compute_from_results("c1", DAY, &results(), &Config { pricing, ..Config::default() });
    let nginx = get(&c.allocations, "c1/n1/shop/web-7d4f9-abc/nginx");
    close(nginx.cpu_cost, 0.48);
    close(nginx.ram_cost, 0.12);
    close(get(&c.allocations, "c1/n2/batch/backup-29000000-x7k/backup").cpu_cost, 0.01331);
    assert_eq!(c.assets.nodes[0].price_source, "custom");
}

#[test]
fn price_fallbacks_and_the_cpu_sanity_limit() {
    let mut r = results();
    // n1's CPU price 0 → the default 0.031611: debug's 2.4 core-h → 0.0758664. RAM +Inf → 0.
    r.cpu_price[0].value = 0.0;
    r.ram_price[0].value = f64::INFINITY;
    // A garbage 600-core allocation for debug (> 512) is dropped; its request (0.1) stays.
    r.cpu_alloc.retain(|s| s.labels.get("pod").map(String::as_str) != Some("debug"));
    r.cpu_alloc.push(cs(container("default", "debug", "debug", "n1"), 600.0));
    let c = compute_from_results("c1", DAY, &r, &Config::default());
    let debug = get(&c.allocations, "c1/n1/default/debug/debug");
    close(debug.cpu_core_hours, 2.4);
    close(debug.cpu_cost, 0.0758664);
    assert_eq!(get(&c.allocations, "c1/n1/shop/web-7d4f9-abc/nginx").ram_cost, 0.0);
    let n1 = c.assets.nodes.iter().find(|n| n.name == "n1").unwrap();
    assert_eq!(n1.price_source, "prometheus/customCPU");
    // The node asset uses the same resolved prices: 4 × 24 × 0.031611 = 3.034656.
    close(n1.cpu_cost, 3.034656);
    assert_eq!(n1.ram_cost, 0.0);
}

#[test]
fn two_halves_accumulate_to_the_day() {
    // OpenCost computes a window longer than its maximum query duration in pieces and adds
    // them up. Here: 00:00–12:00 and 12:00–24:00 of the debug pod (0.1 core all day), each
    // piece seeing only its half of the samples: 1.2 + 1.2 = 2.4 core-h → 0.0749928.
    let half = |from: i64, to: i64| QueryResults {
        running: vec![span(&[("namespace", "default"), ("pod", "debug")], from, to)],
        cpu_request: vec![cs(container("default", "debug", "debug", "n1"), 0.1)],
        cpu_price: vec![s(&[("node", "n1")], 0.031247)],
        ram_price: vec![s(&[("node", "n1")], 0.004188)],
        node_active: vec![span(&[("node", "n1")], from, to)],
        node_cpu_capacity: vec![s(&[("node", "n1")], 4.0)],
        ..QueryResults::default()
    };
    let config = Config::default();
    let w1 = Window { start: START, end: START + 12 * H };
    let w2 = Window { start: START + 12 * H, end: DAY.end };
    let a = compute_from_results("c1", w1, &half(0, 12), &config);
    let b = compute_from_results("c1", w2, &half(12, 24), &config);
    let day = AllocationSet::accumulate(&[a.allocations, b.allocations]).unwrap();
    assert_eq!(day.window, DAY);
    let debug = get(&day, "c1/n1/default/debug/debug");
    close(debug.minutes, 1440.0);
    close(debug.cpu_core_hours, 2.4);
    close(debug.cpu_cost, 0.0749928);
    let assets = ampfed_allocation::AssetSet::accumulate(&[a.assets, b.assets]).unwrap();
    // 4 cores × 24 h × 0.031247 = 2.999712.
    close(assets.nodes[0].cpu_cost, 2.999712);
}

#[test]
fn a_misaligned_day_is_refused() {
    // Nothing is queried: the window is checked first.
    let model = CostModel::new(Client::new("http://127.0.0.1:9", "/api/v1/write"), "c1", "cluster_id");
    let late = Window { start: START + H, end: START + 25 * H };
    assert!(matches!(model.compute_day(late), Err(CostModelError::Daily { .. })));
    assert!(matches!(
        model.compute_days(Window { start: START, end: START + 36 * H }),
        Err(CostModelError::Daily { .. })
    ));
    assert!(matches!(
        model.compute_detailed(Window { start: START, end: START }),
        Err(CostModelError::Window { .. })
    ));
}

#[test]
fn gpus_are_charged_per_gpu_hour_without_discount() {
    // debug asks for one GPU on n1, which has one at $3.06 per GPU-hour: 1 × 24 h = 24
    // GPU-hours → 73.44, on the allocation and on the node alike (GPU idle 0); the 37 %
    // discount does not touch GPUs.
    let mut r = results();
    r.gpu_request = vec![cs(container("default", "debug", "debug", "n1"), 1.0)];
    r.gpu_price = vec![s(&[("node", "n1")], 3.06)];
    r.node_gpu_count = vec![s(&[("node", "n1"), ("provider_id", "aws:///us-east-1a/i-1")], 1.0)];
    let pricing = CustomPricing::from_json(r#"{"discount":"30%","negotiatedDiscount":"10%"}"#).unwrap();
    let c = compute_from_results("c1", DAY, &r, &Config { pricing, ..Config::default() });
    let debug = get(&c.allocations, "c1/n1/default/debug/debug");
    close(debug.gpu_hours, 24.0);
    close(debug.gpu_count, 1.0);
    close(debug.gpu_cost, 73.44);
    let n1 = c.assets.nodes.iter().find(|n| n.name == "n1").unwrap();
    close(n1.gpu_cost, 73.44);
    // (2.999712 + 1.608192) × 0.63 + 73.44 = 76.34297952.
    close(n1.total_cost, 76.34297952);
    let idle =
        ampfed_allocation::idle_allocations(&c.allocations, &c.assets, ampfed_allocation::IdleBy::Node)
            .unwrap();
    let n1_idle = idle.iter().find(|i| i.name == "c1/n1/__idle__").unwrap();
    close(n1_idle.gpu_cost, 0.0);
}
