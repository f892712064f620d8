//! `ampfed-diagnose`: the troubleshooting checks over a running `cargo xtask up`
//! (`ampfed_e2e::diagnose`), printed as a list or as JSON, with the exit code CI gates on.
//! `cargo xtask diagnose` builds and runs it.

use std::path::PathBuf;
use std::process::ExitCode;

use ampfed_e2e::diagnose::{self, Options};
use ampfed_e2e::up::Files;
use clap::Parser;

/// Check a running environment the way the AMP guide's troubleshooting does: AMP reachable and
/// the signature accepted, every cluster's series under the cluster label, the recording
/// rules installed and producing series, the bucket, each cluster's ETL, the federator's
/// output. Each check passes, warns or fails, and says what to do when it does not pass.
#[derive(Debug, Parser)]
#[command(
    name = "ampfed-diagnose",
    bin_name = "cargo xtask diagnose",
    after_help = "\
Exit codes: 0 every check passed (warnings allowed), 1 a check failed, 2 bad usage, 3 the \
endpoints file is missing or a service does not answer.

Examples:
  cargo xtask diagnose                                   # against `cargo xtask up`
  cargo xtask diagnose --json | jq '.checks[] | select(.status != \"pass\")'
  cargo xtask diagnose --cluster-label cluster --clusters cluster-a,cluster-b
  cargo xtask diagnose --now 2026-01-02T00:00:00Z        # data simulated for 2026-01-01
  cargo xtask diagnose --endpoints /tmp/other/endpoints.json --max-age 48h"
)]
struct Args {
    /// The endpoints file of the running `up` [default: <state dir>/endpoints.json].
    #[arg(long, value_name = "FILE")]
    endpoints: Option<PathBuf>,
    /// The directory of the running `up` [default: the cache directory].
    #[arg(long, value_name = "DIR", conflicts_with = "endpoints")]
    state_dir: Option<PathBuf>,
    /// The label naming a cluster on remote-written series (Prometheus `external_labels`,
    /// the cost model's promClusterIDLabel).
    #[arg(long, value_name = "NAME", default_value = "cluster_id")]
    cluster_label: String,
    /// The clusters expected, comma-separated [default: those found].
    #[arg(long, value_name = "A,B,…", value_delimiter = ',')]
    clusters: Vec<String>,
    /// "Now": RFC 3339 or unix seconds [default: the wall clock].
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    now: Option<i64>,
    /// How far back from --now a series counts as present (`1h`, `30m`, `1d`, seconds).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    lookback: i64,
    /// How long before --now a cluster's newest ETL day may have ended.
    #[arg(long, value_name = "DURATION", default_value = "26h", value_parser = parse_duration)]
    max_age: i64,
    /// Print the report as JSON (`passed`, `exit_code`, `checks`).
    #[arg(long)]
    json: bool,
}

fn parse_time(text: &str) -> Result<i64, String> {
    if let Ok(n) = text.parse::<i64>() {
        return Ok(n);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp())
        .map_err(|e| format!("`{text}` is neither RFC 3339 nor unix seconds: {e}"))
}

fn parse_duration(text: &str) -> Result<i64, String> {
    let bad = || format!("`{text}` is not a duration; write 90s, 30m, 26h, 2d or seconds");
    if let Ok(n) = text.parse::<i64>() {
        return if n > 0 { Ok(n) } else { Err(bad()) };
    }
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = number.parse().map_err(|_| bad())?;
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(factor).filter(|s| *s > 0).ok_or_else(bad)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AMPFED_LOG").unwrap_or_else(|_| "error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let endpoints = args.endpoints.clone().unwrap_or_else(|| {
        args.state_dir.clone().map(Files::new).unwrap_or_else(Files::in_cache_dir).endpoints()
    });
    let options = Options {
        endpoints,
        cluster_label: args.cluster_label,
        clusters: args.clusters.into_iter().filter(|c| !c.is_empty()).collect(),
        now: args.now.unwrap_or_else(|| chrono::Utc::now().timestamp()),
        lookback: args.lookback,
        max_age: args.max_age,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(3);
        }
    };
    let report = runtime.block_on(diagnose::run(&options));
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    ExitCode::from(report.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times_parse() {
        assert_eq!(parse_duration("26h"), Ok(93_600));
        assert_eq!(parse_duration("90"), Ok(90));
        assert!(
            parse_duration("0s").is_err() && parse_duration("1w").is_err() && parse_duration("").is_err()
        );
        assert_eq!(parse_time("2026-01-02T00:00:00Z"), Ok(1_767_312_000));
        assert!(parse_time("tomorrow").is_err());
    }
}
