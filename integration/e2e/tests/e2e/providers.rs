//! The providers that run on this machine: the embedded S3 gives the same objects and
//! snapshots as LocalStack; a backend given by URL (here a Prometheus the test starts itself,
//! as a user would run their own) passes every check; the container providers fail before
//! the path starts, with what to use instead, where no Docker engine answers.

use ampfed_e2e::{classify, path, snapshots, Backend, Failure, Options, Providers, S3Provider};

fn run(providers: Providers) -> anyhow::Result<ampfed_e2e::Outcome> {
    let mut options = Options::from_env();
    options.env.providers = providers;
    crate::runtime().block_on(path::run(&options))
}

#[test]
fn the_embedded_s3_stores_the_same_objects_and_matches_the_snapshots() {
    let embedded = run(Providers { s3: S3Provider::Embedded, ..Providers::default() })
        .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    let localstack = crate::happy();
    assert_eq!(embedded.summary.etl_objects, localstack.summary.etl_objects);
    assert_eq!(embedded.summary.combined_objects, localstack.summary.combined_objects);
    assert_eq!(embedded.summary.samples_stored, localstack.summary.samples_stored);
    snapshots::check(&embedded);
}

#[test]
fn a_backend_given_by_url_passes_every_check() {
    // The user's own backend: a Prometheus this test starts and owns, outside the run.
    let mut scenario = ampfed_env::Scenario::new(false).expect("scenario");
    let backend =
        ampfed_env::prometheus::start(&mut scenario, &Default::default()).expect("the user's Prometheus");
    let outcome =
        run(Providers { s3: S3Provider::Embedded, backend: Backend::Url(backend.url.clone()), bucket: None })
            .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    assert_eq!(outcome.summary.clusters, ["cluster-a", "cluster-b", "cluster-c"]);
    assert_eq!(outcome.summary.samples_stored, outcome.summary.samples_written);
    for b in &outcome.balances {
        assert!(b.relative_error() <= 0.001, "{b:?}");
    }
    // The samples are in the user's backend, which outlives the run.
    let count: serde_json::Value =
        ureq::get(&format!("{}/api/v1/query?query=count(kube_pod_info)", backend.url))
            .call()
            .expect("query the user's backend")
            .into_json()
            .expect("json");
    assert_eq!(count["status"], "success", "{count}");
    drop(scenario);
}

#[test]
fn a_backend_url_that_does_not_answer_is_an_environment_failure() {
    let port = ampfed_env::free_port().expect("a free port");
    let e = run(Providers {
        s3: S3Provider::Embedded,
        backend: Backend::Url(format!("http://127.0.0.1:{port}")),
        bucket: None,
    })
    .expect_err("nothing listens there");
    assert_eq!(classify(&e), Failure::Environment);
    let text = crate::chain(&e);
    assert!(text.contains("does not answer /api/v1/query") && text.contains("--backend host"), "{text}");
}

#[test]
fn container_providers_without_a_docker_engine_say_what_to_use_instead() {
    if ampfed_env::containers::docker_socket()
        .is_ok_and(|s| ampfed_env::containers::docker_answers(&s).is_ok())
    {
        eprintln!("a Docker engine answers here: the container providers are not refused");
        return;
    }
    let localstack_container = Providers { s3: S3Provider::LocalstackContainer, ..Providers::default() };
    let prometheus_container =
        Providers { s3: S3Provider::Embedded, backend: Backend::Container(None), bucket: None };
    for providers in [localstack_container, prometheus_container] {
        let e = run(providers.clone()).expect_err("no Docker engine here");
        assert_eq!(classify(&e), Failure::Environment, "{providers}");
        let text = crate::chain(&e);
        assert!(
            text.contains("a Docker engine at") && text.contains("--s3 localstack"),
            "{providers}: {text}"
        );
    }
}

#[test]
fn a_bucket_of_ones_own_named_by_a_federated_store_file_gets_the_same_objects() {
    // The user's bucket: an S3 server this test runs, with keys of its own.
    let s3 = ampfed_s3::EmbeddedS3::start(
        ampfed_s3::Config::new("AKIDUSERBUCKET", "user-bucket-secret", "eu-west-1").with_bucket("team-etl"),
    )
    .expect("the user's S3");
    let dir = ampfed_test_support::TempDir::new("e2e-bucket");
    let file = dir.join("federated-store.yaml");
    let endpoint = s3.endpoint().trim_start_matches("http://").to_owned();
    std::fs::write(
        &file,
        format!(
            "type: S3\nconfig:\n  bucket: team-etl\n  endpoint: {endpoint}\n  region: eu-west-1\n  insecure: true\n  access_key: AKIDUSERBUCKET\n  secret_key: user-bucket-secret\n"
        ),
    )
    .unwrap();
    let flags = ampfed_e2e::providers::ProviderFlags {
        s3: S3Provider::Bucket,
        backend: ampfed_e2e::BackendKind::Host,
        backend_url: None,
        prometheus: None,
        federated_store: Some(file.clone()),
    };
    let providers = flags.resolve().unwrap();
    assert_eq!(
        providers.to_string(),
        format!("s3 your bucket team-etl at http://{endpoint} · backend Prometheus (host, from PATH) · clusters simulator · target local mocks")
    );
    let outcome = run(providers).unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    assert_eq!(outcome.summary.etl_objects, crate::happy().summary.etl_objects);
    snapshots::check(&outcome);
    // The objects are in the user's bucket.
    let store = ampfed_federation::Store::new(&ampfed_federation::StoreConfig {
        endpoint: s3.endpoint().to_owned(),
        region: "eu-west-1".into(),
        bucket: "team-etl".into(),
        access_key_id: "AKIDUSERBUCKET".into(),
        secret_access_key: "user-bucket-secret".into(),
    });
    let combined = crate::runtime().block_on(store.list("federated/combined/")).unwrap();
    assert!(!combined.is_empty());
    // Without the file, or with it and another provider, the flags are refused.
    let e = ampfed_e2e::providers::ProviderFlags { federated_store: None, ..flags.clone() }
        .resolve()
        .unwrap_err();
    assert!(e.to_string().contains("--s3 bucket needs --federated-store FILE"), "{e}");
    let e = ampfed_e2e::providers::ProviderFlags { s3: S3Provider::Embedded, ..flags }.resolve().unwrap_err();
    assert!(e.to_string().contains("only with --s3 bucket"), "{e}");
}
