//! A deterministic cluster simulator.
//!
//! A cluster fixture ([`fixture::ClusterFixture`], `fixtures/clusters/*.yaml`) and a price list
//! ([`fixture::Prices`], `fixtures/prices/*.yaml`) go in; [`generate::generate`] turns them into
//! the series a real cluster's Prometheus would hold over the simulated window: cAdvisor,
//! kube-state-metrics and the cost model's own exporter, with exactly the names and labels the
//! Kubecost allocation and assets queries and the AMP guide's recording rules read (see
//! `docs/kubecost-model.md` and `docs/fixtures.md`). The layout over time (nodes joining and
//! leaving, pods scaled, evicted and rolled out, CronJob runs) is planned once ([`plan`]) and
//! both checked and generated from that plan.
//!
//! The output is a [`generate::Simulation`], which yields remote write 1.0 requests
//! ([`ampfed_prom::remote_write::WriteRequest`]) in time-sliced batches, with the cluster's
//! external label (default `cluster_id`) added on the way out as Prometheus adds it to
//! remote-written data. Nothing depends on the wall clock, a random source or hash-map order:
//! the same inputs give byte-identical requests.

pub mod cron;
pub mod fixture;
pub mod generate;
pub mod stamp;

mod det;
mod emit;
mod plan;
mod problems;
mod profile;
mod quantity;
mod spans;
mod validate;

pub use fixture::{
    load_cluster, load_clusters_dir, load_prices, ClusterFixture, FixtureError, LabelStyle, Prices,
};
pub use generate::{generate, Pod, SimConfig, SimError, SimStats, Simulation};
pub use quantity::{Bytes, Cores, Offset};
pub use stamp::stamp;
