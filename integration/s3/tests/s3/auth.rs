//! SigV4: a wrong secret, an unknown key and a wrong region are refused with S3's codes;
//! nothing is written by a refused request; presigned URLs work for a plain HTTP client.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;

use crate::{client, client_for, put, refusal, server, Checksums, ACCESS_KEY, BUCKET, REGION, SECRET_KEY};

async fn try_put(client: &aws_sdk_s3::Client) -> (u16, String) {
    let e = client
        .put_object()
        .bucket(BUCKET)
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    refusal(&e)
}

#[tokio::test]
async fn a_wrong_secret_is_signature_does_not_match() {
    let s3 = server();
    let wrong = client_for(&s3, ACCESS_KEY, "not-the-secret", REGION, Checksums::WhenRequired);
    assert_eq!(try_put(&wrong).await, (403, "SignatureDoesNotMatch".to_owned()));
    let e = wrong.list_objects_v2().bucket(BUCKET).send().await.unwrap_err();
    assert_eq!(refusal(&e), (403, "SignatureDoesNotMatch".to_owned()));
    let listed = client(&s3).list_objects_v2().bucket(BUCKET).send().await.unwrap();
    assert_eq!(listed.key_count(), Some(0), "the refused put wrote nothing");
}

#[tokio::test]
async fn an_unknown_key_is_invalid_access_key_id() {
    let s3 = server();
    let stranger = client_for(&s3, "AKIAUNKNOWNKEY000000", SECRET_KEY, REGION, Checksums::WhenRequired);
    assert_eq!(try_put(&stranger).await, (403, "InvalidAccessKeyId".to_owned()));
}

#[tokio::test]
async fn a_wrong_region_is_authorization_header_malformed() {
    let s3 = server();
    let elsewhere = client_for(&s3, ACCESS_KEY, SECRET_KEY, "eu-central-1", Checksums::WhenRequired);
    assert_eq!(try_put(&elsewhere).await, (400, "AuthorizationHeaderMalformed".to_owned()));
}

#[tokio::test]
async fn a_presigned_get_works_and_a_tampered_one_does_not() {
    let s3 = server();
    let client = client(&s3);
    put(&client, "shared/report.json", b"{\"ok\":true}").await;
    let presigned = client
        .get_object()
        .bucket(BUCKET)
        .key("shared/report.json")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap())
        .await
        .unwrap();
    let url = presigned.uri().to_owned();
    let (body, tampered) = tokio::task::spawn_blocking(move || {
        let body = ureq::get(&url).call().unwrap().into_string().unwrap();
        let tampered = url.replace("report.json", "other.json");
        let refused = match ureq::get(&tampered).call() {
            Err(ureq::Error::Status(status, response)) => (status, response.into_string().unwrap()),
            other => panic!("a tampered URL was not refused: {other:?}"),
        };
        (body, refused)
    })
    .await
    .unwrap();
    assert_eq!(body, "{\"ok\":true}");
    assert_eq!(tampered.0, 403);
    assert!(tampered.1.contains("<Code>SignatureDoesNotMatch</Code>"), "{}", tampered.1);
}
