//! `cargo xtask diagnose`: the AMP guide's troubleshooting as checks over a running
//! environment (the endpoints file `cargo xtask up` writes), each with pass, warn, fail or
//! skip, what it found and, unless it passed, what to do.
//!
//! | check | what it asks |
//! | --- | --- |
//! | `endpoints` | the endpoints file is there and readable |
//! | `amp.signature` | AMP answers the control plane and a query, signed with the file's keys |
//! | `series` / `series.<cluster>` | `container_memory_working_set_bytes` carries `--cluster-label`, for every cluster |
//! | `rules.installed` | the workspace has rule groups namespaces |
//! | `rules.<record>` | each recording rule's series exist; a warning when it selects a label no series of a cluster has |
//! | `bucket` | the ETL bucket is there, writable and readable (a probe object, deleted again) |
//! | `etl.<cluster>` | each cluster's newest daily allocation and asset ETL is at most `--max-age` old |
//! | `federation` | every window that clusters shipped is combined, from every cluster's object |
//!
//! The exit code ([`Report::exit_code`]) follows `crate::failure`: 0 when nothing failed
//! (warnings allowed), 1 when a check failed, 3 when the endpoints file is missing or a
//! service does not answer at all; usage errors (2) are the binary's.

pub mod amp;
pub mod bucket;
pub mod check;
pub mod selectors;
pub mod series;

pub use check::{Check, Options, Report, Status};
pub use series::PRESENCE_METRIC;

use crate::up::Endpoints;

/// Runs every check against the environment the endpoints file describes.
pub async fn run(options: &Options) -> Report {
    let endpoints = match read_endpoints(options) {
        Ok(e) => e,
        Err(check) => return Report { checks: vec![check] },
    };
    let mut checks = vec![Check::pass("endpoints", format!("{}", options.endpoints.display()))];
    let amp = amp::Amp::new(&endpoints);
    let found = series::check_amp(&amp, options, &mut checks).await;
    bucket::check(&endpoints, options, &found, &mut checks).await;
    Report { checks }
}

/// The endpoints, or the failed `endpoints` check.
fn read_endpoints(options: &Options) -> Result<Endpoints, Check> {
    let path = &options.endpoints;
    let fix = "start the environment with `cargo xtask up` (it writes the file once every service is ready; \
               `cargo xtask status --wait 300` waits for it), or pass --endpoints FILE";
    let bytes = match std::fs::read(path) {
        Ok(b) if b.len() <= 1024 * 1024 => b,
        Ok(b) => {
            return Err(Check::fail(
                "endpoints",
                format!("{} is {} bytes: not an endpoints file", path.display(), b.len()),
                fix,
            )
            .unreachable())
        }
        Err(e) => {
            return Err(
                Check::fail("endpoints", format!("cannot read {}: {e}", path.display()), fix).unreachable()
            )
        }
    };
    serde_json::from_slice(&bytes).map_err(|e| {
        Check::fail("endpoints", format!("{} is not what `cargo xtask up` writes: {e}", path.display()), fix)
            .unreachable()
    })
}
