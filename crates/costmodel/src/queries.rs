//! The PromQL the cost model sends, shaped as OpenCost writes it.

/// Query builder for one cluster and window.
#[derive(Clone, Debug)]
pub struct Queries {
    label: String,
    filter: String,
    duration: String,
    resolution: String,
}

impl Queries {
    /// Queries over the last `duration_secs` for `cluster`, identified by label `label`.
    ///
    /// Unlike OpenCost's default, the cluster filter is always on: in a shared AMP workspace
    /// each cluster's cost model must only see its own series.
    pub fn new(label: &str, cluster: &str, duration_secs: i64, resolution_secs: i64) -> Queries {
        let escaped = cluster.replace('\\', "\\\\").replace('"', "\\\"");
        Queries {
            label: label.to_owned(),
            filter: format!("{label}=\"{escaped}\""),
            duration: format!("{duration_secs}s"),
            resolution: format!("{resolution_secs}s"),
        }
    }

    /// Per pod: when it ran (a subquery: one point per resolution step while running).
    pub fn running(&self) -> String {
        let Queries { label, filter, duration, resolution } = self;
        format!("avg(kube_pod_container_status_running{{{filter}}} != 0) by (pod, namespace, {label})[{duration}:{resolution}]")
    }

    pub fn cpu_allocation(&self) -> String {
        let Queries { label, filter, duration, .. } = self;
        format!("avg(avg_over_time(container_cpu_allocation{{container!=\"\",container!=\"POD\",node!=\"\",{filter}}}[{duration}])) by (container,pod,namespace,node,{label})")
    }

    pub fn ram_allocation(&self) -> String {
        let Queries { label, filter, duration, .. } = self;
        format!("avg(avg_over_time(container_memory_allocation_bytes{{container!=\"\",container!=\"POD\",node!=\"\",{filter}}}[{duration}])) by (container,pod,namespace,node,{label},provider_id)")
    }

    /// Average requests of `resource` in `unit` (`cpu`/`core`, `memory`/`byte`).
    pub fn requests(&self, resource: &str, unit: &str) -> String {
        let Queries { label, filter, duration, .. } = self;
        format!("avg(avg_over_time(kube_pod_container_resource_requests{{resource=\"{resource}\",unit=\"{unit}\",container!=\"\",container!=\"POD\",node!=\"\",{filter}}}[{duration}])) by (container,pod,namespace,node,{label})")
    }

    pub fn cpu_usage(&self) -> String {
        let Queries { label, filter, duration, .. } = self;
        format!("avg(rate(container_cpu_usage_seconds_total{{container!=\"\",container_name!=\"POD\",container!=\"POD\",{filter}}}[{duration}])) by (container_name,container,pod_name,pod,namespace,instance,{label})")
    }

    pub fn ram_usage(&self) -> String {
        let Queries { label, filter, duration, .. } = self;
        format!("avg(avg_over_time(container_memory_working_set_bytes{{container!=\"\",container_name!=\"POD\",container!=\"POD\",{filter}}}[{duration}])) by (container_name,container,pod_name,pod,namespace,instance,{label})")
    }

    /// Average of a node price metric (`node_cpu_hourly_cost`, `node_ram_hourly_cost`,
    /// `node_gpu_hourly_cost`).
    pub fn node_price(&self, metric: &str) -> String {
        let Queries { label, filter, duration, .. } = self;
        format!("avg(avg_over_time({metric}{{{filter}}}[{duration}])) by (node,{label},instance_type,provider_id)")
    }

    // ---- The detailed model (`CostModel::compute_detailed`): GPU, PVs, owners, labels,
    // ---- services, load balancers, and the assets' node, disk and management queries.

    /// Average GPU requests (`resource="nvidia_com_gpu"`).
    pub fn gpu_requests(&self) -> String {
        let Queries { label, filter, duration, .. } = self;
        format!("avg(avg_over_time(kube_pod_container_resource_requests{{resource=\"nvidia_com_gpu\",container!=\"\",container!=\"POD\",node!=\"\",{filter}}}[{duration}])) by (container,pod,namespace,node,{label})")
    }

    /// Average GPU allocation (the cost model's `container_gpu_allocation`).
    pub fn gpu_allocation(&self) -> String {
        let Queries { label, filter, duration, .. } = self;
        format!("avg(avg_over_time(container_gpu_allocation{{container!=\"\",container!=\"POD\",node!=\"\",{filter}}}[{duration}])) by (container,pod,namespace,node,{label})")
    }

    /// Spot nodes: `kubecost_node_is_spot` averaged per series (> 0 means spot).
    pub fn node_is_spot(&self) -> String {
        let Queries { filter, duration, .. } = self;
        format!("avg_over_time(kubecost_node_is_spot{{{filter}}}[{duration}])")
    }

    /// Per PVC with a volume: when it existed (a subquery).
    pub fn pvc_info(&self) -> String {
        let Queries { label, filter, duration, resolution } = self;
        format!("avg(kube_persistentvolumeclaim_info{{volumename!=\"\",{filter}}}) by (persistentvolumeclaim,storageclass,volumename,namespace,{label})[{duration}:{resolution}]")
    }

    /// Which pods mount which PVCs (bytes).
    pub fn pod_pvc_allocation(&self) -> String {
        let Queries { label, filter, duration, .. } = self;
        format!("avg(avg_over_time(pod_pvc_allocation{{{filter}}}[{duration}])) by (persistentvolume,persistentvolumeclaim,pod,namespace,{label})")
    }

    pub fn pvc_bytes_requested(&self) -> String {
        let Queries { label, filter, duration, .. } = self;
        format!("avg(avg_over_time(kube_persistentvolumeclaim_resource_requests_storage_bytes{{{filter}}}[{duration}])) by (persistentvolumeclaim,namespace,{label})")
    }

    /// Per PV: when it existed (a subquery).
    pub fn pv_active(&self) -> String {
        let Queries { label, filter, duration, resolution } = self;
        format!("count(kube_persistentvolume_capacity_bytes{{{filter}}}) by (persistentvolume,{label})[{duration}:{resolution}]")
    }

    pub fn pv_bytes(&self) -> String {
        let Queries { label, filter, duration, .. } = self;
        format!("avg(avg_over_time(kube_persistentvolume_capacity_bytes{{{filter}}}[{duration}])) by (persistentvolume,{label})")
    }

    /// PV price per GiB-hour; grouped by both names (OpenCost's allocation query uses
    /// `volumename`, its assets query `persistentvolume`) so one query serves both.
    pub fn pv_cost(&self) -> String {
        let Queries { label, filter, duration, .. } = self;
        format!("avg(avg_over_time(pv_hourly_cost{{{filter}}}[{duration}])) by (persistentvolume,volumename,provider_id,{label})")
    }

    /// PV storage class and provider ID.
    pub fn pv_meta(&self) -> String {
        let Queries { label, filter, duration, .. } = self;
        format!("avg(avg_over_time(kubecost_pv_info{{{filter}}}[{duration}])) by (persistentvolume,storageclass,provider_id,{label})")
    }

    /// A label or annotation series (`kube_pod_labels`, `kube_namespace_annotations`,
    /// `deployment_match_labels`, …) over the window, every label kept.
    pub fn metadata(&self, metric: &str) -> String {
        let Queries { filter, duration, .. } = self;
        format!("avg_over_time({metric}{{{filter}}}[{duration}])")
    }

    /// Pod owners (every kind; OpenCost sends one query per kind).
    pub fn pod_owners(&self) -> String {
        let Queries { label, filter, duration, .. } = self;
        format!("sum(avg_over_time(kube_pod_owner{{{filter}}}[{duration}])) by (pod,owner_kind,owner_name,owner_is_controller,namespace,{label})")
    }

    pub fn replicaset_owners(&self) -> String {
        let Queries { label, filter, duration, .. } = self;
        format!("avg(avg_over_time(kube_replicaset_owner{{{filter}}}[{duration}])) by (replicaset,owner_kind,owner_name,namespace,{label})")
    }

    pub fn job_owners(&self) -> String {
        let Queries { label, filter, duration, .. } = self;
        format!("avg(avg_over_time(kube_job_owner{{{filter}}}[{duration}])) by (job_name,owner_kind,owner_name,namespace,{label})")
    }

    /// Load balancer price per hour.
    pub fn lb_cost(&self) -> String {
        let Queries { label, filter, duration, .. } = self;
        format!("avg(avg_over_time(kubecost_load_balancer_cost{{{filter}}}[{duration}])) by (namespace,service_name,ingress_ip,{label})")
    }

    /// Per load balancer: when it existed (a subquery).
    pub fn lb_active(&self) -> String {
        let Queries { label, filter, duration, resolution } = self;
        format!("count(kubecost_load_balancer_cost{{{filter}}}) by (namespace,service_name,{label})[{duration}:{resolution}]")
    }

    /// Average of a per-node capacity metric (`kube_node_status_capacity_cpu_cores`,
    /// `kube_node_status_capacity_memory_bytes`, and the `allocatable` ones).
    pub fn node_resource(&self, metric: &str) -> String {
        let Queries { label, filter, duration, .. } = self;
        format!("avg(avg_over_time({metric}{{{filter}}}[{duration}])) by ({label},node)")
    }

    pub fn node_gpu_count(&self) -> String {
        let Queries { label, filter, duration, .. } = self;
        format!("avg(avg_over_time(node_gpu_count{{{filter}}}[{duration}])) by ({label},node,provider_id)")
    }

    /// Per node: when it ran (a subquery on `node_total_hourly_cost`).
    pub fn node_active(&self) -> String {
        let Queries { label, filter, duration, resolution } = self;
        format!(
            "avg(node_total_hourly_cost{{{filter}}}) by (node,{label},provider_id)[{duration}:{resolution}]"
        )
    }

    /// The cluster management fee per hour.
    pub fn cluster_management_cost(&self) -> String {
        let Queries { label, filter, duration, .. } = self;
        format!("avg(avg_over_time(kubecost_cluster_management_cost{{{filter}}}[{duration}])) by (provisioner_name,{label})")
    }

    /// When the management fee was reported (a subquery).
    pub fn cluster_management_active(&self) -> String {
        let Queries { label, filter, duration, resolution } = self;
        format!("count(kubecost_cluster_management_cost{{{filter}}}) by ({label})[{duration}:{resolution}]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_carry_the_cluster_filter_and_group_by_the_cluster_label() {
        let q = Queries::new("cluster_id", "cluster-a", 86400, 300);
        assert_eq!(
            q.running(),
            "avg(kube_pod_container_status_running{cluster_id=\"cluster-a\"} != 0) by (pod, namespace, cluster_id)[86400s:300s]"
        );
        for query in [
            q.gpu_requests(),
            q.gpu_allocation(),
            q.pod_pvc_allocation(),
            q.pvc_bytes_requested(),
            q.pv_bytes(),
            q.pv_cost(),
            q.pv_meta(),
            q.pod_owners(),
            q.replicaset_owners(),
            q.job_owners(),
            q.lb_cost(),
            q.node_resource("kube_node_status_capacity_cpu_cores"),
            q.node_gpu_count(),
            q.cluster_management_cost(),
            q.cpu_allocation(),
            q.ram_allocation(),
            q.requests("cpu", "core"),
            q.cpu_usage(),
            q.ram_usage(),
            q.node_price("node_cpu_hourly_cost"),
        ] {
            assert!(query.contains("cluster_id=\"cluster-a\""), "{query}");
            let by = query.rsplit("by (").next().unwrap_or("");
            assert!(by.split([',', ')']).any(|l| l.trim() == "cluster_id"), "{query}");
        }
    }

    #[test]
    fn subqueries_and_metadata_queries_carry_the_filter() {
        let q = Queries::new("cluster_id", "c", 86400, 300);
        for query in
            [q.pvc_info(), q.pv_active(), q.lb_active(), q.node_active(), q.cluster_management_active()]
        {
            assert!(query.contains("cluster_id=\"c\""), "{query}");
            assert!(query.ends_with("[86400s:300s]"), "{query}");
        }
        assert_eq!(q.metadata("kube_pod_labels"), "avg_over_time(kube_pod_labels{cluster_id=\"c\"}[86400s])");
        assert_eq!(q.node_is_spot(), "avg_over_time(kubecost_node_is_spot{cluster_id=\"c\"}[86400s])");
    }

    #[test]
    fn cluster_names_are_escaped() {
        let q = Queries::new("cluster", "a\"b", 60, 60);
        assert!(q.cpu_usage().contains("cluster=\"a\\\"b\""));
    }
}
