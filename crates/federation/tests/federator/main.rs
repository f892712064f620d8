//! The federator against S3: the embedded server (`ampfed-s3`) for the incremental, trust,
//! concurrency, crash and fault cases, and LocalStack (through `ampfed-env`) for what the
//! provider the e2e path uses honours. Each failure case ends by comparing the bucket's
//! `federated/combined/` byte for byte with what one clean run gives.

mod concurrent;
mod faults;
mod hourly;
mod incremental;
mod killed;
mod localstack;
mod relay;
mod support;
mod trust;
