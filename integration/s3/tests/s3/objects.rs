//! Objects: put, get, head, ranges, conditional reads, metadata, copy, delete, batch delete,
//! keys that need encoding, and `aws-chunked` uploads with a CRC32 trailer.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumMode, Delete, MetadataDirective, ObjectIdentifier};

use crate::{
    client, client_for, get, md5_etag, put, refusal, server, Checksums, ACCESS_KEY, BUCKET, REGION,
    SECRET_KEY,
};

#[tokio::test]
async fn put_then_get_and_head_give_back_the_body_etag_and_headers() {
    let s3 = server();
    let client = client(&s3);
    let body = br#"{"version":1,"allocations":[]}"#;
    let put = client
        .put_object()
        .bucket(BUCKET)
        .key("federated/c1/etl/allocations/1d/0-86400.json")
        .content_type("application/json")
        .metadata("cluster", "c1")
        .body(ByteStream::from_static(body))
        .send()
        .await
        .unwrap();
    assert_eq!(put.e_tag(), Some(md5_etag(body).as_str()));

    let got = client
        .get_object()
        .bucket(BUCKET)
        .key("federated/c1/etl/allocations/1d/0-86400.json")
        .send()
        .await
        .unwrap();
    assert_eq!(got.e_tag(), Some(md5_etag(body).as_str()));
    assert_eq!(got.content_type(), Some("application/json"));
    assert_eq!(got.content_length(), Some(body.len() as i64));
    assert_eq!(got.metadata().and_then(|m| m.get("cluster")).map(String::as_str), Some("c1"));
    assert!(got.last_modified().is_some());
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), body);

    let head = client
        .head_object()
        .bucket(BUCKET)
        .key("federated/c1/etl/allocations/1d/0-86400.json")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(body.len() as i64));
    assert_eq!(head.e_tag(), Some(md5_etag(body).as_str()));
    assert_eq!(head.content_type(), Some("application/json"));
}

#[tokio::test]
async fn an_empty_body_works_and_keeps_the_content_type_the_sdk_sent() {
    let s3 = server();
    let client = client(&s3);
    put(&client, "empty", b"").await;
    let got = client.get_object().bucket(BUCKET).key("empty").send().await.unwrap();
    // The SDK labels a blob payload itself; S3's own default (binary/octet-stream) is for
    // uploads without any Content-Type.
    assert_eq!(got.content_type(), Some("application/octet-stream"));
    assert_eq!(got.e_tag(), Some("\"d41d8cd98f00b204e9800998ecf8427e\""));
    assert!(got.body.collect().await.unwrap().into_bytes().is_empty());
}

#[tokio::test]
async fn missing_keys_and_buckets_are_404s_with_s3s_codes() {
    let s3 = server();
    let client = client(&s3);
    let e = client.get_object().bucket(BUCKET).key("nope").send().await.unwrap_err();
    assert_eq!(refusal(&e), (404, "NoSuchKey".to_owned()));
    let e = client.get_object().bucket("no-such-bucket").key("k").send().await.unwrap_err();
    assert_eq!(refusal(&e), (404, "NoSuchBucket".to_owned()));
    // HEAD answers carry no body: the SDK names the status.
    let e = client.head_object().bucket(BUCKET).key("nope").send().await.unwrap_err();
    assert_eq!(refusal(&e), (404, "NotFound".to_owned()));
    let e = client
        .put_object()
        .bucket("no-such-bucket")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(refusal(&e), (404, "NoSuchBucket".to_owned()));
}

#[tokio::test]
async fn a_range_read_gives_the_bytes_asked_for() {
    let s3 = server();
    let client = client(&s3);
    put(&client, "r", b"0123456789").await;
    let part = client.get_object().bucket(BUCKET).key("r").range("bytes=2-5").send().await.unwrap();
    assert_eq!(part.content_range(), Some("bytes 2-5/10"));
    assert_eq!(part.content_length(), Some(4));
    assert_eq!(part.body.collect().await.unwrap().into_bytes().as_ref(), b"2345");
    let tail = client.get_object().bucket(BUCKET).key("r").range("bytes=-3").send().await.unwrap();
    assert_eq!(tail.body.collect().await.unwrap().into_bytes().as_ref(), b"789");
    let e = client.get_object().bucket(BUCKET).key("r").range("bytes=10-").send().await.unwrap_err();
    assert_eq!(refusal(&e), (416, "InvalidRange".to_owned()));
}

#[tokio::test]
async fn conditional_reads_answer_304_and_412() {
    let s3 = server();
    let client = client(&s3);
    let etag = put(&client, "c", b"v1").await;
    let same = client.get_object().bucket(BUCKET).key("c").if_match(&etag).send().await.unwrap();
    assert_eq!(same.body.collect().await.unwrap().into_bytes().as_ref(), b"v1");
    let e = client.get_object().bucket(BUCKET).key("c").if_match("\"0000\"").send().await.unwrap_err();
    assert_eq!(refusal(&e), (412, "PreconditionFailed".to_owned()));
    let e = client.get_object().bucket(BUCKET).key("c").if_none_match(&etag).send().await.unwrap_err();
    assert_eq!(refusal(&e).0, 304);
    let other = client.get_object().bucket(BUCKET).key("c").if_none_match("\"0000\"").send().await.unwrap();
    assert_eq!(other.e_tag(), Some(etag.as_str()));
    let e = client.head_object().bucket(BUCKET).key("c").if_match("\"0000\"").send().await.unwrap_err();
    assert_eq!(refusal(&e).0, 412);
}

#[tokio::test]
async fn keys_that_need_encoding_round_trip() {
    let s3 = server();
    let client = client(&s3);
    let keys = ["dir/with space/file.json", "plus+and%percent", "unicode/é/ü/日本.json", "a&b<c>=?#"];
    for key in keys {
        put(&client, key, key.as_bytes()).await;
        assert_eq!(get(&client, key).await, key.as_bytes(), "{key}");
    }
    let listed = client.list_objects_v2().bucket(BUCKET).send().await.unwrap();
    let mut expected: Vec<&str> = keys.to_vec();
    expected.sort();
    let names: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(names, expected);
}

#[tokio::test]
async fn copy_keeps_the_body_and_etag_and_replace_changes_the_metadata() {
    let s3 = server();
    let client = client(&s3);
    let etag = client
        .put_object()
        .bucket(BUCKET)
        .key("src/a b.json")
        .content_type("application/json")
        .metadata("k", "v")
        .body(ByteStream::from_static(b"{}"))
        .send()
        .await
        .unwrap()
        .e_tag
        .unwrap();
    let copied = client
        .copy_object()
        .bucket(BUCKET)
        .key("dst/copy.json")
        .copy_source(format!("{BUCKET}/src/a%20b.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(copied.copy_object_result().and_then(|r| r.e_tag()), Some(etag.as_str()));
    let got = client.get_object().bucket(BUCKET).key("dst/copy.json").send().await.unwrap();
    assert_eq!(got.content_type(), Some("application/json"));
    assert_eq!(got.metadata().and_then(|m| m.get("k")).map(String::as_str), Some("v"));

    client
        .copy_object()
        .bucket(BUCKET)
        .key("dst/copy.json")
        .copy_source(format!("{BUCKET}/dst/copy.json"))
        .metadata_directive(MetadataDirective::Replace)
        .content_type("text/plain")
        .send()
        .await
        .unwrap();
    let got = client.head_object().bucket(BUCKET).key("dst/copy.json").send().await.unwrap();
    assert_eq!(got.content_type(), Some("text/plain"));
    assert!(got.metadata().is_none_or(|m| m.is_empty()), "{:?}", got.metadata());

    let e = client
        .copy_object()
        .bucket(BUCKET)
        .key("dst/copy.json")
        .copy_source(format!("{BUCKET}/dst/copy.json"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(refusal(&e), (400, "InvalidRequest".to_owned()));
    let e = client
        .copy_object()
        .bucket(BUCKET)
        .key("x")
        .copy_source(format!("{BUCKET}/missing"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(refusal(&e), (404, "NoSuchKey".to_owned()));
}

#[tokio::test]
async fn delete_and_batch_delete_remove_objects() {
    let s3 = server();
    let client = client(&s3);
    for key in ["d/1", "d/2", "d/3", "d/4"] {
        put(&client, key, b"x").await;
    }
    client.delete_object().bucket(BUCKET).key("d/1").send().await.unwrap();
    // Deleting what is not there succeeds, as in S3.
    client.delete_object().bucket(BUCKET).key("d/1").send().await.unwrap();
    let e = client.get_object().bucket(BUCKET).key("d/1").send().await.unwrap_err();
    assert_eq!(refusal(&e).0, 404);

    let objects = ["d/2", "d/3", "d/missing"]
        .iter()
        .map(|k| ObjectIdentifier::builder().key(*k).build().unwrap())
        .collect::<Vec<_>>();
    let deleted = client
        .delete_objects()
        .bucket(BUCKET)
        .delete(Delete::builder().set_objects(Some(objects)).build().unwrap())
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = deleted.deleted().iter().filter_map(|d| d.key()).collect();
    assert_eq!(keys, ["d/2", "d/3", "d/missing"]);
    assert!(deleted.errors().is_empty());
    let left = client.list_objects_v2().bucket(BUCKET).prefix("d/").send().await.unwrap();
    let left: Vec<&str> = left.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(left, ["d/4"]);
}

#[tokio::test]
async fn an_aws_chunked_upload_with_a_crc32_trailer_is_decoded_and_checked() {
    let s3 = server();
    let chunked = client_for(&s3, ACCESS_KEY, SECRET_KEY, REGION, Checksums::WhenSupported);
    let body: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let put = chunked
        .put_object()
        .bucket(BUCKET)
        .key("chunked.bin")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(put.e_tag(), Some(md5_etag(&body).as_str()));
    assert!(put.checksum_crc32().is_some(), "the checked CRC32 is echoed");
    // Read back with checksum validation: the SDK checks the CRC32 the server sends.
    let got = chunked
        .get_object()
        .bucket(BUCKET)
        .key("chunked.bin")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(got.checksum_crc32(), put.checksum_crc32());
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), body.as_slice());
    assert_eq!(get(&client(&s3), "chunked.bin").await, body);
}
