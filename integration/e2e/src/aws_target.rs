//! `--target aws`: the path against an AMP workspace and an S3 bucket that exist already (real
//! AWS, or anything that answers as AWS does: `cargo xtask up --wall-clock-rules` and its
//! exports), in wall-clock mode.
//!
//! AMP accepts samples only near the present (its out-of-order window is 60 s) and evaluates
//! recording rules on the wall clock, so the simulated clusters cannot hand it the default
//! simulated day at once. Here the simulated day is *today* (UTC), and each scrape of it is
//! remote-written when the clock reaches it, for `--duration`; everything after works on what
//! was streamed:
//!
//! ```text
//! environment   aws-config's default chain (env, profiles and SSO, web identity, process,
//!               ECS, IMDS), or --role-arn assumed with it; STS GetCallerIdentity; the
//!               workspace ACTIVE; the bucket holding no other cluster's ETL; the signing
//!               proxy in front of AMP's data plane (HTTPS, the system's roots)
//! rules         each rules file as namespace ampfed-e2e-<file> (created, or updated)
//! remote write  today's scrapes from now for --duration, a minute at a time; counted back
//! ruler         AMP's own ruler: every record name has series (within --rules-wait)
//! cost model    today (up to the stream's end) and each streamed hour, per cluster
//! federation    the bucket federated: every cluster combined, nothing quarantined
//! query         complete costs with idle and assets; allocated + idle = node cost
//! teardown      the namespaces deleted (unless --keep-rules), the proxy stopped
//! ```
//!
//! The checks are the local path's with three changes (docs/aws-target.md): no snapshots (the
//! figures depend on the time of day), the samples are counted over the streamed minutes, and
//! the cost model's windows end when the stream ended (as Kubecost computes the day in
//! progress up to now) and are filed under their UTC day and hours.

use std::path::PathBuf;
use std::time::Duration;

use ampfed_allocation::Window;
use ampfed_clustersim::{LabelStyle, Simulation};
use std::convert::Infallible;

use ampfed_common::wait::{Poll, Wait, WaitError};
use ampfed_common::Cancel;
use ampfed_costmodel::{ComputedDay, CostModel};
use ampfed_federation::config::FederatedStore;
use ampfed_federation::Store;
use ampfed_prom::Client;
use ampfed_proxy::{ProxyOptions, SigningProxy};
use anyhow::{anyhow, bail, Context, Result};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};

use crate::failure::{Classify, Failure};
use crate::outcome::{Outcome, Summary};
use crate::progress::{Bar, Progress, StepName};
use crate::sim::{self, DAY, SCRAPE_INTERVAL};
use crate::steps::{cost_model, federation, query, remote_write, rules};

/// Put before each rules file's name: the namespaces this target installs and deletes.
pub const NAMESPACE_PREFIX: &str = "ampfed-e2e-";
/// The shortest stream: the rules' `[5m]` rates need two scrapes, and the ruler a minute.
pub const MIN_DURATION: Duration = Duration::from_secs(120);
/// The longest stream.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// How long AMP may take to make a namespace ACTIVE (seconds to a minute on AWS).
const ACTIVE_WITHIN: Duration = Duration::from_secs(300);
/// The session name of an assumed `--role-arn`.
const SESSION_NAME: &str = "ampfed-e2e";
/// The longest wait for one minute's scrape (a minute, and slack for a slow clock tick).
const SCRAPE_WAIT: Duration = Duration::from_secs(2 * SCRAPE_INTERVAL as u64);
/// Between two looks at the recorded series.
const RULES_POLL: Duration = Duration::from_secs(10);

/// The flags of `--target aws`.
#[derive(Clone, Debug, clap::Args)]
pub struct AwsFlags {
    /// With --target aws: the AMP workspace (ws-…) the clusters write to and the rules go into.
    #[arg(long, value_name = "ID")]
    pub workspace_id: Option<String>,
    /// With --target aws: the region (default: the SDK's own: AWS_REGION, the profile's region).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// With --target aws: a role to assume (STS AssumeRole) with the default chain's credentials.
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    /// With --target aws: AMP's data plane (default: AWS_ENDPOINT_URL_AMP, else
    /// https://aps-workspaces.<region>.amazonaws.com).
    #[arg(long, value_name = "URL")]
    pub amp_url: Option<String>,
    /// With --target aws: how long the clusters stream samples stamped now (2m–60m; as 90s, 10m).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub duration: Duration,
    /// With --target aws: how long to wait for AMP's ruler to record every rule's series.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub rules_wait: Duration,
    /// With --target aws: leave the ampfed-e2e-* rule namespaces installed after the run.
    #[arg(long)]
    pub keep_rules: bool,
}

/// `90s`, `10m`, `1h` or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = digits.parse().map_err(|_| format!("`{text}` is not a duration; write 90s, 10m or 1h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => return Err(format!("`{text}`: unknown unit `{unit}`; write 90s, 10m or 1h")),
    };
    Ok(Duration::from_secs(secs))
}

/// Everything `--target aws` runs with, checked.
#[derive(Clone, Debug)]
pub struct AwsOptions {
    pub workspace_id: String,
    pub region: Option<String>,
    pub role_arn: Option<String>,
    pub amp_url: Option<String>,
    pub duration: Duration,
    pub rules_wait: Duration,
    pub keep_rules: bool,
    /// The bucket, from `--federated-store`.
    pub bucket: FederatedStore,
    pub fixtures: PathBuf,
    /// `--clusters N`: stamped clusters instead of the fixtures.
    pub clusters: Option<usize>,
    pub cluster_label: String,
    pub label_style: Option<LabelStyle>,
    pub seed: u64,
    pub show_progress: bool,
    /// Set on Ctrl-C: the stream stops at its next minute.
    pub cancel: Cancel,
}

impl AwsFlags {
    /// The options, or what is wrong with the flags (before anything starts).
    pub fn check(&self, bucket: Option<FederatedStore>) -> Result<AwsOptions, String> {
        let workspace_id = self.workspace_id.clone().ok_or(
            "--target aws needs --workspace-id ws-… (an existing AMP workspace: `aws amp list-workspaces`)",
        )?;
        check_workspace_id(&workspace_id)?;
        let bucket = bucket.ok_or(
            "--target aws needs --federated-store FILE (Kubecost's federated-store.yaml naming the ETL bucket)",
        )?;
        if !(MIN_DURATION..=MAX_DURATION).contains(&self.duration) {
            return Err(format!(
                "--duration {}s: give 2m to 60m (AMP's rules need two scrapes and a minute)",
                self.duration.as_secs()
            ));
        }
        if self.rules_wait.is_zero() || self.rules_wait > MAX_DURATION {
            return Err("--rules-wait: give 1s to 60m".into());
        }
        if let Some(url) = &self.amp_url {
            check_amp_url(url)?;
        }
        Ok(AwsOptions {
            workspace_id,
            region: self.region.clone(),
            role_arn: self.role_arn.clone(),
            amp_url: self.amp_url.clone(),
            duration: self.duration,
            rules_wait: self.rules_wait,
            keep_rules: self.keep_rules,
            bucket,
            fixtures: ampfed_common::paths::fixtures_dir(),
            clusters: None,
            cluster_label: sim::CLUSTER_LABEL.to_owned(),
            label_style: None,
            seed: ampfed_clustersim::stamp::DEFAULT_SEED,
            show_progress: false,
            cancel: Cancel::new(),
        })
    }
}

/// AMP's workspace ids: `ws-` and then letters, digits and `-` (at most 64 in all).
fn check_workspace_id(id: &str) -> Result<(), String> {
    let ok = id.len() <= 64
        && id.strip_prefix("ws-").is_some_and(|rest| {
            !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(())
    } else {
        Err(format!("--workspace-id {id:?} is not an AMP workspace id (ws-0123abcd-…)"))
    }
}

fn check_amp_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("--amp-url {url}: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("--amp-url {url}: give http(s)://host[:port]"));
    }
    if parsed.path() != "/" || parsed.query().is_some() {
        return Err(format!(
            "--amp-url {url}: give the endpoint alone, without a path (…/workspaces/ws-… is added)"
        ));
    }
    Ok(())
}

/// A window the cost model computes (cut at the stream's end) and the one it is filed under.
pub type Cut = (Window, Window);

/// What the stream covers: from the current scrape for the duration, in today's simulated day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Streamed {
    /// The streamed scrapes, `[start, end)`: whole minutes.
    pub window: Window,
}

impl Streamed {
    /// The stream starting at `now` (unix seconds) for `duration`.
    pub fn starting(now: i64, duration: Duration) -> Streamed {
        let start = now - now.rem_euclid(SCRAPE_INTERVAL);
        let minutes =
            i64::try_from(duration.as_secs().div_ceil(SCRAPE_INTERVAL as u64)).unwrap_or(i64::MAX / 120);
        Streamed { window: Window { start, end: start + minutes.max(1) * SCRAPE_INTERVAL } }
    }

    /// The UTC days it touches: what the simulator simulates.
    pub fn settings(&self, base: &sim::Settings) -> sim::Settings {
        let epoch = self.window.start - self.window.start.rem_euclid(DAY);
        let last = self.window.end - 1;
        let days = u32::try_from((last - epoch) / DAY + 1).unwrap_or(1);
        sim::Settings { epoch, days, ..base.clone() }
    }

    /// The cost model's windows: each UTC day touched and each UTC hour touched, each cut to
    /// end when the stream ended (`at`), paired with the day or hour it is filed under.
    pub fn windows(&self, at: i64) -> (Vec<Cut>, Vec<Cut>) {
        let cut = |w: Window| (Window { start: w.start, end: w.end.min(at) }, w);
        let spans = |unit: i64| -> Vec<Cut> {
            let mut out = Vec::new();
            let mut t = self.window.start - self.window.start.rem_euclid(unit);
            while t < self.window.end {
                out.push(cut(Window { start: t, end: t + unit }));
                t += unit;
            }
            out
        };
        (spans(DAY), spans(3600))
    }
}

/// The credentials and clients of the run.
struct Reached {
    region: String,
    provider: SharedCredentialsProvider,
    amp: aws_sdk_amp::Client,
    caller: String,
}

/// aws-config's default chain for `region` (or the chain's own region), `role_arn` assumed
/// with it when given; resolved once here so that a missing credential fails now.
async fn reach(options: &AwsOptions) -> Result<Reached> {
    let mut loader =
        aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(ampfed_aws::http_client());
    if let Some(region) = &options.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    let config = loader.load().await;
    let region = config
        .region()
        .map(ToString::to_string)
        .context("no AWS region: give --region, or set AWS_REGION (or the profile's region)")?;
    let mut provider =
        config.credentials_provider().context("the SDK's default chain has no credentials provider")?;
    if let Some(arn) = &options.role_arn {
        let assumed = aws_config::sts::AssumeRoleProvider::builder(arn.clone())
            .session_name(SESSION_NAME)
            .configure(&config)
            .build()
            .await;
        provider = SharedCredentialsProvider::new(assumed);
    }
    provider.provide_credentials().await.map_err(|e| {
        anyhow!(
            "no AWS credentials{}: {}; the SDK's default chain reads AWS_ACCESS_KEY_ID, AWS_PROFILE (and SSO), \
             AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, credential_process, ECS and IMDS",
            options.role_arn.as_ref().map(|r| format!(" for role {r}")).unwrap_or_default(),
            credential_error(&e)
        )
    })?;
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(&config).credentials_provider(provider.clone()).build(),
    );
    let who = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| anyhow!("STS GetCallerIdentity: {}", ampfed_aws::error_text(&e)))?;
    let amp = aws_sdk_amp::Client::from_conf(
        aws_sdk_amp::config::Builder::from(&config).credentials_provider(provider.clone()).build(),
    );
    Ok(Reached { region, provider, amp, caller: who.arn().unwrap_or("(no ARN)").to_owned() })
}

/// A credential provider's error without the raw response the SDK's context adds: its own
/// text and the service's code and message.
fn credential_error(e: &aws_credential_types::provider::error::CredentialsError) -> String {
    let text = ampfed_aws::error_text(e);
    let field = |name: &str| -> Option<String> {
        let start = text.find(&format!("{name}: \""))? + name.len() + 3;
        let len = text[start..].find('"')?;
        Some(text[start..start + len].to_owned())
    };
    match (field("code"), field("message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        _ => text.chars().take(400).collect(),
    }
}

/// AMP's data plane: `--amp-url`, else `AWS_ENDPOINT_URL_AMP` (as the SDK reads it), else AWS's.
fn data_plane(options: &AwsOptions, region: &str) -> String {
    let from_env = std::env::var("AWS_ENDPOINT_URL_AMP").ok().filter(|v| !v.is_empty());
    options
        .amp_url
        .clone()
        .or(from_env)
        .unwrap_or_else(|| format!("https://aps-workspaces.{region}.amazonaws.com"))
        .trim_end_matches('/')
        .to_owned()
}

/// Fails unless the workspace exists and is ACTIVE.
async fn check_workspace(amp: &aws_sdk_amp::Client, id: &str, region: &str) -> Result<()> {
    let described = amp.describe_workspace().workspace_id(id).send().await.map_err(|e| {
        anyhow!(
            "workspace {id} in {region}: {}; give --workspace-id of an existing workspace (`aws amp list-workspaces`)",
            ampfed_aws::error_text(&e)
        )
    })?;
    let status = described.workspace().and_then(|w| w.status()).map(|s| s.status_code().as_str().to_owned());
    match status.as_deref() {
        Some("ACTIVE") => Ok(()),
        other => bail!("workspace {id} is {}, not ACTIVE", other.unwrap_or("of unknown status")),
    }
}

/// Fails unless the bucket exists and holds ETL of no other cluster than `ours`: the
/// federator combines every cluster in the bucket, and this run must not mix with them.
async fn check_bucket(store: &Store, ours: &[String]) -> Result<()> {
    let found = store.clusters().await.with_context(|| {
        format!("list the bucket {} (it must exist: `aws s3 mb s3://{}`)", store.bucket(), store.bucket())
    })?;
    let others: Vec<&String> = found.iter().filter(|c| !ours.contains(c)).collect();
    if others.is_empty() {
        return Ok(());
    }
    Err(anyhow!(
        "the bucket {} holds ETL of clusters this run does not write ({}): the federator would combine them \
         with the simulated ones; give a bucket of its own for the e2e",
        store.bucket(),
        others.iter().take(5).map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
    )
    .context(Failure::BadInput))
}

/// The running parts: stopped (and the namespaces deleted) by [`Running::down`].
struct Running {
    proxy: SigningProxy,
    amp: aws_sdk_amp::Client,
    workspace: String,
    namespaces: Vec<String>,
    keep_rules: bool,
}

impl Running {
    fn client(&self) -> Client {
        Client::new(format!("{}/workspaces/{}", self.proxy.url(), self.workspace), "/api/v1/remote_write")
    }

    async fn down(mut self) -> Result<String> {
        self.proxy.stop();
        if self.keep_rules {
            return Ok(format!("proxy stopped; namespaces kept: {}", self.namespaces.join(", ")));
        }
        for name in &self.namespaces {
            self.amp
                .delete_rule_groups_namespace()
                .workspace_id(&self.workspace)
                .name(name)
                .send()
                .await
                .map_err(|e| {
                    anyhow!("delete rule groups namespace {name}: {}", ampfed_aws::error_text(&e))
                })?;
        }
        Ok(format!("proxy stopped; {} namespace(s) deleted", self.namespaces.len()))
    }
}

/// Runs the path against the target; the outcome carries no snapshot material worth
/// comparing (the caller does not compare it).
pub async fn run(options: &AwsOptions) -> Result<Outcome> {
    let mut progress = Progress::new(options.show_progress);
    let now = chrono::Utc::now().timestamp();
    let streamed = Streamed::starting(now, options.duration);
    let base = sim::Settings {
        cluster_label: options.cluster_label.clone(),
        label_style: options.label_style,
        seed: options.seed,
        ..sim::Settings::default()
    };
    let settings = streamed.settings(&base);
    // Everything local is checked before the first request to AWS.
    let simulations = remote_write::prepare(&options.fixtures, options.clusters, &settings)
        .and_then(remote_write::Prepared::simulate_all)
        .with_context(|| StepName::RemoteWrite.failed())
        .classify(Failure::BadInput)?;
    crate::path::check_rules(&options.fixtures.join("rules"))
        .with_context(|| StepName::Rules.failed())
        .classify(Failure::BadInput)?;
    let clusters: Vec<String> = simulations.iter().map(|s| s.cluster().to_owned()).collect();

    let (reached, store, proxy) = progress
        .step(
            StepName::Environment,
            None,
            |_| async {
                let reached = reach(options).await?;
                check_workspace(&reached.amp, &options.workspace_id, &reached.region).await?;
                let store = options.bucket.open(|_| Ok::<_, anyhow::Error>(reached.provider.clone()))?;
                check_bucket(&store, &clusters).await?;
                let upstream = data_plane(options, &reached.region);
                let proxy = SigningProxy::start(
                    ProxyOptions {
                        listen: std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0)),
                        upstream: upstream.clone(),
                        region: reached.region.clone(),
                        service: "aps".into(),
                        fault: None,
                    },
                    reached.provider.clone(),
                )
                .await
                .with_context(|| format!("start the signing proxy for {upstream}"))?;
                anyhow::Ok((reached, store, proxy))
            },
            |(reached, store, proxy)| {
                format!(
                    "as {} in {}; workspace {}; bucket {}; proxy {}",
                    reached.caller,
                    reached.region,
                    options.workspace_id,
                    store.bucket(),
                    proxy.url()
                )
            },
        )
        // Unclassified errors are the environment's (exit 3); the bucket check says bad input.
        .await?;
    let mut running = Running {
        proxy,
        amp: reached.amp.clone(),
        workspace: options.workspace_id.clone(),
        namespaces: Vec::new(),
        keep_rules: options.keep_rules,
    };
    let result = steps(options, &mut running, &store, simulations, &settings, streamed, &mut progress).await;
    let teardown = progress.step(StepName::Teardown, None, |_| running.down(), Clone::clone).await;
    let (summary, answers) = result?;
    teardown?;
    Ok(answers.into_outcome(Summary { steps: progress.times().to_vec(), ..summary }))
}

/// The steps between the environment and the teardown.
async fn steps(
    options: &AwsOptions,
    running: &mut Running,
    store: &Store,
    simulations: Vec<Simulation>,
    settings: &sim::Settings,
    streamed: Streamed,
    progress: &mut Progress,
) -> Result<(Summary, query::Answers)> {
    let rules_dir = options.fixtures.join("rules");
    let naming = rules::Naming { prefix: NAMESPACE_PREFIX, replace: true, active_within: ACTIVE_WITHIN };
    let (namespaces, records) = progress
        .step(
            StepName::Rules,
            None,
            |_| rules::install_rules_named(&running.amp, &running.workspace, &rules_dir, naming),
            |(n, r)| format!("{} namespace(s) ({}), {} rules", n.len(), n.join(", "), r.len()),
        )
        .await?;
    running.namespaces = namespaces;

    let total: usize = simulations
        .iter()
        .map(|s| s.samples_between(streamed.window.start * 1000, streamed.window.end * 1000))
        .sum();
    let client = running.client();
    let cancel = options.cancel.clone();
    let label = settings.cluster_label.clone();
    let written = progress
        .step(
            StepName::RemoteWrite,
            Some(total as u64),
            |bar| stream(client, simulations, streamed, bar, cancel, label),
            |w| {
                format!(
                    "{} clusters, {} series, {} samples over {} min stamped now (all stored; {} retries)",
                    w.clusters.len(),
                    w.series,
                    w.samples,
                    (streamed.window.end - streamed.window.start) / 60,
                    w.retries
                )
            },
        )
        .await?;

    let reader = running.client();
    let recorded = progress
        .step(
            StepName::Ruler,
            None,
            |_| wait_for_rules(reader, records.clone(), options.rules_wait, options.cancel.clone()),
            |n| format!("AMP's ruler recorded {n} series for {} rules", records.len()),
        )
        .await?;

    let at = streamed.window.end;
    let client = running.client();
    let shipped = progress
        .step(
            StepName::CostModel,
            None,
            |_| ship(client, store, &written.clusters, settings, streamed, at),
            |s| {
                format!(
                    "{} daily and {} hourly ETL objects, windows cut at the stream's end",
                    s.etl_objects.len() + s.asset_objects.len(),
                    s.hourly_objects.len()
                )
            },
        )
        .await?;
    let hours = streamed.windows(at).1.len();
    let federated = progress
        .step(
            StepName::Federation,
            None,
            |_| federation::combine_in(store, &written.clusters, Some(hours)),
            |f| format!("{} objects read, {} allocations combined", f.objects_read, f.allocations),
        )
        .await?;

    let reader = running.client();
    let answers = progress
        .step(
            StepName::Query,
            None,
            |_| query::query_with(store, reader, &records, settings, at - SCRAPE_INTERVAL),
            |a| {
                format!(
                    "{} allocations → {} namespaces, {} clusters; allocated + idle = node cost",
                    a.combined.allocations.len(),
                    a.by_namespace.len(),
                    a.by_cluster.len()
                )
            },
        )
        .await?;
    let summary = Summary {
        clusters: written.clusters,
        series_written: written.series,
        samples_written: written.samples,
        samples_stored: written.stored,
        write_retries: written.retries,
        rule_namespaces: running.namespaces.len(),
        rules_installed: records.len(),
        rule_series_recorded: recorded,
        etl_objects: shipped.etl_objects,
        asset_objects: shipped.asset_objects,
        combined_objects: federated.objects_written,
        combined_asset_objects: federated.asset_objects_written,
        rows_queried: answers.combined.allocations.len(),
        steps: Vec::new(),
    };
    Ok((summary, answers))
}

/// Sends each minute of `streamed` when the clock reaches it (a minute's scrapes of every
/// cluster at once), then counts the samples back over the streamed window.
async fn stream(
    client: Client,
    simulations: Vec<Simulation>,
    streamed: Streamed,
    bar: Bar,
    cancel: Cancel,
    label: String,
) -> Result<remote_write::Written> {
    let reader = client.clone();
    tokio::task::spawn_blocking(move || {
        let sender = remote_write::sender(client);
        let (tx, rx) = std::sync::mpsc::sync_channel(sim::WRITE_SHARDS * 2);
        let window = streamed.window;
        let report = std::thread::scope(|scope| {
            let simulations = &simulations;
            let cancel = &cancel;
            scope.spawn(move || {
                let mut minute = window.start;
                while minute < window.end {
                    // Until the clock reaches this minute's scrape (looking at most every 0.5 s).
                    let reached = Wait::new(format!("the clock to reach {minute}"), SCRAPE_WAIT)
                        .backoff(Duration::from_millis(100), Duration::from_millis(500))
                        .cancelled_by(cancel)
                        .blocking(|| {
                            let now = chrono::Utc::now().timestamp();
                            Ok::<_, Infallible>(if now >= minute {
                                Poll::Ready(())
                            } else {
                                Poll::Pending(format!("{} s to go", minute - now))
                            })
                        });
                    if reached.is_err() {
                        return;
                    }
                    for s in simulations {
                        for request in s.requests_between(
                            minute * 1000,
                            (minute + SCRAPE_INTERVAL) * 1000,
                            sim::BATCH_SAMPLES,
                        ) {
                            if tx.send(request).is_err() {
                                return;
                            }
                        }
                    }
                    minute += SCRAPE_INTERVAL;
                }
            });
            sender.send(rx, |n| bar.inc(n as u64))
        });
        if cancel.is_cancelled() {
            bail!("interrupted while streaming");
        }
        remote_write::check_sent(&report)?;
        let (from, to) = (window.start * 1000, window.end * 1000);
        let generated: remote_write::Generated =
            simulations.iter().map(|s| (s.cluster().to_owned(), s.samples_between(from, to))).collect();
        let metrics: remote_write::Metrics = simulations
            .iter()
            .flat_map(|s| s.series().iter().filter_map(|ts| ts.label("__name__")))
            .map(str::to_owned)
            .collect();
        let samples: usize = generated.iter().map(|(_, n)| n).sum();
        if report.samples_acknowledged != samples as u64 {
            bail!(
                "AMP acknowledged {} samples, the clusters streamed {samples}",
                report.samples_acknowledged
            );
        }
        let stored = remote_write::count_all(&reader, &generated, &metrics, &label, window)?;
        let series = simulations
            .iter()
            .map(|s| {
                s.series()
                    .iter()
                    .filter(|ts| ts.samples.iter().any(|x| (from..to).contains(&x.timestamp)))
                    .count()
            })
            .sum();
        Ok(remote_write::Written {
            clusters: generated.into_iter().map(|(c, _)| c).collect(),
            series,
            samples,
            stored,
            retries: report.requests_retried,
        })
    })
    .await
    .context("stream task")?
}

/// Waits until every record name has series now (AMP's ruler evaluates on its own clock);
/// returns how many series the records have.
async fn wait_for_rules(
    reader: Client,
    records: Vec<String>,
    within: Duration,
    cancel: Cancel,
) -> Result<usize> {
    tokio::task::spawn_blocking(move || {
        let mut empty = records.clone();
        let found = Wait::new("AMP's ruler to record every rule's series", within)
            .backoff(RULES_POLL, RULES_POLL)
            .cancelled_by(&cancel)
            .blocking(|| {
                let found = query::recorded_series(&reader, &records, chrono::Utc::now().timestamp())?;
                empty = found.iter().filter(|(_, s)| s.is_empty()).map(|(r, _)| r.clone()).collect();
                anyhow::Ok(if empty.is_empty() {
                    Poll::Ready(found.values().map(Vec::len).sum())
                } else {
                    Poll::Pending(format!("no series for {}", empty.join(", ")))
                })
            });
        match found {
            Ok(n) => Ok(n),
            Err(WaitError::Failed(e)) => Err(e),
            Err(_) => Err(anyhow!(
                "after {} s, no series for {}: AMP evaluates each group at its interval (1 m by default); \
                 a rule that selects labels no series has records nothing (`cargo xtask rules lint`), \
                 and `cargo xtask diagnose` checks the rest",
                within.as_secs(),
                empty.join(", ")
            )
            .context(Failure::Check)),
        }
    })
    .await
    .context("ruler wait task")?
}

/// Each cluster's cost model over the streamed days and hours, cut at `at` and filed under
/// their UTC day and hour; the hours must add up to the day.
async fn ship(
    client: Client,
    store: &Store,
    clusters: &[String],
    settings: &sim::Settings,
    streamed: Streamed,
    at: i64,
) -> Result<cost_model::Shipped> {
    let (days, hours) = streamed.windows(at);
    let mut shipped = cost_model::Shipped {
        etl_objects: Vec::new(),
        asset_objects: Vec::new(),
        hourly_objects: Vec::new(),
    };
    for cluster in clusters {
        let model = std::sync::Arc::new(CostModel::new(client.clone(), cluster, &settings.cluster_label));
        for &(cut, day) in &days {
            let in_day: Vec<Window> =
                hours.iter().map(|&(_, h)| h).filter(|h| h.start >= day.start && h.end <= day.end).collect();
            let m = model.clone();
            let computed = tokio::task::spawn_blocking(move || -> Result<ComputedDay> {
                // The hours from the day's own queries (so that they add up to it), the last
                // one cut at the stream's end; filed under whole hours, the streamed ones kept.
                let ComputedDay { day: mut whole, hours } = m.compute_window_and_hours(cut)?;
                let file = |c: &mut ampfed_costmodel::Computed, filed: Window| {
                    c.allocations.window = filed;
                    c.assets.window = filed;
                };
                file(&mut whole, day);
                let mut kept = Vec::new();
                for mut hour in hours {
                    let start = hour.allocations.window.start;
                    let filed = Window { start, end: start + 3600 };
                    if in_day.contains(&filed) {
                        file(&mut hour, filed);
                        kept.push(hour);
                    }
                }
                Ok(ComputedDay { day: whole, hours: kept })
            })
            .await
            .context("cost model task")?
            .with_context(|| format!("cluster {cluster}: cost model for {}", day.file_stem()))?;
            cost_model::check_hours(cluster, &computed)?;
            shipped.etl_objects.push(store.put_set(cluster, &computed.day.allocations).await?);
            shipped.asset_objects.push(store.put_assets(cluster, &computed.day.assets).await?);
            shipped.hourly_objects.extend(cost_model::ship_hours(store, cluster, computed.hours).await?);
        }
    }
    Ok(shipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-01T23:57:30Z.
    const LATE: i64 = 1_796_169_450;

    #[test]
    fn durations_take_seconds_minutes_and_hours() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert!(parse_duration("10 minutes").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("m").unwrap_err().contains("not a duration"));
    }

    #[test]
    fn a_stream_starts_at_the_current_scrape_and_may_cross_midnight() {
        let s = Streamed::starting(LATE, Duration::from_secs(300));
        // 23:57:00 to 00:02:00: five scrapes, two days, two hours.
        assert_eq!(s.window, Window { start: LATE - 30, end: LATE - 30 + 300 });
        let settings = s.settings(&sim::Settings::default());
        assert_eq!(settings.epoch, 1_796_083_200);
        assert_eq!(settings.days, 2);
        let (days, hours) = s.windows(s.window.end);
        assert_eq!(days.len(), 2);
        // The first day is cut nowhere (it ended before the stream did), the second at its end.
        assert_eq!(days[0].0, days[0].1);
        assert_eq!(days[1].0, Window { start: 1_796_169_600, end: s.window.end });
        assert_eq!(hours.len(), 2);
        assert_eq!(hours[0].1, Window { start: 1_796_166_000, end: 1_796_169_600 });
        assert_eq!(hours[1].0.end, s.window.end);
        // 90 s rounds up to whole minutes.
        let s = Streamed::starting(LATE, Duration::from_secs(90));
        assert_eq!(s.window.end - s.window.start, 120);
    }

    #[test]
    fn flags_are_checked_before_anything_starts() {
        let flags = AwsFlags {
            workspace_id: Some("ws-1234abcd-12ab-34cd-56ef-1234567890ab".into()),
            region: None,
            role_arn: None,
            amp_url: None,
            duration: Duration::from_secs(600),
            rules_wait: Duration::from_secs(300),
            keep_rules: false,
        };
        let bucket = ampfed_federation::config::parse(
            "f.yaml",
            "type: S3\nconfig:\n  bucket: b\n  endpoint: s3.amazonaws.com\n",
        )
        .ok();
        assert!(bucket.is_some());
        assert!(flags.check(bucket.clone()).is_ok());
        assert!(flags.check(None).unwrap_err().contains("--federated-store"));
        let bad = |f: AwsFlags| f.check(bucket.clone()).unwrap_err();
        assert!(bad(AwsFlags { workspace_id: None, ..flags.clone() }).contains("--workspace-id"));
        assert!(bad(AwsFlags { workspace_id: Some("my-workspace".into()), ..flags.clone() })
            .contains("not an AMP workspace id"));
        assert!(bad(AwsFlags { duration: Duration::from_secs(60), ..flags.clone() }).contains("2m to 60m"));
        assert!(bad(AwsFlags {
            amp_url: Some("https://aps-workspaces.x/workspaces/ws-1".into()),
            ..flags.clone()
        })
        .contains("without a path"));
    }
}
