//! Kubecost's `federated-store.yaml`: a good file gives the bucket, endpoint, region and keys;
//! Kubecost's other keys are accepted with a warning each; every bad file is refused with the
//! file and line (and column, where serde has one) of what is wrong; and a store built from a
//! file reaches its bucket (the embedded S3) with the file's keys or with a given provider.

use ampfed_federation::config::{parse, read, FederatedStore, StoreFileError, MAX_FILE_BYTES};

const GOOD: &str = "\
type: S3
config:
  bucket: \"kubecost-federated\"
  endpoint: \"127.0.0.1:4566\"
  region: \"us-west-2\"
  access_key: \"AKIAEXAMPLE\"
  secret_key: \"secret/example\"
  insecure: true
  signature_version2: false
  put_user_metadata:
    \"X-Amz-Acl\": \"bucket-owner-full-control\"
  http_config:
    idle_conn_timeout: 90s
    response_header_timeout: 2m
    insecure_skip_verify: false
  trace:
    enable: true
  part_size: 134217728
";

fn refused(text: &str) -> String {
    match parse("federated-store.yaml", text) {
        Err(e) => e.to_string(),
        Ok(store) => panic!("accepted: {store:?}"),
    }
}

#[test]
fn a_good_file_names_the_bucket_and_warns_about_what_ampfed_ignores() {
    let store = parse("federated-store.yaml", GOOD).unwrap();
    assert_eq!(
        (store.bucket.as_str(), store.endpoint.as_str(), store.region.as_str()),
        ("kubecost-federated", "127.0.0.1:4566", "us-west-2")
    );
    assert_eq!(store.keys, Some(("AKIAEXAMPLE".into(), "secret/example".into())));
    assert_eq!(store.endpoint_url(), "http://127.0.0.1:4566");
    let config = store.store_config(("unused".into(), "unused".into()));
    assert_eq!(
        (config.access_key_id.as_str(), config.bucket.as_str()),
        ("AKIAEXAMPLE", "kubecost-federated")
    );
    // signature_version2: false asks for nothing; the other four are Kubecost's, unused here.
    assert_eq!(
        store.warnings,
        [
            "federated-store.yaml:10: config.put_user_metadata is read but not used by ampfed (no user metadata is written)",
            "federated-store.yaml:12: config.http_config is read but not used by ampfed (ampfed's own time limits apply)",
            "federated-store.yaml:16: config.trace is read but not used by ampfed (ampfed logs through tracing)",
            "federated-store.yaml:18: config.part_size is read but not used by ampfed (ETL objects are written in one part)",
        ]
    );
}

#[test]
fn without_keys_the_credential_chain_is_used_and_the_region_defaults() {
    let store =
        parse("f.yaml", "type: S3\nconfig:\n  bucket: b\n  endpoint: localhost:9000\n  insecure: true\n")
            .unwrap();
    assert_eq!(
        store,
        FederatedStore {
            bucket: "b".into(),
            endpoint: "localhost:9000".into(),
            insecure: true,
            region: "us-east-1".into(),
            keys: None,
            warnings: Vec::new(),
        }
    );
    assert_eq!(store.store_config(("k".into(), "s".into())).secret_access_key, "s");
    let chain = "type: S3\nconfig:\n  bucket: b\n  endpoint: h:1\n  insecure: true\n  aws_sdk_auth: true\n";
    assert_eq!(parse("f.yaml", chain).unwrap().keys, None);
}

#[test]
fn a_missing_bucket_is_refused_where_the_config_starts() {
    let text = "type: S3\nconfig:\n  endpoint: 127.0.0.1:4566\n  insecure: true\n";
    assert_eq!(refused(text), "federated-store.yaml:3:3: config: missing field `bucket` at line 3 column 3");
    let empty = "type: S3\nconfig:\n  bucket: \"\"\n  endpoint: 127.0.0.1:4566\n  insecure: true\n";
    assert_eq!(refused(empty), "federated-store.yaml:3: config.bucket is empty: name the central bucket");
}

#[test]
fn a_type_other_than_s3_is_refused() {
    let text = "type: GCS\nconfig:\n  bucket: b\n  endpoint: e:1\n  insecure: true\n";
    assert_eq!(
        refused(text),
        "federated-store.yaml:1:7: type: unknown variant `GCS`, expected `S3` at line 1 column 7"
    );
    let lower = "type: s3\nconfig:\n  bucket: b\n  endpoint: e:1\n";
    assert!(
        refused(lower).starts_with("federated-store.yaml:1:7: type: unknown variant `s3`"),
        "{}",
        refused(lower)
    );
}

#[test]
fn an_unknown_key_is_refused_with_its_line_and_column() {
    let text = "type: S3\nconfig:\n  bucket: b\n  endpoint: e:1\n  insecure: true\n  buckett: c\n";
    let message = refused(text);
    assert!(
        message.starts_with("federated-store.yaml:6:3: config: unknown field `buckett`, expected one of"),
        "{message}"
    );
    // Nested too: a key http_config does not have.
    let nested = "type: S3\nconfig:\n  bucket: b\n  endpoint: e:1\n  insecure: true\n  http_config:\n    idle_timeout: 9s\n";
    assert!(
        refused(nested)
            .starts_with("federated-store.yaml:7:5: config.http_config: unknown field `idle_timeout`"),
        "{}",
        refused(nested)
    );
    // And at the top level.
    let top = "type: S3\nconfig:\n  bucket: b\n  endpoint: e:1\n  insecure: true\nextra: 1\n";
    assert!(refused(top).starts_with("federated-store.yaml:6:1: unknown field `extra`"), "{}", refused(top));
}

#[test]
fn insecure_false_and_its_default_are_https() {
    for rest in [
        "  endpoint: s3.us-east-1.amazonaws.com\n  insecure: false\n",
        "  endpoint: s3.us-east-1.amazonaws.com\n",
    ] {
        let store = parse("f.yaml", &format!("type: S3\nconfig:\n  bucket: b\n{rest}")).unwrap();
        assert_eq!(store.endpoint_url(), "https://s3.us-east-1.amazonaws.com", "{rest}");
    }
    let plain =
        parse("f.yaml", "type: S3\nconfig:\n  bucket: b\n  endpoint: h:1\n  insecure: true\n").unwrap();
    assert_eq!(plain.endpoint_url(), "http://h:1");
}

#[test]
fn what_ampfed_cannot_honour_is_refused_with_its_line() {
    let base = "type: S3\nconfig:\n  bucket: b\n";
    let case = |rest: &str| refused(&format!("{base}{rest}"));
    assert_eq!(
        case("  endpoint: https://s3.amazonaws.com\n  insecure: true\n"),
        "federated-store.yaml:4: config.endpoint \"https://s3.amazonaws.com\" is host[:port], without a scheme \
         or path (Thanos's form); HTTP or HTTPS is `insecure`"
    );

    assert_eq!(
        case("  endpoint: e:1\n  insecure: true\n  access_key: AKIA\n"),
        "federated-store.yaml:6: config.access_key is set but secret_key is not"
    );
    assert_eq!(
        case("  endpoint: e:1\n  insecure: true\n  access_key: AKIA\n  secret_key: s\n  aws_sdk_auth: true\n"),
        "federated-store.yaml:8: config.aws_sdk_auth uses the credential chain and cannot be combined with access_key"
    );
    assert_eq!(
        refused(&format!("{base}  endpoint: e:1\n  insecure: true\nprefix: kubecost\n")),
        "federated-store.yaml:6: prefix \"kubecost\" is not supported: ampfed's layout starts at the bucket root \
         (federated/…)"
    );
    assert_eq!(
        case("  endpoint: e:1\n  insecure: maybe\n"),
        "federated-store.yaml:5:13: config.insecure: invalid type: string \"maybe\", expected a boolean at line 5 \
         column 13"
    );
}

#[test]
fn a_file_too_large_is_not_read_and_a_missing_one_says_so() {
    let dir = std::env::temp_dir().join(format!("ampfed-store-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let big = dir.join("federated-store.yaml");
    let padding = "#".repeat(MAX_FILE_BYTES as usize);
    std::fs::write(&big, format!("{GOOD}{padding}\n")).unwrap();
    let err = read(&big).unwrap_err();
    assert_eq!(err, StoreFileError::TooLarge { file: big.display().to_string() });
    assert_eq!(
        err.to_string(),
        format!("{}: larger than 65536 bytes; a federated-store.yaml is a few hundred", big.display())
    );
    assert!(matches!(parse("x.yaml", &format!("{GOOD}{padding}")), Err(StoreFileError::TooLarge { .. })));
    std::fs::write(&big, GOOD).unwrap();
    assert_eq!(read(&big).unwrap().bucket, "kubecost-federated");
    std::fs::remove_file(&big).unwrap();
    let missing = read(&big).unwrap_err().to_string();
    assert!(missing.starts_with(&format!("{}: cannot be read: ", big.display())), "{missing}");
    std::fs::remove_dir(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_reaches_its_bucket_with_its_keys_or_with_a_credentials_provider() {
    use ampfed_allocation::{AllocationSet, Window};
    use ampfed_federation::Store;
    use aws_credential_types::provider::SharedCredentialsProvider;
    use aws_credential_types::Credentials;

    let (key, secret) = ("AKIASTOREFILETEST001", "store/file/test/secret");
    let s3 = ampfed_s3::EmbeddedS3::start(ampfed_s3::Config::new(key, secret, "eu-west-1")).unwrap();
    let host = s3.endpoint().strip_prefix("http://").unwrap().to_owned();
    let text = format!(
        "type: S3\nconfig:\n  bucket: from-file\n  endpoint: {host}\n  region: eu-west-1\n  insecure: true\n  \
         access_key: {key}\n  secret_key: {secret}\n"
    );
    let file = parse("federated-store.yaml", &text).unwrap();
    let store = Store::new(&file.store_config((String::new(), String::new())));
    store.ensure_bucket().await.unwrap();
    let hour = Window { start: 1_767_225_600, end: 1_767_229_200 };
    let written =
        store.put_set("cluster-a", &AllocationSet::new(vec!["cluster-a".into()], hour, Vec::new())).await;
    assert_eq!(written.unwrap(), "federated/cluster-a/etl/allocations/1h/1767225600-1767229200.parquet");

    // Without keys in the file: the caller's provider signs (what the credential chain gives).
    let keyless = format!(
        "type: S3\nconfig:\n  bucket: from-file\n  endpoint: {host}\n  region: eu-west-1\n  insecure: true\n"
    );
    let file = parse("federated-store.yaml", &keyless).unwrap();
    assert_eq!(file.keys, None);
    let config = file.store_config((String::new(), String::new()));
    let provider = SharedCredentialsProvider::new(Credentials::new(key, secret, None, None, "test chain"));
    let listed = Store::with_credentials(&config, provider).list("federated/").await.unwrap();
    assert_eq!(listed.len(), 1);
    // Wrong keys from the provider: refused by S3.
    let wrong = SharedCredentialsProvider::new(Credentials::new(key, "not-the-secret", None, None, "wrong"));
    assert!(Store::with_credentials(&config, wrong).list("federated/").await.is_err());
}
