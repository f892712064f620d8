//! The embedded S3 server driven the way ampfed drives S3: `aws-sdk-s3` built through
//! `ampfed_aws::sdk_config`, path style, static credentials, and the federation's own
//! `Store`. Expected status codes and error codes are written out by hand, as S3 documents
//! them.

mod auth;
mod buckets;
mod conditional;
mod federation;
mod limits;
mod listing;
mod objects;
mod throughput;

use ampfed_s3::{Config, EmbeddedS3};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::RequestChecksumCalculation;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_types::retry::RetryConfig;

pub const ACCESS_KEY: &str = "AKIAEMBEDDEDS3TEST01";
pub const SECRET_KEY: &str = "embedded/s3/secret/key/for/tests/only+0";
pub const REGION: &str = "us-west-2";
pub const BUCKET: &str = "ampfed-etl";

/// A server with [`BUCKET`] in [`REGION`].
pub fn server() -> EmbeddedS3 {
    server_with(|config| config)
}

/// A server whose configuration `change` adjusts first.
pub fn server_with(change: impl FnOnce(Config) -> Config) -> EmbeddedS3 {
    EmbeddedS3::start(change(Config::new(ACCESS_KEY, SECRET_KEY, REGION).with_bucket(BUCKET))).unwrap()
}

/// How a test client computes request checksums.
#[derive(Clone, Copy)]
pub enum Checksums {
    /// As `ampfed_federation::store` builds its client: only where S3 requires one, so
    /// PutObject bodies go as sent.
    WhenRequired,
    /// The SDK's default: a CRC32 trailer on every upload, in an `aws-chunked` body.
    WhenSupported,
}

/// An S3 client for `s3` signing with `access_key`/`secret_key` for `region`, no retries (so
/// a test sees the first answer).
pub fn client_for(
    s3: &EmbeddedS3,
    access_key: &str,
    secret_key: &str,
    region: &str,
    checksums: Checksums,
) -> aws_sdk_s3::Client {
    let credentials = Credentials::new(access_key, secret_key, None, None, "ampfed-s3-tests");
    let sdk = ampfed_aws::sdk_config(s3.endpoint(), region)
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .retry_config(RetryConfig::disabled())
        .build();
    let calculation = match checksums {
        Checksums::WhenRequired => RequestChecksumCalculation::WhenRequired,
        Checksums::WhenSupported => RequestChecksumCalculation::WhenSupported,
    };
    let config = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(true)
        .request_checksum_calculation(calculation)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// A client with the right key, as the federation store builds it.
pub fn client(s3: &EmbeddedS3) -> aws_sdk_s3::Client {
    client_for(s3, ACCESS_KEY, SECRET_KEY, REGION, Checksums::WhenRequired)
}

/// The HTTP status and S3 error code of a failed call.
pub fn refusal<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> (u16, String) {
    let status = e.raw_response().map(|r| r.status().as_u16()).unwrap_or_default();
    let code = e.code().unwrap_or("(no code)").to_owned();
    (status, code)
}

/// Puts `body` at `key` in [`BUCKET`], returning the ETag.
pub async fn put(client: &aws_sdk_s3::Client, key: &str, body: &[u8]) -> String {
    let out = client
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutObject {key}: {}", ampfed_aws::error_text(&e)));
    out.e_tag().unwrap_or_default().to_owned()
}

/// The body at `key` in [`BUCKET`].
pub async fn get(client: &aws_sdk_s3::Client, key: &str) -> Vec<u8> {
    let out = client
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetObject {key}: {}", ampfed_aws::error_text(&e)));
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

/// S3's ETag of a single-part upload of `body`: the quoted MD5 hex.
pub fn md5_etag(body: &[u8]) -> String {
    use md5::Digest as _;
    format!("\"{}\"", hex::encode(md5::Md5::digest(body)))
}
