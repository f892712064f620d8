//! The scenario itself: one function per step, run in order, each timed and with progress.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ampfed_allocation::{aggregate, Property};
use ampfed_aws_mock::{AwsMock, AwsMockOptions};
use ampfed_clustersim::{self as clustersim};
use ampfed_costmodel::CostModel;
use ampfed_env::{localstack, prometheus, Scenario};
use ampfed_federation::{federate, Store, StoreConfig, Window};
use ampfed_prom::Client;
use ampfed_proxy::{ProxyOptions, SigningFault, SigningProxy, WebIdentity, WebIdentityCredentials};
use anyhow::{bail, Context, Result};
use aws_sdk_amp::config::{BehaviorVersion, Region};
use aws_sdk_amp::primitives::Blob;

use crate::progress::Steps;
use crate::{round, Fault, Options, Outcome, RecordedSeries};

/// The region every endpoint pretends to be in.
pub const REGION: &str = "us-west-2";
/// The simulated day: 2026-01-01T00:00:00Z.
pub const SIM_START: i64 = 1_767_225_600;
/// One day.
pub const SIM_DURATION: i64 = 86_400;
/// The clusters' scrape interval.
pub const SCRAPE_INTERVAL: i64 = 60;
/// The label the clusters' Prometheus attaches (`external_labels`), Kubecost's default.
pub const CLUSTER_LABEL: &str = "cluster_id";
/// The central ETL bucket.
pub const BUCKET: &str = "kubecost-federated-etl";
/// The role the signing proxy runs as (IRSA on the cost-analyzer service account).
pub const PROXY_ROLE: &str = "arn:aws:iam::123456789012:role/kubecost-cost-analyzer-amp";
/// The role the platform team installs rules with.
pub const ADMIN_ROLE: &str = "arn:aws:iam::123456789012:role/ampfed-platform-admin";
/// Samples per remote write request.
const BATCH_SAMPLES: usize = 20_000;

/// Runs the scenario. Everything it starts is owned by a [`Scenario`] that stops it when this
/// function returns, fails, or its future is dropped (Ctrl-C).
pub async fn run(options: &Options) -> Result<Outcome> {
    let mut steps = Steps::new(options.show_progress);
    let mut outcome = Outcome::default();

    // 1. Environment: Prometheus backend and LocalStack S3, owned by the scenario.
    let step = steps.start("environment", None);
    let prom_options =
        prometheus::PrometheusOptions { binary: options.prometheus.clone(), ..Default::default() };
    let ls_options = localstack::LocalStackOptions { venv: options.localstack_venv.clone() };
    let keep = options.keep;
    let (scenario, prom, s3) = tokio::task::spawn_blocking(move || -> Result<_> {
        let mut scenario = Scenario::new(keep).context("create the scenario directory")?;
        let prom = prometheus::start(&mut scenario, &prom_options).context("start Prometheus")?;
        let s3 = localstack::start(&mut scenario, &ls_options).context("start LocalStack S3")?;
        Ok((scenario, prom, s3))
    })
    .await
    .context("environment task")?
    .context("step 'environment' failed")?;
    steps.finish(step, &format!("prometheus {}  localstack {}", prom.url, s3.url));

    // 2. AWS mock and the signing proxy, with password-less credentials.
    let step = steps.start("aws mock+proxy", None);
    let mock = AwsMock::start(AwsMockOptions {
        region: REGION.into(),
        backend_url: prom.url.clone(),
        credential_lifetime: Duration::from_secs(3600),
    })
    .await;
    let identity_dir = scenario.service_dir("identity").context("step 'aws mock+proxy' failed")?;
    let proxy_identity = web_identity(&mock, &identity_dir, "cost-analyzer", PROXY_ROLE)?;
    let admin_identity = web_identity(&mock, &identity_dir, "platform-admin", ADMIN_ROLE)?;
    if options.fault == Some(Fault::ExpiredCredential) {
        mock.expire_credentials_on_issue(PROXY_ROLE);
    }
    let mut proxy = SigningProxy::start(
        ProxyOptions {
            listen: "127.0.0.1:0".parse().context("listen address")?,
            upstream: mock.aps_url(),
            region: REGION.into(),
            service: "aps".into(),
            fault: (options.fault == Some(Fault::WrongSecret)).then_some(SigningFault::WrongSecret),
        },
        WebIdentityCredentials::new(proxy_identity, Duration::from_secs(60)),
    )
    .await
    .context("step 'aws mock+proxy' failed: start the signing proxy")?;
    steps.finish(step, &format!("sts {}  aps {}  proxy {}", mock.sts_url(), mock.aps_url(), proxy.url()));

    // 3. Workspace and recording rules through the AMP API.
    let step = steps.start("rules", None);
    let amp = amp_client(&mock, WebIdentityCredentials::new(admin_identity, Duration::from_secs(60)));
    let workspace = create_workspace(&amp).await.context("step 'rules' failed: create the workspace")?;
    let (namespaces, rules) = install_rules(&amp, &workspace, &options.fixtures.join("rules"))
        .await
        .context("step 'rules' failed")?;
    outcome.summary.rule_namespaces = namespaces;
    outcome.summary.rules_installed = rules.len();
    steps.finish(step, &format!("workspace {workspace}: {namespaces} namespace(s), {} rules", rules.len()));

    // 4. Clusters remote-write one simulated day through the proxy.
    let through_proxy =
        Client::new(format!("{}/workspaces/{workspace}", proxy.url()), "/api/v1/remote_write");
    let (clusters, prices) = load_fixtures(&options.fixtures).context("step 'remote write' failed")?;
    let sims = clusters
        .iter()
        .map(|c| clustersim::generate(c, &prices, &sim_config()))
        .collect::<Result<Vec<_>, _>>()
        .context("step 'remote write' failed: simulate the clusters")?;
    let total: usize = sims.iter().map(|s| s.stats().samples).sum();
    let step = steps.start("remote write", Some(total as u64));
    let bar = step.bar();
    let writer = through_proxy.clone();
    let (series, samples) = tokio::task::spawn_blocking(move || -> Result<(usize, usize)> {
        let (mut series, mut samples) = (0, 0);
        for sim in &sims {
            let name = sim.cluster().to_owned();
            for batch in sim.batches(BATCH_SAMPLES) {
                let n = batch.sample_count();
                writer
                    .write(&batch)
                    .with_context(|| format!("cluster {name}: remote write through the signing proxy"))?;
                samples += n;
                bar.inc(n as u64);
            }
            series += sim.stats().series;
        }
        Ok((series, samples))
    })
    .await
    .context("remote write task")?
    .context("step 'remote write' failed")?;
    outcome.summary.clusters = clusters.iter().map(|c| c.name.clone()).collect();
    outcome.summary.series_written = series;
    outcome.summary.samples_written = samples;
    steps.finish(step, &format!("{} clusters, {series} series, {samples} samples", clusters.len()));

    // 5. The mock's ruler evaluates the rules over the simulated day.
    let last = SIM_START + SIM_DURATION - SCRAPE_INTERVAL;
    let step = steps.start("ruler", None);
    let ruler = mock.ruler();
    let report = tokio::task::spawn_blocking(move || ruler.evaluate_range(SIM_START, last))
        .await
        .context("ruler task")?
        .context("step 'ruler' failed")?;
    outcome.summary.rule_series_recorded = report.series_written;
    steps.finish(
        step,
        &format!(
            "{} rules, {} series, {} samples",
            report.recording_rules, report.series_written, report.samples_written
        ),
    );

    // 6. Each cluster's cost model computes its day and ships it to S3.
    let step = steps.start("cost model", None);
    let window = Window { start: SIM_START, end: SIM_START + SIM_DURATION };
    let store = Store::new(&StoreConfig {
        endpoint: s3.url.clone(),
        region: REGION.into(),
        bucket: BUCKET.into(),
        access_key_id: "test".into(),
        secret_access_key: "test".into(),
    });
    store.ensure_bucket().await.context("step 'cost model' failed: create the ETL bucket")?;
    for cluster in &outcome.summary.clusters {
        let model = CostModel::new(through_proxy.clone(), cluster, CLUSTER_LABEL);
        let set = tokio::task::spawn_blocking(move || model.compute(window))
            .await
            .context("cost model task")?
            .context("step 'cost model' failed")?;
        let key = store.put_set(cluster, &set).await.context("step 'cost model' failed")?;
        outcome.summary.etl_objects.push(key);
    }
    steps.finish(step, &format!("{} ETL objects", outcome.summary.etl_objects.len()));

    // 7. The federator combines every cluster's objects.
    let step = steps.start("federation", None);
    let fed = federate(&store, None).await.context("step 'federation' failed")?;
    if fed.clusters != outcome.summary.clusters {
        bail!(
            "step 'federation' failed: combined clusters {:?}, expected {:?}",
            fed.clusters,
            outcome.summary.clusters
        );
    }
    outcome.summary.combined_objects = fed.objects_written.clone();
    steps.finish(
        step,
        &format!("{} objects read, {} allocations combined", fed.objects_read, fed.allocations),
    );

    // 8. Queries on the combined data, and the recorded rule series.
    let step = steps.start("query", None);
    let combined = store
        .get_set(&Store::allocation_key(ampfed_federation::store::COMBINED, window))
        .await
        .context("step 'query' failed")?;
    outcome.by_namespace =
        aggregate(&combined, &[Property::Namespace]).iter().map(|r| r.rounded(5)).collect();
    outcome.by_cluster = aggregate(&combined, &[Property::Cluster]).iter().map(|r| r.rounded(5)).collect();
    outcome.summary.rows_queried = combined.allocations.len();
    outcome.combined = Some(combined.clone());
    let reader = through_proxy.clone();
    outcome.rule_series = tokio::task::spawn_blocking(move || recorded_series(&reader, &rules, last))
        .await
        .context("rule series task")?
        .context("step 'query' failed")?;
    steps.finish(
        step,
        &format!(
            "{} allocations → {} namespaces, {} clusters; {} record names",
            combined.allocations.len(),
            outcome.by_namespace.len(),
            outcome.by_cluster.len(),
            outcome.rule_series.len()
        ),
    );

    proxy.stop();
    drop(mock);
    let step = steps.start("teardown", None);
    tokio::task::spawn_blocking(move || drop(scenario)).await.context("teardown task")?;
    steps.finish(step, "all services stopped");
    outcome.summary.steps = steps.done;
    Ok(outcome)
}

fn sim_config() -> clustersim::SimConfig {
    clustersim::SimConfig {
        start_unix: SIM_START,
        duration_secs: SIM_DURATION,
        scrape_interval_secs: SCRAPE_INTERVAL,
        cluster_label: CLUSTER_LABEL.into(),
    }
}

/// Writes a projected service-account token file and trusts it for `role_arn`.
fn web_identity(mock: &AwsMock, dir: &Path, account: &str, role_arn: &str) -> Result<WebIdentity> {
    let token = format!("ampfed.{account}.{}", std::process::id());
    let token_file = dir.join(format!("{account}.token"));
    std::fs::write(&token_file, &token).with_context(|| format!("write {}", token_file.display()))?;
    mock.trust_web_identity(&token, role_arn);
    Ok(WebIdentity {
        role_arn: role_arn.into(),
        token_file,
        session_name: account.into(),
        sts_endpoint: mock.sts_url(),
        region: REGION.into(),
    })
}

fn amp_client(mock: &AwsMock, credentials: WebIdentityCredentials) -> aws_sdk_amp::Client {
    let config = aws_sdk_amp::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(mock.aps_url())
        .credentials_provider(credentials)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_amp::Client::from_conf(config)
}

async fn create_workspace(amp: &aws_sdk_amp::Client) -> Result<String> {
    let created = amp
        .create_workspace()
        .alias("ampfed-e2e")
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}", aws_sdk_amp::error::DisplayErrorContext(e)))?;
    let id = created.workspace_id().to_owned();
    for _ in 0..50 {
        let ws = amp
            .describe_workspace()
            .workspace_id(&id)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", aws_sdk_amp::error::DisplayErrorContext(e)))?;
        if ws.workspace().and_then(|w| w.status()).map(|s| s.status_code().as_str()) == Some("ACTIVE") {
            return Ok(id);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("workspace {id} did not become ACTIVE after 50 polls")
}

/// Installs every `*.yaml` file under `dir` as a rule groups namespace named after the file;
/// returns the namespace count and the record names in file order.
async fn install_rules(
    amp: &aws_sdk_amp::Client,
    workspace: &str,
    dir: &Path,
) -> Result<(usize, Vec<String>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("read the rules directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no rules files (*.yaml) in {}", dir.display());
    }
    let mut records = Vec::new();
    for file in &files {
        let data = std::fs::read(file).with_context(|| format!("read {}", file.display()))?;
        let parsed = ampfed_aws_mock::rules::parse(&data)
            .with_context(|| format!("{}: not a valid rules file", file.display()))?;
        let name = file.file_stem().and_then(|s| s.to_str()).unwrap_or("rules").to_owned();
        amp.create_rule_groups_namespace()
            .workspace_id(workspace)
            .name(&name)
            .data(Blob::new(data))
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", aws_sdk_amp::error::DisplayErrorContext(e)))
            .with_context(|| format!("create rule groups namespace {name} from {}", file.display()))?;
        let mut active = false;
        for _ in 0..50 {
            let ns = amp
                .describe_rule_groups_namespace()
                .workspace_id(workspace)
                .name(&name)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("{}", aws_sdk_amp::error::DisplayErrorContext(e)))?;
            if ns.rule_groups_namespace().and_then(|n| n.status()).map(|s| s.status_code().as_str())
                == Some("ACTIVE")
            {
                active = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if !active {
            bail!("rule groups namespace {name} did not become ACTIVE after 50 polls");
        }
        for group in &parsed.groups {
            records.extend(group.rules.iter().filter_map(|r| r.record.clone()));
        }
    }
    Ok((files.len(), records))
}

fn load_fixtures(dir: &Path) -> Result<(Vec<clustersim::ClusterFixture>, clustersim::Prices)> {
    let prices_dir = dir.join("prices");
    let mut price_files: Vec<PathBuf> = std::fs::read_dir(&prices_dir)
        .with_context(|| format!("read {}", prices_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    price_files.sort();
    let [prices_file] = price_files.as_slice() else {
        bail!(
            "expected exactly one prices fixture (*.yaml) in {}, found {}",
            prices_dir.display(),
            price_files.len()
        );
    };
    let prices = clustersim::load_prices(prices_file)?;
    let clusters = clustersim::load_clusters_dir(&dir.join("clusters"))?;
    if clusters.is_empty() {
        bail!("no cluster fixtures (*.yaml) in {}", dir.join("clusters").display());
    }
    Ok((clusters, prices))
}

/// Every record name's series at `time`, through the proxy (as a user would query AMP).
fn recorded_series(
    prom: &Client,
    records: &[String],
    time: i64,
) -> Result<BTreeMap<String, Vec<RecordedSeries>>> {
    let mut out = BTreeMap::new();
    for record in records {
        if out.contains_key(record) {
            continue;
        }
        let samples = prom.query(&format!("{{__name__=\"{record}\"}}"), time)?;
        let mut series: Vec<RecordedSeries> = samples
            .into_iter()
            .map(|s| RecordedSeries {
                labels: s.labels.into_iter().filter(|(k, _)| k != "__name__").collect(),
                value: round(s.value, 5),
            })
            .collect();
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        out.insert(record.clone(), series);
    }
    Ok(out)
}
