//! The direct reads and listings (`Store` on a plain-HTTP endpoint, without the SDK's pipeline) against
//! the embedded S3, which checks every signature: the same bytes, ETags and failure classes as
//! the SDK's reads of the same objects.

use ampfed_federation::store::Condition;
use ampfed_federation::{FederationError, S3Failure, Store, StoreConfig};
use ampfed_s3::{Config, EmbeddedS3};

const REGION: &str = "eu-west-1";
const KEY_ID: &str = "AKIDDIRECTREADS";
const SECRET: &str = "direct-reads-secret";

fn config(endpoint: &str, secret: &str) -> StoreConfig {
    StoreConfig {
        endpoint: endpoint.to_owned(),
        region: REGION.into(),
        bucket: "direct".into(),
        access_key_id: KEY_ID.into(),
        secret_access_key: secret.into(),
    }
}

fn failure(e: &FederationError) -> Option<S3Failure> {
    e.s3_failure()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_reads_give_the_bytes_and_etags_the_sdk_gives() {
    let s3 = EmbeddedS3::start(Config::new(KEY_ID, SECRET, REGION)).unwrap();
    let store = Store::new(&config(s3.endpoint(), SECRET));
    assert!(store.reads_directly(), "a plain-HTTP store reads directly");
    let sdk = store.clone().without_direct_reads();
    assert!(!sdk.reads_directly());
    store.ensure_bucket().await.unwrap();
    // Keys with what S3 escapes: a space, a plus (AWS reads an unescaped one as a space), an
    // equals sign, a tilde, percent, non-ASCII letters.
    let keys = ["plain.parquet", "a b/c+d=e~f.parquet", "100%/done", "clusters/été/ø.json"];
    for (i, key) in keys.iter().enumerate() {
        let body = format!("object {i} at {key}").repeat(100 * (i + 1)).into_bytes();
        let etag = store
            .put_object(key, body.clone(), "application/octet-stream", &Condition::Always)
            .await
            .unwrap();
        let direct = store.fetch(key).await.unwrap();
        let through_sdk = sdk.fetch(key).await.unwrap();
        assert_eq!(direct.bytes, body, "{key}");
        assert_eq!(direct, through_sdk, "{key}");
        assert_eq!(direct.etag, etag, "{key}");
    }
    assert_eq!(store.direct_requests(), keys.len() as u64, "one GET a read, none through the SDK");
    assert_eq!(sdk.direct_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_listings_give_what_the_sdk_lists() {
    let s3 = EmbeddedS3::start(Config::new(KEY_ID, SECRET, REGION)).unwrap();
    let store = Store::new(&config(s3.endpoint(), SECRET));
    let sdk = store.clone().without_direct_reads();
    store.ensure_bucket().await.unwrap();
    // 2,345 folders under the prefix (their keys with what XML and URLs escape), keys beside
    // it that no listing of it may give, and keys that sort between a folder's runs: objects
    // at the prefix's own level, a folder's marker, siblings that extend a folder's name
    // with a `-` or a `.` (before its `/`), a folder holding one more folder.
    let awkward = ["a&b", "<x>", "q\"uote's", "a b+c=d~e%f", "\u{e9}t\u{e9}/\u{f8}", "cr\rlf"];
    let mut keys: Vec<String> =
        (0..2_345).map(|i| format!("federated/c{:04}/{}", i, awkward[i % awkward.len()])).collect();
    keys.extend(["federated", "federatedx/k", "other/federated/k"].map(str::to_owned));
    let between = [
        "federated/c0001x",
        "federated/stray",
        "federated/c0002/",
        "federated/c0293-b/k",
        "federated/c0293./k",
        "federated/c0293.",
        "federated/c0586/deeper/k",
    ];
    keys.extend(between.map(str::to_owned));
    for (i, key) in keys.iter().enumerate() {
        let body = vec![b'x'; i % 7];
        store.put_object(key, body, "application/octet-stream", &Condition::Always).await.unwrap();
    }
    let before = store.direct_requests();
    let direct = store.list("federated/").await.unwrap();
    // The level by delimiter: 2,347 folders and 3 objects, three pages; then eight runs of
    // about 293 folders, a page each (each stops at the page that passes its end). The
    // second run starts at `c0293-b/`, just before the siblings `c0293./` and `c0293/`.
    assert_eq!(store.direct_requests() - before, 3 + 8, "each page one direct GET");
    assert_eq!(direct, sdk.list("federated/").await.unwrap());
    let mut expected: Vec<&String> = keys.iter().filter(|k| k.starts_with("federated/")).collect();
    expected.sort();
    assert_eq!(direct.iter().map(|l| &l.key).collect::<Vec<_>>(), expected, "every key once, in order");
    assert!(direct.iter().all(|l| l.etag.starts_with('"') && l.size < 7));
    // In one run: the 2,352 keys page after page, three pages.
    let before = store.direct_requests();
    assert_eq!(store.clone().with_list_runs(1).list("federated/").await.unwrap(), direct);
    assert_eq!(store.direct_requests() - before, 3);
    // A prefix that ends inside a folder's name lists its folders and its objects alike.
    let part: Vec<String> = store.list("federated/c029").await.unwrap().into_iter().map(|l| l.key).collect();
    let mut expected: Vec<&String> = keys.iter().filter(|k| k.starts_with("federated/c029")).collect();
    expected.sort();
    assert_eq!(part.iter().collect::<Vec<_>>(), expected);
    // An empty prefix lists all; a prefix of nothing lists none.
    assert_eq!(store.list("").await.unwrap().len(), keys.len());
    assert!(store.list("nothing/").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_key_a_wrong_secret_and_a_limit_fail_as_through_the_sdk() {
    let s3 = EmbeddedS3::start(Config::new(KEY_ID, SECRET, REGION)).unwrap();
    let store = Store::new(&config(s3.endpoint(), SECRET));
    store.ensure_bucket().await.unwrap();
    store.put_object("big", vec![7u8; 10_000], "application/octet-stream", &Condition::Always).await.unwrap();

    for (name, reader) in [("direct", store.clone()), ("sdk", store.clone().without_direct_reads())] {
        let missing = reader.fetch("no/such/key").await.unwrap_err();
        assert_eq!(failure(&missing), Some(S3Failure::NotFound), "{name}: {missing}");
        assert!(missing.to_string().contains("NoSuchKey"), "{name}: {missing}");

        let limited = reader.fetch_limited("big", 9_999).await.unwrap_err();
        assert!(
            matches!(limited, FederationError::TooLarge { size: 10_000, limit: 9_999, .. }),
            "{name}: {limited}"
        );
        assert_eq!(reader.fetch_limited("big", 10_000).await.unwrap().bytes.len(), 10_000, "{name}");
    }

    let wrong = Store::new(&config(s3.endpoint(), "not-the-secret"));
    let refused = wrong.fetch("big").await.unwrap_err();
    assert_eq!(failure(&refused), Some(S3Failure::Refused), "{refused}");
    assert!(refused.to_string().contains("SignatureDoesNotMatch"), "{refused}");
    assert_eq!(wrong.direct_requests(), 1, "a refusal is not tried again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_is_transient_after_three_attempts() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let store = Store::new(&config(&format!("http://127.0.0.1:{port}"), SECRET));
    let e = store.fetch("any").await.unwrap_err();
    assert_eq!(failure(&e), Some(S3Failure::Transient), "{e}");
    assert_eq!(store.direct_requests(), 3, "three attempts, as the SDK's standard retries");
}

#[test]
fn https_endpoints_keep_the_sdk() {
    let store = Store::new(&config("https://s3.eu-west-1.amazonaws.com", SECRET));
    assert!(!store.reads_directly());
}
