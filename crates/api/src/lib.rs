//! Kubecost's allocation and assets API over the combined ETL: `GET /model/allocation` and
//! `GET /model/assets`, with Kubecost's parameters, JSON and errors (`docs/allocation-api.md`).
//!
//! - [`window`]: the `window` grammar against a settable "now", daily resolution, steps;
//! - [`filter`]: the filter language v2 (`filter=`), with positioned errors;
//! - [`params`]: query strings → [`AllocationRequest`] / [`AssetRequest`] (400s);
//! - [`source`]: [`EtlSource`], read one day at a time: [`MemorySource`], [`StoreSource`];
//! - [`allocations`], [`assets`]: the engines, streaming day by day ([`collect`]); [`cache`]:
//!   day answers kept by the versions of the objects they were computed from;
//! - [`json`]: Kubecost's JSON ([`Reply`]); [`table`]: [`render_table`] for terminals;
//! - [`api`]: [`Api::get`] (a request target → a [`Reply`]) and [`query_bucket`];
//! - [`server`]: [`ApiServer`], hyper on loopback only; [`error`]: [`ApiError`].

pub mod allocations;
pub mod api;
pub mod assets;
pub mod cache;
pub mod collect;
pub mod compact;
pub mod error;
pub mod filter;
pub mod json;
pub mod params;
pub mod server;
pub mod source;
pub mod table;
pub mod window;

pub use allocations::{allocation_sets, allocation_sets_cached, allocation_sets_with, Engine};
pub use api::{query_bucket, Api, ApiConfig};
pub use assets::asset_sets;
pub use cache::DayCache;
pub use collect::{Accumulate, Stats};
pub use error::{ApiError, SourceError};
pub use filter::{Filter, FilterError};
pub use json::{AllocationJson, AssetJson, Reply, ReplyBody, Step};
pub use params::{AllocationRequest, AssetRequest, Limits};
pub use server::ApiServer;
pub use source::{DayObject, DayVersions, EtlSource, MemorySource, StoreSource};
pub use table::render_table;
pub use window::parse_window;
