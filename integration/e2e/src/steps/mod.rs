//! The steps of the path, one module each: a function taking the [`Env`](crate::env::Env)
//! and typed inputs, returning a typed output that later steps and the summary read.
//!
//! rules → remote write → ruler → cost model → federation → query.

pub mod cost_model;
pub mod federation;
pub mod query;
pub mod remote_write;
pub mod ruler;
pub mod rules;
