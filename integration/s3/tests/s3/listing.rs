//! ListObjectsV2: pages of at most `max-keys`, continuation tokens, keys in S3's order
//! whatever the order of writing, `start-after`, and common prefixes at a delimiter.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::EncodingType;

use crate::{client, refusal, server, BUCKET};

/// Writes `keys` with a few writers at once.
async fn put_all(client: &aws_sdk_s3::Client, keys: Vec<String>) {
    let mut writers = tokio::task::JoinSet::new();
    for chunk in keys.chunks(keys.len().div_ceil(8)).map(<[String]>::to_vec) {
        let client = client.clone();
        writers.spawn(async move {
            for key in chunk {
                client
                    .put_object()
                    .bucket(BUCKET)
                    .key(&key)
                    .body(ByteStream::from(key.clone().into_bytes()))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("PutObject {key}: {}", ampfed_aws::error_text(&e)));
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_five_hundred_keys_come_in_three_sorted_pages() {
    let s3 = server();
    let client = client(&s3);
    // Written in a scrambled order (7919 is prime, so i*7919 mod 2500 visits every i once).
    let keys: Vec<String> = (0..2500u32).map(|i| format!("etl/{:05}.json", (i * 7919) % 2500)).collect();
    put_all(&client, keys).await;

    let mut pages = client.list_objects_v2().bucket(BUCKET).max_keys(1000).into_paginator().send();
    let mut sizes = Vec::new();
    let mut listed = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        sizes.push(page.key_count().unwrap_or_default());
        assert_eq!(page.max_keys(), Some(1000));
        assert_eq!(page.is_truncated(), Some(sizes.len() < 3));
        listed.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
    }
    assert_eq!(sizes, [1000, 1000, 500]);
    let expected: Vec<String> = (0..2500u32).map(|i| format!("etl/{i:05}.json")).collect();
    assert_eq!(listed, expected);

    // By hand: the token of page one starts page two at key 1000.
    let first = client.list_objects_v2().bucket(BUCKET).max_keys(1000).send().await.unwrap();
    let token = first.next_continuation_token().unwrap().to_owned();
    let second = client.list_objects_v2().bucket(BUCKET).continuation_token(&token).send().await.unwrap();
    assert_eq!(second.continuation_token(), Some(token.as_str()));
    assert_eq!(second.contents().first().and_then(|o| o.key()), Some("etl/01000.json"));
    assert_eq!(second.key_count(), Some(1000));
    assert_eq!(second.contents()[0].size(), Some("etl/01000.json".len() as i64));
}

#[tokio::test]
async fn start_after_and_a_bad_token() {
    let s3 = server();
    let client = client(&s3);
    put_all(&client, ["a", "b", "c", "d"].map(str::to_owned).to_vec()).await;
    let after_b = client.list_objects_v2().bucket(BUCKET).start_after("b").send().await.unwrap();
    let keys: Vec<&str> = after_b.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["c", "d"]);
    let e =
        client.list_objects_v2().bucket(BUCKET).continuation_token("bm90LW91cnM=").send().await.unwrap_err();
    assert_eq!(refusal(&e), (400, "InvalidArgument".to_owned()));
    let e = client.list_objects_v2().bucket("absent-bucket").send().await.unwrap_err();
    assert_eq!(refusal(&e), (404, "NoSuchBucket".to_owned()));
}

#[tokio::test]
async fn a_delimiter_rolls_keys_up_into_common_prefixes() {
    let s3 = server();
    let client = client(&s3);
    let keys = [
        "federated/c1/etl/allocations/1d/0-86400.json",
        "federated/c1/etl/allocations/1d/86400-172800.json",
        "federated/c2/etl/allocations/1d/0-86400.json",
        "federated/combined/etl/allocations/1d/0-86400.json",
        "federated/readme.txt",
        "other/x",
    ];
    put_all(&client, keys.map(str::to_owned).to_vec()).await;

    let top =
        client.list_objects_v2().bucket(BUCKET).prefix("federated/").delimiter("/").send().await.unwrap();
    let prefixes: Vec<&str> = top.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(prefixes, ["federated/c1/", "federated/c2/", "federated/combined/"]);
    let files: Vec<&str> = top.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(files, ["federated/readme.txt"]);
    assert_eq!(top.key_count(), Some(4), "keys and common prefixes count alike");
    assert_eq!(top.delimiter(), Some("/"));

    // Two entries a page: prefixes count towards max-keys and a page ends on one.
    let mut pages = client
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix("federated/")
        .delimiter("/")
        .max_keys(2)
        .into_paginator()
        .send();
    let mut seen = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        let mut entries: Vec<String> =
            page.common_prefixes().iter().filter_map(|p| p.prefix().map(str::to_owned)).collect();
        entries.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
        seen.push(entries);
    }
    assert_eq!(
        seen,
        [vec!["federated/c1/", "federated/c2/"], vec!["federated/combined/", "federated/readme.txt"]]
    );

    let deeper = client
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix("federated/c1/etl/allocations/1d/")
        .send()
        .await
        .unwrap();
    assert_eq!(deeper.key_count(), Some(2));
    assert!(deeper.common_prefixes().is_empty());
}

#[tokio::test]
async fn list_objects_v1_pages_with_markers() {
    let s3 = server();
    let client = client(&s3);
    put_all(&client, ["p/a/1", "p/a/2", "p/b", "p/c/1", "p/d"].map(str::to_owned).to_vec()).await;
    let first =
        client.list_objects().bucket(BUCKET).prefix("p/").delimiter("/").max_keys(2).send().await.unwrap();
    let prefixes: Vec<&str> = first.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    let keys: Vec<&str> = first.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!((prefixes, keys), (vec!["p/a/"], vec!["p/b"]));
    assert_eq!(first.is_truncated(), Some(true));
    assert_eq!(first.next_marker(), Some("p/b"));
    let second =
        client.list_objects().bucket(BUCKET).prefix("p/").delimiter("/").marker("p/b").send().await.unwrap();
    let prefixes: Vec<&str> = second.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    let keys: Vec<&str> = second.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!((prefixes, keys), (vec!["p/c/"], vec!["p/d"]));
    assert_eq!(second.is_truncated(), Some(false));
}

#[tokio::test]
async fn url_encoding_type_encodes_keys_in_the_listing() {
    let s3 = server();
    let client = client(&s3);
    put_all(&client, vec!["with space/é".to_owned()]).await;
    let listed =
        client.list_objects_v2().bucket(BUCKET).encoding_type(EncodingType::Url).send().await.unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["with+space%2F%C3%A9"]);
    assert_eq!(listed.encoding_type(), Some(&EncodingType::Url));
}
