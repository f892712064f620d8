//! The checks a fixture's YAML shape cannot express: names, references between items, times,
//! profiles, and capacity at every moment of the timeline. Every problem names its field
//! and what was expected; all problems are reported, not only the first.

use std::collections::{BTreeMap, BTreeSet};

use crate::fixture::{
    sanitize_key, ClusterFixture, FixtureError, Prices, Profile, ServiceType, WorkloadKind,
};
use crate::plan::{self, Grid};
use crate::problems::{FieldPath, Problems};

/// The horizon fixture checks lay the timeline over: a day, or up to the last offset written.
fn check_grid(cluster: &ClusterFixture) -> Grid {
    let offsets = cluster
        .nodes
        .iter()
        .flat_map(|n| [n.start, n.end])
        .chain(cluster.workloads.iter().flat_map(|w| [w.start, w.end]))
        .chain(cluster.events.iter().map(|e| Some(e.at)))
        .flatten()
        .map(|o| o.secs());
    let last = offsets.max().unwrap_or(0).max(0);
    let horizon = (last + 60).clamp(86_400, 366 * 86_400);
    Grid { start_unix: 0, interval: 60, steps: (horizon / 60) as usize }
}

impl ClusterFixture {
    /// Checks what the YAML shape cannot: names, references, times, profiles, capacity.
    pub fn validate(&self) -> Result<(), FixtureError> {
        let mut p = self.problems();
        if p.is_empty() {
            Ok(())
        } else {
            if let Ok(text) = std::fs::read_to_string(&self.source) {
                p.locate(&text);
            }
            Err(FixtureError::Invalid { path: self.source.clone(), problems: p.0 })
        }
    }

    pub(crate) fn problems(&self) -> Problems {
        let mut p = Problems::default();
        let root = FieldPath::root();
        check_dns_subdomain(&mut p, root.clone().key("name"), "cluster name", &self.name);
        if self.region.trim().is_empty() {
            p.push(root.clone().key("region"), "is empty; expected the cloud region, e.g. us-east-1".into());
        }
        if self.nodes.is_empty() {
            p.push(root.clone().key("nodes"), "is empty; expected at least one node".into());
        }

        let mut node_names = BTreeSet::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let at = root.clone().key("nodes").index(i);
            let item = format!("node `{}`", n.name);
            check_dns_subdomain(&mut p, at.clone().key("name"), &item, &n.name);
            if !node_names.insert(n.name.as_str()) {
                p.push(at.clone().key("name"), format!("{item} is listed twice; expected unique node names"));
            }
            if n.cpu.0 <= 0.0 {
                p.push(
                    at.clone().key("cpu"),
                    format!("{item}: expected a CPU capacity above 0 (e.g. 4 or 3920m)"),
                );
            }
            if n.memory.0 == 0 {
                p.push(
                    at.clone().key("memory"),
                    format!("{item}: expected a memory capacity above 0 (e.g. 16Gi)"),
                );
            }
            if let Some(a) = n.allocatable {
                if a.cpu.0 > n.cpu.0 || a.memory.0 > n.memory.0 {
                    p.push(
                        at.clone().key("allocatable"),
                        format!(
                            "{item}: allocatable is above capacity; expected at most cpu {} and memory {}",
                            n.cpu.0, n.memory.0
                        ),
                    );
                }
            }
            for (field, v) in [("instance_type", &n.instance_type), ("zone", &n.zone)] {
                if v.trim().is_empty() {
                    p.push(at.clone().key(field), format!("{item}: is empty"));
                }
            }
            if let Some(pool) = &n.pool {
                check_dns_label(&mut p, at.clone().key("pool"), &item, pool);
            }
            if let (Some(s), Some(e)) = (n.start, n.end) {
                if e <= s {
                    p.push(at.clone().key("end"), format!("{item}: `end` ({e}) is not after `start` ({s}); expected the node to be up in [start, end)"));
                }
            }
            check_labels(&mut p, at.key("labels"), &item, &n.labels, "label_");
        }

        let mut ns_names = BTreeSet::new();
        for (i, ns) in self.namespaces.iter().enumerate() {
            let at = root.clone().key("namespaces").index(i);
            let item = format!("namespace `{}`", ns.name);
            check_dns_label(&mut p, at.clone().key("name"), &item, &ns.name);
            if !ns_names.insert(ns.name.as_str()) {
                p.push(
                    at.clone().key("name"),
                    format!("{item} is listed twice; expected unique namespace names"),
                );
            }
            check_labels(&mut p, at.clone().key("labels"), &item, &ns.labels, "label_");
            check_labels(&mut p, at.key("annotations"), &item, &ns.annotations, "annotation_");
        }
        let known_ns = |p: &mut Problems, at: FieldPath, item: &str, ns: &str| {
            if !ns_names.contains(ns) {
                p.push(
                    at,
                    format!("{item}: namespace `{ns}` is not listed under `namespaces`; expected it there"),
                );
            }
        };

        let mut claim_keys = BTreeSet::new();
        for (i, c) in self.claims.iter().enumerate() {
            let at = root.clone().key("claims").index(i);
            let item = format!("claim `{}/{}`", c.namespace, c.name);
            check_dns_subdomain(&mut p, at.clone().key("name"), &item, &c.name);
            known_ns(&mut p, at.clone().key("namespace"), &item, &c.namespace);
            if !claim_keys.insert((c.namespace.as_str(), c.name.as_str())) {
                p.push(
                    at.clone().key("name"),
                    format!("{item} is listed twice; expected unique claim names per namespace"),
                );
            }
            if c.size.0 == 0 {
                p.push(at.key("size"), format!("{item}: expected a size above 0 (e.g. 20Gi)"));
            }
        }

        let mut service_keys = BTreeSet::new();
        for (i, s) in self.services.iter().enumerate() {
            let at = root.clone().key("services").index(i);
            let item = format!("service `{}/{}`", s.namespace, s.name);
            check_dns_label(&mut p, at.clone().key("name"), &item, &s.name);
            known_ns(&mut p, at.clone().key("namespace"), &item, &s.namespace);
            if !service_keys.insert((s.namespace.as_str(), s.name.as_str())) {
                p.push(
                    at.clone().key("name"),
                    format!("{item} is listed twice; expected unique service names per namespace"),
                );
            }
            if s.selector.is_empty() && s.service_type == ServiceType::LoadBalancer {
                p.push(
                    at.clone().key("selector"),
                    format!("{item}: expected a selector naming the pods it serves"),
                );
            }
            check_labels(&mut p, at.key("selector"), &item, &s.selector, "label_");
        }

        let mut workload_keys = BTreeMap::new();
        for (wi, w) in self.workloads.iter().enumerate() {
            self.check_workload(&mut p, wi, &node_names, &ns_names);
            if let Some(first) = workload_keys.insert(w.key(), wi) {
                p.push(
                    root.clone().key("workloads").index(wi).key("name"),
                    format!("workload `{}`: workloads[{first}] has the same namespace and name; expected unique names", w.key()),
                );
            }
        }

        for i in 0..self.events.len() {
            self.check_event(&mut p, i, &workload_keys);
        }

        if p.is_empty() {
            // The timeline only makes sense once every reference resolves.
            let grid = check_grid(self);
            let plan = plan::plan(self, grid, &mut p);
            plan.check(self, grid, &mut p);
        }
        p
    }

    fn check_workload(
        &self,
        p: &mut Problems,
        wi: usize,
        node_names: &BTreeSet<&str>,
        ns_names: &BTreeSet<&str>,
    ) {
        let w = &self.workloads[wi];
        let at = FieldPath::root().key("workloads").index(wi);
        let item = format!("workload `{}` ({})", w.key(), w.kind.as_str());
        check_dns_label(p, at.clone().key("name"), &item, &w.name);
        if w.name.len() > 40 {
            p.push(at.clone().key("name"), format!("{item}: the name is longer than 40 characters; expected a shorter one (pod names add a suffix)"));
        }
        if !ns_names.contains(w.namespace.as_str()) {
            p.push(
                at.clone().key("namespace"),
                format!(
                    "{item}: namespace `{}` is not listed under `namespaces`; expected it there",
                    w.namespace
                ),
            );
        }
        match (w.kind, w.replicas) {
            (WorkloadKind::DaemonSet, Some(_)) => p.push(
                at.clone().key("replicas"),
                format!("{item}: a DaemonSet runs one pod per node; expected no `replicas` (use `nodes` to limit it)"),
            ),
            (WorkloadKind::Pod, Some(r)) if r != 1 => p.push(
                at.clone().key("replicas"),
                format!("{item}: a bare pod is one pod; expected no `replicas` (or 1)"),
            ),
            (_, Some(0)) => p.push(
                at.clone().key("replicas"),
                format!("{item}: `replicas` is 0; expected at least 1, or remove the workload"),
            ),
            _ => {}
        }
        let cron = w.kind == WorkloadKind::CronJob;
        if cron && w.schedule.is_none() {
            p.push(
                at.clone().key("schedule"),
                format!("{item}: a CronJob needs `schedule`, e.g. \"30 2 * * *\""),
            );
        }
        if cron && w.job_duration.is_none_or(|d| d.secs() <= 0) {
            p.push(
                at.clone().key("job_duration"),
                format!("{item}: a CronJob needs `job_duration` above 0, e.g. \"00:20\""),
            );
        }
        if !cron && w.schedule.is_some() {
            p.push(
                at.clone().key("schedule"),
                format!("{item}: only a CronJob has a `schedule`; expected it removed"),
            );
        }
        if !cron && w.job_duration.is_some() {
            p.push(
                at.clone().key("job_duration"),
                format!("{item}: only a CronJob has a `job_duration`; expected it removed"),
            );
        }
        if w.kind != WorkloadKind::StatefulSet && !w.volume_claim_templates.is_empty() {
            p.push(
                at.clone().key("volume_claim_templates"),
                format!("{item}: only a StatefulSet has volume claim templates; expected `claims` instead"),
            );
        }
        for (ti, t) in w.volume_claim_templates.iter().enumerate() {
            let tat = at.clone().key("volume_claim_templates").index(ti);
            check_dns_label(p, tat.clone().key("name"), &item, &t.name);
            if t.size.0 == 0 {
                p.push(tat.key("size"), format!("{item}: expected a claim size above 0 (e.g. 20Gi)"));
            }
        }
        for (ci, claim) in w.claims.iter().enumerate() {
            if !self.claims.iter().any(|c| c.namespace == w.namespace && &c.name == claim) {
                p.push(
                    at.clone().key("claims").index(ci),
                    format!("{item}: claim `{claim}` is not listed under `claims` in namespace `{}`; expected it there", w.namespace),
                );
            }
        }
        if let Some(nodes) = &w.nodes {
            if nodes.is_empty() {
                p.push(
                    at.clone().key("nodes"),
                    format!("{item}: `nodes` is empty; expected at least one node, or no `nodes`"),
                );
            }
            let mut seen = BTreeSet::new();
            for (ni, n) in nodes.iter().enumerate() {
                if !node_names.contains(n.as_str()) {
                    p.push(
                        at.clone().key("nodes").index(ni),
                        format!(
                            "{item}: node `{n}` is not a node of this cluster; expected one of: {}",
                            self.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", ")
                        ),
                    );
                }
                if !seen.insert(n) {
                    p.push(
                        at.clone().key("nodes").index(ni),
                        format!("{item}: node `{n}` is listed twice in `nodes`"),
                    );
                }
            }
        }
        let start = w.start.unwrap_or_default();
        if let Some(end) = w.end {
            if end <= start {
                p.push(
                    at.clone().key("end"),
                    format!("{item}: `end` ({end}) is not after `start` ({start}); expected the pods to run in [start, end)"),
                );
            }
        }
        check_labels(p, at.clone().key("labels"), &item, &w.labels, "label_");
        check_labels(p, at.clone().key("annotations"), &item, &w.annotations, "annotation_");
        if let Some(s) = &w.selector {
            if s.is_empty() || s.iter().any(|(k, v)| w.labels.get(k) != Some(v)) {
                p.push(
                    at.clone().key("selector"),
                    format!(
                        "{item}: expected a non-empty `selector` whose labels are all among the pod `labels`"
                    ),
                );
            }
        }
        if w.containers.is_empty() {
            p.push(
                at.clone().key("containers"),
                format!("{item}: `containers` is empty; expected at least one container"),
            );
        }
        let mut names = BTreeSet::new();
        for (ci, c) in w.containers.iter().enumerate() {
            let cat = at.clone().key("containers").index(ci);
            let citem = format!("{item}, container `{}`", c.name);
            check_dns_label(p, cat.clone().key("name"), &citem, &c.name);
            if c.name == "POD" {
                p.push(cat.clone().key("name"), format!("{citem}: `POD` is the name cAdvisor gives the pause container; expected another name"));
            }
            if !names.insert(c.name.as_str()) {
                p.push(
                    cat.clone().key("name"),
                    format!("{citem}: expected container names unique within a pod"),
                );
            }
            if c.image.trim().is_empty() {
                p.push(
                    cat.clone().key("image"),
                    format!("{citem}: `image` is empty; expected an image reference"),
                );
            }
            if let (Some(r), Some(l)) = (c.cpu_request, c.cpu_limit) {
                if l.0 < r.0 {
                    p.push(
                        cat.clone().key("cpu_limit"),
                        format!("{citem}: the limit is below the request; expected at least {}", r.0),
                    );
                }
            }
            if let (Some(r), Some(l)) = (c.memory_request, c.memory_limit) {
                if l.0 < r.0 {
                    p.push(
                        cat.clone().key("memory_limit"),
                        format!("{citem}: the limit is below the request; expected at least {} bytes", r.0),
                    );
                }
            }
            if c.gpu_request == Some(0) {
                p.push(
                    cat.clone().key("gpu_request"),
                    format!("{citem}: expected at least 1 GPU, or no `gpu_request`"),
                );
            }
            if c.cpu_usage.profile == Profile::Oom {
                p.push(
                    cat.clone().key("cpu_usage").key("profile"),
                    format!("{citem}: `oom` is a memory profile; expected constant, diurnal, spiky or ramp for CPU"),
                );
            }
            if c.cpu_usage.period.is_some() {
                p.push(
                    cat.clone().key("cpu_usage").key("period"),
                    format!("{citem}: only the `oom` memory profile has a `period`"),
                );
            }
            let mem = &c.memory_usage;
            match (mem.profile, mem.period, c.memory_limit) {
                (Profile::Oom, period, limit) => {
                    if period.is_none_or(|d| d.secs() < 120) {
                        p.push(
                            cat.clone().key("memory_usage").key("period"),
                            format!("{citem}: the `oom` profile needs `period`, the time from a start to the kill, of at least 00:02"),
                        );
                    }
                    match limit {
                        None => p.push(
                            cat.clone().key("memory_limit"),
                            format!("{citem}: the `oom` profile needs a `memory_limit` for the kill"),
                        ),
                        Some(l) if l.0 <= mem.base.0 => p.push(
                            cat.clone().key("memory_usage").key("base"),
                            format!("{citem}: `base` must be below `memory_limit` ({} bytes) for the `oom` profile", l.0),
                        ),
                        Some(_) => {}
                    }
                }
                (_, Some(_), _) => p.push(
                    cat.clone().key("memory_usage").key("period"),
                    format!("{citem}: only the `oom` profile has a `period`"),
                ),
                _ => {}
            }
        }
    }

    fn check_event(&self, p: &mut Problems, i: usize, workloads: &BTreeMap<String, usize>) {
        let e = &self.events[i];
        let at = FieldPath::root().key("events").index(i);
        let actions = [e.scale.is_some(), e.rollout.is_some(), e.evict.is_some()];
        if actions.iter().filter(|a| **a).count() != 1 {
            p.push(at, "expected exactly one of `scale`, `rollout` and `evict`".into());
            return;
        }
        let (field, target) = if let Some(s) = &e.scale {
            ("scale", s.workload.as_str())
        } else if let Some(r) = &e.rollout {
            ("rollout", r.as_str())
        } else if let Some(v) = &e.evict {
            ("evict", v.workload.as_str())
        } else {
            return;
        };
        let Some(&wi) = workloads.get(target) else {
            p.push(
                at.key(field),
                format!(
                    "workload `{target}` is not in this fixture; expected `namespace/name` of one of: {}",
                    workloads.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
                ),
            );
            return;
        };
        let w = &self.workloads[wi];
        let kind = w.kind;
        let ok = match field {
            "scale" => matches!(kind, WorkloadKind::Deployment | WorkloadKind::StatefulSet),
            "rollout" => {
                matches!(kind, WorkloadKind::Deployment | WorkloadKind::StatefulSet | WorkloadKind::DaemonSet)
            }
            _ => kind != WorkloadKind::CronJob,
        };
        if !ok {
            p.push(
                at.clone().key(field),
                format!("a {} cannot be given `{field}`; expected a workload of another kind", kind.as_str()),
            );
        }
        if let Some(v) = &e.evict {
            let slots = match kind {
                WorkloadKind::DaemonSet => w.nodes.as_ref().map_or(self.nodes.len(), Vec::len),
                _ => {
                    let scaled =
                        self.events.iter().filter_map(|e| e.scale.as_ref()).filter(|s| s.workload == target);
                    scaled.map(|s| s.replicas).chain([w.replicas.unwrap_or(1)]).max().unwrap_or(1) as usize
                }
            };
            if v.replica as usize >= slots {
                p.push(
                    at.key("evict").key("replica"),
                    format!("expected a replica below {slots} for `{target}`"),
                );
            }
        }
    }
}

impl Prices {
    /// Checks that prices are sound and that each split adds up to its instance's price.
    pub fn validate(&self) -> Result<(), FixtureError> {
        let mut p = Problems::default();
        let root = FieldPath::root();
        if self.provider.trim().is_empty() {
            p.push(root.clone().key("provider"), "is empty; expected the provider, e.g. aws".into());
        }
        if self.region.trim().is_empty() {
            p.push(root.clone().key("region"), "is empty; expected the region, e.g. us-east-1".into());
        }
        if !(0.0..1.0).contains(&self.spot_discount) {
            p.push(
                root.clone().key("spot_discount"),
                format!("is {}; expected a fraction in [0, 1), e.g. 0.7", self.spot_discount),
            );
        }
        for (field, v) in [
            ("cluster_management_hourly_cost", self.cluster_management_hourly_cost),
            ("load_balancer_hourly_cost", self.load_balancer_hourly_cost),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                p.push(root.clone().key(field), format!("is {v}; expected a price of 0 or more"));
            }
        }
        if self.instance_types.is_empty() {
            p.push(
                root.clone().key("instance_types"),
                "is empty; expected at least one instance type".into(),
            );
        }
        for (name, price) in &self.instance_types {
            let at = root.clone().key("instance_types").key(name);
            let item = format!("instance type `{name}`");
            for (field, value) in [
                ("hourly_cost", price.hourly_cost),
                ("vcpus", price.vcpus),
                ("memory_gib", price.memory_gib),
                ("cpu_hourly_cost", price.cpu_hourly_cost),
                ("ram_hourly_cost_per_gib", price.ram_hourly_cost_per_gib),
            ] {
                if !(value.is_finite() && value > 0.0) {
                    p.push(at.clone().key(field), format!("{item}: is {value}; expected a number above 0"));
                }
            }
            if (price.gpus > 0) != (price.gpu_hourly_cost > 0.0) {
                p.push(
                    at.clone().key("gpu_hourly_cost"),
                    format!("{item}: expected `gpu_hourly_cost` above 0 exactly when `gpus` is"),
                );
            }
            if !matches!(price.arch.as_str(), "amd64" | "arm64") {
                p.push(
                    at.clone().key("arch"),
                    format!("{item}: is `{}`; expected amd64 or arm64", price.arch),
                );
            }
            let split = price.cpu_hourly_cost * price.vcpus
                + price.ram_hourly_cost_per_gib * price.memory_gib
                + price.gpu_hourly_cost * f64::from(price.gpus);
            if (split - price.hourly_cost).abs() > 0.01 * price.hourly_cost {
                p.push(
                    at.key("hourly_cost"),
                    format!(
                        "{item}: cpu_hourly_cost × vcpus + ram_hourly_cost_per_gib × memory_gib + gpu_hourly_cost × gpus = {split:.6}, \
                         more than 1 % away from hourly_cost {}; expected a split that adds up",
                        price.hourly_cost
                    ),
                );
            }
        }
        for (name, s) in &self.storage_classes {
            let at = root.clone().key("storage_classes").key(name);
            if !(s.gib_month_cost.is_finite() && s.gib_month_cost > 0.0) {
                p.push(
                    at.clone().key("gib_month_cost"),
                    format!("storage class `{name}`: expected a price above 0"),
                );
            }
            if s.provisioner.trim().is_empty() {
                p.push(
                    at.key("provisioner"),
                    format!("storage class `{name}`: expected a CSI driver name, e.g. ebs.csi.aws.com"),
                );
            }
        }
        if p.is_empty() {
            Ok(())
        } else {
            if let Ok(text) = std::fs::read_to_string(&self.source) {
                p.locate(&text);
            }
            Err(FixtureError::Invalid { path: self.source.clone(), problems: p.0 })
        }
    }
}

impl ClusterFixture {
    /// Checks that the price list covers the cluster's region, every node's instance type
    /// (with its GPUs) and every storage class the cluster uses.
    pub fn check_prices(&self, prices: &Prices) -> Result<(), FixtureError> {
        let mut p = Problems::default();
        let root = FieldPath::root();
        if self.region != prices.region {
            p.push(
                root.clone().key("region"),
                format!(
                    "the cluster is in region `{}` but the prices are for `{}`; expected the prices fixture of the cluster's region",
                    self.region, prices.region
                ),
            );
        }
        for (i, n) in self.nodes.iter().enumerate() {
            let at = root.clone().key("nodes").index(i);
            match prices.instance_types.get(&n.instance_type) {
                None => p.push(
                    at.key("instance_type"),
                    format!(
                        "node `{}`: instance type `{}` has no price; expected one of: {} (or add it under `instance_types`)",
                        n.name,
                        n.instance_type,
                        prices.instance_types.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
                    ),
                ),
                Some(price) if price.gpus != n.gpus => p.push(
                    at.key("gpus"),
                    format!("node `{}`: a {} has {} GPUs; expected `gpus: {}`", n.name, n.instance_type, price.gpus, price.gpus),
                ),
                Some(_) => {}
            }
        }
        let classes = self
            .claims
            .iter()
            .enumerate()
            .map(|(i, c)| (root.clone().key("claims").index(i).key("storage_class"), &c.storage_class))
            .chain(self.workloads.iter().enumerate().flat_map(|(wi, w)| {
                w.volume_claim_templates.iter().enumerate().map(move |(ti, t)| {
                    let at =
                        FieldPath::root().key("workloads").index(wi).key("volume_claim_templates").index(ti);
                    (at.key("storage_class"), &t.storage_class)
                })
            }));
        for (at, class) in classes {
            if !prices.storage_classes.contains_key(class) {
                p.push(
                    at,
                    format!(
                        "storage class `{class}` has no price; expected one of: {}",
                        prices.storage_classes.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
                    ),
                );
            }
        }
        if p.is_empty() {
            Ok(())
        } else {
            if let Ok(text) = std::fs::read_to_string(&self.source) {
                p.locate(&text);
            }
            Err(FixtureError::Mismatch {
                cluster: self.source.clone(),
                prices: prices.source.clone(),
                problems: p.0,
            })
        }
    }
}

fn check_labels(
    p: &mut Problems,
    at: FieldPath,
    item: &str,
    labels: &BTreeMap<String, String>,
    prefix: &str,
) {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for key in labels.keys() {
        if key.trim().is_empty() {
            p.push(at.clone(), format!("{item}: a key is empty; expected a Kubernetes label key"));
            continue;
        }
        if let Some(other) = seen.insert(sanitize_key(prefix, key), key) {
            p.push(
                at.clone().key(key),
                format!(
                    "{item}: `{other}` and `{key}` both become `{}` in kube-state-metrics; expected one of them renamed",
                    sanitize_key(prefix, key)
                ),
            );
        }
    }
}

fn check_dns_label(p: &mut Problems, at: FieldPath, item: &str, name: &str) {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !ok && name != "POD" {
        p.push(
            at,
            format!("{item}: `{name}` is not a valid Kubernetes name; expected 1–63 lower-case letters, digits and `-`"),
        );
    }
}

fn check_dns_subdomain(p: &mut Problems, at: FieldPath, item: &str, name: &str) {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|part| {
            !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        });
    if !ok {
        p.push(
            at,
            format!("{item}: `{name}` is not a valid name; expected lower-case letters, digits, `-` and `.`"),
        );
    }
}
