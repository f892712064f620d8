//! Prometheus wire formats shared by the simulator, the AMP mock's ruler and the cost model:
//! remote write 1.0 ([`remote_write`]), the HTTP query API ([`Client`]) and a sharded,
//! retrying remote write sender ([`Sender`]).

pub mod remote_write;
pub mod sender;

mod client;

pub use client::{Client, InstantSample, PromError, RangeSeries};
pub use sender::{SendReport, Sender, SenderOptions};
