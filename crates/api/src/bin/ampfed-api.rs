//! `ampfed-api`: serves Kubecost's `/model/allocation` and `/model/assets` from a bucket's
//! combined ETL (`federated/combined/…`), on a loopback address only; or, with `--query`,
//! answers one request target and prints it as a table (or JSON) and exits.
//!
//! The bucket is `--endpoint`/`--bucket`/`--region`, or Kubecost's `federated-store.yaml`
//! (`--federated-store FILE`, `ampfed_federation::config`), whose keys sign the requests; a
//! file without keys uses the standard credential chain (`ampfed_proxy::chain`: environment
//! keys, web identity, the shared credentials file).
//!
//! It prints `listening on http://127.0.0.1:<port>` on stdout once ready and stops on Ctrl-C
//! or SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ampfed_api::{render_table, Api, ApiConfig, ApiServer, Limits, StoreSource};
use ampfed_federation::{config as store_file, Store, StoreConfig};
use anyhow::{bail, Context, Result};
use clap::Parser;

/// mimalloc: the federator and the API decode and encode many small objects on several
/// threads, where glibc's malloc spent about a third of the time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EXAMPLES: &str = "\
Examples:
  # Serve LocalStack's bucket, with \"now\" at the end of the simulated days:
  ampfed-api --endpoint http://127.0.0.1:4566 --bucket ampfed-central --now 2026-01-08T00:00:00Z

  # Then, from another shell (encode + as %2B in filters):
  curl 'http://127.0.0.1:9090/model/allocation?window=7d&aggregate=namespace&accumulate=true'
  curl 'http://127.0.0.1:9090/model/allocation?window=lastweek&aggregate=cluster,label:team&step=1d&idle=false'
  curl 'http://127.0.0.1:9090/model/allocation?window=yesterday&aggregate=namespace&filter=cluster:%22cluster-a%22%2Bnamespace!:%22kube-system%22'
  curl 'http://127.0.0.1:9090/model/assets?window=7d&aggregate=type&accumulate=true'

  # The bucket of Kubecost's federated-store.yaml (type: S3, config: {bucket, endpoint, …}):
  ampfed-api --federated-store federated-store.yaml --now 2026-01-08T00:00:00Z

  # One query, printed as a table (add --json for Kubecost's JSON):
  ampfed-api --endpoint http://127.0.0.1:4566 --bucket ampfed-central --now 2026-01-08T00:00:00Z \\
    --query '/model/allocation?window=7d&aggregate=namespace&accumulate=true'

Credentials: --access-key-id/--secret-access-key, else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
else LocalStack's \"test\". With --federated-store: the file's access_key/secret_key, else the
standard chain (AWS_ACCESS_KEY_ID…, web identity, ~/.aws/credentials).";

/// Kubecost's allocation and assets API over the central bucket's combined ETL.
#[derive(Debug, Parser)]
#[command(name = "ampfed-api", version, after_help = EXAMPLES)]
struct Flags {
    /// The S3 endpoint (http://…).
    #[arg(long, required_unless_present = "federated_store", conflicts_with = "federated_store")]
    endpoint: Option<String>,
    /// The bucket holding federated/combined/….
    #[arg(long, required_unless_present = "federated_store", conflicts_with = "federated_store")]
    bucket: Option<String>,
    /// The bucket's region.
    #[arg(long, default_value = "us-east-1", conflicts_with = "federated_store")]
    region: String,
    /// Kubecost's federated-store.yaml (type: S3; config: bucket, endpoint, region, insecure,
    /// access_key, secret_key, …) instead of --endpoint, --bucket and --region.
    #[arg(long, value_name = "FILE")]
    federated_store: Option<std::path::PathBuf>,
    /// Where to listen: a loopback address only (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:9090")]
    listen: SocketAddr,
    /// "Now" for relative windows (today, 7d, lastweek, …): RFC 3339 (2026-01-08T00:00:00Z)
    /// or unix seconds; the system clock when absent.
    #[arg(long)]
    now: Option<String>,
    /// Answer this request target (/model/allocation?…), print it and exit.
    #[arg(long, value_name = "TARGET")]
    query: Option<String>,
    /// With --query: print Kubecost's JSON instead of a table.
    #[arg(long, requires = "query")]
    json: bool,
    /// The access key id; AWS_ACCESS_KEY_ID, else "test" (LocalStack's), when absent.
    #[arg(long, conflicts_with = "federated_store")]
    access_key_id: Option<String>,
    /// The secret access key; AWS_SECRET_ACCESS_KEY, else "test", when absent.
    #[arg(long, conflicts_with = "federated_store")]
    secret_access_key: Option<String>,
    /// The longest window served, in days.
    #[arg(long, default_value_t = Limits::default().max_window_days)]
    max_window_days: i64,
    /// The longest window read by the hour (not of whole UTC days, or a step of hours), in hours.
    #[arg(long, default_value_t = Limits::default().max_window_hours)]
    max_window_hours: i64,
    /// Seconds one query may take (504 after it).
    #[arg(long, default_value_t = ApiConfig::default().request_timeout.as_secs())]
    request_timeout_secs: u64,
    /// Rows of day answers kept for repeated requests, each under the ETags of the objects it
    /// was computed from (checked with a HeadObject per object on every request); 0 keeps none.
    #[arg(long, default_value_t = ApiConfig::default().cache_rows)]
    cache_rows: usize,
}

/// `--now`: unix seconds or an RFC 3339 time.
fn parse_now(s: &str) -> Result<i64> {
    if let Ok(secs) = s.parse::<i64>() {
        return Ok(secs);
    }
    match chrono::DateTime::parse_from_rfc3339(s) {
        Ok(t) => Ok(t.timestamp()),
        Err(_) => bail!("--now {s:?} is neither unix seconds nor an RFC 3339 time like 2026-01-08T00:00:00Z"),
    }
}

fn credential(flag: Option<String>, env: &str) -> String {
    flag.or_else(|| std::env::var(env).ok()).unwrap_or_else(|| "test".to_owned())
}

/// The store the flags name: `--federated-store`'s, or `--endpoint`'s and `--bucket`'s.
fn store(flags: &Flags) -> Result<Store> {
    let Some(path) = &flags.federated_store else {
        let (Some(endpoint), Some(bucket)) = (&flags.endpoint, &flags.bucket) else {
            bail!("--endpoint and --bucket, or --federated-store FILE, name the bucket");
        };
        return Ok(Store::new(&StoreConfig {
            endpoint: endpoint.clone(),
            region: flags.region.clone(),
            bucket: bucket.clone(),
            access_key_id: credential(flags.access_key_id.clone(), "AWS_ACCESS_KEY_ID"),
            secret_access_key: credential(flags.secret_access_key.clone(), "AWS_SECRET_ACCESS_KEY"),
        }));
    };
    let file = store_file::read(path).context("--federated-store")?;
    for warning in &file.warnings {
        tracing::warn!("{warning}");
    }
    file.open(|region| {
        let resolved = ampfed_proxy::chain::resolve_for_process(region).with_context(|| {
            format!(
                "{}: the file has no access_key/secret_key, and the credential chain found none",
                path.display()
            )
        })?;
        tracing::info!(source = %resolved.source, "S3 credentials from the credential chain");
        anyhow::Ok(resolved.provider)
    })
}

async fn stopped() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let flags = Flags::parse();
    let now = flags.now.as_deref().map(parse_now).transpose()?;
    let store = store(&flags)?;
    let config = ApiConfig {
        listen: flags.listen,
        now,
        limits: Limits {
            max_window_days: flags.max_window_days,
            max_window_hours: flags.max_window_hours,
            ..Limits::default()
        },
        request_timeout: Duration::from_secs(flags.request_timeout_secs),
        cache_rows: flags.cache_rows,
        ..ApiConfig::default()
    };
    config.check()?;
    let api = Arc::new(Api::new(Arc::new(StoreSource::new(store)), config));

    if let Some(target) = &flags.query {
        let reply = api.get(target).await;
        if flags.json {
            println!("{}", reply.to_json_pretty());
        } else {
            print!("{}", render_table(&reply));
        }
        if reply.code != 200 {
            std::process::exit(1);
        }
        return Ok(());
    }

    let mut server = ApiServer::start(api).await?;
    println!("listening on {}", server.url());
    stopped().await;
    server.stop();
    Ok(())
}
