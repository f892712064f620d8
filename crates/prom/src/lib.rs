//! Prometheus wire formats shared by the simulator, the AMP mock's ruler and the cost model:
//! remote write 1.0 ([`remote_write`]) and the HTTP query API ([`Client`]).

pub mod remote_write;

mod client;

pub use client::{Client, InstantSample, PromError, RangeSeries};
