//! `diagnose` over one environment that ran the data path once (the path's own steps, so the
//! data is real): the healthy report, then each broken case the guide's troubleshooting
//! covers, broken one after the other in the same environment (those that change nothing
//! first): a cluster label the data does not carry, a wrong secret key, AMP unreachable, the
//! rule groups namespace deleted (then installed again with `rules install`), the bucket
//! deleted. Every report is snapshotted with the ids, paths and ports redacted.

use std::path::Path;
use std::time::Duration;

use ampfed_common::wait::{Poll, Wait};
use ampfed_e2e::diagnose::{self, Options, Report, Status};
use ampfed_e2e::env::{Env, BUCKET, REGION};
use ampfed_e2e::progress::{Progress, StepName};
use ampfed_e2e::steps::{cost_model, federation, remote_write, ruler, rules};
use ampfed_e2e::up::{Endpoints, Files, Keys, WebIdentityFile};
use ampfed_e2e::{sim, EnvConfig, Failure};
use aws_sdk_amp::error::ProvideErrorMetadata;

/// Fixed, made-up long-lived keys (registered with the mocks for this environment only).
const KEY_ID: &str = "AKIADIAGNOSE23456789";
const SECRET: &str = "diagnose/secret/0123456789abcdefghijklmn";

/// insta's settings for the suite's text snapshots: the crate's snapshots folder, files named
/// by the snapshot alone.
pub(crate) fn suite_snapshots() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings
}

/// The snapshot of `text` under `name`, in the suite's snapshots folder.
fn snapshot(name: &str, text: &str) {
    suite_snapshots().bind(|| match name {
        "diagnose_healthy" => insta::assert_snapshot!("diagnose_healthy", text),
        "diagnose_healthy_json" => insta::assert_snapshot!("diagnose_healthy_json", text),
        "diagnose_wrong_cluster_label" => insta::assert_snapshot!("diagnose_wrong_cluster_label", text),
        "diagnose_bad_secret" => insta::assert_snapshot!("diagnose_bad_secret", text),
        "diagnose_amp_unreachable" => insta::assert_snapshot!("diagnose_amp_unreachable", text),
        "diagnose_rules_missing" => insta::assert_snapshot!("diagnose_rules_missing", text),
        "diagnose_bucket_missing" => insta::assert_snapshot!("diagnose_bucket_missing", text),
        other => panic!("no snapshot named {other}"),
    });
}

/// The report with what differs between runs replaced: the endpoints' directory, the
/// workspace id, the key id, ports.
fn redact(text: &str, endpoints: &Endpoints, dir: &Path) -> String {
    let mut text =
        text.replace(&dir.display().to_string(), "<dir>").replace(&endpoints.workspace_id, "<workspace>");
    text = text.replace(KEY_ID, "<key id>");
    for (url, name) in [(&endpoints.amp_url, "<amp>"), (&endpoints.s3_url, "<s3>")] {
        text = text.replace(url.as_str(), name);
    }
    // Any other 127.0.0.1 port.
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("127.0.0.1:") {
        out.push_str(&rest[..at]);
        out.push_str("127.0.0.1:<port>");
        rest = rest[at + "127.0.0.1:".len()..].trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

fn statuses(report: &Report) -> Vec<(String, Status)> {
    report.checks.iter().map(|c| (c.name.clone(), c.status)).collect()
}

fn status_of(report: &Report, name: &str) -> Status {
    report
        .checks
        .iter()
        .find(|c| c.name == name)
        .map(|c| c.status)
        .unwrap_or_else(|| panic!("no check {name}: {report:?}"))
}

/// Runs the path's steps up to the federation on `env`; the workspace id.
async fn run_the_data_path(env: &Env, settings: &sim::Settings) -> anyhow::Result<String> {
    let fixtures = ampfed_common::paths::fixtures_dir();
    let prepared = remote_write::prepare(&fixtures, None, settings)?;
    let installed = rules::install(env, &fixtures.join("rules")).await?;
    let workspace = installed.workspace.clone();
    let mut progress = Progress::new(false);
    let written = progress
        .step(
            StepName::RemoteWrite,
            Some(0),
            |bar| remote_write::write(env, &workspace, prepared, bar, settings),
            |_| String::new(),
        )
        .await?;
    ruler::evaluate(env, settings).await?;
    cost_model::ship(env, &workspace, &written.clusters, settings).await?;
    federation::combine(env, &written.clusters).await?;
    Ok(workspace)
}

fn endpoints_of(env: &Env, workspace: &str, dir: &Path) -> Endpoints {
    env.mock().registry().register_static(KEY_ID, SECRET, "arn:aws:iam::123456789012:user/ampfed-diagnose");
    Endpoints {
        region: REGION.into(),
        amp_url: env.mock().aps_url(),
        sts_url: env.mock().sts_url(),
        s3_url: env.s3_url().to_owned(),
        proxy_url: env.proxy_url(),
        backend_url: env.backend_url().to_owned(),
        workspace_id: workspace.to_owned(),
        bucket: BUCKET.into(),
        credentials: Keys {
            access_key_id: KEY_ID.into(),
            secret_access_key: SECRET.into(),
            session_token: None,
            principal_arn: "arn:aws:iam::123456789012:user/ampfed-diagnose".into(),
        },
        web_identity: WebIdentityFile {
            role_arn: "arn:aws:iam::123456789012:role/none".into(),
            token_file: dir.join("no-token"),
            session_name: "ampfed-diagnose".into(),
        },
    }
}

/// Writes `endpoints` into `dir/<name>/endpoints.json`; its path.
fn write_endpoints(dir: &Path, name: &str, endpoints: &Endpoints) -> std::path::PathBuf {
    let files = Files::new(dir.join(name));
    std::fs::create_dir_all(files.dir()).unwrap();
    files.write_endpoints(endpoints).unwrap();
    files.endpoints()
}

#[test]
fn diagnose_reports_a_healthy_run_and_each_broken_case() {
    let dir = ampfed_test_support::TempDir::new("diagnose");
    let settings = sim::Settings::default();
    crate::runtime().block_on(async {
        let mut progress = Progress::new(false);
        let env = Env::up(&EnvConfig::from_env(), &mut progress).await.expect("environment");
        let workspace = run_the_data_path(&env, &settings).await.expect("the data path");
        let endpoints = endpoints_of(&env, &workspace, dir.path());
        let file = write_endpoints(dir.path(), "good", &endpoints);
        let options = Options {
            endpoints: file.clone(),
            cluster_label: sim::CLUSTER_LABEL.into(),
            clusters: Vec::new(),
            now: settings.window().end,
            lookback: 3600,
            max_age: 26 * 3600,
        };
        let show = |report: &Report| redact(&report.to_text(), &endpoints, dir.path());

        // Healthy: every check passes; the guide's container_name rules warn about cluster-c
        // (modern cAdvisor labels), and the exit code is still 0.
        let healthy = diagnose::run(&options).await;
        assert_eq!(healthy.exit_code(), 0, "{}", healthy.to_text());
        // The series counts are the simulator's: series with a sample in the hour before now.
        let sims = ampfed_e2e::rules_cmd::simulated::simulate(
            &ampfed_common::paths::fixtures_dir(),
            None,
            sim::CLUSTER_LABEL,
            settings.duration(),
        )
        .unwrap();
        for s in &sims {
            let recent = s
                .series_named(diagnose::PRESENCE_METRIC)
                .filter(|ts| ts.samples.iter().any(|x| x.timestamp > (options.now - 3600) * 1000))
                .count();
            let check = healthy.checks.iter().find(|c| c.name == format!("series.{}", s.cluster())).unwrap();
            assert!(check.detail.starts_with(&format!("{recent} series of ")), "{recent}: {check:?}");
        }
        for cluster in ["cluster-a", "cluster-b", "cluster-c"] {
            assert_eq!(status_of(&healthy, &format!("series.{cluster}")), Status::Pass);
            assert_eq!(status_of(&healthy, &format!("etl.{cluster}")), Status::Pass);
        }
        assert_eq!(status_of(&healthy, "rules.kubecost_container_cpu_usage_irate"), Status::Warn);
        assert_eq!(status_of(&healthy, "rules.kubecost_savings_cpu_allocation"), Status::Pass);
        assert_eq!(status_of(&healthy, "federation"), Status::Pass);
        snapshot("diagnose_healthy", &show(&healthy));
        snapshot("diagnose_healthy_json", &redact(&healthy.to_json(), &endpoints, dir.path()));

        // The cluster label the data does not carry: no cluster found, the label it does
        // carry suggested; the ETL is still found by its folders.
        let wrong_label =
            diagnose::run(&Options { cluster_label: "cluster".into(), ..options.clone() }).await;
        assert_eq!(wrong_label.exit_code(), Failure::Check.exit_code(), "{}", wrong_label.to_text());
        assert_eq!(status_of(&wrong_label, "series"), Status::Fail);
        assert!(wrong_label.to_text().contains("--cluster-label cluster_id"), "{}", wrong_label.to_text());
        snapshot("diagnose_wrong_cluster_label", &show(&wrong_label));

        // The same through the binary, as CI runs it: `--json` and the exit code.
        let binary = ampfed_test_support::run_bounded(
            std::process::Command::new(env!("CARGO_BIN_EXE_ampfed-diagnose"))
                .args([
                    "--json",
                    "--cluster-label",
                    "cluster",
                    "--now",
                    "2026-01-02T00:00:00Z",
                    "--endpoints",
                ])
                .arg(&file),
            Duration::from_secs(60),
        )
        .unwrap();
        assert_eq!(binary.status.code(), Some(1), "{}", binary.stderr);
        let json: serde_json::Value = serde_json::from_str(&binary.stdout).unwrap();
        assert_eq!((json["passed"].as_bool(), json["exit_code"].as_u64()), (Some(false), Some(1)));
        assert_eq!(json["checks"].as_array().map(Vec::len), Some(wrong_label.checks.len()));

        // Three days later nothing is fresh; a cluster nobody runs has neither series nor ETL.
        let later = Options { now: options.now + 3 * 86_400, lookback: 4 * 86_400, ..options.clone() };
        let stale =
            diagnose::run(&Options { clusters: vec!["cluster-a".into(), "cluster-x".into()], ..later }).await;
        assert_eq!(stale.exit_code(), Failure::Check.exit_code(), "{}", stale.to_text());
        assert_eq!(status_of(&stale, "series.cluster-a"), Status::Pass);
        assert_eq!(status_of(&stale, "series.cluster-x"), Status::Fail);
        assert_eq!(status_of(&stale, "etl.cluster-a"), Status::Fail);
        assert_eq!(status_of(&stale, "etl.cluster-x"), Status::Fail);
        let detail = |name: &str| stale.checks.iter().find(|c| c.name == name).map(|c| c.detail.clone());
        assert_eq!(
            detail("etl.cluster-a").as_deref(),
            Some("newest day 2026-01-01 ended 72.0 h before --now (at most 26.0 h allowed)")
        );
        assert_eq!(
            detail("etl.cluster-x").as_deref(),
            Some("no daily allocations and assets ETL under federated/cluster-x/etl/")
        );

        // A copy of the endpoints with a wrong secret key: AMP refuses the signature.
        let mut bad = endpoints.clone();
        bad.credentials.secret_access_key = "wrong/secret/0123456789abcdefghijklmnopq".into();
        let bad_file = write_endpoints(dir.path(), "bad-secret", &bad);
        let bad_secret = diagnose::run(&Options { endpoints: bad_file, ..options.clone() }).await;
        assert_eq!(bad_secret.exit_code(), Failure::Check.exit_code(), "{}", bad_secret.to_text());
        assert_eq!(status_of(&bad_secret, "amp.signature"), Status::Fail);
        assert!(bad_secret.to_text().contains("InvalidSignatureException"), "{}", bad_secret.to_text());
        snapshot("diagnose_bad_secret", &show(&bad_secret));

        // AMP not answering at all: an environment failure, exit code 3.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut gone = endpoints.clone();
        gone.amp_url = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let gone_file = write_endpoints(dir.path(), "amp-gone", &gone);
        let unreachable = diagnose::run(&Options { endpoints: gone_file, ..options.clone() }).await;
        assert_eq!(unreachable.exit_code(), Failure::Environment.exit_code(), "{}", unreachable.to_text());
        snapshot("diagnose_amp_unreachable", &show(&unreachable));

        // The rule groups namespace deleted through the AMP API.
        let amp = env.amp_admin();
        amp.delete_rule_groups_namespace()
            .workspace_id(&workspace)
            .name("kubecost-amp")
            .send()
            .await
            .unwrap();
        Wait::new("the namespace to be deleted", Duration::from_secs(10))
            .until(|| async {
                let described = amp
                    .describe_rule_groups_namespace()
                    .workspace_id(&workspace)
                    .name("kubecost-amp")
                    .send()
                    .await;
                Ok::<_, String>(match described {
                    Err(e) if e.code() == Some("ResourceNotFoundException") => Poll::Ready(()),
                    _ => Poll::Pending("still there".to_owned()),
                })
            })
            .await
            .unwrap();
        let rules_missing = diagnose::run(&options).await;
        assert_eq!(rules_missing.exit_code(), Failure::Check.exit_code(), "{}", rules_missing.to_text());
        assert_eq!(status_of(&rules_missing, "rules.installed"), Status::Fail);
        snapshot("diagnose_rules_missing", &show(&rules_missing));

        // `rules install` puts them back (a second install without --replace is refused, with
        // it the namespace is replaced): the report is the healthy one again.
        let rules_dir = ampfed_common::paths::fixtures_dir().join("rules");
        let installed = ampfed_e2e::rules_cmd::install(&endpoints, &rules_dir, false).await.unwrap();
        assert_eq!((installed.namespaces, installed.records.len()), (1, 9));
        let again = ampfed_e2e::rules_cmd::install(&endpoints, &rules_dir, false).await.unwrap_err();
        assert_eq!(ampfed_e2e::classify(&again), Failure::BadInput);
        assert!(format!("{again:#}").contains("already exists"), "{again:#}");
        let replaced = ampfed_e2e::rules_cmd::install(&endpoints, &rules_dir, true).await.unwrap();
        assert_eq!(replaced.replaced, ["kubecost-amp"]);
        let restored = diagnose::run(&options).await;
        assert_eq!(statuses(&restored), statuses(&healthy), "{}", restored.to_text());

        // The bucket deleted, objects first.
        let store = env.store();
        for object in store.list("").await.unwrap() {
            store.delete_object(&object.key).await.unwrap();
        }
        store.client().delete_bucket().bucket(BUCKET).send().await.unwrap();
        let bucket_missing = diagnose::run(&options).await;
        assert_eq!(bucket_missing.exit_code(), Failure::Check.exit_code(), "{}", bucket_missing.to_text());
        assert_eq!(status_of(&bucket_missing, "bucket"), Status::Fail);
        assert_eq!(status_of(&bucket_missing, "federation"), Status::Skip);
        snapshot("diagnose_bucket_missing", &show(&bucket_missing));

        env.down().await.expect("teardown");
    });
}
