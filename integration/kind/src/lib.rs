//! The kind provider, for machines with a Docker engine: every cluster fixture
//! (`fixtures/clusters/*.yaml`, the same files the simulator reads) becomes a kind cluster
//! config and the Kubernetes manifests of its namespaces, claims, services and workloads, next
//! to the stack that Kubecost's AMP guide deploys on each cluster: kube-state-metrics, a
//! Prometheus in agent mode that signs its own remote write (`sigv4:`), and the cost-analyzer
//! with the SigV4 proxy sidecar on port 8005. What static manifests cannot express (timed
//! events, node lifetimes, usage profiles) is listed in each file's header.
//!
//! Nothing here starts a process: [`render`] turns fixtures into files, [`plan`] lists the
//! `docker`, `kind` and `kubectl` invocations that bring the clusters up or down, and the
//! `ampfed-kind-plan` binary prints them for `cargo xtask kind`, which runs them with xshell.
//! `docs/kind.md` describes the mapping and the pinned versions.

pub mod config;
pub mod events;
pub mod plan;
pub mod render;
pub mod services;
pub mod stack;
pub mod storage;
pub mod target;
pub mod versions;
pub mod workloads;

mod quantity;
mod yaml;

pub use plan::{PlanError, Step};
pub use render::{render, scale, Options, RenderError, RenderedCluster};
pub use target::{AmpTarget, TargetError};
