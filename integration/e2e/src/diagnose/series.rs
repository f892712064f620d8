//! The AMP checks: the signature (`amp.signature`), the presence metric per cluster under the
//! cluster label (`series`, `series.<cluster>`), the rule groups namespaces
//! (`rules.installed`) and each recording rule's series (`rules.<record>`), with the labels
//! its selectors name that a cluster's series lack.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_amp::error::{ProvideErrorMetadata, SdkError};

use super::amp::{Amp, AmpError, Sample};
use super::check::{Check, Options, Status};
use super::selectors;

/// The metric whose presence per cluster says that remote write works.
pub const PRESENCE_METRIC: &str = "container_memory_working_set_bytes";

/// The most rule groups namespaces read (pages of 100).
const MAX_NAMESPACE_PAGES: usize = 10;

/// Runs the AMP checks; returns the clusters to check the ETL of (those expected, else those
/// found under the cluster label).
pub async fn check_amp(amp: &Amp, options: &Options, checks: &mut Vec<Check>) -> Vec<String> {
    let signature = signature(amp, options).await;
    let ok = signature.status == Status::Pass;
    checks.push(signature);
    if !ok {
        for name in ["series", "rules.installed"] {
            checks.push(Check::skip(name, "amp.signature"));
        }
        return options.clusters.clone();
    }
    let found = match presence(amp, options, checks).await {
        Ok(found) => found,
        Err(check) => {
            checks.push(check);
            return options.clusters.clone();
        }
    };
    rules(amp, options, checks).await;
    if options.clusters.is_empty() {
        found
    } else {
        options.clusters.clone()
    }
}

/// One query on the blocking pool.
async fn query(amp: &Amp, promql: String, time: i64) -> Result<Vec<Sample>, AmpError> {
    let amp = amp.clone();
    match tokio::task::spawn_blocking(move || amp.query(&promql, time)).await {
        Ok(result) => result,
        Err(e) => Err(AmpError::Decode { url: "query task".into(), message: e.to_string() }),
    }
}

/// A failed query as a failed check of `name`.
fn query_failed(name: &str, e: &AmpError) -> Check {
    let check = Check::fail(
        name,
        e.to_string(),
        "AMP refused a query it answered a moment ago: check its logs and retry",
    );
    if e.is_unreachable() {
        check.unreachable()
    } else {
        check
    }
}

/// What to do about an AWS error code on a signed call.
fn signature_fix(code: &str) -> &'static str {
    match code {
        "InvalidSignatureException" | "SignatureDoesNotMatch" => {
            "the secret key does not belong to the access key: take both from the endpoints file `cargo xtask up` \
             wrote (`eval \"$(cargo xtask status --exports)\"`), not from an older copy; check the region and the \
             service name (`aps`) the client signs for"
        }
        "UnrecognizedClientException" | "InvalidClientTokenId" => {
            "AMP does not know the access key: the file is from an `up` that has stopped; restart `cargo xtask up` and \
             use its new endpoints file"
        }
        "ExpiredTokenException" => "the credentials expired: get fresh ones (`cargo xtask status --exports`)",
        "AccessDeniedException" => "the principal may not call AMP: check its IAM policy (aps:* on the workspace)",
        "ResourceNotFoundException" => {
            "the workspace of the endpoints file does not exist: restart `cargo xtask up`, or fix workspace_id"
        }
        _ => "check the AMP URL, region and credentials of the endpoints file",
    }
}

async fn signature(amp: &Amp, options: &Options) -> Check {
    const NAME: &str = "amp.signature";
    let unreachable_fix =
        "AMP does not answer at the endpoints file's amp_url: is `cargo xtask up` still running \
                           (`cargo xtask status`)?";
    let described = amp.control().describe_workspace().workspace_id(amp.workspace()).send().await;
    let status = match described {
        Ok(out) => out
            .workspace()
            .map(|w| w.status().map(|s| s.status_code().as_str().to_owned()).unwrap_or_default())
            .unwrap_or_default(),
        Err(e @ (SdkError::DispatchFailure(_) | SdkError::TimeoutError(_))) => {
            let text = ampfed_common::errors::chain(&e);
            return Check::fail(NAME, format!("cannot reach AMP: {text}"), unreachable_fix).unreachable();
        }
        Err(e) => {
            let code = e.code().unwrap_or("an unknown error").to_owned();
            let message = e.message().unwrap_or("(no message)").lines().next().unwrap_or_default().to_owned();
            return Check::fail(
                NAME,
                format!("DescribeWorkspace {} refused: {code}: {message}", amp.workspace()),
                signature_fix(&code),
            );
        }
    };
    match query(amp, "vector(1)".into(), options.now).await {
        Ok(_) => Check::pass(
            NAME,
            format!("workspace {} is {status}; a signed query was answered", amp.workspace()),
        ),
        Err(e @ AmpError::Refused { .. }) => {
            let code = match &e {
                AmpError::Refused { kind: Some(kind), .. } => kind.clone(),
                _ => String::new(),
            };
            Check::fail(
                NAME,
                format!("the control plane answered, the query was refused: {e}"),
                signature_fix(&code),
            )
        }
        Err(e) => query_failed(NAME, &e),
    }
}

/// `series` (no cluster found) or one `series.<cluster>` per expected cluster; the clusters
/// found under the label.
async fn presence(amp: &Amp, options: &Options, checks: &mut Vec<Check>) -> Result<Vec<String>, Check> {
    let label = &options.cluster_label;
    let window = duration(options.lookback);
    let per_cluster = format!("count by ({label}) (last_over_time({PRESENCE_METRIC}[{window}]))");
    let samples = query(amp, per_cluster, options.now).await.map_err(|e| query_failed("series", &e))?;
    let found: BTreeMap<String, f64> = samples
        .into_iter()
        .filter_map(|s| s.labels.get(label.as_str()).filter(|v| !v.is_empty()).cloned().map(|c| (c, s.value)))
        .collect();
    if found.is_empty() {
        checks.push(no_cluster_found(amp, options).await);
        return Ok(Vec::new());
    }
    let names: Vec<String> = found.keys().cloned().collect();
    let expected = if options.clusters.is_empty() { names.clone() } else { options.clusters.clone() };
    for cluster in &expected {
        let name = format!("series.{cluster}");
        checks.push(match found.get(cluster) {
            Some(n) => Check::pass(name, format!("{n} series of {PRESENCE_METRIC} with {label}=\"{cluster}\"")),
            None => Check::fail(
                name,
                format!(
                    "no series of {PRESENCE_METRIC} with {label}=\"{cluster}\" in the {window} before --now (found: {})",
                    names.join(", ")
                ),
                format!(
                    "cluster {cluster} does not remote-write, or writes another {label}: check its Prometheus \
                     `external_labels` ({label}: {cluster}) and `remote_write` (the SigV4 proxy's logs)"
                ),
            ),
        });
    }
    Ok(names)
}

/// Why no cluster shows under the label: no series at all, or series without the label.
async fn no_cluster_found(amp: &Amp, options: &Options) -> Check {
    let label = &options.cluster_label;
    let window = duration(options.lookback);
    let total = format!("count(last_over_time({PRESENCE_METRIC}[{window}]))");
    let total = match query(amp, total, options.now).await {
        Ok(s) => s.first().map_or(0.0, |s| s.value),
        Err(e) => return query_failed("series", &e),
    };
    if total == 0.0 {
        return Check::fail(
            "series",
            format!("no series of {PRESENCE_METRIC} in the {window} before --now"),
            "nothing is remote-written: check each cluster's Prometheus `remote_write` (url \
             <amp_url>/workspaces/<id>/api/v1/remote_write through the SigV4 proxy) and the proxy's logs, \
             or pass the --now of the data",
        );
    }
    let one = format!("topk(1, last_over_time({PRESENCE_METRIC}[{window}]))");
    let carried: BTreeSet<String> = match query(amp, one, options.now).await {
        Ok(s) => s.into_iter().flat_map(|s| s.labels.into_keys()).filter(|l| l != "__name__").collect(),
        Err(e) => return query_failed("series", &e),
    };
    let candidates: Vec<&String> = carried.iter().filter(|l| l.contains("cluster")).collect();
    let fix = match candidates.as_slice() {
        [] => format!(
            "add `external_labels: {{{label}: <cluster name>}}` to each cluster's Prometheus, which the cost model \
             reads as its cluster label"
        ),
        [one, ..] => format!(
            "the series name their cluster with `{one}`: pass --cluster-label {one}, and give the cost model the \
             same label (PROM_CLUSTER_ID_LABEL, kubecostModel.promClusterIDLabel); or set `external_labels: \
             {{{label}: <cluster name>}}` in each cluster's Prometheus"
        ),
    };
    Check::fail(
        "series",
        format!(
            "{total} series of {PRESENCE_METRIC}, none with the label `{label}`; their labels: {}",
            carried.iter().map(String::as_str).collect::<Vec<_>>().join(", ")
        ),
        fix,
    )
}

/// The recording rules of every rule groups namespace: record name → its expressions.
async fn installed_rules(amp: &Amp) -> Result<(Vec<String>, Vec<(String, Vec<String>)>), String> {
    let control = amp.control();
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_NAMESPACE_PAGES {
        let page = control
            .list_rule_groups_namespaces()
            .workspace_id(amp.workspace())
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| ampfed_aws::error_text(&e))?;
        names.extend(page.rule_groups_namespaces().iter().map(|n| n.name().to_owned()));
        match page.next_token() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    names.sort();
    let mut records: Vec<(String, Vec<String>)> = Vec::new();
    for name in &names {
        let ns = control
            .describe_rule_groups_namespace()
            .workspace_id(amp.workspace())
            .name(name)
            .send()
            .await
            .map_err(|e| ampfed_aws::error_text(&e))?;
        let Some(data) = ns.rule_groups_namespace().map(|n| n.data().as_ref().to_vec()) else { continue };
        let file = ampfed_aws_mock::rules::parse(&data).map_err(|e| format!("namespace {name}: {e}"))?;
        for rule in file.groups.iter().flat_map(|g| &g.rules) {
            let Some(record) = &rule.record else { continue };
            match records.iter_mut().find(|(r, _)| r == record) {
                Some((_, exprs)) => exprs.push(rule.expr.clone()),
                None => records.push((record.clone(), vec![rule.expr.clone()])),
            }
        }
    }
    Ok((names, records))
}

async fn rules(amp: &Amp, options: &Options, checks: &mut Vec<Check>) {
    let (namespaces, records) = match installed_rules(amp).await {
        Ok(found) => found,
        Err(e) => {
            checks.push(Check::fail(
                "rules.installed",
                format!("cannot read the rule groups namespaces: {e}"),
                "check the AMP credentials (aps:ListRuleGroupsNamespaces)",
            ));
            return;
        }
    };
    if namespaces.is_empty() {
        checks.push(Check::fail(
            "rules.installed",
            format!("workspace {} has no rule groups namespace: no recording rule runs", amp.workspace()),
            "install the guide's rules: `cargo xtask rules install` (fixtures/rules/*.yaml), or \
             `aws amp create-rule-groups-namespace --workspace-id <id> --name kubecost-amp --data fileb://rules.yaml`",
        ));
        return;
    }
    checks.push(Check::pass(
        "rules.installed",
        format!(
            "{} namespace(s) ({}), {} record names",
            namespaces.len(),
            namespaces.join(", "),
            records.len()
        ),
    ));
    let window = duration(options.lookback);
    let mut labels_of = LabelCache::default();
    for (record, exprs) in &records {
        let name = format!("rules.{record}");
        let n = match query(amp, format!("count(last_over_time({record}[{window}]))"), options.now).await {
            Ok(s) => s.first().map_or(0.0, |s| s.value),
            Err(e) => {
                checks.push(query_failed(&name, &e));
                continue;
            }
        };
        let mut lacking: Vec<String> = Vec::new();
        for expr in exprs {
            let Ok(reads) = selectors::reads(expr) else { continue };
            for sel in &reads.selectors {
                let Some(metric) = &sel.metric else { continue };
                for label in &sel.labels {
                    match labels_of.lacking(amp, options, metric, label).await {
                        Ok(missing) if !missing.is_empty() => {
                            let missing: Vec<&str> = missing.iter().map(String::as_str).collect();
                            let line = format!(
                                "selects `{label}` on {metric}, which no series of {} carries",
                                missing.join(", ")
                            );
                            if !lacking.contains(&line) {
                                lacking.push(line);
                            }
                        }
                        Ok(_) => {}
                        Err(e) => {
                            checks.push(query_failed(&name, &e));
                            return;
                        }
                    }
                }
            }
        }
        let label_fix = "the guide's rules select the pre-1.16 cAdvisor labels container_name/pod_name: on \
                         Kubernetes 1.16+ select `container` and `pod` (`cargo xtask rules lint --label-style modern` \
                         names the lines)";
        checks.push(match (n > 0.0, lacking.is_empty()) {
            (true, true) => Check::pass(name, format!("{n} series")),
            (true, false) => {
                Check::warn(name, format!("{n} series, but it {}", lacking.join("; ")), label_fix)
            }
            (false, false) => Check::warn(name, format!("no series: it {}", lacking.join("; ")), label_fix),
            (false, true) => Check::fail(
                name,
                format!("no series in the {window} before --now"),
                "the ruler has not evaluated it: check the group's health and lastError in \
                 /workspaces/<id>/api/v1/rules, its interval, and that the series it reads exist",
            ),
        });
    }
}

/// For (metric, label): the clusters with series of the metric but none with the label.
#[derive(Default)]
struct LabelCache {
    by_metric: BTreeMap<String, BTreeSet<String>>,
    by_pair: BTreeMap<(String, String), BTreeSet<String>>,
}

impl LabelCache {
    async fn clusters(amp: &Amp, options: &Options, selector: String) -> Result<BTreeSet<String>, AmpError> {
        let label = &options.cluster_label;
        let window = duration(options.lookback);
        let q = format!("count by ({label}) (last_over_time({selector}[{window}]))");
        Ok(query(amp, q, options.now)
            .await?
            .into_iter()
            .map(|s| s.labels.get(label.as_str()).cloned().unwrap_or_default())
            .collect())
    }

    async fn lacking(
        &mut self,
        amp: &Amp,
        options: &Options,
        metric: &str,
        label: &str,
    ) -> Result<Vec<String>, AmpError> {
        if !self.by_metric.contains_key(metric) {
            let with = Self::clusters(amp, options, metric.to_owned()).await?;
            self.by_metric.insert(metric.to_owned(), with);
        }
        let key = (metric.to_owned(), label.to_owned());
        if !self.by_pair.contains_key(&key) {
            let with = Self::clusters(amp, options, format!("{metric}{{{label}!=\"\"}}")).await?;
            self.by_pair.insert(key.clone(), with);
        }
        let all = &self.by_metric[metric];
        let with = &self.by_pair[&key];
        Ok(all
            .difference(with)
            .map(|c| if c.is_empty() { "(no cluster label)".to_owned() } else { c.clone() })
            .collect())
    }
}

/// A PromQL duration for whole seconds: `1d`, `1h`, `90s`.
pub fn duration(secs: i64) -> String {
    match secs {
        s if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s > 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{}s", s.max(1)),
    }
}
