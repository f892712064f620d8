//! The timeline of a cluster: which node is up, which pod runs where, and which claim exists,
//! on every grid step. Both the fixture checks (capacity at every moment, names) and the
//! generator read it, so what is checked is what is generated.
//!
//! Times are grid steps: step `k` is `start + k × interval`; an offset maps to the first step
//! at or after it. A pod runs on steps `from..to`. Changes happen in this order on a step:
//! nodes leave (their pods are evicted), nodes join, then the fixture's events in file order.
//! A controller replaces an evicted pod at once, on the next node of its rotation that is up;
//! a bare pod is gone. A rollout replaces every pod of the workload on its node.

use std::collections::BTreeMap;

use crate::det;
use crate::fixture::{ClusterFixture, Workload, WorkloadKind};
use crate::problems::{FieldPath, Problems};

/// The grid a plan is laid on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grid {
    /// Unix seconds of step 0 (cron schedules are read in UTC from here).
    pub(crate) start_unix: i64,
    pub(crate) interval: i64,
    pub(crate) steps: usize,
}

impl Grid {
    /// The first step at or after an offset, clamped to the grid.
    pub(crate) fn step(&self, offset_secs: i64) -> usize {
        let k = (offset_secs.max(0) + self.interval - 1) / self.interval;
        usize::try_from(k).unwrap_or(usize::MAX).min(self.steps)
    }

    /// Seconds from the start to step `k`.
    pub(crate) fn offset(&self, k: usize) -> i64 {
        k as i64 * self.interval
    }
}

/// A planned pod: its identity, place and life.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PlannedPod {
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) uid: String,
    pub(crate) node: usize,
    pub(crate) workload: usize,
    /// `kube_pod_owner`'s owner; `<none>` for a bare pod.
    pub(crate) owner_kind: String,
    pub(crate) owner_name: String,
    /// Pod labels the controller adds (`pod-template-hash`, `job-name`, …).
    pub(crate) controller_labels: BTreeMap<String, String>,
    pub(crate) from: usize,
    pub(crate) to: usize,
    /// Whether the pod was running before the window (its counters start high).
    pub(crate) preexisting: bool,
    /// Indexes into [`Plan::claims`] of the claims the pod mounts.
    pub(crate) claims: Vec<usize>,
}

/// A claim and the volume bound to it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PlannedClaim {
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) storage_class: String,
    pub(crate) size: u64,
    /// The bound volume (`pvc-<uid>`) and its cloud volume id (`vol-…`).
    pub(crate) volume: String,
    pub(crate) volume_handle: String,
    /// From this step to the end of the grid (claims outlive their pods).
    pub(crate) from: usize,
}

/// A ReplicaSet (one per Deployment revision) or a Job, and the owner it reports.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PlannedOwner {
    pub(crate) namespace: String,
    pub(crate) name: String,
    /// `Deployment`, `CronJob`, or `<none>` for a Job of its own.
    pub(crate) owner_kind: String,
    pub(crate) owner_name: String,
    pub(crate) from: usize,
    pub(crate) to: usize,
}

/// Everything that exists over the grid.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    /// Per fixture node, the steps `from..to` it is up.
    pub(crate) nodes: Vec<(usize, usize)>,
    pub(crate) pods: Vec<PlannedPod>,
    pub(crate) claims: Vec<PlannedClaim>,
    pub(crate) replicasets: Vec<PlannedOwner>,
    pub(crate) jobs: Vec<PlannedOwner>,
}

/// Lays the cluster out on the grid; impossible layouts (no node up for a pod) are reported
/// into `problems` and leave the pod out.
pub(crate) fn plan(cluster: &ClusterFixture, grid: Grid, problems: &mut Problems) -> Plan {
    let mut plan = Plan {
        nodes: cluster
            .nodes
            .iter()
            .map(|n| {
                let from = grid.step(n.start.map_or(0, |o| o.secs()));
                let to = n.end.map_or(grid.steps, |o| grid.step(o.secs()));
                (from, to.max(from))
            })
            .collect(),
        ..Plan::default()
    };
    for c in &cluster.claims {
        plan.claims.push(claim(cluster, &c.namespace, &c.name, &c.storage_class, c.size.0, 0));
    }
    for (wi, w) in cluster.workloads.iter().enumerate() {
        let mut run = Run::new(cluster, wi, grid, &mut plan);
        match w.kind {
            WorkloadKind::CronJob => run.cron(problems),
            _ => run.controller(problems),
        }
    }
    plan
}

fn claim(
    cluster: &ClusterFixture,
    ns: &str,
    name: &str,
    class: &str,
    size: u64,
    from: usize,
) -> PlannedClaim {
    let c = cluster.name.as_str();
    PlannedClaim {
        namespace: ns.to_owned(),
        name: name.to_owned(),
        storage_class: class.to_owned(),
        size,
        volume: format!("pvc-{}", det::uuid(det::seed(&["pv", c, ns, name]))),
        volume_handle: format!("vol-{}", det::hex(det::seed(&["volume-id", c, ns, name]), 17)),
        from,
    }
}

/// What happens to a workload on one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Change {
    NodeLeaves(usize),
    NodeJoins(usize),
    /// Index into the fixture's events.
    Event(usize),
}

/// The life of one workload's pods.
struct Run<'a> {
    cluster: &'a ClusterFixture,
    w: &'a Workload,
    wi: usize,
    grid: Grid,
    plan: &'a mut Plan,
    /// Candidate nodes, as indexes into the fixture's nodes (unknown names are left out:
    /// validation reports them).
    candidates: Vec<usize>,
    /// Where the rotation starts, derived from the workload's name.
    first: usize,
    /// Pods made so far (names and uids of replacements derive from it).
    made: usize,
    revision: usize,
    /// Per replica slot (per candidate node for a DaemonSet), the running pod's index.
    slots: Vec<Option<usize>>,
    /// The `controller_labels` and owner of the current revision.
    owner: (String, String, BTreeMap<String, String>),
    /// StatefulSet claims made so far, per slot.
    slot_claims: BTreeMap<usize, Vec<usize>>,
    shared_claims: Vec<usize>,
    /// Whether pods now started belong to the workload's first layout.
    initial: bool,
}

impl<'a> Run<'a> {
    fn new(cluster: &'a ClusterFixture, wi: usize, grid: Grid, plan: &'a mut Plan) -> Run<'a> {
        let w = &cluster.workloads[wi];
        let index: BTreeMap<&str, usize> =
            cluster.nodes.iter().enumerate().map(|(i, n)| (n.name.as_str(), i)).collect();
        let candidates: Vec<usize> = match &w.nodes {
            Some(names) => names.iter().filter_map(|n| index.get(n.as_str()).copied()).collect(),
            None => (0..cluster.nodes.len()).collect(),
        };
        let first = if candidates.is_empty() {
            0
        } else {
            (det::seed(&[&w.namespace, &w.name]) % candidates.len() as u64) as usize
        };
        let shared_claims = w
            .claims
            .iter()
            .filter_map(|name| {
                cluster.claims.iter().position(|c| c.namespace == w.namespace && &c.name == name)
            })
            .collect();
        Run {
            cluster,
            w,
            wi,
            grid,
            plan,
            candidates,
            first,
            made: 0,
            revision: 0,
            slots: Vec::new(),
            owner: (String::new(), String::new(), BTreeMap::new()),
            slot_claims: BTreeMap::new(),
            shared_claims,
            initial: false,
        }
    }

    fn up(&self, node: usize, k: usize) -> bool {
        let (from, to) = self.plan.nodes[node];
        (from..to).contains(&k)
    }

    /// The node for replica `slot` at step `k`: the slot's place in the rotation, or the next
    /// node up after it; `avoid` is skipped when another node is up.
    fn place(&self, slot: usize, k: usize, avoid: Option<usize>) -> Option<usize> {
        let n = self.candidates.len();
        let order = (0..n).map(|j| self.candidates[(self.first + slot + j) % n]);
        let up: Vec<usize> = order.filter(|&node| self.up(node, k)).collect();
        up.iter().copied().find(|&node| Some(node) != avoid).or_else(|| up.first().copied())
    }

    fn set_revision(&mut self, k: usize) {
        let (ns, name) = (self.w.namespace.as_str(), self.w.name.as_str());
        let c = self.cluster.name.as_str();
        let rev = self.revision.to_string();
        let mut labels = BTreeMap::new();
        // Revision 0 keeps the seeds of the first fixture format, so its names are stable.
        let hash_seed = |what: &str| {
            if self.revision == 0 {
                det::seed(&[what, ns, name])
            } else {
                det::seed(&[what, ns, name, &rev])
            }
        };
        let owner = match self.w.kind {
            WorkloadKind::Deployment => {
                let hash = det::k8s_suffix(hash_seed("pod-template-hash"), 10);
                labels.insert("pod-template-hash".to_owned(), hash.clone());
                let rs = format!("{name}-{hash}");
                self.plan.replicasets.push(PlannedOwner {
                    namespace: ns.to_owned(),
                    name: rs.clone(),
                    owner_kind: "Deployment".to_owned(),
                    owner_name: name.to_owned(),
                    from: k,
                    to: self.grid.steps,
                });
                ("ReplicaSet".to_owned(), rs)
            }
            WorkloadKind::StatefulSet => {
                let hash = det::k8s_suffix(hash_seed("controller-revision-hash"), 10);
                labels.insert("controller-revision-hash".to_owned(), format!("{name}-{hash}"));
                ("StatefulSet".to_owned(), name.to_owned())
            }
            WorkloadKind::DaemonSet => {
                let hash = det::k8s_suffix(hash_seed("controller-revision-hash"), 10);
                labels.insert("controller-revision-hash".to_owned(), hash);
                labels.insert("pod-template-generation".to_owned(), (self.revision + 1).to_string());
                ("DaemonSet".to_owned(), name.to_owned())
            }
            WorkloadKind::Job => {
                labels.insert("controller-uid".to_owned(), det::uuid(det::seed(&["job-uid", c, ns, name])));
                labels.insert("job-name".to_owned(), name.to_owned());
                ("Job".to_owned(), name.to_owned())
            }
            WorkloadKind::Pod | WorkloadKind::CronJob => ("<none>".to_owned(), "<none>".to_owned()),
        };
        self.owner = (owner.0, owner.1, labels);
    }

    /// Starts a pod for `slot` on `node` at step `k`.
    fn start(&mut self, slot: usize, node: usize, k: usize, preexisting: bool) {
        let (ns, name) = (self.w.namespace.as_str(), self.w.name.as_str());
        let c = self.cluster.name.as_str();
        let initial = self.initial;
        let made = self.made.to_string();
        let index = slot.to_string();
        // Pods of the initial layout keep the seeds of the first fixture format.
        let suffix_seed = |what: &str| {
            if initial {
                det::seed(&["pod", c, ns, name, what])
            } else {
                det::seed(&["pod", c, ns, name, what, "made", &made])
            }
        };
        let pod_name = match self.w.kind {
            WorkloadKind::StatefulSet => format!("{name}-{slot}"),
            WorkloadKind::Deployment => {
                format!("{}-{}", self.owner.1, det::k8s_suffix(suffix_seed(&index), 5))
            }
            WorkloadKind::DaemonSet => {
                let node_name = self.cluster.nodes[node].name.as_str();
                format!("{name}-{}", det::k8s_suffix(suffix_seed(node_name), 5))
            }
            WorkloadKind::Job | WorkloadKind::CronJob => {
                format!("{name}-{}", det::k8s_suffix(suffix_seed(&index), 5))
            }
            WorkloadKind::Pod => name.to_owned(),
        };
        let uid = if initial {
            det::uuid(det::seed(&["pod-uid", c, ns, &pod_name]))
        } else {
            det::uuid(det::seed(&["pod-uid", c, ns, &pod_name, "made", &made]))
        };
        let mut labels = self.owner.2.clone();
        if self.w.kind == WorkloadKind::StatefulSet {
            labels.insert("statefulset.kubernetes.io/pod-name".to_owned(), pod_name.clone());
        }
        let mut claims = self.shared_claims.clone();
        if self.w.kind == WorkloadKind::StatefulSet {
            let made_claims = self.slot_claims.entry(slot).or_insert_with(|| {
                self.w
                    .volume_claim_templates
                    .iter()
                    .map(|t| {
                        self.plan.claims.push(claim(
                            self.cluster,
                            ns,
                            &format!("{}-{pod_name}", t.name),
                            &t.storage_class,
                            t.size.0,
                            k,
                        ));
                        self.plan.claims.len() - 1
                    })
                    .collect()
            });
            claims.extend(made_claims.iter().copied());
        }
        self.plan.pods.push(PlannedPod {
            namespace: ns.to_owned(),
            name: pod_name,
            uid,
            node,
            workload: self.wi,
            owner_kind: self.owner.0.clone(),
            owner_name: self.owner.1.clone(),
            controller_labels: labels,
            from: k,
            to: self.grid.steps,
            preexisting,
            claims,
        });
        self.made += 1;
        if self.slots.len() <= slot {
            self.slots.resize(slot + 1, None);
        }
        self.slots[slot] = Some(self.plan.pods.len() - 1);
    }

    fn stop(&mut self, slot: usize, k: usize) -> Option<usize> {
        let pod = self.slots.get_mut(slot)?.take()?;
        self.plan.pods[pod].to = k;
        Some(self.plan.pods[pod].node)
    }

    fn workload_path(&self) -> FieldPath {
        FieldPath::root().key("workloads").index(self.wi)
    }

    fn no_node(&self, problems: &mut Problems, slot: usize, k: usize) {
        problems.push(
            self.workload_path().key("nodes"),
            format!(
                "workload `{}`: no node of the workload is up at {} for replica {slot}; \
                 expected at least one of its nodes to be up whenever it runs",
                self.w.key(),
                crate::quantity::Offset(self.grid.offset(k))
            ),
        );
    }

    /// Deployments, StatefulSets, DaemonSets, Jobs and bare pods.
    fn controller(&mut self, problems: &mut Problems) {
        let grid = self.grid;
        let ws = grid.step(self.w.start.map_or(0, |o| o.secs()));
        let we = self.w.end.map_or(grid.steps, |o| grid.step(o.secs()));
        if ws >= we {
            return;
        }
        let preexisting = self.w.start.is_none();
        let daemonset = self.w.kind == WorkloadKind::DaemonSet;
        self.set_revision(ws);
        let replicas = if daemonset { self.candidates.len() } else { self.w.replicas.unwrap_or(1) as usize };
        self.slots = vec![None; replicas];
        self.initial = true;
        for slot in 0..replicas {
            if daemonset {
                let node = self.candidates[slot];
                if self.up(node, ws) {
                    self.start(slot, node, ws, preexisting);
                }
            } else if let Some(node) = self.place(slot, ws, None) {
                self.start(slot, node, ws, preexisting);
            } else {
                self.no_node(problems, slot, ws);
            }
        }
        self.initial = false;
        for (k, change) in self.changes(ws, we) {
            self.apply(k, change, problems);
        }
        for slot in 0..self.slots.len() {
            self.stop(slot, we);
        }
    }

    /// The changes on steps in `(ws, we)` that concern this workload, in the order they apply.
    fn changes(&self, ws: usize, we: usize) -> Vec<(usize, Change)> {
        let mut out = Vec::new();
        for &node in &self.candidates {
            let (from, to) = self.plan.nodes[node];
            if from > ws && from < we {
                out.push((from, Change::NodeJoins(node)));
            }
            if to > ws && to < we {
                out.push((to, Change::NodeLeaves(node)));
            }
        }
        let key = self.w.key();
        for (i, e) in self.cluster.events.iter().enumerate() {
            let target = [
                e.scale.as_ref().map(|s| s.workload.as_str()),
                e.rollout.as_deref(),
                e.evict.as_ref().map(|v| v.workload.as_str()),
            ];
            if target.contains(&Some(key.as_str())) {
                let k = self.grid.step(e.at.secs());
                if k > ws && k < we {
                    out.push((k, Change::Event(i)));
                }
            }
        }
        out.sort();
        out
    }

    fn apply(&mut self, k: usize, change: Change, problems: &mut Problems) {
        let daemonset = self.w.kind == WorkloadKind::DaemonSet;
        match change {
            Change::NodeLeaves(node) => {
                for slot in 0..self.slots.len() {
                    let on_node = self.slots[slot].is_some_and(|p| self.plan.pods[p].node == node);
                    if on_node {
                        self.stop(slot, k);
                        if !daemonset {
                            self.replace(slot, k, Some(node), problems);
                        }
                    }
                }
            }
            Change::NodeJoins(node) => {
                if daemonset {
                    if let Some(slot) = self.candidates.iter().position(|&n| n == node) {
                        self.start(slot, node, k, false);
                    }
                }
            }
            Change::Event(i) => {
                let e = &self.cluster.events[i];
                if let Some(scale) = &e.scale {
                    let want = scale.replicas as usize;
                    for slot in want..self.slots.len() {
                        self.stop(slot, k);
                    }
                    let have = self.slots.len();
                    self.slots.resize(want, None);
                    for slot in have..want {
                        match self.place(slot, k, None) {
                            Some(node) => self.start(slot, node, k, false),
                            None => self.no_node(problems, slot, k),
                        }
                    }
                } else if e.rollout.is_some() {
                    self.revision += 1;
                    self.set_revision(k);
                    for slot in 0..self.slots.len() {
                        if let Some(node) = self.stop(slot, k) {
                            self.start(slot, node, k, false);
                        }
                    }
                } else if let Some(evict) = &e.evict {
                    let slot = evict.replica as usize;
                    if let Some(node) = self.stop(slot, k) {
                        if daemonset {
                            self.start(slot, node, k, false);
                        } else {
                            self.replace(slot, k, Some(node), problems);
                        }
                    }
                }
            }
        }
    }

    /// A controller's replacement for an evicted pod; bare pods are not replaced.
    fn replace(&mut self, slot: usize, k: usize, avoid: Option<usize>, problems: &mut Problems) {
        if self.w.kind == WorkloadKind::Pod {
            return;
        }
        match self.place(slot, k, avoid) {
            Some(node) => self.start(slot, node, k, false),
            None => self.no_node(problems, slot, k),
        }
    }

    /// A CronJob: one Job per schedule time, each with `replicas` pods for `job_duration`.
    fn cron(&mut self, problems: &mut Problems) {
        let (Some(schedule), Some(duration)) = (&self.w.schedule, self.w.job_duration) else {
            return; // validation reports the missing fields
        };
        let grid = self.grid;
        let ws = grid.step(self.w.start.map_or(0, |o| o.secs()));
        let we = self.w.end.map_or(grid.steps, |o| grid.step(o.secs()));
        let from = grid.start_unix + grid.offset(ws);
        let to = grid.start_unix + grid.offset(we);
        let (ns, name) = (self.w.namespace.clone(), self.w.name.clone());
        let c = self.cluster.name.clone();
        for (run, t) in schedule.times(from, to).into_iter().enumerate() {
            let k = grid.step(t - grid.start_unix);
            let end = grid.step(t - grid.start_unix + duration.secs()).min(we);
            if k >= end {
                continue;
            }
            // The CronJob controller names each Job after its scheduled time in minutes.
            let job = format!("{name}-{}", t.div_euclid(60));
            self.plan.jobs.push(PlannedOwner {
                namespace: ns.clone(),
                name: job.clone(),
                owner_kind: "CronJob".to_owned(),
                owner_name: name.clone(),
                from: k,
                to: end,
            });
            let labels = BTreeMap::from([
                ("controller-uid".to_owned(), det::uuid(det::seed(&["job-uid", &c, &ns, &job]))),
                ("job-name".to_owned(), job.clone()),
            ]);
            self.owner = ("Job".to_owned(), job.clone(), labels);
            self.slots.clear();
            for i in 0..self.w.replicas.unwrap_or(1) as usize {
                let Some(node) = self.place(run + i, k, None) else {
                    self.no_node(problems, i, k);
                    continue;
                };
                let suffix = det::k8s_suffix(det::seed(&["pod", &c, &ns, &job, &i.to_string()]), 5);
                let pod_name = format!("{job}-{suffix}");
                self.plan.pods.push(PlannedPod {
                    namespace: ns.clone(),
                    uid: det::uuid(det::seed(&["pod-uid", &c, &ns, &pod_name])),
                    name: pod_name,
                    node,
                    workload: self.wi,
                    owner_kind: "Job".to_owned(),
                    owner_name: job.clone(),
                    controller_labels: self.owner.2.clone(),
                    from: k,
                    // A Job's pod stops with its node; the Job is not retried here.
                    to: end.min(self.plan.nodes[node].1).max(k),
                    preexisting: false,
                    claims: self.shared_claims.clone(),
                });
            }
        }
    }
}

impl Plan {
    /// Checks what only the timeline shows: requests above a node's allocatable resources at
    /// some moment, and two pods of one name at once.
    pub(crate) fn check(&self, cluster: &ClusterFixture, grid: Grid, problems: &mut Problems) {
        // Per node, the request changes over time: (step, cpu, memory, gpus) deltas.
        let mut deltas: BTreeMap<usize, Vec<(usize, f64, i128, i64)>> = BTreeMap::new();
        for p in &self.pods {
            let w = &cluster.workloads[p.workload];
            let cpu: f64 = w.containers.iter().map(|c| c.cpu_request.unwrap_or_default().0).sum();
            let mem: i128 =
                w.containers.iter().map(|c| i128::from(c.memory_request.unwrap_or_default().0)).sum();
            let gpu: i64 = w.containers.iter().map(|c| i64::from(c.gpu_request.unwrap_or(0))).sum();
            let d = deltas.entry(p.node).or_default();
            d.push((p.from, cpu, mem, gpu));
            d.push((p.to, -cpu, -mem, -gpu));
        }
        for (node, mut d) in deltas {
            let n = &cluster.nodes[node];
            let alloc = n.allocatable();
            // Ends before starts on the same step: a replaced pod frees its room first.
            d.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
            let (mut cpu, mut mem, mut gpu) = (0.0, 0i128, 0i64);
            let mut reported = [false; 3];
            let path = FieldPath::root().key("nodes").index(node);
            for (i, &(k, dc, dm, dg)) in d.iter().enumerate() {
                cpu += dc;
                mem += dm;
                gpu += dg;
                // Check once every change of the step is in.
                if d.get(i + 1).is_some_and(|next| next.0 == k) {
                    continue;
                }
                let at = crate::quantity::Offset(grid.offset(k));
                if cpu > alloc.cpu.0 + 1e-9 && !reported[0] {
                    reported[0] = true;
                    problems.push(
                        path.clone().key("cpu"),
                        format!(
                            "node `{}`: at {at} its pods request {cpu:.3} cores but {} are allocatable; \
                             the scheduler would not place them: expected a bigger node, fewer replicas or smaller requests",
                            n.name, alloc.cpu.0
                        ),
                    );
                }
                if mem > i128::from(alloc.memory.0) && !reported[1] {
                    reported[1] = true;
                    problems.push(
                        path.clone().key("memory"),
                        format!(
                            "node `{}`: at {at} its pods request {mem} bytes of memory but {} are allocatable; \
                             the scheduler would not place them: expected a bigger node, fewer replicas or smaller requests",
                            n.name, alloc.memory.0
                        ),
                    );
                }
                if gpu > i64::from(n.gpus) && !reported[2] {
                    reported[2] = true;
                    problems.push(
                        path.clone().key("gpus"),
                        format!(
                            "node `{}`: at {at} its pods request {gpu} GPUs but it has {}; expected `gpus` on the node or `nodes` on the workload",
                            n.name, n.gpus
                        ),
                    );
                }
            }
        }
        // (namespace, name) → the (from, to, workload) of each pod of that name.
        type Lives = Vec<(usize, usize, usize)>;
        let mut by_name: BTreeMap<(&str, &str), Lives> = BTreeMap::new();
        for p in &self.pods {
            by_name.entry((&p.namespace, &p.name)).or_default().push((p.from, p.to, p.workload));
        }
        for ((ns, name), mut lives) in by_name {
            lives.sort();
            if let Some(w) = lives.windows(2).find(|w| w[1].0 < w[0].1) {
                problems.push(
                    FieldPath::root().key("workloads").index(w[1].2).key("name"),
                    format!("pod name `{ns}/{name}` comes out twice at once; expected unique workload names (rename one)"),
                );
            }
        }
    }
}
