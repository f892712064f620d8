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

    /// Average of a node price metric (`node_cpu_hourly_cost`, `node_ram_hourly_cost`).
    pub fn node_price(&self, metric: &str) -> String {
        let Queries { label, filter, duration, .. } = self;
        format!("avg(avg_over_time({metric}{{{filter}}}[{duration}])) by (node,{label},instance_type,provider_id)")
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
            q.cpu_allocation(),
            q.ram_allocation(),
            q.requests("cpu", "core"),
            q.cpu_usage(),
            q.ram_usage(),
            q.node_price("node_cpu_hourly_cost"),
        ] {
            assert!(query.contains("cluster_id=\"cluster-a\""), "{query}");
            assert!(query.contains(",cluster_id"), "{query}");
        }
    }

    #[test]
    fn cluster_names_are_escaped() {
        let q = Queries::new("cluster", "a\"b", 60, 60);
        assert!(q.cpu_usage().contains("cluster=\"a\\\"b\""));
    }
}
