//! The bucket checks: the bucket is there, writable and readable (`bucket`: a probe object
//! written, read back and deleted), each cluster's ETL is fresh (`etl.<cluster>`), and the
//! federator's output is complete (`federation`: every window the clusters shipped, daily
//! and hourly, has its combined objects, and the manifest shows every cluster's object of the
//! window combined).

use std::collections::{BTreeMap, BTreeSet};

use ampfed_allocation::Window;
use ampfed_federation::layout::{self, Classified, Kind};
use ampfed_federation::manifest;
use ampfed_federation::store::{Condition, Listed};
use ampfed_federation::{S3Failure, Store};

use super::check::{Check, Options};
use crate::up::Endpoints;

/// Where the probe object goes: outside `federated/`, which the federator reads.
const PROBE_PREFIX: &str = "ampfed-diagnose/";

/// The store of the endpoints file: its keys, one attempt per call.
fn store(endpoints: &Endpoints) -> Store {
    Store::with_s3_config(&endpoints.store_config(), |b| {
        b.retry_config(aws_smithy_types::retry::RetryConfig::disabled())
    })
}

/// A failed S3 call as a failed check.
fn s3_failed(name: &str, endpoints: &Endpoints, e: &ampfed_federation::FederationError) -> Check {
    let bucket = &endpoints.bucket;
    match e.s3_failure() {
        Some(S3Failure::NotFound) => Check::fail(
            name,
            format!("bucket {bucket} does not exist: {e}"),
            format!(
                "create it (`aws s3 mb s3://{bucket}`; `cargo xtask up` creates it when it starts), or give the cost \
                 models and the federator the bucket that exists (their federated storage config)"
            ),
        ),
        Some(S3Failure::Transient) => Check::fail(
            name,
            format!("S3 does not answer: {e}"),
            "is `cargo xtask up` still running (`cargo xtask status`)? check the endpoints file's s3_url",
        )
        .unreachable(),
        _ => Check::fail(
            name,
            format!("S3 refused: {e}"),
            format!("check the credentials' access to {bucket} (s3:ListBucket, s3:GetObject, s3:PutObject, s3:DeleteObject)"),
        ),
    }
}

/// Runs the bucket checks for `clusters` (and every cluster with a folder in the bucket).
pub async fn check(endpoints: &Endpoints, options: &Options, clusters: &[String], checks: &mut Vec<Check>) {
    let store = store(endpoints);
    if let Err(check) = probe(&store, endpoints).await {
        checks.push(check);
        checks.push(Check::skip("etl", "bucket"));
        checks.push(Check::skip("federation", "bucket"));
        return;
    }
    checks.push(Check::pass("bucket", format!("{} is writable and readable", endpoints.bucket)));
    let listed = match store.list(layout::FEDERATED_PREFIX).await {
        Ok(l) => l,
        Err(e) => {
            checks.push(s3_failed("etl", endpoints, &e));
            return;
        }
    };
    let etl = Etl::of(&listed);
    let mut names: BTreeSet<String> = clusters.iter().cloned().collect();
    if options.clusters.is_empty() {
        names.extend(etl.newest.keys().map(|(c, _)| c.clone()));
    }
    if names.is_empty() {
        checks.push(Check::fail(
            "etl",
            format!("no cluster has ETL under {}", layout::FEDERATED_PREFIX),
            "no cost model ships to this bucket: check each cluster's federated storage config (bucket name, \
             credentials) and the cost model's logs",
        ));
    }
    for cluster in &names {
        checks.push(freshness(&etl, options, cluster, &endpoints.bucket));
    }
    checks.push(federation(&store, endpoints, &etl).await);
}

/// Writes, reads back and deletes a probe object.
async fn probe(store: &Store, endpoints: &Endpoints) -> Result<(), Check> {
    let key = format!("{PROBE_PREFIX}probe-{}", hex::encode(rand::random::<[u8; 8]>()));
    let body = b"ampfed diagnose probe".to_vec();
    store.list(PROBE_PREFIX).await.map_err(|e| s3_failed("bucket", endpoints, &e))?;
    store
        .put_object(&key, body.clone(), "text/plain", &Condition::Always)
        .await
        .map_err(|e| s3_failed("bucket", endpoints, &e))?;
    let read = store.fetch(&key).await.map_err(|e| s3_failed("bucket", endpoints, &e));
    let deleted = store.delete_object(&key).await.map_err(|e| s3_failed("bucket", endpoints, &e));
    let read = read?;
    deleted?;
    if read.bytes != body {
        return Err(Check::fail(
            "bucket",
            format!("{} gave back other bytes than were written", endpoints.bucket),
            "the S3 endpoint does not store what it is sent: check the endpoints file's s3_url",
        ));
    }
    Ok(())
}

/// A cluster's objects of one window: kind → (key, ETag).
type Objects = BTreeMap<Kind, (String, String)>;

/// The daily and hourly ETL objects in the bucket.
#[derive(Default)]
struct Etl {
    /// (cluster, kind) → its newest window.
    newest: BTreeMap<(String, Kind), Window>,
    /// window → cluster → its objects.
    inputs: BTreeMap<(i64, i64), BTreeMap<String, Objects>>,
    /// (window, kind) of each combined object.
    outputs: BTreeSet<((i64, i64), Kind)>,
}

impl Etl {
    fn of(listed: &[Listed]) -> Etl {
        let mut etl = Etl::default();
        for object in listed {
            match layout::classify(&object.key) {
                Classified::Input { cluster, kind, window } => {
                    if is_day(window) {
                        let newest = etl.newest.entry((cluster.clone(), kind)).or_insert(window);
                        if window.end > newest.end {
                            *newest = window;
                        }
                    }
                    etl.inputs
                        .entry((window.start, window.end))
                        .or_default()
                        .entry(cluster)
                        .or_default()
                        .insert(kind, (object.key.clone(), object.etag.clone()));
                }
                Classified::Output { kind, window } => {
                    etl.outputs.insert(((window.start, window.end), kind));
                }
                _ => {}
            }
        }
        etl
    }
}

/// Whether `window` is a daily one (`1d/`; hourly ones are `1h/`).
fn is_day(window: Window) -> bool {
    window.end - window.start == 86_400
}

/// `2026-01-01` for a UTC day's window, `2026-01-01T05` for an hour's.
fn day(window: (i64, i64)) -> String {
    let format = if window.1 - window.0 == 86_400 { "%Y-%m-%d" } else { "%Y-%m-%dT%H" };
    chrono::DateTime::from_timestamp(window.0, 0)
        .map(|t| t.format(format).to_string())
        .unwrap_or_else(|| format!("{}-{}", window.0, window.1))
}

fn hours(secs: i64) -> String {
    format!("{:.1} h", secs as f64 / 3600.0)
}

fn freshness(etl: &Etl, options: &Options, cluster: &str, bucket: &str) -> Check {
    let name = format!("etl.{cluster}");
    let allocations = etl.newest.get(&(cluster.to_owned(), Kind::Allocations));
    let assets = etl.newest.get(&(cluster.to_owned(), Kind::Assets));
    let ship_fix = format!(
        "cluster {cluster}'s cost model does not ship ETL to {bucket}: check its federated storage config (bucket, \
         region, credentials) and its logs; it writes federated/{cluster}/etl/{{allocations,assets}}/1d/ once a day"
    );
    let (Some(a), Some(s)) = (allocations, assets) else {
        let missing = match (allocations, assets) {
            (None, None) => "allocations and assets",
            (None, Some(_)) => "allocations",
            _ => "assets",
        };
        return Check::fail(name, format!("no daily {missing} ETL under federated/{cluster}/etl/"), ship_fix);
    };
    let end = a.end.min(s.end);
    let age = options.now - end;
    let newest = day((a.start.min(s.start), end));
    if age > options.max_age {
        return Check::fail(
            name,
            format!(
                "newest day {newest} ended {} before --now (at most {} allowed)",
                hours(age),
                hours(options.max_age)
            ),
            format!(
                "{ship_fix}; a cost model that stopped, or cannot reach AMP, leaves the newest day behind"
            ),
        );
    }
    Check::pass(
        name,
        format!("newest day {newest} (allocations and assets), ended {} before --now", hours(age.max(0))),
    )
}

async fn federation(store: &Store, endpoints: &Endpoints, etl: &Etl) -> Check {
    const NAME: &str = "federation";
    if etl.inputs.is_empty() {
        return Check::skip(NAME, "etl");
    }
    let manifest = match manifest::read_all(store).await {
        Ok(m) => m,
        Err(e) => return s3_failed(NAME, endpoints, &e),
    };
    let run_fix =
        "run the federator (the `federation` step; Kubecost's federator job) once every cluster has shipped \
                   the day: it combines federated/<cluster>/etl/ into federated/combined/etl/";
    let mut problems = Vec::new();
    let mut quarantined = Vec::new();
    for (window, clusters) in &etl.inputs {
        let entry = manifest.windows.get(&format!("{}-{}", window.0, window.1));
        for kind in [Kind::Allocations, Kind::Assets] {
            if !etl.outputs.contains(&(*window, kind)) {
                problems.push(format!("{}: no combined {kind}", day(*window)));
            }
        }
        for (cluster, objects) in clusters {
            for (key, etag) in objects.values() {
                match entry.and_then(|e| e.inputs.get(key)) {
                    None => {
                        problems.push(format!("{}: {cluster}'s {} not combined", day(*window), short(key)))
                    }
                    Some(input) if input.quarantined.is_some() => {
                        let reason =
                            input.quarantined.as_ref().map(|q| q.message.clone()).unwrap_or_default();
                        quarantined
                            .push(format!("{}: {cluster}'s object quarantined ({reason})", day(*window)));
                    }
                    Some(input) if &input.etag != etag => problems.push(format!(
                        "{}: {cluster}'s {} changed since it was combined",
                        day(*window),
                        short(key)
                    )),
                    Some(_) => {}
                }
            }
        }
    }
    let days = etl.inputs.keys().filter(|(start, end)| end - start == 86_400).count();
    let hourly = etl.inputs.len() - days;
    let clusters: BTreeSet<&String> = etl.inputs.values().flat_map(|c| c.keys()).collect();
    if !quarantined.is_empty() {
        return Check::fail(
            NAME,
            quarantined.join("; "),
            "the federator distrusted these objects and left them out: read quarantine/<key>.reason.json, fix the \
             cluster's cost model and let it ship the day again",
        );
    }
    if !problems.is_empty() {
        let more =
            if problems.len() > 5 { format!(" (and {} more)", problems.len() - 5) } else { String::new() };
        return Check::fail(
            NAME,
            format!("{}{more}", problems.into_iter().take(5).collect::<Vec<_>>().join("; ")),
            run_fix,
        );
    }
    Check::pass(
        NAME,
        format!(
            "{days} day(s) and {hourly} hour(s) combined from every cluster's objects ({})",
            clusters.into_iter().cloned().collect::<Vec<_>>().join(", ")
        ),
    )
}

/// `allocations/1d/…` of a key, for messages.
fn short(key: &str) -> &str {
    key.split("/etl/").nth(1).unwrap_or(key)
}
