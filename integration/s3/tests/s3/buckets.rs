//! Buckets: ListBuckets, CreateBucket with the region's location constraint, HeadBucket,
//! DeleteBucket.

use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};

use crate::{client, put, refusal, server, server_with, BUCKET, REGION};

fn in_region() -> CreateBucketConfiguration {
    CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from(REGION)).build()
}

#[tokio::test]
async fn buckets_are_created_listed_in_order_headed_and_deleted() {
    let s3 = server_with(|c| c.with_bucket("zz-last"));
    let client = client(&s3);
    client.create_bucket().bucket("mm-middle").create_bucket_configuration(in_region()).send().await.unwrap();
    let listed = client.list_buckets().send().await.unwrap();
    let names: Vec<&str> = listed.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, [BUCKET, "mm-middle", "zz-last"]);

    let head = client.head_bucket().bucket("mm-middle").send().await.unwrap();
    assert_eq!(head.bucket_region(), Some(REGION));
    let location = client.get_bucket_location().bucket("mm-middle").send().await.unwrap();
    assert_eq!(location.location_constraint(), Some(&BucketLocationConstraint::from(REGION)));
    let e = client.head_bucket().bucket("absent-bucket").send().await.unwrap_err();
    assert_eq!(refusal(&e), (404, "NotFound".to_owned()));

    put(&client, "k", b"x").await;
    let e = client.delete_bucket().bucket(BUCKET).send().await.unwrap_err();
    assert_eq!(refusal(&e), (409, "BucketNotEmpty".to_owned()));
    client.delete_bucket().bucket("mm-middle").send().await.unwrap();
    let e = client.head_bucket().bucket("mm-middle").send().await.unwrap_err();
    assert_eq!(refusal(&e).0, 404);
}

#[tokio::test]
async fn create_bucket_refuses_what_a_regional_endpoint_refuses() {
    let s3 = server();
    let client = client(&s3);
    let e = client
        .create_bucket()
        .bucket(BUCKET)
        .create_bucket_configuration(in_region())
        .send()
        .await
        .unwrap_err();
    assert_eq!(refusal(&e), (409, "BucketAlreadyOwnedByYou".to_owned()));
    let e = client
        .create_bucket()
        .bucket("Not_Valid")
        .create_bucket_configuration(in_region())
        .send()
        .await
        .unwrap_err();
    assert_eq!(refusal(&e), (400, "InvalidBucketName".to_owned()));
    // Outside us-east-1, S3 wants the region as the location constraint.
    let e = client.create_bucket().bucket("no-constraint").send().await.unwrap_err();
    assert_eq!(refusal(&e), (400, "IllegalLocationConstraintException".to_owned()));
    let elsewhere =
        CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::EuWest1).build();
    let e = client
        .create_bucket()
        .bucket("elsewhere")
        .create_bucket_configuration(elsewhere)
        .send()
        .await
        .unwrap_err();
    assert_eq!(refusal(&e), (400, "IllegalLocationConstraintException".to_owned()));
}
