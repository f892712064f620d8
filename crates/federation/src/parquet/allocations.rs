//! The allocations table: one row per [`Allocation`], one flat column per Kubecost field
//! (snake_case), with the properties' labels and annotations as `map<string,string>`, the
//! services as `array<string>` and the per-PV shares as a map of structs. Version 1 holds the
//! fields of the first ETL format; version 2 added the rest (they read as their defaults from
//! a version 1 file, as they do from format 1's JSON).

use ampfed_allocation::Allocation;

use super::columns::{Access, Column, Row};
use super::container::ColumnChoices;

/// The table's per-column writer choices. `name` is unique per row and `pod` nearly so (a
/// pod's one or two containers): no dictionary. Statistics are left out of the flat string
/// columns but `cluster` and `namespace` (what a query selects by): comparing every value
/// with a running min and max was the largest part of encoding a combined window.
pub(super) const CHOICES: ColumnChoices = ColumnChoices {
    plain: &["name", "pod"],
    unstated: &["name", "node", "pod", "container", "controller_kind", "controller", "provider_id"],
};

impl Row for Allocation {
    fn label(&self) -> String {
        self.name.clone()
    }
}

/// A string column: `str!(name, since, field path)`.
macro_rules! str_col {
    ($name:literal, $since:literal, $($field:ident).+) => {
        Column {
            name: $name,
            since: $since,
            nullable: false,
            access: Access::Str(|a: &Allocation| Some(a.$($field).+.as_str()), |a: &mut Allocation, v| a.$($field).+ = v),
        }
    };
}

/// A double column.
macro_rules! f64_col {
    ($name:literal, $since:literal, $field:ident) => {
        Column {
            name: $name,
            since: $since,
            nullable: false,
            access: Access::Float(|a: &Allocation| Some(a.$field), |a: &mut Allocation, v| a.$field = v),
        }
    };
}

/// A string map column (labels, annotations).
macro_rules! map_col {
    ($name:literal, $since:literal, $field:ident) => {
        Column {
            name: $name,
            since: $since,
            nullable: false,
            access: Access::Map(
                |a: &Allocation| Some(&a.properties.$field),
                |a: &mut Allocation, v| a.properties.$field = v,
            ),
        }
    };
}

/// The columns after `window_start` and `window_end`, in file order. Nested columns come last
/// so that the flat ones keep their leaf positions.
pub(super) fn columns() -> Vec<Column<Allocation>> {
    vec![
        str_col!("name", 1, name),
        str_col!("cluster", 1, properties.cluster),
        str_col!("node", 1, properties.node),
        str_col!("namespace", 1, properties.namespace),
        str_col!("pod", 1, properties.pod),
        str_col!("container", 1, properties.container),
        str_col!("controller_kind", 2, properties.controller_kind),
        str_col!("controller", 2, properties.controller),
        str_col!("provider_id", 2, properties.provider_id),
        Column {
            name: "start",
            since: 1,
            nullable: false,
            access: Access::Int(|a: &Allocation| Some(a.start), |a: &mut Allocation, v| a.start = v),
        },
        Column {
            name: "end",
            since: 1,
            nullable: false,
            access: Access::Int(|a: &Allocation| Some(a.end), |a: &mut Allocation, v| a.end = v),
        },
        f64_col!("minutes", 1, minutes),
        f64_col!("cpu_cores", 1, cpu_cores),
        f64_col!("cpu_core_request_average", 1, cpu_core_request_average),
        f64_col!("cpu_core_usage_average", 1, cpu_core_usage_average),
        f64_col!("cpu_core_hours", 1, cpu_core_hours),
        f64_col!("cpu_cost", 1, cpu_cost),
        f64_col!("cpu_efficiency", 1, cpu_efficiency),
        f64_col!("gpu_count", 2, gpu_count),
        f64_col!("gpu_request_average", 2, gpu_request_average),
        f64_col!("gpu_usage_average", 2, gpu_usage_average),
        f64_col!("gpu_hours", 2, gpu_hours),
        f64_col!("gpu_cost", 2, gpu_cost),
        f64_col!("ram_bytes", 1, ram_bytes),
        f64_col!("ram_byte_request_average", 1, ram_byte_request_average),
        f64_col!("ram_byte_usage_average", 1, ram_byte_usage_average),
        f64_col!("ram_byte_hours", 1, ram_byte_hours),
        f64_col!("ram_cost", 1, ram_cost),
        f64_col!("ram_efficiency", 1, ram_efficiency),
        f64_col!("pv_bytes", 2, pv_bytes),
        f64_col!("pv_byte_hours", 2, pv_byte_hours),
        f64_col!("pv_cost", 2, pv_cost),
        f64_col!("load_balancer_cost", 2, load_balancer_cost),
        f64_col!("shared_cost", 2, shared_cost),
        f64_col!("total_cost", 1, total_cost),
        f64_col!("total_efficiency", 1, total_efficiency),
        Column {
            name: "services",
            since: 2,
            nullable: false,
            access: Access::List(
                |a: &Allocation| Some(a.properties.services.as_slice()),
                |a: &mut Allocation, v| a.properties.services = v,
            ),
        },
        map_col!("labels", 2, labels),
        map_col!("annotations", 2, annotations),
        map_col!("namespace_labels", 2, namespace_labels),
        map_col!("namespace_annotations", 2, namespace_annotations),
        Column {
            name: "pvs",
            since: 2,
            nullable: false,
            access: Access::Pvs(|a: &Allocation| Some(&a.pvs), |a: &mut Allocation, v| a.pvs = v),
        },
    ]
}
