//! Bounds and lifecycle: bodies over the object limit are refused with `EntityTooLarge`
//! (declared and `aws-chunked` alike), the server listens on 127.0.0.1 only, and stopping
//! (or dropping) it closes the port.

use std::net::{Ipv4Addr, TcpStream};

use ampfed_s3::{Config, EmbeddedS3, EmbeddedS3Error};
use aws_sdk_s3::primitives::ByteStream;

use crate::{
    client, client_for, put, refusal, server, server_with, Checksums, ACCESS_KEY, BUCKET, REGION, SECRET_KEY,
};

const LIMIT: usize = 1 << 20;

#[tokio::test]
async fn a_body_over_the_object_limit_is_entity_too_large() {
    let s3 = server_with(|c| Config { max_object_bytes: LIMIT, ..c });
    let client = client(&s3);
    put(&client, "exactly-the-limit", &vec![7u8; LIMIT]).await;
    let e = client
        .put_object()
        .bucket(BUCKET)
        .key("over")
        .body(ByteStream::from(vec![7u8; LIMIT + 1]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(refusal(&e), (400, "EntityTooLarge".to_owned()));
    // Well past the limit, in aws-chunked framing: the server reads and drops the body before
    // it answers, so the client gets the refusal rather than a reset connection.
    let chunked = client_for(&s3, ACCESS_KEY, SECRET_KEY, REGION, Checksums::WhenSupported);
    let e = chunked
        .put_object()
        .bucket(BUCKET)
        .key("over-chunked")
        .body(ByteStream::from(vec![7u8; LIMIT * 4]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(refusal(&e), (400, "EntityTooLarge".to_owned()));
    // The server still serves (a fresh connection: the refused ones were closed).
    let listed = client.list_objects_v2().bucket(BUCKET).send().await.unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["exactly-the-limit"]);
}

#[test]
fn the_server_listens_on_loopback_only() {
    let s3 = server();
    assert_eq!(s3.addr().ip(), Ipv4Addr::LOCALHOST);
    assert_ne!(s3.addr().port(), 0);
    assert_eq!(s3.endpoint(), format!("http://127.0.0.1:{}", s3.addr().port()));
}

#[test]
fn stop_and_drop_close_the_port() {
    let s3 = server();
    let addr = s3.addr();
    TcpStream::connect(addr).unwrap();
    s3.stop().unwrap();
    assert!(TcpStream::connect(addr).is_err(), "{addr} still accepts after stop");

    let dropped = server();
    let addr = dropped.addr();
    drop(dropped);
    assert!(TcpStream::connect(addr).is_err(), "{addr} still accepts after drop");
}

#[tokio::test]
async fn after_a_stop_from_async_code_nothing_answers() {
    let s3 = server();
    let client = client(&s3);
    put(&client, "k", b"v").await;
    s3.stop().unwrap();
    let e = client.get_object().bucket(BUCKET).key("k").send().await.unwrap_err();
    assert_eq!(refusal(&e).0, 0, "no HTTP answer once stopped: {}", ampfed_aws::error_text(&e));
}

#[test]
fn bad_configurations_are_refused_before_listening() {
    let bad_bucket = EmbeddedS3::start(Config::new(ACCESS_KEY, SECRET_KEY, REGION).with_bucket("Bad_Name"));
    assert!(matches!(bad_bucket, Err(EmbeddedS3Error::BucketName { .. })), "{bad_bucket:?}");
    let no_secret = EmbeddedS3::start(Config::new(ACCESS_KEY, "", REGION));
    assert!(matches!(no_secret, Err(EmbeddedS3Error::Config(_))), "{no_secret:?}");
    let no_room =
        EmbeddedS3::start(Config { max_object_bytes: 0, ..Config::new(ACCESS_KEY, SECRET_KEY, REGION) });
    assert!(matches!(no_room, Err(EmbeddedS3Error::Config(_))), "{no_room:?}");
}
