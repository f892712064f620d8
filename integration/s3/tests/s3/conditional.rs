//! Conditional writes, the primitive of a lease: `If-None-Match: *` creates only, `If-Match`
//! replaces only the version read, and of concurrent creators exactly one wins.

use aws_sdk_s3::primitives::ByteStream;

use crate::{client, get, put, refusal, server, BUCKET};

#[tokio::test]
async fn if_none_match_star_creates_once_then_answers_412() {
    let s3 = server();
    let client = client(&s3);
    let first = client
        .put_object()
        .bucket(BUCKET)
        .key("lease")
        .if_none_match("*")
        .body(ByteStream::from_static(b"holder-a"))
        .send()
        .await
        .unwrap();
    assert!(first.e_tag().is_some());
    let e = client
        .put_object()
        .bucket(BUCKET)
        .key("lease")
        .if_none_match("*")
        .body(ByteStream::from_static(b"holder-b"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(refusal(&e), (412, "PreconditionFailed".to_owned()));
    assert_eq!(get(&client, "lease").await, b"holder-a", "the refused write changed nothing");
    // S3 takes only `*` in a write's If-None-Match.
    let e = client
        .put_object()
        .bucket(BUCKET)
        .key("lease")
        .if_none_match("\"abc\"")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(refusal(&e), (501, "NotImplemented".to_owned()));
}

#[tokio::test]
async fn if_match_replaces_only_the_version_read() {
    let s3 = server();
    let client = client(&s3);
    let v1 = put(&client, "lease", b"holder-a term 1").await;
    let v2 = client
        .put_object()
        .bucket(BUCKET)
        .key("lease")
        .if_match(&v1)
        .body(ByteStream::from_static(b"holder-a term 2"))
        .send()
        .await
        .unwrap()
        .e_tag
        .unwrap();
    assert_ne!(v1, v2);
    // A writer still holding v1 lost the race.
    let e = client
        .put_object()
        .bucket(BUCKET)
        .key("lease")
        .if_match(&v1)
        .body(ByteStream::from_static(b"holder-b"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(refusal(&e), (412, "PreconditionFailed".to_owned()));
    assert_eq!(get(&client, "lease").await, b"holder-a term 2");
    // If-Match on a key that does not exist: S3's NoSuchKey.
    let e = client
        .put_object()
        .bucket(BUCKET)
        .key("no-lease")
        .if_match(&v1)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(refusal(&e), (404, "NoSuchKey".to_owned()));
}

#[tokio::test]
async fn a_conditional_delete_removes_only_the_version_read() {
    let s3 = server();
    let client = client(&s3);
    let v1 = put(&client, "lease", b"a").await;
    let e = client.delete_object().bucket(BUCKET).key("lease").if_match("\"ffff\"").send().await.unwrap_err();
    assert_eq!(refusal(&e), (412, "PreconditionFailed".to_owned()));
    client.delete_object().bucket(BUCKET).key("lease").if_match(&v1).send().await.unwrap();
    let e = client.get_object().bucket(BUCKET).key("lease").send().await.unwrap_err();
    assert_eq!(refusal(&e).0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_concurrent_creators_exactly_one_wins() {
    let s3 = server();
    let client = client(&s3);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..16 {
        let client = client.clone();
        tasks.spawn(async move {
            let body = format!("holder-{i}");
            let answer = client
                .put_object()
                .bucket(BUCKET)
                .key("contended")
                .if_none_match("*")
                .body(ByteStream::from(body.clone().into_bytes()))
                .send()
                .await;
            (body, answer.map(|_| ()).map_err(|e| refusal(&e)))
        });
    }
    let mut winners = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (body, answer) = joined.unwrap();
        match answer {
            Ok(()) => winners.push(body),
            Err(refused) => assert_eq!(refused, (412, "PreconditionFailed".to_owned())),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(get(&client, "contended").await, winners[0].as_bytes());
}
