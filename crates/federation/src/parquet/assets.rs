//! The assets table: one table for every asset type, one row per asset, its type in the
//! `type` column (Kubecost's names: `ClusterManagement`, `Disk`, `LoadBalancer`, `Node`).
//! Columns every type has are required; a column only some types have is null on the other
//! rows. A cluster management row's `name` is its provisioner (`EKS`).

use ampfed_allocation::{AssetSet, ClusterManagementAsset, DiskAsset, LoadBalancerAsset, NodeAsset, Window};

use super::columns::{Access, Column, Row};

/// One asset of any type: the row type of the table.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum AnyAsset {
    Node(NodeAsset),
    Disk(DiskAsset),
    LoadBalancer(LoadBalancerAsset),
    ClusterManagement(ClusterManagementAsset),
}

/// The `type` values, sorted (the table's first sort key).
pub(super) const TYPES: [&str; 4] = ["ClusterManagement", "Disk", "LoadBalancer", "Node"];

impl AnyAsset {
    pub(super) fn type_name(&self) -> &'static str {
        match self {
            AnyAsset::ClusterManagement(_) => TYPES[0],
            AnyAsset::Disk(_) => TYPES[1],
            AnyAsset::LoadBalancer(_) => TYPES[2],
            AnyAsset::Node(_) => TYPES[3],
        }
    }

    /// An empty asset of the type named `name`.
    pub(super) fn of_type(name: &str) -> Option<AnyAsset> {
        Some(match name {
            "ClusterManagement" => AnyAsset::ClusterManagement(ClusterManagementAsset::default()),
            "Disk" => AnyAsset::Disk(DiskAsset::default()),
            "LoadBalancer" => AnyAsset::LoadBalancer(LoadBalancerAsset::default()),
            "Node" => AnyAsset::Node(NodeAsset::default()),
            _ => return None,
        })
    }

    fn cluster(&self) -> &str {
        match self {
            AnyAsset::Node(a) => &a.cluster,
            AnyAsset::Disk(a) => &a.cluster,
            AnyAsset::LoadBalancer(a) => &a.cluster,
            AnyAsset::ClusterManagement(a) => &a.cluster,
        }
    }

    fn name(&self) -> &str {
        match self {
            AnyAsset::Node(a) => &a.name,
            AnyAsset::Disk(a) => &a.name,
            AnyAsset::LoadBalancer(a) => &a.name,
            AnyAsset::ClusterManagement(a) => &a.provisioner,
        }
    }
}

impl Row for AnyAsset {
    fn label(&self) -> String {
        format!("{} {}/{}", self.type_name(), self.cluster(), self.name())
    }
}

/// The rows of `set`, sorted by type, cluster and name.
pub(super) fn rows(set: &AssetSet) -> Vec<AnyAsset> {
    let mut rows: Vec<AnyAsset> = (set.nodes.iter().cloned().map(AnyAsset::Node))
        .chain(set.disks.iter().cloned().map(AnyAsset::Disk))
        .chain(set.load_balancers.iter().cloned().map(AnyAsset::LoadBalancer))
        .chain(set.cluster_management.iter().cloned().map(AnyAsset::ClusterManagement))
        .collect();
    rows.sort_by(|a, b| (a.type_name(), a.cluster(), a.name()).cmp(&(b.type_name(), b.cluster(), b.name())));
    rows
}

/// The set of `rows`, in the set's canonical order.
pub(super) fn into_set(clusters: Vec<String>, window: Window, rows: Vec<AnyAsset>) -> AssetSet {
    let mut set = AssetSet::new(clusters, window);
    for row in rows {
        match row {
            AnyAsset::Node(a) => set.nodes.push(a),
            AnyAsset::Disk(a) => set.disks.push(a),
            AnyAsset::LoadBalancer(a) => set.load_balancers.push(a),
            AnyAsset::ClusterManagement(a) => set.cluster_management.push(a),
        }
    }
    set.sort();
    set
}

/// A field every asset type has, under the same name: `every!(name, Access kind, field)`.
macro_rules! every {
    ($name:literal, $kind:ident, $field:ident) => {
        Column {
            name: $name,
            since: 2,
            nullable: false,
            access: Access::$kind(
                |a: &AnyAsset| {
                    Some(match a {
                        AnyAsset::Node(x) => get!(x, $kind, $field),
                        AnyAsset::Disk(x) => get!(x, $kind, $field),
                        AnyAsset::LoadBalancer(x) => get!(x, $kind, $field),
                        AnyAsset::ClusterManagement(x) => get!(x, $kind, $field),
                    })
                },
                |a: &mut AnyAsset, v| match a {
                    AnyAsset::Node(x) => x.$field = v,
                    AnyAsset::Disk(x) => x.$field = v,
                    AnyAsset::LoadBalancer(x) => x.$field = v,
                    AnyAsset::ClusterManagement(x) => x.$field = v,
                },
            ),
        }
    };
}

/// A field of some types only, null on the rows of the others:
/// `only!(name, Access kind, field, Variant…)`.
macro_rules! only {
    ($name:literal, $kind:ident, $field:ident, $($variant:ident),+) => {
        Column {
            name: $name,
            since: 2,
            nullable: true,
            access: Access::$kind(
                |a: &AnyAsset| match a {
                    $(AnyAsset::$variant(x) => Some(get!(x, $kind, $field)),)+
                    #[allow(unreachable_patterns)]
                    _ => None,
                },
                |a: &mut AnyAsset, v| match a {
                    $(AnyAsset::$variant(x) => x.$field = v,)+
                    #[allow(unreachable_patterns)]
                    _ => {}
                },
            ),
        }
    };
}

/// A field's value as its column takes it: strings borrowed, numbers copied.
macro_rules! get {
    ($x:ident, Str, $field:ident) => {
        $x.$field.as_str()
    };
    ($x:ident, $kind:ident, $field:ident) => {
        $x.$field
    };
}

/// The columns after `window_start`, `window_end` and `type`, in file order (the nested one
/// last).
pub(super) fn columns() -> Vec<Column<AnyAsset>> {
    vec![
        every!("cluster", Str, cluster),
        Column {
            name: "name",
            since: 2,
            nullable: false,
            access: Access::Str(
                |a: &AnyAsset| Some(a.name()),
                |a: &mut AnyAsset, v| match a {
                    AnyAsset::Node(x) => x.name = v,
                    AnyAsset::Disk(x) => x.name = v,
                    AnyAsset::LoadBalancer(x) => x.name = v,
                    AnyAsset::ClusterManagement(x) => x.provisioner = v,
                },
            ),
        },
        only!("provider_id", Str, provider_id, Node, Disk, LoadBalancer),
        every!("start", Int, start),
        every!("end", Int, end),
        every!("minutes", Float, minutes),
        // Nodes.
        only!("node_type", Str, node_type, Node),
        only!("cpu_cores", Float, cpu_cores, Node),
        only!("ram_bytes", Float, ram_bytes, Node),
        only!("gpu_count", Float, gpu_count, Node),
        only!("cpu_cores_allocatable", Float, cpu_cores_allocatable, Node),
        only!("ram_bytes_allocatable", Float, ram_bytes_allocatable, Node),
        only!("cpu_core_hours", Float, cpu_core_hours, Node),
        only!("ram_byte_hours", Float, ram_byte_hours, Node),
        only!("gpu_hours", Float, gpu_hours, Node),
        only!("cpu_price_per_core_hour", Float, cpu_price_per_core_hour, Node),
        only!("ram_price_per_gib_hour", Float, ram_price_per_gib_hour, Node),
        only!("gpu_price_per_gpu_hour", Float, gpu_price_per_gpu_hour, Node),
        only!("price_source", Str, price_source, Node),
        only!("cpu_cost", Float, cpu_cost, Node),
        only!("ram_cost", Float, ram_cost, Node),
        only!("gpu_cost", Float, gpu_cost, Node),
        only!("preemptible", Bool, preemptible, Node),
        only!("discount", Float, discount, Node),
        // Disks.
        only!("storage_class", Str, storage_class, Disk),
        only!("claim_name", Str, claim_name, Disk),
        only!("claim_namespace", Str, claim_namespace, Disk),
        only!("bytes", Float, bytes, Disk),
        only!("byte_hours", Float, byte_hours, Disk),
        only!("price_per_gib_hour", Float, price_per_gib_hour, Disk),
        // Load balancers.
        only!("namespace", Str, namespace, LoadBalancer),
        only!("service", Str, service, LoadBalancer),
        only!("ip", Str, ip, LoadBalancer),
        only!("private", Bool, private, LoadBalancer),
        // Load balancers and cluster management.
        only!("price_per_hour", Float, price_per_hour, LoadBalancer, ClusterManagement),
        // Disks, load balancers, cluster management (a node's cost is its CPU, RAM and GPU).
        only!("cost", Float, cost, Disk, LoadBalancer, ClusterManagement),
        every!("adjustment", Float, adjustment),
        every!("total_cost", Float, total_cost),
        Column {
            name: "labels",
            since: 2,
            nullable: true,
            access: Access::Map(
                |a: &AnyAsset| match a {
                    AnyAsset::Node(x) => Some(&x.labels),
                    _ => None,
                },
                |a: &mut AnyAsset, v| {
                    if let AnyAsset::Node(x) = a {
                        x.labels = v
                    }
                },
            ),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_name_makes_its_type() {
        for name in TYPES {
            assert_eq!(AnyAsset::of_type(name).map(|a| a.type_name()), Some(name));
        }
        assert!(TYPES.windows(2).all(|w| w[0] < w[1]), "sorted, as the rows are");
        assert_eq!(AnyAsset::of_type("node"), None);
    }
}
